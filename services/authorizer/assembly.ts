// How an authorizer node is put together, one builder per part, each from the configuration and
// the parts built before it: the Redis store, the domain (group commit, programs, the shard region
// with its actors), the cluster (membership, routing, the internal gRPC server), the use cases and
// handlers' dependencies, and the public gRPC and metrics servers. node.ts starts them in order and
// stops them in reverse.

import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import type { HealthImplementation } from 'grpc-health-check';
import type { Logger } from 'pino';
import { IssuanceRecords } from '../../actors/card/issuance';
import type { CardState } from '../../actors/card/rules';
import { IdempotencyIndex } from '../../actors/idempotency';
import { ProgramRegistry } from '../../actors/program/registry';
import { PriceListRegistry } from '../../actors/fleet/price-lists';
import { ActorRuntime } from '../../actors/runtime/actor-runtime';
import { shardKeyOf, shardOf } from '../../actors/sharding/shard-key';
import { ShardOwnership } from '../../actors/sharding/shard-ownership';
import { ShardRegion } from '../../actors/sharding/shard-region';
import { TerminalCache } from '../../actors/sharding/terminal-cache';
import { decodeTerminalState } from '../../actors/state/terminal';
import type { TerminalState } from '../../actors/terminal/rules';
import { DenylistAges } from './usecases/denylist-ages';
import { ClusterServiceService, type ForwardRequest, type ForwardResponse } from '../../gen/tapline/internal/v1/cluster';
import { AuthorizationServiceService, type AuthorizeResponse } from '../../gen/tapline/v1/authorization';
import { CardServiceService } from '../../gen/tapline/v1/cards';
import type { Metrics } from '../common/metrics';
import { serveMetrics } from '../common/metrics-http';
import type { RedisTarget } from '../common/redis-target';
import { RoutedCardFanout } from './cluster/card-fanout-client';
import { ClusterCoordinator } from './cluster/coordinator';
import { ClusterMetrics } from './cluster/metrics';
import { Peers } from './cluster/peers';
import { ClusterRouter } from './cluster/router';
import { activeEntitiesMax, type NodeConfig } from './config';
import { getHeapStatistics } from 'node:v8';
import { bindServer, createHealth, createOperatorServer, createTerminalServer, type ServiceDepsAll } from './grpc/server';
import { InFlight, type StreamBudgets } from './grpc/service';
import { ConnectionBudgets } from './grpc/result-stream';
import { createStrictServer } from './grpc/strict-server';
import { WireSchemas } from '../common/wire-check';
import { accessInterceptor, systemCaller } from '../common/auth/grpc-access';
import { rpc_rules } from '../common/auth/policy';
import type { AccessLookups } from '../common/auth/access';
import type { DoorSecurity } from './doors';
import { RedisApprovalStore } from './store/approvals';
import { TerminalMerchants } from './store/terminal-merchants';
import { Approvals } from './usecases/approvals';
import { StoredBalances } from './store/balances';
import { ClusterStore } from './store/cluster-store';
import { Committer } from './store/committer';
import { terminalKey } from './store/keys';
import { RedisProgramCards } from './store/program-cards';
import { RedisStore } from './store/redis-store';
import { RedisAttemptCounter, attempts_kept_ms } from './store/attempts';
import { CardIssuance } from './usecases/card-issuance';
import { CardPins } from './usecases/card-pins';
import { ManagerDirectory } from './usecases/managers';
import { TapPours } from './usecases/tap-pours';
import { PinHasher } from './usecases/pin';
import { AutoReloader, type PspAdapter, type PspIntegration } from './usecases/psp';
import { PspTopUps } from './usecases/psp-top-ups';
import { servePspWebhook } from './psp/webhook-server';
import { ProgramRefundRun } from './usecases/refund-run';
import { CardTabs } from './usecases/tabs';
import { ConfigError } from './config';
import type { CardCounterReading } from '../../actors/offline/batch';
import { counterSigned } from '../../actors/offline/signature';
import type { OfflineDeps } from './grpc/offline-service';
import { DenylistStore } from './store/denylist';
import { DenylistDeltas } from './usecases/denylist';
import { CardCounters } from './usecases/offline-counters';
import { OfflineProfiles } from './usecases/offline-profiles';
import { OfflineUploads, type UploadPhase } from './usecases/offline-uploads';
import { ManualCredits } from './usecases/credits';
import { CardAuthKeys } from './usecases/card-auth';
import { CardTokens, TokenHasher } from './usecases/card-tokens';
import { TokenIndex } from '../../actors/card/token-index';
import { TerminalAdmin, cashier_code_attempts_max, cashier_lock_ms } from './usecases/terminals';
import { StoredTerminals } from './store/terminals';

