// The Mollie adapter: top-ups paid by iDEAL, QR or pay-by-link through Mollie's Payments API v2
// (https://docs.mollie.com/reference/payments-api), and auto-reload charges on a Mollie mandate.
//
// What the documented contract is, and how this follows it:
//   - Every request authenticates with the node's API key as "Authorization: Bearer <key>"
//     (TAPLINE_MOLLIE_API_KEY, "live_..." or "test_...", never logged). Nothing else signs a
//     request.
//   - Create payment: POST /v2/payments with JSON {amount: {currency, value}, description,
//     redirectUrl, webhookUrl, metadata, method?}; `value` is a string with exactly the currency's
//     number of decimals ("12.50" EUR, "1000" JPY). Mollie answers 201 with the payment: its id
//     ("tr_..."), status "open" and `_links.checkout.href`, where the holder pays (the kiosk shows it
//     as a QR code or sends it as a link; TAPLINE_MOLLIE_METHOD=ideal preselects iDEAL).
//   - Recurring payment (auto-reload): the same call with sequenceType "recurring", the customer's
//     id and optionally its mandate's id, no redirect (the holder is not there), and an
//     Idempotency-Key header (the charge's reference), so a retried charge is one payment.
//   - First payment (auto-reload set up by the holder): a customer is created first (POST
//     /v2/customers), then the payment with sequenceType "first" and that customerId; the holder
//     pays it at the checkout like any. Once it is paid, Mollie's payment names the mandate it
//     created (`mandateId`), and that mandate (with the customer) is what later recurring payments
//     charge. The auto-reload the holder chose travels in the payment's metadata, which the node
//     writes and only Mollie's API gives back: it binds the choice to the card and the payment.
//   - Webhook: Mollie POSTs application/x-www-form-urlencoded "id=tr_..." to the payment's
//     webhookUrl when its status changes, unsigned. The payment is then fetched with GET
//     /v2/payments/<id> under the API key, and only that answer counts: a forged webhook can name a
//     payment but never change what Mollie says about it. Statuses: "paid" succeeded; "failed",
//     "canceled", "expired" failed; "open", "pending", "authorized" are still under way.
//   - Errors: a JSON body {status, title, detail}; 4xx for a request Mollie refuses, 5xx (or no
//     answer) for Mollie itself.
//
// Each payment's webhookUrl carries the card it was started for (`?card=<id>`), so the node that
// receives the webhook routes it to the card's owner without a lookup; the owner fetches the
// payment and acts only when Mollie's metadata names that same card.

import { failedPrecondition, PspUnavailableError } from '../../../actors/errors';
import { currency_exponents, isKnownCurrency, request_amount_max_minor } from '../../../actors/money';
import { id_pattern } from '../../common/ids';
import type { NodeConfig } from '../config';
import type { AutoReload } from '../../../actors/card/rules';
import type { AutoReloadSetup, FetchedPspPayment, PspAdapter, PspContext, PspIntegration } from '../usecases/psp';

/** Mollie's payment ids: "tr_" and an alphanumeric rest. */
export const mollie_payment_id_pattern = /^tr_[A-Za-z0-9]{1,64}$/;
/** A mandate reference for Mollie: "<customer id>" or "<customer id>.<mandate id>". */
const mandate_pattern = /^(cst_[A-Za-z0-9]{1,64})(?:\.(mdt_[A-Za-z0-9]{1,64}))?$/;
const customer_id_pattern = /^cst_[A-Za-z0-9]{1,64}$/;
const mandate_id_pattern = /^mdt_[A-Za-z0-9]{1,64}$/;
/** A Mollie answer larger than this is not one of the payment objects this adapter reads. */
const response_bytes_max = 65_536;
/** Longest text of a Mollie error passed on to a caller (its `detail`). */
const error_detail_chars_max = 200;

