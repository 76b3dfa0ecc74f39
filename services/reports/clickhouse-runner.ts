// Runs report statements on ClickHouse over HTTP (@clickhouse/client, checked against 18.16.1
// and current servers). Every failure leaves as a ReportBackendError.

import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';
import { identifier } from '../streamer/sql';
import { ReportBackendError } from './errors';
import type { ReportsMetrics } from './metrics';
import type { QueryRow, QueryRunner } from './reports';

export class ClickHouseRunner {
  private readonly client: ClickHouseClient;

  constructor(
    url: string,
    database: string,
    private readonly query_timeout_ms: number,
    private readonly metrics?: ReportsMetrics,
  ) {
    this.client = createClient({
      url,
      database: identifier(database),
      request_timeout: query_timeout_ms,
      log: { level: ClickHouseLogLevel.OFF },
    });
  }

  readonly query: QueryRunner = async (sql: string): Promise<QueryRow[]> => {
    const stopTimer = this.metrics?.clickhouseQuerySeconds.startTimer();
    try {
      const result = await this.client.query({
        query: sql,
        format: 'JSONEachRow',
        abort_signal: AbortSignal.timeout(this.query_timeout_ms),
      });
      const rows = await result.json<QueryRow>();
      stopTimer?.({ outcome: 'ok' });
      return rows;
    } catch (error) {
      stopTimer?.({ outcome: 'error' });
      throw new ReportBackendError('clickhouse', error);
    }
  };

  async close(): Promise<void> {
    await this.client.close();
  }
}
