// The fleet account's pure rules. A fleet account is a postpaid customer (an employer): its
// cards' purchases are not paid at the station but accrue to the account, up to its credit limit,
// and are invoiced in bulk. The account owns the fleet-wide limits and counters, its policy
// (product groups, prompts, program rules), its negotiated prices and base price lists, and it
// decides its cards' authorizations, so card, vehicle and account change in one commit.
//
// Amounts: limits and velocity count the pump amount (what the terminal authorizes: fleet
// managers set "100 EUR per fill-up"); the credit limit and the account balance count the
// invoiced amount (negotiated prices, less loyalty discount: what the fleet owes). The account
// balance is <= 0: minus what is owed.

import { addMinor, isBoundedAmount } from '../money';
import type { Hold } from '../card/rules';
import { invoiceNumber, newBilling, overdueInvoice, type BillingTerms, type FleetBilling } from './billing';
import { liveHeldMinor } from '../card/holds';
import { checkPinOf, type PinCheck, type PinPolicy } from '../card/pin';
import { redeemPoints } from '../rules/loyalty';
import { isValidTimeZone, periodKeys } from '../rules/calendar';
import type { BasePrice, PriceAgreements } from '../rules/pricing';
import { priceBasket } from '../rules/pricing';
import { checkProducts, type RuleLine } from '../rules/products';
import { checkPrompts, no_prompts, type PromptAnswers, type PromptPolicy } from '../rules/prompts';
import {
  afterProgram,
  checkProgramGate,
  checkProgramVelocity,
  empty_program_state,
  loyaltyFor,
  type ProgramCardState,
  type ProgramRules,
} from '../rules/program';
import { approve_clean, decline, firstDecline, type RuleDeclineReason, type RuleVerdict } from '../rules/rule';
import { addSpend, checkSpend, empty_counters, type SpendCounters, type SpendLimits } from '../rules/spend-limits';

export type FleetCardStatus = 'active' | 'frozen' | 'blocked';

export interface FleetAccountState {
  readonly fleetId: string;
  readonly currency: string;
  readonly timeZone: string;
  readonly creditLimitMinor: number;
  /** <= 0: minus what the fleet owes (accrued, not yet invoiced and settled). */
  readonly balanceMinor: number;
  readonly limits: SpendLimits;
  readonly spent: SpendCounters;
  /** Product groups the account's cards may buy; undefined = all. */
  readonly allowedGroups?: readonly string[];
  readonly prompts: PromptPolicy;
  readonly program: ProgramRules;
  readonly pricing: PriceAgreements;
  readonly prices: readonly BasePrice[];
  readonly points: number;
  readonly createdAtMs: number;
  /** The postpaid cycle: the open cycle, the payment terms and the open invoices (billing.ts). */
  readonly billing: FleetBilling;
  /** Open pre-authorizations (pay-at-pump holds) of the account's cards, by the pre-authorization's key. */
  readonly holds: Readonly<Record<string, FleetHold>>;
  /** Sum of `holds`, expired ones included until a write drops them (only live holds bind credit). */
  readonly heldMinor: number;
  /** PIN and pay-at-pump settings of the account's cards. */
  readonly cardPolicy: FleetCardPolicy;
  /** A shared wholesale (SPOT) price list the SPOT formulas read when the account's own list has no price. */
  readonly priceList?: string;
}

/** How the account's cards are used at the pump. */
export interface FleetCardPolicy {
  /** Purchases and pre-authorizations need the card's PIN. */
  readonly pin_required: boolean;
  /** Wrong PINs in a row that lock a card's PIN (an operator sets a new one). */
  readonly pin_attempts_max: number;
  /** A pre-authorization's hold is released if it is not completed within this time. */
  readonly hold_expiry_ms: number;
  /** A completion may pass its hold by this much (basis points), if the credit is there. */
  readonly completion_tolerance_bp: number;
}

