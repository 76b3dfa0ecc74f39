// Configuration of a reports process, from environment variables, validated at startup.
// Every bound says why it has its default.

import { z } from 'zod';
import { identifier_pattern } from '../streamer/sql';
import { ConfigError, envInt, log_level, parseEnv } from '../common/process';

const int = envInt;

const schema = z.object({
  TAPLINE_CLICKHOUSE_URL: z.string().url().default('http://127.0.0.1:8123'),
  // Spliced into every report query as the qualifier of the tables: a plain identifier only.
  TAPLINE_CLICKHOUSE_DATABASE: z.string().regex(identifier_pattern).default('tapline'),
  // The reports service's own state (settlement configuration and batches).
  TAPLINE_REDIS_URL: z.string().url().default('redis://127.0.0.1:6390'),
  // host:port of the authorizer's operator door (any node, or the Service in front of them), where
  // reconciliation and card histories read the stored balances (AdminService.ListBalances,
  // CardService.GetCard). The default is a node's default operator port on this host (development).
  TAPLINE_AUTHORIZER_GRPC_ADDRESS: z
    .string()
    .regex(/^[A-Za-z0-9.\-[\]:]+:[0-9]{1,5}$/)
    .default('127.0.0.1:50053'),
  // Deadline of one call to the authorizer. A ListBalances page of 1,000 states takes milliseconds;
  // 10 s leaves room for a loaded node and stays well below a report's patience.
  TAPLINE_AUTHORIZER_CALL_TIMEOUT_MS: int(100, 600_000, 10_000),
  // The CA bundle that signed the authorizer's certificate (TLS to its operator door).
  TAPLINE_AUTHORIZER_CA_FILE: z.string().optional(),
  // This service's own bearer token towards the authorizer (a token of the "reports" role, from
  // the identity provider's client-credentials flow or a projected Secret); reread when it changes.
  TAPLINE_AUTHORIZER_TOKEN_FILE: z.string().optional(),
  // The reports port's own certificate and key (HTTPS); reread when they change.
  TAPLINE_TLS_CERT_FILE: z.string().optional(),
  TAPLINE_TLS_KEY_FILE: z.string().optional(),
  // How often certificate and token files are reread.
  TAPLINE_TLS_RELOAD_MS: int(50, 3_600_000, 10_000),
  // Token issuers trusted for callers of every route (the same JSON as the authorizer's).
  TAPLINE_OIDC_ISSUERS: z.string().optional(),
  TAPLINE_OIDC_AUDIENCE: z.string().min(1).max(256).default('tapline'),
  TAPLINE_OIDC_ROLES_CLAIM: z
    .string()
    .regex(/^[A-Za-z0-9_:/.-]{1,128}$/)
    .default('tapline_roles'),
  TAPLINE_OIDC_CLOCK_TOLERANCE_S: int(0, 600, 30),
  // The development switch: plain HTTP on the reports port and plaintext to the authorizer
  // (tokens are still required). Logged as an error at start.
  TAPLINE_DEV_PLAINTEXT: z.enum(['true', 'false']).default('false'),
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
  const config = parseEnv(schema, env);
  const problems: string[] = [];
  if (config.TAPLINE_OIDC_ISSUERS === undefined)
    problems.push('TAPLINE_OIDC_ISSUERS is required (every route but /healthz and /metrics takes a token)');
  if (config.TAPLINE_AUTHORIZER_TOKEN_FILE === undefined)
    problems.push("TAPLINE_AUTHORIZER_TOKEN_FILE is required (the service's own token towards the authorizer)");
  if (config.TAPLINE_DEV_PLAINTEXT !== 'true')
    for (const name of ['TAPLINE_TLS_CERT_FILE', 'TAPLINE_TLS_KEY_FILE', 'TAPLINE_AUTHORIZER_CA_FILE'] as const)
      if (config[name] === undefined) problems.push(`${name} is required (set TAPLINE_DEV_PLAINTEXT=true only for development)`);
  if (problems.length > 0) throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
  return config;
}
