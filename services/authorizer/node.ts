// An authorizer node: starts its parts in order (assembly.ts builds each: Redis, the domain, the
// cluster, the handlers' dependencies, the servers) and takes them down in order on shutdown (stop
// accepting, drain, flush, close).

import type { Logger } from 'pino';
import type { ShardRegion } from '../../actors/sharding/shard-region';
import { CardFanoutServiceService } from '../../gen/tapline/internal/v1/fanout';
import { Metrics } from '../common/metrics';
import { ConfigError } from '../common/process';
import {
  buildDomain,
  buildServiceDeps,
  connectStore,
  serve,
  startCluster,
  transactionIds,
  type ClusterParts,
  type Domain,
  type Serving,
} from './assembly';
import type { ClusterCoordinator } from './cluster/coordinator';
import { activeEntitiesMax, type NodeConfig } from './config';
import { getHeapStatistics } from 'node:v8';
import { cardFanoutService } from './grpc/card-fanout-service';
import { served_services } from './grpc/server';
import type { InFlight } from './grpc/service';
import type { RedisStore } from './store/redis-store';
import { buildDoorSecurity } from './doors';
import { earliestNotAfterMs } from '../common/auth/certificates';
import type { PspIntegration } from './usecases/psp';
import type { OfflineDeps } from './grpc/offline-service';

/** What the code that starts a node injects into it. */
export interface NodeOptions {
  /** Tests move time (period boundaries); production uses the system clock. */
  readonly clock?: () => number;
  /**
   * The PSP integration; the configuration turns it on. The production entry point injects Mollie
   * (TAPLINE_PSP_PROVIDER=mollie); the dev launcher and the tests inject the simulated PSP
   * (tools/psp-simulator, turned on by TAPLINE_PSP_SECRET; docs/DECISIONS.md).
   */
  readonly psp?: PspIntegration;
}

/**
 * Refuses options that cannot serve the configuration (ConfigError: the process exits with status
 * 2): a PSP secret without an integration that signs its callbacks would open a door that credits
 * cards to whoever holds the secret, for nothing; a provider the entry point does not carry would
 * accept PSP calls it cannot carry out; a cap on actors past what this process's heap holds would
 * end in heap exhaustion instead of refusals.
 */
