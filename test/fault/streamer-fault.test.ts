// Proves invariant 6 ("nothing lost downstream") for the streamer under faults, with a real
// Redis and a real ClickHouse 18.16:
//  1. kill -9 of a streamer process while it holds unacknowledged entries; a streamer with a new
//     consumer name takes them over (XAUTOCLAIM after the claim idle time); that one is killed
//     too and restarted under its own name, re-reading its own pending entries (XREADGROUP 0);
//  2. SIGTERM: the process sends and acknowledges what it holds and exits 0;
//  3. ClickHouse stopped while entries keep arriving: inserts fail and are retried with backoff,
//     nothing is acknowledged, and after the restart the backlog drains.
// Each ends with exact totals in the dedup views, empty streams and nothing pending. Waits poll
// observable conditions (rows in ClickHouse, pending counts, failure counters), never the clock.

import assert from 'node:assert/strict';
import { createClient } from 'redis';
import { shardKeys } from '../../services/authorizer/store/keys';
import { startClickHouse, type ClickHouseInstance } from '../../tools/devenv/clickhouse';
import { startServerProcess, type ServerProcess } from '../../tools/devenv/node-process';
import type { RedisInstance } from '../../tools/devenv/redis';
import { createLogger } from '../../services/common/logger';
import { loadStreamerConfig } from '../../services/streamer/config';
import { consumer_group } from '../../services/streamer/outbox-reader';
import { migrate } from '../../services/streamer/schema/migrate';
import { Streamer } from '../../services/streamer/streamer';
import { startTestRedis, testDataDir, waitFor } from '../support/harness';
import {
  appendToOutbox,
  emptyTotals,
  expectedReportTotals,
  outboxDocuments,
  outboxLength,
  rawTransactionRows,
  reportTotals,
  streamerEnv,
  type ExpectedTotals,
  type ReportTotals,
} from '../support/outbox-fixtures';

const shard_count = 64;
const seed = Number(process.env['TAPLINE_TEST_SEED'] ?? Date.now() % 1_000_000);
// 'error' by default: the outage test makes the in-process streamer warn on every retry, by design.
const logger = createLogger('streamer-fault', process.env['TAPLINE_TEST_LOG_LEVEL'] ?? 'error');

// Small batches so a few thousand entries take many batches and a kill lands mid-stream; a short
// claim idle time so a dead consumer's entries are taken over within the test's time.
const fault_overrides = {
  TAPLINE_STREAMER_BATCH_ROWS_MAX: '50',
  TAPLINE_STREAMER_INSERT_TIMEOUT_MS: '1000',
  TAPLINE_STREAMER_CLAIM_IDLE_MS: '1500',
  TAPLINE_STREAMER_CLAIM_INTERVAL_MS: '300',
  // Consumers gone this long with nothing pending are removed from the group (the dead streamer-a).
  TAPLINE_STREAMER_CONSUMER_FORGET_MS: '1500',
};

