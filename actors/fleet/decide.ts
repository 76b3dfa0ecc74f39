// What a fleet account decides, as pure functions: a purchase of one of its cards, a reversal of
// one (on the facts about its original, loaded before deciding), and the operator's changes to
// the account, a card and the review queue. Each returns the reply, the records' states after,
// and the transaction or audit document; the fleet actor (actor.ts) loads the records, calls these
// and hands the result to the entity host. The rules themselves are in rules.ts and actors/rules.

import { rejected, type TaplineError } from '../errors';
import { enqueueReview, empty_review_queue, resolveReview, type ReviewQueue } from '../rules/review-queue';
import {
  decideFleetAdmin,
  decideFleetCard,
  decideFleetPurchase,
  availableCreditMinor,
  reverseFleetPurchase,
  type FleetAccountState,
  type FleetAdminCommand,
  type FleetCardCommand,
  type FleetCardState,
  type VehicleState,
} from './rules';
import { isFleetTxnResult, type FleetMoneyRequest, type FleetTxnResult } from './transaction';
import {
  cardPinChanged,
  fleetAccountChanged,
  fleetCardIssued,
  fleetInvoiceIssued,
  fleetCardLimitsSet,
  fleetCardStatusChanged,
  fleetReviewResolved,
  fleetTransactionDocument,
  transactionDocument,
} from '../outbox/builders';
import { tombstone_fingerprint, type IdempotencyRecord, type MoneyRequest, type ReverseOutcome, type TxnResult } from '../card/transaction';
import type { Claim } from '../runtime/persistence';
import type { FleetAccountEvent } from '../outbox/contract';
import type { BasePrice } from '../rules/pricing';
import { addMinor } from '../money';
import { applyPayment, closeCycle, invoiceNumber, type OpenInvoice, type PaymentDecision } from './billing';
import { reversalRefusal } from '../card/decide';

export interface FleetEnv {
  readonly nowMs: number;
  readonly nextId: () => string;
}

export interface Rejection {
  readonly kind: 'rejected';
  readonly error: TaplineError;
}

/** The records a fleet money decision read; undefined `after` = read only (its version is checked). */
export interface FleetMoneyPlan {
  readonly kind: 'money';
  readonly account: FleetAccountState | undefined;
  readonly card: FleetCardState | undefined;
  /** Written only when it changed. */
  readonly review?: ReviewQueue;
  readonly vehicle?: VehicleState;
  readonly record: IdempotencyRecord;
  readonly stored: string;
  readonly claims?: readonly Claim[];
  /** The original key this plan reverses, while it commits. */
  readonly reversing?: string;
}

export interface FleetRecords {
  readonly account: FleetAccountState;
  readonly card: FleetCardState;
  /** The vehicle's last odometer reading, when the request entered an odometer. */
  readonly vehicle: VehicleState | undefined;
  readonly review: ReviewQueue | undefined;
  /** The shared SPOT price list the account follows, as cached on this node (none: []). */
  readonly sharedPrices?: readonly BasePrice[];
}

