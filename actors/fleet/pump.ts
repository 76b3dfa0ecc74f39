// Pay-at-pump and returns on fleet cards, as pure rules over the account and the card: a
// pre-authorization places a hold on the account's credit (the pump is unlocked for at most that
// amount), its completion charges what was delivered and releases the hold, a void releases it
// unused; a refund (returned goods) gives back part of a purchase or completion.
//
// Holds live in the account's state, keyed by the pre-authorization's key, so the account's single
// writer sequences them: two completions of one hold cannot both succeed, and the credit a hold
// binds is counted by every purchase of every card (available = limit + balance - live holds).
// What a hold is, when it is live and how much is held is the card's definition (card/holds.ts,
// shared through its HoldBook); the tolerance of a completion is the programs' (program/config.ts).
//
// Amounts: a hold is in pump money (the pump does not know the negotiated price before it knows
// the quantity). A completion is charged like a purchase (negotiated prices, discount), so its
// invoiced amount may be below or above the hold; above it, the difference must be available.
// Like a card's completion, a completion is never declined by the account's rules (limits,
// velocity, products, overdue): the fuel was delivered against an approved hold. A base price
// missing at completion falls back to the pump price and flags the transaction for review.

import { addMinor } from '../money';
import { completionMaxMinor } from '../program/config';
import { openHold } from '../card/holds';
import { empty_refund_ledger, reversibleMinor, type RefundLedger } from '../card/refunds';
import { divideRoundHalfUp } from '../rules/pricing';
import { checkProducts } from '../rules/products';
import { checkPrompts } from '../rules/prompts';
import { afterProgram, checkProgramVelocity } from '../rules/program';
import { approve_clean, decline } from '../rules/rule';
import { addSpend, checkSpend } from '../rules/spend-limits';
import { periodKeys } from '../rules/calendar';
import {
  availableCreditMinor,
  chargeOf,
  gateFleetSpending,
  programRequest,
  unspend,
  withFleetPinFailures,
  type FleetAccountState,
  type FleetCardState,
  type FleetDecline,
  type FleetHold,
  type FleetPurchase,
  type VehicleState,
} from './rules';

/**
 * Open pre-authorizations an account keeps at once (a pump holds its hold for minutes): a fleet
 * with a thousand pumps running at one instant is far beyond any customer; past it a
 * pre-authorization is refused RESOURCE_EXHAUSTED, nothing written.
 */
export const fleet_holds_max = 1_000;

/** The account without the holds that expired by `nowMs` (a write of the account drops them). */
export function withoutExpiredHolds(account: FleetAccountState, nowMs: number): FleetAccountState {
  let expired = 0;
  const holds: Record<string, FleetHold> = {};
  for (const [key, hold] of Object.entries(account.holds)) {
    if (hold.expiresAtMs > nowMs) holds[key] = hold;
    else expired = addMinor(expired, hold.amountMinor);
  }
  return expired === 0 && Object.keys(holds).length === Object.keys(account.holds).length
    ? account
    : { ...account, holds, heldMinor: account.heldMinor - expired };
}

export type PreAuthorizationDecision =
  | FleetDecline
  | { readonly kind: 'full' }
  | {
      readonly kind: 'approved';
      readonly account: FleetAccountState;
      readonly card: FleetCardState;
      readonly vehicle: VehicleState | undefined;
      readonly hold: FleetHold;
    };

/**
 * A pre-authorization of `request.amountMinor` at the pump, under `key`: the spending gate of a
 * purchase (status, overdue, PIN, merchant, products of any lines sent, prompts, the card and
 * fleet limits and velocity for the amount, credit), then a hold for the amount. Limits are only
 * checked here; the completion spends them with what was delivered. The odometer reading entered
 * is recorded now (it is the vehicle's reading whether or not fuel follows).
 */