/** The internal door needs no entity facts (nodes are admitted whole). */
const no_lookups: AccessLookups = { merchantOfTerminal: () => Promise.resolve(undefined) };

/** The node's cluster parts (docs/CLUSTER.md). */
export interface ClusterParts {
  readonly store: ClusterStore;
  readonly coordinator: ClusterCoordinator;
  readonly router: ClusterRouter;
  readonly peers: Peers;
  readonly server: grpc.Server;
  readonly port: number;
}

/** The PSP wired into this node, if any (injected: a PSP integration implements PspAdapter). */
export interface PspParts {
  readonly adapter: PspAdapter | undefined;
  /** The signed callbacks' secret, only for an integration that signs them. */
  readonly secret: string | undefined;
  readonly autoReloader: AutoReloader | undefined;
  /**
   * Routes the callbacks of a PSP running in this process the way a gRPC HandlePspCallback goes:
   * to the card's owner. Set once the router exists.
   */
  deliverThrough(router: ClusterRouter, logger: Logger): void;
}

/** Group commit, programs and the shard region with its actors. */
export interface Domain {
  readonly ownership: ShardOwnership;
  readonly committer: Committer;
  readonly programs: ProgramRegistry;
  /** Shared SPOT price lists fleet accounts follow (the same refresh as programs). */
  readonly priceLists: PriceListRegistry;
  readonly runtime: ActorRuntime;
  readonly region: ShardRegion;
  readonly psp: PspParts;
  /** Master keys of cards that authenticate (TAPLINE_CARD_AUTH_KEYS), when configured. */
  readonly cardAuthKeys: CardAuthKeys | undefined;
  /** Tapline's key for card offline-spend counters (TAPLINE_OFFLINE_COUNTER_KEY_FILE), if set. */
  readonly counterKey: CounterKey | undefined;
}

/** The counter key: the private half signs bases, the public half checks them and goes to terminals. */
export interface CounterKey {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
}

/** Reads the counter key (PEM, PKCS#8 Ed25519); undefined when none is configured. */
export function loadCounterKey(file: string | undefined): CounterKey | undefined {
  if (file === undefined) return undefined;
  const privateKey = createPrivateKey(readFileSync(file));
  if (privateKey.asymmetricKeyType !== 'ed25519')
    throw new ConfigError('TAPLINE_OFFLINE_COUNTER_KEY_FILE must hold an Ed25519 private key');
  return { privateKey, publicKey: createPublicKey(privateKey) };
}

/** The public doors' gRPC servers (terminal, operator), the metrics / health HTTP server and the PSP webhook listener. */
export interface Serving {
  readonly terminalServer: grpc.Server;
  readonly operatorServer: grpc.Server;
  readonly health: HealthImplementation;
  /** The terminal door's port (TAPLINE_GRPC_PORT). */
  readonly grpcPort: number;
  readonly operatorPort: number;
  readonly httpServer: HttpServer | undefined;
  readonly metricsPort: number | undefined;
  readonly webhookServer: HttpServer | undefined;
  readonly webhookPort: number | undefined;
}