/** A purchase of one of the account's cards: account, card and vehicle change in one commit entry. */
export function decideFleetMoney(
  fleetId: string,
  records: FleetRecords,
  request: FleetMoneyRequest,
  merchantId: string,
  env: FleetEnv,
): FleetMoneyPlan {
  const { account, card } = records;
  const prompts = request.fleet.prompts;
  const decision = decideFleetPurchase(account, card, records.vehicle, {
    atMs: env.nowMs,
    amountMinor: request.amountMinor,
    currency: request.currency,
    merchantId,
    terminalId: request.terminalId,
    lines: request.fleet.lines,
    prompts,
    pinHash: request.pinHash,
    redeemPoints: request.redeemPoints,
    sharedPrices: records.sharedPrices,
  });
  const approved = decision.kind === 'approved';
  const accountAfter = approved ? decision.account : account;
  const result: FleetTxnResult = {
    id: env.nextId(),
    kind: 'purchase',
    outcome: approved ? 'approved' : 'declined',
    reason: approved ? undefined : decision.reason,
    rule: approved ? undefined : decision.rule,
    cardId: request.cardId,
    amountMinor: approved ? request.amountMinor : 0,
    currency: account.currency,
    balanceAfterMinor: availableCreditMinor(accountAfter, env.nowMs),
    atMs: env.nowMs,
    fleet: {
      fleetId,
      pumpMinor: approved ? decision.pumpMinor : 0,
      invoicedMinor: approved ? decision.invoicedMinor : 0,
      discountMinor: approved ? decision.discountMinor : 0,
      pointsEarned: approved ? decision.pointsEarned : 0,
      pointsRedeemed: approved ? decision.pointsRedeemed : 0,
      flags: approved ? decision.flags : [],
      accountBalanceAfterMinor: accountAfter.balanceMinor,
      driverId: prompts.driver_id,
      vehicleId: prompts.vehicle_id,
      cycle: account.billing.cycle,
    },
  };
  const stored = fleetTransactionDocument(request, { merchantId, programId: fleetId }, result, approved ? decision.invoicedLinesMinor : []);
  const plan: { -readonly [K in keyof FleetMoneyPlan]: FleetMoneyPlan[K] } = {
    kind: 'money',
    account: approved ? decision.account : undefined,
    card: decision.card !== card ? decision.card : undefined,
    record: { f: request.fingerprint, r: result, origin: { terminalId: request.terminalId, merchantId } },
    stored,
  };
  if (approved && decision.flags.length > 0) {
    plan.review = enqueueReview(records.review ?? empty_review_queue, {
      id: result.id,
      card: request.cardId,
      amount_minor: request.amountMinor,
      flags: decision.flags,
      at_ms: env.nowMs,
    });
  }
  if (approved && decision.vehicle !== undefined) plan.vehicle = decision.vehicle;
  return plan;
}

export interface FleetReversalFacts {
  readonly original: IdempotencyRecord | undefined;
  readonly alreadyReversed: boolean;
}

/** True when deciding a reversal of `original` needs to know whether it was reversed already. */
export function fleetReversalNeedsClaim(original: IdempotencyRecord | undefined): boolean {
  return original !== undefined && original.r.outcome === 'approved' && original.r.kind === 'purchase' && isFleetTxnResult(original.r);
}

/**
 * A reversal of one of the account's purchases, with the card's semantics (docs/DECISIONS.md,
 * "Reversal tombstones"): REVERSED gives the invoiced amount back to the account once (a claim on
 * the original's key), ALREADY_REVERSED after that, NOTHING_TO_REVERSE for a declined or unknown
 * original, and an unknown original is tombstoned so that, arriving late, it is declined.
 */
export function decideFleetReversal(
  fleetId: string,
  records: Pick<FleetRecords, 'account' | 'card'>,
  request: FleetMoneyRequest,
  merchantId: string,
  facts: FleetReversalFacts,
  env: FleetEnv,
): FleetMoneyPlan | Rejection {
  const { original } = facts;
  const originalKey = request.originalKey;
  // From where the original happened, and tombstones only under the reversal's own terminal's keys.
  const refusal = reversalRefusal(request, merchantId, original);
  if (refusal !== undefined) return refusal;
  if (original !== undefined && original.f !== tombstone_fingerprint && original.r.cardId !== request.cardId)
    return { kind: 'rejected', error: rejected('invalid_argument', 'original transaction belongs to another card', { originalKey }) };
  if (original !== undefined && original.r.kind !== 'purchase')
    return {
      kind: 'rejected',
      error: rejected('invalid_argument', 'only purchases can be reversed', { originalKey, kind: original.r.kind }),
    };
  if (original === undefined || original.r.outcome !== 'approved' || !isFleetTxnResult(original.r))
    return reversalPlan(fleetId, records, request, merchantId, env, 'nothing_to_reverse', undefined, original === undefined);
  return reversalPlan(
    fleetId,
    records,
    request,
    merchantId,
    env,
    facts.alreadyReversed ? 'already_reversed' : 'reversed',
    original.r,
    false,
  );
}

