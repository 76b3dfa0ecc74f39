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
}

const tables: readonly RowTable[] = [
  'transactions',
  'transaction_lines',
  'lifecycle_events',
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
      // Failures reach our pino log as ClickHouseError with context; the client's own console
      // logger would print each one a second time, unstructured.
      log: { level: ClickHouseLogLevel.OFF },
    });
  }

  /**
   * Inserts the rows, one INSERT per table, the tables concurrently (a batch costs the slowest
   * INSERT, not their sum). Resolves only when ClickHouse accepted all of them; if any fails the
   * caller retries the whole batch and the copies that did land are removed on read.
   */
  async insert(rows: readonly Row[]): Promise<void> {
    const results = await Promise.allSettled(
      tables.map(async (table) => {
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
      }),
    );
    for (const result of results) if (result.status === 'rejected') throw result.reason;
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}
