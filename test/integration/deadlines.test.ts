// Proves that a request's deadline travels into its commit entry: a decision still waiting for
// its batch when the caller's deadline passes is not written (the caller has given up and will
// retry with the same key), while the decisions before it are. Real node in-process, real Redis
// frozen with SIGSTOP so the one commit in flight cannot finish, real gRPC with client deadlines.

import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import type { RedisInstance } from '../../tools/devenv/redis';
import type { AuthorizerNode } from '../../services/authorizer/node';
import { TaplineClient, purchase } from '../../tools/client/tapline-client';
import { Outcome } from '../../gen/tapline/v1/types';
import { accessTo, startInProcessNode, startTestRedis, waitFor } from '../support/harness';
import { connectInspector, type Inspector } from '../support/redis-inspect';

async function metric(node: AuthorizerNode, name: string): Promise<number> {
  const value = (await node.metrics.registry.getSingleMetric(name)?.get())?.values[0]?.value;
  return value ?? 0;
}

describe('a request deadline travels into its commit entry (real Redis, SIGSTOP)', function () {
  this.timeout(60_000);
  let redis: RedisInstance;
  let node: AuthorizerNode;
  let client: TaplineClient;
  let inspect: Inspector;

  before(async function () {
    redis = await startTestRedis('deadlines');
    // One commit script on Redis at a time: the second request's entry waits for a batch.
    node = await startInProcessNode(redis.url, { TAPLINE_COMMIT_IN_FLIGHT_MAX: '1' });
    client = new TaplineClient(await accessTo(node));
    inspect = await connectInspector(redis.url);
    await client.registerTerminal('dl-till', 'm-1');
    await client.issueCard('dl-card', 10_000);
  });

  after(async function () {
    client?.close();
    await inspect?.close();
    await node?.shutdown();
    await redis?.stop();
  });

  it('a decision whose deadline passed while it waited is not written; the one before it is', async () => {
    const expiredBefore = await metric(node, 'tapline_commit_expired_total');
    process.kill(redis.pid, 'SIGSTOP');
    let first: Promise<unknown>;
    let second: Promise<unknown>;
    try {
      first = client.authorize(purchase('dl-till', 1, 'dl-card', 100), 10_000);
      // Let the first commit reach Redis (where it hangs), then queue the second behind it.
      await new Promise((resolve) => setTimeout(resolve, 100));
      second = client.authorize(purchase('dl-till', 2, 'dl-card', 200), 300);
      await assert.rejects(second, (error: grpc.ServiceError) => error.code === grpc.status.DEADLINE_EXCEEDED);
      await new Promise((resolve) => setTimeout(resolve, 100));
    } finally {
      process.kill(redis.pid, 'SIGCONT');
    }
    const approved = (await first) as { outcome: Outcome };
    assert.equal(approved.outcome, Outcome.OUTCOME_APPROVED, 'the decision sent before the freeze is written and answered');
    await waitFor(
      'the waiting entry is settled as expired',
      async () => (await metric(node, 'tapline_commit_expired_total')) > expiredBefore,
      () => 'tapline_commit_expired_total did not move',
    );
    assert.equal((await inspect.card('dl-card'))?.balanceMinor, 9_900, 'only the first purchase moved money');
    assert.equal(await inspect.idempotency('t:dl-till:2'), undefined, 'no record of the expired request');
    // The caller retries with the same key: decided again, and approved once.
    const retried = await client.authorize(purchase('dl-till', 2, 'dl-card', 200), 10_000);
    assert.equal(retried.outcome, Outcome.OUTCOME_APPROVED);
    assert.equal(retried.replayed, false, 'nothing was stored for the expired attempt');
    assert.equal((await inspect.card('dl-card'))?.balanceMinor, 9_700);
  });
});