function redisOptions(config: NodeConfig): { target: RedisTarget; command_timeout_ms: number; reconnect_backoff_max_ms: number } {
  return {
    target: config.redis,
    command_timeout_ms: config.TAPLINE_REDIS_COMMAND_TIMEOUT_MS,
    reconnect_backoff_max_ms: config.TAPLINE_REDIS_RECONNECT_BACKOFF_MAX_MS,
  };
}

export function connectStore(config: NodeConfig, logger: Logger, metrics: Metrics): Promise<RedisStore> {
  return RedisStore.connect(redisOptions(config), (error) => {
    metrics.redisErrors.inc({ client: 'store' });
    logger.warn({ err: error }, 'redis connection error');
  });
}

/** Transaction ids: this node start's incarnation (unique across starts, from Redis) and a counter. */
export function transactionIds(incarnation: number): () => string {
  const prefix = `${incarnation.toString(36)}-`;
  let counter = 0;
  return () => prefix + (++counter).toString(36);
}

function buildPsp(config: NodeConfig, logger: Logger, clock: () => number, integration: PspIntegration | undefined): PspParts {
  const delivery: { deliver?: (payload: string, signature: string) => void } = {};
  // checkNodeOptions refused a secret for an integration that does not sign its callbacks.
  const secret = integration?.signsCallbacks === true ? config.TAPLINE_PSP_SECRET : undefined;
  const adapter = integration?.create({
    config,
    secret,
    callbacks: (payload, signature) => delivery.deliver?.(payload, signature),
    clock,
  });
  const autoReloader =
    adapter === undefined
      ? undefined
      : new AutoReloader(adapter, clock, (error) => logger.warn({ err: error }, 'auto-reload charge failed'));
  return {
    adapter,
    secret,
    autoReloader,
    deliverThrough(router, log) {
      delivery.deliver = (payload, signature): void => {
        router.call(CardServiceService.handlePspCallback.path, { payload, signature }, systemCaller('psp-delivery'), (error) => {
          if (error !== null) log.warn({ code: error.code, details: error.details }, 'PSP callback not applied; the PSP retries it');
        });
      };
    },
  };
}

export function buildDomain(
  config: NodeConfig,
  logger: Logger,
  metrics: Metrics,
  store: RedisStore,
  clock: () => number,
  options: { readonly psp?: PspIntegration | undefined },
  nextTransactionId: () => string,
): Domain {
  // Shards are taken by the cluster coordinator (a lone node takes all of them). Taking increments
  // each shard's epoch, which fences any earlier owner.
  const ownership = new ShardOwnership(config.TAPLINE_SHARD_COUNT);
  const committer = new Committer(
    store,
    ownership,
    {
      batch_entries_max: config.TAPLINE_COMMIT_BATCH_MAX,
      in_flight_max: config.TAPLINE_COMMIT_IN_FLIGHT_MAX,
      pending_entries_max: config.TAPLINE_COMMIT_PENDING_MAX,
      idempotency_ttl_s: config.TAPLINE_IDEMPOTENCY_TTL_S,
      denylist_log_per_shard_max: config.TAPLINE_DENYLIST_LOG_PER_SHARD_MAX,
    },
    logger,
    metrics,
  );
  const programs = new ProgramRegistry(committer, {
    shard_count: config.TAPLINE_SHARD_COUNT,
    refresh_ms: config.TAPLINE_PROGRAM_REFRESH_MS,
    conflict_attempts_max: config.TAPLINE_CONFLICT_ATTEMPTS_MAX,
    clock,
    onRefreshError: (error) => logger.warn({ err: error }, 'program refresh failed; the cached configuration stays in use'),
  });
  const priceLists = new PriceListRegistry(committer, {
    shard_count: config.TAPLINE_SHARD_COUNT,
    refresh_ms: config.TAPLINE_PROGRAM_REFRESH_MS,
    conflict_attempts_max: config.TAPLINE_CONFLICT_ATTEMPTS_MAX,
    clock,
  });
  const psp = buildPsp(config, logger, clock, options.psp);
  const cardAuthKeys = CardAuthKeys.parse(config.TAPLINE_CARD_AUTH_KEYS);
  const runtime = new ActorRuntime();
  const counterKey = loadCounterKey(config.TAPLINE_OFFLINE_COUNTER_KEY_FILE);
  const denylistAges = new DenylistAges({ terminals_max: config.TAPLINE_OFFLINE_DENYLIST_AGE_TERMINALS_MAX }, (terminalId) =>
    ownership.holds(shardOf('terminal', terminalId, config.TAPLINE_SHARD_COUNT)),
  );
  let untrackedLogged = 0;
  metrics.watchDenylistAges(() => {
    if (denylistAges.untracked > untrackedLogged) {
      untrackedLogged = denylistAges.untracked;
      logger.warn(
        { untracked: untrackedLogged },
        'terminals past TAPLINE_OFFLINE_DENYLIST_AGE_TERMINALS_MAX: their denylist age is not reported',
      );
    }
    return denylistAges.ages(clock());
  });
  const region = buildRegion(
    config,
    metrics,
    store,
    committer,
    { programs, priceLists },
    runtime,
    ownership,
    { psp, cardAuthKeys },
    clock,
    nextTransactionId,
    counterKey,
    denylistAges,
  );
  return { ownership, committer, programs, priceLists, runtime, region, psp, cardAuthKeys, counterKey };
}

