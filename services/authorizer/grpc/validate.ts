// Turns wire requests into domain requests, or a precise INVALID_ARGUMENT / UNIMPLEMENTED.
// Nothing reaches an actor before it passes here, so bad input never changes state.

import { invalidArgument, permissionDenied, unimplemented } from '../../../actors/errors';
import { amount_abs_max_minor, isKnownCurrency, minorFromWire, request_amount_max_minor } from '../../../actors/money';
import { fingerprintOf, type MoneyRequest } from '../../../actors/card/transaction';
import { clientKey, isClientKeyAllowed, storedKeyNamed, system_key_namespaces, terminalTxnKey } from '../../../actors/request-keys';
import { parseLines } from './lines';
import {
  AuthorizationKind,
  type BankCard,
  type CardCryptogram,
  type LineItem,
  type Money,
  type RequestRef,
} from '../../../gen/tapline/v1/types';
import type { BankCardId } from '../usecases/card-tokens';
import { card_counter_max } from '../../../actors/card/card-auth';
import {
  TopUpSource,
  type AuthorizeRequest,
  type RefundRequest,
  type ReverseRequest,
  type TopUpRequest,
  type VoidRequest,
} from '../../../gen/tapline/v1/authorization';

/** Card, terminal, merchant, program and operator ids: 1-64 of [A-Za-z0-9._-]. */
const id_pattern = /^[A-Za-z0-9._-]{1,64}$/;
/** Client-chosen idempotency keys (PSP references): 1-128 of [A-Za-z0-9._:-]. */
const client_key_pattern = /^[A-Za-z0-9._:-]{1,128}$/;
const correlation_id_bytes_max = 128;
const line_items_max = 200;
/** Terminal transaction numbers are positive and fit a signed 63-bit counter. */
const txn_number_max = (1n << 63n) - 1n;

export function requireId(field: string, value: string): string {
  if (!id_pattern.test(value)) throw invalidArgument(`${field} must be 1-64 characters of A-Z a-z 0-9 . _ -`, { field });
  return value;
}

export function optionalId(field: string, value: string, fallback: string): string {
  return value === '' ? fallback : requireId(field, value);
}

export function requireTxnNumber(field: string, value: bigint): bigint {
  if (value <= 0n || value > txn_number_max) throw invalidArgument(`${field} must be between 1 and 2^63-1`, { field });
  return value;
}

export function requireCurrency(field: string, code: string): string {
  if (!isKnownCurrency(code)) throw invalidArgument(`${field} is not a supported ISO 4217 currency`, { field, currency: code.slice(0, 8) });
  return code;
}

/** A movement amount: strictly positive, at most request_amount_max_minor. */
export function requireAmount(field: string, money: Money | undefined): { amountMinor: number; currency: string } {
  if (money === undefined) throw invalidArgument(`${field} is required`, { field });
  const currency = requireCurrency(`${field}.currency`, money.currency);
  const amountMinor = minorFromWire(money.amountMinor);
  if (amountMinor === undefined || amountMinor <= 0 || amountMinor > request_amount_max_minor) {
    throw invalidArgument(`${field}.amount_minor must be between 1 and ${request_amount_max_minor}`, { field });
  }
  return { amountMinor, currency };
}

/** A balance to set (initial balance): zero or positive. */
export function requireBalance(field: string, money: Money | undefined): { amountMinor: number; currency: string } {
  if (money === undefined) throw invalidArgument(`${field} is required`, { field });
  const currency = requireCurrency(`${field}.currency`, money.currency);
  const amountMinor = minorFromWire(money.amountMinor);
  if (amountMinor === undefined || amountMinor < 0 || amountMinor > request_amount_max_minor) {
    throw invalidArgument(`${field}.amount_minor must be between 0 and ${request_amount_max_minor}`, { field });
  }
  return { amountMinor, currency };
}

export function requireCorrelationId(value: string): string {
  if (value === '' || Buffer.byteLength(value) > correlation_id_bytes_max) {
    throw invalidArgument(`correlation_id must be 1-${correlation_id_bytes_max} bytes`);
  }
  return value;
}

