// Configuration of a reports process, from environment variables, validated at startup.
// Every bound says why it has its default.

import { hostname } from 'node:os';
import { z } from 'zod';
import { identifier_pattern } from '../streamer/sql';
import { ConfigError, envInt, log_level, parseEnv } from '../common/process';
import { redis_target_env, redisTargetOf, type RedisTarget } from '../common/redis-target';

const int = envInt;
const flag = z.enum(['0', '1']);

// Background jobs of the reports process (docs/NOTICES.md, docs/REPORTING.md): the event relay and
// delivery worker (notices and webhooks) and the settlement scheduler. Each job that must run once
// in the cluster holds a lease in Redis, so any number of reports replicas may run them.
const back_office_schema = {
  // Must equal the authorizer's value: the relay and the scheduler read every shard's outbox to
  // know what ClickHouse already holds (services/events/horizon.ts).
  TAPLINE_SHARD_COUNT: int(1, 65536, 256),
  // This process' name as a lease holder.
  TAPLINE_NODE_ID: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,64}$/)
    .default(hostname().slice(0, 64)),
  TAPLINE_EVENTS_ENABLED: flag.default('1'),
  // How often the relay looks for new events: notices go out within about this plus the
  // streamer's batch wait (2 s) of the commit.
  TAPLINE_EVENTS_POLL_MS: int(50, 600_000, 1_000),
  // Events planned per step (one ClickHouse read, one Redis script).
  TAPLINE_EVENTS_PAGE_EVENTS_MAX: int(1, 10_000, 500),
  // A relay that stops renewing (crash, pause) hands over after this long; renewed every poll.
  TAPLINE_EVENTS_LEASE_TTL_MS: int(1_000, 600_000, 15_000),
  // Deliveries kept in each card's / operator's / endpoint's history listing.
  TAPLINE_EVENTS_LOG_ENTRIES_MAX: int(10, 100_000, 1_000),
  // Attempts of one delivery before it is failed: with the backoff below, about a day and a half.
  TAPLINE_DELIVERY_ATTEMPTS_MAX: int(1, 100, 12),
  TAPLINE_DELIVERY_BACKOFF_INITIAL_MS: int(10, 3_600_000, 10_000),
  TAPLINE_DELIVERY_BACKOFF_MAX_MS: int(10, 86_400_000, 3_600_000),
  // One send (webhook POST, SMTP dialogue, SMS call) may take this long.
  TAPLINE_DELIVERY_TIMEOUT_MS: int(100, 120_000, 10_000),
  // A claimed delivery is hidden this long from other workers; must exceed the send timeout.
  TAPLINE_DELIVERY_IN_FLIGHT_MS: int(1_000, 3_600_000, 60_000),
  // Deliveries one worker step sends concurrently.
  TAPLINE_DELIVERY_CLAIM_MAX: int(1, 1_000, 50),
  TAPLINE_DELIVERY_POLL_MS: int(50, 600_000, 1_000),
  // A sent or failed delivery (recipient and text: personal data) is kept this long, 30 days.
  TAPLINE_DELIVERY_RETENTION_MS: int(60_000, 31_536_000_000, 2_592_000_000),
  // E-mail notices over SMTP; unset host: no e-mail is sent (deliveries wait and retry).
  TAPLINE_SMTP_HOST: z.string().min(1).optional(),
  TAPLINE_SMTP_PORT: int(1, 65535, 587),
  TAPLINE_SMTP_SECURE: flag.default('0'),
  // Refuse to send without STARTTLS. Only a local test server runs without it.
  TAPLINE_SMTP_REQUIRE_TLS: flag.default('1'),
  TAPLINE_SMTP_USER: z.string().optional(),
  TAPLINE_SMTP_PASSWORD: z.string().optional(),
  TAPLINE_SMTP_FROM: z.string().default('Tapline <notices@tapline.invalid>'),
  TAPLINE_SMTP_MESSAGE_ID_DOMAIN: z
    .string()
    .regex(/^[A-Za-z0-9.-]{1,253}$/)
    .default('tapline.invalid'),
  // SMS notices through a Twilio-compatible Messages API; all three of SID, token and sender or none.
  TAPLINE_SMS_BASE_URL: z.string().url().default('https://api.twilio.com'),
  TAPLINE_SMS_ACCOUNT_SID: z.string().min(1).optional(),
  TAPLINE_SMS_AUTH_TOKEN: z.string().min(1).optional(),
  TAPLINE_SMS_FROM: z.string().min(1).optional(),
  // The settlement scheduler computes every merchant's batch of each ended period once ClickHouse
  // holds all of it; it looks this often.
  TAPLINE_SETTLEMENT_SCHEDULER_ENABLED: flag.default('1'),
  TAPLINE_SETTLEMENT_SCHEDULER_INTERVAL_MS: int(1_000, 86_400_000, 60_000),
  // A period is computed once the outbox horizon is this far past its end: a document is decided
  // (its `at`) before it commits, by at most the authorizer's commit time-out, and node clocks may
  // differ from Redis' by a little. A minute covers both with room.
  TAPLINE_SETTLEMENT_SETTLE_MARGIN_MS: int(0, 86_400_000, 60_000),
  // Periods a scheduler run catches up at most, per merchant (a stopped scheduler, a new merchant).
  TAPLINE_SETTLEMENT_CATCH_UP_DAYS: int(1, 3_660, 62),
  // The operator's own account, the debtor of SEPA credit transfer files (pain.001); unset: no SEPA files.
  TAPLINE_SEPA_DEBTOR_NAME: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9 .&/-]{0,69}$/)
    .optional(),
  TAPLINE_SEPA_DEBTOR_IBAN: z
    .string()
    .regex(/^[A-Z]{2}[0-9]{2}[A-Z0-9]{10,30}$/)
    .optional(),
  TAPLINE_SEPA_DEBTOR_BIC: z
    .string()
    .regex(/^[A-Z]{6}[A-Z2-9][A-NP-Z0-9]([A-Z0-9]{3})?$/)
    .optional(),
};

