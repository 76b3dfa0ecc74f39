// Top-ups through a payment service provider (PSP): the adapter port a PSP integration implements,
// the signed callback contract, and auto-reload. The node gets its adapter injected (production
// has none yet; the simulated PSP of the demo and the tests is tools/psp-simulator). Money moves only when
// the PSP's callback arrives: its payload is signed with HMAC-SHA256 under the shared secret
// (TAPLINE_PSP_SECRET, never logged), verified with a constant-time compare, and the top-up is
// keyed by the PSP reference ("k:psp:<reference>"), so a callback delivered twice, to any node,
// tops up once. Auto-reload charges go through the same callback path, so a node that dies after
// asking the PSP to charge a mandate loses nothing: the PSP's callback completes the top-up.
//
// Replays: the signed payload carries the instant the PSP signed it (`signed_at`, Unix ms), and a
// callback signed outside a window around the node's clock is refused, so a captured callback is
// worth nothing minutes later (a PSP signs every delivery anew). Within the window a replay is
// answered from the key's idempotency record; and the top-up leaves a spent record of its
// reference beside the card that never expires, so a delivery after the idempotency record's TTL
// is refused too (ALREADY_EXISTS) instead of topping up again.

import { createHmac, timingSafeEqual } from 'node:crypto';
import { invalidArgument, permissionDenied, type TaplineError } from '../../../actors/errors';
import { isKnownCurrency, request_amount_max_minor } from '../../../actors/money';
import type { AutoReload, CardState } from '../../../actors/card/rules';

export interface PspPaymentEvent {
  readonly reference: string;
  readonly card: string;
  readonly amountMinor: number;
  readonly currency: string;
  readonly status: 'succeeded' | 'failed';
  readonly kind: 'top_up' | 'auto_reload';
  /** When the PSP signed this delivery (Unix ms): part of the signed payload. */
  readonly signedAtMs: number;
}

export interface PspAdapter {
  /** Starts a payment the holder completes at the PSP; the outcome arrives by callback. */
  startPayment(cardId: string, amountMinor: number, currency: string): Promise<{ reference: string; paymentUrl: string }>;
  /** Charges a stored mandate (auto-reload); the outcome arrives by callback with `reference`. */
  chargeMandate(mandate: string, cardId: string, amountMinor: number, currency: string, reference: string): Promise<void>;
}

/**
 * Where a PSP adapter running inside this process (the simulated PSP) delivers its callbacks: the
 * path of a gRPC HandlePspCallback, through the cluster router to the card's owner.
 */
export type PspCallbackSink = (payload: string, signature: string) => void;

/**
 * Builds the node's PSP adapter from the shared secret. Injected by whoever starts the node
 * (AuthorizerNode.start): the production entry point has none, the dev launcher and the tests
 * pass the simulated PSP (docs/DECISIONS.md, "The PSP adapter is injected"). `clock` is the
 * node's (a simulated PSP signs its callbacks with it).
 */
export type PspAdapterFactory = (secret: string, callbacks: PspCallbackSink, clock: () => number) => PspAdapter;

/**
 * How far a callback's signing instant may be from the node's clock, either way. Five minutes
 * covers delivery delay and clock skew (the tolerance PSPs themselves recommend for signed
 * webhooks) and keeps a captured callback useless soon after; the PSP re-signs each retry.
 */
export const psp_callback_window_ms = 300_000;

const reference_pattern = /^[A-Za-z0-9._-]{1,100}$/;
const card_pattern = /^[A-Za-z0-9._-]{1,64}$/;
/** A callback payload larger than this is not a PSP's. */
const payload_bytes_max = 4_096;

export function signPspPayload(secret: string, payload: string): string {
  return createHmac('sha256', secret).update(payload).digest('hex');
}

