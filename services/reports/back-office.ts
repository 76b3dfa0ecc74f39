// The background jobs of a reports process, assembled from its configuration: the event relay and
// the delivery worker (notices and webhooks, services/events) and the settlement scheduler. The
// relay and the scheduler each hold a lease in Redis while they work, so every replica can run
// them; the worker's claims are atomic, so every replica sends.

import type { Logger } from '../common/logger';
import { connectPrimaries, keyRoutedCommands, type RedisPrimaries } from '../common/redis-primaries';
import type { EventsHttpContext } from '../events/http';
import { EmailSender } from '../events/notices/email';
import { TwilioSmsSender } from '../events/notices/sms';
import { EventRelay, type RelayOptions } from '../events/relay';
import { WebhookSender, type Sender } from '../events/senders';
import { EventsStore, keys, type Channel } from '../events/store';
import { DeliveryWorker, type WorkerOptions } from '../events/worker';
import type { WebhookEndpoint } from '../events/webhooks';
import type { ReportsConfig } from './config';
import { ReportBackendError } from './errors';
import type { ReportsMetrics } from './metrics';
import type { QueryRunner } from './reports';
import { SettlementScheduler } from './settlement-scheduler';
import type { SettlementStore } from './settlement-store';

/** Bound on one back-office Redis command, as for the settlement store: background jobs, never on a hot path. */
const back_office_command_timeout_ms = 10_000;

export interface BackOffice {
  readonly events: EventsHttpContext;
  readonly relay: EventRelay | undefined;
  readonly worker: DeliveryWorker | undefined;
  readonly scheduler: SettlementScheduler | undefined;
  stop(): Promise<void>;
}

/** The senders the configuration enables: webhooks always, e-mail with an SMTP host, SMS with provider credentials. */
export function sendersOf(config: ReportsConfig, store: EventsStore): { senders: Partial<Record<Channel, Sender>>; close: () => void } {
  const senders: Partial<Record<Channel, Sender>> = {
    webhook: new WebhookSender((id) => store.getJson<WebhookEndpoint>(keys.endpoint(id)), config.TAPLINE_DELIVERY_TIMEOUT_MS),
  };
  let email: EmailSender | undefined;
  if (config.TAPLINE_SMTP_HOST !== undefined) {
    email = new EmailSender({
      host: config.TAPLINE_SMTP_HOST,
      port: config.TAPLINE_SMTP_PORT,
      secure: config.TAPLINE_SMTP_SECURE === '1',
      require_tls: config.TAPLINE_SMTP_REQUIRE_TLS === '1',
      user: config.TAPLINE_SMTP_USER,
      password: config.TAPLINE_SMTP_PASSWORD,
      from: config.TAPLINE_SMTP_FROM,
      message_id_domain: config.TAPLINE_SMTP_MESSAGE_ID_DOMAIN,
      timeout_ms: config.TAPLINE_DELIVERY_TIMEOUT_MS,
    });
    senders.email = email;
  }
  if (config.TAPLINE_SMS_ACCOUNT_SID !== undefined && config.TAPLINE_SMS_AUTH_TOKEN !== undefined && config.TAPLINE_SMS_FROM !== undefined)
    senders.sms = new TwilioSmsSender({
      base_url: config.TAPLINE_SMS_BASE_URL,
      account_sid: config.TAPLINE_SMS_ACCOUNT_SID,
      auth_token: config.TAPLINE_SMS_AUTH_TOKEN,
      from: config.TAPLINE_SMS_FROM,
      timeout_ms: config.TAPLINE_DELIVERY_TIMEOUT_MS,
    });
  return { senders, close: () => email?.close() };
}

function relayOptions(config: ReportsConfig): RelayOptions {
  return {
    database: config.TAPLINE_CLICKHOUSE_DATABASE,
    shard_count: config.TAPLINE_SHARD_COUNT,
    page_events_max: config.TAPLINE_EVENTS_PAGE_EVENTS_MAX,
    poll_interval_ms: config.TAPLINE_EVENTS_POLL_MS,
    lease_ttl_ms: config.TAPLINE_EVENTS_LEASE_TTL_MS,
    log_entries_max: config.TAPLINE_EVENTS_LOG_ENTRIES_MAX,
    holder: config.TAPLINE_NODE_ID,
  };
}

