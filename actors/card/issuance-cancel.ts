// Cancelling a card's issuance (CardService.CancelIssuance): a card issued by mistake (wrong
// program, amount or holder, or handed back at the desk at once) goes back to stock. Pure: the
// actor loads the facts (the holder record of a named card) and passes the time in.
//
// Only a card that has moved no money since its issue qualifies (`unmoved`, set at issue and
// dropped by its first approved movement: a purchase, top-up, hold, reversal, refund, transfer or
// return), and only while it is active or frozen: a blocked, lost, expired, closed or replaced card
// is never put back into stock. A card that has moved money is returned (ReturnCard) instead.
//
// What "unissued" means for the card's record: the record stays (its version keeps counting, so a
// stale writer is still refused) with status `unissued`, no balance, deposit, program, PIN or rule
// state; a named card's holder record is blanked (personal data goes with the issuance). Every
// call but IssueCard answers NOT_FOUND for it; IssueCard issues it afresh. For the reports the
// `card_issuance_cancelled` document takes off what `card_issued` put on (initial balance and
// deposit), so the float, the per-card reconciliation and the issued-card counts read as if the
// issue had not happened, while the card's history shows both.

import { rejected, type TaplineError } from '../errors';
import { cardIssuanceCancelled } from '../outbox/builders';
import type { EntityWrite, StoredRecord } from '../runtime/persistence';
import { encodeCardHolder } from '../state/card';
import { apply, type CardState, type CardStatus } from './rules';

export interface CancelIssuanceCommand {
  readonly reason: string;
  readonly operatorId: string;
}

export interface CancelIssuanceAnswer {
  readonly cardId: string;
  /** The status before the cancellation ("unissued" when it had already been cancelled). */
  readonly previous: CardStatus;
  readonly currency: string;
  /** The initial balance and deposit taken off (to hand back); 0 when already cancelled. */
  readonly balanceMinor: number;
  readonly depositMinor: number;
  /** True when the card was unissued already (a repeat changes nothing). */
  readonly alreadyUnissued: boolean;
}

export interface CancelIssuanceFacts {
  /** A named card's holder record as read before deciding (blanked in the same commit). */
  readonly holder: StoredRecord | undefined;
}

export type CancelIssuanceDecision =
  | { readonly kind: 'rejected'; readonly error: TaplineError }
  | { readonly kind: 'answer'; readonly answer: CancelIssuanceAnswer }
  | {
      readonly kind: 'cancel';
      readonly after: CardState;
      readonly writes: readonly EntityWrite[];
      readonly document: string;
      readonly answer: CancelIssuanceAnswer;
    };

/** Statuses from which an issuance can be cancelled: the card is still in the desk's hands. */
const cancellable: ReadonlySet<CardStatus> = new Set(['active', 'frozen']);

const blank_holder = encodeCardHolder({ name: '', idDocumentType: '', idDocumentNumber: '', phone: '', email: '' });

export function decideCancelIssuance(
  state: CardState | undefined,
  command: CancelIssuanceCommand,
  facts: CancelIssuanceFacts,
  nowMs: number,
): CancelIssuanceDecision {
  if (state === undefined) return { kind: 'rejected', error: rejected('not_found', 'card not found', {}) };
  const cardId = state.cardId;
  if (state.status === 'unissued')
    return {
      kind: 'answer',
      answer: { cardId, previous: 'unissued', currency: state.currency, balanceMinor: 0, depositMinor: 0, alreadyUnissued: true },
    };
  if (!cancellable.has(state.status))
    return {
      kind: 'rejected',
      error: rejected('failed_precondition', `the issuance of a ${state.status} card cannot be cancelled`, { cardId }),
    };
  if (state.unmoved !== true || state.heldMinor !== 0)
    return {
      kind: 'rejected',
      error: rejected('failed_precondition', 'the card has moved money since its issue: return it (ReturnCard) instead', { cardId }),
    };
  // A bank card indexed to this card would pay from it again once it is issued to someone else.
  if (state.tokens !== undefined && state.tokens.length > 0)
    return {
      kind: 'rejected',
      error: rejected('failed_precondition', 'bank cards pay from this card: remove them (RemoveCardToken) first', { cardId }),
    };
  const profile = state.profile;
  const depositMinor = profile?.depositMinor ?? 0;
  const after = apply(state, { type: 'issuance_cancelled', balanceMinor: state.balanceMinor, depositMinor });
  // Written at the version read even when the record was not there yet: an issue still committing
  // lands first, and this write then conflicts and is decided again on the holder it wrote.
  const writes: EntityWrite[] =
    profile?.named === true && facts.holder !== undefined
      ? [{ entity: { kind: 'holder', id: cardId }, expectVersion: facts.holder.version, data: blank_holder }]
      : [];
  const document = cardIssuanceCancelled({
    card: cardId,
    program: state.programId,
    currency: state.currency,
    previous: state.status,
    amount: state.balanceMinor,
    deposit: depositMinor,
    named: profile?.named ?? false,
    issuance: profile?.issuance ?? '',
    operator: command.operatorId,
    reason: command.reason,
    at: nowMs,
  });
  return {
    kind: 'cancel',
    after,
    writes,
    document,
    answer: {
      cardId,
      previous: state.status,
      currency: state.currency,
      balanceMinor: state.balanceMinor,
      depositMinor,
      alreadyUnissued: false,
    },
  };
}