function buildRegion(
  config: NodeConfig,
  metrics: Metrics,
  store: RedisStore,
  committer: Committer,
  { programs, priceLists }: { programs: ProgramRegistry; priceLists: PriceListRegistry },
  runtime: ActorRuntime,
  ownership: ShardOwnership,
  parts: { readonly psp: PspParts; readonly cardAuthKeys: CardAuthKeys | undefined },
  clock: () => number,
  nextTransactionId: () => string,
  counterKey: CounterKey | undefined,
  denylistAges: DenylistAges,
): ShardRegion {
  const { autoReloader } = parts.psp;
  const limits = {
    mailbox_max: config.TAPLINE_MAILBOX_MAX,
    drain_batch_max: config.TAPLINE_DRAIN_BATCH_MAX,
    active_entities_max: activeEntitiesMax(config, getHeapStatistics().heap_size_limit),
    passivate_after_ms: config.TAPLINE_PASSIVATE_AFTER_MS,
  };
  const card = {
    persistence: committer,
    idempotency: new IdempotencyIndex(config.TAPLINE_IDEMPOTENCY_RECENT_MAX),
    clock,
    nextTransactionId,
    conflict_attempts_max: config.TAPLINE_CONFLICT_ATTEMPTS_MAX,
    key_waiters_max: config.TAPLINE_IDEMPOTENCY_WAITERS_MAX,
    onDecision: (result: { kind: string; outcome: string; reason?: string | undefined }) =>
      metrics.countDecision(result.kind, result.outcome, result.reason ?? ''),
    programs,
    ...(parts.cardAuthKeys === undefined ? {} : { verifyCryptogram: parts.cardAuthKeys.verify }),
    ...(autoReloader === undefined
      ? {}
      : { onLowBalance: (state: CardState, triggerId: string) => autoReloader.trigger(state, triggerId) }),
  };
  const remoteTerminals = new TerminalCache(
    async (terminalId) => {
      const record = await store.loadRecord(terminalKey(shardOf('terminal', terminalId, config.TAPLINE_SHARD_COUNT), terminalId));
      return record.data === undefined ? undefined : decodeTerminalState(record.data);
    },
    { staleness_ms: config.TAPLINE_TERMINAL_CACHE_MS, entries_max: config.TAPLINE_TERMINAL_CACHE_MAX },
    clock,
  );
  const terminal = {
    persistence: committer,
    clock,
    conflict_attempts_max: config.TAPLINE_CONFLICT_ATTEMPTS_MAX,
    nextTransactionId,
    offline: {
      shardCount: config.TAPLINE_SHARD_COUNT,
      counterSigned: (cardId: string, counter: CardCounterReading) =>
        counterKey !== undefined &&
        counterSigned(
          counterKey.publicKey,
          cardId,
          counter.baseMergedMinor,
          counter.baseIssuedAtMs,
          Buffer.from(counter.baseSignature, 'base64'),
        ),
      // Half the idempotency retention: a half-merged batch is completed while its entries' records are surely kept.
      resume_within_ms: (config.TAPLINE_IDEMPOTENCY_TTL_S * 1000) / 2,
    },
  };
  const onTerminalPublished = (terminalId: string, state: TerminalState | undefined): void => denylistAges.observe(terminalId, state);
  return new ShardRegion(runtime, ownership, limits, { card, terminal, remoteTerminals, onTerminalPublished, priceLists }, clock);
}

