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
  type FleetPurchase,
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
import type { Claim, EntityWrite, StoredRecord } from '../runtime/persistence';
import { empty_refund_ledger, type RefundLedger } from '../card/refunds';
import { decodeRefundLedger, encodeRefundLedger } from '../state/card';
import { refundLedgerEntity } from '../card/decide';
import {
  decideFleetCompletion,
  decideFleetPreAuthorization,
  decideFleetRefund,
  decideFleetVoid,
  reversibleOf,
  type FleetOriginal,
} from './pump';
import { resourceExhausted } from '../errors';
import type { FleetAccountEvent } from '../outbox/contract';
import type { BasePrice } from '../rules/pricing';
import { addMinor } from '../money';
import { applyPayment, closeCycle, invoiceNumber, type OpenInvoice, type PaymentDecision } from './billing';
import { holdRefusal, reversalRefusal } from '../card/decide';

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
  /** Records written at the version their facts were read at (an original's refund ledger). */
  readonly writes?: readonly EntityWrite[];
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
  /** The original's refund ledger (card/refunds.ts), read when the original is an approved purchase or completion. */
  readonly ledger?: StoredRecord | undefined;
}

/** Kinds whose approval charged the account: what a reversal or a refund can act on. */
const charged_kinds: ReadonlySet<string> = new Set(['purchase', 'completion']);

/**
 * True when deciding a reversal of `original` needs to know whether it was reversed already and
 * what was refunded against it (its claim and its refund ledger).
 */
export function fleetReversalNeedsClaim(original: IdempotencyRecord | undefined): boolean {
  return original !== undefined && original.r.outcome === 'approved' && charged_kinds.has(original.r.kind) && isFleetTxnResult(original.r);
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
  if (original !== undefined && original.f !== tombstone_fingerprint && !charged_kinds.has(original.r.kind))
    return {
      kind: 'rejected',
      error: rejected('invalid_argument', 'only purchases and completions can be reversed (a hold is released by Void)', {
        originalKey,
        kind: original.r.kind,
      }),
    };
  if (original === undefined || original.r.outcome !== 'approved' || !isFleetTxnResult(original.r))
    return reversalPlan(fleetId, records, request, merchantId, env, 'nothing_to_reverse', undefined, original === undefined);
  if (facts.alreadyReversed) return reversalPlan(fleetId, records, request, merchantId, env, 'already_reversed', undefined, false);
  // What refunds of the original left to give back; the ledger is marked reversed in the same
  // commit (its version serializes this reversal against any refund of the same original).
  const ledger = decodeLedger(facts.ledger);
  const left = reversibleOf(originalOf(original.r), ledger);
  if (left.pumpMinor === 0) return reversalPlan(fleetId, records, request, merchantId, env, 'nothing_to_reverse', undefined, false);
  const ledgerWrite: EntityWrite = {
    entity: refundLedgerEntity(originalKey),
    expectVersion: facts.ledger?.version ?? 0,
    data: encodeRefundLedger({ refundedMinor: ledger.refundedMinor, reversed: true }),
  };
  const reversed: FleetTxnResult = {
    ...original.r,
    amountMinor: left.pumpMinor,
    fleet: { ...original.r.fleet, pumpMinor: left.pumpMinor, invoicedMinor: left.invoicedMinor },
  };
  return { ...reversalPlan(fleetId, records, request, merchantId, env, 'reversed', reversed, false), writes: [ledgerWrite] };
}

/** An original's figures as the pump rules read them. */
function originalOf(result: FleetTxnResult): FleetOriginal {
  return { pumpMinor: result.fleet.pumpMinor, invoicedMinor: result.fleet.invoicedMinor, atMs: result.atMs };
}

