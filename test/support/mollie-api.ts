// A local HTTP server that implements the part of Mollie's Payments API v2 Tapline uses, as Mollie
// documents it (https://docs.mollie.com/reference/payments-api), for the PSP tests:
//   - every request must carry "Authorization: Bearer <the API key>", else 401 with Mollie's error
//     object {status, title, detail};
//   - POST /v2/payments: JSON body; `amount.value` a string with exactly the currency's decimals,
//     `description` required, `redirectUrl` required unless sequenceType is "recurring", which needs
//     a `customerId` with a valid mandate (the optional `mandateId` must be one of the customer's);
//     an `Idempotency-Key` seen before answers the payment it created; 422 for anything else wrong.
//     201 with the payment: id "tr_...", status "open" (a recurring payment "pending": it has no
//     checkout), `_links.checkout.href` for one-off payments;
//   - POST /v2/customers: 201 with a customer "cst_..."; a payment with sequenceType "first" needs
//     one (`customerId`), has a checkout like a one-off payment, and once paid names the mandate it
//     created (`mandateId`, a valid mandate of the customer from then on), as Mollie does;
//   - GET /v2/payments/<id>: 200 with the payment, 404 when there is none;
//   - webhooks as Mollie sends them: POST application/x-www-form-urlencoded "id=<payment id>" to the
//     payment's webhookUrl, unsigned, when the test changes a payment's status.
// It records every API request, so tests can check what the adapter sent. With `hostedCheckout` it
// also plays the checkout a holder's browser is sent to: GET /checkout/<id> is a page with a Pay
// button, whose POST marks the payment paid, calls its webhook through `webhookVia` and redirects
// the browser to the payment's redirectUrl, as Mollie does after a payment.

import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type MollieStatus = 'open' | 'pending' | 'authorized' | 'paid' | 'canceled' | 'expired' | 'failed';

export interface MolliePayment {
  readonly resource: 'payment';
  readonly id: string;
  readonly mode: 'test';
  readonly createdAt: string;
  readonly amount: { readonly currency: string; readonly value: string };
  readonly description: string;
  readonly method: string | null;
  readonly metadata: unknown;
  status: MollieStatus;
  readonly sequenceType: 'oneoff' | 'first' | 'recurring';
  readonly redirectUrl: string | null;
  readonly webhookUrl: string | null;
  readonly customerId?: string;
  mandateId?: string;
  readonly profileId: string;
  readonly _links: Record<string, { href: string; type: string }>;
}

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly authorization: string | undefined;
  readonly idempotencyKey: string | undefined;
  readonly body: unknown;
}

const decimals: Readonly<Record<string, number>> = { EUR: 2, USD: 2, GBP: 2, CHF: 2, JPY: 0 };
const methods = new Set(['ideal', 'creditcard', 'bancontact', 'banktransfer', 'paypal']);

function mollieError(status: number, title: string, detail: string, field?: string): Record<string, unknown> {
  return { status, title, detail, ...(field === undefined ? {} : { field }), _links: {} };
}

export class MollieApiFake {
  readonly requests: RecordedRequest[] = [];
  private readonly payments = new Map<string, MolliePayment>();
  private readonly byIdempotencyKey = new Map<string, MolliePayment>();
  /** When set, every API request is answered 503 (Mollie having an outage). */
  failing = false;
  /** Customers and their valid mandates. */
  private readonly customers = new Map<string, Set<string>>();
  private server: Server | undefined;
  private base = '';

  /** The origin the checkout's webhook calls go to (the node's webhook port, standing in for the ingress). */
  webhookVia = '';

  constructor(
    public apiKey: string,
    /** Serve the checkout here (a browser test) instead of linking to Mollie's. */
    private readonly hostedCheckout = false,
  ) {}

