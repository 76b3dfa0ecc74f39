// The card's pure decision rules: decide(state, command) -> decision, apply(state, event) -> state.
// No I/O, no clock (time comes in on the command), no randomness. The card actor sequences
// commands and persists what these rules decide; tests drive these functions directly.

import { addMinor, amount_abs_max_minor, isBoundedAmount } from '../money';

export type CardStatus = 'active' | 'frozen' | 'blocked' | 'lost' | 'expired' | 'closed' | 'replaced';

/** Statuses an operator may set through SetCardStatus in v1. */
export const operator_settable_statuses: ReadonlySet<CardStatus> = new Set(['active', 'frozen', 'blocked']);

export interface CardState {
  readonly cardId: string;
  readonly currency: string;
  readonly programId: string;
  readonly status: CardStatus;
  /** Ledger balance in minor units. Never negative for a prepaid card. */
  readonly balanceMinor: number;
  /** Sum of open holds; available = balance - held. Zero until pre-authorizations exist. */
  readonly heldMinor: number;
  readonly issuedAtMs: number;
}

export type DeclineReason =
  | 'insufficient_funds'
  | 'card_blocked'
  | 'card_frozen'
  | 'card_expired'
  | 'card_closed'
  | 'currency_mismatch'
  | 'max_balance_exceeded'
  | 'reversed_before_authorization';

export type CardCommand =
  | { readonly type: 'issue'; readonly cardId: string; readonly currency: string; readonly initialBalanceMinor: number; readonly programId: string; readonly nowMs: number }
  | { readonly type: 'purchase'; readonly amountMinor: number; readonly currency: string }
  | { readonly type: 'top_up'; readonly amountMinor: number; readonly currency: string }
  | { readonly type: 'reverse'; readonly amountMinor: number }
  | { readonly type: 'set_status'; readonly status: CardStatus };

export type CardEvent =
  | { readonly type: 'issued'; readonly state: CardState }
  | { readonly type: 'debited'; readonly amountMinor: number }
  | { readonly type: 'credited'; readonly amountMinor: number }
  | { readonly type: 'status_changed'; readonly status: CardStatus };

export type CardDecision =
  | { readonly kind: 'approved'; readonly event: CardEvent }
  | { readonly kind: 'declined'; readonly reason: DeclineReason; readonly rule: string }
  | { readonly kind: 'unchanged' }
  | { readonly kind: 'rejected'; readonly code: 'not_found' | 'already_exists' | 'invalid_argument'; readonly message: string };

export function availableMinor(state: CardState): number {
  return state.balanceMinor - state.heldMinor;
}

const status_declines: Readonly<Record<Exclude<CardStatus, 'active'>, DeclineReason>> = {
  frozen: 'card_frozen',
  blocked: 'card_blocked',
  lost: 'card_blocked',
  expired: 'card_expired',
  closed: 'card_closed',
  replaced: 'card_closed',
};

function declineForStatus(status: CardStatus): CardDecision | undefined {
  if (status === 'active') return undefined;
  return { kind: 'declined', reason: status_declines[status], rule: `status:${status}` };
}

export function decide(state: CardState | undefined, command: CardCommand): CardDecision {
  if (command.type === 'issue') return decideIssue(state, command);
  if (state === undefined) return { kind: 'rejected', code: 'not_found', message: 'card not found' };
  switch (command.type) {
    case 'purchase':
      return decidePurchase(state, command.amountMinor, command.currency);
    case 'top_up':
      return decideTopUp(state, command.amountMinor, command.currency);
    case 'reverse':
      // A reversal gives back what an approved debit took. It is applied whatever the status:
      // a card blocked after a purchase still gets the reversed amount back. Top-ups since the
      // purchase may have filled the card to the stored maximum, and apply() refuses a balance
      // past it, so such a reversal is declined here rather than approved and then asserted on.
      if (state.balanceMinor + command.amountMinor > amount_abs_max_minor) {
        return { kind: 'declined', reason: 'max_balance_exceeded', rule: 'balance_max' };
      }
      return { kind: 'approved', event: { type: 'credited', amountMinor: command.amountMinor } };
    case 'set_status':
      if (state.status === command.status) return { kind: 'unchanged' };
      return { kind: 'approved', event: { type: 'status_changed', status: command.status } };
  }
}

function decideIssue(state: CardState | undefined, command: Extract<CardCommand, { type: 'issue' }>): CardDecision {
  if (state !== undefined) {
    const same = state.currency === command.currency && state.programId === command.programId;
    return same
      ? { kind: 'unchanged' }
      : { kind: 'rejected', code: 'already_exists', message: 'card exists with different currency or program' };
  }
  if (!isBoundedAmount(command.initialBalanceMinor) || command.initialBalanceMinor < 0) {
    return { kind: 'rejected', code: 'invalid_argument', message: 'initial balance out of range' };
  }
  const issued: CardState = {
    cardId: command.cardId,
    currency: command.currency,
    programId: command.programId,
    status: 'active',
    balanceMinor: command.initialBalanceMinor,
    heldMinor: 0,
    issuedAtMs: command.nowMs,
  };
  return { kind: 'approved', event: { type: 'issued', state: issued } };
}

function decidePurchase(state: CardState, amountMinor: number, currency: string): CardDecision {
  const statusDecline = declineForStatus(state.status);
  if (statusDecline) return statusDecline;
  if (currency !== state.currency) return { kind: 'declined', reason: 'currency_mismatch', rule: 'currency' };
  if (availableMinor(state) < amountMinor) return { kind: 'declined', reason: 'insufficient_funds', rule: 'balance' };
  return { kind: 'approved', event: { type: 'debited', amountMinor } };
}

function decideTopUp(state: CardState, amountMinor: number, currency: string): CardDecision {
  const statusDecline = declineForStatus(state.status);
  if (statusDecline) return statusDecline;
  if (currency !== state.currency) return { kind: 'declined', reason: 'currency_mismatch', rule: 'currency' };
  if (state.balanceMinor + amountMinor > amount_abs_max_minor) {
    return { kind: 'declined', reason: 'max_balance_exceeded', rule: 'balance_max' };
  }
  return { kind: 'approved', event: { type: 'credited', amountMinor } };
}

export function apply(state: CardState | undefined, event: CardEvent): CardState {
  if (event.type === 'issued') return event.state;
  if (state === undefined) throw new Error(`assertion: ${event.type} applied to a card that does not exist`);
  switch (event.type) {
    case 'debited':
      return withBalance(state, addMinor(state.balanceMinor, -event.amountMinor));
    case 'credited':
      return withBalance(state, addMinor(state.balanceMinor, event.amountMinor));
    case 'status_changed':
      return { ...state, status: event.status };
  }
}

function withBalance(state: CardState, balanceMinor: number): CardState {
  if (!isBoundedAmount(balanceMinor)) throw new RangeError(`assertion: balance ${balanceMinor} out of bounds`);
  // Spelled out rather than spread: this runs for every approved transaction.
  return {
    cardId: state.cardId,
    currency: state.currency,
    programId: state.programId,
    status: state.status,
    balanceMinor,
    heldMinor: state.heldMinor,
    issuedAtMs: state.issuedAtMs,
  };
}

/** The signed effect an event has on the ledger balance (for reconciliation and tests). */
export function balanceDeltaMinor(event: CardEvent): number {
  switch (event.type) {
    case 'issued':
      return event.state.balanceMinor;
    case 'debited':
      return -event.amountMinor;
    case 'credited':
      return event.amountMinor;
    case 'status_changed':
      return 0;
  }
}
