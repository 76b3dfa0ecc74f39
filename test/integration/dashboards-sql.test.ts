// Proves the business dashboard's ClickHouse SQL (charts/tapline/dashboards/tapline-business.json)
// against the schema the streamer's migrations create, on both engines Tapline supports: a
// current ClickHouse (chdb, in-process) and Debian's ClickHouse 18.16 (a real server). The same
// seeded history (duplicates included, unmerged) goes into both; every panel query runs on both,
// with Grafana's macros expanded the way the ClickHouse data source expands them; both engines give
// the same rows; and the float panel equals the float the fixture computes independently.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startClickHouse, type ClickHouseInstance } from '../../tools/devenv/clickhouse';
import { ClickHouseRunner } from '../../services/reports/clickhouse-runner';
import type { QueryRow } from '../../services/reports/reports';
import { ClickHouseSink } from '../../services/streamer/clickhouse-sink';
import { rowsOf, type Row } from '../../services/streamer/rows';
import { migrate } from '../../services/streamer/schema/migrate';
import { addColumnSql, migrations } from '../../services/streamer/schema/migrations';
import { identifier } from '../../services/streamer/sql';
import { projectRoot } from '../../services/common/paths';
import { testDataDir } from '../support/harness';
import { expectedFloat, reportHistory, type History } from '../support/reports-fixtures';

interface ChdbSession {
  query(sql: string, format?: string): string;
  close(): void;
}

const database = 'dashboards';
const shard_count = 64;
const seed = Number(process.env['TAPLINE_TEST_SEED'] ?? Date.now() % 1_000_000);
/** The dashboard's time range in these tests: all of the fixture's history. */
const range_from_s = 0;
const range_to_s = 4_102_444_800;

interface PanelQuery {
  readonly title: string;
  readonly sql: string;
}

function panelQueries(): PanelQuery[] {
  const dashboard = JSON.parse(readFileSync(join(projectRoot(), 'charts/tapline/dashboards/tapline-business.json'), 'utf8'));
  return (dashboard.panels as any[]).flatMap((panel) =>
    ((panel.targets as any[] | undefined) ?? []).map((target) => ({ title: panel.title as string, sql: target.rawSql as string })),
  );
}

/** Grafana's variables and the ClickHouse data source's $__timeFilter, as they expand. */
function expand(sql: string): string {
  return sql
    .replaceAll('${database}', identifier(database))
    .replace(
      /\$__timeFilter\((\w+)\)/g,
      (_m, column: string) => `${column} >= toDateTime(${range_from_s}) AND ${column} <= toDateTime(${range_to_s})`,
    );
}

/** Rows with every value as a string: engines differ in which integers JSON quotes. */
function normalised(rows: QueryRow[]): Record<string, string>[] {
  return rows.map((row) => Object.fromEntries(Object.entries(row).map(([key, value]) => [key, String(value)])));
}

describe('business dashboard SQL on ClickHouse 18.16 and a current engine (chdb)', function () {
  let history: History;
  let rows: Row[];
  let session: ChdbSession;
  let directory: string;
  let clickhouse: ClickHouseInstance;
  let runner: ClickHouseRunner;

  before(async function () {
    console.log(`    seed ${seed} (replay with TAPLINE_TEST_SEED=${seed})`);
    history = reportHistory(seed, 24, 400, shard_count);
    rows = [
      ...history.documents.flatMap((document, index) => rowsOf({ shard: document.shard, streamId: `1-${index}`, document: document.json })),
      // The transactions again, as a streamer that crashed before acknowledging would resend them.
      ...history.transactions.flatMap((t, index) => rowsOf({ shard: 0, streamId: `9-${index}`, document: JSON.stringify(t) })),
    ];
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const chdb = require('chdb') as { Session: new (path?: string) => ChdbSession };
    directory = mkdtempSync(join(tmpdir(), 'tapline-dashboards-chdb-'));
    session = new chdb.Session(directory);
    session.query(`CREATE DATABASE IF NOT EXISTS ${identifier(database)}`);
    session.query(`USE ${identifier(database)}`);
    for (const migration of migrations)
      for (const statement of migration.statements(database)) {
        if (typeof statement === 'string') session.query(statement);
        else if ('backfill' in statement) session.query(statement.backfill);
        else session.query(addColumnSql(statement));
      }
    for (const table of new Set(rows.map((row) => row.table))) {
      const values = rows.filter((row) => row.table === table).map((row) => JSON.stringify(row.values));
      session.query(`INSERT INTO ${identifier(database)}.${identifier(table)} FORMAT JSONEachRow\n${values.join('\n')}`);
    }

    clickhouse = await startClickHouse({ dataDir: testDataDir('dashboards-ch') });
    await migrate(clickhouse.url, database);
    const sink = new ClickHouseSink({ url: clickhouse.url, database, insert_timeout_ms: 10_000 });
    try {
      await sink.insert(rows);
    } finally {
      await sink.close();
    }
    runner = new ClickHouseRunner(clickhouse.url, database, 30_000);
  });

  after(async function () {
    session?.close();
    if (directory !== undefined) rmSync(directory, { recursive: true, force: true });
    await runner?.close();
    await clickhouse?.stop();
  });

  function onChdb(sql: string): QueryRow[] {
    const text = session.query(sql, 'JSONEachRow').trim();
    return text === '' ? [] : text.split('\n').map((line) => JSON.parse(line) as QueryRow);
  }

  it('every panel query runs on both engines and gives the same rows', async function () {
    const queries = panelQueries();
    assert.ok(queries.length >= 7, `${queries.length} panel queries`);
    for (const query of queries) {
      const sql = expand(query.sql);
      assert.doesNotMatch(sql, /\$/, `${query.title}: every variable and macro is expanded`);
      const current = normalised(onChdb(sql));
      const old = normalised(await runner.query(sql));
      assert.deepEqual(old, current, `${query.title}: ClickHouse 18.16 and the current engine agree`);
      if (!/Fleet/.test(query.title)) assert.ok(current.length > 0, `${query.title}: the fixture's history gives rows`);
    }
  });

  it('the float panel equals the fixture float per currency, exactly, despite the duplicates', async function () {
    const float = panelQueries().find((query) => query.title.startsWith('Float'));
    assert.ok(float, 'the dashboard has a float panel');
    const expected = new Map<string, number>();
    for (const row of expectedFloat(history))
      expected.set(String(row['currency']), (expected.get(String(row['currency'])) ?? 0) + Number(row['outstanding_minor']));
    const seen = normalised(await runner.query(expand(float.sql)));
    assert.deepEqual(
      seen,
      [...expected.entries()]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([currency, outstanding]) => ({ currency, outstanding_minor: String(outstanding) })),
    );
  });
});
