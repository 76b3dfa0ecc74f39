// Proves that guessing PINs is counted durably and shared by every node, on real Redis with two
// real nodes (in-process, real gRPC): a wrong old PIN in SetPin is a wrong attempt written on the
// card (the program's attempts lock the PIN, after which even the right old PIN and the right PIN
// at a till are refused until an operator resets it); the manager-PIN lockout of refunds is kept
// in Redis, so guesses spread over two nodes add up to one count (no N x 5), and a restart of
// every node does not clear a lock.

import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import type { RedisInstance } from '../../tools/devenv/redis';
import type { AuthorizerNode } from '../../services/authorizer/node';
import { DeclineReason, Outcome } from '../../gen/tapline/v1/types';
import { TaplineClient, purchase } from '../../tools/client/tapline-client';
import { CardClient, RefundClient, programConfig } from '../../tools/client/card-client';
import { placementOf } from '../../actors/sharding/allocation';
import { shardOf } from '../../actors/sharding/shard-key';
import { accessTo, startInProcessNode, startTestRedis, test_shard_count, waitFor } from '../support/harness';
import { connectInspector, type Inspector } from '../support/redis-inspect';

const pin_secret = 'pin-guessing-secret-0123456';
const fast_cluster = {
  TAPLINE_PIN_SECRET: pin_secret,
  TAPLINE_CLUSTER_TICK_MS: '50',
  TAPLINE_MEMBER_TTL_MS: '500',
  TAPLINE_SHARD_LEASE_MS: '500',
  TAPLINE_REDIS_COMMAND_TIMEOUT_MS: '400',
  TAPLINE_ROUTE_WAIT_MAX_MS: '5000',
  // Long enough that the lock outlives the restart below.
  TAPLINE_MANAGER_LOCK_MS: '600000',
};

const denied = (e: grpc.ServiceError): boolean => e.code === grpc.status.PERMISSION_DENIED;

/** The first card id `prefix-<n>` whose shard `member` owns among `members`. */
function cardOwnedBy(member: string, members: string[], prefix: string): string {
  const owners = placementOf(test_shard_count, members);
  for (let n = 0; ; n++) if (owners[shardOf('card', `${prefix}-${n}`, test_shard_count)] === member) return `${prefix}-${n}`;
}

