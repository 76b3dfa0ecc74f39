// Applies the migrations that a database has not recorded yet, in version order. Safe to run on
// every start and from several streamers at once: statements are idempotent and the record
// table collapses repeated versions (ReplacingMergeTree keyed by version). On a ClickHouse cluster
// (`shape`) the statements run ON CLUSTER as cluster-ddl.ts rewrites them, from any one server.

import { ClickHouseLogLevel, createClient } from '@clickhouse/client';
import type { Logger } from '../../common/logger';
import { MigrationError } from '../errors';
import { identifier, stringLiteral } from '../sql';
import { addColumnSql, backfill_timeout_ms, migrations, migrations_table, type Migration, type Statement } from './migrations';
import { clusterStatements, createDatabaseSql, migrationsTableSql, type ClusterShape } from './cluster-ddl';

/** One DDL statement may take this long (CREATE is quick; a busy server is not). */
export const migration_statement_timeout_ms = 30_000;

export interface MigrateResult {
  /** Versions applied by this call (empty when the schema was already current). */
  readonly applied: number[];
}

export async function migrate(
  url: string,
  database: string,
  logger?: Logger,
  list: readonly Migration[] = migrations,
  shape?: ClusterShape,
): Promise<MigrateResult> {
  const db = identifier(database);
  const server = createClient({ url, request_timeout: migration_statement_timeout_ms, log: { level: ClickHouseLogLevel.OFF } });
  try {
    await run(server, createDatabaseSql(db, shape));
  } finally {
    await server.close();
  }
  const client = createClient({
    url,
    database: db,
    request_timeout: migration_statement_timeout_ms,
    log: { level: ClickHouseLogLevel.OFF },
  });
  try {
    await run(client, migrationsTableSql(db, shape));
    const done = await appliedVersions(client);
    const applied: number[] = [];
    for (const migration of [...list].sort((a, b) => a.version - b.version)) {
      if (done.has(migration.version)) continue;
      const statements = shape === undefined ? migration.statements(db) : clusterStatements(migration, db, shape);
      for (const statement of statements) await apply(client, url, db, statement, migration);
      try {
        await client.insert({
          table: migrations_table,
          values: [{ version: migration.version, name: migration.name, applied_at: Math.floor(Date.now() / 1000) }],
          format: 'JSONEachRow',
        });
      } catch (error) {
        throw new MigrationError('could not record migration', error, { version: migration.version });
      }
      applied.push(migration.version);
      logger?.info({ version: migration.version, name: migration.name, database: db }, 'migration applied');
    }
    return { applied };
  } finally {
    await client.close();
  }
}

/** The versions a database has recorded. */
export async function appliedVersions(client: ReturnType<typeof createClient>): Promise<Set<number>> {
  try {
    const result = await client.query({ query: `SELECT DISTINCT version FROM ${migrations_table}`, format: 'JSONEachRow' });
    const rows = await result.json<{ version: number | string }>();
    return new Set(rows.map((row) => Number(row.version)));
  } catch (error) {
    throw new MigrationError('could not read applied migrations', error);
  }
}

async function apply(
  client: ReturnType<typeof createClient>,
  url: string,
  database: string,
  statement: Statement,
  migration: Migration,
): Promise<void> {
  if (typeof statement === 'string') return run(client, statement, migration);
  if ('backfill' in statement) {
    const long = createClient({
      url,
      database,
      request_timeout: backfill_timeout_ms,
      // On a cluster the copy goes through Distributed tables: each block is on its shard when the statement ends.
      clickhouse_settings: { insert_distributed_sync: 1 },
      log: { level: ClickHouseLogLevel.OFF },
    });
    try {
      return await run(long, statement.backfill, migration);
    } finally {
      await long.close();
    }
  }
  const exists = async (): Promise<boolean> => {
    const { table, column } = statement.add_column;
    const sql = `SELECT count() AS n FROM system.columns WHERE database = ${stringLiteral(database)} AND table = ${stringLiteral(table)} AND name = ${stringLiteral(column)}`;
    try {
      const rows = await (await client.query({ query: sql, format: 'JSONEachRow' })).json<{ n: number | string }>();
      return Number(rows[0]?.n ?? 0) > 0;
    } catch (error) {
      throw new MigrationError('could not read columns', error, { version: migration.version, table });
    }
  };
  if (await exists()) return;
  try {
    await run(client, addColumnSql(statement), migration);
  } catch (error) {
    // Another streamer added it between our check and our ALTER.
    if (await exists()) return;
    throw error;
  }
}

async function run(client: ReturnType<typeof createClient>, statement: string, migration?: Migration): Promise<void> {
  try {
    await client.command({ query: statement });
  } catch (error) {
    throw new MigrationError('migration statement failed', error, { version: migration?.version, statement: statement.slice(0, 200) });
  }
}
