// Proves the outbox → ClickHouse streamer against a real Redis and a real ClickHouse (the
// Debian 18.16 server): migrations apply once and are recorded; identifiers are refused and
// literals escaped so a hostile string round-trips through ClickHouse unchanged; the *_dedup views
// are exact before any merge even when rows were inserted twice; entries XADDed in the
// authorizer's format arrive exactly once in the views and are trimmed from Redis, in batches no
// larger than batch_rows_max; and two streamers in one consumer group split the work with exact
// totals. Data is seeded (the seed is printed) and every wait polls an observable condition.

import assert from 'node:assert/strict';
import { startClickHouse, queryClickHouse, type ClickHouseInstance } from '../../tools/devenv/clickhouse';
import type { RedisInstance } from '../../tools/devenv/redis';
import { createLogger } from '../../services/common/logger';
import { loadStreamerConfig } from '../../services/streamer/config';
import { ClickHouseSink } from '../../services/streamer/clickhouse-sink';
import { SqlInputError } from '../../services/streamer/errors';
import { rowOf, rowsOf } from '../../services/streamer/rows';
import { transaction_kinds } from '../../actors/outbox/contract';
import { migrate } from '../../services/streamer/schema/migrate';
import { migrations } from '../../services/streamer/schema/migrations';
import { identifier, stringLiteral } from '../../services/streamer/sql';
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
    assert.deepEqual(
      first.applied,
      migrations.map((m) => m.version),
    );
    const second = await migrate(clickhouse.url, database);
    assert.deepEqual(second.applied, [], 'second run applies nothing');
    const recorded = await queryClickHouse(
      clickhouse.url,
      `SELECT version, count() FROM ${database}.tapline_schema_migrations GROUP BY version ORDER BY version`,
    );
    assert.equal(recorded.trim(), migrations.map((m) => `${m.version}\t1`).join('\n'), 'each version recorded exactly once');
    const tables = await queryClickHouse(
      clickhouse.url,
      `SELECT name FROM system.tables WHERE database = ${stringLiteral(database)} ORDER BY name`,
    );
    assert.deepEqual(tables.trim().split('\n'), [
      'audit_log',
      'audit_log_dedup',
      'audit_trail_dedup',
      'fleet_invoices',
      'fleet_invoices_dedup',
      'lifecycle_events',
      'lifecycle_events_dedup',
      'offline_sales_dedup',
      'outbox_rejects',
      'relay_events',
      'relay_events_lifecycle_mv',
      'relay_events_transactions_mv',
      'tap_pours',
      'tap_pours_dedup',
      'tapline_schema_migrations',
      'top_ups_dedup',
      'transaction_lines',
      'transaction_lines_dedup',
      'transactions',
      'transactions_by_merchant',
      'transactions_by_merchant_dedup',
      'transactions_by_merchant_mv',
      'transactions_dedup',
    ]);
  });

  it('migrates safely when two streamers start at once on an empty database', async function () {
    const database = nextDatabase();
    const results = await Promise.all([
      migrate(clickhouse.url, database),
      migrate(clickhouse.url, database),
      migrate(clickhouse.url, database),
    ]);
    const applied = new Set(results.flatMap((result) => result.applied));
    assert.deepEqual(
      [...applied].sort((a, b) => a - b),
      migrations.map((m) => m.version),
      'every version applied by someone',
    );
    assert.deepEqual(await migrate(clickhouse.url, database), { applied: [] });
    const columns = await queryClickHouse(
      clickhouse.url,
      `SELECT count() FROM system.columns WHERE database = ${stringLiteral(database)} AND table = 'transactions_dedup' AND name IN ('balance_delta', 'flags', 'line_count')`,
    );
    assert.equal(columns.trim(), '3', 'the recreated view carries the new columns');
    const sink = new ClickHouseSink({ url: clickhouse.url, database, insert_timeout_ms: 5_000 });
    const totals = emptyTotals();
    try {
      await sink.insert(
        outboxDocuments(seed + 9, 'race', 200, shard_count, totals).flatMap((document, index) =>
          rowsOf({ shard: document.shard, streamId: `1-${index}`, document: document.json }),
        ),
      );
    } finally {
      await sink.close();
    }
    assertTotals(await reportTotals(clickhouse.url, database), totals);
  });

  it('upgrades a v1–v4 database holding rows: old rows read with the contract defaults, new rows with every field', async function () {
    const database = nextDatabase();
    await migrate(
      clickhouse.url,
      database,
      undefined,
      migrations.filter((m) => m.version <= 4),
    );
    const old = {
      type: 'transaction',
      f: 'x',
      id: 'old-1',
      kind: 'purchase',
      outcome: 'approved',
      reason: '',
      rule: '',
      card: 'c1',
      program: 'p',
      terminal: 't',
      merchant: 'm',
      amount: 700,
      requested: 700,
      currency: 'EUR',
      balance_after: 300,
      key: 'k1',
      original: '',
      reverse: '',
      source: 'pos',
      operator: '',
      at: 1_769_000_000_000,
    };
    // An old streamer's row: only the v1 columns (what rowOf produced before migration 5).
    const v1_columns = [
      'id',
      'kind',
      'outcome',
      'reason',
      'rule',
      'card',
      'program',
      'terminal',
      'merchant',
      'amount',
      'requested',
      'currency',
      'balance_after',
      'idempotency_key',
      'original',
      'reverse',
      'source',
      'operator',
      'fingerprint',
      'at',
      'at_ms',
      'shard',
      'stream_id',
    ];
    const full = rowOf({ shard: 1, streamId: '1-1', document: JSON.stringify(old) }).values;
    const v1_row = JSON.stringify(Object.fromEntries(v1_columns.map((column) => [column, full[column]])));
    await queryClickHouse(clickhouse.url, `INSERT INTO ${database}.transactions FORMAT JSONEachRow ${v1_row}`);
    const upgrade = await migrate(clickhouse.url, database);
    assert.deepEqual(
      upgrade.applied,
      migrations.filter((m) => m.version > 4).map((m) => m.version),
    );
    const fleet = {
      ...old,
      id: 'new-1',
      key: 'k2',
      kind: 'refund',
      amount: 200,
      balance_delta: 200,
      lines: [{ code: 'diesel', group: 'fuel', qty_milli: 40_250, unit: 180, amount: 200 }],
      odometer: 12_345,
      vehicle: 'v1',
      driver: 'd1',
      fleet: 'f1',
      flags: ['risk:soft_amount'],
      invoiced: 190,
    };
    const sink = new ClickHouseSink({ url: clickhouse.url, database, insert_timeout_ms: 5_000 });
    try {
      await sink.insert(rowsOf({ shard: 1, streamId: '1-2', document: JSON.stringify(fleet) }));
    } finally {
      await sink.close();
    }
    const read = await queryClickHouse(
      clickhouse.url,
      `SELECT id, balance_delta, pump, invoiced, odometer, vehicle, length(flags), line_count FROM ${database}.transactions_dedup ORDER BY id FORMAT TSV`,
    );
    assert.equal(read.trim(), ['new-1\t200\t200\t190\t12345\tv1\t1\t1', 'old-1\t-700\t700\t700\t0\t\t0\t0'].join('\n'));
    const line = await queryClickHouse(
      clickhouse.url,
      `SELECT id, line_no, product_group, qty_milli, pump_unit, invoiced, vehicle FROM ${database}.transaction_lines_dedup FORMAT TSV`,
    );
    assert.equal(line.trim(), 'new-1\t0\tfuel\t40250\t180\t200\tv1');
    assert.deepEqual(await migrate(clickhouse.url, database), { applied: [] });
    const by_merchant = await queryClickHouse(
      clickhouse.url,
      `SELECT id, merchant, balance_delta FROM ${database}.transactions_by_merchant_dedup ORDER BY id FORMAT TSV`,
    );
    assert.equal(
      by_merchant.trim(),
      'new-1\tm\t200\nold-1\tm\t-700',
      'the merchant view holds the rows from before it (copied) and after (materialized)',
    );
  });

  it('turns every document type of the contract into its rows, and a malformed new field into a reject', () => {
    const at = 1_769_000_000_000;
    const base = {
      f: 'x',
      outcome: 'approved',
      reason: '',
      rule: '',
      card: 'c',
      program: 'p',
      terminal: 't',
      merchant: 'm',
      amount: 5,
      requested: 5,
      currency: 'EUR',
      balance_after: 0,
      key: 'k',
      original: '',
      reverse: '',
      source: '',
      operator: '',
      at,
    };
    for (const kind of transaction_kinds) {
      const rows = rowsOf({ shard: 0, streamId: '1-0', document: JSON.stringify({ type: 'transaction', id: kind, kind, ...base }) });
      assert.deepEqual(
        rows.map((row) => row.table),
        ['transactions'],
        kind,
      );
      const expected_delta = kind === 'purchase' ? -5 : kind === 'top_up' || kind === 'reverse' ? 5 : 0;
      assert.equal(rows[0]?.values['balance_delta'], expected_delta, `${kind}: documented default balance_delta`);
    }
    const lifecycle = [
      { type: 'card_replaced', card: 'c', replacement: 'c2', program: 'p', amount: 10, deposit: 2, at },
      { type: 'card_pin_changed', card: 'c', program: 'p', event: 'locked', at },
      { type: 'fleet_account_changed', fleet: 'f', currency: 'EUR', event: 'limits', operator: 'o', at },
      { type: 'operator_action', action: 'refund_override', subject: 'c', detail: '{}', operator: 'o', at },
    ];
    for (const document of lifecycle) {
      const [row] = rowsOf({ shard: 0, streamId: '1-0', document: JSON.stringify(document) });
      assert.equal(row?.table, 'lifecycle_events', document.type);
      assert.equal(row?.values['type'], document.type);
    }
    for (const bad of [
      { lines: [{ code: 'x' }] },
      { flags: 'risk' },
      { balance_delta: 1.5 },
      { lines: Array.from({ length: 501 }, () => ({ code: 'x', amount: 1 })) },
    ]) {
      const rows = rowsOf({
        shard: 0,
        streamId: '1-0',
        document: JSON.stringify({ type: 'transaction', id: 'bad', kind: 'purchase', ...base, ...bad }),
      });
      assert.deepEqual(
        rows.map((row) => row.table),
        ['outbox_rejects'],
        JSON.stringify(bad).slice(0, 60),
      );
    }
  });

  it('refuses non-identifiers and escapes literals so hostile text round-trips exactly', async function () {
    for (const bad of ['', '1abc', 'a-b', 'a b', 'x;DROP TABLE t', 'a`b', "a'b", 'é', 'a'.repeat(64)]) {
      assert.throws(() => identifier(bad), SqlInputError, `identifier ${JSON.stringify(bad)} is refused`);
    }
    assert.equal(identifier('tapline_2026'), 'tapline_2026');
    for (const text of ["it's", 'back\\slash', "\\'", "'; DROP TABLE x; --", 'line\nbreak\ttab\r', 'nul\0byte', 'ünïcødé €', '']) {
      const answer = await queryClickHouse(clickhouse.url, `SELECT hex(${stringLiteral(text)})`);
      assert.equal(
        answer.trim(),
        Buffer.from(text, 'utf8').toString('hex').toUpperCase(),
        `literal of ${JSON.stringify(text)} reaches ClickHouse byte for byte`,
      );
    }
  });

  it('reports each transaction once through the dedup views even when a batch was inserted twice, before any merge', async function () {
    const database = nextDatabase();
    await migrate(clickhouse.url, database);
    const totals = emptyTotals();
    const rows = outboxDocuments(seed, 'dup', 300, shard_count, totals).flatMap((document, index) =>
      rowsOf({ shard: document.shard, streamId: `1-${index}`, document: document.json }),
    );
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
      await waitFor(
        'streams trimmed',
        async () => (await outboxLength(redis.url, shard_count)) === 0,
        () => 'outbox entries left',
        10_000,
      );
      assert.equal(await streamer.pendingCount(), 0, 'nothing left pending in the group');
      assert.ok(
        streamer.stats.largest_batch_rows <= config.TAPLINE_STREAMER_BATCH_ROWS_MAX,
        `largest batch ${streamer.stats.largest_batch_rows} within batch_rows_max`,
      );
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
    const start = (node: string): Promise<Streamer> =>
      Streamer.start(
        loadStreamerConfig(
          streamerEnv(redis.url, clickhouse.url, database, { TAPLINE_NODE_ID: node, TAPLINE_STREAMER_BATCH_ROWS_MAX: '200' }),
        ),
        logger,
      );
    const [first, second] = await Promise.all([start('streamer-a'), start('streamer-b')]);
    try {
      await appendToOutbox(redis.url, documents);
      await waitForTotals(clickhouse.url, database, totals, 'both streamers drained the outbox');
      await waitFor(
        'streams trimmed',
        async () => (await outboxLength(redis.url, shard_count)) === 0,
        () => 'outbox entries left',
        10_000,
      );
      assert.ok(first.stats.rows > 0 && second.stats.rows > 0, `both streamers took part (${first.stats.rows} + ${second.stats.rows})`);
      assert.equal(first.stats.rows + second.stats.rows, documents.length, 'no entry was delivered to both');
      assert.equal(await rawTransactionRows(clickhouse.url, database), totals.transactions, 'no duplicate rows at all');
    } finally {
      await Promise.all([first.stop(), second.stop()]);
    }
  });
});

function assertTotals(seen: ReportTotals, expected: ReturnType<typeof emptyTotals>): void {
  assert.deepEqual(seen, expectedReportTotals(expected));
}

async function waitForTotals(
  url: string,
  database: string,
  expected: ReturnType<typeof emptyTotals>,
  phase: string,
  timeoutMs = 15_000,
): Promise<void> {
  let seen: ReportTotals | undefined;
  await waitFor(
    phase,
    async () => {
      seen = await reportTotals(url, database);
      // A batch's tables are inserted concurrently: its transactions can be visible before its lines.
      return (
        seen.transactions >= expected.transactions && seen.lifecycle_events >= expected.lifecycle_events && seen.lines >= expected.lines
      );
    },
    () => `${JSON.stringify(seen)}, expected ${JSON.stringify(expected)}`,
    timeoutMs,
    100,
  );
  assertTotals(seen as ReportTotals, expected);
}
