// Proves that idle actors are passivated (memory stays bounded however many cards exist) and
// that a passivated card comes back from Redis exactly as it was: same balance, same version
// chain, retries of its old requests still answered with the original transaction.

import assert from 'node:assert/strict';
import type { RedisInstance } from '../../tools/devenv/redis';
import type { AuthorizerNode } from '../../services/authorizer/node';
import { TaplineClient, purchase } from '../../tools/client/tapline-client';
import { Outcome } from '../../gen/tapline/v1/types';
import { startInProcessNode, startTestRedis, waitFor, accessTo } from '../support/harness';

describe('passivation and reactivation (real Redis, real gRPC)', function () {
  let redis: RedisInstance;
  let node: AuthorizerNode;
  let client: TaplineClient;

  before(async function () {
    redis = await startTestRedis('passivation');
    // Idle for a second means passivated; the sweep runs every 100 ms.
    node = await startInProcessNode(redis.url, {
      TAPLINE_PASSIVATE_AFTER_MS: '1000',
      TAPLINE_PASSIVATION_SWEEP_MS: '100',
      TAPLINE_IDEMPOTENCY_RECENT_MAX: '0',
    });
    client = new TaplineClient(await accessTo(node));
    await client.registerTerminal('pass-pos', 'pass-merchant');
  });

  after(async function () {
    client?.close();
    await node?.shutdown();
    await redis?.stop();
  });

  it('stops idle actors and reloads them with their exact state on next use', async function () {
    const cards = Array.from({ length: 200 }, (_, i) => `pass-${i}`);
    await Promise.all(cards.map((id) => client.issueCard(id, 1_000)));
    const first = await Promise.all(cards.map((id, i) => client.authorize(purchase('pass-pos', i + 1, id, 100 + i))));
    assert.ok(node.region.cards.size >= cards.length, `all ${cards.length} cards active after use`);

    await waitFor(
      'passivation',
      () => node.region.cards.size === 0 && node.region.terminals.size === 0,
      () => `${node.region.cards.size} cards and ${node.region.terminals.size} terminals still active`,
      10_000,
    );

    // Retries of old requests are answered from Redis with the original transactions.
    const retries = await Promise.all(cards.map((id, i) => client.authorize(purchase('pass-pos', i + 1, id, 100 + i))));
    retries.forEach((retry, i) => {
      assert.equal(retry.transactionId, first[i]?.transactionId, `retry ${i} answered with its original transaction`);
      assert.equal(retry.replayed, true);
    });
    // New requests continue from the persisted balances.
    const next = await Promise.all(cards.map((id, i) => client.authorize(purchase('pass-pos', 1_000 + i, id, 1))));
    next.forEach((reply, i) => {
      assert.equal(reply.outcome, Outcome.OUTCOME_APPROVED);
      assert.equal(reply.balanceAfter?.amountMinor, BigInt(1_000 - (100 + i) - 1), `card ${i} continues from its persisted balance`);
    });
  });
});
