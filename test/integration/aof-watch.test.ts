// The benchmark's AOF-rewrite share (loadtest/aof-watch.ts) against a real Redis: 0 for a phase
// without a rewrite, and close to the rewrite's part of the phase when one runs. A rewrite is
// made to last ~1 s with rdb-key-save-delay (microseconds per key written by the child). The
// offline comparison's rounds run without automatic rewrites, after any running one ended, then
// one rewrite is run to its end; the rounds are charged what they append to the AOF per outbox
// document.

import { strict as assert } from 'node:assert';
import { createClient } from 'redis';
import { AofWatch } from '../../loadtest/aof-watch';
import { delay } from '../../loadtest/driver';
import type { RedisInstance } from '../../tools/devenv/redis';
import { startTestRedis, waitFor } from '../support/harness';

describe('benchmark: AOF rewrite share of a phase', function () {
  let redis: RedisInstance;
  let client: ReturnType<typeof createClient>;
  let watch: AofWatch;

  before(async () => {
    redis = await startTestRedis('aof-watch');
    client = createClient({ url: redis.url });
    await client.connect();
    for (let start = 0; start < 2_000; start += 500) {
      await Promise.all(Array.from({ length: 500 }, (_, k) => client.set(`aof-watch:${start + k}`, 'x')));
    }
    watch = await AofWatch.connect(redis.url);
  });

  after(async () => {
    await watch?.close();
    await client?.close();
    await redis?.stop();
  });

  const rewriting = async (): Promise<boolean> => /aof_rewrite_in_progress:1/.test(await client.info('persistence'));

  it('is 0 for a phase during which no rewrite runs', async () => {
    const { result, aof_rewrite_share } = await watch.during(async () => {
      await delay(600);
      return 'done';
    });
    assert.equal(result, 'done');
    assert.equal(aof_rewrite_share, 0);
  });

  it('reports the part of a phase a rewrite overlapped', async () => {
    // 2,000 keys x 500 us: the child rewrites for ~1 s; the phase lasts ~2 s.
    await client.configSet('rdb-key-save-delay', '500');
    try {
      const { aof_rewrite_share } = await watch.during(async () => {
        await client.sendCommand(['BGREWRITEAOF']);
        await waitFor('AOF rewrite started', rewriting, () => 'no rewrite in progress', 5_000, 20);
        await waitFor(
          'AOF rewrite finished',
          async () => !(await rewriting()),
          () => 'rewrite still running',
          20_000,
          50,
        );
        await delay(1_000);
      });
      assert.ok(aof_rewrite_share > 0.2 && aof_rewrite_share < 0.9, `share ${aof_rewrite_share}`);
    } finally {
      await client.configSet('rdb-key-save-delay', '0');
    }
  });

  it('runs a comparison with automatic rewrites off, after the running one ended, and turns them back on', async () => {
    const percentage = async (): Promise<string> =>
      (await client.configGet('auto-aof-rewrite-percentage'))['auto-aof-rewrite-percentage'] ?? '';
    await client.configSet('auto-aof-rewrite-percentage', '150');
    await client.configSet('rdb-key-save-delay', '500');
    try {
      await client.sendCommand(['BGREWRITEAOF']);
      await waitFor('AOF rewrite started', rewriting, () => 'no rewrite in progress', 5_000, 20);
      const rewrites = async (): Promise<number> => Number(/aof_rewrites:([0-9]+)/.exec(await client.info('persistence'))?.[1]);
      const inside = await watch.withoutRewrites(async () => ({
        rewriting: await rewriting(),
        percentage: await percentage(),
        rewrites: await rewrites(),
      }));
      assert.deepEqual({ rewriting: inside.rewriting, percentage: inside.percentage }, { rewriting: false, percentage: '0' });
      // One rewrite at the end, over before the call returns, then rewrites turned back on.
      assert.equal(await rewrites(), inside.rewrites + 1);
      assert.equal(await rewriting(), false);
      assert.equal(await percentage(), '150');
      // Turned back on when the run fails too.
      await assert.rejects(
        watch.withoutRewrites(() => Promise.reject(new Error('round failed'))),
        /round failed/,
      );
      assert.equal(await percentage(), '150');
    } finally {
      await client.configSet('rdb-key-save-delay', '0');
      await client.configSet('auto-aof-rewrite-percentage', '100');
    }
  });

  it('counts what a run appends to the AOF and the outbox documents it wrote, from scripts too', async () => {
    const before = await watch.appended();
    const payload = 'd'.repeat(1_000);
    for (let k = 0; k < 50; k++) {
      await client.sendCommand(['EVAL', "return redis.call('XADD', KEYS[1], '*', 'd', ARGV[1])", '1', 'aof-watch:outbox', payload]);
      await client.sendCommand(['XADD', 'aof-watch:outbox', '*', 'd', payload]);
    }
    const after = await watch.appended();
    assert.equal(after.documents - before.documents, 100);
    // Each document's command in the AOF: the payload and its framing (a script's wrapped in MULTI / EXEC).
    const perDocument = (after.aof_bytes - before.aof_bytes) / 100;
    assert.ok(perDocument > 1_000 && perDocument < 1_200, `${perDocument} bytes per document`);
  });
});