function decodeLedger(stored: StoredRecord | undefined): RefundLedger {
  return stored?.data === undefined ? empty_refund_ledger : decodeRefundLedger(stored.data);
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
  // The prompts are part of the policy; the document says what kind of change, the audit record what changed.
  set_prompts: 'policy',
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
  // A repeat writes nothing; the actor answers it once what it repeats is durable.
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

// ---------------------------------------------------------------------------------------------
// Pay at the pump (pump.ts holds the rules): pre-authorization, completion, void.

/** The answer of a hold request on the account: its result and the records it changes. */
function holdResult(
  fleetId: string,
  request: FleetMoneyRequest,
  account: FleetAccountState,
  env: FleetEnv,
  id: string,
  figures: Partial<FleetFigures> & { readonly outcome: 'approved' | 'declined'; readonly amountMinor: number },
  decline?: { readonly reason: FleetTxnResult['reason']; readonly rule: string },
): FleetTxnResult {
  return {
    id,
    kind: request.kind,
    outcome: figures.outcome,
    ...(decline !== undefined ? { reason: decline.reason, rule: decline.rule } : {}),
    cardId: request.cardId,
    amountMinor: figures.amountMinor,
    currency: account.currency,
    balanceAfterMinor: availableCreditMinor(account, env.nowMs),
    atMs: env.nowMs,
    ...(figures.holdMinor !== undefined ? { holdMinor: figures.holdMinor, holdExpiresAtMs: figures.holdExpiresAtMs ?? 0 } : {}),
    fleet: {
      fleetId,
      pumpMinor: figures.pumpMinor ?? 0,
      invoicedMinor: figures.invoicedMinor ?? 0,
      discountMinor: figures.discountMinor ?? 0,
      pointsEarned: figures.pointsEarned ?? 0,
      pointsRedeemed: 0,
      flags: figures.flags ?? [],
      accountBalanceAfterMinor: account.balanceMinor,
      driverId: figures.driverId ?? '',
      vehicleId: figures.vehicleId ?? '',
      cycle: account.billing.cycle,
    },
  };
}

interface HoldFigures {
  readonly holdMinor?: number;
  readonly holdExpiresAtMs?: number;
}
type FleetFigures = FleetTxnResult['fleet'] & HoldFigures;

/**
 * A pre-authorization, completion or void of a fleet card. Completions and voids come from the
 * terminal that placed the hold (the card's holdRefusal); a pre-authorization past the account's
 * open holds bound is RESOURCE_EXHAUSTED, nothing written.
 */
export function decideFleetHold(
  fleetId: string,
  records: FleetRecords,
  request: FleetMoneyRequest,
  merchantId: string,
  env: FleetEnv,
): FleetMoneyPlan | Rejection {
  if (request.kind !== 'pre_authorization') {
    const refusal = holdRefusal(request, merchantId);
    if (refusal !== undefined) return refusal;
  }
  const purchase = {
    atMs: env.nowMs,
    amountMinor: request.amountMinor,
    currency: request.currency,
    merchantId,
    terminalId: request.terminalId,
    lines: request.fleet.lines,
    prompts: request.fleet.prompts,
    pinHash: request.pinHash,
    sharedPrices: records.sharedPrices,
  };
  if (request.kind === 'pre_authorization') return preAuthorizationPlan(fleetId, records, request, purchase, merchantId, env);
  if (request.kind === 'completion') return completionPlan(fleetId, records, request, purchase, merchantId, env);
  return voidPlan(fleetId, records, request, merchantId, env);
}

function holdPlanOf(
  request: FleetMoneyRequest,
  merchantId: string,
  fleetId: string,
  result: FleetTxnResult,
  after: { account?: FleetAccountState | undefined; card?: FleetCardState | undefined },
  invoicedLines: readonly number[],
  prompts = request.fleet.prompts,
): FleetMoneyPlan {
  return {
    kind: 'money',
    account: after.account,
    card: after.card,
    record: { f: request.fingerprint, r: result, origin: { terminalId: request.terminalId, merchantId } },
    stored: fleetTransactionDocument(request, { merchantId, programId: fleetId }, result, invoicedLines, prompts),
  };
}

function preAuthorizationPlan(
  fleetId: string,
  records: FleetRecords,
  request: FleetMoneyRequest,
  purchase: FleetPurchase,
  merchantId: string,
  env: FleetEnv,
): FleetMoneyPlan | Rejection {
  const { account, card } = records;
  const decision = decideFleetPreAuthorization(account, card, records.vehicle, purchase, request.key);
  if (decision.kind === 'full')
    return { kind: 'rejected', error: resourceExhausted('the fleet account has too many open pre-authorizations', { fleetId }) };
  const id = env.nextId();
  const prompts = request.fleet.prompts;
  // A pre-authorization invoices nothing: its lines (if any) carry 0 until the completion.
  const nothing = request.fleet.lines.map(() => 0);
  if (decision.kind === 'declined') {
    const result = holdResult(fleetId, request, account, env, id, { outcome: 'declined', amountMinor: 0 }, decision);
    return holdPlanOf(request, merchantId, fleetId, result, { card: decision.card !== card ? decision.card : undefined }, nothing);
  }
  const result = holdResult(fleetId, request, decision.account, env, id, {
    outcome: 'approved',
    amountMinor: decision.hold.amountMinor,
    holdMinor: decision.hold.amountMinor,
    holdExpiresAtMs: decision.hold.expiresAtMs,
    driverId: prompts.driver_id,
    vehicleId: prompts.vehicle_id,
  });
  const plan = holdPlanOf(request, merchantId, fleetId, result, { account: decision.account, card: decision.card }, nothing);
  return decision.vehicle !== undefined ? { ...plan, vehicle: decision.vehicle } : plan;
}

function completionPlan(
  fleetId: string,
  records: FleetRecords,
  request: FleetMoneyRequest,
  purchase: FleetPurchase,
  merchantId: string,
  env: FleetEnv,
): FleetMoneyPlan {
  const { account, card } = records;
  const decision = decideFleetCompletion(account, card, purchase, request.originalKey);
  const id = env.nextId();
  if (decision.kind === 'declined') {
    const result = holdResult(fleetId, request, account, env, id, { outcome: 'declined', amountMinor: 0 }, decision);
    return holdPlanOf(request, merchantId, fleetId, result, {}, []);
  }
  // The document names what the driver entered at the pump (the pre-authorization's prompts).
  const prompts = decision.hold.prompts;
  const result = holdResult(fleetId, request, decision.account, env, id, {
    outcome: 'approved',
    amountMinor: decision.pumpMinor,
    holdMinor: decision.hold.amountMinor,
    holdExpiresAtMs: decision.hold.expiresAtMs,
    pumpMinor: decision.pumpMinor,
    invoicedMinor: decision.invoicedMinor,
    discountMinor: decision.discountMinor,
    pointsEarned: decision.pointsEarned,
    flags: decision.flags,
    driverId: prompts.driver_id,
    vehicleId: prompts.vehicle_id,
  });
  const plan = holdPlanOf(
    request,
    merchantId,
    fleetId,
    result,
    { account: decision.account, card: decision.card },
    decision.invoicedLinesMinor,
    prompts,
  );
  if (decision.flags.length === 0) return plan;
  const review = enqueueReview(records.review ?? empty_review_queue, {
    id,
    card: request.cardId,
    amount_minor: decision.pumpMinor,
    flags: decision.flags,
    at_ms: env.nowMs,
  });
  return { ...plan, review };
}

function voidPlan(fleetId: string, records: FleetRecords, request: FleetMoneyRequest, merchantId: string, env: FleetEnv): FleetMoneyPlan {
  const { account } = records;
  const decision = decideFleetVoid(account, request.cardId, request.originalKey, env.nowMs);
  const id = env.nextId();
  if (decision.kind === 'declined') {
    const result = holdResult(fleetId, request, account, env, id, { outcome: 'declined', amountMinor: 0 }, decision);
    return holdPlanOf(request, merchantId, fleetId, result, {}, []);
  }
  const result = holdResult(fleetId, request, decision.account, env, id, {
    outcome: 'approved',
    amountMinor: decision.hold.amountMinor,
    holdMinor: decision.hold.amountMinor,
    holdExpiresAtMs: decision.hold.expiresAtMs,
  });
  return holdPlanOf(request, merchantId, fleetId, result, { account: decision.account }, []);
}

// ---------------------------------------------------------------------------------------------
// Refunds (returned goods), decided on the original's record and refund ledger.

export interface FleetRefundFacts {
  readonly original: IdempotencyRecord | undefined;
  readonly ledger: StoredRecord | undefined;
}

/**
 * A refund against a purchase or completion of the card, by a manager of the merchant it was
 * bought at (checked before the request reached the account): the account gets back the same
 * share of what it was invoiced, in the open cycle; the refund ledger (shared with the card's
 * refunds and with the reversal) keeps the total under the original.
 */
export function decideFleetRefundRequest(
  fleetId: string,
  records: Pick<FleetRecords, 'account' | 'card'>,
  request: FleetMoneyRequest,
  merchantId: string,
  facts: FleetRefundFacts,
  env: FleetEnv,
): FleetMoneyPlan | Rejection {
  const { original } = facts;
  const { account, card } = records;
  const originalKey = request.originalKey;
  if (original === undefined || original.f === tombstone_fingerprint)
    return { kind: 'rejected', error: rejected('not_found', 'original transaction not found', { originalKey }) };
  if (original.origin === undefined || original.origin.merchantId !== merchantId)
    return {
      kind: 'rejected',
      error: rejected('permission_denied', 'a refund is made by a manager of the merchant the original was bought at', { originalKey }),
    };
  if (original.r.cardId !== card.cardId)
    return { kind: 'rejected', error: rejected('invalid_argument', 'original transaction belongs to another card', { originalKey }) };
  if (!charged_kinds.has(original.r.kind) || !isFleetTxnResult(original.r))
    return { kind: 'rejected', error: rejected('invalid_argument', 'only purchases and completions can be refunded', { originalKey }) };
  const id = env.nextId();
  const ledger = decodeLedger(facts.ledger);
  const decision =
    original.r.outcome !== 'approved'
      ? ({ kind: 'declined', reason: 'original_not_refundable', rule: 'declined' } as const)
      : decideFleetRefund(account, card, originalOf(original.r), ledger, request.amountMinor, request.currency);
  // The refund names the original's driver and vehicle, so a vehicle's invoice lines net out.
  const prompts = { odometer_km: 0, driver_id: original.r.fleet.driverId ?? '', vehicle_id: original.r.fleet.vehicleId ?? '' };
  if (decision.kind === 'declined') {
    const result = holdResult(fleetId, request, account, env, id, { outcome: 'declined', amountMinor: 0 }, decision);
    return holdPlanOf(request, merchantId, fleetId, result, {}, [], prompts);
  }
  const result = holdResult(fleetId, request, decision.account, env, id, {
    outcome: 'approved',
    amountMinor: request.amountMinor,
    pumpMinor: request.amountMinor,
    invoicedMinor: decision.invoicedMinor,
    driverId: prompts.driver_id,
    vehicleId: prompts.vehicle_id,
  });
  const ledgerWrite: EntityWrite = {
    entity: refundLedgerEntity(originalKey),
    expectVersion: facts.ledger?.version ?? 0,
    data: encodeRefundLedger(decision.ledger),
  };
  return {
    ...holdPlanOf(request, merchantId, fleetId, result, { account: decision.account, card: decision.card }, [], prompts),
    writes: [ledgerWrite],
  };
}
