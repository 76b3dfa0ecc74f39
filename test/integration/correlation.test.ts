// Proves invariant 5 (every reply reaches the caller whose request it answers) at scale:
// 100,000 requests in flight at once against a node process (50,000 unary calls and 50,000
// AuthorizeStream items over four streams), across 2,000 cards, each request with a distinct
// amount. Every reply must carry its own request's amount, none may be lost or duplicated, and
// the money Redis moved must equal the sum of the approvals the clients received. Clients retry
// what the retry policy says to retry (same request, same key), as a terminal does; the answers to
// those retries must match their requests too.

import assert from 'node:assert/strict';
import type { RedisInstance } from '../../tools/devenv/redis';
import type { ServerProcess } from '../../tools/devenv/node-process';
import { TaplineClient, purchase } from '../../tools/client/tapline-client';
import { Outcome } from '../../gen/tapline/v1/types';
import * as grpc from '@grpc/grpc-js';
import type { AuthorizeRequest, AuthorizeResponse, AuthorizeStreamResponse } from '../../gen/tapline/v1/authorization';
import { startNodeProcess, startTestRedis, accessTo } from '../support/harness';
import { connectInspector } from '../support/redis-inspect';

const cards = 2_000;
const unary_requests = 50_000;
const stream_requests = 50_000;
const streams = 4;
const frame_items = 500; // divides the 12,500 items of each stream exactly
const initial_balance_minor = 1_000_000_000;

/** What a client retries with the same key (README, "Errors and retries"); the rest is final. */
const retryable_codes: ReadonlySet<number> = new Set([
  grpc.status.UNAVAILABLE,
  grpc.status.RESOURCE_EXHAUSTED,
  grpc.status.DEADLINE_EXCEEDED,
]);

/**
 * A call the server never answered: the stream was reset without a status (grpc-js reports it as
 * INTERNAL with this text). Its outcome is unknown, so it is retried with the same key.
 */
function endedWithoutStatus(error: grpc.ServiceError): boolean {
  return error.code === grpc.status.INTERNAL && /RST_STREAM|without gRPC status/.test(error.details ?? '');
}

/** Authorize as a terminal does: a failure worth retrying is retried with the same request (key), backing off. */
async function authorizeRetrying(client: TaplineClient, request: AuthorizeRequest): Promise<AuthorizeResponse> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await client.authorize(request, 120_000);
    } catch (error) {
      const failure = error as grpc.ServiceError;
      if (!(retryable_codes.has(failure.code) || endedWithoutStatus(failure)) || attempt >= 20) throw error;
      await new Promise((resolve) => setTimeout(resolve, Math.min(2_000, 50 * 2 ** attempt)));
    }
  }
}

describe('100,000 requests in flight: every reply matches its request', function () {
  this.timeout(300_000);
  let redis: RedisInstance;
  let node: ServerProcess;
  let clients: TaplineClient[];

  before(async function () {
    redis = await startTestRedis('correlation');
    // Cards hold 10,000,000.00 each so no request is declined; issuing that much needs a second
    // principal by default (four eyes), which is not what this suite is about: the bound is raised.
    node = await startNodeProcess(redis.url, { TAPLINE_LOG_LEVEL: 'warn', TAPLINE_FOUR_EYES_AMOUNT_MINOR: String(initial_balance_minor) });
    const access = await accessTo(node);
    clients = Array.from({ length: 4 }, (_, i) => new TaplineClient(access, { 'grpc.channel_id': i }));
    const admin = clients[0] as TaplineClient;
    await admin.registerTerminal('gw-1', 'venue');
    for (let start = 0; start < cards; start += 500) {
      await Promise.all(Array.from({ length: 500 }, (_, k) => admin.issueCard(`corr-${start + k}`, initial_balance_minor)));
    }
  });

  after(async function () {
    for (const client of clients ?? []) client.close();
    await node?.terminate();
    await redis?.stop();
  });

  it('answers each of 100,000 concurrent requests with its own amount, exactly once', async function () {
    // Amount n+1 for request n: distinct across all 100,000, so a crossed reply is visible.
    const unaryReplies = Array.from({ length: unary_requests }, (_, n) =>
      authorizeRetrying(clients[n % clients.length] as TaplineClient, purchase('gw-1', n + 1, `corr-${n % cards}`, n + 1)).then(
        (reply) => ({ n, reply }),
      ),
    );

    const streamSeen = new Map<string, bigint | undefined>();
    let streamDuplicates = 0;
    const streamDone = Array.from({ length: streams }, (_, s) =>
      (clients[s % clients.length] as TaplineClient).gateway(['venue']).then(
        (gateway) =>
          new Promise<void>((resolve, reject) => {
            const call = gateway.authorizeStream();
            call.on('data', (frame: AuthorizeStreamResponse) => {
              for (const result of frame.results) {
                if (streamSeen.has(result.correlationId)) streamDuplicates += 1;
                streamSeen.set(
                  result.correlationId,
                  result.statusCode === 0 ? result.reply?.approvedAmount?.amountMinor : -BigInt(result.statusCode),
                );
              }
            });
            call.on('end', resolve);
            call.on('error', reject);
            const per = stream_requests / streams;
            for (let offset = 0; offset < per; offset += frame_items) {
              const items = Array.from({ length: frame_items }, (_, k) => {
                const n = unary_requests + s * per + offset + k;
                return { correlationId: `n${n}`, request: purchase('gw-1', n + 1, `corr-${n % cards}`, n + 1) };
              });
              call.write({ items });
            }
            call.end();
          }),
      ),
    );

    const replies = await Promise.all(unaryReplies);
    await Promise.all(streamDone);
    // A stream item refused for a reason worth retrying is retried as a client does: the same
    // request (the same terminal transaction number, so the same key), here as a unary call.
    for (const [correlationId, amount] of streamSeen) {
      if (amount === undefined || amount >= 0n || !retryable_codes.has(Number(-amount))) continue;
      const n = Number(correlationId.slice(1));
      const reply = await authorizeRetrying(clients[0] as TaplineClient, purchase('gw-1', n + 1, `corr-${n % cards}`, n + 1));
      streamSeen.set(correlationId, reply.approvedAmount?.amountMinor);
    }

    let approvedTotal = 0;
    for (const { n, reply } of replies) {
      assert.equal(reply.outcome, Outcome.OUTCOME_APPROVED, `request ${n} approved`);
      assert.equal(reply.approvedAmount?.amountMinor, BigInt(n + 1), `unary reply ${n} carries its own amount`);
      approvedTotal += n + 1;
    }
    assert.equal(streamDuplicates, 0, 'no stream item answered twice');
    assert.equal(streamSeen.size, stream_requests, 'every stream item answered');
    for (let n = unary_requests; n < unary_requests + stream_requests; n++) {
      assert.equal(streamSeen.get(`n${n}`), BigInt(n + 1), `stream item n${n} carries its own amount`);
      approvedTotal += n + 1;
    }

    const inspect = await connectInspector(redis.url);
    try {
      let remaining = 0;
      for (let c = 0; c < cards; c++) remaining += (await inspect.card(`corr-${c}`))?.balanceMinor ?? Number.NaN;
      assert.equal(cards * initial_balance_minor - remaining, approvedTotal, 'Redis moved exactly the approved total');
    } finally {
      await inspect.close();
    }
  });
});