/**
 * Pay-at-pump defaults: no PIN, three wrong attempts lock it, a hold lives an hour (a fill-up takes
 * minutes; a pump that never completes must not bind the fleet's credit for days), no over-completion.
 */
export const default_card_policy: FleetCardPolicy = Object.freeze({
  pin_required: false,
  pin_attempts_max: 3,
  hold_expiry_ms: 3_600_000,
  completion_tolerance_bp: 0,
});

/** A pre-authorization's hold on the account's credit, with what the driver entered at the pump. */
export interface FleetHold extends Hold {
  readonly card: string;
  readonly atMs: number;
  readonly prompts: PromptAnswers;
}

export interface FleetCardState {
  readonly cardId: string;
  readonly fleetId: string;
  readonly status: FleetCardStatus;
  readonly limits: SpendLimits;
  readonly spent: SpendCounters;
  readonly allowedGroups?: readonly string[];
  readonly program: ProgramCardState;
  readonly issuedAtMs: number;
  /** Keyed hash of the card's PIN (services/authorizer/usecases/pin.ts); absent = none set. */
  readonly pinHash?: string;
  /** Wrong PINs in a row; at the account's pin_attempts_max the PIN is locked. */
  readonly pinFailures?: number;
}

/** Last approved odometer reading of one vehicle (or of a card used as its vehicle). */
export interface VehicleState {
  readonly odometerKm: number;
  readonly atMs: number;
}

/** A base price list never grows past this many entries per account (older superseded ones go). */
export const base_prices_max = 1000;

export type FleetDeclineReason =
  | RuleDeclineReason
  | 'card_blocked'
  | 'card_frozen'
  | 'currency_mismatch'
  | 'account_overdue'
  | 'pin_required'
  | 'pin_invalid'
  | 'pin_locked';

export interface FleetPurchase {
  readonly atMs: number;
  readonly amountMinor: number;
  readonly currency: string;
  readonly merchantId: string;
  readonly terminalId: string;
  readonly lines: readonly RuleLine[];
  readonly prompts: PromptAnswers;
  /** Keyed hash of the PIN entered; absent when none was. */
  readonly pinHash?: string | undefined;
  /** Loyalty points of the account the driver redeems as payment. */
  readonly redeemPoints?: number | undefined;
  /** The shared SPOT price list the account follows (priceList), as the node has it cached. */
  readonly sharedPrices?: readonly BasePrice[] | undefined;
}

export interface FleetApproval {
  readonly kind: 'approved';
  readonly account: FleetAccountState;
  readonly card: FleetCardState;
  /** The vehicle's new reading, when an odometer was entered. */
  readonly vehicle: VehicleState | undefined;
  readonly pumpMinor: number;
  readonly invoicedMinor: number;
  readonly invoicedLinesMinor: readonly number[];
  readonly discountMinor: number;
  readonly pointsEarned: number;
  readonly pointsRedeemed: number;
  readonly flags: readonly string[];
}

export interface FleetDecline {
  readonly kind: 'declined';
  readonly reason: FleetDeclineReason;
  readonly rule: string;
  /** The card's state after the decline (risk counters), or the same object if unchanged. */
  readonly card: FleetCardState;
}

export type FleetPurchaseDecision = FleetApproval | FleetDecline;

/**
 * What the account may still spend at `nowMs`: the credit limit less what it owes (invoiced and
 * not paid, or not invoiced yet) less the open pre-authorizations' holds still live.
 */
export function availableCreditMinor(account: FleetAccountState, nowMs: number): number {
  return account.creditLimitMinor + account.balanceMinor - liveHeldMinor(account, nowMs);
}

