// Top-ups through a payment service provider (PSP): the adapter port a PSP integration implements,
// how an integration is plugged into a node, the signed callback contract, and auto-reload. The
// node gets its integration injected: the production entry point the Mollie adapter
// (services/authorizer/psp/mollie.ts, turned on by TAPLINE_PSP_PROVIDER=mollie), the demo and the
// tests the simulated PSP (tools/psp-simulator). Money moves only when the PSP says a payment
// succeeded, in one of two ways:
//   - a signed callback (HandlePspCallback, the simulated PSP): its payload is signed with
//     HMAC-SHA256 under the shared secret (TAPLINE_PSP_SECRET, never logged), verified with a
//     constant-time compare;
//   - a webhook that carries only the payment's id (Mollie): the adapter fetches the payment from
//     the PSP's API with the node's API key (fetchPayment), and only what that answer says counts.
// Either way the top-up is keyed by the PSP reference ("k:psp:<reference>"), so a payment reported
// twice, to any node, tops up once. Auto-reload charges go through the same path, so a node that
// dies after asking the PSP to charge a mandate loses nothing: the PSP's report completes the top-up.
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
import { id_pattern } from '../../common/ids';
import type { NodeConfig } from '../config';

/** What a holder chose for auto-reload, sent with a first payment that obtains its mandate. */
export interface AutoReloadSetup {
  readonly thresholdMinor: number;
  readonly amountMinor: number;
}

/** A mandate reference as the node stores and charges it. */
export const mandate_reference_pattern = /^[A-Za-z0-9._-]{1,100}$/;

/** A payment as the PSP reports it: what Tapline acts on. */
export interface PspPayment {
  /** The PSP's id of the payment: the top-up's key is "k:psp:<reference>". */
  readonly reference: string;
  readonly card: string;
  readonly amountMinor: number;
  readonly currency: string;
  readonly status: 'succeeded' | 'failed';
  readonly kind: 'top_up' | 'auto_reload';
  /**
   * A paid first payment: the auto-reload its starter chose (held by the PSP with the payment) with
   * the mandate the PSP created for it. Only what the PSP reports, never what a browser sent.
   */
  readonly autoReload?: AutoReload;
}

/** A payment reported by a signed callback. */
export interface PspPaymentEvent extends PspPayment {
  /** When the PSP signed this delivery (Unix ms): part of the signed payload. */
  readonly signedAtMs: number;
}

/** A payment fetched from the PSP's API: still under way, or final. */
export type FetchedPspPayment = PspPayment | { readonly reference: string; readonly card: string; readonly status: 'pending' };

export interface PspAdapter {
  /**
   * Starts a payment the holder completes at the PSP; the outcome is reported later. With `setup`
   * it is a first payment (a mandate for later charges), and the PSP holds the setup with it.
   */
  startPayment(
    cardId: string,
    amountMinor: number,
    currency: string,
    setup?: AutoReloadSetup,
  ): Promise<{ reference: string; paymentUrl: string }>;
  /** Charges a stored mandate (auto-reload); the outcome is reported later. */
  chargeMandate(mandate: string, cardId: string, amountMinor: number, currency: string, reference: string): Promise<void>;
  /**
   * PSPs whose webhook carries only a payment's id (Mollie): the payment as the PSP's API answers
   * it now, or undefined when the PSP does not know the id. Absent: payments arrive by signed
   * callback only.
   */
  fetchPayment?(reference: string): Promise<FetchedPspPayment | undefined>;
}

/**
 * Where a PSP adapter running inside this process (the simulated PSP) delivers its callbacks: the
 * path of a gRPC HandlePspCallback, through the cluster router to the card's owner.
 */
export type PspCallbackSink = (payload: string, signature: string) => void;

/** What an integration is given to build its adapter. */
export interface PspContext {
  readonly config: NodeConfig;
  /** TAPLINE_PSP_SECRET, when set (the key of signed callbacks). */
  readonly secret: string | undefined;
  /** Where an adapter running in this process delivers signed callbacks. */
  readonly callbacks: PspCallbackSink;
  /** The node's clock (a simulated PSP signs its callbacks with it). */
  readonly clock: () => number;
}

