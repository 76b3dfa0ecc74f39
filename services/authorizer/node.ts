// An authorizer node: wires Redis, group commit, the shard region and the gRPC server together,
// and takes them down in order on shutdown (stop accepting, drain, flush, close).

import type { Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Server as GrpcServer } from '@grpc/grpc-js';
import type { HealthImplementation } from 'grpc-health-check';
import type { Logger } from 'pino';
import { IdempotencyIndex } from '../../actors/idempotency';
import { ActorRuntime } from '../../actors/runtime/actor-runtime';
import { ShardOwnership } from '../../actors/sharding/shard-ownership';
import { ShardRegion } from '../../actors/sharding/shard-region';
import { Metrics } from '../common/metrics';
import { serveMetrics } from '../common/metrics-http';
import type { NodeConfig } from './config';
import { bindServer, createGrpcServer, served_services, serverCredentials } from './grpc/server';
import { InFlight } from './grpc/service';
import { Committer } from './store/committer';
import { RedisStore } from './store/redis-store';
import { ProgramRegistry } from '../../actors/program/registry';
import { IssuanceRecords } from '../../actors/card/issuance';
import { PinHasher } from './usecases/pin';
import { CardPins } from './usecases/card-pins';
import { ManagerDirectory } from './usecases/managers';
import { RedisProgramCards } from './store/program-cards';
import { AutoReloader, type PspAdapterFactory } from './usecases/psp';
import { PspTopUps } from './usecases/psp-top-ups';
import { CardIssuance } from './usecases/card-issuance';
import { ProgramRefundRun } from './usecases/refund-run';
import { CardTabs } from './usecases/tabs';
import type { CardServiceDeps } from './grpc/cards-service';
import { cardFanoutService } from './grpc/card-fanout-service';
import { RoutedCardFanout } from './cluster/card-fanout-client';
import { CardFanoutServiceService } from '../../gen/tapline/internal/v1/fanout';
import type { BalancesServiceDeps } from './grpc/balances-service';
import { StoredBalances } from './store/balances';
import { CardServiceService } from '../../gen/tapline/v1/cards';
import { ConfigError } from '../common/process';
import type { CardState } from '../../actors/card/rules';
import * as grpc from '@grpc/grpc-js';
import { TerminalCache } from '../../actors/sharding/terminal-cache';
import { decodeTerminalState } from '../../actors/state/terminal';
import { shardKeyOf, shardOf } from '../../actors/sharding/shard-key';
import { ClusterServiceService, type ForwardRequest, type ForwardResponse } from '../../gen/tapline/internal/v1/cluster';
import { AuthorizationServiceService, type AuthorizeResponse } from '../../gen/tapline/v1/authorization';
import { ClusterCoordinator } from './cluster/coordinator';
import { ClusterMetrics } from './cluster/metrics';
import { Peers } from './cluster/peers';
import { ClusterRouter } from './cluster/router';
import { ClusterStore } from './store/cluster-store';
import { terminalKey } from './store/keys';

/** What the code that starts a node injects into it. */
export interface NodeOptions {
  /** Tests move time (period boundaries); production uses the system clock. */
  readonly clock?: () => number;
  /**
   * The PSP integration, wired when TAPLINE_PSP_SECRET is set; a node with the secret but no
   * adapter refuses to start. The production entry point has none today; the dev launcher and the
   * tests inject the simulated PSP (tools/psp-simulator; docs/DECISIONS.md).
   */
  readonly psp?: PspAdapterFactory;
}

/**
 * Refuses options that cannot serve the configuration: a PSP secret with no PSP adapter would
 * accept PSP calls it cannot carry out (ConfigError: the process exits with status 2).
 */
export function checkNodeOptions(config: NodeConfig, options: NodeOptions): void {
  if (config.TAPLINE_PSP_SECRET !== undefined && options.psp === undefined) {
    throw new ConfigError(
      'invalid configuration: TAPLINE_PSP_SECRET is set but this entry point has no PSP integration (the simulated PSP runs only from tools/devenv/node-main.js and the tests)',
    );
  }
}

