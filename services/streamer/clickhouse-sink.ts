// The ClickHouse side of the streamer: one INSERT per table per batch, over HTTP with
// @clickhouse/client (checked against 18.16.1 and current servers). Every failure leaves as a
// ClickHouseError; the caller retries the whole batch, and duplicates are removed on read.

import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';
import { ClickHouseError } from './errors';
import type { Row, RowTable } from './rows';
import { identifier } from './sql';

export interface SinkOptions {
  readonly url: string;
  readonly database: string;
  /** One INSERT may take this long before it counts as failed. */
  readonly insert_timeout_ms: number;
  /**
   * A ClickHouse cluster: inserts go through its Distributed tables synchronously (the INSERT
   * returns once each shard has its rows, not once they are queued on this server's disk), with
   * this quorum of replicas per shard (0: none waited for).
   */
  readonly cluster?: { readonly insert_quorum: number };
}

const tables: readonly RowTable[] = [
  'transactions',
  'transaction_lines',
  'lifecycle_events',
  'audit_log',
  'fleet_invoices',
  'tap_pours',
  'outbox_rejects',
];

export class ClickHouseSink {
  private readonly client: ClickHouseClient;

  constructor(private readonly options: SinkOptions) {
    this.client = createClient({
      url: options.url,
      database: identifier(options.database),
      request_timeout: options.insert_timeout_ms,
      ...(options.cluster === undefined
        ? {}
        : {
            clickhouse_settings: {
              insert_distributed_sync: 1,
              ...(options.cluster.insert_quorum > 0 ? { insert_quorum: String(options.cluster.insert_quorum) } : {}),
            },
          }),
      // Failures reach our pino log as ClickHouseError with context; the client's own console
      // logger would print each one a second time, unstructured.
      log: { level: ClickHouseLogLevel.OFF },
    });
  }

  /**
   * Inserts the rows, one INSERT per table. On one server the tables go concurrently (a batch
   * costs the slowest INSERT, not their sum). With an insert quorum they go one after another:
   * several source tables feed one replicated table through materialized views (the relay's
   * events), and ClickHouse refuses a quorum write to a table while the previous one is still
   * waiting for its quorum. Resolves only when ClickHouse accepted all of them; if any fails the
   * caller retries the whole batch and the copies that did land are removed on read.
   */
  async insert(rows: readonly Row[]): Promise<void> {
    const inserts = tables.map((table) => () => this.insertTable(table, rows));
    if ((this.options.cluster?.insert_quorum ?? 0) > 0) {
      for (const insert of inserts) await insert();
      return;
    }
    const results = await Promise.allSettled(inserts.map((insert) => insert()));
    for (const result of results) if (result.status === 'rejected') throw result.reason;
  }

  private async insertTable(table: RowTable, rows: readonly Row[]): Promise<void> {
    const values = rows.filter((row) => row.table === table).map((row) => row.values);
    if (values.length === 0) return;
    try {
      await this.client.insert({
        table,
        values,
        format: 'JSONEachRow',
        abort_signal: AbortSignal.timeout(this.options.insert_timeout_ms),
      });
    } catch (error) {
      throw new ClickHouseError('ClickHouse insert failed', error, { table, rows: values.length });
    }
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}