/** Back-pressure bounds of one server's streams, with their own per-connection counts (counted in `metrics`). */
export function streamBudgets(config: NodeConfig, metrics: Metrics): StreamBudgets {
  const budgets = new ConnectionBudgets();
  metrics.countStreamPending(() => budgets.pendingItems);
  return {
    limits: {
      stream_pending_items_max: config.TAPLINE_STREAM_PENDING_ITEMS_MAX,
      connection_pending_items_max: config.TAPLINE_CONNECTION_PENDING_ITEMS_MAX,
      frame_results_max: config.TAPLINE_STREAM_FRAME_ITEMS_MAX,
    },
    budgets,
  };
}

/** Terminal management; cashier codes are counted in Redis like manager PINs, per cashier and terminal. */
function terminalAdmin(
  config: NodeConfig,
  store: RedisStore,
  region: ShardRegion,
  pinHasher: PinHasher | undefined,
  clock: () => number,
  logger: Logger,
): TerminalAdmin {
  const counter = new RedisAttemptCounter(store, {
    attempts_max: cashier_code_attempts_max,
    lock_ms: cashier_lock_ms,
    ttl_ms: attempts_kept_ms,
  });
  return new TerminalAdmin(region, pinHasher, new StoredTerminals(store), {
    counter,
    shard_count: config.TAPLINE_SHARD_COUNT,
    clock,
    logger,
  });
}

