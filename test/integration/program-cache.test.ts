// Proves the node's program cache stays bounded however many program ids its cards name: past
// programs_cached_max, the program loaded longest ago is dropped (and read again from Redis when a
// card of it is next loaded). Real Redis and the real committer; programs_cached_max + 1 ids.

import assert from 'node:assert/strict';
import pino from 'pino';
import type { RedisInstance } from '../../tools/devenv/redis';
import { RedisStore } from '../../services/authorizer/store/redis-store';
import { Committer } from '../../services/authorizer/store/committer';
import { Metrics } from '../../services/common/metrics';
import { singleRedis } from '../../services/common/redis-target';
import { ProgramRegistry, programs_cached_max } from '../../actors/program/registry';
import { startTestRedis, test_shard_count } from '../support/harness';

describe('program cache: bounded by programs_cached_max (real Redis)', function () {
  this.timeout(120_000);
  let redis: RedisInstance;
  let store: RedisStore;

  before(async function () {
    redis = await startTestRedis('program-cache');
    store = await RedisStore.connect(
      { target: singleRedis(redis.url), command_timeout_ms: 5_000, reconnect_backoff_max_ms: 1_000 },
      () => undefined,
    );
  });

  after(async function () {
    await store?.close();
    await redis?.stop();
  });

  it('loading one program more than the bound evicts the one loaded longest ago, and it is read again on demand', async () => {
    const committer = new Committer(
      store,
      { shardCount: test_shard_count, epochOf: () => undefined },
      { batch_entries_max: 100, in_flight_max: 2, pending_entries_max: 1_000, idempotency_ttl_s: 3_600 },
      pino({ level: 'silent' }),
      new Metrics(),
    );
    let reads = 0;
    const counting = Object.create(committer) as Committer;
    counting.loadEntity = (shard, entity, options) => {
      reads += 1;
      return committer.loadEntity(shard, entity, options);
    };
    const programs = new ProgramRegistry(counting, {
      shard_count: test_shard_count,
      refresh_ms: 3_600_000,
      conflict_attempts_max: 3,
      clock: () => 1,
      onRefreshError: () => undefined,
    });
    for (let start = 0; start <= programs_cached_max; start += 500) {
      const ids = Array.from({ length: Math.min(500, programs_cached_max + 1 - start) }, (_, k) => `cache-p${start + k}`);
      await Promise.all(ids.map((id) => programs.ensure(id)));
    }
    assert.equal(reads, programs_cached_max + 1, 'each program read once');
    assert.equal(programs.cachedCount, programs_cached_max, 'the cache holds at most programs_cached_max programs');
    await programs.ensure(`cache-p${programs_cached_max}`);
    assert.equal(reads, programs_cached_max + 1, 'the newest program is still cached');
    await programs.ensure('cache-p0');
    assert.equal(reads, programs_cached_max + 2, 'the oldest was evicted and is read again');
    assert.equal(programs.cachedCount, programs_cached_max);
  });
});
