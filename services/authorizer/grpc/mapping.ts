// Domain answers to wire messages. Pure functions, no validation (that is validate.ts).

import type { CardState, CardStatus as DomainCardStatus } from '../../../actors/card/rules';
import type { DeclineReason as DomainDeclineReason } from '../../../actors/declines';
import type { ReverseOutcome, TxnAnswer } from '../../../actors/card/transaction';
import { CardStatus, DeclineReason, Outcome } from '../../../gen/tapline/v1/types';
import { fleetResponseFields } from './fleet-mapping';
import { programResponseFields } from './program-rules-wire';
import {
  ReverseResult,
  type AuthorizeResponse,
  type GetBalanceResponse,
  type ReverseResponse,
  type RefundResponse,
  type TopUpResponse,
  type VoidResponse,
} from '../../../gen/tapline/v1/authorization';
import { liveHeldMinor } from '../../../actors/card/holds';

const decline_reasons: Readonly<Record<DomainDeclineReason, DeclineReason>> = {
  insufficient_funds: DeclineReason.DECLINE_REASON_INSUFFICIENT_FUNDS,
  card_blocked: DeclineReason.DECLINE_REASON_CARD_BLOCKED,
  card_frozen: DeclineReason.DECLINE_REASON_CARD_FROZEN,
  card_expired: DeclineReason.DECLINE_REASON_CARD_EXPIRED,
  card_closed: DeclineReason.DECLINE_REASON_CARD_CLOSED,
  currency_mismatch: DeclineReason.DECLINE_REASON_CURRENCY_MISMATCH,
  max_balance_exceeded: DeclineReason.DECLINE_REASON_MAX_BALANCE_EXCEEDED,
  reversed_before_authorization: DeclineReason.DECLINE_REASON_REVERSED_BEFORE_AUTHORIZATION,
  hold_not_found: DeclineReason.DECLINE_REASON_HOLD_NOT_FOUND,
  completion_exceeds_hold: DeclineReason.DECLINE_REASON_COMPLETION_EXCEEDS_HOLD,
  refund_exceeds_original: DeclineReason.DECLINE_REASON_REFUND_EXCEEDS_ORIGINAL,
  original_not_refundable: DeclineReason.DECLINE_REASON_ORIGINAL_NOT_REFUNDABLE,
  top_up_limit_exceeded: DeclineReason.DECLINE_REASON_TOP_UP_LIMIT_EXCEEDED,
  pin_required: DeclineReason.DECLINE_REASON_PIN_REQUIRED,
  pin_invalid: DeclineReason.DECLINE_REASON_PIN_INVALID,
  pin_locked: DeclineReason.DECLINE_REASON_PIN_LOCKED,
  settlement_exceeds_debt: DeclineReason.DECLINE_REASON_SETTLEMENT_EXCEEDS_DEBT,
  account_overdue: DeclineReason.DECLINE_REASON_ACCOUNT_OVERDUE,
  card_auth_failed: DeclineReason.DECLINE_REASON_CARD_AUTH_FAILED,
  merchant_liability: DeclineReason.DECLINE_REASON_MERCHANT_LIABILITY,
  limit_exceeded: DeclineReason.DECLINE_REASON_LIMIT_EXCEEDED,
  credit_limit_exceeded: DeclineReason.DECLINE_REASON_CREDIT_LIMIT_EXCEEDED,
  product_restricted: DeclineReason.DECLINE_REASON_PRODUCT_RESTRICTED,
  prompt_required: DeclineReason.DECLINE_REASON_PROMPT_REQUIRED,
  prompt_implausible: DeclineReason.DECLINE_REASON_PROMPT_IMPLAUSIBLE,
  velocity_exceeded: DeclineReason.DECLINE_REASON_VELOCITY_EXCEEDED,
  merchant_restricted: DeclineReason.DECLINE_REASON_MERCHANT_RESTRICTED,
  terminal_restricted: DeclineReason.DECLINE_REASON_TERMINAL_RESTRICTED,
  risk: DeclineReason.DECLINE_REASON_RISK,
  temporarily_blocked: DeclineReason.DECLINE_REASON_TEMPORARILY_BLOCKED,
  price_unavailable: DeclineReason.DECLINE_REASON_PRICE_UNAVAILABLE,
  points_insufficient: DeclineReason.DECLINE_REASON_POINTS_INSUFFICIENT,
};

const card_statuses: Readonly<Record<DomainCardStatus, CardStatus>> = {
  active: CardStatus.CARD_STATUS_ACTIVE,
  frozen: CardStatus.CARD_STATUS_FROZEN,
  blocked: CardStatus.CARD_STATUS_BLOCKED,
  lost: CardStatus.CARD_STATUS_LOST,
  expired: CardStatus.CARD_STATUS_EXPIRED,
  closed: CardStatus.CARD_STATUS_CLOSED,
  replaced: CardStatus.CARD_STATUS_REPLACED,
  unissued: CardStatus.CARD_STATUS_UNISSUED,
};

export const domain_card_statuses: ReadonlyMap<CardStatus, DomainCardStatus> = new Map(
  (Object.entries(card_statuses) as [DomainCardStatus, CardStatus][]).map(([domain, wire]) => [wire, domain]),
);

