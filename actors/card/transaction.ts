// What a money request is, what its answer is, and how the answer is kept as its idempotency
// record. The record is the single source of "what did we answer for this key".

import type { Acting } from '../principal';
import type { TransactionContext } from '../outbox/builders';
import type {
  HoldKind as ContractHoldKind,
  LineItem,
  ReverseOutcome as ContractReverseOutcome,
  TransactionDocument,
  TransactionExtras,
  TransactionKind,
} from '../outbox/contract';
import { readTransactionDocument } from '../outbox/schemas';
import { StoredStateError } from '../state/codec';
import { decodeIdempotencyRecord, isCompactIdempotencyRecord } from '../state/idempotency';
import type { AutoReload, DeclineReason } from './rules';
import type { Requester, TransactionOrigin } from '../origin';
import type { CardCryptogram } from './card-auth';
import type { CashierCredential } from '../terminal/rules';

/** The kinds of money request: the contract's transaction kinds (actors/outbox/contract.ts). */
export type MoneyKind = TransactionKind;
/** Kinds that place, change or release a hold (docs/OUTBOX.md). */
export type HoldKind = ContractHoldKind;
export type ReverseOutcome = ContractReverseOutcome;

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
  /** An operator's money movement (cash-out, tab settlement, manual credit): who acted, for its audit record. */
  readonly acting?: Acting;
  /**
   * The card's cryptogram for this payment (a card that authenticates, card-auth.ts). Not part of
   * the fingerprint: a terminal's retry of the same request is answered from its record, and any
   * other request presenting the same cryptogram is a replay.
   */
  readonly cardCryptogram?: CardCryptogram;
  /**
   * The key must never be applied twice, however late it comes again (a PSP callback): its commit
   * also writes a spent record beside the card that never expires, and once the idempotency
   * record is gone a request finding that spent record is refused (ALREADY_EXISTS).
   */
  readonly recordSpent?: true;
  /**
   * The cashier selling at the terminal and the keyed hash of the code they entered: the terminal
   * checks it before the card decides; the document records the id. Part of the fingerprint.
   */
  readonly cashier?: CashierCredential;
  /**
   * Who sent the request, when the boundary knows more than its terminal id (an authenticated
   * terminal or gateway; actors/origin.ts). Absent: the request's terminal. Not part of the
   * fingerprint: the same request from the same place, however it was authenticated.
   */
  readonly requester?: Requester;
  /** An offline sale or void, as its terminal's batch judged it (actors/offline/batch.ts). */
  readonly offline?: OfflineRequestFields;
  /**
   * A PSP top-up of a paid first payment: the auto-reload the PSP reports with it (the holder's
   * choice and the mandate the PSP created), stored on the card by the top-up's own commit when the
   * top-up is approved. Not part of the fingerprint: the PSP reference alone names the payment,
   * and a replay is answered from the top-up's record and stores nothing again.
   */
  readonly autoReload?: AutoReload;
}

/** What an offline entry brings to its card besides a money request's fields. */
export interface OfflineRequestFields {
  /** Tapline's time of the sale (its grant's issue time plus the terminal's offset). */
  readonly capturedAtMs: number;
  /** The program the card medium named. */
  readonly programId: string;
  /** '' while the issuer's; else why the merchant carries it (judged at the terminal). */
  readonly merchantReason: string;
  /** The denylist version of the card's shard the terminal held. */
  readonly held: number;
}

/** What stays of a request whose key is spent (recordSpent) after its idempotency record expired. */
export interface SpentKey {
  /** The transaction that answered it, its outcome, and when. */
  readonly transaction: string;
  readonly outcome: 'approved' | 'declined';
  readonly at: number;
}

/** One line of a purchase's basket, as the document keeps it (docs/OUTBOX.md `lines`). */
export type ReceiptLine = LineItem;

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
  /** Where the request was made (its document's terminal and merchant): who may act on it later. */
  readonly origin?: TransactionOrigin;
  /** A purchase's basket, as its receipt prints it again (absent without one). */
  readonly lines?: readonly ReceiptLine[];
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
  const withPoints = request.redeemPoints === undefined ? withLines : `${withLines}|r${request.redeemPoints}`;
  // The cashier is part of the request (a retry by another cashier is another request).
  return request.cashier === undefined ? withPoints : `${withPoints}|c${request.cashier.cashierId}`;
}

/**
 * The JSON document of a transaction: the outbox entry streamed to reporting (its contract is
 * actors/outbox/contract.ts). It carries the request's fingerprint `f`, and it was the idempotency
 * record too before money decisions kept the compact layout of actors/state/idempotency.ts: such
 * records, tombstones and system actions' records are documents, read back by decodeRecord.
 */
export type StoredTransaction = TransactionDocument;

/** Optional fields a document of a kind past v1 carries (docs/OUTBOX.md). */
export type DocumentExtras = TransactionExtras;

/** The optional fields of a document about a hold (see StoredTransaction). */
export interface HoldFields {
  readonly balance_delta: number;
  readonly held_delta: number;
  readonly hold: string;
  readonly hold_amount: number;
  readonly hold_expires_at: number;
  readonly ledger_after: number;
}

export type RecordContext = TransactionContext;

/**
 * A stored transaction document (an idempotency record) as written, checked against the contract.
 * A record that does not decode is a StoredStateError: the request fails, nothing is answered
 * from a guess.
 */
export function decodeStoredTransaction(value: string): StoredTransaction {
  const read = readTransactionDocument(value);
  if (!read.ok) throw new StoredStateError('idempotency record', read.problem);
  return read.document;
}

/**
 * A stored idempotency record read back as the answer it records: the compact layout money
 * decisions write (actors/state/idempotency.ts), or a full transaction document (records written
 * before it, tombstones and system actions).
 */
export function decodeRecord(value: string): IdempotencyRecord {
  if (isCompactIdempotencyRecord(value)) return decodeIdempotencyRecord(value);
  const stored = decodeStoredTransaction(value);
  const result: TxnResult = {
    id: stored.id,
    kind: stored.kind,
    outcome: stored.outcome,
    // A plain card's document holds a DeclineReason (fleet documents are read by decodeFleetRecord).
    ...(stored.reason !== '' ? { reason: stored.reason as DeclineReason, rule: stored.rule } : {}),
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
  const origin = { terminalId: stored.terminal, merchantId: stored.merchant };
  return stored.lines !== undefined ? { f: stored.f, r: result, origin, lines: stored.lines } : { f: stored.f, r: result, origin };
}

/** The answer a request with `fingerprint` gets from a stored record, or undefined if it is a different request. */
export function answerFromRecord(record: IdempotencyRecord, fingerprint: string): TxnAnswer | undefined {
  if (record.f === tombstone_fingerprint || record.f === fingerprint) return { result: record.r, replayed: true };
  return undefined;
}

/** The program figures of a stored plain-card purchase (fleet documents carry their own). */
function programFiguresOf(stored: StoredTransaction): { program?: ProgramFigures } {
  if (stored.points_earned === undefined || stored.fleet !== undefined) return {};
  return {
    program: {
      discountMinor: stored.discount ?? 0,
      pointsEarned: stored.points_earned,
      pointsRedeemed: stored.points_redeemed ?? 0,
      flags: stored.flags ?? [],
    },
  };
}
