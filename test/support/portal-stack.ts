// What every portal browser test starts: Redis and ClickHouse (migrated), a node trusting the
// portal's issuer, the reports service (with its settlement store), the streamer between them, the
// portal with its staff accounts, headless Chromium, and the test's clients of the node. One call
// starts it all and one stops it; a start that fails stops what it had started.

import { mkdirSync } from 'node:fs';
import type { Browser } from 'puppeteer-core';
import type { AuthorizerNode } from '../../services/authorizer/node';
import type { PspIntegration } from '../../services/authorizer/usecases/psp';
import { createLogger } from '../../services/common/logger';
import { singleRedis } from '../../services/common/redis-target';
import { ClickHouseRunner } from '../../services/reports/clickhouse-runner';
import { ReportsServer } from '../../services/reports/server';
import { RedisSettlementStore } from '../../services/reports/settlement-store';
import { authorizerCredentials } from '../../services/reports/card-states';
import type { SepaDebtor } from '../../services/reports/bank-files/pain001';
import { AuthorizerRefundCards } from '../../services/reports/refund-claims/cards';
import { RedisRefundClaimStore } from '../../services/reports/refund-claims/store';
import { loadStreamerConfig } from '../../services/streamer/config';
import { migrate } from '../../services/streamer/schema/migrate';
import { Streamer } from '../../services/streamer/streamer';
import { startClickHouse, type ClickHouseInstance } from '../../tools/devenv/clickhouse';
import type { DemoUser, PortalFiles } from '../../tools/devenv/portal';
import type { RedisInstance } from '../../tools/devenv/redis';
import { CardClient } from '../../tools/client/card-client';
import { FleetClient } from '../../tools/client/fleet-client';
import { TaplineClient } from '../../tools/client/tapline-client';
import { accessTo, endpointsOf, startInProcessNode, startTestRedis, testCardStates, testCredentials, testDataDir } from './harness';
import { streamerEnv } from './outbox-fixtures';
import {
  launchChromium,
  portalFiles,
  portalIssuers,
  portalReportsSecurity,
  screenshotDir,
  startTestPortal,
  type TestPortal,
} from './portal';

export interface PortalStackOptions {
  /** Names the test's Redis and ClickHouse data directories, its database (`<name>_test`, dashes as underscores) and its log. */
  readonly name: string;
  /** The portal's staff accounts. */
  readonly users: readonly DemoUser[];
  /** Node settings beyond the test defaults, the PIN secret and the portal's issuer. */
  readonly nodeEnv?: Readonly<Record<string, string>>;
  /** The node's PSP integration (the simulated one unless given). */
  readonly psp?: PspIntegration;
  /** The portal's port, chosen beforehand (a PSP redirect names it before the portal starts); 0 = any. */
  readonly portalPort?: number;
  /** Serve holders' refund claims (the reports service's claim store, paying through the node), from this account. */
  readonly refundClaims?: { readonly debtor: SepaDebtor };
  /** Run the streamer (outbox to ClickHouse); default true. */
  readonly streamer?: boolean;
}

export interface PortalStack {
  readonly redis: RedisInstance;
  readonly clickhouse: ClickHouseInstance;
  /** The ClickHouse database the streamer writes and the reports service reads. */
  readonly database: string;
  readonly node: AuthorizerNode;
  readonly reports: ReportsServer;
  readonly settlement: RedisSettlementStore;
  /** The refund claim store, when the stack serves refund claims. */
  readonly refundClaims: RedisRefundClaimStore | undefined;
  readonly streamer: Streamer | undefined;
  readonly portal: TestPortal;
  readonly files: PortalFiles;
  readonly browser: Browser;
  /** Clients of the node with the test credentials (terminals and operators). */
  readonly client: TaplineClient;
  readonly cards: CardClient;
  readonly fleet: FleetClient;
  /** Stops everything, in reverse order of start. */
  stop(): Promise<void>;
}

/** The programs the portal's organizer pages know. */
const programs = ['fest'];

export async function startPortalStack(options: PortalStackOptions): Promise<PortalStack> {
  const database = `${options.name.replace(/-/g, '_')}_test`;
  const logger = createLogger(`${options.name}-test`, 'warn');
  // What has started, stopped in reverse order by stop() or when a later part fails to start.
  const stops: (() => Promise<void> | void)[] = [];
  const stop = async (): Promise<void> => {
    for (const stopOne of stops.splice(0).reverse()) await stopOne();
  };
  try {
    const files = await portalFiles(options.users);
    const [redis, clickhouse] = await Promise.all([
      startTestRedis(options.name),
      startClickHouse({ dataDir: testDataDir(`${options.name}-ch`) }),
    ]);
    stops.push(() => Promise.all([redis.stop(), clickhouse.stop()]).then(() => undefined));
    await migrate(clickhouse.url, database);
    const node = await startInProcessNode(
      redis.url,
      {
        TAPLINE_PIN_SECRET: 'portal-test-pin-secret-0123',
        TAPLINE_OIDC_ISSUERS: await portalIssuers(files),
        ...options.nodeEnv,
      },
      options.psp === undefined ? {} : { psp: options.psp },
    );
    stops.push(() => node.shutdown());
    const settlement = await RedisSettlementStore.connect(singleRedis(redis.url));
    stops.push(() => settlement.close());
    const access = await accessTo(node);
    const [client, cards, fleet] = [new TaplineClient(access), new CardClient(access), new FleetClient(access)];
    stops.push(() => [client, cards, fleet].forEach((c) => c.close()));
    const runner = new ClickHouseRunner(clickhouse.url, database, 30_000);
    let refundClaims: RedisRefundClaimStore | undefined;
    let refund_claims: { store: RedisRefundClaimStore; cards: AuthorizerRefundCards; now: () => number; debtor: SepaDebtor } | undefined;
    if (options.refundClaims !== undefined) {
      const store = await RedisRefundClaimStore.connect(singleRedis(redis.url));
      refundClaims = store;
      stops.push(() => store.close());
      const refundCards = new AuthorizerRefundCards(
        endpointsOf(node).operator,
        authorizerCredentials((await testCredentials()).caFile),
        10_000,
        { 'grpc.ssl_target_name_override': 'localhost' },
      );
      stops.push(() => refundCards.close());
      refund_claims = { store, cards: refundCards, now: Date.now, debtor: options.refundClaims.debtor };
    }
    const reports = await ReportsServer.start(
      {
        query: (statement) => runner.query(statement),
        database,
        cards: await testCardStates(node),
        settlement,
        ...(refund_claims === undefined ? {} : { refund_claims }),
      },
      0,
      logger,
      await portalReportsSecurity(files),
    );
    stops.push(() => reports.stop(1_000));
    let streamer: Streamer | undefined;
    if (options.streamer !== false) {
      const started = await Streamer.start(loadStreamerConfig(streamerEnv(redis.url, clickhouse.url, database)), logger);
      streamer = started;
      stops.push(async () => {
        await started.stop();
      });
    }
    const portal = await startTestPortal(
      files,
      { operator: endpointsOf(node).operator, reportsPort: reports.port },
      programs,
      options.portalPort ?? 0,
    );
    stops.push(async () => {
      await portal.server.stop();
      portal.backend.close();
    });
    const browser = await launchChromium();
    stops.push(() => browser.close());
    mkdirSync(screenshotDir(), { recursive: true });
    return {
      redis,
      clickhouse,
      database,
      node,
      reports,
      settlement,
      refundClaims,
      streamer,
      portal,
      files,
      browser,
      client,
      cards,
      fleet,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
