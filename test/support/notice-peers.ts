// The peers notices and webhooks talk to, run locally for the tests: a real SMTP server (the
// smtp-server package) that keeps every message it accepted, an HTTP server implementing the
// documented contract of Twilio's "Create a Message resource" call, and a webhook receiver that
// verifies every delivery with the receiver-side helper. Each can be told to fail the next N
// requests (as a provider outage) so retries are exercised.

import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { verifyWebhook } from '../../services/events/webhook-signature';

export interface SmtpPeer {
  readonly port: number;
  /** Every message accepted, parsed from its raw bytes. */
  readonly messages: ParsedMail[];
  /** Answer 451 (try later) to the next N messages. */
  failNext(count: number): void;
  stop(): Promise<void>;
}

export async function startSmtpPeer(): Promise<SmtpPeer> {
  const messages: ParsedMail[] = [];
  let failures = 0;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, _session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        if (failures > 0) {
          failures -= 1;
          const error = Object.assign(new Error('mailbox busy, try later'), { responseCode: 451 });
          callback(error);
          return;
        }
        simpleParser(Buffer.concat(chunks)).then(
          (parsed) => {
            messages.push(parsed);
            callback();
          },
          (error: Error) => callback(error),
        );
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.server.address() as AddressInfo).port;
  return {
    port,
    messages,
    failNext: (count) => {
      failures = count;
    },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export interface SmsPeer {
  readonly baseUrl: string;
  readonly accountSid: string;
  readonly authToken: string;
  /** Accepted messages: To, From, Body as posted. */
  readonly messages: { to: string; from: string; body: string; sid: string }[];
  /** Requests refused for bad credentials or a missing field. */
  readonly refused: number;
  failNext(count: number): void;
  stop(): Promise<void>;
}

async function listen(handler: http.RequestListener): Promise<{ server: http.Server; port: number }> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return { server, port: (server.address() as AddressInfo).port };
}

function readBody(request: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    request.setEncoding('utf8');
    request.on('data', (chunk: string) => (text += chunk));
    request.on('end', () => resolve(text));
    request.on('error', reject);
  });
}

/** Twilio's Messages API as documented: Basic auth with the account SID, form body, 201 with a sid. */
export async function startSmsPeer(accountSid = 'AC0123456789abcdef0123456789abcdef', authToken = 'test-token'): Promise<SmsPeer> {
  const state = { refused: 0, failures: 0, counter: 0 };
  const messages: SmsPeer['messages'] = [];
  const expectedAuth = `Basic ${Buffer.from(`${accountSid}:${authToken}`).toString('base64')}`;
  const { server, port } = await listen((request, response) => {
    void readBody(request).then((text) => {
      const reply = (status: number, body: unknown): void => {
        response.writeHead(status, { 'content-type': 'application/json' });
        response.end(JSON.stringify(body));
      };
      if (request.method !== 'POST' || request.url !== `/2010-04-01/Accounts/${accountSid}/Messages.json`)
        return reply(404, { code: 20404, message: 'not found', status: 404 });
      if (request.headers.authorization !== expectedAuth) {
        state.refused += 1;
        return reply(401, { code: 20003, message: 'Authenticate', status: 401 });
      }
      if (state.failures > 0) {
        state.failures -= 1;
        return reply(503, { code: 20503, message: 'Service unavailable', status: 503 });
      }
      const form = new URLSearchParams(text);
      const [to, from, body] = [form.get('To'), form.get('From'), form.get('Body')];
      if (request.headers['content-type'] !== 'application/x-www-form-urlencoded' || to === null || from === null || body === null) {
        state.refused += 1;
        return reply(400, { code: 21604, message: 'A To, From and Body are required', status: 400 });
      }
      state.counter += 1;
      const sid = `SM${String(state.counter).padStart(32, '0')}`;
      messages.push({ to, from, body, sid });
      return reply(201, { sid, status: 'queued', to, from, body, account_sid: accountSid });
    });
  });
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    accountSid,
    authToken,
    messages,
    get refused() {
      return state.refused;
    },
    failNext: (count) => {
      state.failures = count;
    },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export interface WebhookPeer {
  readonly url: string;
  /** The secret to verify with (set after the endpoint is created). */
  secret: string;
  /** Deliveries that verified, in arrival order (a retry of one delivery arrives with the same id). */
  readonly received: { id: string; type: string; data: Record<string, unknown> }[];
  /** Deliveries whose signature did not verify. */
  readonly unverified: string[];
  failNext(count: number): void;
  stop(): Promise<void>;
}

export async function startWebhookPeer(): Promise<WebhookPeer> {
  const state = { failures: 0 };
  const peer: Omit<WebhookPeer, 'url' | 'stop' | 'failNext'> = { secret: '', received: [], unverified: [] };
  const { server, port } = await listen((request, response) => {
    void readBody(request).then((body) => {
      const verified = verifyWebhook(peer.secret, request.headers, body, Math.floor(Date.now() / 1000));
      if (!verified.ok) {
        peer.unverified.push(verified.reason);
        response.writeHead(400).end();
        return;
      }
      if (state.failures > 0) {
        state.failures -= 1;
        response.writeHead(500).end('try again');
        return;
      }
      const parsed = JSON.parse(body) as { type: string; data: Record<string, unknown> };
      peer.received.push({ id: verified.id, type: parsed.type, data: parsed.data });
      response.writeHead(204).end();
    });
  });
  return Object.assign(peer, {
    url: `http://127.0.0.1:${port}/hooks`,
    failNext: (count: number) => {
      state.failures = count;
    },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  });
}
