// Proves how group commit orders an entity's reads against writes, against a real Redis: a read
// asked for after an entity's own entries (afterPendingWrites) sees them, even while the commit
// pipe is full, and waiting for it never puts more than in_flight_max commit scripts on Redis at
// once (a storm of reloads after a failure must not flood Redis); a read without pending writes of
// its own is answered at once, never behind the backlog of other entities' commits.

import { singleRedis } from '../../services/common/redis-target';
import assert from 'node:assert/strict';
import pino from 'pino';
import type { RedisInstance } from '../../tools/devenv/redis';
import { RedisStore } from '../../services/authorizer/store/redis-store';
import { Committer } from '../../services/authorizer/store/committer';
import { Metrics } from '../../services/common/metrics';
import type { CommitResult } from '../../actors/runtime/persistence';
import { shardOf } from '../../actors/sharding/shard-key';
import { startTestRedis, test_shard_count } from '../support/harness';

const in_flight_max = 1;

describe('group commit: reads after an entity own writes, within in_flight_max (real Redis)', function () {
  this.timeout(60_000);
  let redis: RedisInstance;
  let store: RedisStore;
  let committer: Committer;
  let scriptsInFlight = 0;
  let scriptsInFlightMax = 0;
  let holdScripts: Promise<void> = Promise.resolve();

  before(async function () {
    redis = await startTestRedis('committer-reads');
    store = await RedisStore.connect(
      { target: singleRedis(redis.url), command_timeout_ms: 5_000, reconnect_backoff_max_ms: 1_000 },
      () => undefined,
    );
    const held = await store.takeShards(Array.from({ length: test_shard_count }, (_, shard) => shard));
    // The committer talks to the real store; this view only counts the scripts it has on Redis at
    // once, and can hold them back to keep the commit pipe full.
    const counted = Object.create(store) as RedisStore;
    counted.runCommit = async (routingKey, args) => {
      scriptsInFlight += 1;
      scriptsInFlightMax = Math.max(scriptsInFlightMax, scriptsInFlight);
      try {
        await holdScripts;
        return await store.runCommit(routingKey, args);
      } finally {
        scriptsInFlight -= 1;
      }
    };
    committer = new Committer(
      counted,
      { shardCount: test_shard_count, epochOf: (shard) => held.get(shard) },
      { batch_entries_max: 10, in_flight_max, pending_entries_max: 100_000, idempotency_ttl_s: 3_600 },
      pino({ level: 'silent' }),
      new Metrics(),
    );
  });

  after(async function () {
    await store?.close();
    await redis?.stop();
  });

  /** Submits `count` successive versions of one card (each expects the previous one). */
  function submitVersions(cardId: string, count: number): Promise<CommitResult[]> {
    return Promise.all(
      Array.from(
        { length: count },
        (_, version) =>
          new Promise<CommitResult>((settle) => {
            const accepted = committer.submit({
              shard: shardOf('card', cardId, test_shard_count),
              writes: [{ entity: { kind: 'card', id: cardId }, expectVersion: version, data: JSON.stringify({ n: version + 1 }) }],
              settle,
            });
            assert.ok(accepted, 'the commit queue accepts the entry');
          }),
      ),
    );
  }

  it('a read after own pending writes sees all of them, with at most in_flight_max scripts on Redis', async () => {
    let release: () => void = () => undefined;
    holdScripts = new Promise((resolve) => {
      release = resolve;
    });
    const settled = submitVersions('own-writes', 50);
    const read = committer.loadEntity(
      shardOf('card', 'own-writes', test_shard_count),
      { kind: 'card', id: 'own-writes' },
      { afterPendingWrites: true },
    );
    // Nothing may overtake the held script: the read must still be waiting.
    const early = await Promise.race([read.then(() => 'read'), new Promise((resolve) => setTimeout(() => resolve('waiting'), 200))]);
    assert.equal(early, 'waiting', 'the read waits behind the entries submitted before it');
    release();
    const record = await read;
    assert.equal(record.version, 50, 'the read sees every write submitted before it');
    assert.deepEqual(JSON.parse(record.data ?? '{}'), { n: 50 });
    assert.ok(
      (await settled).every((result) => result.status === 'committed'),
      'every entry committed',
    );
    assert.equal(scriptsInFlightMax, in_flight_max, `at most ${in_flight_max} commit script(s) on Redis at once`);
  });

  it('a read without pending writes of its own is answered at once, whatever the backlog', async () => {
    let release: () => void = () => undefined;
    holdScripts = new Promise((resolve) => {
      release = resolve;
    });
    const backlog = submitVersions('someone-else', 30);
    const record = await committer.loadEntity(shardOf('card', 'own-writes', test_shard_count), { kind: 'card', id: 'own-writes' });
    assert.equal(record.version, 50, 'read at once, from what is durable');
    assert.ok(scriptsInFlight <= in_flight_max);
    release();
    assert.ok((await backlog).every((result) => result.status === 'committed'));
  });
});