describe('streamer faults (real Redis + ClickHouse)', function () {
  let redis: RedisInstance;
  let clickhouse: ClickHouseInstance;
  let database_number = 0;
  const nextDatabase = (): string => `streamer_fault_${++database_number}`;
  const processes: ServerProcess[] = [];

  before(async function () {
    console.log(`    seed ${seed} (replay with TAPLINE_TEST_SEED=${seed})`);
    [redis, clickhouse] = await Promise.all([
      startTestRedis('streamer-fault'),
      startClickHouse({ dataDir: testDataDir('streamer-fault-ch') }),
    ]);
  });

  after(async function () {
    await Promise.all([redis?.stop(), clickhouse?.stop()]);
  });

  // A streamer left running would read the next test's streams into this test's database.
  afterEach(async function () {
    await Promise.all(
      processes
        .splice(0)
        .filter((p) => p.child.exitCode === null && p.child.signalCode === null)
        .map((p) => p.kill9()),
    );
  });

  beforeEach(async function () {
    await withRedis(redis.url, (client) => client.sendCommand(['FLUSHALL']));
  });

  const startProcess = async (database: string, node: string): Promise<ServerProcess> => {
    const started = await startServerProcess({
      script: 'dist/services/streamer/main.js',
      env: streamerEnv(redis.url, clickhouse.url, database, { ...fault_overrides, TAPLINE_NODE_ID: node }),
      // With TAPLINE_TEST_LOG_LEVEL set, the child's log lines are shown for diagnosis.
      onLine: process.env['TAPLINE_TEST_LOG_LEVEL'] === undefined ? undefined : (line) => console.log(`      [${node}] ${line}`),
    });
    processes.push(started);
    return started;
  };

  it('loses nothing and doubles nothing in reports across kill -9, takeover and restart', async function () {
    const database = nextDatabase();
    const totals = emptyTotals();
    const first_half = outboxDocuments(seed, 'k9a', 3_000, shard_count, totals);
    const second_half = outboxDocuments(seed + 1, 'k9b', 3_000, shard_count, totals);
    await appendToOutbox(redis.url, first_half);

    const streamer_a = await startProcess(database, 'streamer-a');
    await waitForMidStream(redis.url, clickhouse.url, database, 'streamer-a', 0, 'streamer-a holds entries after streaming some');
    await streamer_a.kill9();
    const rows_after_a = (await reportTotals(clickhouse.url, database)).transactions;

    // A new consumer name: streamer-a's pending entries come back only through XAUTOCLAIM.
    const streamer_b = await startProcess(database, 'streamer-b');
    await appendToOutbox(redis.url, second_half.slice(0, 1_500));
    await waitFor(
      "streamer-b took over streamer-a's entries",
      async () => (await pendingByConsumer(redis.url)).get('streamer-a') === undefined,
      () => 'streamer-a still has pending entries',
      60_000,
    );
    await waitForMidStream(
      redis.url,
      clickhouse.url,
      database,
      'streamer-b',
      rows_after_a,
      'streamer-b holds entries after streaming some',
    );
    await streamer_b.kill9();

    // The same consumer name: its pending entries are re-read at start.
    await startProcess(database, 'streamer-b');
    await appendToOutbox(redis.url, second_half.slice(1_500));
    await waitForTotals(clickhouse.url, database, totals, 'all entries streamed after two crashes');
    await waitForDrained(redis.url);
    const raw = await rawTransactionRows(clickhouse.url, database);
    console.log(
      `    raw transaction rows ${raw} for ${totals.transactions} transactions (copies from re-sent batches are hidden by the dedup view)`,
    );
    // The dead streamer-a, its entries taken over, leaves the group on every stream; the live
    // streamer-b (restarted under its own name) stays.
    let consumers: string[] = [];
    await waitFor(
      'streamer-a removed from the consumer group',
      async () => (consumers = await consumerNames(redis.url)).join(',') === 'streamer-b',
      () => `consumers: ${consumers.join(',')}`,
      30_000,
    );
  });

  it('on SIGTERM sends and acknowledges the batch in hand and exits 0', async function () {
    const database = nextDatabase();
    const totals = emptyTotals();
    await appendToOutbox(redis.url, outboxDocuments(seed + 2, 'term', 3_000, shard_count, totals));
    const streamer = await startProcess(database, 'streamer-t');
    await waitForMidStream(redis.url, clickhouse.url, database, 'streamer-t', 0, 'streamer-t holds entries after streaming some');
    assert.equal(await streamer.terminate(), 0, 'exit code after SIGTERM');
    assert.equal((await pendingByConsumer(redis.url)).get('streamer-t'), undefined, 'nothing left pending after a graceful stop');
    // Exactly the entries removed from Redis are in ClickHouse: the stop left nothing half-done.
    const streamed = 3_000 - (await outboxLength(redis.url, shard_count));
    const seen = await reportTotals(clickhouse.url, database);
    assert.equal(seen.transactions + seen.lifecycle_events, streamed, 'rows in ClickHouse equal entries trimmed from Redis');
    await startProcess(database, 'streamer-t');
    await waitForTotals(clickhouse.url, database, totals, 'the rest streamed after restart');
    await waitForDrained(redis.url);
  });

  it('keeps every entry while ClickHouse is down and drains the backlog after it returns', async function () {
    const database = nextDatabase();
    await migrate(clickhouse.url, database);
    const totals = emptyTotals();
    const before_outage = outboxDocuments(seed + 3, 'ch1', 1_000, shard_count, totals);
    const during_outage = outboxDocuments(seed + 4, 'ch2', 2_000, shard_count, totals);
    const streamer = await Streamer.start(
      loadStreamerConfig(streamerEnv(redis.url, clickhouse.url, database, { ...fault_overrides, TAPLINE_NODE_ID: 'streamer-ch' })),
      logger,
    );
    try {
      await appendToOutbox(redis.url, before_outage);
      await waitFor(
        'first entries streamed',
        async () => (await reportTotals(clickhouse.url, database)).transactions > 0,
        () => 'no rows yet',
      );
      await clickhouse.stop();
      await appendToOutbox(redis.url, during_outage);
      const failures_before = streamer.stats.insert_failures;
      await waitFor(
        'inserts fail and are retried while ClickHouse is down',
        () => streamer.stats.insert_failures >= failures_before + 3,
        () => `insert failures ${streamer.stats.insert_failures}`,
        15_000,
      );
      const lag = await streamer.lag();
      assert.ok(lag.backlog_entries > 0, `backlog kept in Redis during the outage (${lag.backlog_entries})`);
      await clickhouse.restart();
      await waitForTotals(clickhouse.url, database, totals, 'backlog drained after ClickHouse returned', 20_000);
      await waitForDrained(redis.url);
    } finally {
      await streamer.stop();
    }
  });
});