export function decideFleetPreAuthorization(
  account: FleetAccountState,
  card: FleetCardState,
  vehicle: VehicleState | undefined,
  request: FleetPurchase,
  key: string,
): PreAuthorizationDecision {
  const current = withoutExpiredHolds(account, request.atMs);
  if (Object.keys(current.holds).length >= fleet_holds_max) return { kind: 'full' };
  const keys = periodKeys(request.atMs, account.timeZone);
  const gate = gateFleetSpending(current, card, request, [
    () => checkProducts(account.allowedGroups, card.allowedGroups, request.lines),
    () => checkPrompts(account.prompts, request.prompts, vehicle?.odometerKm),
    () => checkSpend('card', card.limits, card.spent, keys, request.amountMinor),
    () => checkSpend('fleet', account.limits, account.spent, keys, request.amountMinor),
    () => checkProgramVelocity(account.program, card.program, programRequest(request)),
    () =>
      availableCreditMinor(current, request.atMs) < request.amountMinor ? decline('credit_limit_exceeded', 'credit:fleet') : approve_clean,
  ]);
  if (gate.kind === 'declined') return gate;
  const hold: FleetHold = {
    amountMinor: request.amountMinor,
    expiresAtMs: request.atMs + account.cardPolicy.hold_expiry_ms,
    card: card.cardId,
    atMs: request.atMs,
    prompts: request.prompts,
  };
  return {
    kind: 'approved',
    account: { ...current, holds: { ...current.holds, [key]: hold }, heldMinor: addMinor(current.heldMinor, hold.amountMinor) },
    card: withFleetPinFailures(card, gate.pinFailures),
    vehicle: request.prompts.odometer_km > 0 ? { odometerKm: request.prompts.odometer_km, atMs: request.atMs } : undefined,
    hold,
  };
}

export type HoldDecline = {
  readonly kind: 'declined';
  readonly reason: 'hold_not_found' | 'completion_exceeds_hold' | 'credit_limit_exceeded';
  readonly rule: string;
};

export type CompletionDecision =
  | HoldDecline
  | {
      readonly kind: 'approved';
      readonly account: FleetAccountState;
      readonly card: FleetCardState;
      readonly hold: FleetHold;
      readonly pumpMinor: number;
      readonly invoicedMinor: number;
      readonly invoicedLinesMinor: readonly number[];
      readonly discountMinor: number;
      readonly pointsEarned: number;
      readonly flags: readonly string[];
    };

/** The live hold of `key` placed by `cardId`, or why there is none. */
function liveHold(account: FleetAccountState, cardId: string, key: string, nowMs: number): FleetHold | HoldDecline {
  const hold = openHold(account, key);
  if (hold === undefined || hold.card !== cardId || hold.expiresAtMs <= nowMs)
    return { kind: 'declined', reason: 'hold_not_found', rule: 'hold' };
  return hold;
}

/**
 * Completes the hold of `holdKey` for what was delivered (`request`: the basket at pump prices):
 * at most the hold plus the account's completion tolerance; charged at the negotiated prices; the
 * hold released and the charge accrued to the open cycle; limits and velocity take the pump amount.
 */
export function decideFleetCompletion(
  account: FleetAccountState,
  card: FleetCardState,
  request: FleetPurchase,
  holdKey: string,
): CompletionDecision {
  const found = liveHold(account, card.cardId, holdKey, request.atMs);
  if ('kind' in found) return found;
  const hold = found;
  if (request.amountMinor > completionMaxMinor(hold.amountMinor, account.cardPolicy.completion_tolerance_bp))
    return { kind: 'declined', reason: 'completion_exceeds_hold', rule: 'completion_tolerance' };
  const priced = chargeOf(account, { ...request, redeemPoints: undefined });
  // Delivered fuel is paid: without a base price in effect the pump price is charged, for review.
  const charge = priced.ok ? priced : chargeOf({ ...account, pricing: {} }, { ...request, redeemPoints: undefined });
  if (!charge.ok) throw new Error('assertion: pump prices always price a basket');
  const flags = priced.ok ? [] : ['price:pump_fallback'];
  const released = withoutExpiredHolds(account, request.atMs);
  const holds = { ...released.holds };
  delete holds[holdKey];
  const freed: FleetAccountState = { ...released, holds, heldMinor: released.heldMinor - hold.amountMinor };
  if (availableCreditMinor(freed, request.atMs) < charge.invoicedMinor)
    return { kind: 'declined', reason: 'credit_limit_exceeded', rule: 'credit:completion' };
  const keys = periodKeys(request.atMs, account.timeZone);
  return {
    kind: 'approved',
    account: {
      ...freed,
      balanceMinor: addMinor(freed.balanceMinor, -charge.invoicedMinor),
      spent: addSpend(freed.spent, keys, request.amountMinor),
      points: freed.points + charge.pointsEarned,
    },
    card: {
      ...card,
      spent: addSpend(card.spent, keys, request.amountMinor),
      program: afterProgram(account.program, card.program, programRequest(request), { approved: true }),
    },
    hold,
    pumpMinor: request.amountMinor,
    invoicedMinor: charge.invoicedMinor,
    invoicedLinesMinor: charge.invoicedLinesMinor,
    discountMinor: charge.discountMinor,
    pointsEarned: charge.pointsEarned,
    flags,
  };
}