function checkLineItems(items: LineItem[], amountMinor: number): void {
  if (items.length === 0) return;
  if (items.length > line_items_max) throw invalidArgument(`at most ${line_items_max} line items`);
  let total = 0;
  for (const item of items) {
    const line = minorFromWire(item.amountMinor);
    if (line === undefined || line < 0) throw invalidArgument('line item amount_minor must be >= 0');
    if (item.productCode === '' || item.productCode.length > 64) throw invalidArgument('line item product_code must be 1-64 characters');
    total += line;
  }
  if (total !== amountMinor) throw invalidArgument('line item amounts must add up to the amount');
}

/** A client-chosen key's text (a use case puts it in its namespace). */
export function requireClientKeyText(field: string, value: string): string {
  if (!client_key_pattern.test(value)) throw invalidArgument(`${field} must be 1-128 characters of A-Z a-z 0-9 . _ : -`, { field });
  if (!isClientKeyAllowed(value))
    throw invalidArgument(`${field} may not start with a system namespace (${system_key_namespaces.join(', ')}) and ":"`, { field });
  return value;
}

/** A client-chosen idempotency key, as the request-level key "k:<key>". */
export function requireClientKey(field: string, value: string): string {
  return clientKey(requireClientKeyText(field, value));
}

/**
 * The key of an earlier request a request refers to (the original of a reversal, void, refund,
 * completion): a terminal's, or a client's. A system key (a PSP top-up, a tab settlement...) is
 * never the original of a money request: refused, so no request can act on or tombstone one.
 */
export function refKey(field: string, ref: RequestRef | undefined): string {
  const inner = ref?.ref;
  if (inner === undefined) throw invalidArgument(`${field} is required`, { field });
  if (inner.$case === 'terminalTxn') {
    return terminalTxnKey(
      requireId(`${field}.terminal_txn.terminal_id`, inner.value.terminalId),
      requireTxnNumber(`${field}.terminal_txn.txn_number`, inner.value.txnNumber),
    );
  }
  return clientKey(requireClientKeyText(`${field}.idempotency_key`, inner.value));
}

/** The key of any stored transaction to read (a receipt reprint), system keys included. */
export function readableRefKey(field: string, ref: RequestRef | undefined): string {
  const inner = ref?.ref;
  if (inner?.$case !== 'idempotencyKey' || isClientKeyAllowed(inner.value)) return refKey(field, ref);
  if (!client_key_pattern.test(inner.value))
    throw invalidArgument(`${field}.idempotency_key must be 1-128 characters of A-Z a-z 0-9 . _ : -`);
  return storedKeyNamed(inner.value);
}

function finish(request: Omit<MoneyRequest, 'fingerprint'>): MoneyRequest {
  const complete = request as { -readonly [K in keyof MoneyRequest]: MoneyRequest[K] };
  complete.fingerprint = fingerprintOf(request);
  return complete;
}

/** Authorization kinds served, by wire value (including the hold kinds). */
const authorization_kinds: ReadonlyMap<AuthorizationKind, MoneyRequest['kind']> = new Map([
  [AuthorizationKind.AUTHORIZATION_KIND_UNSPECIFIED, 'purchase'],
  [AuthorizationKind.AUTHORIZATION_KIND_PURCHASE, 'purchase'],
  [AuthorizationKind.AUTHORIZATION_KIND_PRE_AUTHORIZATION, 'pre_authorization'],
  [AuthorizationKind.AUTHORIZATION_KIND_INCREMENTAL, 'incremental'],
  [AuthorizationKind.AUTHORIZATION_KIND_COMPLETION, 'completion'],
]);

