// Proves the rich error model every gRPC client can read: a failed call's trailers carry
// `grpc-status-details-bin` (google.rpc.Status) with an ErrorInfo (stable reason, domain
// tapline.io, context), a BadRequest naming the invalid field, and a RetryInfo exactly for the
// failures worth retrying with the same key. Real node, real gRPC; the details are decoded from
// the bytes on the wire with the standard messages' field numbers.

import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import type { RedisInstance } from '../../tools/devenv/redis';
import type { AuthorizerNode } from '../../services/authorizer/node';
import { TaplineClient, purchase } from '../../tools/client/tapline-client';
import { Status } from '../../gen/google/rpc/status';
import { BadRequest, ErrorInfo, RetryInfo } from '../../gen/google/rpc/error_details';
import { accessTo, startInProcessNode, startTestRedis } from '../support/harness';

interface Details {
  readonly code: number;
  readonly info?: ErrorInfo;
  readonly badRequest?: BadRequest;
  readonly retry?: RetryInfo;
}

function detailsOf(error: grpc.ServiceError): Details {
  const [bytes] = error.metadata.get('grpc-status-details-bin');
  assert.ok(Buffer.isBuffer(bytes), `${error.code} ${error.details}: a grpc-status-details-bin trailer`);
  const status = Status.decode(bytes);
  assert.equal(status.code, error.code, 'the Status repeats the call status');
  const found: { -readonly [K in keyof Details]: Details[K] } = { code: status.code };
  for (const any of status.details) {
    if (any.typeUrl === 'type.googleapis.com/google.rpc.ErrorInfo') found.info = ErrorInfo.decode(any.value);
    else if (any.typeUrl === 'type.googleapis.com/google.rpc.BadRequest') found.badRequest = BadRequest.decode(any.value);
    else if (any.typeUrl === 'type.googleapis.com/google.rpc.RetryInfo') found.retry = RetryInfo.decode(any.value);
    else assert.fail(`unexpected detail ${any.typeUrl}`);
  }
  return found;
}

async function failure(call: Promise<unknown>): Promise<grpc.ServiceError> {
  try {
    await call;
  } catch (error) {
    return error as grpc.ServiceError;
  }
  return assert.fail('the call should have failed');
}

describe('error details: google.rpc.Status in grpc-status-details-bin (real node, real gRPC)', function () {
  this.timeout(60_000);
  let redis: RedisInstance;
  let node: AuthorizerNode;
  let client: TaplineClient;

  before(async function () {
    redis = await startTestRedis('error-details');
    node = await startInProcessNode(redis.url);
    client = new TaplineClient(await accessTo(node));
    await client.registerTerminal('ed-till', 'm-1');
    await client.issueCard('ed-card', 1_000);
  });

  after(async function () {
    client?.close();
    await node?.shutdown();
    await redis?.stop();
  });

  it('an invalid field: INVALID_ARGUMENT with ErrorInfo and a BadRequest naming the field, no RetryInfo', async () => {
    const error = await failure(client.authorize(purchase('ed-till', 1, 'not a card id!', 100)));
    assert.equal(error.code, grpc.status.INVALID_ARGUMENT);
    const details = detailsOf(error);
    assert.equal(details.info?.reason, 'INVALID_ARGUMENT');
    assert.equal(details.info?.domain, 'tapline.io');
    assert.deepEqual(
      details.badRequest?.fieldViolations.map((v) => v.field),
      ['card_id'],
    );
    assert.equal(details.retry, undefined, 'the same request would get the same answer');
  });

  it('an unknown entity: NOT_FOUND with its id in the ErrorInfo metadata', async () => {
    const error = await failure(client.authorize(purchase('ed-till', 2, 'no-such-card', 100)));
    assert.equal(error.code, grpc.status.NOT_FOUND);
    const details = detailsOf(error);
    assert.equal(details.info?.reason, 'NOT_FOUND');
    assert.equal(details.info?.metadata['cardId'], 'no-such-card');
    assert.equal(details.retry, undefined);
  });

  it('a node past its in-flight bound: RESOURCE_EXHAUSTED with reason OVERLOADED and a RetryInfo', async () => {
    // A node of its own (its own Redis): in a cluster with the first node, calls for cards it does
    // not own would be forwarded and admitted there.
    const busyRedis = await startTestRedis('error-details-busy');
    const busy = await startInProcessNode(busyRedis.url, { TAPLINE_IN_FLIGHT_MAX: '1', TAPLINE_STREAM_IN_FLIGHT_MAX: '1' });
    const busyClient = new TaplineClient(await accessTo(busy));
    try {
      await busyClient.registerTerminal('ed-till', 'm-1');
      await busyClient.issueCard('ed-card', 1_000);
      const calls = Array.from({ length: 50 }, (_, i) =>
        busyClient.authorize(purchase('ed-till', 100 + i, 'ed-card', 1)).then(
          () => undefined,
          (e: unknown) => e,
        ),
      );
      const errors = (await Promise.all(calls)).filter((e): e is grpc.ServiceError => e !== undefined);
      const overloaded = errors.find((e) => e.code === grpc.status.RESOURCE_EXHAUSTED);
      assert.ok(overloaded !== undefined, `one of 50 concurrent calls is refused; saw ${errors.map((e) => e.code).join(',')}`);
      const details = detailsOf(overloaded);
      assert.equal(details.info?.reason, 'OVERLOADED');
      assert.ok(details.retry?.retryDelay !== undefined, 'a RetryInfo says when to retry');
      const delayMs = Number(details.retry.retryDelay.seconds) * 1_000 + details.retry.retryDelay.nanos / 1e6;
      assert.ok(delayMs >= 100, `retry after at least 100 ms, got ${delayMs}`);
    } finally {
      busyClient.close();
      await busy.shutdown();
      await busyRedis.stop();
    }
  });
});