export interface MollieSettings {
  /** Base URL of the API (https://api.mollie.com; tests point it at a local server). */
  readonly apiUrl: string;
  readonly apiKey: string;
  /** Where Mollie reports status changes: this node's webhook, as reachable from Mollie. */
  readonly webhookUrl: string;
  /** Where the holder's browser returns after paying. */
  readonly redirectUrl: string;
  /** A payment method to preselect ("ideal"); undefined: the checkout offers every enabled one. */
  readonly method: string | undefined;
  readonly request_timeout_ms: number;
}

/** Mollie's status of a payment, as Tapline acts on it. */
const status_meanings: Readonly<Record<string, 'succeeded' | 'failed' | 'pending'>> = {
  paid: 'succeeded',
  failed: 'failed',
  canceled: 'failed',
  expired: 'failed',
  open: 'pending',
  pending: 'pending',
  authorized: 'pending',
};

/** Minor units as Mollie's amount value: the currency's decimals exactly ("12.50", "1000"). */
export function mollieAmountValue(amountMinor: number, currency: string): string {
  const exponent = currency_exponents[currency];
  if (exponent === undefined || !Number.isSafeInteger(amountMinor) || amountMinor < 0)
    throw new RangeError(`assertion: ${amountMinor} ${currency} is no amount`);
  if (exponent === 0) return String(amountMinor);
  const digits = String(amountMinor).padStart(exponent + 1, '0');
  return `${digits.slice(0, -exponent)}.${digits.slice(-exponent)}`;
}

/** Mollie's amount value as minor units, only when it has exactly the currency's decimals; else undefined. */
export function minorOfMollieValue(value: string, currency: string): number | undefined {
  const exponent = currency_exponents[currency];
  if (exponent === undefined) return undefined;
  const pattern = exponent === 0 ? /^(0|[1-9][0-9]{0,15})$/ : new RegExp(`^(0|[1-9][0-9]{0,15})\\.([0-9]{${exponent}})$`);
  const match = pattern.exec(value);
  if (match === null) return undefined;
  const minor = Number(`${match[1] ?? ''}${match[2] ?? ''}`);
  return Number.isSafeInteger(minor) && minor <= request_amount_max_minor ? minor : undefined;
}

export class MolliePsp implements PspAdapter {
  constructor(private readonly settings: MollieSettings) {}

  async startPayment(
    cardId: string,
    amountMinor: number,
    currency: string,
    setup?: AutoReloadSetup,
  ): Promise<{ reference: string; paymentUrl: string }> {
    const first = setup === undefined ? {} : { sequenceType: 'first', customerId: await this.createCustomer(cardId) };
    const payment = await this.call('POST', '/v2/payments', {
      amount: { currency, value: mollieAmountValue(amountMinor, currency) },
      description: setup === undefined ? `Top-up of card ${cardId}` : `Top-up and auto-reload of card ${cardId}`,
      redirectUrl: this.settings.redirectUrl,
      webhookUrl: this.webhookFor(cardId),
      metadata: {
        card: cardId,
        kind: 'top_up',
        ...(setup === undefined ? {} : { auto_reload: { threshold_minor: setup.thresholdMinor, amount_minor: setup.amountMinor } }),
      },
      ...first,
      ...(this.settings.method === undefined ? {} : { method: this.settings.method }),
    });
    const id = payment?.['id'];
    const checkout = payment === undefined ? undefined : linkOf(payment, 'checkout');
    if (typeof id !== 'string' || !mollie_payment_id_pattern.test(id) || checkout === undefined)
      throw new PspUnavailableError('Mollie answered a payment without an id or a checkout link');
    return { reference: id, paymentUrl: checkout };
  }

  /** A Mollie customer for a card's first payment: its id ("cst_..."). */
  private async createCustomer(cardId: string): Promise<string> {
    const customer = await this.call('POST', '/v2/customers', { name: `Card ${cardId}`, metadata: { card: cardId } });
    const id = customer?.['id'];
    if (typeof id !== 'string' || !customer_id_pattern.test(id)) throw new PspUnavailableError('Mollie answered a customer without an id');
    return id;
  }