/** What the gRPC handlers and the use cases behind them need. */
export function buildServiceDeps(
  config: NodeConfig,
  logger: Logger,
  metrics: Metrics,
  store: RedisStore,
  domain: Domain,
  cluster: ClusterParts,
  clock: () => number,
  accepting: () => boolean,
): ServiceDepsAll {
  const { region, programs, priceLists, committer, psp, cardAuthKeys } = domain;
  const pinHasher = config.TAPLINE_PIN_SECRET === undefined ? undefined : new PinHasher(config.TAPLINE_PIN_SECRET);
  const pins = new CardPins(pinHasher, region);
  const programCards = new RedisProgramCards(store);
  // Bulk issuance and the refund run reach each card on its owner through the router.
  const fanout = new RoutedCardFanout(cluster.router);
  // Manager-PIN attempts are counted in Redis: one count for every node, kept across restarts.
  const managerAttempts = new RedisAttemptCounter(store, {
    attempts_max: config.TAPLINE_MANAGER_PIN_ATTEMPTS_MAX,
    lock_ms: config.TAPLINE_MANAGER_LOCK_MS,
    ttl_ms: Math.max(attempts_kept_ms, config.TAPLINE_MANAGER_LOCK_MS),
  });
  const tokenIndex = new TokenIndex(committer, config.TAPLINE_SHARD_COUNT);
  const cardTokens = new CardTokens({
    hasher: config.TAPLINE_TOKEN_SECRET === undefined ? undefined : new TokenHasher(config.TAPLINE_TOKEN_SECRET),
    fanout,
    index: tokenIndex,
    onUndoFailed: (error) => logger.warn({ err: error }, 'a refused bank card registration could not be taken off its card'),
  });
  const pspWiring =
    psp.adapter === undefined || psp.autoReloader === undefined
      ? undefined
      : { adapter: psp.adapter, secret: psp.secret, autoReloader: psp.autoReloader };
  return {
    region,
    inFlight: new InFlight(config.TAPLINE_IN_FLIGHT_MAX, metrics),
    metrics,
    logger,
    clock,
    stream_in_flight_max: config.TAPLINE_STREAM_IN_FLIGHT_MAX,
    stream_frame_items_max: config.TAPLINE_STREAM_FRAME_ITEMS_MAX,
    streams: streamBudgets(config, metrics),
    accepting,
    programs,
    priceLists,
    records: committer,
    pins,
    managers:
      pinHasher === undefined
        ? undefined
        : new ManagerDirectory(committer, config.TAPLINE_SHARD_COUNT, pinHasher, managerAttempts, clock, logger),
    issuance: new CardIssuance({ region, programs, issuances: new IssuanceRecords(committer, config.TAPLINE_SHARD_COUNT), pins, fanout }),
    refundRun: new ProgramRefundRun({ region, programCards, fanout }),
    pspTopUps: new PspTopUps(region, pspWiring, clock, fanout, programs),
    tabs: new CardTabs(region),
    cardAuthKeys,
    cardTokens,
    bankCards: cardTokens,
    tokenIndex,
    credits: new ManualCredits(region),
    programCards,
    tapPours: new TapPours(committer, config.TAPLINE_SHARD_COUNT, clock),
    terminals: terminalAdmin(config, store, region, pinHasher, clock, logger),
    balances: new StoredBalances(store),
    offline: buildOffline(config, store, domain, fanout, cluster.router, clock, metrics),
    cluster: {
      holdsCard: (cardId) => cluster.router.holdsKey(shardKeyOf('card', cardId)),
      authorize: (request, caller, done) =>
        cluster.router.call(AuthorizationServiceService.authorize.path, request, caller, (error, value) =>
          done(error, value as AuthorizeResponse | undefined),
        ),
    },
    approvals: buildApprovals(config, store, cluster.router, clock),
    access: new TerminalMerchants(store, config.TAPLINE_SHARD_COUNT, config.TAPLINE_TERMINAL_MERCHANTS_MAX),
  };
}

/** Offline selling's use cases (docs/OFFLINE.md). */
function buildOffline(
  config: NodeConfig,
  store: RedisStore,
  domain: Domain,
  fanout: RoutedCardFanout,
  router: ClusterRouter,
  clock: () => number,
  metrics: Metrics,
): OfflineDeps {
  const { region, programs, counterKey } = domain;
  const denylist = new DenylistStore(store, config.TAPLINE_SHARD_COUNT);
  const uploadMetrics = {
    batch: (how: 'merged' | 'replayed') => metrics.offlineBatches.inc({ how }),
    entry: (result: string) => metrics.offlineEntries.inc({ result }),
    phase: (phase: UploadPhase, seconds: number) => metrics.offlineUploadPhase.observe({ phase }, seconds),
  };
  return {
    profiles: new OfflineProfiles(region, programs, denylist, counterKey?.publicKey, clock, (seconds) =>
      metrics.denylistStaleness.observe(seconds),
    ),
    deltas: new DenylistDeltas(denylist, region, (behind) => metrics.denylistBehind.observe(behind)),
    uploads: new OfflineUploads(region, fanout, { cards_in_flight_max: config.TAPLINE_OFFLINE_MERGE_CARDS_IN_FLIGHT }, uploadMetrics, {
      holdsCard: (cardId) => router.holdsKey(shardKeyOf('card', cardId)),
      region,
    }),
    counters: new CardCounters(region, counterKey?.privateKey, clock),
  };
}

