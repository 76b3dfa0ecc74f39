// Configuration of a reports process, from environment variables, validated at startup.
// Every bound says why it has its default.

import { z } from 'zod';
import { identifier_pattern } from '../streamer/sql';
import { ConfigError, envInt, log_level, parseEnv } from '../common/process';
import { redis_target_env, redisTargetOf, type RedisTarget } from '../common/redis-target';

const int = envInt;

const schema = z.object({
  TAPLINE_CLICKHOUSE_URL: z.string().url().default('http://127.0.0.1:8123'),
  // Spliced into every report query as the qualifier of the tables: a plain identifier only.
  TAPLINE_CLICKHOUSE_DATABASE: z.string().regex(identifier_pattern).default('tapline'),
  // The reports service's own state (settlement configuration and batches): where Redis is.
  ...redis_target_env,
  // host:port of the authorizer's gRPC API (any node, or the Service in front of them), where
  // reconciliation and card histories read the stored balances (AdminService.ListBalances,
  // CardService.GetCard). The default is a node's default port on this host (development).
  TAPLINE_AUTHORIZER_GRPC_ADDRESS: z
    .string()
    .regex(/^[A-Za-z0-9.\-[\]:]+:[0-9]{1,5}$/)
    .default('127.0.0.1:50051'),
  // Deadline of one call to the authorizer. A ListBalances page of 1,000 states takes milliseconds;
  // 10 s leaves room for a loaded node and stays well below a report's patience.
  TAPLINE_AUTHORIZER_CALL_TIMEOUT_MS: int(100, 600_000, 10_000),
  // TLS towards the authorizer: the CA that signed its certificate, and this service's client
  // certificate and key where the authorizer asks for one (mutual TLS). None set: plaintext, for
  // development only (logged as a warning at startup).
  TAPLINE_TLS_CA_FILE: z.string().optional(),
  TAPLINE_TLS_CERT_FILE: z.string().optional(),
  TAPLINE_TLS_KEY_FILE: z.string().optional(),
  // HTTP port of the reports API; 0 picks a free port (tests).
  TAPLINE_REPORTS_PORT: int(0, 65535, 9470),
  TAPLINE_LOG_LEVEL: log_level,
  // One ClickHouse query may take this long. Reports read FINAL views (merge on read), which
  // costs more than a plain scan; 30 s keeps a dashboard waiting at most that long.
  TAPLINE_REPORTS_QUERY_TIMEOUT_MS: int(100, 600_000, 30_000),
  // On SIGTERM, requests in progress get this long to finish. Below Kubernetes' 30 s grace.
  TAPLINE_SHUTDOWN_GRACE_MS: int(0, 600_000, 10_000),
});

export type ReportsConfig = z.infer<typeof schema> & { readonly redis: RedisTarget };

export function loadReportsConfig(env: Record<string, string | undefined> = process.env): ReportsConfig {
  const config = parseEnv(schema, env);
  if ((config.TAPLINE_TLS_CERT_FILE === undefined) !== (config.TAPLINE_TLS_KEY_FILE === undefined))
    throw new ConfigError('invalid configuration: TAPLINE_TLS_CERT_FILE and TAPLINE_TLS_KEY_FILE go together');
  const problems: string[] = [];
  // Settlement commands are bounded at 10 s (settlement-store.ts).
  const redis = redisTargetOf(config, 10_000, problems);
  if (problems.length > 0) throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
  return { ...config, redis };
}
