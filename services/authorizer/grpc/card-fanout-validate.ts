// Validation of the per-card fan-out calls (proto/tapline/internal/v1/fanout.proto) on the card's
// owner. They come from another node, which validated the operation they belong to, but they
// cross the network and may come from another build during a rolling update: each field is
// checked like a client's, and anything out of range is INVALID_ARGUMENT with nothing changed.

import type { Acting } from '../../../actors/principal';
import { invalidArgument } from '../../../actors/errors';
import { minorFromWire, request_amount_max_minor } from '../../../actors/money';
import type {
  ApplyPspWebhookRequest,
  IndexCardTokenRequest,
  IssueBulkCardRequest,
  LinkCardTokenRequest,
  RefundRunCashOutRequest,
} from '../../../gen/tapline/internal/v1/fanout';
import type { BulkCardIssue, CardTokenIndexing, CardTokenLink, PspWebhook, RefundRunCashOut } from '../usecases/card-fanout';
import { token_pattern } from '../../../actors/card/tokens';
import { psp_reference_pattern } from '../usecases/psp';
import { card_auth_key_id_pattern } from '../../../actors/program/config';
import { requireCurrency, requireId } from './validate';

/** The largest time a JavaScript Date holds (ms since the epoch): any later "time" is malformed. */
const unix_ms_max = 8_640_000_000_000_000;

function wireAmount(field: string, value: bigint): number {
  const minor = minorFromWire(value);
  if (minor === undefined || minor < 0 || minor > request_amount_max_minor)
    throw invalidArgument(`${field} must be between 0 and ${request_amount_max_minor}`, { field });
  return minor;
}

function wireTime(field: string, value: bigint, min: number): number {
  if (value < BigInt(min) || value > BigInt(unix_ms_max)) throw invalidArgument(`${field} must be a time in ms since the epoch`, { field });
  return Number(value);
}

/** The card of a bulk issuance; `acting` is the issuance's operator action, from the forwarded caller. */
export function parseBulkCardIssue(wire: IssueBulkCardRequest, acting: Acting): BulkCardIssue {
  return {
    cardId: requireId('card_id', wire.cardId),
    issuanceId: requireId('issuance_id', wire.issuanceId),
    programId: requireId('program_id', wire.programId),
    currency: requireCurrency('currency', wire.currency),
    initialBalanceMinor: wireAmount('initial_balance_minor', wire.initialBalanceMinor),
    depositMinor: wireAmount('deposit_minor', wire.depositMinor),
    // 0: the card does not expire.
    expiresAtMs: wireTime('expires_at_unix_ms', wire.expiresAtUnixMs, 0),
    issuedAtMs: wireTime('issued_at_unix_ms', wire.issuedAtUnixMs, 1),
    acting,
    cardAuthKeyId: parseKeyId('card_auth_key_id', wire.cardAuthKeyId),
  };
}

/** A card authentication key id, or '' for none. */
export function parseKeyId(field: string, value: string): string {
  if (value !== '' && !card_auth_key_id_pattern.test(value)) throw invalidArgument(`${field} must be 1-32 of A-Z a-z 0-9 . _ -`, { field });
  return value;
}

export function parseRefundRunCashOut(wire: RefundRunCashOutRequest, acting: Acting): RefundRunCashOut {
  return {
    cardId: requireId('card_id', wire.cardId),
    runId: requireId('run_id', wire.runId),
    acting,
  };
}

export function parsePspWebhook(wire: ApplyPspWebhookRequest): PspWebhook {
  if (!psp_reference_pattern.test(wire.paymentId)) throw invalidArgument('payment_id must be 1-100 of A-Z a-z 0-9 . _ -');
  return { reference: wire.paymentId, cardId: requireId('card_id', wire.cardId) };
}

function requireToken(value: string): string {
  if (!token_pattern.test(value)) throw invalidArgument('token must be h:<64 hex digits> or par:<29 of A-Z 0-9>', { field: 'token' });
  return value;
}

export function parseCardTokenLink(wire: LinkCardTokenRequest, acting: Acting): CardTokenLink {
  return {
    cardId: requireId('card_id', wire.cardId),
    token: requireToken(wire.token),
    link: wire.link,
    acting,
  };
}

export function parseCardTokenIndexing(wire: IndexCardTokenRequest): CardTokenIndexing {
  return {
    token: requireToken(wire.token),
    programId: requireId('program_id', wire.programId),
    currency: requireCurrency('currency', wire.currency),
    cardId: requireId('card_id', wire.cardId),
    link: wire.link,
  };
}