/** Four eyes: held requests in Redis, carried out through the router once approved. */
function buildApprovals(config: NodeConfig, store: RedisStore, router: ClusterRouter, clock: () => number): Approvals {
  const approvals = new Approvals({
    store: new RedisApprovalStore(store),
    limits: { four_eyes_amount_minor: config.TAPLINE_FOUR_EYES_AMOUNT_MINOR },
    ttl_ms: config.TAPLINE_APPROVAL_TTL_S * 1000,
    clock,
  });
  approvals.runWith({
    run: (method, request, caller) =>
      new Promise((resolve) => {
        const definition = router.definitionOf(method);
        if (definition === undefined) throw new Error(`assertion: held method ${method} is not routed`);
        router.call(method, request, caller, (error, value) => {
          if (error !== null)
            resolve({ code: error.code ?? grpc.status.INTERNAL, message: error.details ?? '', response: Buffer.alloc(0) });
          else resolve({ code: grpc.status.OK, message: '', response: definition.responseSerialize(value) });
        });
      }),
  });
  return approvals;
}

/**
 * The public doors (every service routed to its entity's owner, four-eyes requests held), each
 * on its own listener with its own TLS and access check, the metrics server and, when
 * TAPLINE_PSP_WEBHOOK_PORT is set, the PSP webhook listener (its webhooks reach the card's owner
 * through the router; a webhook names a payment the node then reads from the PSP itself, so it
 * needs no credential of its own).
 */
export async function serve(
  config: NodeConfig,
  metrics: Metrics,
  deps: ServiceDepsAll,
  router: ClusterRouter,
  security: DoorSecurity,
  ready: () => boolean,
): Promise<Serving> {
  const common = {
    message_max_bytes: config.TAPLINE_GRPC_MESSAGE_MAX_BYTES,
    streams_per_connection_max: config.TAPLINE_GRPC_STREAMS_PER_CONNECTION_MAX,
    connection_age_max_ms: config.TAPLINE_GRPC_CONNECTION_AGE_MAX_MS,
    connection_age_grace_ms: config.TAPLINE_GRPC_CONNECTION_AGE_GRACE_MS,
    lookups: deps.access,
    wrap: router.wrap.bind(router),
  };
  const health = createHealth();
  const terminalServer = createTerminalServer(deps, { ...common, authenticate: security.terminal.authenticate }, health);
  const operatorServer = createOperatorServer(deps, { ...common, authenticate: security.operator.authenticate }, health);
  const grpcPort = await bindServer(
    terminalServer,
    `${config.TAPLINE_GRPC_HOST}:${config.TAPLINE_GRPC_PORT}`,
    security.terminal.credentials,
  );
  const operatorHost = config.TAPLINE_OPERATOR_HOST ?? config.TAPLINE_GRPC_HOST;
  const operatorPort = await bindServer(operatorServer, `${operatorHost}:${config.TAPLINE_OPERATOR_PORT}`, security.operator.credentials);
  const httpServer =
    config.TAPLINE_METRICS_PORT < 0
      ? undefined
      : await serveMetrics({ registry: metrics.registry, host: config.TAPLINE_GRPC_HOST, port: config.TAPLINE_METRICS_PORT, ready });
  const metricsPort = httpServer ? (httpServer.address() as AddressInfo).port : undefined;
  const webhookServer =
    config.TAPLINE_PSP_WEBHOOK_PORT < 0
      ? undefined
      : await servePspWebhook({
          host: config.TAPLINE_GRPC_HOST,
          port: config.TAPLINE_PSP_WEBHOOK_PORT,
          path: webhookPathOf(config),
          handle: (paymentId, cardId) => deps.pspTopUps.handleWebhook(paymentId, cardId),
          logger: deps.logger,
        });
  const webhookPort = webhookServer ? (webhookServer.address() as AddressInfo).port : undefined;
  return { terminalServer, operatorServer, health, grpcPort, operatorPort, httpServer, metricsPort, webhookServer, webhookPort };
}

/** The path the webhook listener serves: TAPLINE_PSP_WEBHOOK_URL's (behind an ingress that keeps it). */
function webhookPathOf(config: NodeConfig): string {
  return config.TAPLINE_PSP_WEBHOOK_URL === undefined ? '/psp/webhook' : new URL(config.TAPLINE_PSP_WEBHOOK_URL).pathname;
}