const reverse_results: Readonly<Record<ReverseOutcome, ReverseResult>> = {
  reversed: ReverseResult.REVERSE_RESULT_REVERSED,
  already_reversed: ReverseResult.REVERSE_RESULT_ALREADY_REVERSED,
  nothing_to_reverse: ReverseResult.REVERSE_RESULT_NOTHING_TO_REVERSE,
};

export function wireCardStatus(status: DomainCardStatus): CardStatus {
  return card_statuses[status];
}

function money(amountMinor: number, currency: string): { amountMinor: bigint; currency: string } {
  return { amountMinor: BigInt(amountMinor), currency };
}

export function toAuthorizeResponse({ result, replayed }: TxnAnswer): AuthorizeResponse {
  const approved = result.outcome === 'approved';
  const response: AuthorizeResponse = {
    outcome: approved ? Outcome.OUTCOME_APPROVED : Outcome.OUTCOME_DECLINED,
    declineReason: wireDeclineReason(result.reason),
    declineRule: result.rule ?? '',
    transactionId: result.id,
    approvedAmount: money(result.amountMinor, result.currency),
    balanceAfter: money(result.balanceAfterMinor, result.currency),
    authorizedAtUnixMs: BigInt(result.atMs),
    replayed,
    ...fleetResponseFields(result),
    holdExpiresAtUnixMs: 0n,
  };
  // Plain card purchases under program rules (one property read for the others).
  if (result.program !== undefined) Object.assign(response, programResponseFields(result));
  // Only replies about a hold carry the hold fields (a purchase allocates nothing more).
  if (result.spentMinor !== undefined) response.spentTotal = money(result.spentMinor, result.currency);
  if (result.holdMinor !== undefined) {
    response.holdAmount = money(result.holdMinor, result.currency);
    response.ledgerBalanceAfter = money(result.ledgerAfterMinor ?? 0, result.currency);
    response.holdExpiresAtUnixMs = BigInt(result.holdExpiresAtMs ?? 0);
  }
  return response;
}

/** The one mapping of a decline reason to the wire (none: UNSPECIFIED). */
export function wireDeclineReason(reason: DomainDeclineReason | '' | undefined): DeclineReason {
  return reason === '' || reason === undefined ? DeclineReason.DECLINE_REASON_UNSPECIFIED : decline_reasons[reason];
}

export function toRefundResponse({ result, replayed }: TxnAnswer): RefundResponse {
  return {
    outcome: result.outcome === 'approved' ? Outcome.OUTCOME_APPROVED : Outcome.OUTCOME_DECLINED,
    declineReason: wireDeclineReason(result.reason),
    declineRule: result.rule ?? '',
    transactionId: result.id,
    refundedAmount: money(result.amountMinor, result.currency),
    balanceAfter: money(result.balanceAfterMinor, result.currency),
    replayed,
  };
}

export function toVoidResponse({ result, replayed }: TxnAnswer): VoidResponse {
  return {
    outcome: result.outcome === 'approved' ? Outcome.OUTCOME_APPROVED : Outcome.OUTCOME_DECLINED,
    declineReason: wireDeclineReason(result.reason),
    declineRule: result.rule ?? '',
    transactionId: result.id,
    releasedAmount: money(result.amountMinor, result.currency),
    balanceAfter: money(result.balanceAfterMinor, result.currency),
    replayed,
  };
}

export function toTopUpResponse({ result, replayed }: TxnAnswer): TopUpResponse {
  return {
    outcome: result.outcome === 'approved' ? Outcome.OUTCOME_APPROVED : Outcome.OUTCOME_DECLINED,
    declineReason: wireDeclineReason(result.reason),
    declineRule: result.rule ?? '',
    transactionId: result.id,
    balanceAfter: money(result.balanceAfterMinor, result.currency),
    replayed,
  };
}

/**
 * A reversal answered by a record that is not a reversal's: the tombstone a later request left on
 * this reversal's own key (it overtook it). Anything else would be a bug, reported as unspecified.
 */
function reverseWithoutOutcome(result: TxnAnswer['result']): ReverseResult {
  return result.reason === 'reversed_before_authorization'
    ? ReverseResult.REVERSE_RESULT_REVERSED_BEFORE_ARRIVAL
    : ReverseResult.REVERSE_RESULT_UNSPECIFIED;
}

export function toReverseResponse({ result, replayed }: TxnAnswer): ReverseResponse {
  return {
    result: result.reverse ? reverse_results[result.reverse] : reverseWithoutOutcome(result),
    transactionId: result.id,
    reversedAmount: money(result.amountMinor, result.currency),
    balanceAfter: money(result.balanceAfterMinor, result.currency),
    replayed,
  };
}

/** `nowMs`: holds past their expiry no longer count, even before the card releases them. */
export function toBalanceResponse(state: CardState, nowMs?: number): GetBalanceResponse {
  const heldMinor = nowMs === undefined ? state.heldMinor : liveHeldMinor(state, nowMs);
  return {
    cardId: state.cardId,
    balance: money(state.balanceMinor, state.currency),
    // What can be spent now, an on-tab account's credit included.
    available: money(state.balanceMinor - heldMinor + (state.profile?.tabLimitMinor ?? 0), state.currency),
    status: card_statuses[state.status],
  };
}