/** Undefined when the signature is the payload's under `secret`; compared in constant time. */
export function verifyPspSignature(secret: string, payload: string, signature: string): TaplineError | undefined {
  if (Buffer.byteLength(payload) > payload_bytes_max) return invalidArgument(`payload is at most ${payload_bytes_max} bytes`);
  const expected = Buffer.from(signPspPayload(secret, payload), 'hex');
  const given = /^[0-9a-f]{64}$/.test(signature) ? Buffer.from(signature, 'hex') : Buffer.alloc(0);
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    return permissionDenied('PSP callback signature does not verify');
  return undefined;
}

/** Parses a verified payload strictly; anything unexpected is INVALID_ARGUMENT. */
export function parsePspPayload(payload: string): PspPaymentEvent {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(payload) as Record<string, unknown>;
  } catch {
    throw invalidArgument('payload is not JSON');
  }
  const { reference, card, amount_minor: amount, currency, status, kind } = raw;
  if (typeof reference !== 'string' || !reference_pattern.test(reference)) throw invalidArgument('payload.reference is malformed');
  if (typeof card !== 'string' || !card_pattern.test(card)) throw invalidArgument('payload.card is malformed');
  if (typeof amount !== 'number' || !Number.isSafeInteger(amount) || amount <= 0 || amount > request_amount_max_minor)
    throw invalidArgument('payload.amount_minor is out of range');
  if (typeof currency !== 'string' || !isKnownCurrency(currency)) throw invalidArgument('payload.currency is not supported');
  if (status !== 'succeeded' && status !== 'failed') throw invalidArgument('payload.status must be succeeded or failed');
  if (kind !== 'top_up' && kind !== 'auto_reload') throw invalidArgument('payload.kind must be top_up or auto_reload');
  const signedAt = raw['signed_at'];
  if (typeof signedAt !== 'number' || !Number.isSafeInteger(signedAt) || signedAt <= 0)
    throw invalidArgument('payload.signed_at (Unix ms) is required');
  return { reference, card, amountMinor: amount, currency, status, kind, signedAtMs: signedAt };
}

/** Undefined when the callback was signed within `window_ms` of `nowMs`; else the refusal. */
export function checkSignedAt(event: PspPaymentEvent, nowMs: number, window_ms = psp_callback_window_ms): TaplineError | undefined {
  if (Math.abs(nowMs - event.signedAtMs) <= window_ms) return undefined;
  return permissionDenied('PSP callback was not signed within the accepted window; the PSP signs each delivery anew');
}

export function pspPayload(event: PspPaymentEvent): string {
  return JSON.stringify({
    reference: event.reference,
    card: event.card,
    amount_minor: event.amountMinor,
    currency: event.currency,
    status: event.status,
    kind: event.kind,
    signed_at: event.signedAtMs,
  });
}

/** Time after which a reload that never called back may be tried again for the same card. */
export const auto_reload_pending_ms = 60_000;

/**
 * Auto-reload: at most one charge in flight per card (a burst of payments below the threshold
 * charges once); the reference is derived from the payment that triggered it.
 */
export class AutoReloader {
  private readonly pending = new Map<string, number>();

  constructor(
    private readonly psp: PspAdapter,
    private readonly clock: () => number,
    private readonly onError: (error: unknown) => void,
  ) {}

  trigger(state: CardState, triggerId: string): void {
    const autoReload: AutoReload | undefined = state.profile?.autoReload;
    if (autoReload === undefined) return;
    const since = this.pending.get(state.cardId);
    if (since !== undefined && this.clock() - since < auto_reload_pending_ms) return;
    this.pending.set(state.cardId, this.clock());
    this.psp
      .chargeMandate(autoReload.mandate, state.cardId, autoReload.amountMinor, state.currency, `auto-${state.cardId}-${triggerId}`)
      .then(undefined, (error: unknown) => {
        this.pending.delete(state.cardId);
        this.onError(error);
      });
  }

  settled(cardId: string): void {
    this.pending.delete(cardId);
  }
}
