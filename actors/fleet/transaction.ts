// A fleet card's money request and its answer. The request is a MoneyRequest (so idempotency,
// the region and the gRPC boundary treat it like any other) with the basket and the prompts; its
// fingerprint covers them, so a retry with a different basket is a different request. The answer
// is a TxnResult with the fleet figures, kept as one JSON document that is both the idempotency
// record and the outbox entry (the fields docs/OUTBOX.md lists for fleet cards).

import { decodeStoredTransaction, fingerprintOf, type IdempotencyRecord, type MoneyRequest, type TxnResult } from '../card/transaction';
import type { DeclineReason } from '../card/rules';
import { decodeIdempotencyRecord, isCompactIdempotencyRecord } from '../state/idempotency';
import type { FleetTransactionDocument } from '../outbox/contract';
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
  /** The billing cycle the transaction accrued to (billing.ts); absent in records written before cycles. */
  readonly cycle?: number;
}

/** A TxnResult of a fleet card; `reason` may hold a rule reason (services/.../fleet-mapping.ts maps it). */
export interface FleetTxnResult extends TxnResult {
  readonly fleet: FleetFigures;
}

export function isFleetTxnResult(result: TxnResult): result is FleetTxnResult {
  return (result as Partial<FleetTxnResult>).fleet !== undefined;
}

/** A fleet transaction's document (actors/outbox/contract.ts). */
export type FleetStoredTransaction = FleetTransactionDocument;

/** Reads a stored fleet transaction back as the record a retry is answered from. */
export function decodeFleetRecord(value: string): IdempotencyRecord {
  // The compact layout keeps the fleet figures as the answer had them (actors/state/idempotency.ts).
  if (isCompactIdempotencyRecord(value)) return decodeIdempotencyRecord(value);
  const stored = decodeStoredTransaction(value);
  const result: TxnResult = {
    id: stored.id,
    kind: stored.kind,
    outcome: stored.outcome,
    // A fleet rule's reason travels in the same field as a card's (services/.../fleet-mapping.ts maps both).
    ...(stored.reason !== '' ? { reason: stored.reason as DeclineReason, rule: stored.rule } : {}),
    cardId: stored.card,
    amountMinor: stored.amount,
    currency: stored.currency,
    balanceAfterMinor: stored.balance_after,
    atMs: stored.at,
    // Pay-at-pump documents: the hold placed, completed or released.
    ...(stored.hold_amount !== undefined ? { holdMinor: stored.hold_amount, holdExpiresAtMs: stored.hold_expires_at ?? 0 } : {}),
  };
  const origin = { terminalId: stored.terminal, merchantId: stored.merchant };
  if (stored.fleet === undefined || stored.fleet === '') return { f: stored.f, r: result, origin };
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
    ...(stored.cycle !== undefined ? { cycle: stored.cycle } : {}),
  };
  return { f: stored.f, r: { ...result, fleet } as FleetTxnResult, origin };
}
