// What a money request is, what its answer is, and how the answer is kept as its idempotency
// record. The record is the single source of "what did we answer for this key".

import type { DeclineReason } from './rules';

export type MoneyKind =
  'purchase' | 'top_up' | 'reverse' | 'refund' | 'cash_out' | 'transfer_out' | 'transfer_in' | 'tab_settlement' | HoldKind;
/** Kinds that place, change or release a hold (documented in docs/OUTBOX.md). */
export type HoldKind = 'pre_authorization' | 'incremental' | 'completion' | 'void' | 'hold_expiry';
export type ReverseOutcome = 'reversed' | 'already_reversed' | 'nothing_to_reverse';

export interface MoneyRequest {
  readonly kind: MoneyKind;
  /** Request-level idempotency key ("t:<terminal>:<n>" or "k:<client key>"). */
  readonly key: string;
  /** The request's fields that must match for a retry to be the same request. */
  readonly fingerprint: string;
  readonly cardId: string;
  readonly terminalId: string;
  readonly amountMinor: number;
  readonly currency: string;
  readonly source: string;
  readonly operatorId: string;
  /** For reversals: the idempotency key of the authorization to undo. */
  readonly originalKey: string;
  /** Keyed hash of the PIN entered (never the PIN); absent when none was entered. */
  readonly pinHash?: string;
  /** The basket of a purchase, kept in its document (receipt reprint, reports). */
  readonly lines?: readonly ReceiptLine[];
  /** Loyalty points to redeem as payment (purchases of cards whose program has rules). */
  readonly redeemPoints?: number;
}

/** One line of a purchase's basket, as the document keeps it (docs/OUTBOX.md `lines`). */
export interface ReceiptLine {
  readonly code: string;
  readonly group: string;
  readonly qty_milli: number;
  readonly unit: number;
  readonly amount: number;
  /** Fleet lines only (docs/OUTBOX.md): unit price at the pump and the invoiced line amount. */
  readonly pump_unit?: number;
  readonly invoiced?: number;
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
  /** Hold kinds: the hold open after a pre-authorization / incremental, released by completion / void. */
  readonly holdMinor?: number;
  readonly holdExpiresAtMs?: number;
  /** Hold kinds: the ledger balance after (balanceAfterMinor is the available balance). */
  readonly ledgerAfterMinor?: number;
  /** Cards issued through CardService: what the card has spent so far (receipts). */
  readonly spentMinor?: number;
  /** What the program's rules did to an approved purchase (absent without rules). */
  readonly program?: ProgramFigures;
}

/** Loyalty and risk figures of a plain card's purchase under its program's rules. */
export interface ProgramFigures {
  readonly discountMinor: number;
  readonly pointsEarned: number;
  readonly pointsRedeemed: number;
  /** Soft rules that flagged the approval for review ("risk:soft_amount"). */
  readonly flags: readonly string[];
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
  const base = `${request.kind}|${request.cardId}|${request.amountMinor}|${request.currency}|${request.terminalId}|${request.source}|${request.originalKey}`;
  // The basket is part of the request (a retry with another basket is another request).
  const withLines = request.lines === undefined ? base : `${base}|${JSON.stringify(request.lines)}`;
  // Points to redeem are part of the request (a retry redeeming other points is another request).
  return request.redeemPoints === undefined ? withLines : `${withLines}|r${request.redeemPoints}`;
}

/**
 * The one JSON document kept per transaction: it is the idempotency record (with the request's
 * fingerprint `f`) and, unchanged, the outbox entry streamed to reporting. Writing it once keeps
 * the commit small.
 */