export function parseAuthorize(wire: AuthorizeRequest): MoneyRequest {
  const terminalId = requireId('terminal_id', wire.terminalId);
  const txn = requireTxnNumber('terminal_txn_number', wire.terminalTxnNumber);
  const cardId = requireId('card_id', wire.cardId);
  const { amountMinor, currency } = requireAmount('amount', wire.amount);
  const kind = authorization_kinds.get(wire.kind);
  if (kind === undefined) {
    // UNRECOGNIZED (-1) is ts-proto's marker for "not in the enum", and it is also a key of the
    // enum object, so it must be refused explicitly (a client can send -1 on the wire).
    if (wire.kind === AuthorizationKind.UNRECOGNIZED || !(wire.kind in AuthorizationKind))
      throw invalidArgument('unknown authorization kind');
    throw unimplemented('refunds are served by the Refund call (it needs a manager credential), not by Authorize');
  }
  if (wire.offline !== undefined)
    throw unimplemented('offline sales are uploaded through OfflineService.UploadOfflineBatch, not Authorize');
  // A bank card is resolved to its card before this point (grpc/bank-card.ts); both at once is a mistake.
  if (wire.bankCard !== undefined) throw invalidArgument('bank_card replaces card_id: send one of them', { field: 'bank_card' });
  const key = terminalTxnKey(terminalId, txn);
  let originalKey = '';
  if (kind === 'incremental' || kind === 'completion') {
    originalKey = refKey('original', wire.original);
    if (originalKey === key) throw invalidArgument('original must be another request than this one');
  } else if (wire.original !== undefined) {
    throw invalidArgument('original is only valid for COMPLETION and INCREMENTAL');
  }
  checkLineItems(wire.lineItems, amountMinor);
  const request: { -readonly [K in keyof Omit<MoneyRequest, 'fingerprint'>]: MoneyRequest[K] } = {
    kind,
    key,
    cardId,
    terminalId,
    amountMinor,
    currency,
    source: '',
    operatorId: '',
    originalKey,
  };
  // The basket, only when there is one (a plain purchase allocates nothing more).
  if (wire.lineItems.length > 0) request.lines = parseLines(wire.lineItems);
  // Loyalty points redeemed as payment (purchases only; 0 = none).
  if (wire.redeemPoints !== undefined && wire.redeemPoints !== 0n) request.redeemPoints = parseRedeemPoints(kind, wire.redeemPoints);
  if (wire.cardCryptogram !== undefined) request.cardCryptogram = parseCardCryptogram(kind, wire.cardCryptogram);
  return finish(request);
}

/** True when `digits` passes the Luhn check of card numbers. */
function luhnValid(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let digit = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) digit = digit * 2 > 9 ? digit * 2 - 9 : digit * 2;
    sum += digit;
  }
  return sum % 10 === 0;
}

/**
 * A visitor's bank card: a PAN of 12-19 digits passing the Luhn check, or a PAR of 29 of A-Z 0-9.
 * A refusal never repeats the value (a PAN must not reach a log or a client's error message).
 */
export function parseBankCard(field: string, wire: BankCard | undefined): BankCardId {
  const id = wire?.id;
  if (id === undefined) throw invalidArgument(`${field} is required`, { field });
  if (id.$case === 'par') {
    if (!/^[A-Z0-9]{29}$/.test(id.value)) throw invalidArgument(`${field}.par must be 29 of A-Z 0-9`, { field: `${field}.par` });
    return { par: id.value };
  }
  if (!/^[0-9]{12,19}$/.test(id.value) || !luhnValid(id.value))
    throw invalidArgument(`${field}.pan is not a card number (12-19 digits, Luhn)`, { field: `${field}.pan` });
  return { pan: id.value };
}

/** A card's MAC is 8 bytes (AES-CMAC truncated, docs/CARDS.md). */
const card_mac_bytes = 8;

/** The cryptogram of a payment of a card that authenticates: purchases and pre-authorizations only. */
function parseCardCryptogram(kind: MoneyRequest['kind'], wire: CardCryptogram): { counter: number; mac: string } {
  if (kind !== 'purchase' && kind !== 'pre_authorization')
    throw invalidArgument('card_cryptogram is only valid for PURCHASE and PRE_AUTHORIZATION', { field: 'card_cryptogram' });
  if (wire.mac.length !== card_mac_bytes)
    throw invalidArgument(`card_cryptogram.mac must be ${card_mac_bytes} bytes`, { field: 'card_cryptogram.mac' });
  if (!Number.isInteger(wire.counter) || wire.counter < 0 || wire.counter > card_counter_max)
    throw invalidArgument('card_cryptogram.counter must be a 32-bit unsigned integer', { field: 'card_cryptogram.counter' });
  return { counter: wire.counter, mac: Buffer.from(wire.mac).toString('hex') };
}

/** Points to redeem; at most 10^15 (a points balance is bounded like money). */
function parseRedeemPoints(kind: MoneyRequest['kind'], points: bigint): number {
  if (kind !== 'purchase') throw invalidArgument('redeem_points is only valid for a PURCHASE');
  if (points < 0n || points > BigInt(amount_abs_max_minor)) throw invalidArgument('redeem_points must be between 0 and 10^15');
  return Number(points);
}