/** The node's cluster parts (docs/CLUSTER.md). */
interface ClusterParts {
  readonly store: ClusterStore;
  readonly coordinator: ClusterCoordinator;
  readonly router: ClusterRouter;
  readonly peers: Peers;
  readonly server: GrpcServer;
  readonly port: number;
}

export class AuthorizerNode {
  private accepting = false;
  private stopping: Promise<void> | undefined;
  private passivationTimer: NodeJS.Timeout | undefined;

  private constructor(
    readonly config: NodeConfig,
    private readonly logger: Logger,
    readonly metrics: Metrics,
    private readonly store: RedisStore,
    private readonly committer: Committer,
    private readonly runtime: ActorRuntime,
    readonly region: ShardRegion,
    private readonly inFlight: InFlight,
    private readonly grpcServer: GrpcServer,
    private readonly health: HealthImplementation,
    private readonly httpServer: HttpServer | undefined,
    readonly grpcPort: number,
    readonly metricsPort: number | undefined,
    private readonly cluster: ClusterParts,
  ) {}

  /** Port of the node-to-node API. */
  get internalPort(): number {
    return this.cluster.port;
  }

  get coordinator(): ClusterCoordinator {
    return this.cluster.coordinator;
  }

  static async start(config: NodeConfig, logger: Logger, options: NodeOptions = {}): Promise<AuthorizerNode> {
    checkNodeOptions(config, options);
    const metrics = new Metrics(true, config.TAPLINE_COMMIT_BATCH_MAX);
    const store = await RedisStore.connect(
      {
        target: config.redis,
        command_timeout_ms: config.TAPLINE_REDIS_COMMAND_TIMEOUT_MS,
        reconnect_backoff_max_ms: config.TAPLINE_REDIS_RECONNECT_BACKOFF_MAX_MS,
      },
      (error) => {
        metrics.redisErrors.inc({ client: 'store' });
        logger.warn({ err: error }, 'redis connection error');
      },
    );
    const incarnation = await store.nextIncarnation();
    const ownership = new ShardOwnership(config.TAPLINE_SHARD_COUNT);
    // Shards are taken by the cluster coordinator below (a lone node takes all of them). Taking
    // increments each shard's epoch, which fences any earlier owner.

    const committer = new Committer(
      store,
      ownership,
      {
        batch_entries_max: config.TAPLINE_COMMIT_BATCH_MAX,
        in_flight_max: config.TAPLINE_COMMIT_IN_FLIGHT_MAX,
        pending_entries_max: config.TAPLINE_COMMIT_PENDING_MAX,
        idempotency_ttl_s: config.TAPLINE_IDEMPOTENCY_TTL_S,
      },
      logger,
      metrics,
    );

    const clock = options.clock ?? ((): number => Date.now());
    const idPrefix = `${incarnation.toString(36)}-`;
    let transactionCounter = 0;
    const nextTransactionId = (): string => idPrefix + (++transactionCounter).toString(36);
    const programs = new ProgramRegistry(committer, {
      shard_count: config.TAPLINE_SHARD_COUNT,
      refresh_ms: config.TAPLINE_PROGRAM_REFRESH_MS,
      conflict_attempts_max: config.TAPLINE_CONFLICT_ATTEMPTS_MAX,
      clock,
      onRefreshError: (error) => logger.warn({ err: error }, 'program refresh failed; the cached configuration stays in use'),
    });
    // The PSP (injected: a PSP integration implements PspAdapter) and auto-reload. Callbacks of a
    // PSP running in this process go through the same handler as the gRPC HandlePspCallback.
    const pspDelivery: { deliver?: (payload: string, signature: string) => void } = {};
    const pspSecret = config.TAPLINE_PSP_SECRET;
    const pspAdapter =
      pspSecret === undefined || options.psp === undefined
        ? undefined
        : options.psp(pspSecret, (payload, signature) => pspDelivery.deliver?.(payload, signature));
    const autoReloader =
      pspAdapter === undefined
        ? undefined
        : new AutoReloader(pspAdapter, clock, (error) => logger.warn({ err: error }, 'auto-reload charge failed'));
    const runtime = new ActorRuntime();
    const region = new ShardRegion(
      runtime,
      ownership,
      {
        mailbox_max: config.TAPLINE_MAILBOX_MAX,
        drain_batch_max: config.TAPLINE_DRAIN_BATCH_MAX,
        active_entities_max: config.TAPLINE_ACTIVE_ENTITIES_MAX,
        passivate_after_ms: config.TAPLINE_PASSIVATE_AFTER_MS,
      },
      {
        card: {
          persistence: committer,
          idempotency: new IdempotencyIndex(config.TAPLINE_IDEMPOTENCY_RECENT_MAX),
          clock,
          nextTransactionId,
          conflict_attempts_max: config.TAPLINE_CONFLICT_ATTEMPTS_MAX,
          key_waiters_max: config.TAPLINE_IDEMPOTENCY_WAITERS_MAX,
          onDecision: (result) => metrics.countDecision(result.kind, result.outcome, result.reason ?? ''),
          programs,
          ...(autoReloader === undefined
            ? {}
            : { onLowBalance: (state: CardState, triggerId: string) => autoReloader.trigger(state, triggerId) }),
        },
        terminal: { persistence: committer, clock, conflict_attempts_max: config.TAPLINE_CONFLICT_ATTEMPTS_MAX },
        remoteTerminals: new TerminalCache(
          async (terminalId) => {
            const record = await store.loadRecord(terminalKey(shardOf('terminal', terminalId, config.TAPLINE_SHARD_COUNT), terminalId));
            return record.data === undefined ? undefined : decodeTerminalState(record.data);
          },
          { staleness_ms: config.TAPLINE_TERMINAL_CACHE_MS, entries_max: config.TAPLINE_TERMINAL_CACHE_MAX },
          clock,
        ),
      },
      clock,
    );

    const pinHasher = config.TAPLINE_PIN_SECRET === undefined ? undefined : new PinHasher(config.TAPLINE_PIN_SECRET);
    const inFlight = new InFlight(config.TAPLINE_IN_FLIGHT_MAX, metrics);
    const holder: { node?: AuthorizerNode } = {};
    const clusterMetrics = new ClusterMetrics(metrics.registry);
    clusterMetrics.shardsTotal.set(config.TAPLINE_SHARD_COUNT);
    const cluster = await AuthorizerNode.startCluster(
      config,
      logger,
      ownership,
      region,
      clock,
      () => holder.node?.accepting ?? false,
      clusterMetrics,
      metrics,
    );
    const pins = new CardPins(pinHasher, region);
    const programCards = new RedisProgramCards(store);
    // Bulk issuance and the refund run reach each card on its owner through the router.
    const fanout = new RoutedCardFanout(cluster.router);
    const serviceDeps: CardServiceDeps & BalancesServiceDeps = {
      region,
      inFlight,
      metrics,
      logger,
      clock,
      stream_in_flight_max: config.TAPLINE_STREAM_IN_FLIGHT_MAX,
      stream_frame_items_max: config.TAPLINE_STREAM_FRAME_ITEMS_MAX,
      accepting: () => holder.node?.accepting ?? false,
      programs,
      records: committer,
      pins,
      managers:
        pinHasher === undefined
          ? undefined
          : new ManagerDirectory(
              committer,
              config.TAPLINE_SHARD_COUNT,
              pinHasher,
              {
                attempts_max: config.TAPLINE_MANAGER_PIN_ATTEMPTS_MAX,
                lock_ms: config.TAPLINE_MANAGER_LOCK_MS,
              },
              clock,
              logger,
            ),
      issuance: new CardIssuance({
        region,
        programs,
        issuances: new IssuanceRecords(committer, config.TAPLINE_SHARD_COUNT),
        pins,
        fanout,
      }),
      refundRun: new ProgramRefundRun({ region, programCards, fanout }),
      pspTopUps: new PspTopUps(
        region,
        pspAdapter === undefined || pspSecret === undefined || autoReloader === undefined
          ? undefined
          : { adapter: pspAdapter, secret: pspSecret, autoReloader },
      ),
      tabs: new CardTabs(region),
      programCards,
      balances: new StoredBalances(store),
      cluster: {
        holdsCard: (cardId) => cluster.router.holdsKey(shardKeyOf('card', cardId)),
        authorize: (request, done) =>
          cluster.router.call(AuthorizationServiceService.authorize.path, request, (error, value) =>
            done(error, value as AuthorizeResponse | undefined),
          ),
      },
    };
    // A callback of a PSP running in this process takes the path of a gRPC HandlePspCallback: to
    // the card's owner.
    pspDelivery.deliver = (payload, signature): void => {
      cluster.router.call(CardServiceService.handlePspCallback.path, { payload, signature }, (error) => {
        if (error !== null) logger.warn({ code: error.code, details: error.details }, 'PSP callback not applied; the PSP retries it');
      });
    };
    // Fan-out calls of bulk issuance and the refund run: reachable only through the router.
    cluster.router.wrap(CardFanoutServiceService, cardFanoutService(serviceDeps));
    const { server, health } = createGrpcServer(serviceDeps, {
      message_max_bytes: config.TAPLINE_GRPC_MESSAGE_MAX_BYTES,
      tls: { certFile: config.TAPLINE_TLS_CERT_FILE, keyFile: config.TAPLINE_TLS_KEY_FILE, caFile: config.TAPLINE_TLS_CA_FILE },
      route: (service, implementation) => cluster.router.wrap(service, implementation),
    });
    const grpcPort = await bindServer(
      server,
      `${config.TAPLINE_GRPC_HOST}:${config.TAPLINE_GRPC_PORT}`,
      serverCredentials({
        certFile: config.TAPLINE_TLS_CERT_FILE,
        keyFile: config.TAPLINE_TLS_KEY_FILE,
        caFile: config.TAPLINE_TLS_CA_FILE,
      }),
    );

    const httpServer =
      config.TAPLINE_METRICS_PORT < 0
        ? undefined
        : await serveMetrics({
            registry: metrics.registry,
            host: config.TAPLINE_GRPC_HOST,
            port: config.TAPLINE_METRICS_PORT,
            ready: () => holder.node?.ready ?? false,
          });
    const metricsPort = httpServer ? (httpServer.address() as AddressInfo).port : undefined;
    const node = new AuthorizerNode(
      config,
      logger,
      metrics,
      store,
      committer,
      runtime,
      region,
      inFlight,
      server,
      health,
      httpServer,
      grpcPort,
      metricsPort,
      cluster,
    );
    holder.node = node;
    // Join last: peers may forward to this node as soon as it is a member. The first round
    // takes the free shards this node owns (a lone node: all of them) before it serves.
    node.accepting = true;
    await cluster.coordinator.start();
    node.passivationTimer = setInterval(() => {
      region.passivateIdle();
      metrics.activeEntities.set({ kind: 'card' }, region.cards.size);
      metrics.activeEntities.set({ kind: 'terminal' }, region.terminals.size);
      metrics.activeEntities.set({ kind: 'fleet' }, region.fleets.size);
      metrics.inFlight.set(inFlight.current);
    }, config.TAPLINE_PASSIVATION_SWEEP_MS);
    node.passivationTimer.unref();
    health.setStatus('', 'SERVING');
    for (const name of served_services) health.setStatus(name, 'SERVING');
    logger.info(
      {
        grpcPort,
        metricsPort,
        internalPort: cluster.port,
        shards: ownership.heldCount,
        members: cluster.coordinator.memberIds.length,
        incarnation,
        node: config.TAPLINE_NODE_ID,
      },
      'authorizer node serving',
    );
    return node;
  }

