// The migrations (migrations.ts) as they run on a ClickHouse cluster (TAPLINE_CLICKHOUSE_CLUSTER):
// every table becomes a replicated local table on each server, `<name>_local`, and a Distributed
// table named like the single-server table, so the streamer inserts and reports read under the
// same names on either shape. Released migrations stay as they are; this module rewrites their
// statements, shape by shape, and refuses a statement of a shape it does not know (the unit test
// runs every migration through it, so a new migration cannot silently miss the cluster).
//
//   CREATE TABLE t (...) ENGINE = ReplacingMergeTree() ...
//     -> CREATE TABLE db.t_local ON CLUSTER c (...) ENGINE = ReplicatedReplacingMergeTree(
//          '/clickhouse/tables/{shard}/db/t_local', '{replica}') ...
//        CREATE TABLE db.t ON CLUSTER c AS db.t_local ENGINE = Distributed(c, db, t_local, cityHash64(<id>))
//   CREATE VIEW v AS ...                      -> CREATE VIEW db.v ON CLUSTER c AS ... (over the Distributed tables)
//   CREATE MATERIALIZED VIEW v TO db.t AS SELECT ... FROM db.s
//                                             -> ... ON CLUSTER c TO db.t_local AS SELECT ... FROM db.s_local
//                                                (each server feeds its own shard's copy)
//   DROP TABLE IF EXISTS db.x                 -> ... ON CLUSTER c
//   ADD COLUMN to t                           -> ALTER TABLE t_local ON CLUSTER c ADD COLUMN ...; after a run of
//                                                added columns (before the next other statement, which may
//                                                read them), the Distributed table t is dropped and created
//                                                again over them (ClickHouse 18.16 refuses ALTER ... ON
//                                                CLUSTER of a Distributed table in a cluster with internal
//                                                replication; it holds no data)
//   backfill INSERT ... SELECT                -> unchanged: through the Distributed tables, synchronously
//
// Sharding: a Distributed table sends each row to the shard of a hash of its id, so every copy of
// a row (at-least-once delivery) lands on one shard, where the ReplacingMergeTree and FINAL remove
// it. transactions_by_merchant is fed per shard by its materialized view from transactions, so it
// is sharded by the same id: its backfilled copies land where the view's do.

import { identifier } from '../sql';
import { migrations_table, type AddColumn, type Migration, type Statement } from './migrations';

/** The column whose hash places a table's rows on a shard: the id that copies of one row share. */
export const sharding_columns: Readonly<Record<string, string>> = {
  transactions: 'id',
  transaction_lines: 'id',
  lifecycle_events: 'event_id',
  outbox_rejects: 'event_id',
  transactions_by_merchant: 'id',
  // Fed per shard by its views from transactions (event_id = id) and lifecycle_events.
  relay_events: 'event_id',
  // Deduplicated by (terminal, report): a report re-sent after its idempotency record expired is a
  // new document with the same key, so its copies must meet on the terminal's shard.
  tap_pours: 'terminal',
  // Operators' audit records: every copy of a record shares its event_id (shard and stream entry).
  audit_log: 'event_id',
  // Deduplicated by (fleet, cycle): every copy of a cycle's invoice meets on its fleet's shard.
  fleet_invoices: 'fleet',
};

/** A ClickHouse cluster as the migrations see it. */
export interface ClusterShape {
  /** The cluster's name in the servers' remote_servers. */
  readonly cluster: string;
}

export function localTable(table: string): string {
  return `${table}_local`;
}

/** CREATE DATABASE on every server of the cluster. */
export function createDatabaseSql(database: string, shape: ClusterShape | undefined): string {
  const onCluster = shape === undefined ? '' : ` ON CLUSTER ${identifier(shape.cluster)}`;
  return `CREATE DATABASE IF NOT EXISTS ${identifier(database)}${onCluster}`;
}

/**
 * The migrations record. On a cluster every server replicates one copy of it (one ZooKeeper path
 * for all shards; replicas named by shard and replica), so any server knows what was applied.
 */
