// A fleet card's money request and its answer. The request is a MoneyRequest (so idempotency,
// the region and the gRPC boundary treat it like any other) with the basket and the prompts; its
// fingerprint covers them, so a retry with a different basket is a different request. The answer
// is a TxnResult with the fleet figures, kept as one JSON document that is both the idempotency
// record and the outbox entry (the fields docs/OUTBOX.md lists for fleet cards).

import {
  fingerprintOf,
  type IdempotencyRecord,
  type MoneyRequest,
  type RecordContext,
  type StoredTransaction,
  type TxnResult,
} from '../card/transaction';
import type { RuleLine } from '../rules/products';
import type { PromptAnswers } from '../rules/prompts';

export interface FleetMoneyRequest extends MoneyRequest {
  readonly fleet: {
    readonly fleetId: string;
    readonly lines: readonly RuleLine[];
    readonly prompts: PromptAnswers;
  };
}

export function isFleetMoneyRequest(request: MoneyRequest): request is FleetMoneyRequest {
  return (request as Partial<FleetMoneyRequest>).fleet !== undefined;
}

export function fleetFingerprint(request: Omit<FleetMoneyRequest, 'fingerprint'>): string {
  const lines = request.fleet.lines.map((l) => `${l.code},${l.group},${l.qty_milli},${l.unit_minor},${l.amount_minor}`).join(';');
  const { odometer_km, driver_id, vehicle_id } = request.fleet.prompts;
  return `${fingerprintOf(request)}|${lines}|${odometer_km},${driver_id},${vehicle_id}`;
}

export interface FleetFigures {
  readonly fleetId: string;
  readonly pumpMinor: number;
  readonly invoicedMinor: number;
  readonly discountMinor: number;
  readonly pointsEarned: number;
  readonly pointsRedeemed: number;
  readonly flags: readonly string[];
  readonly accountBalanceAfterMinor: number;
  /** The purchase's driver and vehicle prompt answers, which its reversal repeats (docs/OUTBOX.md) so invoices net per vehicle. */
  readonly driverId?: string;
  readonly vehicleId?: string;
}

/** A TxnResult of a fleet card; `reason` may hold a rule reason (services/.../fleet-mapping.ts maps it). */
export interface FleetTxnResult extends TxnResult {
  readonly fleet: FleetFigures;
}

export function isFleetTxnResult(result: TxnResult): result is FleetTxnResult {
  return (result as Partial<FleetTxnResult>).fleet !== undefined;
}

export interface FleetStoredTransaction extends StoredTransaction {
  readonly fleet: string;
  readonly lines: readonly {
    code: string;
    group: string;
    qty_milli: number;
    unit: number;
    amount: number;
    pump_unit: number;
    invoiced: number;
  }[];
  readonly pump: number;
  readonly invoiced: number;
  readonly discount: number;
  readonly points_earned: number;
  readonly points_redeemed: number;
  readonly flags: readonly string[];
  readonly odometer: number;
  readonly driver: string;
  readonly vehicle: string;
  readonly balance_delta: number;
  readonly account_balance_after: number;
}

/**
 * The document of a fleet transaction; `invoicedLines` empty when declined (nothing invoiced).
 * Built as one literal (not a spread of the card document): this runs for every fleet
 * authorization, and one fixed-shape object is much cheaper to build and to serialize.
 */
export function fleetStoredTransaction(
  request: FleetMoneyRequest,
  context: RecordContext,
  result: FleetTxnResult,
  invoicedLines: readonly number[],
): FleetStoredTransaction {
  const approved = result.outcome === 'approved';
  const requestLines = request.fleet.lines;
  const lines = new Array<FleetStoredTransaction['lines'][number]>(requestLines.length);
  for (let index = 0; index < requestLines.length; index++) {
    const line = requestLines[index] as RuleLine;
    lines[index] = {
      code: line.code,
      group: line.group,
      qty_milli: line.qty_milli,
      unit: line.unit_minor,
      amount: line.amount_minor,
      pump_unit: line.unit_minor,
      invoiced: approved ? (invoicedLines[index] ?? line.amount_minor) : 0,
    };
  }
  const { prompts } = request.fleet;
  return {
    type: 'transaction',
    f: request.fingerprint,
    id: result.id,
    kind: result.kind,
    outcome: result.outcome,
    reason: result.reason ?? '',
    rule: result.rule ?? '',
    card: result.cardId,
    program: context.programId,
    terminal: request.terminalId,
    merchant: context.merchantId,
    amount: result.amountMinor,
    requested: request.amountMinor,
    currency: result.currency,
    balance_after: result.balanceAfterMinor,
    key: request.key,
    original: request.originalKey,
    reverse: result.reverse ?? '',
    source: request.source,
    operator: request.operatorId,
    at: result.atMs,
    fleet: result.fleet.fleetId,
    lines,
    pump: result.fleet.pumpMinor,
    invoiced: result.fleet.invoicedMinor,
    discount: result.fleet.discountMinor,
    points_earned: result.fleet.pointsEarned,
    points_redeemed: result.fleet.pointsRedeemed,
    flags: result.fleet.flags,
    odometer: prompts.odometer_km,
    driver: prompts.driver_id,
    vehicle: prompts.vehicle_id,
    // A fleet card holds no balance of its own: the purchase accrues to the account.
    balance_delta: 0,
    account_balance_after: result.fleet.accountBalanceAfterMinor,
  };
}

/** Reads a stored fleet transaction back as the record a retry is answered from. */
export function decodeFleetRecord(value: string): IdempotencyRecord {
  const stored = JSON.parse(value) as Partial<FleetStoredTransaction> & StoredTransaction;
  if (typeof stored.f !== 'string' || typeof stored.id !== 'string' || typeof stored.amount !== 'number') {
    throw new Error('assertion: malformed idempotency record');
  }
  const result: TxnResult = {
    id: stored.id,
    kind: stored.kind,
    outcome: stored.outcome,
    ...(stored.reason !== '' ? { reason: stored.reason, rule: stored.rule } : {}),
    cardId: stored.card,
    amountMinor: stored.amount,
    currency: stored.currency,
    balanceAfterMinor: stored.balance_after,
    atMs: stored.at,
  };
  if (stored.fleet === undefined || stored.fleet === '') return { f: stored.f, r: result };
  const fleet: FleetFigures = {
    fleetId: stored.fleet,
    pumpMinor: stored.pump ?? 0,
    invoicedMinor: stored.invoiced ?? 0,
    discountMinor: stored.discount ?? 0,
    pointsEarned: stored.points_earned ?? 0,
    pointsRedeemed: stored.points_redeemed ?? 0,
    flags: stored.flags ?? [],
    accountBalanceAfterMinor: stored.account_balance_after ?? 0,
    driverId: stored.driver ?? '',
    vehicleId: stored.vehicle ?? '',
  };
  return { f: stored.f, r: { ...result, fleet } as FleetTxnResult };
}