/** A void releases a hold; it moves no amount of its own. */
export function parseVoid(wire: VoidRequest): MoneyRequest {
  const terminalId = requireId('terminal_id', wire.terminalId);
  const txn = requireTxnNumber('terminal_txn_number', wire.terminalTxnNumber);
  const cardId = requireId('card_id', wire.cardId);
  const originalKey = refKey('original', wire.original);
  const key = terminalTxnKey(terminalId, txn);
  if (originalKey === key) throw invalidArgument('a void cannot void itself');
  return finish({ kind: 'void', key, cardId, terminalId, amountMinor: 0, currency: '', source: '', operatorId: '', originalKey });
}

const top_up_sources: Readonly<Record<number, string>> = {
  [TopUpSource.TOP_UP_SOURCE_CASH]: 'cash',
  [TopUpSource.TOP_UP_SOURCE_PSP]: 'psp',
  [TopUpSource.TOP_UP_SOURCE_AUTO_RELOAD]: 'auto_reload',
  [TopUpSource.TOP_UP_SOURCE_ADMIN]: 'admin',
};

/** What a till may top up with: cash, or a card payment taken at the till through a PSP. */
const till_top_up_sources: ReadonlySet<string> = new Set(['cash', 'psp']);

/**
 * A top-up on the terminal API: a till's, keyed by its terminal transaction. Credits without a
 * terminal (an idempotency key) and the sources no till has (ADMIN, AUTO_RELOAD) are refused
 * PERMISSION_DENIED: an operator credits through CardService.CreditCard, and online payments and
 * auto-reloads arrive only by the PSP's signed callback.
 */
export function parseTopUp(wire: TopUpRequest): MoneyRequest {
  const cardId = requireId('card_id', wire.cardId);
  const { amountMinor, currency } = requireAmount('amount', wire.amount);
  const source = top_up_sources[wire.source];
  if (source === undefined) throw invalidArgument('source must be CASH or PSP');
  if (wire.idempotencyKey !== '')
    throw permissionDenied(
      'a top-up without a terminal is not accepted here: operators use CardService.CreditCard, PSPs the signed callback',
    );
  if (!till_top_up_sources.has(source))
    throw permissionDenied(
      `source ${source.toUpperCase()} is not a till's: operators use CardService.CreditCard, PSPs the signed callback`,
    );
  const terminalId = requireId('terminal_id', wire.terminalId);
  const key = terminalTxnKey(terminalId, requireTxnNumber('terminal_txn_number', wire.terminalTxnNumber));
  // operator_id is ignored: on the terminal door the actor is the certificate's terminal.
  return finish({ kind: 'top_up', key, cardId, terminalId, amountMinor, currency, source, operatorId: '', originalKey: '' });
}

export function parseReverse(wire: ReverseRequest): MoneyRequest {
  const terminalId = requireId('terminal_id', wire.terminalId);
  const txn = requireTxnNumber('terminal_txn_number', wire.terminalTxnNumber);
  const cardId = requireId('card_id', wire.cardId);
  const originalKey = refKey('original', wire.original);
  const key = terminalTxnKey(terminalId, txn);
  if (originalKey === key) throw invalidArgument('a reversal cannot reverse itself');
  return finish({ kind: 'reverse', key, cardId, terminalId, amountMinor: 0, currency: '', source: '', operatorId: '', originalKey });
}

/** A refund: keyed by its own terminal transaction, against `original`, with a manager's PIN. */
export function parseRefund(wire: RefundRequest): { request: MoneyRequest; managerId: string; managerPin: string } {
  const terminalId = requireId('terminal_id', wire.terminalId);
  const txn = requireTxnNumber('terminal_txn_number', wire.terminalTxnNumber);
  const cardId = requireId('card_id', wire.cardId);
  const originalKey = refKey('original', wire.original);
  const key = terminalTxnKey(terminalId, txn);
  if (originalKey === key) throw invalidArgument('a refund cannot refer to itself');
  const { amountMinor, currency } = requireAmount('amount', wire.amount);
  const managerId = requireId('manager_id', wire.managerId);
  if (!/^[0-9]{4,12}$/.test(wire.managerPin)) throw invalidArgument('manager_pin must be 4-12 digits');
  const request = finish({
    kind: 'refund',
    key,
    cardId,
    terminalId,
    amountMinor,
    currency,
    source: '',
    operatorId: managerId,
    originalKey,
  });
  return { request, managerId, managerPin: wire.managerPin };
}
