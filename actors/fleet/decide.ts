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
  reverseFleetPurchase,
  type FleetAccountState,
  type FleetAdminCommand,
  type FleetCardCommand,
  type FleetCardState,
  type VehicleState,
} from './rules';
import { isFleetTxnResult, type FleetMoneyRequest, type FleetTxnResult } from './transaction';
import {
  fleetAccountChanged,
  fleetCardIssued,
  fleetCardLimitsSet,
  fleetCardStatusChanged,
  fleetReviewResolved,
  fleetTransactionDocument,
  transactionDocument,
} from '../outbox/builders';
import { tombstone_fingerprint, type IdempotencyRecord, type MoneyRequest, type ReverseOutcome, type TxnResult } from '../card/transaction';
import type { Claim } from '../runtime/persistence';
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
    balanceAfterMinor: accountAfter.creditLimitMinor + accountAfter.balanceMinor,
    atMs: env.nowMs,
    fleet: {
      fleetId,
      pumpMinor: approved ? decision.pumpMinor : 0,
      invoicedMinor: approved ? decision.invoicedMinor : 0,
      discountMinor: approved ? decision.discountMinor : 0,
      pointsEarned: approved ? decision.pointsEarned : 0,
      pointsRedeemed: 0,
      flags: approved ? decision.flags : [],
      accountBalanceAfterMinor: accountAfter.balanceMinor,
      driverId: prompts.driver_id,
      vehicleId: prompts.vehicle_id,
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
    balanceAfterMinor: accountAfter.creditLimitMinor + accountAfter.balanceMinor,
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
    balanceAfterMinor: account.creditLimitMinor + account.balanceMinor,
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
  const event =
    command.type === 'create' ? 'created' : command.type === 'set_limits' ? 'limits' : command.type === 'set_policy' ? 'policy' : 'pricing';
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
        : fleetCardLimitsSet({ card: cardId, limits: after.limits, groups: after.allowedGroups, operator, at });
  return { kind: 'changed', after, document };
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
