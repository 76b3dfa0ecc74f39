// Proves what the primaries layer (services/common/redis-primaries.ts) promises about replicated
// writes, on real Redis processes: a write is acknowledged only once a replica has it, and when
// the replica does not answer in time the write fails as ReplicationShort although it ran on the
// primary (its outcome is unknown to the caller). On a Redis Cluster, sendReplicatedMany() sends
// the writes of several slots and waits once per primary: only the writes of the primary whose
// replica is paused (SIGSTOP) fail, and each primary receives exactly one WAIT per call (counted
// in its INFO commandstats), so a batch of per-shard commit scripts costs one replication round
// trip per primary, not one per script. The reports' back office reaches a Redis Cluster through
// keyRoutedCommands(): the outbox horizon reads every shard's stream on its own primary, and a
// lease-fenced script runs on its job's slot.

import assert from 'node:assert/strict';
import { connectPrimaries, keyRoutedCommands, ReplicationShort, type RedisPrimaries } from '../../services/common/redis-primaries';
import { RedisLease } from '../../services/common/redis-lease';
import { outboxHorizonMs, outboxKeys } from '../../services/events/horizon';
import { redisTargetFromEnv } from '../../services/common/redis-target';
import { askRedis, infoFields, type RedisClusterSet, type SentinelSet } from '../../tools/devenv/redis-ha';
import type { RedisInstance } from '../../tools/devenv/redis';
import { clusterEnv, sentinelEnv, startTestRedisCluster, startTestSentinelSet } from '../support/harness';

const options = { command_timeout_ms: 2_000, reconnect_backoff_max_ms: 200, onError: () => undefined };
/** Short, so a paused replica costs the test little time; well under the command bound. */
const wait_timeout_ms = '200';

/** WAIT commands a server has run since it started (INFO commandstats). */
async function waitCalls(server: RedisInstance): Promise<number> {
  const stats = infoFields(await askRedis<string>(server.port, ['INFO', 'commandstats']));
  return Number(/calls=([0-9]+)/.exec(stats.get('cmdstat_wait') ?? '')?.[1] ?? 0);
}

describe('replicated writes through the primaries layer (real Sentinel set and Redis Cluster)', function () {
  this.timeout(120_000);

  describe('Sentinel: one primary, one replica', function () {
    let set: SentinelSet;
    let primaries: RedisPrimaries;

    before(async function () {
      set = await startTestSentinelSet('primaries-sentinel');
      primaries = await connectPrimaries(
        redisTargetFromEnv({ ...sentinelEnv(set), TAPLINE_REDIS_WAIT_TIMEOUT_MS: wait_timeout_ms }),
        options,
      );
    });

    after(async function () {
      await primaries?.close();
      await set?.stop();
    });

    it('acknowledges a write once the replica has it; with the replica paused the write runs but fails as ReplicationShort', async () => {
      assert.equal(await primaries.sendReplicated('k1', ['SET', 'k1', 'a']), 'OK');
      const primary = await set.primary();
      const replica = set.servers.find((server) => server !== primary) as RedisInstance;
      replica.pause();
      try {
        await assert.rejects(primaries.sendReplicated('k2', ['SET', 'k2', 'b']), (error: unknown) => {
          assert.ok(error instanceof ReplicationShort, `ReplicationShort, got ${String(error)}`);
          assert.deepEqual([error.acknowledged, error.required], [0, 1]);
          return true;
        });
        assert.equal(await askRedis(primary.port, ['GET', 'k2']), 'b', 'the write ran on the primary: its outcome is unknown');
      } finally {
        replica.resume();
      }
      assert.equal(await primaries.sendReplicated('k3', ['SET', 'k3', 'c']), 'OK', 'acknowledged again once the replica is back');
    });
  });

  describe('Redis Cluster: three primaries with a replica each', function () {
    let cluster: RedisClusterSet;
    let primaries: RedisPrimaries;
    /** One key per primary (servers 0..2), and every primary's replica (servers 3..5, in order). */
    const keys: string[] = [];

    before(async function () {
      cluster = await startTestRedisCluster('primaries-cluster');
      primaries = await connectPrimaries(
        redisTargetFromEnv({ ...clusterEnv(cluster), TAPLINE_REDIS_WAIT_TIMEOUT_MS: wait_timeout_ms }),
        options,
      );
      for (const server of cluster.servers.slice(0, 3)) {
        for (let n = 0; keys.length < cluster.servers.indexOf(server) + 1; n++) {
          const slot = Number(await askRedis(server.port, ['CLUSTER', 'KEYSLOT', `{k${n}}`]));
          if ((await cluster.primaryOfSlot(slot)) === server) keys.push(`{k${n}}`);
        }
      }
    });

    after(async function () {
      await primaries?.close();
      await cluster?.stop();
    });

    it('waits once per primary for all of its writes; a primary whose replica is paused fails its writes only', async () => {
      const writes = keys.flatMap((key) => [1, 2, 3].map((n) => ({ key: `${key}:${n}`, args: ['SET', `${key}:${n}`, 'x'] })));
      const before = await Promise.all(cluster.servers.slice(0, 3).map(waitCalls));
      const acknowledged = await primaries.sendReplicatedMany<string>(writes);
      assert.deepEqual(
        acknowledged.map((outcome) => outcome.status),
        writes.map(() => 'fulfilled'),
      );
      const after = await Promise.all(cluster.servers.slice(0, 3).map(waitCalls));
      assert.deepEqual(
        after.map((calls, index) => calls - (before[index] as number)),
        [1, 1, 1],
        'one WAIT per primary for its three writes',
      );

      const replica = cluster.servers[3] as RedisInstance;
      replica.pause();
      try {
        const outcomes = await primaries.sendReplicatedMany<string>(writes);
        outcomes.forEach((outcome, index) => {
          const onPaused = index < 3;
          assert.equal(outcome.status, onPaused ? 'rejected' : 'fulfilled', `write ${writes[index]?.key}`);
          if (outcome.status === 'rejected') assert.ok(outcome.reason instanceof ReplicationShort, String(outcome.reason));
        });
      } finally {
        replica.resume();
      }
    });

    it("serves the back office: the outbox horizon over every shard's primary, a fenced script on the job's slot", async () => {
      const commands = keyRoutedCommands(primaries);
      const streams = outboxKeys(16);
      const before = await outboxHorizonMs(commands, streams);
      // Entries with explicit old ids on streams of every primary: the horizon is the oldest.
      const oldest_ms = before - 60_000;
      for (const [index, stream] of streams.entries()) await commands.sendCommand(['XADD', stream, `${oldest_ms + index}-0`, 'd', '{}']);
      assert.equal(await outboxHorizonMs(commands, streams), oldest_ms);
      const lease = new RedisLease(commands, 'tl:{events}:relay:lease', 'test', 10_000);
      assert.equal(await lease.hold(), true);
      assert.equal(await lease.fencedEval(`redis.call('SET', KEYS[2], ARGV[2]) return 'ok'`, ['tl:{events}:probe'], ['x']), 'ok');
      assert.equal(await commands.sendCommand(['GET', 'tl:{events}:probe']), 'x');
    });
  });
});
