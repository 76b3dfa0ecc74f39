// Proves the outbox → ClickHouse streamer against a real Redis and a real ClickHouse (the
// Debian 18.16 server): migrations apply once and are recorded; identifiers are refused and
// literals escaped so a hostile string round-trips through ClickHouse unchanged; the *_dedup views
// are exact before any merge even when rows were inserted twice; entries XADDed in the
// authorizer's format arrive exactly once in the views and are trimmed from Redis, in batches no
// larger than batch_rows_max; and two streamers in one consumer group split the work with exact
// totals. Data is seeded (the seed is printed) and every wait polls an observable condition.

import assert from 'node:assert/strict';
import { startClickHouse, queryClickHouse, type ClickHouseInstance } from '../../services/devenv/clickhouse';
import type { RedisInstance } from '../../services/devenv/redis';
import { createLogger } from '../../services/common/logger';
import { loadStreamerConfig } from '../../services/streamer/config';
import { ClickHouseSink } from '../../services/streamer/clickhouse-sink';
import { SqlInputError } from '../../services/streamer/errors';
import { rowOf } from '../../services/streamer/rows';
import { migrate } from '../../services/streamer/schema/migrate';
import { migrations } from '../../services/streamer/schema/migrations';
import { identifier, stringLiteral } from '../../services/streamer/sql';
import { Streamer } from '../../services/streamer/streamer';
import { startTestRedis, testDataDir, waitFor } from '../support/harness';
import {
  appendToOutbox, emptyTotals, outboxDocuments, outboxLength, rawTransactionRows, reportTotals, streamerEnv,
  type ReportTotals,
} from '../support/outbox-fixtures';

const shard_count = 64;
const seed = Number(process.env['TAPLINE_TEST_SEED'] ?? Date.now() % 1_000_000);
const logger = createLogger('streamer-test', process.env['TAPLINE_TEST_LOG_LEVEL'] ?? 'warn');