export function checkNodeOptions(config: NodeConfig, options: NodeOptions): void {
  activeEntitiesMax(config, getHeapStatistics().heap_size_limit);
  if (config.TAPLINE_PSP_SECRET !== undefined && options.psp?.signsCallbacks !== true) {
    throw new ConfigError(
      'invalid configuration: TAPLINE_PSP_SECRET is set but this entry point has no PSP integration that signs callbacks (the simulated PSP runs only from tools/devenv/node-main.js and the tests; production PSPs are chosen by TAPLINE_PSP_PROVIDER)',
    );
  }
  if (config.TAPLINE_PSP_PROVIDER !== 'none' && options.psp?.name !== config.TAPLINE_PSP_PROVIDER) {
    throw new ConfigError(
      `invalid configuration: TAPLINE_PSP_PROVIDER=${config.TAPLINE_PSP_PROVIDER} but this entry point does not carry it`,
    );
  }
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
    private readonly domain: Domain,
    private readonly inFlight: InFlight,
    private readonly serving: Serving,
    private readonly cluster: ClusterParts,
    /** The offline use cases (profiles, denylist deltas, uploads), as the terminal door calls them. */
    readonly offline: OfflineDeps,
  ) {}

  get region(): ShardRegion {
    return this.domain.region;
  }

  /** Port of the terminal door (AuthorizationService). */
  get grpcPort(): number {
    return this.serving.grpcPort;
  }

  /** Port of the operator door (Admin, Card, FleetAdmin and Approval services). */
  get operatorPort(): number {
    return this.serving.operatorPort;
  }

  get metricsPort(): number | undefined {
    return this.serving.metricsPort;
  }

  /** Port of the PSP webhook listener, when TAPLINE_PSP_WEBHOOK_PORT turned it on. */
  get pspWebhookPort(): number | undefined {
    return this.serving.webhookPort;
  }

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
    const clock = options.clock ?? ((): number => Date.now());
    const store = await connectStore(config, logger, metrics);
    const incarnation = await store.nextIncarnation();
    const holder: { node?: AuthorizerNode } = {};
    const accepting = (): boolean => holder.node?.accepting ?? false;
    const domain = buildDomain(config, logger, metrics, store, clock, options, transactionIds(incarnation));
    // Certificates, CA bundles and token issuers of the three doors (a ConfigError when unusable).
    // A credential's validity is a matter of real time (as TLS itself judges certificates), never
    // of the domain clock a test may move by days.
    const security = buildDoorSecurity(config, logger, () => Date.now());
    metrics.watchCertificates(() => security.certificateFiles.map(([role, file]) => [role, earliestNotAfterMs(file.current)] as const));
    const cluster = await startCluster(config, logger, domain.ownership, domain.region, clock, accepting, metrics, security);
    const serviceDeps = buildServiceDeps(config, logger, metrics, store, domain, cluster, clock, accepting);
    domain.psp.deliverThrough(cluster.router, logger);
    // Fan-out calls of bulk issuance and the refund run: reachable only through the router.
    cluster.router.wrap(CardFanoutServiceService, cardFanoutService(serviceDeps));
    const serving = await serve(config, metrics, serviceDeps, cluster.router, security, () => holder.node?.ready ?? false);
    const node = new AuthorizerNode(config, logger, metrics, store, domain, serviceDeps.inFlight, serving, cluster, serviceDeps.offline);
    holder.node = node;
    // Join last: peers may forward to this node as soon as it is a member. The first round
    // takes the free shards this node owns (a lone node: all of them) before it serves.
    node.accepting = true;
    await cluster.coordinator.start();
    node.startSweeps();
    serving.health.setStatus('', 'SERVING');
    for (const name of served_services) serving.health.setStatus(name, 'SERVING');
    logger.info(
      {
        grpcPort: serving.grpcPort,
        operatorPort: serving.operatorPort,
        tls: !security.plaintext,
        metricsPort: serving.metricsPort,
        internalPort: cluster.port,
        shards: domain.ownership.heldCount,
        members: cluster.coordinator.memberIds.length,
        incarnation,
        node: config.TAPLINE_NODE_ID,
      },
      'authorizer node serving',
    );
    return node;
  }

  /** Passivates idle actors and samples the gauges, every TAPLINE_PASSIVATION_SWEEP_MS. */
  private startSweeps(): void {
    const { region } = this.domain;
    this.passivationTimer = setInterval(() => {
      region.passivateIdle();
      this.metrics.activeEntities.set({ kind: 'card' }, region.cards.size);
      this.metrics.activeEntities.set({ kind: 'terminal' }, region.terminals.size);
      this.metrics.activeEntities.set({ kind: 'fleet' }, region.fleets.size);
      this.metrics.inFlight.set(this.inFlight.current);
    }, this.config.TAPLINE_PASSIVATION_SWEEP_MS);
    this.passivationTimer.unref();
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
    this.serving.health.setStatus('', 'NOT_SERVING');
    for (const name of served_services) this.serving.health.setStatus(name, 'NOT_SERVING');
    clearInterval(this.passivationTimer);
    const drained = await withinMs(
      Promise.all([this.inFlight.whenDrained(), this.domain.committer.whenIdle(), this.cluster.router.whenDrained()]),
      grace,
    );
    if (!handOffFirst) await this.cluster.coordinator.leave();
    if (!drained)
      this.logger.warn(
        { inFlight: this.inFlight.current, commits: this.domain.committer.pendingCount },
        'shutdown grace elapsed with work in flight',
      );
    const servers = [this.serving.terminalServer, this.serving.operatorServer];
    await withinMs(
      Promise.all(servers.map((server) => new Promise<void>((resolve) => server.tryShutdown(() => resolve())))),
      Math.min(grace, 2_000),
    );
    for (const server of servers) server.forceShutdown();
    this.cluster.server.forceShutdown();
    this.cluster.peers.closeAll();
    await this.cluster.store.close().catch((error: unknown) => this.logger.warn({ err: error }, 'redis (cluster) close failed'));
    this.domain.region.stopAll();
    this.domain.runtime.shutdown();
    await this.store.close().catch((error: unknown) => this.logger.warn({ err: error }, 'redis close failed'));
    for (const http of [this.serving.httpServer, this.serving.webhookServer]) {
      if (http !== undefined) await new Promise<void>((resolve) => http.close(() => resolve()));
    }
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