  /** Membership store, peer links, the router and the internal (node-to-node) gRPC server. */
  private static async startCluster(
    config: NodeConfig,
    logger: Logger,
    ownership: ShardOwnership,
    region: ShardRegion,
    clock: () => number,
    accepting: () => boolean,
    metrics: ClusterMetrics,
    nodeMetrics: Metrics,
  ): Promise<ClusterParts> {
    const store = await ClusterStore.connect(
      {
        target: config.redis,
        command_timeout_ms: config.TAPLINE_REDIS_COMMAND_TIMEOUT_MS,
        reconnect_backoff_max_ms: config.TAPLINE_REDIS_RECONNECT_BACKOFF_MAX_MS,
      },
      (error) => {
        nodeMetrics.redisErrors.inc({ client: 'cluster' });
        logger.warn({ err: error }, 'redis (cluster) connection error');
      },
    );
    const peers = new Peers(
      { forward_in_flight_max: config.TAPLINE_FORWARD_IN_FLIGHT_MAX, forward_timeout_ms: config.TAPLINE_ROUTE_WAIT_MAX_MS },
      logger,
    );
    const holder: { coordinator?: ClusterCoordinator } = {};
    const router = new ClusterRouter({
      self: config.TAPLINE_NODE_ID,
      shardCount: config.TAPLINE_SHARD_COUNT,
      // A shard counts as held only while its lease is known fresh: a resumed stale owner waits for
      // its next round instead of answering from memory (its writes are fenced by Redis anyway).
      holds: (shard) => ownership.holds(shard) && (holder.coordinator?.leasesFresh ?? false),
      ownerOf: (shard) => holder.coordinator?.ownerOf(shard),
      accepting,
      peers,
      limits: { retry_ms: config.TAPLINE_ROUTE_RETRY_MS, route_wait_max_ms: config.TAPLINE_ROUTE_WAIT_MAX_MS },
      logger,
      clock,
      metrics,
    });
    const server = new grpc.Server({
      'grpc.max_receive_message_length': 64 * 1024 * 1024,
      'grpc.max_send_message_length': 64 * 1024 * 1024,
      'grpc.keepalive_time_ms': 10_000,
      'grpc.keepalive_timeout_ms': 5_000,
      interceptors: [nodeMetrics.grpc.interceptor],
    });
    nodeMetrics.grpc.addService(ClusterServiceService);
    server.addService(ClusterServiceService, {
      forward: (call: grpc.ServerDuplexStream<ForwardRequest, ForwardResponse>) => router.serveForward(call),
    });
    const host = config.TAPLINE_INTERNAL_HOST ?? config.TAPLINE_GRPC_HOST;
    const port = await bindServer(server, `${host}:${config.TAPLINE_INTERNAL_PORT}`, grpc.ServerCredentials.createInsecure());
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

  get ready(): boolean {
    return this.accepting && this.store.ready;
  }

  /**
   * Graceful stop: refuse new requests, let accepted ones finish and their commits land (bounded
   * by the shutdown grace), then close everything. Safe to call more than once.
   */
  shutdown(): Promise<void> {
    this.stopping ??= this.doShutdown();
    return this.stopping;
  }

  private async doShutdown(): Promise<void> {
    const grace = this.config.TAPLINE_SHUTDOWN_GRACE_MS;
    // With peers, hand the shards off first: calls still arriving here are forwarded to the new
    // owners while this node drains. Alone, drain first so accepted calls finish here.
    const handOffFirst = this.cluster.coordinator.hasPeers;
    if (handOffFirst) await this.cluster.coordinator.leave();
    this.accepting = false;
    this.health.setStatus('', 'NOT_SERVING');
    for (const name of served_services) this.health.setStatus(name, 'NOT_SERVING');
    clearInterval(this.passivationTimer);
    const drained = await withinMs(
      Promise.all([this.inFlight.whenDrained(), this.committer.whenIdle(), this.cluster.router.whenDrained()]),
      grace,
    );
    if (!handOffFirst) await this.cluster.coordinator.leave();
    if (!drained)
      this.logger.warn(
        { inFlight: this.inFlight.current, commits: this.committer.pendingCount },
        'shutdown grace elapsed with work in flight',
      );
    await withinMs(new Promise<void>((resolve) => this.grpcServer.tryShutdown(() => resolve())), Math.min(grace, 2_000));
    this.grpcServer.forceShutdown();
    this.cluster.server.forceShutdown();
    this.cluster.peers.closeAll();
    await this.cluster.store.close().catch((error: unknown) => this.logger.warn({ err: error }, 'redis (cluster) close failed'));
    this.region.stopAll();
    this.runtime.shutdown();
    await this.store.close().catch((error: unknown) => this.logger.warn({ err: error }, 'redis close failed'));
    if (this.httpServer) await new Promise<void>((resolve) => this.httpServer?.close(() => resolve()));
    this.logger.info('authorizer node stopped');
  }
}

async function withinMs(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  const done = work.then(() => true as const);
  try {
    return await Promise.race([done, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
