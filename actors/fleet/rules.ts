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
}

/** Last approved odometer reading of one vehicle (or of a card used as its vehicle). */
export interface VehicleState {
  readonly odometerKm: number;
  readonly atMs: number;
}

/** A base price list never grows past this many entries per account (older superseded ones go). */
export const base_prices_max = 1000;

export type FleetDeclineReason = RuleDeclineReason | 'card_blocked' | 'card_frozen' | 'currency_mismatch';

export interface FleetPurchase {
  readonly atMs: number;
  readonly amountMinor: number;
  readonly currency: string;
  readonly merchantId: string;
  readonly terminalId: string;
  readonly lines: readonly RuleLine[];
  readonly prompts: PromptAnswers;
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

function statusVerdict(
  account: FleetAccountState,
  card: FleetCardState,
  currency: string,
): RuleVerdict | { kind: 'card'; reason: FleetDeclineReason; rule: string } {
  if (card.status === 'blocked') return { kind: 'card', reason: 'card_blocked', rule: 'status:blocked' };
  if (card.status === 'frozen') return { kind: 'card', reason: 'card_frozen', rule: 'status:frozen' };
  if (currency !== account.currency) return { kind: 'card', reason: 'currency_mismatch', rule: 'currency' };
  return approve_clean;
}

/** Decides a fleet card purchase on the account, card and vehicle states; pure. */
export function decideFleetPurchase(
  account: FleetAccountState,
  card: FleetCardState,
  vehicle: VehicleState | undefined,
  request: FleetPurchase,
): FleetPurchaseDecision {
  const declined = (reason: FleetDeclineReason, rule: string): FleetDecline => {
    const program = afterProgram(account.program, card.program, programRequest(request), { approved: false, reason });
    return { kind: 'declined', reason, rule, card: program === card.program ? card : { ...card, program } };
  };
  const status = statusVerdict(account, card, request.currency);
  if (status.kind === 'card') return declined(status.reason, status.rule);

  const keys = periodKeys(request.atMs, account.timeZone);
  const lines = request.lines;
  const priced =
    lines.length === 0
      ? { ok: true as const, invoiced_lines_minor: [] as number[], invoiced_minor: request.amountMinor, pump_minor: request.amountMinor }
      : priceBasket(account.pricing, account.prices, lines, request.atMs);
  const loyalty = loyaltyFor(account.program, request.merchantId, lines, priced.ok ? priced.invoiced_lines_minor : []);
  const invoicedMinor = priced.ok ? priced.invoiced_minor - loyalty.discount_minor : 0;
  const verdict = firstDecline([
    () => checkProgramGate(account.program, card.program, programRequest(request)),
    () => checkProducts(account.allowedGroups, card.allowedGroups, lines),
    () => checkPrompts(account.prompts, request.prompts, vehicle?.odometerKm),
    () => (priced.ok ? approve_clean : decline('price_unavailable', priced.rule)),
    () => checkSpend('card', card.limits, card.spent, keys, request.amountMinor),
    () => checkSpend('fleet', account.limits, account.spent, keys, request.amountMinor),
    () => checkProgramVelocity(account.program, card.program, programRequest(request)),
    () =>
      account.creditLimitMinor + account.balanceMinor < invoicedMinor ? decline('credit_limit_exceeded', 'credit:fleet') : approve_clean,
  ]);
  if (verdict.kind === 'decline') return declined(verdict.reason, verdict.rule);
  const balanceMinor = addMinor(account.balanceMinor, -invoicedMinor);
  if (!isBoundedAmount(balanceMinor)) return declined('credit_limit_exceeded', 'credit:bound');
  const invoicedLinesMinor = priced.ok
    ? priced.invoiced_lines_minor.map((amount, index) => amount - (loyalty.discounts_minor[index] ?? 0))
    : [];
  return {
    kind: 'approved',
    account: {
      ...account,
      balanceMinor,
      spent: addSpend(account.spent, keys, request.amountMinor),
      points: account.points + loyalty.points_earned,
    },
    card: {
      ...card,
      spent: addSpend(card.spent, keys, request.amountMinor),
      program: afterProgram(account.program, card.program, programRequest(request), { approved: true }),
    },
    vehicle: request.prompts.odometer_km > 0 ? { odometerKm: request.prompts.odometer_km, atMs: request.atMs } : undefined,
    pumpMinor: request.amountMinor,
    invoicedMinor,
    invoicedLinesMinor,
    discountMinor: loyalty.discount_minor,
    pointsEarned: loyalty.points_earned,
    flags: verdict.flags,
  };
}

function programRequest(request: FleetPurchase): { atMs: number; amount_minor: number; merchantId: string; terminalId: string } {
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
    }
  | { readonly type: 'set_pricing'; readonly pricing: PriceAgreements }
  | { readonly type: 'load_prices'; readonly prices: readonly BasePrice[]; readonly nowMs: number };

export type FleetCardCommand =
  | { readonly type: 'issue'; readonly allowedGroups: readonly string[] | undefined; readonly limits: SpendLimits; readonly nowMs: number }
  | { readonly type: 'set_limits'; readonly limits: SpendLimits; readonly allowedGroups: readonly string[] | undefined }
  | { readonly type: 'set_status'; readonly status: FleetCardStatus };

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
      const next: FleetAccountState = { ...state, prompts: command.prompts, program: command.program };
      if (command.allowedGroups === undefined) delete (next as { allowedGroups?: readonly string[] }).allowedGroups;
      else (next as { allowedGroups?: readonly string[] }).allowedGroups = command.allowedGroups;
      return { kind: 'changed', state: next };
    }
    case 'set_pricing':
      return { kind: 'changed', state: { ...state, pricing: command.pricing } };
    case 'load_prices':
      return { kind: 'changed', state: { ...state, prices: mergePrices(state.prices, command.prices, command.nowMs) } };
  }
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
  if (command.type === 'set_status') {
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
 * still current), and the points it earned are taken back (never below zero). Velocity history is
 * kept: a reversed burst was still a burst.
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
      points: Math.max(0, account.points - original.pointsEarned),
    },
    card: { ...card, spent: unspend(card.spent, account.timeZone, original.atMs, original.pumpMinor) },
  };
}
