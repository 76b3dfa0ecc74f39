// The PSP webhook listener: the HTTP endpoint Mollie posts a payment's status change to
// ("id=tr_..." as application/x-www-form-urlencoded, unsigned), on the path of
// TAPLINE_PSP_WEBHOOK_URL, with the card the payment was started for in the URL's query. Nothing
// in the request is trusted: the id and the card only say which payment to fetch from the PSP and
// which node to ask (the card's owner), and the owner acts only on what the PSP's API answers.
//
// Answers, as Mollie expects them: 200 once the payment was handled (topped up, a failure or a
// payment still under way acknowledged) and also for a payment the PSP does not know, so a
// sender learns nothing by probing; 503 when the outcome is unknown (a store or the PSP did not
// answer, the shard was moving), so Mollie delivers it again; 400 for a request that is no
// webhook of ours; 404 / 405 for other paths and methods.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { TaplineError } from '../../../actors/errors';
import type { PspWebhookOutcome } from '../usecases/card-fanout';
import { id_pattern } from '../../common/ids';
import { mollie_payment_id_pattern } from './mollie';

/** A webhook body is "id=tr_..." (tens of bytes); more is not Mollie's. */
export const webhook_body_bytes_max = 1_024;
/** Webhooks handled at once; past it 503 (the PSP retries), so a flood cannot queue without bound. */
export const webhook_in_flight_max = 256;
/** How long one webhook request may take end to end before its socket is closed. */
export const webhook_request_timeout_ms = 30_000;

export interface WebhookEndpoint {
  readonly host: string;
  readonly port: number;
  /** The path Mollie posts to (the path of TAPLINE_PSP_WEBHOOK_URL). */
  readonly path: string;
  readonly handle: (paymentId: string, cardId: string) => Promise<PspWebhookOutcome>;
  readonly logger: Logger;
}

export function servePspWebhook(endpoint: WebhookEndpoint): Promise<Server> {
  let inFlight = 0;
  const server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://webhook.invalid');
    if (url.pathname !== endpoint.path) return answer(response, 404);
    if (request.method !== 'POST') return answer(response, 405);
    if (inFlight >= webhook_in_flight_max) return answer(response, 503);
    inFlight += 1;
    void handleWebhook(endpoint, request, url)
      .then(
        (status) => answer(response, status),
        (error: unknown) => {
          endpoint.logger.error({ err: error }, 'PSP webhook failed');
          answer(response, 500);
        },
      )
      .finally(() => (inFlight -= 1));
  });
  server.requestTimeout = webhook_request_timeout_ms;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(endpoint.port, endpoint.host, () => resolve(server));
  });
}

function answer(response: ServerResponse, status: number): void {
  response.writeHead(status, { 'content-type': 'text/plain' });
  response.end(status === 200 ? 'ok' : '');
}

async function handleWebhook(endpoint: WebhookEndpoint, request: IncomingMessage, url: URL): Promise<number> {
  const body = await readBody(request);
  if (body === undefined) return 400;
  const paymentId = new URLSearchParams(body).get('id') ?? '';
  const cardId = url.searchParams.get('card') ?? '';
  if (!mollie_payment_id_pattern.test(paymentId) || !id_pattern.test(cardId)) return 400;
  try {
    const handled = await endpoint.handle(paymentId, cardId);
    if (handled.outcome === 'unknown') endpoint.logger.warn({ paymentId, cardId }, 'PSP webhook names no payment of its card');
    return 200;
  } catch (error) {
    // A refusal (the card is unknown, the PSP refused) will not change on a retry; anything else
    // (the store, the PSP or the shard's owner did not answer) may, so the PSP delivers it again.
    if (error instanceof TaplineError && (error.code === 'not_found' || error.code === 'failed_precondition')) {
      endpoint.logger.warn({ paymentId, cardId, code: error.code }, 'PSP webhook refused');
      return 200;
    }
    endpoint.logger.warn({ err: error, paymentId, cardId }, 'PSP webhook not applied; the PSP delivers it again');
    return 503;
  }
}

/** The body as text, or undefined when it is larger than a webhook's. */
function readBody(request: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    // Past the bound the rest is read and dropped (the request timeout bounds how long).
    request.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes <= webhook_body_bytes_max) chunks.push(chunk);
    });
    request.on('end', () => resolve(bytes > webhook_body_bytes_max ? undefined : Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}
