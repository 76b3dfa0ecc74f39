// One HTTP(S) request to the reports service with a bearer token, verifying the server against the
// given CA (Node's fetch cannot be given a CA without another library). For the demo, the tests and
// the benchmark; every request has a timeout.

import * as http from 'node:http';
import * as https from 'node:https';

export interface HttpReply {
  readonly status: number;
  readonly body: string;
  /** The body as received (a PDF is not UTF-8). */
  readonly bytes: Buffer;
  readonly headers: http.IncomingHttpHeaders;
}

export interface HttpOptions {
  readonly method?: string;
  readonly body?: string;
  /** Sent as `authorization: Bearer <token>`. */
  readonly token?: string;
  /** The CA that signed the server (https URLs). */
  readonly ca?: Buffer | undefined;
  readonly headers?: Record<string, string>;
  readonly timeout_ms?: number;
}

export function httpRequest(url: string, options: HttpOptions = {}): Promise<HttpReply> {
  const target = new URL(url);
  const headers: Record<string, string> = { ...(options.headers ?? {}) };
  if (options.token !== undefined) headers['authorization'] = `Bearer ${options.token}`;
  if (options.body !== undefined) {
    headers['content-type'] ??= 'application/json';
    headers['content-length'] = String(Buffer.byteLength(options.body));
  }
  const common = { method: options.method ?? 'GET', headers, timeout: options.timeout_ms ?? 30_000 };
  return new Promise((resolve, reject) => {
    const done = (response: http.IncomingMessage): void => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        const bytes = Buffer.concat(chunks);
        resolve({ status: response.statusCode ?? 0, body: bytes.toString('utf8'), bytes, headers: response.headers });
      });
      response.on('error', reject);
    };
    const request =
      target.protocol === 'https:'
        ? https.request(target, { ...common, ...(options.ca === undefined ? {} : { ca: options.ca }) }, done)
        : http.request(target, common, done);
    request.on('timeout', () => request.destroy(new Error(`${url}: no answer within ${common.timeout} ms`)));
    request.on('error', reject);
    request.end(options.body);
  });
}