export function migrationsTableSql(database: string, shape: ClusterShape | undefined): string {
  const columns = '(version UInt32, name String, applied_at DateTime)';
  if (shape === undefined)
    return `CREATE TABLE IF NOT EXISTS ${migrations_table} ${columns} ENGINE = ReplacingMergeTree() ORDER BY (version)`;
  const db = identifier(database);
  return (
    `CREATE TABLE IF NOT EXISTS ${db}.${migrations_table} ON CLUSTER ${identifier(shape.cluster)} ${columns} ` +
    `ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/all/${db}/${migrations_table}', '{shard}-{replica}') ORDER BY (version)`
  );
}

const create_table = /^CREATE TABLE IF NOT EXISTS ([a-z_]+) \(([\s\S]*)\) ENGINE = ReplacingMergeTree\(\)([\s\S]*)$/;
const create_view = /^CREATE VIEW IF NOT EXISTS ([a-z_]+) AS ([\s\S]*)$/;
const create_mv =
  /^CREATE MATERIALIZED VIEW IF NOT EXISTS ([a-z_]+) TO ([A-Za-z_0-9]+)\.([a-z_]+)\s+AS\s+SELECT\s+([\s\S]*?)\s+FROM ([A-Za-z_0-9]+)\.([a-z_]+)$/;
const drop_table = /^DROP TABLE IF EXISTS ([A-Za-z_0-9]+\.[a-z_]+)$/;

/** A migration's statements for a cluster, in order; throws on a statement of an unknown shape. */
export function clusterStatements(migration: Migration, database: string, shape: ClusterShape): Statement[] {
  const db = identifier(database);
  const cluster = identifier(shape.cluster);
  const out: Statement[] = [];
  const widened = new Set<string>();
  const recreateWidened = (): void => {
    for (const table of widened) out.push(`DROP TABLE IF EXISTS ${db}.${table} ON CLUSTER ${cluster}`, distributedSql(table, db, cluster));
    widened.clear();
  };
  for (const statement of migration.statements(db)) {
    if (typeof statement !== 'string' && 'add_column' in statement) {
      widened.add(statement.add_column.table);
      out.push(onClusterColumn(statement, cluster));
      continue;
    }
    recreateWidened();
    if (typeof statement === 'string') out.push(...rewrite(statement.trim(), db, cluster, migration));
    else out.push(statement);
  }
  recreateWidened();
  return out;
}

function rewrite(statement: string, db: string, cluster: string, migration: Migration): string[] {
  const table = create_table.exec(statement);
  if (table !== null) {
    const [, name, columns, rest] = table as unknown as [string, string, string, string];
    const local = localTable(name);
    return [
      `CREATE TABLE IF NOT EXISTS ${db}.${local} ON CLUSTER ${cluster} (${columns}) ` +
        `ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/${db}/${local}', '{replica}')${rest}`,
      distributedSql(name, db, cluster),
    ];
  }
  const view = create_view.exec(statement);
  if (view !== null) return [`CREATE VIEW IF NOT EXISTS ${db}.${view[1] as string} ON CLUSTER ${cluster} AS ${view[2] as string}`];
  const mv = create_mv.exec(statement);
  if (mv !== null) {
    const [, name, , target, columns, , source] = mv as unknown as [string, string, string, string, string, string, string];
    return [
      `CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.${name} ON CLUSTER ${cluster} TO ${db}.${localTable(target)} ` +
        `AS SELECT ${columns} FROM ${db}.${localTable(source)}`,
    ];
  }
  const drop = drop_table.exec(statement);
  if (drop !== null) return [`DROP TABLE IF EXISTS ${drop[1] as string} ON CLUSTER ${cluster}`];
  throw new Error(`assertion: migration ${migration.version} has a statement the cluster DDL does not know: ${statement.slice(0, 120)}`);
}

/** The Distributed table over a local table, sharded by its id. */
function distributedSql(table: string, db: string, cluster: string): string {
  const column = sharding_columns[table];
  if (column === undefined) throw new Error(`assertion: table ${table} has no sharding column (cluster-ddl.ts)`);
  return `CREATE TABLE IF NOT EXISTS ${db}.${table} ON CLUSTER ${cluster} AS ${db}.${localTable(table)} ENGINE = Distributed(${cluster}, ${db}, ${localTable(table)}, cityHash64(${column}))`;
}

function onClusterColumn(statement: AddColumn, cluster: string): AddColumn {
  return { add_column: { ...statement.add_column, table: localTable(statement.add_column.table), on_cluster: cluster } };
}
