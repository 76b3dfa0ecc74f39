// Proves the group commit's pipeline shape against a real Redis: a burst fills the deeper pipeline
// (in_flight_max) with full scripts at once, while entries that do not fill a script keep gathering
// behind two scripts in flight, as under a light load they always did, and leave as one script
// when one of those is answered. Scripts are held back (not answered) to freeze the pipeline.

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

const batch_entries_max = 10;

/** One event-loop turn: the committer's flush (a setImmediate) has run. */
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('group commit: full scripts fill the pipeline, partial ones wait behind two (real Redis)', function () {
  this.timeout(60_000);
  let redis: RedisInstance;
  let store: RedisStore;
  let held: Map<number, string>;
  let card = 0;

  before(async function () {
    redis = await startTestRedis('committer-pipeline');
    store = await RedisStore.connect(
      { target: singleRedis(redis.url), command_timeout_ms: 5_000, reconnect_backoff_max_ms: 1_000 },
      () => undefined,
    );
    held = await store.takeShards(Array.from({ length: test_shard_count }, (_, shard) => shard));
  });

  after(async function () {
    await store?.close();
    await redis?.stop();
  });

  /** A committer of 10-entry scripts, 8 in flight, whose scripts wait for `release` before they reach Redis. */
  function pipeline(): { committer: Committer; metrics: Metrics; inFlight: () => number; release: () => void } {
    let inFlight = 0;
    let release: () => void = () => undefined;
    const hold = new Promise<void>((resolve) => (release = resolve));
    const counted = Object.create(store) as RedisStore;
    counted.runCommit = async (routingKey, args) => {
      inFlight += 1;
      try {
        await hold;
        return await store.runCommit(routingKey, args);
      } finally {
        inFlight -= 1;
      }
    };
    const metrics = new Metrics();
    const committer = new Committer(
      counted,
      { shardCount: test_shard_count, epochOf: (shard) => held.get(shard) },
      { batch_entries_max, in_flight_max: 8, pending_entries_max: 100_000, idempotency_ttl_s: 3_600 },
      pino({ level: 'silent' }),
      metrics,
    );
    return { committer, metrics, inFlight: () => inFlight, release };
  }

  /** Submits a new card's first version; its result once committed. */
  function submitNewCard(committer: Committer): Promise<CommitResult> {
    const cardId = `pipeline-${card++}`;
    return new Promise<CommitResult>((settle) => {
      const accepted = committer.submit({
        shard: shardOf('card', cardId, test_shard_count),
        writes: [{ entity: { kind: 'card', id: cardId }, expectVersion: 0, data: JSON.stringify({ n: 1 }) }],
        settle,
      });
      assert.ok(accepted, 'the commit queue accepts the entry');
    });
  }

  /** Scripts run and entries they carried, from the committer's own histogram. */
  async function scripts(metrics: Metrics): Promise<{ scripts: number; entries: number }> {
    const values = (await metrics.commitBatchEntries.get()).values;
    const of = (name: string): number => values.find((value) => value.metricName === name)?.value ?? 0;
    return { scripts: of('tapline_commit_batch_entries_count'), entries: of('tapline_commit_batch_entries_sum') };
  }

  it('a burst goes out as full scripts at once, up to in_flight_max; its remainder waits', async () => {
    const { committer, metrics, inFlight, release } = pipeline();
    const results = Array.from({ length: 35 }, () => submitNewCard(committer));
    await turn();
    await turn();
    assert.equal(inFlight(), 3, 'three full scripts in flight, the 5 left over held back');
    release();
    assert.deepEqual(new Set((await Promise.all(results)).map((result) => result.status)), new Set(['committed']));
    assert.deepEqual(await scripts(metrics), { scripts: 4, entries: 35 });
  });

  it('entries that do not fill a script gather behind two scripts in flight and leave together', async () => {
    const { committer, metrics, inFlight, release } = pipeline();
    const results = [submitNewCard(committer)];
    await turn();
    results.push(submitNewCard(committer));
    await turn();
    assert.equal(inFlight(), 2);
    for (let k = 0; k < 3; k++) {
      results.push(submitNewCard(committer));
      await turn();
    }
    assert.equal(inFlight(), 2, 'the third partial script waits for a slot below two');
    release();
    assert.deepEqual(new Set((await Promise.all(results)).map((result) => result.status)), new Set(['committed']));
    assert.deepEqual(await scripts(metrics), { scripts: 3, entries: 5 });
  });
});
