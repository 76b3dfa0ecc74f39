// Proves that the per-id admin records (program, issuance record, manager) answer a write whose
// shard is not held here as "shard moved" - the error the cluster router retries on the shard's new
// owner with the same request - and write nothing, while the same writes commit once the shard is
// held. Real Redis, the real committer (which settles an entry of an unheld shard as fenced).

import { singleRedis } from '../../services/common/redis-target';
import assert from 'node:assert/strict';
import pino from 'pino';
import type { RedisInstance } from '../../tools/devenv/redis';
import { RedisStore } from '../../services/authorizer/store/redis-store';
import { Committer } from '../../services/authorizer/store/committer';
import { Metrics } from '../../services/common/metrics';
import { isShardMoved, type Outcome } from '../../actors/errors';
import { ProgramRegistry } from '../../actors/program/registry';
import { decodeProgramConfig } from '../../actors/state/program';
import { IssuanceRecords, type IssuanceRecord } from '../../actors/card/issuance';
import { ManagerDirectory } from '../../services/authorizer/usecases/managers';
import { RedisAttemptCounter } from '../../services/authorizer/store/attempts';
import { PinHasher } from '../../services/authorizer/usecases/pin';
import { startTestRedis, test_shard_count, test_acting } from '../support/harness';
import { connectInspector, type Inspector } from '../support/redis-inspect';

describe('admin records on a shard this node does not hold answer "shard moved" (real Redis)', function () {
  this.timeout(30_000);
  let redis: RedisInstance;
  let store: RedisStore;
  let inspect: Inspector;
  let held = new Map<number, string>();
  let programs: ProgramRegistry;
  let issuances: IssuanceRecords;
  let managers: ManagerDirectory;

  const outcomeOf = <T>(start: (reply: (outcome: Outcome<T>) => void) => void): Promise<Outcome<T>> =>
    new Promise((resolve) => start(resolve));
  const record: IssuanceRecord = {
    issuance: 'iss-moved',
    program: 'p-moved',
    currency: 'EUR',
    initialBalanceMinor: 100,
    depositMinor: 0,
    expiresAtMs: 0,
    count: 1,
    cardsDigest: 'x',
    operator: 'ops',
    at: 1,
  };

  before(async function () {
    redis = await startTestRedis('admin-records-moved');
    store = await RedisStore.connect(
      { target: singleRedis(redis.url), command_timeout_ms: 5_000, reconnect_backoff_max_ms: 1_000 },
      () => undefined,
    );
    const committer = new Committer(
      store,
      { shardCount: test_shard_count, epochOf: (shard) => held.get(shard) },
      {
        batch_entries_max: 100,
        in_flight_max: 2,
        pending_entries_max: 1_000,
        idempotency_ttl_s: 3_600,
      },
      pino({ level: 'silent' }),
      new Metrics(),
    );
    programs = new ProgramRegistry(committer, {
      shard_count: test_shard_count,
      refresh_ms: 10_000,
      conflict_attempts_max: 3,
      clock: () => 1,
      onRefreshError: () => undefined,
    });
    issuances = new IssuanceRecords(committer, test_shard_count);
    managers = new ManagerDirectory(
      committer,
      test_shard_count,
      new PinHasher('a-pin-secret-of-16+chars'),
      new RedisAttemptCounter(store, { attempts_max: 5, lock_ms: 60_000, ttl_ms: 60_000 }),
      () => Date.now(),
      pino({ level: 'silent' }),
    );
    inspect = await connectInspector(redis.url);
  });

  after(async function () {
    await inspect?.close();
    await store?.close();
    await redis?.stop();
  });

  it('not held: each write is refused as shard moved and nothing is written', async () => {
    const before = await inspect.snapshot();
    const config = decodeProgramConfig('{}');
    const outcomes = [
      await outcomeOf((reply) => programs.define('p-moved', config, test_acting, reply)),
      await outcomeOf((reply) => issuances.write(record, test_acting, reply)),
      await outcomeOf((reply) => managers.register('m-moved', 'boss', '1234', test_acting, 1, reply)),
    ];
    for (const [i, outcome] of outcomes.entries()) assert.ok(!outcome.ok && isShardMoved(outcome.error), `write ${i} answers shard moved`);
    assert.equal(await inspect.snapshot(), before);
  });

  it('held: the same writes commit', async () => {
    held = await store.takeShards(Array.from({ length: test_shard_count }, (_, shard) => shard));
    const config = decodeProgramConfig('{}');
    assert.ok((await outcomeOf((reply) => programs.define('p-moved', config, test_acting, reply))).ok);
    assert.ok((await outcomeOf((reply) => issuances.write(record, test_acting, reply))).ok);
    assert.ok((await outcomeOf((reply) => managers.register('m-moved', 'boss', '1234', test_acting, 1, reply))).ok);
  });
});
