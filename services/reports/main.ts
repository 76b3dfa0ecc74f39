// Process entry of the reports service. Reads configuration from the environment, connects to
// ClickHouse and Redis (its own settlement state) and reads stored balances from the authorizer's
// gRPC API, starts the back office (event relay, delivery worker, settlement scheduler), serves the reports API, and on SIGTERM / SIGINT stops accepting, lets
// requests in progress finish within the grace period and exits 0. Prints one JSON line
// {"event":"serving","grpcPort":0,"httpPort":N} on stdout when ready, whatever the log level (it
// serves no gRPC; the field lets the shared process helpers wait for it like for other services).

import { HttpAccess } from '../common/auth/http-access';
import { parseIssuers, TokenVerifier } from '../common/auth/tokens';
import { WatchedFile } from '../common/auth/watched-file';
import { createLogger } from '../common/logger';
import { startBackOffice } from './back-office';
import { AuthorizerCardStates, authorizerCredentials } from './card-states';
import { ClickHouseRunner } from './clickhouse-runner';
import { loadReportsConfig, type ReportsConfig } from './config';
import { configOrExit, exitOnUnexpectedError, onStopSignal } from '../common/process';
import { ReportsMetrics } from './metrics';
import { ReportsServer } from './server';
import { RedisSettlementStore } from './settlement-store';
import { AuthorizerRefundCards } from './refund-claims/cards';
import { RedisRefundClaimStore } from './refund-claims/store';
import type { RefundClaimsContext } from './refund-claims/http';
import type { SepaDebtor } from './bank-files/pain001';

async function main(): Promise<void> {
  const config: ReportsConfig = configOrExit(loadReportsConfig);
  const logger = createLogger('tapline-reports', config.TAPLINE_LOG_LEVEL);
  // Reports only read: nothing to finish on a defect but the log line.
  exitOnUnexpectedError(logger, () => Promise.resolve());
  // Served on the reports port itself (/metrics), next to /healthz.
  const metrics = new ReportsMetrics(true);
  const clickhouse = new ClickHouseRunner(
    config.TAPLINE_CLICKHOUSE_URL,
    config.TAPLINE_CLICKHOUSE_DATABASE,
    config.TAPLINE_REPORTS_QUERY_TIMEOUT_MS,
    metrics,
  );
  const plaintext = config.TAPLINE_DEV_PLAINTEXT === 'true';
  if (plaintext)
    logger.error(
      { address: config.TAPLINE_AUTHORIZER_GRPC_ADDRESS },
      'TAPLINE_DEV_PLAINTEXT=true: NO TLS on the reports port nor to the authorizer (tokens are still required). Development only.',
    );
  const reload_ms = config.TAPLINE_TLS_RELOAD_MS;
  const token = new WatchedFile(config.TAPLINE_AUTHORIZER_TOKEN_FILE as string, reload_ms);
  token.onChange(() => undefined);
  const cards = new AuthorizerCardStates(
    config.TAPLINE_AUTHORIZER_GRPC_ADDRESS,
    authorizerCredentials(plaintext ? undefined : config.TAPLINE_AUTHORIZER_CA_FILE),
    config.TAPLINE_AUTHORIZER_CALL_TIMEOUT_MS,
    () => token.current.toString('utf8').trim(),
  );
  const verifier = new TokenVerifier({
    issuers: parseIssuers(config.TAPLINE_OIDC_ISSUERS as string),
    audience: config.TAPLINE_OIDC_AUDIENCE,
    roles_claim: config.TAPLINE_OIDC_ROLES_CLAIM,
    clock_tolerance_s: config.TAPLINE_OIDC_CLOCK_TOLERANCE_S,
    reload_ms,
  });
  const tls = plaintext
    ? undefined
    : {
        cert: new WatchedFile(config.TAPLINE_TLS_CERT_FILE as string, reload_ms),
        key: new WatchedFile(config.TAPLINE_TLS_KEY_FILE as string, reload_ms),
      };
  const settlement = await RedisSettlementStore.connect(config.redis);
  const refunds = await refundClaimsOf(config, plaintext, sepaDebtorOf(config));
  const backOffice = await startBackOffice(config, clickhouse.query, settlement, logger, Date.now, metrics);
  const server = await ReportsServer.start(
    {
      query: clickhouse.query,
      database: config.TAPLINE_CLICKHOUSE_DATABASE,
      cards,
      settlement,
      events: backOffice.events,
      ...(refunds.debtor === undefined ? {} : { sepa_debtor: refunds.debtor }),
      refund_claims: refunds,
    },
    config.TAPLINE_REPORTS_PORT,
    logger,
    { access: new HttpAccess(verifier), tls },
    metrics,
  );
  onStopSignal((signal) => {
    logger.info({ signal }, 'shutting down');
    server
      .stop(config.TAPLINE_SHUTDOWN_GRACE_MS)
      .then(() => backOffice.stop())
      .then(() => {
        cards.close();
        refunds.cards.close();
        return Promise.all([clickhouse.close(), settlement.close(), refunds.store.close()]);
      })
      .then(
        () => process.exit(0),
        (error: unknown) => {
          logger.error({ err: error }, 'shutdown failed');
          process.exit(1);
        },
      );
  });
  process.stdout.write(JSON.stringify({ event: 'serving', grpcPort: 0, httpPort: server.port, tls: !plaintext, pid: process.pid }) + '\n');
}

function sepaDebtorOf(config: ReportsConfig): SepaDebtor | undefined {
  const { TAPLINE_SEPA_DEBTOR_NAME: name, TAPLINE_SEPA_DEBTOR_IBAN: iban, TAPLINE_SEPA_DEBTOR_BIC: bic } = config;
  return name === undefined || iban === undefined || bic === undefined ? undefined : { name, iban, bic };
}

/** Holders' refund claims: their store, and the node reached as the person acting (refund-claims/cards.ts). */
async function refundClaimsOf(config: ReportsConfig, plaintext: boolean, debtor: SepaDebtor | undefined): Promise<RefundClaimsContext> {
  const store = await RedisRefundClaimStore.connect(config.redis);
  const cards = new AuthorizerRefundCards(
    config.TAPLINE_AUTHORIZER_GRPC_ADDRESS,
    authorizerCredentials(plaintext ? undefined : config.TAPLINE_AUTHORIZER_CA_FILE),
    config.TAPLINE_AUTHORIZER_CALL_TIMEOUT_MS,
  );
  return { store, cards, now: Date.now, ...(debtor === undefined ? {} : { debtor }) };
}

main().catch((error: unknown) => {
  process.stderr.write(`reports failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
