// Proves what one client connection can hold on a node:
// - stream items read and not yet written back are bounded per stream, and over all streams of a
//   connection: two streams on one connection that never read hold the connection's bound
//   together, while two connections hold one bound each (tapline_stream_pending_items);
// - a stream that reads its results gets them all, however many items it sends;
// - calls open at once on one connection are bounded (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS): the
//   node advertises the bound, and a call past it waits until one of the open ones ends;
// - a connection older than its maximum age is closed after its grace, even with a stream open,
//   and the client's next call is served on a new connection.
//
// How: in-process nodes with small bounds on private Redis instances, clients speaking gRPC over
// hand-driven HTTP/2 connections (streams that are never read) and grpc-js channels.

import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import type { AuthorizerNode } from '../../services/authorizer/node';
import type { RedisInstance } from '../../tools/devenv/redis';
import { AuthorizeStreamRequest, AuthorizeStreamResponse, GetBalanceRequest } from '../../gen/tapline/v1/authorization';
import { startInProcessNode, startTestRedis, waitFor } from '../support/harness';
import { rawDoors, type RawDoors, type UnreadStream } from '../support/raw-grpc';

const stream_path = '/tapline.v1.AuthorizationService/AuthorizeStream';
const balance_path = '/tapline.v1.AuthorizationService/GetBalance';
const stream_pending_max = 300;
const frame_items = 100;
const blocked_after_ms = 2_000;

/** A frame of items the node refuses at once (no request): each is still owed a result. */
function refusedItems(first: number): Buffer {
  const items = Array.from({ length: frame_items }, (_, n) => ({ correlationId: `c-${first + n}`, request: undefined }));
  return Buffer.from(AuthorizeStreamRequest.encode({ items }).finish());
}

async function pendingItems(node: AuthorizerNode): Promise<number> {
  const metric = node.metrics.registry.getSingleMetric('tapline_stream_pending_items');
  const values = (await metric?.get())?.values ?? [];
  return values[0]?.value ?? 0;
}

async function fillUntilBlocked(stream: UnreadStream): Promise<void> {
  const outcome = await stream.writeUntilBlocked((index) => refusedItems(index * frame_items), {
    messages_max: 10_000,
    blocked_after_ms,
  });
  assert.ok(outcome.blocked, `the node stopped taking the stream (took ${outcome.written} frames)`);
}

