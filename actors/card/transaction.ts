// What a money request is, what its answer is, and how the answer is kept as its idempotency
// record. The record is the single source of "what did we answer for this key".

import type { DeclineReason } from './rules';

export type MoneyKind = 'purchase' | 'top_up' | 'reverse';
export type ReverseOutcome = 'reversed' | 'already_reversed' | 'nothing_to_reverse';

export interface MoneyRequest {
  readonly kind: MoneyKind;
  /** Request-level idempotency key ("t:<terminal>:<n>" or "k:<client key>"). */
  readonly key: string;
  /** The request's fields that must match for a retry to be the same request. */
  readonly fingerprint: string;
  readonly cardId: string;
  readonly terminalId: string;
  readonly merchantId: string;
  readonly amountMinor: number;
  readonly currency: string;
  readonly source: string;
  readonly operatorId: string;
  /** For reversals: the idempotency key of the authorization to undo. */
  readonly originalKey: string;
}

export interface TxnResult {
  readonly id: string;
  readonly kind: MoneyKind;
  readonly outcome: 'approved' | 'declined';
  readonly reason?: DeclineReason;
  readonly rule?: string;
  readonly cardId: string;
  readonly amountMinor: number;
  readonly currency: string;
  readonly balanceAfterMinor: number;
  readonly atMs: number;
  readonly reverse?: ReverseOutcome;
}

export interface TxnAnswer {
  readonly result: TxnResult;
  /** True when this is the stored answer to an earlier request with the same key. */
  readonly replayed: boolean;
}

/** The stored idempotency record: fingerprint of the request and the answer given. */
export interface IdempotencyRecord {
  readonly f: string;
  readonly r: TxnResult;
}

/**
 * Fingerprint of a tombstone: a reversal that arrived before its original. Any request with the
 * tombstoned key gets the tombstone's decline, whatever its fields.
 */
export const tombstone_fingerprint = '*';

export function fingerprintOf(request: Omit<MoneyRequest, 'fingerprint'>): string {
  return [request.kind, request.cardId, request.amountMinor, request.currency, request.terminalId, request.source, request.originalKey].join('|');
}

export function encodeRecord(record: IdempotencyRecord): string {
  return JSON.stringify(record);
}

export function decodeRecord(value: string): IdempotencyRecord {
  const parsed = JSON.parse(value) as IdempotencyRecord;
  if (typeof parsed.f !== 'string' || typeof parsed.r !== 'object' || parsed.r === null) {
    throw new Error('assertion: malformed idempotency record');
  }
  return parsed;
}

/** The answer a request with `fingerprint` gets from a stored record, or undefined if it is a different request. */
export function answerFromRecord(record: IdempotencyRecord, fingerprint: string): TxnAnswer | undefined {
  if (record.f === tombstone_fingerprint || record.f === fingerprint) return { result: record.r, replayed: true };
  return undefined;
}