function statusVerdict(
  account: FleetAccountState,
  card: FleetCardState,
  currency: string,
  atMs: number,
): RuleVerdict | { kind: 'card'; reason: FleetDeclineReason; rule: string } {
  if (card.status === 'blocked') return { kind: 'card', reason: 'card_blocked', rule: 'status:blocked' };
  if (card.status === 'frozen') return { kind: 'card', reason: 'card_frozen', rule: 'status:frozen' };
  // The account's restriction by its billing terms: every card waits for the overdue invoice's payment.
  const overdue = overdueInvoice(account.billing, atMs);
  if (overdue !== undefined)
    return { kind: 'card', reason: 'account_overdue', rule: `billing:overdue:${invoiceNumber(account.fleetId, overdue.cycle)}` };
  if (currency !== account.currency) return { kind: 'card', reason: 'currency_mismatch', rule: 'currency' };
  return approve_clean;
}

/** What the fleet is charged for a basket: its invoiced amount after prices, discount and points. */
export type FleetCharge =
  | {
      readonly ok: true;
      /** Per line, after negotiated prices and loyalty discount (before points, which pay the total). */
      readonly invoicedLinesMinor: readonly number[];
      /** What the account owes for it: the lines less the value of the points redeemed. */
      readonly invoicedMinor: number;
      readonly discountMinor: number;
      readonly pointsEarned: number;
      readonly pointsRedeemed: number;
    }
  | { readonly ok: false; readonly reason: 'price_unavailable' | 'points_insufficient'; readonly rule: string };

/**
 * Prices a basket for the account: negotiated prices per line (the SPOT price from the account's
 * own list, else from the shared list it follows), the loyalty discount per line, then the points
 * the driver redeems, worth point_value_minor each and never more than is due (loyalty.ts). A
 * basket without lines is charged its amount.
 */
export function chargeOf(
  account: FleetAccountState,
  request: Pick<FleetPurchase, 'amountMinor' | 'lines' | 'merchantId' | 'atMs' | 'redeemPoints' | 'sharedPrices'>,
): FleetCharge {
  const lines = request.lines;
  const priced =
    lines.length === 0
      ? { ok: true as const, invoiced_lines_minor: [] as number[], invoiced_minor: request.amountMinor }
      : priceBasket(account.pricing, account.prices, lines, request.atMs, request.sharedPrices);
  if (!priced.ok) return { ok: false, reason: 'price_unavailable', rule: priced.rule };
  const loyalty = loyaltyFor(account.program, request.merchantId, lines, priced.invoiced_lines_minor);
  const invoicedLinesMinor = priced.invoiced_lines_minor.map((amount, index) => amount - (loyalty.discounts_minor[index] ?? 0));
  const dueMinor = priced.invoiced_minor - loyalty.discount_minor;
  const redemption = redeemPoints(account.program.loyalty ?? no_loyalty, account.points, request.redeemPoints ?? 0, dueMinor);
  if (!redemption.ok) return { ok: false, reason: 'points_insufficient', rule: redemption.rule };
  return {
    ok: true,
    invoicedLinesMinor,
    invoicedMinor: dueMinor - redemption.value_minor,
    discountMinor: loyalty.discount_minor,
    pointsEarned: loyalty.points_earned,
    pointsRedeemed: redemption.points,
  };
}

const no_loyalty = { minor_per_unit: 0, points_per_unit: 0 };

/** The account's card policy as the PIN rule reads it (actors/card/pin.ts). */
function pinPolicyOf(policy: FleetCardPolicy): PinPolicy {
  return { pinRequired: policy.pin_required, pinAttemptsMax: policy.pin_attempts_max };
}

/** The PIN rule on a fleet card: the one card PINs follow (required, locked, wrong, right). */
export function checkFleetPin(account: FleetAccountState, card: FleetCardState, presentedHash: string | undefined): PinCheck {
  const holder = card.pinHash === undefined ? undefined : { pinHash: card.pinHash, pinFailures: card.pinFailures ?? 0 };
  return checkPinOf(holder, pinPolicyOf(account.cardPolicy), presentedHash);
}

