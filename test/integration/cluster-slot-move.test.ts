// Proves that a node follows a slot move on Redis Cluster: while clients authorize on cards of one
// shard (and of others), that shard's hash slot is migrated to another primary, keys and all (as
// `redis-cli --cluster reshard` does). Commits of that shard fail while the slot moves (ASK /
// TRYAGAIN: nothing ran, clients retry with the same key) and succeed on the new primary after it.
// Afterwards every request has its answer, every balance moved by exactly the approvals clients saw,
// every answered request has exactly one outbox document, and the moved shard's records are on the
// new primary. A commit whose script meets a key already moved (here the outbox stream, moved first
// by hand) writes nothing at all, not the card without its document (commit.lua's preflight): a
// script's writes are not undone when a later command fails. Real node, real gRPC, real Redis Cluster.

import assert from 'node:assert/strict';
import type { AuthorizerNode } from '../../services/authorizer/node';
import { shardOf } from '../../actors/sharding/shard-key';
import { cardKey, shardKeys } from '../../services/authorizer/store/keys';
import * as grpc from '@grpc/grpc-js';
import { TaplineClient } from '../../tools/client/tapline-client';
import { CardStatus } from '../../gen/tapline/v1/types';
import { askRedis, moveSlot, type RedisClusterSet } from '../../tools/devenv/redis-ha';
import type { RedisInstance } from '../../tools/devenv/redis';
import { redisTargetFromEnv } from '../../services/common/redis-target';
import { accessTo, clusterEnv, startInProcessNode, startTestRedisCluster, test_shard_count, waitFor } from '../support/harness';
import { connectAuditor } from '../support/redis-audit';
import { LoadRun } from '../support/load';

const initial_minor = 50_000;

/** `count` card ids of `shard`, then `count` of other shards. */
function cardsOn(shard: number, count: number): { moved: string[]; others: string[] } {
  const moved: string[] = [];
  const others: string[] = [];
  for (let n = 0; moved.length < count || others.length < count; n++) {
    const id = `slot-${n}`;
    if (shardOf('card', id, test_shard_count) === shard) {
      if (moved.length < count) moved.push(id);
    } else if (others.length < count) others.push(id);
  }
  return { moved, others };
}