function reversalPlan(
  fleetId: string,
  { account, card }: Pick<FleetRecords, 'account' | 'card'>,
  request: FleetMoneyRequest,
  merchantId: string,
  env: FleetEnv,
  outcome: ReverseOutcome,
  original: FleetTxnResult | undefined,
  tombstone: boolean,
): FleetMoneyPlan {
  const id = env.nextId();
  const reversing = outcome === 'reversed' && original !== undefined;
  const after = reversing
    ? reverseFleetPurchase(account, card, {
        pumpMinor: original.fleet.pumpMinor,
        invoicedMinor: original.fleet.invoicedMinor,
        pointsEarned: original.fleet.pointsEarned,
        pointsRedeemed: original.fleet.pointsRedeemed,
        atMs: original.atMs,
      })
    : undefined;
  const accountAfter = after?.account ?? account;
  const result: FleetTxnResult = {
    id,
    kind: 'reverse',
    outcome: 'approved',
    cardId: request.cardId,
    amountMinor: reversing ? original.amountMinor : 0,
    currency: account.currency,
    balanceAfterMinor: availableCreditMinor(accountAfter, env.nowMs),
    atMs: env.nowMs,
    reverse: outcome,
    fleet: {
      fleetId,
      pumpMinor: reversing ? original.fleet.pumpMinor : 0,
      invoicedMinor: reversing ? original.fleet.invoicedMinor : 0,
      discountMinor: 0,
      pointsEarned: 0,
      pointsRedeemed: 0,
      flags: [],
      accountBalanceAfterMinor: accountAfter.balanceMinor,
      cycle: account.billing.cycle,
    },
  };
  const context = { merchantId, programId: fleetId };
  const claims: Claim[] = [];
  if (reversing) claims.push({ kind: 'reversal', key: request.originalKey, value: id });
  if (tombstone) claims.push(tombstoneClaim(request, account, `${id}.t`, context, env));
  // The reversal names the purchase's driver and vehicle (no odometer: it is no new reading), so a
  // vehicle's invoice lines net out; the reversal request itself carries no prompts.
  const prompts = {
    odometer_km: 0,
    driver_id: reversing ? (original.fleet.driverId ?? '') : '',
    vehicle_id: reversing ? (original.fleet.vehicleId ?? '') : '',
  };
  const stored = fleetTransactionDocument(request, context, result, [], prompts);
  return {
    kind: 'money',
    account: after?.account,
    card: after?.card,
    record: { f: request.fingerprint, r: result, origin: { terminalId: request.terminalId, merchantId } },
    stored,
    claims,
    ...(reversing ? { reversing: request.originalKey } : {}),
  };
}

/** The original never reached the account: a tombstone under its key makes it declined if it arrives after this. */
function tombstoneClaim(
  request: FleetMoneyRequest,
  account: FleetAccountState,
  id: string,
  context: { readonly merchantId: string; readonly programId: string },
  env: FleetEnv,
): Claim {
  const result: TxnResult = {
    id,
    kind: 'purchase',
    outcome: 'declined',
    reason: 'reversed_before_authorization',
    rule: 'reversal',
    cardId: request.cardId,
    amountMinor: 0,
    currency: account.currency,
    balanceAfterMinor: availableCreditMinor(account, env.nowMs),
    atMs: env.nowMs,
  };
  const original: MoneyRequest = { ...request, kind: 'purchase', key: request.originalKey, amountMinor: 0, originalKey: '' };
  return { kind: 'idempotency', key: request.originalKey, value: transactionDocument(original, context, result, tombstone_fingerprint) };
}

// ---------------------------------------------------------------------------------------------
// Operator changes.

export type FleetChange<S> =
  | Rejection
  | { readonly kind: 'unchanged'; readonly state: S }
  | { readonly kind: 'changed'; readonly after: S; readonly document: string };