  async chargeMandate(mandate: string, cardId: string, amountMinor: number, currency: string, reference: string): Promise<void> {
    const parts = mandate_pattern.exec(mandate);
    if (parts === null) throw failedPrecondition('a Mollie mandate reference is "cst_..." or "cst_....mdt_..."');
    await this.call(
      'POST',
      '/v2/payments',
      {
        amount: { currency, value: mollieAmountValue(amountMinor, currency) },
        description: `Auto-reload of card ${cardId}`,
        sequenceType: 'recurring',
        customerId: parts[1],
        ...(parts[2] === undefined ? {} : { mandateId: parts[2] }),
        webhookUrl: this.webhookFor(cardId),
        metadata: { card: cardId, kind: 'auto_reload', reference },
      },
      reference,
    );
  }

  async fetchPayment(reference: string): Promise<FetchedPspPayment | undefined> {
    if (!mollie_payment_id_pattern.test(reference)) return undefined;
    const payment = await this.call('GET', `/v2/payments/${reference}`, undefined, undefined, true);
    if (payment === undefined) return undefined;
    return readPayment(reference, payment);
  }

  private webhookFor(cardId: string): string {
    const url = new URL(this.settings.webhookUrl);
    url.searchParams.set('card', cardId);
    return url.toString();
  }