/** The card with its wrong-PIN count after a check that changed it. */
export function withFleetPinFailures(card: FleetCardState, failures: number | undefined): FleetCardState {
  return failures === undefined || failures === (card.pinFailures ?? 0) ? card : { ...card, pinFailures: failures };
}

/** A decline of `request` on `card`: the risk counters and the wrong-PIN count it changed (or the same card). */
export function fleetDecline(
  account: FleetAccountState,
  card: FleetCardState,
  request: FleetPurchase,
  reason: FleetDeclineReason,
  rule: string,
  pinFailures?: number,
): FleetDecline {
  const program = afterProgram(account.program, card.program, programRequest(request), { approved: false, reason });
  const counted = program === card.program ? card : { ...card, program };
  return { kind: 'declined', reason, rule, card: withFleetPinFailures(counted, pinFailures) };
}

/**
 * The checks a card's spending passes before any money is committed, in order: status and the
 * account's restriction, PIN, then (in `rules`) the program gate, products, prompts, the charge,
 * limits, velocity and credit. Returns the decline, or the approval's flags and the PIN count.
 */
export function gateFleetSpending(
  account: FleetAccountState,
  card: FleetCardState,
  request: FleetPurchase,
  rules: readonly (() => RuleVerdict)[],
): FleetDecline | { readonly kind: 'pass'; readonly flags: readonly string[]; readonly pinFailures: number | undefined } {
  const status = statusVerdict(account, card, request.currency, request.atMs);
  if (status.kind === 'card') return fleetDecline(account, card, request, status.reason, status.rule);
  const pin = checkFleetPin(account, card, request.pinHash);
  if (pin.decline !== undefined)
    return fleetDecline(account, card, request, pin.decline.reason as FleetDeclineReason, pin.decline.rule, pin.failuresAfter);
  const verdict = firstDecline([() => checkProgramGate(account.program, card.program, programRequest(request)), ...rules]);
  if (verdict.kind === 'decline') return fleetDecline(account, card, request, verdict.reason, verdict.rule, pin.failuresAfter);
  return { kind: 'pass', flags: verdict.flags, pinFailures: pin.failuresAfter };
}

/** Decides a fleet card purchase on the account, card and vehicle states; pure. */
export function decideFleetPurchase(
  account: FleetAccountState,
  card: FleetCardState,
  vehicle: VehicleState | undefined,
  request: FleetPurchase,
): FleetPurchaseDecision {
  const keys = periodKeys(request.atMs, account.timeZone);
  const charge = chargeOf(account, request);
  const gate = gateFleetSpending(account, card, request, [
    () => checkProducts(account.allowedGroups, card.allowedGroups, request.lines),
    () => checkPrompts(account.prompts, request.prompts, vehicle?.odometerKm),
    () => (charge.ok ? approve_clean : decline(charge.reason, charge.rule)),
    () => checkSpend('card', card.limits, card.spent, keys, request.amountMinor),
    () => checkSpend('fleet', account.limits, account.spent, keys, request.amountMinor),
    () => checkProgramVelocity(account.program, card.program, programRequest(request)),
    () =>
      charge.ok && availableCreditMinor(account, request.atMs) < charge.invoicedMinor
        ? decline('credit_limit_exceeded', 'credit:fleet')
        : approve_clean,
  ]);
  if (gate.kind === 'declined') return gate;
  if (!charge.ok) throw new Error('assertion: an unpriced basket passed the gate');
  const balanceMinor = addMinor(account.balanceMinor, -charge.invoicedMinor);
  if (!isBoundedAmount(balanceMinor)) return fleetDecline(account, card, request, 'credit_limit_exceeded', 'credit:bound');
  return {
    kind: 'approved',
    account: {
      ...account,
      balanceMinor,
      spent: addSpend(account.spent, keys, request.amountMinor),
      points: account.points + charge.pointsEarned - charge.pointsRedeemed,
    },
    card: withFleetPinFailures(
      {
        ...card,
        spent: addSpend(card.spent, keys, request.amountMinor),
        program: afterProgram(account.program, card.program, programRequest(request), { approved: true }),
      },
      gate.pinFailures,
    ),
    vehicle: request.prompts.odometer_km > 0 ? { odometerKm: request.prompts.odometer_km, atMs: request.atMs } : undefined,
    pumpMinor: request.amountMinor,
    invoicedMinor: charge.invoicedMinor,
    invoicedLinesMinor: charge.invoicedLinesMinor,
    discountMinor: charge.discountMinor,
    pointsEarned: charge.pointsEarned,
    pointsRedeemed: charge.pointsRedeemed,
    flags: gate.flags,
  };
}

