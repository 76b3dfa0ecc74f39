// What a card actor is told (its protocol) and what it is given to work with. The region builds
// these messages; replies travel as callbacks in them, never through nact's query (invariant:
// every reply reaches exactly its caller).

import type { Acting } from '../principal';
import type { HostContext, MoneyRequestMessage, Reply } from '../runtime/entity-host';
import type { ProgramSource } from '../program/registry';
import type { AdminAnswer, CardAdminCommand, ReplaceAnswer, ReplaceCommand } from './decide';
import type { CancelIssuanceAnswer, CancelIssuanceCommand } from './issuance-cancel';
import type { CardState } from './rules';
import type { CryptogramVerifier } from './card-auth';
import type { MoneyRequest } from './transaction';

export type CardMessage =
  | MoneyRequestMessage<MoneyRequest>
  | { readonly type: 'balance'; readonly reply: Reply<CardState> }
  | {
      readonly type: 'admin';
      readonly command: CardAdminCommand;
      readonly reply: Reply<AdminAnswer>;
      readonly attempt: number;
      /** Who acted (the operator's audit record is written with the change). */
      readonly acting?: Acting;
    }
  | {
      readonly type: 'replace';
      readonly command: ReplaceCommand;
      readonly reply: Reply<ReplaceAnswer>;
      readonly attempt: number;
      readonly acting?: Acting;
    }
  | {
      readonly type: 'cancel_issuance';
      readonly command: CancelIssuanceCommand;
      readonly reply: Reply<CancelIssuanceAnswer>;
      readonly attempt: number;
      readonly acting?: Acting;
    }
  /** Another actor wrote this card (a replacement created it): forget the cached state. */
  | { readonly type: 'invalidate' };

export interface CardActorContext extends HostContext {
  readonly clock: () => number;
  readonly nextTransactionId: () => string;
  /** Queues a message for a card's actor again (its own, after a conflict or a wait). */
  readonly retell: (cardId: string, message: CardMessage) => boolean;
  readonly programs: ProgramSource;
  /** A payment left the available balance below the card's auto-reload threshold (after commit). */
  readonly onLowBalance?: (state: CardState, triggerId: string) => void;
  /** Tells an active actor of another card to reload (its card was written by this one). */
  readonly invalidate?: (cardId: string) => void;
  /** Verifies cryptograms of cards that authenticate (the node's keys); absent without keys. */
  readonly verifyCryptogram?: CryptogramVerifier;
}
