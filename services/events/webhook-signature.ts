// Webhook signatures as the Standard Webhooks specification defines them (standardwebhooks.com),
// so a receiver can verify with any library that implements it, or with `verifyWebhook` below
// (node:crypto only; copy it into a receiver as it is). Three headers travel with every delivery:
//
//   webhook-id         the delivery id: the same on every retry of one delivery (deduplicate by it)
//   webhook-timestamp  unix seconds when this attempt was signed
//   webhook-signature  "v1,<base64 HMAC-SHA256(key, id + '.' + timestamp + '.' + body)>"
//
// The key is the endpoint's secret "whsec_<base64 of 32 random bytes>", shown once when the
// endpoint is created. A receiver refuses a timestamp more than `tolerance_s` away from its clock
// (a replayed old delivery) and compares signatures in constant time.

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const secret_prefix = 'whsec_';
/** How far a receiver accepts the timestamp from its own clock (the specification's default). */
export const signature_tolerance_s = 300;

export function newWebhookSecret(): string {
  return secret_prefix + randomBytes(32).toString('base64');
}

function keyOf(secret: string): Buffer {
  if (!secret.startsWith(secret_prefix)) throw new Error('a webhook secret starts with whsec_');
  return Buffer.from(secret.slice(secret_prefix.length), 'base64');
}

/** The signature header value for one attempt. */
export function signWebhook(secret: string, id: string, timestamp_s: number, body: string): string {
  const mac = createHmac('sha256', keyOf(secret)).update(`${id}.${timestamp_s}.${body}`).digest('base64');
  return `v1,${mac}`;
}

/** The headers of one attempt (content type included). */
export function webhookHeaders(secret: string, id: string, timestamp_s: number, body: string): Record<string, string> {
  return {
    'content-type': 'application/json',
    'webhook-id': id,
    'webhook-timestamp': String(timestamp_s),
    'webhook-signature': signWebhook(secret, id, timestamp_s, body),
  };
}

export type VerifyResult = { readonly ok: true; readonly id: string } | { readonly ok: false; readonly reason: string };

/**
 * Receiver side: checks the headers (names lower-case, as node:http gives them) against the raw
 * body bytes as received. The signature header may list several space-separated signatures
 * (during a secret rotation); one valid v1 signature is enough.
 */
export function verifyWebhook(
  secret: string,
  headers: Readonly<Record<string, string | string[] | undefined>>,
  body: string,
  now_s: number,
  tolerance_s = signature_tolerance_s,
): VerifyResult {
  const id = headers['webhook-id'];
  const timestamp = headers['webhook-timestamp'];
  const signatures = headers['webhook-signature'];
  if (typeof id !== 'string' || typeof timestamp !== 'string' || typeof signatures !== 'string')
    return { ok: false, reason: 'missing webhook-id, webhook-timestamp or webhook-signature' };
  if (!/^[0-9]{1,12}$/.test(timestamp)) return { ok: false, reason: 'malformed timestamp' };
  if (Math.abs(now_s - Number(timestamp)) > tolerance_s) return { ok: false, reason: 'timestamp outside the tolerance' };
  const expected = Buffer.from(signWebhook(secret, id, Number(timestamp), body).slice('v1,'.length), 'base64');
  for (const candidate of signatures.split(' ')) {
    if (!candidate.startsWith('v1,')) continue;
    const given = Buffer.from(candidate.slice('v1,'.length), 'base64');
    if (given.length === expected.length && timingSafeEqual(given, expected)) return { ok: true, id };
  }
  return { ok: false, reason: 'no matching signature' };
}