export function programRequest(request: Pick<FleetPurchase, 'atMs' | 'amountMinor' | 'merchantId' | 'terminalId'>): {
  atMs: number;
  amount_minor: number;
  merchantId: string;
  terminalId: string;
} {
  return { atMs: request.atMs, amount_minor: request.amountMinor, merchantId: request.merchantId, terminalId: request.terminalId };
}

// ---------------------------------------------------------------------------------------------
// Administration: each command is validated by the gRPC adapter for shape; these rules decide
// against the current state. `unchanged` answers an idempotent repeat without a write.

export type FleetAdminCommand =
  | {
      readonly type: 'create';
      readonly currency: string;
      readonly creditLimitMinor: number;
      readonly timeZone: string;
      readonly nowMs: number;
    }
  | { readonly type: 'set_limits'; readonly creditLimitMinor: number | undefined; readonly limits: SpendLimits }
  | {
      readonly type: 'set_policy';
      readonly allowedGroups: readonly string[] | undefined;
      readonly prompts: PromptPolicy;
      readonly program: ProgramRules;
      /** Absent: unchanged. */
      readonly cardPolicy?: FleetCardPolicy | undefined;
    }
  /** Only the prompts; everything else of the policy stays. */
  | { readonly type: 'set_prompts'; readonly prompts: PromptPolicy }
  | { readonly type: 'set_pricing'; readonly pricing: PriceAgreements; readonly priceList?: string | undefined }
  | { readonly type: 'set_billing'; readonly terms: BillingTerms }
  | { readonly type: 'load_prices'; readonly prices: readonly BasePrice[]; readonly nowMs: number };

export type FleetCardCommand =
  | { readonly type: 'issue'; readonly allowedGroups: readonly string[] | undefined; readonly limits: SpendLimits; readonly nowMs: number }
  | { readonly type: 'set_limits'; readonly limits: SpendLimits; readonly allowedGroups: readonly string[] | undefined }
  /** `unblock`: the request that may take a card out of `blocked` (it reaches here approved by a second person). */
  | { readonly type: 'set_status'; readonly status: FleetCardStatus; readonly unblock: boolean }
  /** The fleet's operator assigns the PIN (its keyed hash); a new PIN clears the wrong attempts. */
  | { readonly type: 'set_pin'; readonly pinHash: string };

export type AdminDecision<S> =
  | { readonly kind: 'changed'; readonly state: S }
  | { readonly kind: 'unchanged'; readonly state: S }
  | {
      readonly kind: 'rejected';
      readonly code: 'not_found' | 'already_exists' | 'invalid_argument' | 'failed_precondition';
      readonly message: string;
    };

