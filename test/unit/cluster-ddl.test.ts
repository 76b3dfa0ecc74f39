// Proves the migrations' cluster form (services/streamer/schema/cluster-ddl.ts): every statement
// of every released migration has a cluster rewrite (a new migration of an unknown shape fails
// here, not on a customer's cluster); tables become replicated local tables plus Distributed
// tables of the same name, sharded by the id their copies share; views and drops run ON CLUSTER;
// the materialized view feeds each shard's local table from its local source; added columns go to
// the local tables ON CLUSTER and the Distributed table is recreated once per migration; every
// statement names its database (ON CLUSTER runs on other servers).

import assert from 'node:assert/strict';
import { clusterStatements, createDatabaseSql, migrationsTableSql, sharding_columns } from '../../services/streamer/schema/cluster-ddl';
import { migrations, type Statement } from '../../services/streamer/schema/migrations';

const shape = { cluster: 'tapline' };
const text = (statement: Statement): string => (typeof statement === 'string' ? statement : JSON.stringify(statement));

describe('ClickHouse cluster DDL', () => {
  it('rewrites every statement of every migration', () => {
    for (const migration of migrations)
      assert.doesNotThrow(() => clusterStatements(migration, 'tl', shape), `migration ${migration.version}`);
  });

  it('makes each table a replicated local table and a Distributed table sharded by its id', () => {
    const [local, distributed] = clusterStatements(migrations[0] as (typeof migrations)[number], 'tl', shape) as [string, string];
    assert.match(local, /^CREATE TABLE IF NOT EXISTS tl\.transactions_local ON CLUSTER tapline \(/);
    assert.match(
      local,
      /ENGINE = ReplicatedReplacingMergeTree\('\/clickhouse\/tables\/\{shard\}\/tl\/transactions_local', '\{replica\}'\)/,
    );
    assert.match(local, /PARTITION BY toYYYYMM\(at\)\s+ORDER BY \(card, id\)$/);
    assert.equal(
      distributed,
      'CREATE TABLE IF NOT EXISTS tl.transactions ON CLUSTER tapline AS tl.transactions_local ENGINE = Distributed(tapline, tl, transactions_local, cityHash64(id))',
    );
    const created = migrations
      .flatMap((m) => clusterStatements(m, 'tl', shape))
      .flatMap((s) => /ENGINE = Distributed\(tapline, tl, ([a-z_]+)_local/.exec(text(s))?.[1] ?? []);
    assert.deepEqual(
      [...new Set(created)].sort(),
      Object.keys(sharding_columns).sort(),
      'every table has a Distributed table and a sharding column',
    );
  });

  it('runs views and drops ON CLUSTER over the Distributed tables, the materialized view from local to local', () => {
    const statements = migrations.flatMap((m) => clusterStatements(m, 'tl', shape)).map(text);
    assert.ok(
      statements.includes('CREATE VIEW IF NOT EXISTS tl.transactions_dedup ON CLUSTER tapline AS SELECT * FROM tl.transactions FINAL'),
    );
    assert.ok(statements.includes('DROP TABLE IF EXISTS tl.transactions_dedup ON CLUSTER tapline'));
    const mv = statements.find((s) => s.includes('MATERIALIZED VIEW'));
    assert.match(mv ?? '', /ON CLUSTER tapline TO tl\.transactions_by_merchant_local AS SELECT .* FROM tl\.transactions_local$/);
    const views = statements.filter((s) => s.includes('MATERIALIZED VIEW'));
    assert.ok(views.length >= 3, 'the merchant copy and the relay events');
    for (const view of views)
      assert.match(view, /ON CLUSTER tapline TO tl\.[a-z_]+_local AS\s+SELECT [\s\S]* FROM tl\.[a-z_]+_local$/, view);
  });

  it('adds columns to the local tables ON CLUSTER, then recreates each widened Distributed table once', () => {
    const statements = clusterStatements(migrations.find((m) => m.version === 5) as (typeof migrations)[number], 'tl', shape);
    const columns = statements.filter((s) => typeof s !== 'string');
    assert.ok(columns.length > 0);
    for (const column of columns)
      assert.ok(
        'add_column' in column && column.add_column.table.endsWith('_local') && column.add_column.on_cluster === 'tapline',
        text(column),
      );
    const tail = statements.filter((s) => typeof s === 'string');
    assert.deepEqual(
      tail.map((s) => s.split(' ON CLUSTER')[0]),
      [
        'DROP TABLE IF EXISTS tl.transactions',
        'CREATE TABLE IF NOT EXISTS tl.transactions',
        'DROP TABLE IF EXISTS tl.lifecycle_events',
        'CREATE TABLE IF NOT EXISTS tl.lifecycle_events',
      ],
    );
  });

  it('names the database in every statement and creates the database and the migrations record everywhere', () => {
    for (const statement of migrations.flatMap((m) => clusterStatements(m, 'tl', shape)))
      if (typeof statement === 'string') assert.match(statement, /\btl\.[a-z_]+/, statement.slice(0, 80));
    assert.equal(createDatabaseSql('tl', shape), 'CREATE DATABASE IF NOT EXISTS tl ON CLUSTER tapline');
    assert.equal(createDatabaseSql('tl', undefined), 'CREATE DATABASE IF NOT EXISTS tl');
    assert.match(
      migrationsTableSql('tl', shape),
      /ReplicatedReplacingMergeTree\('\/clickhouse\/tables\/all\/tl\/tapline_schema_migrations', '\{shard\}-\{replica\}'\)/,
    );
    assert.doesNotMatch(migrationsTableSql('tl', undefined), /ON CLUSTER|Replicated/);
  });
});
