// Requests to the reports service that are not a JSON report read for a page: a document the
// person downloads (CSV, PDF, JSON streamed back through the portal as it comes) and a settlement
// action posted with a JSON body. Both carry the person's token, like every backend call, so the
// reports service applies its own rules (scope, four eyes) to the person.

import * as https from 'node:https';
import type { IncomingMessage } from 'node:http';
import { rejected, TaplineError, unavailable } from '../../actors/errors';
import { http_rejections, type Backend } from './backend';

/** A JSON body the portal posts is a few fields. */
export const post_body_bytes_max = 4_096;
/** An answer to a posted action is one batch or one account: it is read whole and bounded. */
export const action_answer_bytes_max = 1024 * 1024;

function requestOptions(backend: Backend, token: string, method: string, accept: string): https.RequestOptions {
  return {
    method,
    ca: backend.ca,
    headers: { authorization: `Bearer ${token}`, accept },
    timeout: backend.settings.call_timeout_ms,
    ...(backend.settings.server_name === undefined ? {} : { servername: backend.settings.server_name }),
  };
}

/** A refusal of the reports service as the domain's error (403, 404, ... on the portal's page too). */
function refusalOf(response: IncomingMessage): Error | undefined {
  const status = response.statusCode ?? 0;
  const code = http_rejections.get(status);
  if (code !== undefined) return rejected(code, `the reports service answered ${status}`);
  if (status < 200 || status >= 300) return unavailable('the reports service failed', { status });
  return undefined;
}

function transportError(error: unknown): Error {
  return error instanceof TaplineError ? error : unavailable('the reports service is unreachable', {}, { cause: error });
}

/**
 * Opens a document of the reports service as the person: resolves with the response once its
 * status is a success (the caller streams it on), or rejects with the refusal.
 */
export function openDocument(backend: Backend, token: string, path: string): Promise<IncomingMessage> {
  const url = new URL(path, backend.settings.reports_url);
  return new Promise((resolve, reject) => {
    const request = https.request(url, requestOptions(backend, token, 'GET', '*/*'), (response) => {
      const refusal = refusalOf(response);
      if (refusal === undefined) return resolve(response);
      response.resume();
      return reject(refusal);
    });
    request.on('timeout', () => request.destroy(unavailable('the reports service did not answer in time', { path: url.pathname })));
    request.on('error', (error) => reject(transportError(error)));
    request.end();
  });
}

/** Posts a settlement action with its JSON body as the person; resolves with the JSON answer. */
export function postAction(backend: Backend, token: string, path: string, body: Record<string, unknown>): Promise<Record<string, unknown>> {
  const url = new URL(path, backend.settings.reports_url);
  const payload = Buffer.from(JSON.stringify(body), 'utf8');
  if (payload.length > post_body_bytes_max) throw new Error('assertion: the portal posts small bodies');
  const options = requestOptions(backend, token, 'POST', 'application/json');
  options.headers = { ...options.headers, 'content-type': 'application/json', 'content-length': String(payload.length) };
  return new Promise((resolve, reject) => {
    const request = https.request(url, options, (response) => {
      const chunks: Buffer[] = [];
      let bytes = 0;
      response.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        if (bytes > action_answer_bytes_max) request.destroy(unavailable('the settlement answer is larger than expected', { bytes }));
        else chunks.push(chunk);
      });
      response.on('end', () => {
        const refusal = refusalOf(response);
        if (refusal !== undefined) return reject(refusal);
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>);
        } catch (error) {
          reject(unavailable('the reports service answered no JSON', {}, { cause: error }));
        }
      });
      response.on('error', reject);
    });
    request.on('timeout', () => request.destroy(unavailable('the reports service did not answer in time', { path: url.pathname })));
    request.on('error', (error) => reject(transportError(error)));
    request.end(payload);
  });
}