function workerOptions(config: ReportsConfig): WorkerOptions {
  return {
    claim_count: config.TAPLINE_DELIVERY_CLAIM_MAX,
    in_flight_ms: config.TAPLINE_DELIVERY_IN_FLIGHT_MS,
    attempts_max: config.TAPLINE_DELIVERY_ATTEMPTS_MAX,
    backoff_initial_ms: config.TAPLINE_DELIVERY_BACKOFF_INITIAL_MS,
    backoff_max_ms: config.TAPLINE_DELIVERY_BACKOFF_MAX_MS,
    poll_interval_ms: config.TAPLINE_DELIVERY_POLL_MS,
    retention_ms: config.TAPLINE_DELIVERY_RETENTION_MS,
  };
}

/** Connects the back office's own Redis connection and starts the enabled jobs (measured into `metrics` when given). */
export async function startBackOffice(
  config: ReportsConfig,
  query: QueryRunner,
  settlement: SettlementStore,
  logger: Logger,
  clock: () => number = Date.now,
  metrics?: ReportsMetrics,
): Promise<BackOffice> {
  let primaries: RedisPrimaries;
  try {
    // Whatever the deployment shape (single, Sentinel, Cluster): each job's keys share one hash
    // tag ({events}, {settle}), and every write waits for the replicas required.
    primaries = await connectPrimaries(config.redis, {
      command_timeout_ms: back_office_command_timeout_ms,
      reconnect_backoff_max_ms: 2_000,
      onError: (error: Error) => logger.warn({ err: error.message }, 'back office redis connection error'),
    });
  } catch (error) {
    throw new ReportBackendError('redis', error, { phase: 'connect' });
  }
  const redis = keyRoutedCommands(primaries);
  const store = new EventsStore(redis);
  const { senders, close } = sendersOf(config, store);
  const enabled = config.TAPLINE_EVENTS_ENABLED === '1';
  const relay = enabled ? new EventRelay(redis, store, query, relayOptions(config), logger, clock) : undefined;
  const worker = enabled
    ? new DeliveryWorker(store, senders, workerOptions(config), logger, clock, (channel, result) =>
        metrics?.deliveryAttempts.inc({ channel, result }),
      )
    : undefined;
  if (relay !== undefined)
    metrics?.watchBackOffice({
      relayLagMs: () => (relay.lastStep.held ? relay.lastStep.lag_ms : 0),
      relayLastStepAtMs: () => relay.lastHeldStepAtMs,
      pendingDeliveries: () => store.pendingCount(),
    });
  const scheduler =
    config.TAPLINE_SETTLEMENT_SCHEDULER_ENABLED === '1'
      ? new SettlementScheduler(
          redis,
          { query, database: config.TAPLINE_CLICKHOUSE_DATABASE, store: settlement, now: clock },
          {
            shard_count: config.TAPLINE_SHARD_COUNT,
            interval_ms: config.TAPLINE_SETTLEMENT_SCHEDULER_INTERVAL_MS,
            catch_up_days: config.TAPLINE_SETTLEMENT_CATCH_UP_DAYS,
            holder: config.TAPLINE_NODE_ID,
            settle_margin_ms: config.TAPLINE_SETTLEMENT_SETTLE_MARGIN_MS,
          },
          logger,
        )
      : undefined;
  relay?.start();
  worker?.start();
  scheduler?.start();
  const events: EventsHttpContext = {
    store,
    now: clock,
    status: async () => ({
      relay: relay === undefined ? 'disabled' : { ...relay.lastStep, cursor: (await store.cursor()) ?? null },
      pending_deliveries: await store.pendingCount(),
      worker: worker?.counts ?? 'disabled',
      senders: Object.keys(senders).sort(),
    }),
  };
  return {
    events,
    relay,
    worker,
    scheduler,
    stop: async () => {
      await Promise.all([relay?.stop(), worker?.stop(), scheduler?.stop()]);
      close();
      await primaries.close();
    },
  };
}
