// Configuration of a reports process, from environment variables, validated at startup.
// Every bound says why it has its default.

import { z } from 'zod';
import { identifier_pattern } from '../streamer/sql';
import { envInt, log_level, parseEnv } from '../common/process';

const int = envInt;

const schema = z.object({
  TAPLINE_CLICKHOUSE_URL: z.string().url().default('http://127.0.0.1:8123'),
  // Spliced into every report query as the qualifier of the tables: a plain identifier only.
  TAPLINE_CLICKHOUSE_DATABASE: z.string().regex(identifier_pattern).default('tapline'),
  TAPLINE_REDIS_URL: z.string().url().default('redis://127.0.0.1:6390'),
  // Must equal the authorizer's value: a card's current balance is read from its shard's key.
  TAPLINE_SHARD_COUNT: int(1, 65536, 256),
  // HTTP port of the reports API; 0 picks a free port (tests).
  TAPLINE_REPORTS_PORT: int(0, 65535, 9470),
  TAPLINE_LOG_LEVEL: log_level,
  // One ClickHouse query may take this long. Reports read FINAL views (merge on read), which
  // costs more than a plain scan; 30 s keeps a dashboard waiting at most that long.
  TAPLINE_REPORTS_QUERY_TIMEOUT_MS: int(100, 600_000, 30_000),
  // On SIGTERM, requests in progress get this long to finish. Below Kubernetes' 30 s grace.
  TAPLINE_SHUTDOWN_GRACE_MS: int(0, 600_000, 10_000),
});

export type ReportsConfig = z.infer<typeof schema>;

export function loadReportsConfig(env: Record<string, string | undefined> = process.env): ReportsConfig {
  return parseEnv(schema, env);
}