  /**
   * One API call under the node's key. A 404 answers undefined when `missingIsUndefined`; other
   * 4xx are Mollie refusing the request (FAILED_PRECONDITION with its detail, or, for 401/403, the
   * node's credentials: PspUnavailableError); 5xx, time-outs and broken answers are
   * PspUnavailableError.
   */
  private async call(
    method: 'GET' | 'POST',
    path: string,
    body: unknown,
    idempotencyKey?: string,
    missingIsUndefined = false,
  ): Promise<Record<string, unknown> | undefined> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.settings.apiKey}`, accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (idempotencyKey !== undefined) headers['idempotency-key'] = idempotencyKey;
    let response: Response;
    try {
      response = await fetch(new URL(path, this.settings.apiUrl), {
        method,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(this.settings.request_timeout_ms),
      });
    } catch (error) {
      throw new PspUnavailableError('Mollie did not answer', {}, { cause: error });
    }
    const text = await boundedText(response);
    if (response.status === 404 && missingIsUndefined) return undefined;
    const parsed = parseObject(text);
    if (response.ok && parsed !== undefined) return parsed;
    throw refusalOf(response.status, parsed);
  }
}

async function boundedText(response: Response): Promise<string> {
  const length = Number(response.headers.get('content-length') ?? '0');
  if (length > response_bytes_max) {
    await response.body?.cancel();
    throw new PspUnavailableError('Mollie answered more than expected', { bytes: length });
  }
  let text: string;
  try {
    text = await response.text();
  } catch (error) {
    throw new PspUnavailableError('Mollie answer broke off', {}, { cause: error });
  }
  if (text.length > response_bytes_max) throw new PspUnavailableError('Mollie answered more than expected', { bytes: text.length });
  return text;
}

function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function refusalOf(status: number, body: Record<string, unknown> | undefined): Error {
  if (status === 401 || status === 403) return new PspUnavailableError('Mollie refused the API key', { status });
  if (status >= 400 && status < 500) {
    const detail = typeof body?.['detail'] === 'string' ? body['detail'].slice(0, error_detail_chars_max) : 'no detail';
    return failedPrecondition(`Mollie refused the payment: ${detail}`, { status });
  }
  return new PspUnavailableError('Mollie failed', { status });
}

function linkOf(payment: Record<string, unknown>, name: string): string | undefined {
  const links = payment['_links'];
  if (typeof links !== 'object' || links === null) return undefined;
  const link = (links as Record<string, unknown>)[name];
  if (typeof link !== 'object' || link === null) return undefined;
  const href = (link as Record<string, unknown>)['href'];
  return typeof href === 'string' && /^https?:\/\//.test(href) ? href : undefined;
}

/**
 * The payment Mollie answered, as Tapline acts on it; undefined when it is not a payment Tapline
 * started (no card or kind in its metadata) or its amount is not one Tapline can hold.
 */
export function readPayment(reference: string, payment: Record<string, unknown>): FetchedPspPayment | undefined {
  const metadata = payment['metadata'];
  if (payment['id'] !== reference || typeof metadata !== 'object' || metadata === null) return undefined;
  const card = (metadata as Record<string, unknown>)['card'];
  const kind = (metadata as Record<string, unknown>)['kind'];
  if (typeof card !== 'string' || !id_pattern.test(card) || (kind !== 'top_up' && kind !== 'auto_reload')) return undefined;
  const status = typeof payment['status'] === 'string' ? status_meanings[payment['status']] : undefined;
  if (status === undefined) return undefined;
  if (status === 'pending') return { reference, card, status };
  const amount = payment['amount'];
  if (typeof amount !== 'object' || amount === null) return undefined;
  const { currency, value } = amount as Record<string, unknown>;
  if (typeof currency !== 'string' || typeof value !== 'string' || !isKnownCurrency(currency)) return undefined;
  const amountMinor = minorOfMollieValue(value, currency);
  if (amountMinor === undefined || amountMinor <= 0) return undefined;
  const setup = (metadata as Record<string, unknown>)['auto_reload'];
  if (setup === undefined) return { reference, card, amountMinor, currency, status, kind };
  const autoReload = status === 'succeeded' ? firstPaymentMandate(payment, setup) : null;
  if (autoReload === undefined) return undefined;
  return { reference, card, amountMinor, currency, status, kind, ...(autoReload === null ? {} : { autoReload }) };
}

/**
 * The auto-reload a paid first payment set up: the choice from its metadata (written by the node)
 * with the mandate Mollie created (customer and mandate id, as chargeMandate takes them). Null when
 * Mollie reports no mandate for it (the top-up alone counts); undefined when the metadata is not the
 * node's.
 */
function firstPaymentMandate(payment: Record<string, unknown>, setup: unknown): AutoReload | null | undefined {
  if (typeof setup !== 'object' || setup === null) return undefined;
  const { threshold_minor: threshold, amount_minor: amount } = setup as Record<string, unknown>;
  const minor = (value: unknown, least: number): value is number =>
    typeof value === 'number' && Number.isSafeInteger(value) && value >= least && value <= request_amount_max_minor;
  if (!minor(threshold, 0) || !minor(amount, 1)) return undefined;
  const { sequenceType, customerId, mandateId } = payment;
  if (sequenceType !== 'first' || typeof customerId !== 'string' || typeof mandateId !== 'string') return null;
  if (!customer_id_pattern.test(customerId) || !mandate_id_pattern.test(mandateId)) return null;
  return { thresholdMinor: threshold, amountMinor: amount, mandate: `${customerId}.${mandateId}` };
}

/** The node's Mollie settings, when its configuration turns Mollie on (loadConfig checked they are all there). */
export function mollieSettingsOf(config: NodeConfig): MollieSettings | undefined {
  if (config.TAPLINE_PSP_PROVIDER !== 'mollie') return undefined;
  const { TAPLINE_MOLLIE_API_KEY: apiKey, TAPLINE_PSP_WEBHOOK_URL: webhookUrl, TAPLINE_PSP_REDIRECT_URL: redirectUrl } = config;
  if (apiKey === undefined || webhookUrl === undefined || redirectUrl === undefined)
    throw new Error('assertion: loadConfig lets TAPLINE_PSP_PROVIDER=mollie through only with its settings');
  return {
    apiUrl: config.TAPLINE_MOLLIE_API_URL,
    apiKey,
    webhookUrl,
    redirectUrl,
    method: config.TAPLINE_MOLLIE_METHOD,
    request_timeout_ms: config.TAPLINE_PSP_REQUEST_TIMEOUT_MS,
  };
}

/** The production PSP integration: Mollie, when TAPLINE_PSP_PROVIDER=mollie. Its payments arrive by webhook, never signed. */
export const mollie_integration: PspIntegration = {
  name: 'mollie',
  signsCallbacks: false,
  create(context: PspContext): PspAdapter | undefined {
    const settings = mollieSettingsOf(context.config);
    return settings === undefined ? undefined : new MolliePsp(settings);
  },
};