describe('Redis Cluster: a node follows a slot move under load (real node, real cluster)', function () {
  this.timeout(180_000);
  let cluster: RedisClusterSet;
  let node: AuthorizerNode;
  let client: TaplineClient;

  before(async function () {
    cluster = await startTestRedisCluster('slot-move');
    node = await startInProcessNode('redis://127.0.0.1:1', clusterEnv(cluster));
    client = new TaplineClient(await accessTo(node));
  });

  after(async function () {
    client?.close();
    await node?.shutdown();
    await cluster?.stop();
  });

  it('commits of the moved shard resume on its new primary; nothing lost or applied twice', async () => {
    const shard = 7;
    const { moved, others } = cardsOn(shard, 4);
    const cards = [...moved, ...others];
    await client.registerTerminal('slot-pos', 'slot-merchant');
    await Promise.all(cards.map((id) => client.issueCard(id, initial_minor)));
    const seed = cluster.servers[0] as RedisInstance;
    const slot = Number(await askRedis(seed.port, ['CLUSTER', 'KEYSLOT', shardKeys(shard).epoch]));
    const from = await cluster.primaryOfSlot(slot);
    const to = (await Promise.all([0, 6000, 12000].map((s) => cluster.primaryOfSlot(s)))).find(
      (server) => server !== from,
    ) as RedisInstance;
    const load = new LoadRun({
      terminalId: 'slot-pos',
      cards,
      concurrency: 8,
      requests_max: 20_000,
      amountOf: (n) => 1 + (n % 50),
      cardOf: (n) => n % cards.length,
      deadline_ms: 5_000,
    });
    load.start(() => client);
    await waitFor(
      'load before the move',
      () => load.answered >= 300,
      () => `${load.answered} answered`,
      60_000,
    );
    await moveSlot(cluster, slot, to);
    const afterMove = load.answered;
    await waitFor(
      'load after the move',
      () => load.answered >= afterMove + 300,
      () => `${load.answered} answered`,
      60_000,
    );
    await load.stop();
    await load.settleUnknown(client, 10);
    assert.equal(await cluster.primaryOfSlot(slot), to, 'the slot is served by its new primary');
    const keysThere = await askRedis<number>(to.port, ['CLUSTER', 'COUNTKEYSINSLOT', String(slot)]);
    assert.ok(keysThere > 0, 'the shard keys moved with the slot');
    assert.equal(await askRedis<number>(to.port, ['EXISTS', cardKey(shard, moved[0] as string)]), 1);
    const auditor = await connectAuditor(redisTargetFromEnv(clusterEnv(cluster)));
    try {
      const approved = load.approvedByCard();
      for (const cardId of cards) {
        const card = await auditor.card(cardId);
        assert.equal(initial_minor - (card?.balanceMinor ?? -1), approved.get(cardId) ?? 0, `card ${cardId} moved exactly its approvals`);
      }
      for (const entry of load.sent.values()) {
        const first = entry.replies[0];
        assert.ok(first, `${entry.key} answered`);
        for (const retry of entry.replies.slice(1)) assert.equal(retry.transactionId, first.transactionId, `retry of ${entry.key}`);
        assert.equal((await auditor.idempotency(entry.key))?.id, first.transactionId, `record of ${entry.key}`);
      }
      const outbox = await auditor.outboxTransactionKeys();
      for (const entry of load.sent.values()) assert.equal(outbox.get(entry.key), 1, `${entry.key} has one outbox document`);
      const movedAfter = [...load.sent.values()].filter((entry) => moved.includes(entry.cardId)).length;
      assert.ok(movedAfter > 0, 'the moved shard took requests');
    } finally {
      await auditor.close();
    }
  });

  it('a commit that meets a key already moved away writes nothing; it lands once the slot has moved', async () => {
    const shard = 11;
    const [cardId] = cardsOn(shard, 1).moved as [string];
    await client.issueCard(cardId, 1_000);
    const seed = cluster.servers[0] as RedisInstance;
    const slot = Number(await askRedis(seed.port, ['CLUSTER', 'KEYSLOT', shardKeys(shard).epoch]));
    const from = await cluster.primaryOfSlot(slot);
    const to = (await Promise.all([0, 6000, 12000].map((s) => cluster.primaryOfSlot(s)))).find(
      (server) => server !== from,
    ) as RedisInstance;
    const [fromId, toId] = await Promise.all([from, to].map((server) => askRedis<string>(server.port, ['CLUSTER', 'MYID'])));
    await askRedis(to.port, ['CLUSTER', 'SETSLOT', String(slot), 'IMPORTING', fromId as string]);
    await askRedis(from.port, ['CLUSTER', 'SETSLOT', String(slot), 'MIGRATING', toId as string]);
    // Only the outbox stream has moved: the card is still on `from`, its document would go to `to`.
    await askRedis(from.port, ['MIGRATE', '127.0.0.1', String(to.port), shardKeys(shard).outbox, '0', '5000']);
    const before = await askRedis<string[]>(from.port, ['HGETALL', cardKey(shard, cardId)]);
    await assert.rejects(
      client.setCardStatus(cardId, CardStatus.CARD_STATUS_BLOCKED),
      (e: grpc.ServiceError) => e.code === grpc.status.UNAVAILABLE,
    );
    assert.deepEqual(
      await askRedis<string[]>(from.port, ['HGETALL', cardKey(shard, cardId)]),
      before,
      'the card was not written without its document',
    );
    await moveSlot(cluster, slot, to);
    await client.setCardStatus(cardId, CardStatus.CARD_STATUS_BLOCKED);
    const documents = await askRedis<[string, string[]][]>(to.port, ['XRANGE', shardKeys(shard).outbox, '-', '+']);
    assert.ok(
      documents.some(([, fields]) => String(fields[1]).includes('"blocked"')),
      'the status change has its outbox document on the new primary',
    );
  });
});