async function withRedis<T>(url: string, work: (client: { sendCommand(args: string[]): Promise<unknown> }) => Promise<T>): Promise<T> {
  const client = createClient({ url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.close();
  }
}

/** Pending entries per consumer, over all shards (consumers with none are absent). */
async function pendingByConsumer(url: string): Promise<Map<string, number>> {
  return withRedis(url, async (client) => {
    const replies = await Promise.all(
      Array.from({ length: shard_count }, (_, shard) =>
        client.sendCommand(['XPENDING', shardKeys(shard).outbox, consumer_group]).catch(() => [0, null, null, null]),
      ),
    );
    const counts = new Map<string, number>();
    for (const reply of replies) {
      const consumers = (reply as [number, unknown, unknown, [string, string][] | null])[3] ?? [];
      for (const [name, count] of consumers) counts.set(name, (counts.get(name) ?? 0) + Number(count));
    }
    return counts;
  });
}

/** Waits until the consumer holds unacknowledged entries and more rows than `rows_before` reached ClickHouse. */
async function waitForMidStream(
  redisUrl: string,
  clickhouseUrl: string,
  database: string,
  consumer: string,
  rows_before: number,
  phase: string,
): Promise<void> {
  let seen = '';
  await waitFor(
    phase,
    async () => {
      const [pending, totals] = await Promise.all([
        pendingByConsumer(redisUrl),
        reportTotals(clickhouseUrl, database).catch(() => undefined),
      ]);
      seen = `pending ${JSON.stringify([...pending])}, rows ${totals?.transactions}`;
      return (pending.get(consumer) ?? 0) > 0 && (totals?.transactions ?? 0) > rows_before;
    },
    () => seen,
    15_000,
    10,
  );
}

async function waitForDrained(redisUrl: string): Promise<void> {
  await waitFor(
    'streams trimmed and nothing pending',
    async () => (await outboxLength(redisUrl, shard_count)) === 0 && (await pendingByConsumer(redisUrl)).size === 0,
    () => 'entries left in the outbox or pending',
    10_000,
  );
}

async function waitForTotals(url: string, database: string, expected: ExpectedTotals, phase: string, timeoutMs = 60_000): Promise<void> {
  let seen: ReportTotals | undefined;
  await waitFor(
    phase,
    async () => {
      seen = await reportTotals(url, database).catch(() => undefined);
      // A batch's tables are inserted concurrently: its transactions can be visible before its lines.
      return (
        seen !== undefined &&
        seen.transactions >= expected.transactions &&
        seen.lifecycle_events >= expected.lifecycle_events &&
        seen.lines >= expected.lines
      );
    },
    () => `${JSON.stringify(seen)}, expected ${JSON.stringify(expected)}`,
    timeoutMs,
    100,
  );
  assert.deepEqual(seen, expectedReportTotals(expected));
}

/** The distinct consumer names of the group over every shard's stream. */
async function consumerNames(url: string): Promise<string[]> {
  return withRedis(url, async (client) => {
    const names = new Set<string>();
    for (let shard = 0; shard < shard_count; shard++) {
      const consumers = (await client
        .sendCommand(['XINFO', 'CONSUMERS', shardKeys(shard).outbox, consumer_group])
        .catch(() => [])) as unknown[];
      // A map per consumer under RESP3 (node-redis 6), a flat [field, value, ...] list under RESP2.
      for (const consumer of consumers) {
        if (Array.isArray(consumer)) {
          for (let i = 0; i + 1 < consumer.length; i += 2) if (consumer[i] === 'name') names.add(String(consumer[i + 1]));
        } else if (consumer instanceof Map) names.add(String(consumer.get('name')));
        else names.add(String((consumer as { name: unknown }).name));
      }
    }
    return [...names].sort();
  });
}
