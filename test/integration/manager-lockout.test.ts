// Proves the manager PIN lockout (services/authorizer/managers.ts) with real Redis and the real
// committer, on a clock the test moves: five refused PINs in a row lock the manager, and while
// locked even the right PIN is refused; the lock ends after lock_ms; a right PIN before the limit
// starts the count again; unknown managers are counted like wrong PINs; and when the table of
// tracked managers is full, an unlocked entry is dropped before a locked one.

import { singleRedis } from '../../services/common/redis-target';
import assert from 'node:assert/strict';
import pino from 'pino';
import type { RedisInstance } from '../../tools/devenv/redis';
import { RedisStore } from '../../services/authorizer/store/redis-store';
import { Committer } from '../../services/authorizer/store/committer';
import { Metrics } from '../../services/common/metrics';
import type { Outcome } from '../../actors/errors';
import { ManagerDirectory } from '../../services/authorizer/usecases/managers';
import { PinHasher } from '../../services/authorizer/usecases/pin';
import { startTestRedis, test_shard_count } from '../support/harness';

describe('manager PIN lockout (real Redis, manual clock)', function () {
  this.timeout(30_000);
  const lock_ms = 60_000;
  let redis: RedisInstance;
  let store: RedisStore;
  let committer: Committer;
  let now = 1_000_000;

  const directory = (tracked_max?: number): ManagerDirectory =>
    new ManagerDirectory(
      committer,
      test_shard_count,
      new PinHasher('a-pin-secret-of-16+chars'),
      { attempts_max: 5, lock_ms, ...(tracked_max === undefined ? {} : { tracked_max }) },
      () => now,
      pino({ level: 'silent' }),
    );
  const register = (managers: ManagerDirectory, merchant: string, manager: string, pin: string): Promise<Outcome<unknown>> =>
    new Promise((resolve) => managers.register(merchant, manager, pin, 'ops', now, resolve));
  const accepted = async (managers: ManagerDirectory, merchant: string, manager: string, pin: string): Promise<boolean> =>
    (await managers.verify(merchant, manager, pin)) === undefined;

  before(async function () {
    redis = await startTestRedis('manager-lockout');
    store = await RedisStore.connect(
      { target: singleRedis(redis.url), command_timeout_ms: 5_000, reconnect_backoff_max_ms: 1_000 },
      () => undefined,
    );
    const held = await store.takeShards(Array.from({ length: test_shard_count }, (_, shard) => shard));
    committer = new Committer(
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
    const managers = directory();
    for (const [merchant, manager] of [
      ['shop', 'anna'],
      ['shop', 'ben'],
      ['bar', 'cleo'],
    ] as const) {
      assert.ok((await register(managers, merchant, manager, '2468')).ok);
    }
  });

  after(async function () {
    await store?.close();
    await redis?.stop();
  });

  it('locks after five refused PINs in a row, refuses the right PIN while locked, and unlocks after lock_ms', async () => {
    const managers = directory();
    for (const wrong of ['0000', '1111', '2222', '3333']) assert.equal(await accepted(managers, 'shop', 'anna', wrong), false);
    assert.equal(await accepted(managers, 'shop', 'anna', '2468'), true, 'four refused, then the right PIN: accepted');
    for (const wrong of ['0000', '1111', '2222', '3333', '4444']) assert.equal(await accepted(managers, 'shop', 'anna', wrong), false);
    assert.equal(await accepted(managers, 'shop', 'anna', '2468'), false, 'locked: the right PIN is refused');
    assert.equal(await accepted(managers, 'shop', 'ben', '2468'), true, 'another manager of the merchant is not locked');
    now += lock_ms - 1;
    assert.equal(await accepted(managers, 'shop', 'anna', '2468'), false, 'still locked 1 ms before the end');
    now += 1;
    assert.equal(await accepted(managers, 'shop', 'anna', '2468'), true, 'unlocked at lock_ms');
  });

  it('counts unknown managers like wrong PINs (probing names costs the same)', async () => {
    const managers = directory();
    for (let i = 0; i < 5; i++) assert.equal(await accepted(managers, 'shop', 'nobody', '2468'), false);
    assert.equal(await accepted(managers, 'shop', 'nobody', '2468'), false);
    await register(managers, 'shop', 'nobody', '2468');
    assert.equal(await accepted(managers, 'shop', 'nobody', '2468'), false, 'registered now, but the name is locked for lock_ms');
    now += lock_ms;
    assert.equal(await accepted(managers, 'shop', 'nobody', '2468'), true);
  });

  it('when the table is full, drops an unlocked entry before a locked one', async () => {
    const managers = directory(3);
    for (let i = 0; i < 5; i++) await accepted(managers, 'bar', 'cleo', '0000');
    assert.equal(await accepted(managers, 'bar', 'cleo', '2468'), false, 'cleo is locked');
    // Fill the table (cleo + two others), then a fourth name needs room.
    for (const name of ['x1', 'x2', 'x3', 'x4', 'x5']) await accepted(managers, 'bar', name, '0000');
    assert.equal(await accepted(managers, 'bar', 'cleo', '2468'), false, 'cleo stayed locked while the others were dropped');
  });
});