describe('what one client connection can hold (in-process node, real gRPC over HTTP/2)', function () {
  this.timeout(120_000);
  let redis: RedisInstance;
  let node: AuthorizerNode;
  let doors: RawDoors;

  before(async function () {
    redis = await startTestRedis('connection-limits');
    node = await startInProcessNode(redis.url, {
      TAPLINE_STREAM_FRAME_ITEMS_MAX: String(frame_items),
      TAPLINE_STREAM_PENDING_ITEMS_MAX: String(stream_pending_max),
      TAPLINE_CONNECTION_PENDING_ITEMS_MAX: String(stream_pending_max),
      TAPLINE_GRPC_STREAMS_PER_CONNECTION_MAX: '4',
    });
    doors = await rawDoors(node);
  });

  after(async function () {
    doors?.close();
    await node?.shutdown();
    await redis?.stop();
  });

  it('two unread streams on one connection hold one connection bound; on two connections, one bound each', async function () {
    // Each read frame is handled whole, so a stream may pass its bound by up to one frame.
    const slack = frame_items;
    const shared = doors.rawConnection();
    const first = shared.unreadStream(stream_path);
    const second = shared.unreadStream(stream_path);
    await fillUntilBlocked(first);
    await fillUntilBlocked(second);
    const onOneConnection = await pendingItems(node);
    assert.ok(onOneConnection <= stream_pending_max + slack, `one connection holds ${onOneConnection} items (bound ${stream_pending_max})`);
    const other = doors.rawConnection();
    const third = other.unreadStream(stream_path);
    await fillUntilBlocked(third);
    const onTwoConnections = await pendingItems(node);
    console.log(`      pending items: ${onOneConnection} on one connection (two streams), ${onTwoConnections} on two connections`);
    assert.ok(onTwoConnections > onOneConnection, `a second connection holds its own bound (${onOneConnection} -> ${onTwoConnections})`);
    assert.ok(onTwoConnections <= 2 * (stream_pending_max + slack), `two connections hold ${onTwoConnections} items`);
    for (const stream of [first, second, third]) stream.close();
    shared.close();
    other.close();
    await waitFor(
      'the closed streams release what they held',
      async () => (await pendingItems(node)) === 0,
      () => 'pending items left',
      10_000,
    );
  });

  it('a stream that reads its results gets every one of them, far past the bound', async function () {
    const channel = doors.forService('tapline.v1.AuthorizationService');
    const frames = Array.from({ length: 50 }, (_, index) => refusedItems(index * frame_items));
    const outcome = await channel.bidi(stream_path, frames, 60_000);
    assert.equal(outcome.code, grpc.status.OK, `${grpc.status[outcome.code]} ${outcome.details}`);
    const results = outcome.messages.flatMap((message) => AuthorizeStreamResponse.decode(message).results);
    assert.equal(new Set(results.map((result) => result.correlationId)).size, 50 * frame_items);
    assert.ok(
      outcome.messages.every((message) => AuthorizeStreamResponse.decode(message).results.length <= frame_items),
      'result frames hold at most TAPLINE_STREAM_FRAME_ITEMS_MAX results',
    );
  });

  it('a connection holds at most 4 open calls: the node says so, and a fifth waits for one to end', async function () {
    const connection = doors.rawConnection();
    const settings = await connection.serverSettings();
    assert.equal(settings.maxConcurrentStreams, 4);
    const open = Array.from({ length: 4 }, () => connection.unreadStream(stream_path));
    let closedAt = 0;
    const fifth = connection.unary(balance_path, Buffer.from(GetBalanceRequest.encode({ cardId: 'nobody' }).finish())).then((answer) => ({
      answer,
      at: Date.now(),
    }));
    // Ends one of the four a moment later; without the bound the fifth would have been answered by then.
    const closer = new Promise<void>((resolve) =>
      setTimeout(() => {
        closedAt = Date.now();
        open[0]?.close();
        resolve();
      }, 500),
    );
    const [{ answer, at }] = await Promise.all([fifth, closer]);
    assert.equal(answer.status, grpc.status.NOT_FOUND, 'the fifth call is served');
    assert.ok(at >= closedAt, `the fifth call was answered ${closedAt - at} ms before a stream ended`);
    for (const stream of open) stream.close();
    connection.close();
  });
});

describe('the maximum age of a connection (in-process node, real gRPC)', function () {
  this.timeout(60_000);
  let redis: RedisInstance;
  let node: AuthorizerNode;

  before(async function () {
    redis = await startTestRedis('connection-age');
    node = await startInProcessNode(redis.url, { TAPLINE_GRPC_CONNECTION_AGE_MAX_MS: '1000', TAPLINE_GRPC_CONNECTION_AGE_GRACE_MS: '500' });
  });

  after(async function () {
    await node?.shutdown();
    await redis?.stop();
  });

  it('an open stream is closed after the age (1 s + 10% jitter) and its grace (0.5 s); the next call reconnects', async function () {
    const doors = await rawDoors(node);
    try {
      const channel = doors.forService('tapline.v1.AuthorizationService');
      const started = Date.now();
      const stream = channel.openBidi(stream_path, 30_000);
      const ended = new Promise<grpc.status>((resolve) => {
        stream.on('data', () => undefined);
        stream.on('error', (error: grpc.ServiceError) => resolve(error.code));
        stream.on('status', (status: grpc.StatusObject) => resolve(status.code));
      });
      const code = await ended;
      const elapsed = Date.now() - started;
      assert.ok(elapsed < 5_000, `the stream ended after ${elapsed} ms (age 1,100 ms at most, grace 500 ms)`);
      assert.notEqual(code, grpc.status.DEADLINE_EXCEEDED, 'ended by the connection age, not by its deadline');
      const answer = await channel.unary(balance_path, Buffer.from(GetBalanceRequest.encode({ cardId: 'nobody' }).finish()), 5_000);
      assert.equal(answer.code, grpc.status.NOT_FOUND, `the next call: ${grpc.status[answer.code]} ${answer.details}`);
    } finally {
      doors.close();
    }
  });
});