/** The fleet_account_changed event of each change (a price load is a change of pricing). */
const account_change_events = {
  create: 'created',
  set_limits: 'limits',
  set_policy: 'policy',
  set_pricing: 'pricing',
  load_prices: 'pricing',
  set_billing: 'billing',
} as const satisfies Record<FleetAdminCommand['type'], FleetAccountEvent>;

export function decideAccountChange(
  fleetId: string,
  account: FleetAccountState | undefined,
  command: FleetAdminCommand,
  operatorId: string,
  env: FleetEnv,
): FleetChange<FleetAccountState> {
  const decision = decideFleetAdmin(fleetId, account, command);
  if (decision.kind === 'rejected') return { kind: 'rejected', error: rejected(decision.code, decision.message, { fleetId }) };
  if (decision.kind === 'unchanged') return { kind: 'unchanged', state: decision.state };
  const after = decision.state;
  const event = account_change_events[command.type];
  const document = fleetAccountChanged({ fleet: fleetId, currency: after.currency, event, operator: operatorId, at: env.nowMs });
  return { kind: 'changed', after, document };
}

export function decideCardChange(
  fleetId: string,
  account: FleetAccountState | undefined,
  cardId: string,
  card: FleetCardState | undefined,
  command: FleetCardCommand,
  operatorId: string,
  env: FleetEnv,
): FleetChange<FleetCardState> {
  const decision = decideFleetCard(account, cardId, card, command);
  if (decision.kind === 'rejected') return { kind: 'rejected', error: rejected(decision.code, decision.message, { cardId }) };
  if (decision.kind === 'unchanged') return { kind: 'unchanged', state: decision.state };
  const after = decision.state;
  const currency = (account as FleetAccountState).currency;
  const at = env.nowMs;
  const operator = operatorId;
  const document =
    command.type === 'issue'
      ? fleetCardIssued({ card: cardId, fleet: fleetId, currency, status: after.status, operator, at })
      : command.type === 'set_status'
        ? fleetCardStatusChanged({ card: cardId, fleet: fleetId, status: after.status, previous: card?.status ?? '', operator, at })
        : command.type === 'set_pin'
          ? cardPinChanged({ card: cardId, program: fleetId, event: pinEventOf(card), operator, reason: '', at })
          : fleetCardLimitsSet({ card: cardId, limits: after.limits, groups: after.allowedGroups, operator, at });
  return { kind: 'changed', after, document };
}

/** What a new PIN did to the card: set the first one, unlocked a locked one, or changed it. */
function pinEventOf(card: FleetCardState | undefined): 'set' | 'changed' | 'unlocked' {
  if (card?.pinHash === undefined) return 'set';
  return (card.pinFailures ?? 0) > 0 ? 'unlocked' : 'changed';
}

export function decideReviewResolution(
  fleetId: string,
  account: FleetAccountState | undefined,
  review: ReviewQueue | undefined,
  transactionId: string,
  note: string,
  operatorId: string,
  env: FleetEnv,
): FleetChange<ReviewQueue> {
  if (account === undefined) return { kind: 'rejected', error: rejected('not_found', 'fleet account not found', { fleetId }) };
  const before = review ?? empty_review_queue;
  const after = resolveReview(before, transactionId);
  if (after === before)
    return { kind: 'rejected', error: rejected('not_found', 'transaction is not in the review queue', { transactionId }) };
  const document = fleetReviewResolved({ transaction: transactionId, fleet: fleetId, note, operator: operatorId, at: env.nowMs });
  return { kind: 'changed', after, document };
}

// ---------------------------------------------------------------------------------------------
// The postpaid cycle: payments and cycle closes (billing.ts holds the rules).

/**
 * A payment received for the account's invoices (kind fleet_payment, keyed by its reference):
 * applied oldest invoice first, the debt and the outstanding amounts lowered together in one
 * commit, so the available credit grows by exactly the payment. Declined (recorded, so a retry
 * answers the same) when its currency is not the account's or it is more than the invoices owe.
 */