export interface StoredTransaction {
  readonly type: 'transaction';
  readonly f: string;
  readonly id: string;
  readonly kind: MoneyKind;
  readonly outcome: 'approved' | 'declined';
  readonly reason: DeclineReason | '';
  readonly rule: string;
  readonly card: string;
  readonly program: string;
  readonly terminal: string;
  readonly merchant: string;
  /** Amount that moved (0 when declined or nothing was reversed). */
  readonly amount: number;
  /** Amount the request asked for. */
  readonly requested: number;
  readonly currency: string;
  readonly balance_after: number;
  readonly key: string;
  readonly original: string;
  readonly reverse: ReverseOutcome | '';
  readonly source: string;
  readonly operator: string;
  readonly at: number;
  // Optional fields (docs/OUTBOX.md), written only by the kinds that need them so the purchase
  // document stays as small as before.
  readonly balance_delta?: number;
  readonly held_delta?: number;
  readonly hold?: string;
  readonly hold_amount?: number;
  readonly hold_expires_at?: number;
  readonly ledger_after?: number;
  readonly deposit_delta?: number;
  readonly payout?: number;
  readonly lines?: readonly ReceiptLine[];
  /** On-tab settlements: the account balance after. */
  readonly account_balance_after?: number;
  /** What the card has spent so far after this document (cards issued through CardService). */
  readonly spent_after?: number;
  /** Purchases under program rules (docs/OUTBOX.md). */
  readonly discount?: number;
  readonly points_earned?: number;
  readonly points_redeemed?: number;
  readonly flags?: readonly string[];
}

/** Optional fields a document of an issue-4 kind carries (docs/OUTBOX.md). */
export type DocumentExtras = Partial<HoldFields> & {
  readonly deposit_delta?: number;
  readonly payout?: number;
  readonly account_balance_after?: number;
  /** Purchases under program rules. */
  readonly discount?: number;
  readonly points_earned?: number;
  readonly points_redeemed?: number;
  readonly flags?: readonly string[];
};

/** The optional fields of a document about a hold (see StoredTransaction). */
export interface HoldFields {
  readonly balance_delta: number;
  readonly held_delta: number;
  readonly hold: string;
  readonly hold_amount: number;
  readonly hold_expires_at: number;
  readonly ledger_after: number;
}

export interface RecordContext {
  readonly merchantId: string;
  readonly programId: string;
}

export function storedTransaction(
  request: MoneyRequest,
  context: RecordContext,
  result: TxnResult,
  fingerprint = request.fingerprint,
  hold?: DocumentExtras,
): StoredTransaction {
  const stored: StoredTransaction = {
    type: 'transaction',
    f: fingerprint,
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
  };
  // Optional fields only where present, so a plain purchase document is unchanged.
  if (hold === undefined && request.lines === undefined && result.spentMinor === undefined) return stored;
  return {
    ...stored,
    ...hold,
    ...(request.lines === undefined ? {} : { lines: request.lines }),
    ...(result.spentMinor === undefined ? {} : { spent_after: result.spentMinor }),
  };
}

export function encodeRecord(record: StoredTransaction): string {
  return JSON.stringify(record);
}

export function decodeRecord(value: string): IdempotencyRecord {
  const stored = JSON.parse(value) as StoredTransaction;
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
    ...(stored.reverse !== '' ? { reverse: stored.reverse } : {}),
    ...(stored.hold_amount !== undefined
      ? { holdMinor: stored.hold_amount, holdExpiresAtMs: stored.hold_expires_at ?? 0, ledgerAfterMinor: stored.ledger_after ?? 0 }
      : {}),
    ...(stored.spent_after !== undefined ? { spentMinor: stored.spent_after } : {}),
    ...(stored.account_balance_after !== undefined ? { ledgerAfterMinor: stored.account_balance_after } : {}),
    ...programFiguresOf(stored),
  };
  return { f: stored.f, r: result };
}

/** The answer a request with `fingerprint` gets from a stored record, or undefined if it is a different request. */
export function answerFromRecord(record: IdempotencyRecord, fingerprint: string): TxnAnswer | undefined {
  if (record.f === tombstone_fingerprint || record.f === fingerprint) return { result: record.r, replayed: true };
  return undefined;
}

/** The program figures of a stored plain-card purchase (fleet documents carry their own). */
function programFiguresOf(stored: StoredTransaction): { program?: ProgramFigures } {
  if (stored.points_earned === undefined || (stored as { fleet?: string }).fleet !== undefined) return {};
  return {
    program: {
      discountMinor: stored.discount ?? 0,
      pointsEarned: stored.points_earned,
      pointsRedeemed: stored.points_redeemed ?? 0,
      flags: stored.flags ?? [],
    },
  };
}
