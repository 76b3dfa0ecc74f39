// Pure rules for holds (pre-authorizations): place, increase, complete, void, expire.
// A hold is keyed by the idempotency key of its pre-authorization and lives in the card's state,
// so every operation on it is decided by the card's single writer: two completions of one hold
// are sequenced by the actor and the second finds no hold (exactly one wins).
// Available balance = balance - sum of open holds.

import { addMinor, amount_abs_max_minor } from '../money';
import { completionMaxMinor, type ProgramConfig } from '../program/config';
import { availableMinor, declineForSpending, type CardDecision, type CardState, type Hold } from './rules';

const hold_not_found: CardDecision = { kind: 'declined', reason: 'hold_not_found', rule: 'hold' };

/**
 * Whatever keeps holds by their pre-authorization's key with their running sum: a card's state,
 * and a fleet account's (its cards' pay-at-pump holds on its credit, actors/fleet/holds.ts). The
 * helpers below read only this, so both keep one definition of an open, live or expired hold.
 */
export interface HoldBook<H extends Hold = Hold> {
  readonly holds?: Readonly<Record<string, H>> | undefined;
  readonly heldMinor: number;
}

export function openHold<H extends Hold>(book: HoldBook<H>, key: string): H | undefined {
  return book.holds?.[key];
}

export function decidePreAuthorization(
  state: CardState,
  key: string,
  amountMinor: number,
  currency: string,
  nowMs: number,
  program: ProgramConfig,
): CardDecision {
  const spendingDecline = declineForSpending(state, nowMs);
  if (spendingDecline) return spendingDecline;
  if (currency !== state.currency) return { kind: 'declined', reason: 'currency_mismatch', rule: 'currency' };
  if (openHold(state, key) !== undefined) throw new Error(`assertion: hold ${key} placed twice`);
  const available = availableMinor(state);
  if (available < amountMinor) {
    // A partial hold: the program lets a pre-authorization hold what is there.
    if (!program.partialHolds || available <= 0) return { kind: 'declined', reason: 'insufficient_funds', rule: 'balance' };
    return { kind: 'approved', event: { type: 'hold_placed', key, amountMinor: available, expiresAtMs: nowMs + program.holdExpiryMs } };
  }
  return { kind: 'approved', event: { type: 'hold_placed', key, amountMinor, expiresAtMs: nowMs + program.holdExpiryMs } };
}

/** Adds to an open hold; the hold's expiry restarts from now. */
export function decideIncremental(
  state: CardState,
  key: string,
  amountMinor: number,
  currency: string,
  nowMs: number,
  program: ProgramConfig,
): CardDecision {
  const spendingDecline = declineForSpending(state, nowMs);
  if (spendingDecline) return spendingDecline;
  if (currency !== state.currency) return { kind: 'declined', reason: 'currency_mismatch', rule: 'currency' };
  const hold = openHold(state, key);
  if (hold === undefined || hold.expiresAtMs <= nowMs) return hold_not_found;
  if (availableMinor(state) < amountMinor) return { kind: 'declined', reason: 'insufficient_funds', rule: 'balance' };
  if (hold.amountMinor + amountMinor > amount_abs_max_minor) return { kind: 'declined', reason: 'insufficient_funds', rule: 'balance' };
  return { kind: 'approved', event: { type: 'hold_increased', key, amountMinor, expiresAtMs: nowMs + program.holdExpiryMs } };
}

/**
 * Completes a hold for `amountMinor`: lower or equal releases the rest; higher is allowed up to
 * the program's tolerance and only if the excess is available. The card's status is not checked:
 * the merchant delivered against a hold that was approved (a card frozen since still pays it),
 * but an expired hold can no longer be completed.
 */
export function decideCompletion(
  state: CardState,
  key: string,
  amountMinor: number,
  currency: string,
  nowMs: number,
  program: ProgramConfig,
): CardDecision {
  if (currency !== state.currency) return { kind: 'declined', reason: 'currency_mismatch', rule: 'currency' };
  const hold = openHold(state, key);
  if (hold === undefined || hold.expiresAtMs <= nowMs) return hold_not_found;
  if (amountMinor > completionMaxMinor(hold.amountMinor, program.completionToleranceBp)) {
    return { kind: 'declined', reason: 'completion_exceeds_hold', rule: 'completion_tolerance' };
  }
  const excessMinor = amountMinor - hold.amountMinor;
  if (excessMinor > 0 && availableMinor(state) < excessMinor) return { kind: 'declined', reason: 'insufficient_funds', rule: 'balance' };
  return { kind: 'approved', event: { type: 'hold_completed', key, releasedMinor: hold.amountMinor, debitedMinor: amountMinor } };
}

/** Releases an open hold (void, reversal of the pre-authorization). */
export function decideRelease(state: CardState, key: string): CardDecision {
  const hold = openHold(state, key);
  if (hold === undefined) return hold_not_found;
  return { kind: 'approved', event: { type: 'hold_released', key, amountMinor: hold.amountMinor } };
}

/** Keys of holds past their expiry at `nowMs`, oldest expiry first. */
export function expiredHoldKeys(state: HoldBook, nowMs: number): string[] {
  if (state.holds === undefined) return [];
  return Object.entries(state.holds)
    .filter(([, hold]) => hold.expiresAtMs <= nowMs)
    .sort(([, a], [, b]) => a.expiresAtMs - b.expiresAtMs)
    .map(([key]) => key);
}

/** Sum of holds still open at `nowMs` (expired ones no longer bind money, even before release). */
export function liveHeldMinor(state: HoldBook, nowMs: number): number {
  if (state.holds === undefined) return state.heldMinor;
  let held = 0;
  for (const hold of Object.values(state.holds)) if (hold.expiresAtMs > nowMs) held = addMinor(held, hold.amountMinor);
  return held;
}