export function decideFleetPayment(fleetId: string, account: FleetAccountState, request: FleetMoneyRequest, env: FleetEnv): FleetMoneyPlan {
  const decision: PaymentDecision =
    request.currency !== account.currency ? { kind: 'refused', message: 'currency' } : applyPayment(account.billing, request.amountMinor);
  const applied = decision.kind === 'applied';
  const after: FleetAccountState | undefined = applied
    ? { ...account, balanceMinor: addMinor(account.balanceMinor, request.amountMinor), billing: decision.billing }
    : undefined;
  const accountAfter = after ?? account;
  const result: FleetTxnResult = {
    id: env.nextId(),
    kind: 'fleet_payment',
    outcome: applied ? 'approved' : 'declined',
    ...(applied
      ? {}
      : request.currency !== account.currency
        ? { reason: 'currency_mismatch' as const, rule: 'currency' }
        : { reason: 'settlement_exceeds_debt' as const, rule: 'billing:payment_exceeds_invoiced' }),
    cardId: '',
    amountMinor: applied ? request.amountMinor : 0,
    currency: account.currency,
    balanceAfterMinor: availableCreditMinor(accountAfter, env.nowMs),
    atMs: env.nowMs,
    fleet: {
      fleetId,
      pumpMinor: 0,
      invoicedMinor: 0,
      discountMinor: 0,
      pointsEarned: 0,
      pointsRedeemed: 0,
      flags: [],
      accountBalanceAfterMinor: accountAfter.balanceMinor,
      cycle: account.billing.cycle,
    },
  };
  const context = { merchantId: '', programId: fleetId };
  return {
    kind: 'money',
    account: after,
    card: undefined,
    record: { f: request.fingerprint, r: result, origin: { terminalId: '', merchantId: '' } },
    stored: fleetTransactionDocument(request, context, result, []),
  };
}

/** What closing a cycle answers: the invoice it issued, or that the cycle was closed already. */
export interface FleetCycleClose {
  readonly account: FleetAccountState;
  readonly invoice?: OpenInvoice;
  /** Credit applied at once to older invoices (a credit note's). */
  readonly appliedMinor: number;
  readonly alreadyClosed: boolean;
}

/**
 * Closes the open cycle: the invoice is the spend accrued in it (exactly the documents that carry
 * its cycle number), issued now and due after the account's payment terms. The balance does not
 * move: the debt only changes from uninvoiced to invoiced. Written with a fleet_invoice document.
 */
export function decideCycleClose(
  fleetId: string,
  account: FleetAccountState | undefined,
  cycle: number,
  operatorId: string,
  env: FleetEnv,
):
  | Rejection
  | { readonly kind: 'unchanged'; readonly answer: FleetCycleClose }
  | { readonly kind: 'changed'; readonly answer: FleetCycleClose; readonly document: string } {
  if (account === undefined) return { kind: 'rejected', error: rejected('not_found', 'fleet account not found', { fleetId }) };
  const decision = closeCycle(account.balanceMinor, account.billing, cycle, env.nowMs);
  if (decision.kind === 'refused')
    return { kind: 'rejected', error: rejected('failed_precondition', decision.message, { fleetId, cycle }) };
  if (decision.kind === 'already_closed') return { kind: 'unchanged', answer: { account, appliedMinor: 0, alreadyClosed: true } };
  const after: FleetAccountState = { ...account, billing: decision.billing };
  const appliedMinor = decision.applied.reduce((sum, entry) => sum + entry.amountMinor, 0);
  const document = fleetInvoiceIssued({
    fleet: fleetId,
    number: invoiceNumber(fleetId, cycle),
    cycle,
    currency: account.currency,
    amount: decision.invoice.amountMinor,
    applied: appliedMinor,
    opened_at: account.billing.cycleOpenedAtMs,
    due_at: decision.invoice.dueAtMs,
    operator: operatorId,
    at: env.nowMs,
  });
  return { kind: 'changed', answer: { account: after, invoice: decision.invoice, appliedMinor, alreadyClosed: false }, document };
}