export function decideFleetAdmin(
  fleetId: string,
  state: FleetAccountState | undefined,
  command: FleetAdminCommand,
): AdminDecision<FleetAccountState> {
  if (command.type === 'create') {
    if (!isValidTimeZone(command.timeZone))
      return { kind: 'rejected', code: 'invalid_argument', message: 'time_zone is not an IANA time zone' };
    if (state !== undefined) {
      const same =
        state.currency === command.currency && state.timeZone === command.timeZone && state.creditLimitMinor === command.creditLimitMinor;
      return same
        ? { kind: 'unchanged', state }
        : { kind: 'rejected', code: 'already_exists', message: 'fleet account exists with different fields' };
    }
    return {
      kind: 'changed',
      state: {
        fleetId,
        currency: command.currency,
        timeZone: command.timeZone,
        creditLimitMinor: command.creditLimitMinor,
        balanceMinor: 0,
        limits: {},
        spent: empty_counters,
        prompts: no_prompts,
        program: {},
        pricing: {},
        prices: [],
        points: 0,
        createdAtMs: command.nowMs,
        billing: newBilling(command.nowMs),
        holds: {},
        heldMinor: 0,
        cardPolicy: default_card_policy,
      },
    };
  }
  if (state === undefined) return { kind: 'rejected', code: 'not_found', message: 'fleet account not found' };
  switch (command.type) {
    case 'set_limits':
      return {
        kind: 'changed',
        state: { ...state, limits: command.limits, creditLimitMinor: command.creditLimitMinor ?? state.creditLimitMinor },
      };
    case 'set_policy': {
      const next: FleetAccountState = {
        ...state,
        prompts: command.prompts,
        program: command.program,
        cardPolicy: command.cardPolicy ?? state.cardPolicy,
      };
      if (command.allowedGroups === undefined) delete (next as { allowedGroups?: readonly string[] }).allowedGroups;
      else (next as { allowedGroups?: readonly string[] }).allowedGroups = command.allowedGroups;
      return { kind: 'changed', state: next };
    }
    case 'set_prompts':
      return samePrompts(state.prompts, command.prompts)
        ? { kind: 'unchanged', state }
        : { kind: 'changed', state: { ...state, prompts: command.prompts } };
    case 'set_pricing': {
      const next: FleetAccountState = { ...state, pricing: command.pricing };
      if (command.priceList === undefined) delete (next as { priceList?: string }).priceList;
      else (next as { priceList?: string }).priceList = command.priceList;
      return { kind: 'changed', state: next };
    }
    case 'set_billing':
      // New terms apply to invoices issued from now on, and the restriction rule to every open one.
      return { kind: 'changed', state: { ...state, billing: { ...state.billing, terms: command.terms } } };
    case 'load_prices':
      return { kind: 'changed', state: { ...state, prices: mergePrices(state.prices, command.prices, command.nowMs) } };
  }
}

function samePrompts(a: PromptPolicy, b: PromptPolicy): boolean {
  return (
    a.require_odometer === b.require_odometer &&
    a.require_driver === b.require_driver &&
    a.require_vehicle === b.require_vehicle &&
    a.odometer_jump_max_km === b.odometer_jump_max_km
  );
}

/**
 * Merges new base price entries into a list: an entry for the same product and instant replaces
 * the old one; entries superseded before `nowMs` (an older entry of a product that already has a
 * newer one in effect) are dropped, so the list stays bounded by what can still be used.
 */
export function mergePrices(current: readonly BasePrice[], added: readonly BasePrice[], nowMs: number): BasePrice[] {
  const byKey = new Map<string, BasePrice>();
  for (const entry of [...current, ...added]) byKey.set(`${entry.product_code}@${entry.effective_from_ms}`, entry);
  const inEffect = new Map<string, number>();
  for (const entry of byKey.values()) {
    if (entry.effective_from_ms <= nowMs)
      inEffect.set(entry.product_code, Math.max(inEffect.get(entry.product_code) ?? -Infinity, entry.effective_from_ms));
  }
  const kept = [...byKey.values()].filter((entry) => entry.effective_from_ms >= (inEffect.get(entry.product_code) ?? -Infinity));
  kept.sort((a, b) =>
    a.product_code < b.product_code ? -1 : a.product_code > b.product_code ? 1 : a.effective_from_ms - b.effective_from_ms,
  );
  return kept.slice(-base_prices_max);
}

