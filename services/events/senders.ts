// How each channel's delivery leaves Tapline. Every sender answers what happened in the same
// three ways, and the worker (worker.ts) decides retries from it alone:
//   ok                   the receiver accepted it (its reference kept, e.g. the SMS id)
//   failed, retry        worth trying again later: no answer, a time-out, 408, 429 or a 5xx
//   failed, no retry     the receiver refused it for good (another 4xx, a rejected address)
// Senders never throw for a receiver's failure; a thrown error is a programmer error.

import type { Delivery } from './store';
import { webhookHeaders } from './webhook-signature';

export type SendOutcome =
  | { readonly ok: true; readonly provider_ref: string; readonly detail: string }
  | { readonly ok: false; readonly retry: boolean; readonly detail: string };

export interface Sender {
  send(delivery: Delivery, now_ms: number): Promise<SendOutcome>;
}

/** Longest receiver answer kept in a delivery's history. */
export const detail_chars_max = 200;

export function outcomeOfStatus(status: number, body: string, provider_ref = ''): SendOutcome {
  const detail = `HTTP ${status}${body === '' ? '' : `: ${body.slice(0, detail_chars_max)}`}`;
  if (status >= 200 && status < 300) return { ok: true, provider_ref, detail };
  return { ok: false, retry: status === 408 || status === 429 || status >= 500, detail };
}

export function outcomeOfError(error: unknown): SendOutcome {
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return { ok: false, retry: true, detail: message.slice(0, detail_chars_max) };
}

/** What a webhook sender needs to know of an endpoint when it sends. */
export interface EndpointTarget {
  readonly url: string;
  readonly secret: string;
  readonly enabled: boolean;
}

/**
 * POSTs the delivery's payload to its endpoint, signed (webhook-signature.ts), within
 * `timeout_ms`. Redirects are not followed: a receiver that moved must be reconfigured.
 */
export class WebhookSender implements Sender {
  constructor(
    private readonly endpointOf: (id: string) => Promise<EndpointTarget | undefined>,
    private readonly timeout_ms: number,
  ) {}

  async send(delivery: Delivery, now_ms: number): Promise<SendOutcome> {
    const endpoint = await this.endpointOf(delivery.target);
    if (endpoint === undefined) return { ok: false, retry: false, detail: 'the endpoint was removed' };
    if (!endpoint.enabled) return { ok: false, retry: true, detail: 'the endpoint is disabled' };
    try {
      const response = await fetch(endpoint.url, {
        method: 'POST',
        headers: webhookHeaders(endpoint.secret, delivery.id, Math.floor(now_ms / 1000), delivery.payload),
        body: delivery.payload,
        redirect: 'manual',
        signal: AbortSignal.timeout(this.timeout_ms),
      });
      const body = (await response.text()).slice(0, detail_chars_max);
      return outcomeOfStatus(response.status, body);
    } catch (error) {
      return outcomeOfError(error);
    }
  }
}