/**
 * A PSP integration as whoever starts the node injects it (AuthorizerNode.start): the production
 * entry point injects Mollie's, the dev launcher and the tests the simulated PSP (docs/DECISIONS.md,
 * "The PSP adapter is injected").
 */
export interface PspIntegration {
  /** Its name in errors and logs. */
  readonly name: string;
  /**
   * True when it reports payments by callbacks signed with TAPLINE_PSP_SECRET: only then does the
   * node serve HandlePspCallback, and only then may the secret be configured.
   */
  readonly signsCallbacks: boolean;
  /** Its adapter for this configuration, or undefined when the configuration does not turn it on. */
  create(context: PspContext): PspAdapter | undefined;
}

/**
 * How far a callback's signing instant may be from the node's clock, either way. Five minutes
 * covers delivery delay and clock skew (the tolerance PSPs themselves recommend for signed
 * webhooks) and keeps a captured callback useless soon after; the PSP re-signs each retry.
 */
export const psp_callback_window_ms = 300_000;

/** A PSP reference: it becomes the top-up's key "k:psp:<reference>". */
export const psp_reference_pattern = /^[A-Za-z0-9._-]{1,100}$/;
const reference_pattern = psp_reference_pattern;
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
  if (typeof card !== 'string' || !id_pattern.test(card)) throw invalidArgument('payload.card is malformed');
  if (typeof amount !== 'number' || !Number.isSafeInteger(amount) || amount <= 0 || amount > request_amount_max_minor)
    throw invalidArgument('payload.amount_minor is out of range');
  if (typeof currency !== 'string' || !isKnownCurrency(currency)) throw invalidArgument('payload.currency is not supported');
  if (status !== 'succeeded' && status !== 'failed') throw invalidArgument('payload.status must be succeeded or failed');
  if (kind !== 'top_up' && kind !== 'auto_reload') throw invalidArgument('payload.kind must be top_up or auto_reload');
  const signedAt = raw['signed_at'];
  if (typeof signedAt !== 'number' || !Number.isSafeInteger(signedAt) || signedAt <= 0)
    throw invalidArgument('payload.signed_at (Unix ms) is required');
  const autoReload = raw['auto_reload'] === undefined ? undefined : parseAutoReload(raw['auto_reload']);
  if (autoReload !== undefined && (kind !== 'top_up' || status !== 'succeeded'))
    throw invalidArgument('payload.auto_reload comes only with a succeeded top_up (a paid first payment)');
  return {
    reference,
    card,
    amountMinor: amount,
    currency,
    status,
    kind,
    signedAtMs: signedAt,
    ...(autoReload === undefined ? {} : { autoReload }),
  };
}

/** A bounded amount of minor units, as a PSP echoes back what the node sent it: > 0, or >= 0 when `zero`. */
function isMinor(value: unknown, zero: boolean): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= (zero ? 0 : 1) && value <= request_amount_max_minor;
}

/** A first payment's auto-reload as a PSP reports it: {threshold_minor, amount_minor, mandate}. */
function parseAutoReload(raw: unknown): AutoReload {
  if (typeof raw !== 'object' || raw === null) throw invalidArgument('payload.auto_reload must be an object');
  const { threshold_minor: threshold, amount_minor: amount, mandate } = raw as Record<string, unknown>;
  if (!isMinor(threshold, true) || !isMinor(amount, false)) throw invalidArgument('payload.auto_reload amounts are out of range');
  if (typeof mandate !== 'string' || !mandate_reference_pattern.test(mandate))
    throw invalidArgument('payload.auto_reload.mandate is malformed');
  return { thresholdMinor: threshold, amountMinor: amount, mandate };
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
    ...(event.autoReload === undefined
      ? {}
      : {
          auto_reload: {
            threshold_minor: event.autoReload.thresholdMinor,
            amount_minor: event.autoReload.amountMinor,
            mandate: event.autoReload.mandate,
          },
        }),
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