const schema = z.object({
  TAPLINE_CLICKHOUSE_URL: z.string().url().default('http://127.0.0.1:8123'),
  // Spliced into every report query as the qualifier of the tables: a plain identifier only.
  TAPLINE_CLICKHOUSE_DATABASE: z.string().regex(identifier_pattern).default('tapline'),
  // The reports service's own state (settlement configuration and batches): where Redis is.
  ...redis_target_env,
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
  ...back_office_schema,
});

export type ReportsConfig = z.infer<typeof schema> & { readonly redis: RedisTarget };

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
  const sms = [config.TAPLINE_SMS_ACCOUNT_SID, config.TAPLINE_SMS_AUTH_TOKEN, config.TAPLINE_SMS_FROM].filter(
    (value) => value !== undefined,
  );
  if (sms.length !== 0 && sms.length !== 3)
    throw new ConfigError('invalid configuration: TAPLINE_SMS_ACCOUNT_SID, TAPLINE_SMS_AUTH_TOKEN and TAPLINE_SMS_FROM go together');
  if (config.TAPLINE_DELIVERY_IN_FLIGHT_MS <= config.TAPLINE_DELIVERY_TIMEOUT_MS)
    throw new ConfigError('invalid configuration: TAPLINE_DELIVERY_IN_FLIGHT_MS must exceed TAPLINE_DELIVERY_TIMEOUT_MS');
  if (config.TAPLINE_DELIVERY_BACKOFF_INITIAL_MS > config.TAPLINE_DELIVERY_BACKOFF_MAX_MS)
    throw new ConfigError('invalid configuration: TAPLINE_DELIVERY_BACKOFF_INITIAL_MS exceeds TAPLINE_DELIVERY_BACKOFF_MAX_MS');
  // The relay renews its lease once per poll: a poll interval near the TTL would lose it between polls.
  if (config.TAPLINE_EVENTS_LEASE_TTL_MS < 3 * config.TAPLINE_EVENTS_POLL_MS)
    throw new ConfigError('invalid configuration: TAPLINE_EVENTS_LEASE_TTL_MS must be at least 3 x TAPLINE_EVENTS_POLL_MS');
  const sepa = [config.TAPLINE_SEPA_DEBTOR_NAME, config.TAPLINE_SEPA_DEBTOR_IBAN, config.TAPLINE_SEPA_DEBTOR_BIC].filter(
    (v) => v !== undefined,
  );
  if (sepa.length !== 0 && sepa.length !== 3)
    throw new ConfigError(
      'invalid configuration: TAPLINE_SEPA_DEBTOR_NAME, TAPLINE_SEPA_DEBTOR_IBAN and TAPLINE_SEPA_DEBTOR_BIC go together',
    );
  // Settlement commands are bounded at 10 s (settlement-store.ts).
  const redis = redisTargetOf(config, 10_000, problems);
  if (problems.length > 0) throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
  return { ...config, redis };
}
