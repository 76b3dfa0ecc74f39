// What an uploaded batch leaves behind: its record (the digest of the bytes the terminal signed,
// the entries as judged when the batch was accepted, and, once every entry reached its card, the
// per-entry results), and how a card's answer to an entry becomes that entry's result.

import type { TxnResult } from '../card/transaction';
import type { AssessedEntry } from './batch';

export type EntryResultKind = 'sale' | 'voided' | 'nothing_to_void' | 'already_voided' | 'unknown_card';

/** One entry's result, as the terminal is answered (and as a re-upload is answered again). */
export interface EntryResult {
  readonly entry: number;
  readonly kind: EntryResultKind;
  /** Who carries the sale: the issuer (charged to the card) or the merchant; '' for voids and voided sales. */
  readonly liability: 'issuer' | 'merchant' | '';
  /** Why the merchant carries it, or how a void ended. */
  readonly reason: string;
  readonly transactionId: string;
  /** What moved on the card (0 when nothing did). */
  readonly amountMinor: number;
  readonly currency: string;
  readonly balanceAfterMinor: number;
  readonly debtAfterMinor: number;
}

export interface OfflineBatchRecord {
  /** sha256 (hex) of the batch's bytes as signed. */
  readonly digest: string;
  readonly acceptedAtMs: number;
  readonly entries: readonly AssessedEntry[];
  /** Set when the merge completed. */
  readonly results?: readonly EntryResult[];
  readonly completedAtMs?: number;
}

/** The id of a terminal's batch record ("<terminal>/<batch>": on the terminal's shard). */
export function offlineBatchId(terminalId: string, batch: number): string {
  return `${terminalId}/${batch}`;
}

/** Prefix of a rule that made an offline sale the merchant's ("offline:denylisted"). */
export const merchant_rule_prefix = 'offline:';

/** The result of an entry from its card's answer (the transaction it recorded, or replayed). */
export function entryResultOf(entry: AssessedEntry, result: TxnResult, debtAfterMinor: number): EntryResult {
  const { kind, liability, reason } = entry.kind === 'sale' ? saleOutcome(result) : voidOutcome(result);
  // One object per entry, its fields in one literal (a merge builds one per uploaded entry).
  return {
    entry: entry.entry,
    kind,
    liability,
    reason,
    transactionId: result.id,
    amountMinor: result.amountMinor,
    currency: result.currency,
    balanceAfterMinor: result.balanceAfterMinor,
    debtAfterMinor,
  };
}

type Outcome = Pick<EntryResult, 'kind' | 'liability' | 'reason'>;

// The outcomes without a reason of their own are shared: one per entry would be garbage.
const issuer_sale: Outcome = Object.freeze({ kind: 'sale', liability: 'issuer', reason: '' });
const voided_sale: Outcome = Object.freeze({ kind: 'sale', liability: '', reason: 'voided' });
const voided: Outcome = Object.freeze({ kind: 'voided', liability: '', reason: '' });
const already_voided: Outcome = Object.freeze({ kind: 'already_voided', liability: '', reason: '' });

function saleOutcome(result: TxnResult): Outcome {
  if (result.outcome === 'approved') return issuer_sale;
  if (result.reason === 'reversed_before_authorization') return voided_sale;
  const rule = result.rule ?? '';
  const reason = rule.startsWith(merchant_rule_prefix) ? rule.slice(merchant_rule_prefix.length) : rule;
  return { kind: 'sale', liability: 'merchant', reason };
}

function voidOutcome(result: TxnResult): Outcome {
  switch (result.reverse) {
    case 'reversed':
      return voided;
    case 'already_reversed':
      return already_voided;
    default:
      // The sale was not charged (the merchant's), or it has not arrived: a tombstone stands for it.
      return { kind: 'nothing_to_void', liability: '', reason: result.outcome === 'declined' ? (result.rule ?? '') : '' };
  }
}

/** The result of an entry whose card does not exist: nothing is charged, the merchant carries it. */
export function unknownCardResult(entry: AssessedEntry): EntryResult {
  return {
    entry: entry.entry,
    kind: 'unknown_card',
    liability: entry.kind === 'sale' ? 'merchant' : '',
    reason: 'unknown_card',
    transactionId: '',
    amountMinor: 0,
    currency: entry.currency,
    balanceAfterMinor: 0,
    debtAfterMinor: 0,
  };
}
