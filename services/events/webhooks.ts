// Outbound webhooks: which endpoints exist, which events each wants, and the body each event is
// sent as. Endpoints are configuration (HTTP API, stored in Redis), so an external service (bill
// payment, accounting, prepaid refill) connects without a code change: it is given a URL, a list
// of event names and a secret to verify signatures with (webhook-signature.ts).

import { z } from 'zod';
import { event_pattern, eventName, matchesPattern, webhookData, type RelayEvent } from './events';

/** Endpoints one installation has: every event is matched against each. */
export const endpoints_max = 100;

export const endpoint_schema = z
  .object({
    url: z
      .string()
      .max(2_048)
      .url()
      .refine((url) => /^https?:\/\//.test(url), { message: 'must be an http or https URL' }),
    events: z.array(z.string().regex(event_pattern)).min(1).max(64),
    enabled: z.boolean().default(true),
    description: z.string().max(200).default(''),
  })
  .strict();
export type EndpointInput = z.infer<typeof endpoint_schema>;

export interface WebhookEndpoint extends EndpointInput {
  readonly id: string;
  /** "whsec_...": shown once when created, never listed again. */
  readonly secret: string;
  readonly updated_by: string;
  readonly updated_at_ms: number;
}

/** An endpoint as listed: everything but the secret. */
export function endpointView(endpoint: WebhookEndpoint): Omit<WebhookEndpoint, 'secret'> {
  return {
    id: endpoint.id,
    url: endpoint.url,
    events: endpoint.events,
    enabled: endpoint.enabled,
    description: endpoint.description,
    updated_by: endpoint.updated_by,
    updated_at_ms: endpoint.updated_at_ms,
  };
}

/** The body of one event's webhook (the Standard Webhooks payload shape: type, timestamp, data). */
export function webhookBody(event: RelayEvent): string {
  return JSON.stringify({ type: eventName(event), timestamp: new Date(event.at_ms).toISOString(), data: webhookData(event) });
}

/** The endpoints that want an event. */
export function endpointsFor(event: RelayEvent, endpoints: readonly WebhookEndpoint[]): WebhookEndpoint[] {
  const name = eventName(event);
  return endpoints.filter((endpoint) => endpoint.enabled && endpoint.events.some((pattern) => matchesPattern(name, pattern)));
}