  async start(): Promise<string> {
    this.server = createServer((request, response) => {
      this.serve(request, response).catch(() => {
        response.writeHead(500);
        response.end();
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.base = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.base;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server === undefined ? resolve() : this.server.close(() => resolve())));
  }

  /** A customer with a valid mandate (what a first payment leaves behind at Mollie). */
  addCustomer(customerId: string, mandateId: string): void {
    const mandates = this.customers.get(customerId) ?? new Set<string>();
    mandates.add(mandateId);
    this.customers.set(customerId, mandates);
  }

  payment(id: string): MolliePayment | undefined {
    return this.payments.get(id);
  }

  get created(): MolliePayment[] {
    return [...this.payments.values()];
  }

  /**
   * Changes a payment's status as the holder or the bank would, then calls its webhook as Mollie
   * does, through `via` (the origin an ingress would forward the public webhook URL to).
   */
  async settle(id: string, status: MollieStatus, via: string): Promise<number> {
    const payment = this.payments.get(id);
    if (payment === undefined) throw new Error(`no payment ${id}`);
    this.setStatus(payment, status);
    return this.callWebhook(id, via);
  }

  /** A paid first payment leaves a valid mandate of its customer, which the payment names. */
  private setStatus(payment: MolliePayment, status: MollieStatus): void {
    payment.status = status;
    if (status !== 'paid' || payment.sequenceType !== 'first' || payment.customerId === undefined || payment.mandateId !== undefined)
      return;
    payment.mandateId = `mdt_${randomBytes(6).toString('hex')}`;
    this.addCustomer(payment.customerId, payment.mandateId);
  }

  /**
   * POSTs "id=<id>" to the payment's webhookUrl with its origin replaced by `via` (`webhookUrl`
   * overrides the URL, e.g. a forger's); answers the HTTP status it got.
   */
  async callWebhook(id: string, via: string, webhookUrl?: string): Promise<number> {
    const url = webhookUrl ?? this.payments.get(id)?.webhookUrl;
    if (url === undefined || url === null) throw new Error(`payment ${id} has no webhook`);
    const publicUrl = new URL(url);
    const target = new URL(`${publicUrl.pathname}${publicUrl.search}`, via);
    const response = await fetch(target, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': 'Mollie HTTP client/1.0' },
      body: new URLSearchParams({ id }).toString(),
    });
    await response.text();
    return response.status;
  }

  private async serve(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const body = await readJson(request);
    const path = new URL(request.url ?? '/', this.base).pathname;
    this.requests.push({
      method: request.method ?? '',
      path,
      authorization: request.headers.authorization,
      idempotencyKey: headerOf(request, 'idempotency-key'),
      body,
    });
    if (this.hostedCheckout && path.startsWith('/checkout/')) return this.checkout(request.method ?? '', path, response);
    if (this.failing) return send(response, 503, mollieError(503, 'Service Unavailable', 'Temporarily unavailable'));
    if (request.headers.authorization !== `Bearer ${this.apiKey}`)
      return send(response, 401, mollieError(401, 'Unauthorized Request', 'Missing authentication, or failed to authenticate'));
    if (request.method === 'POST' && path === '/v2/payments') return this.create(request, body, response);
    if (request.method === 'POST' && path === '/v2/customers') {
      const customer = `cst_${randomBytes(6).toString('hex')}`;
      this.customers.set(customer, new Set());
      return send(response, 201, {
        resource: 'customer',
        id: customer,
        mode: 'test',
        metadata: (body as { metadata?: unknown } | undefined)?.metadata ?? null,
      });
    }
    const match = /^\/v2\/payments\/([A-Za-z0-9_]+)$/.exec(path);
    if (request.method === 'GET' && match !== null) {
      const payment = this.payments.get(match[1] ?? '');
      if (payment === undefined)
        return send(response, 404, mollieError(404, 'Not Found', `No payment exists with token ${match[1] ?? ''}.`));
      return send(response, 200, payment);
    }
    return send(response, 404, mollieError(404, 'Not Found', 'The resource does not exist'));
  }

  private create(request: IncomingMessage, body: unknown, response: ServerResponse): void {
    const key = headerOf(request, 'idempotency-key');
    const seen = key === undefined ? undefined : this.byIdempotencyKey.get(key);
    if (seen !== undefined) return send(response, 201, seen);
    const refusal = this.refusalOf(body);
    if (refusal !== undefined) return send(response, 422, refusal);
    const fields = body as Record<string, unknown>;
    const id = `tr_${randomBytes(8).toString('hex')}`;
    const recurring = fields['sequenceType'] === 'recurring';
    const first = fields['sequenceType'] === 'first';
    const payment: MolliePayment = {
      resource: 'payment',
      id,
      mode: 'test',
      createdAt: new Date().toISOString(),
      amount: fields['amount'] as { currency: string; value: string },
      description: fields['description'] as string,
      method: recurring ? 'directdebit' : typeof fields['method'] === 'string' ? fields['method'] : null,
      metadata: fields['metadata'] ?? null,
      status: recurring ? 'pending' : 'open',
      sequenceType: recurring ? 'recurring' : first ? 'first' : 'oneoff',
      redirectUrl: typeof fields['redirectUrl'] === 'string' ? fields['redirectUrl'] : null,
      webhookUrl: typeof fields['webhookUrl'] === 'string' ? fields['webhookUrl'] : null,
      ...(recurring || first ? { customerId: fields['customerId'] as string } : {}),
      ...(typeof fields['mandateId'] === 'string' ? { mandateId: fields['mandateId'] } : {}),
      profileId: 'pfl_fake0001',
      _links: {
        self: { href: `${this.base}/v2/payments/${id}`, type: 'application/hal+json' },
        ...(recurring
          ? {}
          : {
              checkout: {
                href: this.hostedCheckout ? `${this.base}/checkout/${id}` : `https://www.mollie.com/checkout/select-method/${id}`,
                type: 'text/html',
              },
            }),
      },
    };
    this.payments.set(id, payment);
    if (key !== undefined) this.byIdempotencyKey.set(key, payment);
    send(response, 201, payment);
  }

  /** The hosted checkout: a page with a Pay button; paying calls the webhook, then returns the holder. */
  private async checkout(method: string, path: string, response: ServerResponse): Promise<void> {
    const match = /^\/checkout\/(tr_[a-f0-9]+)(\/pay)?$/.exec(path);
    const payment = match === null ? undefined : this.payments.get(match[1] ?? '');
    if (match === null || payment === undefined) return send(response, 404, mollieError(404, 'Not Found', 'No such checkout'));
    if (method === 'GET' && match[2] === undefined) {
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      response.end(
        `<!doctype html><html lang="en"><head><title>Checkout</title></head><body><main><h1>Pay ${payment.amount.currency} ${payment.amount.value}</h1>` +
          `<form method="post" action="/checkout/${payment.id}/pay"><button id="psp-pay" type="submit">Pay</button></form></main></body></html>`,
      );
      return;
    }
    if (method !== 'POST' || match[2] === undefined) return send(response, 405, mollieError(405, 'Method Not Allowed', 'GET or POST'));
    this.setStatus(payment, 'paid');
    const status = await this.callWebhook(payment.id, this.webhookVia);
    if (status !== 200) return send(response, 502, mollieError(502, 'Bad Gateway', `the webhook answered ${status}`));
    response.writeHead(303, { location: payment.redirectUrl ?? '/' });
    response.end();
  }

  /** Mollie's 422 for a create request it refuses, or undefined. */
  private refusalOf(body: unknown): Record<string, unknown> | undefined {
    if (typeof body !== 'object' || body === null) return mollieError(400, 'Bad Request', 'The request body is not JSON');
    const fields = body as Record<string, unknown>;
    const amount = fields['amount'] as Record<string, unknown> | undefined;
    const currency = amount?.['currency'];
    const places = typeof currency === 'string' ? decimals[currency] : undefined;
    if (places === undefined) return mollieError(422, 'Unprocessable Entity', 'The currency is not supported', 'amount.currency');
    const value = amount?.['value'];
    const pattern = places === 0 ? /^[0-9]+$/ : new RegExp(`^[0-9]+\\.[0-9]{${places}}$`);
    if (typeof value !== 'string' || !pattern.test(value))
      return mollieError(422, 'Unprocessable Entity', 'The amount contains an invalid value', 'amount.value');
    if (typeof fields['description'] !== 'string' || fields['description'] === '')
      return mollieError(422, 'Unprocessable Entity', 'The description is invalid', 'description');
    const method = fields['method'];
    if (method !== undefined && (typeof method !== 'string' || !methods.has(method)))
      return mollieError(422, 'Unprocessable Entity', 'The payment method is invalid', 'method');
    if (fields['sequenceType'] === 'recurring') {
      const customer = fields['customerId'];
      const mandates = typeof customer === 'string' ? this.customers.get(customer) : undefined;
      if (mandates === undefined || mandates.size === 0)
        return mollieError(422, 'Unprocessable Entity', 'The customer has no valid mandate', 'customerId');
      const mandate = fields['mandateId'];
      if (mandate !== undefined && (typeof mandate !== 'string' || !mandates.has(mandate)))
        return mollieError(422, 'Unprocessable Entity', 'The mandate is not valid', 'mandateId');
      return undefined;
    }
    if (fields['sequenceType'] === 'first') {
      const customer = fields['customerId'];
      if (typeof customer !== 'string' || !this.customers.has(customer))
        return mollieError(422, 'Unprocessable Entity', 'A first payment needs an existing customer', 'customerId');
    } else if (fields['sequenceType'] !== undefined && fields['sequenceType'] !== 'oneoff')
      return mollieError(422, 'Unprocessable Entity', 'The sequence type is invalid', 'sequenceType');
    if (typeof fields['redirectUrl'] !== 'string')
      return mollieError(422, 'Unprocessable Entity', 'The redirect URL is required', 'redirectUrl');
    return undefined;
  }
}

function headerOf(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return typeof value === 'string' ? value : undefined;
}

function send(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/hal+json' });
  response.end(JSON.stringify(body));
}

async function readJson(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
