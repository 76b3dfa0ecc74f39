// Proves the manager PIN lockout (services/authorizer/usecases/managers.ts, store/attempts.ts) with
// real Redis and the real committer, on a clock the test moves: five refused PINs in a row lock the
// manager, and while locked even the right PIN is refused; the lock ends after lock_ms; a right PIN
// before the limit starts the count again; unknown managers are counted like wrong PINs; the count
// is one for every node (two directories on one Redis, as two nodes have) and survives a restart
// (a new directory); guesses sent at once compare at most five PINs; Redis keeps a subject's
// attempts no longer than their TTL. All of it on one Redis and on a Redis Cluster (3 primaries
// with replicas, every count acknowledged after WAIT 1), where each subject's count lives on its
// merchant's shard's slot.

import { redisTargetFromEnv, singleRedis, type RedisTarget } from '../../services/common/redis-target';
import assert from 'node:assert/strict';
import pino from 'pino';
import type { RedisInstance } from '../../tools/devenv/redis';
import { askRedis, type RedisClusterSet } from '../../tools/devenv/redis-ha';
import { RedisStore } from '../../services/authorizer/store/redis-store';
import { Committer } from '../../services/authorizer/store/committer';
import { RedisAttemptCounter } from '../../services/authorizer/store/attempts';
import { Metrics } from '../../services/common/metrics';
import type { Outcome } from '../../actors/errors';
import { ManagerDirectory } from '../../services/authorizer/usecases/managers';
import { PinHasher } from '../../services/authorizer/usecases/pin';
import { clusterEnv, startTestRedis, startTestRedisCluster, test_acting, test_shard_count } from '../support/harness';
import { connectInspector } from '../support/redis-inspect';
import { attemptsKey } from '../../services/authorizer/store/keys';
import { shardOf } from '../../actors/sharding/shard-key';

for (const shape of ['one Redis', 'Redis Cluster'] as const)
  describe(`manager PIN lockout (real Redis, manual clock, shared by nodes): ${shape}`, function () {
    this.timeout(60_000);
    const lock_ms = 60_000;
    const ttl_ms = 3_600_000;
    let redis: RedisInstance | undefined;
    let cluster: RedisClusterSet | undefined;
    let store: RedisStore;
    let committer: Committer;
    let now = 1_000_000;

    /** A node's directory: every one built here shares the test's Redis, as the nodes of a cluster do. */
    const directory = (): ManagerDirectory =>
      new ManagerDirectory(
        committer,
        test_shard_count,
        new PinHasher('a-pin-secret-of-16+chars'),
        new RedisAttemptCounter(store, { attempts_max: 5, lock_ms, ttl_ms }),
        () => now,
        pino({ level: 'silent' }),
      );
    const register = (managers: ManagerDirectory, merchant: string, manager: string, pin: string): Promise<Outcome<unknown>> =>
      new Promise((resolve) => managers.register(merchant, manager, pin, test_acting, now, resolve));
    /** PTTL of a key, asked of the server that holds it. */
    const pttl = async (key: string): Promise<number> => {
      if (redis !== undefined) {
        const inspect = await connectInspector(redis.url);
        try {
          return await inspect.client.pTTL(key);
        } finally {
          await inspect.close();
        }
      }
      const set = cluster as RedisClusterSet;
      const slot = Number(await askRedis((set.servers[0] as RedisInstance).port, ['CLUSTER', 'KEYSLOT', key]));
      return askRedis<number>((await set.primaryOfSlot(slot)).port, ['PTTL', key]);
    };
    const accepted = async (managers: ManagerDirectory, merchant: string, manager: string, pin: string): Promise<boolean> =>
      (await managers.verify(merchant, manager, pin)) === undefined;

    before(async function () {
      let target: RedisTarget;
      if (shape === 'one Redis') {
        redis = await startTestRedis('manager-lockout');
        target = singleRedis(redis.url);
      } else {
        cluster = await startTestRedisCluster('manager-lockout-cluster');
        target = redisTargetFromEnv(clusterEnv(cluster));
      }
      store = await RedisStore.connect({ target, command_timeout_ms: 5_000, reconnect_backoff_max_ms: 1_000 }, () => undefined);
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
        ['bar', 'dora'],
        ['cafe', 'emil'],
      ] as const) {
        assert.ok((await register(managers, merchant, manager, '2468')).ok);
      }
    });

    after(async function () {
      await store?.close();
      await redis?.stop();
      await cluster?.stop();
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

    it('two nodes share one count, and a restarted node still sees the lock', async () => {
      const first = directory();
      const second = directory();
      for (const wrong of ['0000', '1111', '2222']) assert.equal(await accepted(first, 'bar', 'cleo', wrong), false);
      for (const wrong of ['3333', '4444']) assert.equal(await accepted(second, 'bar', 'cleo', wrong), false);
      assert.equal(await accepted(first, 'bar', 'cleo', '2468'), false, 'five guesses over two nodes lock the manager');
      assert.equal(await accepted(second, 'bar', 'cleo', '2468'), false);
      assert.equal(await accepted(directory(), 'bar', 'cleo', '2468'), false, 'a restarted node (a new directory) still sees it');
    });

    it('guesses sent at once compare at most five PINs', async () => {
      const nodes = [directory(), directory(), directory()];
      const guesses = Array.from({ length: 60 }, (_, i) => String(1000 + i));
      guesses[37] = '2468';
      const answers = await Promise.all(guesses.map((pin, i) => accepted(nodes[i % nodes.length] as ManagerDirectory, 'bar', 'dora', pin)));
      // The right PIN is found only if it was among the first five attempts counted: the 38th is not.
      assert.equal(answers.filter(Boolean).length, 0, 'no guess got through');
      assert.equal(await accepted(directory(), 'bar', 'dora', '2468'), false, 'and the manager is locked');
    });

    it("keeps a subject's attempts no longer than their TTL", async () => {
      const managers = directory();
      assert.equal(await accepted(managers, 'cafe', 'emil', '0000'), false);
      const key = attemptsKey(shardOf('merchant', 'cafe', test_shard_count), 'cafe/emil');
      const ttl = await pttl(key);
      assert.ok(ttl > 0 && ttl <= ttl_ms, `the attempts expire within ${ttl_ms} ms (PTTL ${ttl})`);
    });
  });
