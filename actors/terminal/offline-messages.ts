// What a terminal actor is told about offline selling, and what it answers (the use cases of
// services/authorizer/usecases/offline-*.ts send these; actors/offline holds the rules).

import type { AssessedEntry, OfflineBatchInput } from '../offline/batch';
import type { GrantRequest } from '../offline/grant';
import type { TerminalOfflineSettings } from '../offline/policy';
import type { EntryResult, OfflineBatchRecord } from '../offline/records';
import type { Acting } from '../principal';
import type { TerminalState } from './rules';

export type OfflineCommand =
  /** The terminal's state and its version (the facts a grant is decided on are read against it). */
  | { readonly kind: 'inspect' }
  /** An operator's change: who acted is recorded with it (the audit record, the document's operator). */
  | { readonly kind: 'configure'; readonly settings: TerminalOfflineSettings; readonly acting: Acting }
  | { readonly kind: 'grant'; readonly request: GrantRequest }
  | { readonly kind: 'ack'; readonly versions: readonly number[]; readonly lastEntry: number; readonly behind: number }
  /** An uploaded batch: its entries as decoded, and the bytes and signature as uploaded. */
  | {
      readonly kind: 'accept';
      readonly batch: number;
      readonly input: OfflineBatchInput;
      readonly bytes: Uint8Array;
      readonly signature: Uint8Array;
    }
  /** Every entry of the batch reached its card: the results, and the entries whose card does not exist. */
  | {
      readonly kind: 'complete';
      readonly batch: number;
      readonly results: readonly EntryResult[];
      readonly unknownCards: readonly (AssessedEntry & { readonly key: string })[];
    };

export type OfflineAnswer =
  | { readonly kind: 'state'; readonly state: TerminalState; readonly version: number }
  /** The terminal changed since the grant's facts were read: read them again. */
  | { readonly kind: 'stale' }
  /**
   * A batch's record (its judged entries; its results once merged), the terminal's merchant, the
   * entry numbers still missing, and whether the batch had been uploaded before.
   */
  | {
      readonly kind: 'batch';
      readonly record: OfflineBatchRecord;
      readonly merchantId: string;
      readonly missing: readonly number[];
      readonly replayed: boolean;
    };