/** Membership store, peer links, the router and the internal (node-to-node) gRPC server. */
export async function startCluster(
  config: NodeConfig,
  logger: Logger,
  ownership: ShardOwnership,
  region: ShardRegion,
  clock: () => number,
  accepting: () => boolean,
  nodeMetrics: Metrics,
  security: DoorSecurity,
): Promise<ClusterParts> {
  const metrics = new ClusterMetrics(nodeMetrics.registry);
  metrics.shardsTotal.set(config.TAPLINE_SHARD_COUNT);
  const store = await ClusterStore.connect(redisOptions(config), (error) => {
    nodeMetrics.redisErrors.inc({ client: 'cluster' });
    logger.warn({ err: error }, 'redis (cluster) connection error');
  });
  const peers = new Peers(
    { forward_in_flight_max: config.TAPLINE_FORWARD_IN_FLIGHT_MAX, forward_timeout_ms: config.TAPLINE_ROUTE_WAIT_MAX_MS },
    logger,
    (nodeId) => security.peerCredentials(nodeId),
  );
  const holder: { coordinator?: ClusterCoordinator } = {};
  const router = new ClusterRouter({
    self: config.TAPLINE_NODE_ID,
    shardCount: config.TAPLINE_SHARD_COUNT,
    // A shard counts as held only while its lease is known fresh: a resumed stale owner waits for
    // its next round instead of answering from memory (its writes are fenced by Redis anyway).
    holds: (shard) => ownership.holds(shard) && (holder.coordinator?.leaseFresh(shard) ?? false),
    ownerOf: (shard) => holder.coordinator?.ownerOf(shard),
    accepting,
    peers,
    limits: { retry_ms: config.TAPLINE_ROUTE_RETRY_MS, route_wait_max_ms: config.TAPLINE_ROUTE_WAIT_MAX_MS },
    logger,
    clock,
    metrics,
    streams: streamBudgets(config, nodeMetrics),
  });
  const server = createStrictServer(WireSchemas.shared(), {
    'grpc.max_receive_message_length': 64 * 1024 * 1024,
    'grpc.max_send_message_length': 64 * 1024 * 1024,
    'grpc.keepalive_time_ms': 10_000,
    'grpc.keepalive_timeout_ms': 5_000,
    // Peers open one Forward stream per link; the bound only caps what one connection may hold.
    // No maximum age: a peer link is meant to live as long as both nodes.
    'grpc.max_concurrent_streams': config.TAPLINE_GRPC_STREAMS_PER_CONNECTION_MAX,
    // Measured, then checked: only callers with a node certificate of the cluster CA get in.
    interceptors: [
      nodeMetrics.grpc.interceptor,
      accessInterceptor({
        door: 'internal',
        rules: rpc_rules.internal,
        authenticate: security.internal.authenticate,
        lookups: no_lookups,
        logger,
      }),
    ],
  });
  nodeMetrics.grpc.addService(ClusterServiceService);
  server.addService(ClusterServiceService, {
    forward: (call: grpc.ServerDuplexStream<ForwardRequest, ForwardResponse>) => router.serveForward(call),
  });
  const host = config.TAPLINE_INTERNAL_HOST ?? config.TAPLINE_GRPC_HOST;
  const port = await bindServer(server, `${host}:${config.TAPLINE_INTERNAL_PORT}`, security.internal.credentials);
  const address = config.TAPLINE_ADVERTISE_ADDRESS ?? `${host}:${port}`;
  const coordinator = new ClusterCoordinator(
    { nodeId: config.TAPLINE_NODE_ID, address },
    store,
    ownership,
    region,
    peers,
    {
      tick_ms: config.TAPLINE_CLUSTER_TICK_MS,
      member_ttl_ms: config.TAPLINE_MEMBER_TTL_MS,
      lease_ms: config.TAPLINE_SHARD_LEASE_MS,
      take_retry_ms: config.TAPLINE_TAKE_RETRY_MS,
    },
    logger,
    clock,
    metrics,
  );
  holder.coordinator = coordinator;
  return { store, coordinator, router, peers, server, port };
}