describe('streamer (real Redis + ClickHouse)', function () {
  let redis: RedisInstance;
  let clickhouse: ClickHouseInstance;
  let database_number = 0;
  const nextDatabase = (): string => `streamer_it_${++database_number}`;

  before(async function () {
    console.log(`    seed ${seed} (replay with TAPLINE_TEST_SEED=${seed})`);
    [redis, clickhouse] = await Promise.all([startTestRedis('streamer-it'), startClickHouse({ dataDir: testDataDir('streamer-it-ch') })]);
  });

  after(async function () {
    await Promise.all([redis?.stop(), clickhouse?.stop()]);
  });

  // Each test starts from empty outbox streams and its own database.
  beforeEach(async function () {
    const { createClient } = await import('redis');
    const client = createClient({ url: redis.url });
    await client.connect();
    await client.sendCommand(['FLUSHALL']);
    await client.close();
  });

  it('applies every migration once, records it, and applies nothing on a second run', async function () {
    const database = nextDatabase();
    const first = await migrate(clickhouse.url, database);
    assert.deepEqual(first.applied, migrations.map((m) => m.version));
    const second = await migrate(clickhouse.url, database);
    assert.deepEqual(second.applied, [], 'second run applies nothing');
    const recorded = await queryClickHouse(clickhouse.url, `SELECT version, count() FROM ${database}.tapline_schema_migrations GROUP BY version ORDER BY version`);
    assert.equal(recorded.trim(), migrations.map((m) => `${m.version}\t1`).join('\n'), 'each version recorded exactly once');
    const tables = await queryClickHouse(clickhouse.url, `SELECT name FROM system.tables WHERE database = ${stringLiteral(database)} ORDER BY name`);
    assert.deepEqual(tables.trim().split('\n'), ['lifecycle_events', 'lifecycle_events_dedup', 'outbox_rejects', 'tapline_schema_migrations', 'transactions', 'transactions_dedup']);
  });

  it('refuses non-identifiers and escapes literals so hostile text round-trips exactly', async function () {
    for (const bad of ['', '1abc', 'a-b', 'a b', 'x;DROP TABLE t', 'a`b', "a'b", 'é', 'a'.repeat(64)]) {
      assert.throws(() => identifier(bad), SqlInputError, `identifier ${JSON.stringify(bad)} is refused`);
    }
    assert.equal(identifier('tapline_2026'), 'tapline_2026');
    for (const text of ["it's", 'back\\slash', "\\'", "'; DROP TABLE x; --", 'line\nbreak\ttab\r', 'nul\0byte', 'ünïcødé €', '']) {
      const answer = await queryClickHouse(clickhouse.url, `SELECT hex(${stringLiteral(text)})`);
      assert.equal(answer.trim(), Buffer.from(text, 'utf8').toString('hex').toUpperCase(), `literal of ${JSON.stringify(text)} reaches ClickHouse byte for byte`);
    }
  });

  it('reports each transaction once through the dedup views even when a batch was inserted twice, before any merge', async function () {
    const database = nextDatabase();
    await migrate(clickhouse.url, database);
    const totals = emptyTotals();
    const rows = outboxDocuments(seed, 'dup', 300, shard_count, totals).map((document, index) => rowOf({ shard: document.shard, streamId: `1-${index}`, document: document.json }));
    const sink = new ClickHouseSink({ url: clickhouse.url, database, insert_timeout_ms: 5_000 });
    try {
      await sink.insert(rows);
      await sink.insert(rows);
    } finally {
      await sink.close();
    }
    assert.equal(await rawTransactionRows(clickhouse.url, database), 2 * totals.transactions, 'the table holds both copies');
    assertTotals(await reportTotals(clickhouse.url, database), totals);
  });

  it('streams XADDed entries exactly once, in bounded batches, and trims the streams', async function () {
    const database = nextDatabase();
    await migrate(clickhouse.url, database);
    const totals = emptyTotals();
    const documents = outboxDocuments(seed + 1, 'one', 3_000, shard_count, totals);
    // Half before the streamer starts (the group must start at the beginning), half while it runs.
    await appendToOutbox(redis.url, documents.slice(0, 1_500));
    const config = loadStreamerConfig(streamerEnv(redis.url, clickhouse.url, database));
    const streamer = await Streamer.start(config, logger);
    try {
      await appendToOutbox(redis.url, documents.slice(1_500));
      await waitForTotals(clickhouse.url, database, totals, 'all entries streamed');
      await waitFor('streams trimmed', async () => (await outboxLength(redis.url, shard_count)) === 0, () => 'outbox entries left', 10_000);
      assert.equal(await streamer.pendingCount(), 0, 'nothing left pending in the group');
      assert.ok(streamer.stats.largest_batch_rows <= config.TAPLINE_STREAMER_BATCH_ROWS_MAX, `largest batch ${streamer.stats.largest_batch_rows} within batch_rows_max`);
      assert.equal(streamer.stats.rows, documents.length, 'each entry sent once when nothing failed');
      const lag = await streamer.lag();
      assert.deepEqual(lag, { backlog_entries: 0, oldest_entry_age_ms: 0 });
    } finally {
      await streamer.stop();
    }
  });

  it('shares the streams between two streamers with exact totals and no entry sent twice', async function () {
    const database = nextDatabase();
    await migrate(clickhouse.url, database);
    const totals = emptyTotals();
    const documents = outboxDocuments(seed + 2, 'two', 4_000, shard_count, totals);
    const start = (node: string): Promise<Streamer> => Streamer.start(loadStreamerConfig(streamerEnv(redis.url, clickhouse.url, database, { TAPLINE_NODE_ID: node, TAPLINE_STREAMER_BATCH_ROWS_MAX: '200' })), logger);
    const [first, second] = await Promise.all([start('streamer-a'), start('streamer-b')]);
    try {
      await appendToOutbox(redis.url, documents);
      await waitForTotals(clickhouse.url, database, totals, 'both streamers drained the outbox');
      await waitFor('streams trimmed', async () => (await outboxLength(redis.url, shard_count)) === 0, () => 'outbox entries left', 10_000);
      assert.ok(first.stats.rows > 0 && second.stats.rows > 0, `both streamers took part (${first.stats.rows} + ${second.stats.rows})`);
      assert.equal(first.stats.rows + second.stats.rows, documents.length, 'no entry was delivered to both');
      assert.equal(await rawTransactionRows(clickhouse.url, database), totals.transactions, 'no duplicate rows at all');
    } finally {
      await Promise.all([first.stop(), second.stop()]);
    }
  });
});

function assertTotals(seen: ReportTotals, expected: ReturnType<typeof emptyTotals>): void {
  assert.deepEqual(seen, {
    transactions: expected.transactions,
    distinct_ids: expected.transactions,
    amount_minor: expected.amount_minor,
    lifecycle_events: expected.lifecycle_events,
    rejects: 0,
  });
}

async function waitForTotals(url: string, database: string, expected: ReturnType<typeof emptyTotals>, phase: string, timeoutMs = 15_000): Promise<void> {
  let seen: ReportTotals | undefined;
  await waitFor(phase, async () => {
    seen = await reportTotals(url, database);
    return seen.transactions >= expected.transactions && seen.lifecycle_events >= expected.lifecycle_events;
  }, () => `${JSON.stringify(seen)}, expected ${JSON.stringify(expected)}`, timeoutMs, 100);
  assertTotals(seen as ReportTotals, expected);
}