/** Releases the hold of `holdKey` unused (the pump was hung up): the credit is free again. */
export function decideFleetVoid(
  account: FleetAccountState,
  cardId: string,
  holdKey: string,
  nowMs: number,
): HoldDecline | { readonly kind: 'approved'; readonly account: FleetAccountState; readonly hold: FleetHold } {
  const found = liveHold(account, cardId, holdKey, nowMs);
  if ('kind' in found) return found;
  const released = withoutExpiredHolds(account, nowMs);
  const holds = { ...released.holds };
  delete holds[holdKey];
  return { kind: 'approved', account: { ...released, holds, heldMinor: released.heldMinor - found.amountMinor }, hold: found };
}

/** What an original purchase or completion was, for its refunds and its reversal. */
export interface FleetOriginal {
  readonly pumpMinor: number;
  readonly invoicedMinor: number;
  readonly atMs: number;
}

/**
 * The invoiced money given back once `refundedMinor` of an original's pump amount has been refunded:
 * the same share of its invoiced amount, rounded half up once on the cumulative figure. So each
 * refund gives back the difference of two such totals, and refunds of the whole pump amount give
 * back exactly the whole invoiced amount, whatever their number.
 */
export function invoicedBackMinor(original: FleetOriginal, refundedMinor: number): number {
  if (original.pumpMinor <= 0) return 0;
  return Number(divideRoundHalfUp(BigInt(original.invoicedMinor) * BigInt(refundedMinor), BigInt(original.pumpMinor)));
}

export type FleetRefundDecision =
  | {
      readonly kind: 'declined';
      readonly reason: 'currency_mismatch' | 'original_not_refundable' | 'refund_exceeds_original';
      readonly rule: string;
    }
  | {
      readonly kind: 'approved';
      readonly account: FleetAccountState;
      readonly card: FleetCardState;
      readonly invoicedMinor: number;
      readonly ledger: RefundLedger;
    };

/**
 * A refund of `amountMinor` at pump prices (returned goods) against an original purchase or
 * completion: never more in total than its pump amount, never after it was reversed (the shared
 * refund ledger of card/refunds.ts). The account gets back the same share of what it was invoiced
 * (invoicedBackMinor) in the open cycle, and the limits of the periods still current get the pump
 * amount back.
 */
export function decideFleetRefund(
  account: FleetAccountState,
  card: FleetCardState,
  original: FleetOriginal,
  ledger: RefundLedger,
  amountMinor: number,
  currency: string,
): FleetRefundDecision {
  if (currency !== account.currency) return { kind: 'declined', reason: 'currency_mismatch', rule: 'currency' };
  if (ledger.reversed) return { kind: 'declined', reason: 'original_not_refundable', rule: 'reversed' };
  if (ledger.refundedMinor + amountMinor > original.pumpMinor)
    return { kind: 'declined', reason: 'refund_exceeds_original', rule: 'refund_total' };
  const invoicedMinor = invoicedBackMinor(original, ledger.refundedMinor + amountMinor) - invoicedBackMinor(original, ledger.refundedMinor);
  return {
    kind: 'approved',
    account: {
      ...account,
      balanceMinor: addMinor(account.balanceMinor, invoicedMinor),
      spent: unspend(account.spent, account.timeZone, original.atMs, amountMinor),
    },
    card: { ...card, spent: unspend(card.spent, account.timeZone, original.atMs, amountMinor) },
    invoicedMinor,
    ledger: { refundedMinor: ledger.refundedMinor + amountMinor, reversed: false },
  };
}

/** What a reversal of an original still gives back after its refunds: pump and invoiced amounts. */
export function reversibleOf(original: FleetOriginal, ledger: RefundLedger = empty_refund_ledger): FleetOriginal {
  return {
    pumpMinor: reversibleMinor(original.pumpMinor, ledger),
    invoicedMinor: original.invoicedMinor - invoicedBackMinor(original, ledger.refundedMinor),
    atMs: original.atMs,
  };
}