export function decideFleetCard(
  account: FleetAccountState | undefined,
  cardId: string,
  card: FleetCardState | undefined,
  command: FleetCardCommand,
): AdminDecision<FleetCardState> {
  if (account === undefined) return { kind: 'rejected', code: 'not_found', message: 'fleet account not found' };
  if (command.type === 'issue') {
    if (card !== undefined) return { kind: 'unchanged', state: card };
    const issued: FleetCardState = {
      cardId,
      fleetId: account.fleetId,
      status: 'active',
      limits: command.limits,
      spent: empty_counters,
      ...(command.allowedGroups !== undefined ? { allowedGroups: command.allowedGroups } : {}),
      program: empty_program_state,
      issuedAtMs: command.nowMs,
    };
    return { kind: 'changed', state: issued };
  }
  if (card === undefined) return { kind: 'rejected', code: 'not_found', message: 'fleet card not found' };
  if (command.type === 'set_pin') {
    return card.pinHash === command.pinHash && (card.pinFailures ?? 0) === 0
      ? { kind: 'unchanged', state: card }
      : { kind: 'changed', state: { ...card, pinHash: command.pinHash, pinFailures: 0 } };
  }
  if (command.type === 'set_status') {
    if (card.status === 'blocked' && command.status !== 'blocked' && !command.unblock)
      return {
        kind: 'rejected',
        code: 'failed_precondition',
        message: 'a blocked fleet card leaves blocked only by an unblock (unblock = true), which a second approver must approve',
      };
    return card.status === command.status
      ? { kind: 'unchanged', state: card }
      : { kind: 'changed', state: { ...card, status: command.status } };
  }
  const next: FleetCardState = { ...card, limits: command.limits };
  if (command.allowedGroups === undefined) delete (next as { allowedGroups?: readonly string[] }).allowedGroups;
  else (next as { allowedGroups?: readonly string[] }).allowedGroups = command.allowedGroups;
  return { kind: 'changed', state: next };
}

// ---------------------------------------------------------------------------------------------
// Reversal of an approved purchase (a terminal's time-out reversal, a cancelled fill-up).

export interface ReversedPurchase {
  readonly pumpMinor: number;
  readonly invoicedMinor: number;
  readonly pointsEarned: number;
  /** Points redeemed on it: given back to the account. */
  readonly pointsRedeemed: number;
  readonly atMs: number;
}

/** Counters without `amount` spent at `atMs`: periods that have ended since are left alone. */
export function unspend(counters: SpendCounters, timeZone: string, atMs: number, amount_minor: number): SpendCounters {
  const keys = periodKeys(atMs, timeZone);
  const less = (value: number): number => Math.max(0, value - amount_minor);
  return {
    day: counters.day,
    day_minor: counters.day === keys.day ? less(counters.day_minor) : counters.day_minor,
    week: counters.week,
    week_minor: counters.week === keys.week ? less(counters.week_minor) : counters.week_minor,
    month: counters.month,
    month_minor: counters.month === keys.month ? less(counters.month_minor) : counters.month_minor,
    lifetime_minor: less(counters.lifetime_minor),
  };
}

/**
 * Account and card after reversing an approved purchase: the invoiced amount comes back to the
 * account, the pump amount leaves the limit counters of the periods it was spent in (if they are
 * still current), the points it earned are taken back (never below zero) and those it redeemed
 * given back. Velocity history is kept: a reversed burst was still a burst.
 */
export function reverseFleetPurchase(
  account: FleetAccountState,
  card: FleetCardState,
  original: ReversedPurchase,
): { account: FleetAccountState; card: FleetCardState } {
  return {
    account: {
      ...account,
      balanceMinor: addMinor(account.balanceMinor, original.invoicedMinor),
      spent: unspend(account.spent, account.timeZone, original.atMs, original.pumpMinor),
      points: Math.max(0, account.points - original.pointsEarned) + original.pointsRedeemed,
    },
    card: { ...card, spent: unspend(card.spent, account.timeZone, original.atMs, original.pumpMinor) },
  };
}