describe('PIN guessing is counted durably and across nodes (real Redis, two real nodes)', function () {
  this.timeout(90_000);
  let redis: RedisInstance;
  let a: AuthorizerNode | undefined;
  let b: AuthorizerNode | undefined;
  let inspect: Inspector;
  let txn = 1;

  before(async function () {
    redis = await startTestRedis('pin-guessing');
    a = await startInProcessNode(redis.url, { ...fast_cluster, TAPLINE_NODE_ID: 'A' });
    b = await startInProcessNode(redis.url, { ...fast_cluster, TAPLINE_NODE_ID: 'B' });
    const [nodeA, nodeB] = [a, b];
    await waitFor(
      'two members hold their shards',
      () =>
        nodeA.coordinator.memberIds.length === 2 &&
        nodeB.coordinator.memberIds.length === 2 &&
        nodeA.coordinator.heldCount + nodeB.coordinator.heldCount === test_shard_count &&
        nodeB.coordinator.heldCount > 0,
      () => `A holds ${nodeA.coordinator.heldCount}, B holds ${nodeB.coordinator.heldCount}`,
      10_000,
    );
    inspect = await connectInspector(redis.url);
  });

  after(async function () {
    await inspect?.close();
    await a?.shutdown();
    await b?.shutdown();
    await redis?.stop();
  });

  it('a wrong old PIN in SetPin counts as a wrong attempt, written on the card; the locked PIN needs an operator reset', async () => {
    const access = await accessTo(a as AuthorizerNode);
    const client = new TaplineClient(access);
    const cards = new CardClient(access);
    try {
      await client.registerTerminal('pg-till', 'pg-shop');
      await cards.defineProgram('pg-pins', programConfig({ pinRequired: true, pinAttemptsMax: 3 }));
      await cards.issue({
        cardId: 'pg-card',
        params: { initialBalance: { amountMinor: 5_000n, currency: 'EUR' }, programId: 'pg-pins', deposit: undefined, expiresAtUnixMs: 0n },
        holder: undefined,
        pin: '2468',
        operatorId: 'ops',
      });
      for (const guess of ['0000', '1111']) await assert.rejects(cards.setPin('pg-card', '9999', guess), denied, `old PIN ${guess}`);
      const counted = JSON.parse(
        String(await inspect.client.hGet(`tl:{s${shardOf('card', 'pg-card', test_shard_count)}}:card:pg-card`, 'd')),
      );
      assert.equal(counted.profile.pinFailures, 2, 'each wrong old PIN is a wrong attempt, on the card in Redis');
      // The till's wrong PIN and SetPin's count together: the third locks.
      assert.equal(
        (await client.authorize({ ...purchase('pg-till', txn++, 'pg-card', 10), pin: '3333' })).declineReason,
        DeclineReason.DECLINE_REASON_PIN_INVALID,
      );
      await assert.rejects(cards.setPin('pg-card', '9999', '2468'), denied, 'locked: the right old PIN is refused too');
      assert.equal(
        (await client.authorize({ ...purchase('pg-till', txn++, 'pg-card', 10), pin: '2468' })).declineReason,
        DeclineReason.DECLINE_REASON_PIN_LOCKED,
      );
      await cards.setPin('pg-card', '9753', '', true);
      assert.equal(
        (await client.authorize({ ...purchase('pg-till', txn++, 'pg-card', 10), pin: '9753' })).outcome,
        Outcome.OUTCOME_APPROVED,
      );
    } finally {
      client.close();
      cards.close();
    }
  });

  it('manager PIN guesses on two nodes add up to one lockout, and restarting every node does not clear it', async () => {
    const members = ['A', 'B'];
    const onA = cardOwnedBy('A', members, 'pg-a');
    const onB = cardOwnedBy('B', members, 'pg-b');
    const viaA = new TaplineClient(await accessTo(a as AuthorizerNode));
    const refundsA = new RefundClient(await accessTo(a as AuthorizerNode));
    const refundsB = new RefundClient(await accessTo(b as AuthorizerNode));
    const sales = new Map<string, number>();
    try {
      await viaA.registerTerminal('pg-desk', 'pg-mall');
      await refundsA.registerManager('pg-mall', 'mia', '8642');
      for (const cardId of [onA, onB]) {
        await viaA.issueCard(cardId, 10_000);
        const n = txn++;
        assert.equal((await viaA.authorize(purchase('pg-desk', n, cardId, 5_000))).outcome, Outcome.OUTCOME_APPROVED);
        sales.set(cardId, n);
      }
      const refund = (refunds: RefundClient, cardId: string, pin: string) =>
        refunds.refund('pg-desk', txn++, cardId, { terminalId: 'pg-desk', txn: sales.get(cardId) as number }, 10, { id: 'mia', pin });
      // Three guesses verified on A (its card), two on B: five in all.
      for (const guess of ['0000', '1111', '2222']) await assert.rejects(refund(refundsA, onA, guess), denied);
      for (const guess of ['3333', '4444']) await assert.rejects(refund(refundsB, onB, guess), denied);
      await assert.rejects(refund(refundsB, onB, '8642'), denied, 'locked on B after five guesses over two nodes');
      await assert.rejects(refund(refundsA, onA, '8642'), denied, 'locked on A too');
    } finally {
      viaA.close();
      refundsA.close();
      refundsB.close();
    }
    await a?.shutdown();
    await b?.shutdown();
    a = undefined;
    b = undefined;
    const c = await startInProcessNode(redis.url, { ...fast_cluster, TAPLINE_NODE_ID: 'C' });
    a = c;
    const refundsC = new RefundClient(await accessTo(c));
    try {
      await assert.rejects(
        refundsC.refund('pg-desk', txn++, onA, { terminalId: 'pg-desk', txn: sales.get(onA) as number }, 10, { id: 'mia', pin: '8642' }),
        denied,
        'still locked after a restart of every node',
      );
    } finally {
      refundsC.close();
    }
  });
});
