// The benchmark's cluster phase (about 45 s). In one run, on a private Redis (appendfsync always):
//  - cluster3_vs_single: closed-loop unary Authorize throughput of ONE node, then of a 3-node
//    cluster (two nodes join the first) with every request sent to a random node, so about two
//    thirds of requests are forwarded one hop to their card's owner. The nodes share this
//    machine's two cores with Redis and the driver, so the ratio shows what forwarding costs,
//    not what a cluster gains (goal: at least 0.6).
//  - handoff_unavailable_ms: under a light load (random node, random card), one node leaves
//    gracefully (SIGTERM: hand-off) and joins again. For every shard, the longest wait of any
//    request on it during the two moves; p50 / p99 / max over the shards. The same statistic
//    in steady state (handoff_baseline_ms) shows how much of it is ordinary queueing.
//  - bytes_per_active_card: heap growth over 100,000 activated card actors / 100,000, measured
//    in its own process with --expose-gc (loadtest/card-memory.ts says how).
// Cluster timings are the production defaults (tick 500 ms, lease 3 s).

import { accessToNode, benchCredentials, benchNodeEnv } from '../tools/devenv/secure-node';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { DevCredentials } from '../tools/devenv/credentials';
import { join } from 'node:path';
import { startRedis, type RedisInstance } from '../tools/devenv/redis';
import { startServerProcess, type ServerProcess } from '../tools/devenv/node-process';
import { projectRoot } from '../services/common/paths';
import { authorizer_node_flags } from '../services/authorizer/runtime-flags';
import { TaplineClient, purchase } from '../tools/client/tapline-client';
import { shardOf } from '../actors/sharding/shard-key';
import { shardLeaseKey } from '../services/authorizer/store/keys';
import { closedLoopUnary, round, unaryTargets, type PhaseResult, type UnaryTarget } from './driver';
import { withCpu } from './cpu';
import { seededRandom } from '../tools/seeded-random';
import type { H2Tls, UnaryDone } from './h2-unary';
import type { AuthorizeRequest } from '../gen/tapline/v1/authorization';
import { createClient } from 'redis';

const shard_count = 256;
const settings = {
  cards: 5_000,
  terminals: 16,
  concurrency: 128,
  connections_per_node: 2,
  warmup_s: 3,
  measure_s: 8,
  probe_concurrency: 16,
  memory_cards: 100_000,
};

export interface ClusterReport {
  readonly single: PhaseResult;
  readonly cluster3: PhaseResult;
  readonly handoff_baseline_ms: Distribution;
  readonly handoff_unavailable_ms: Distribution;
  readonly handoff_errors: number;
  readonly memory: { cards: number; heap_growth_bytes: number; bytes_per_active_card: number };
  readonly ratios: { cluster3_vs_single: number };
  readonly cores: { single: Record<string, number>; cluster3: Record<string, number> };
}

interface Distribution {
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

/** One target that sends each request through a randomly chosen one of `targets`. */
function randomNode(targets: UnaryTarget[], seed: number): UnaryTarget {
  const next = seededRandom(seed);
  return {
    authorize: (request: AuthorizeRequest, done: UnaryDone) =>
      (targets[Math.floor(next() * targets.length)] as UnaryTarget).authorize(request, done),
    close: () => undefined,
  };
}

async function startNode(redisUrl: string, nodeId: string, credentials: DevCredentials): Promise<ServerProcess> {
  // BENCH_CLUSTER_CPU_PROFILE_DIR=<dir>: each node writes a V8 CPU profile there on exit.
  const profileDir = process.env['BENCH_CLUSTER_CPU_PROFILE_DIR'];
  return startServerProcess({
    script: 'dist/services/authorizer/main.js',
    nodeArgs: profileDir === undefined ? authorizer_node_flags : [...authorizer_node_flags, '--cpu-prof', `--cpu-prof-dir=${profileDir}`],
    env: {
      TAPLINE_REDIS_URL: redisUrl,
      TAPLINE_GRPC_PORT: '0',
      TAPLINE_INTERNAL_PORT: '0',
      TAPLINE_METRICS_PORT: '-1',
      TAPLINE_LOG_LEVEL: 'warn',
      // Node certificates: the nodes forward to each other over mutual TLS.
      ...(await benchNodeEnv(credentials, nodeId)),
    },
  });
}

/** The driver's connections: a venue gateway of the cluster benchmark's merchant (mutual TLS). */
async function gatewayTls(credentials: DevCredentials): Promise<H2Tls> {
  const gateway = await credentials.gateway(['cb-m']);
  return {
    ca: readFileSync(credentials.caFile),
    cert: readFileSync(gateway.cert),
    key: readFileSync(gateway.key),
    servername: 'localhost',
  };
}

/** Waits until the shard leases are held by exactly `nodes` distinct nodes and all are held. */
async function waitForPlacement(redisUrl: string, nodes: number, timeout_ms = 20_000): Promise<void> {
  const client = createClient({ url: redisUrl });
  await client.connect();
  try {
    const deadline = Date.now() + timeout_ms;
    for (;;) {
      const leases = await Promise.all(Array.from({ length: shard_count }, (_, shard) => client.get(shardLeaseKey(shard))));
      const holders = new Set(leases.map((lease) => lease?.split('|')[0]));
      if (!holders.has(undefined) && holders.size === nodes) return;
      if (Date.now() > deadline)
        throw new Error(
          `cluster bench: expected ${nodes} nodes holding all shards within ${timeout_ms} ms; holders ${[...holders].join(',')}`,
        );
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } finally {
    await client.close();
  }
}

function distribution(values: number[]): Distribution {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number): number =>
    sorted.length === 0 ? 0 : (sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] as number);
  return { p50: round(at(0.5), 1), p99: round(at(0.99), 1), max: round(sorted[sorted.length - 1] ?? 0, 1) };
}

/** Light closed-loop load that records, per shard, the longest wait of any request. */
class ShardProbe {
  readonly worst_ms = new Map<number, number>();
  errors = 0;
  /** Failed calls by gRPC status and message (what a client saw). */
  readonly errorKinds = new Map<string, number>();
  private stopped = false;
  private running: Promise<void> = Promise.resolve();

  constructor(
    private readonly target: () => TaplineClient,
    private readonly request: (n: number) => AuthorizeRequest,
    private readonly concurrency: number,
  ) {}

  start(): void {
    let n = 0;
    this.running = Promise.all(
      Array.from({ length: this.concurrency }, async () => {
        while (!this.stopped) {
          const request = this.request(n++);
          const started = process.hrtime.bigint();
          try {
            await this.target().authorize(request, 15_000);
          } catch (error) {
            this.errors += 1;
            const { code, details } = error as { code?: number; details?: string };
            const kind = `${code ?? '?'} ${details ?? String(error)}`.slice(0, 120);
            this.errorKinds.set(kind, (this.errorKinds.get(kind) ?? 0) + 1);
          }
          const waited = Number(process.hrtime.bigint() - started) / 1e6;
          const shard = shardOf('card', request.cardId, shard_count);
          this.worst_ms.set(shard, Math.max(this.worst_ms.get(shard) ?? 0, waited));
        }
      }),
    ).then(() => undefined);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.running;
  }
}

export async function clusterPhase(
  dataDir: string,
  log: (message: string, fields?: Record<string, unknown>) => void,
  credentials: DevCredentials,
): Promise<ClusterReport> {
  const redis: RedisInstance = await startRedis({
    dataDir: join(dataDir, 'redis-cluster'),
    appendfsync: process.env['BENCH_CLUSTER_APPENDFSYNC'] === 'everysec' ? 'everysec' : 'always',
  });
  const nodes = new Map<string, ServerProcess>();
  const unary: UnaryTarget[] = [];
  const admins: TaplineClient[] = [];
  try {
    nodes.set('c1', await startNode(redis.url, 'c1', credentials));
    const first = nodes.get('c1') as ServerProcess;
    const tls = await gatewayTls(credentials);
    const admin = new TaplineClient(accessToNode(credentials, first));
    admins.push(admin);
    for (let t = 0; t < settings.terminals; t++) await admin.registerTerminal(`cb-t${t}`, 'cb-m');
    for (let at = 0; at < settings.cards; at += 250) {
      await Promise.all(
        Array.from({ length: Math.min(250, settings.cards - at) }, (_, k) =>
          admin.issueCard(`cb-c${at + k}`, 1_000_000_000_000, 'EUR', 'bench'),
        ),
      );
    }
    let txn = 0;
    const pick = seededRandom(7);
    const request = (): AuthorizeRequest =>
      purchase(`cb-t${txn % settings.terminals}`, ++txn, `cb-c${Math.floor(pick() * settings.cards)}`, 1 + (txn % 500));

    const singleTargets = unaryTargets(first.address, settings.connections_per_node * 3, tls);
    unary.push(...singleTargets);
    const measuredSingle = await withCpu({ driver: process.pid, redis: redis.pid, c1: first.pid }, () =>
      closedLoopUnary([randomNode(singleTargets, 11)], request, settings.concurrency, settings.warmup_s, settings.measure_s),
    );
    const single = measuredSingle.result;
    log('cluster: one node', { ...single, cores: measuredSingle.cores });

    nodes.set('c2', await startNode(redis.url, 'c2', credentials));
    nodes.set('c3', await startNode(redis.url, 'c3', credentials));
    await waitForPlacement(redis.url, 3);
    const clusterTargets = [...nodes.values()].flatMap((node) => unaryTargets(node.address, settings.connections_per_node, tls));
    unary.push(...clusterTargets);
    const measuredCluster = await withCpu(
      { driver: process.pid, redis: redis.pid, ...Object.fromEntries([...nodes].map(([id, node]) => [id, node.pid])) },
      () => closedLoopUnary([randomNode(clusterTargets, 13)], request, settings.concurrency, settings.warmup_s, settings.measure_s),
    );
    const cluster3 = measuredCluster.result;
    log('cluster: three nodes, random entry node', { ...cluster3, cores: measuredCluster.cores });

    // Hand-off windows: a light probe load; steady first, then c3 leaves (SIGTERM) and rejoins.
    const live = (): TaplineClient[] =>
      admins.filter((client) => [...nodes.values()].some((node) => node.address === client.access.endpoints.terminal));
    for (const node of nodes.values()) if (node !== first) admins.push(new TaplineClient(accessToNode(credentials, node)));
    const pickNode = seededRandom(17);
    const steady = new ShardProbe(
      () => live()[Math.floor(pickNode() * live().length)] as TaplineClient,
      request,
      settings.probe_concurrency,
    );
    steady.start();
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    await steady.stop();
    const moving = new ShardProbe(
      () => live()[Math.floor(pickNode() * live().length)] as TaplineClient,
      request,
      settings.probe_concurrency,
    );
    moving.start();
    const leaving = nodes.get('c3') as ServerProcess;
    nodes.delete('c3');
    await leaving.terminate();
    await waitForPlacement(redis.url, 2);
    const rejoined = await startNode(redis.url, 'c3', credentials);
    nodes.set('c3', rejoined);
    admins.push(new TaplineClient(accessToNode(credentials, rejoined)));
    await waitForPlacement(redis.url, 3);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await moving.stop();
    const baseline = distribution([...steady.worst_ms.values()]);
    const handoff = distribution([...moving.worst_ms.values()]);
    log('cluster: hand-off (leave + join) per-shard longest wait', {
      baseline,
      handoff,
      errors: moving.errors,
      error_kinds: Object.fromEntries(moving.errorKinds),
    });

    const memory = JSON.parse(
      execFileSync(process.execPath, ['--expose-gc', join(projectRoot(), 'dist/loadtest/card-memory.js'), String(settings.memory_cards)], {
        encoding: 'utf8',
      }),
    ) as ClusterReport['memory'];
    log('cluster: memory per active card actor', memory);
    return {
      single,
      cluster3,
      handoff_baseline_ms: baseline,
      handoff_unavailable_ms: handoff,
      handoff_errors: moving.errors,
      memory,
      ratios: { cluster3_vs_single: round(cluster3.rps / single.rps) },
      cores: { single: measuredSingle.cores, cluster3: measuredCluster.cores },
    };
  } finally {
    for (const target of unary) target.close();
    for (const client of admins) client.close();
    for (const node of nodes.values()) await node.terminate().catch(() => undefined);
    await redis.stop();
  }
}

if (require.main === module) {
  // `node dist/loadtest/cluster.js <dataDir>`: the phase alone (for development).
  const dataDir = process.argv[2] ?? join(projectRoot(), '.bench', 'cluster-only');
  benchCredentials()
    .then((credentials) =>
      clusterPhase(
        dataDir,
        (message, fields) => process.stderr.write(`[cluster] ${message} ${JSON.stringify(fields ?? {})}\n`),
        credentials,
      ),
    )
    .then(
      (report) => {
        process.stdout.write(JSON.stringify(report) + '\n');
      },
      (error: unknown) => {
        process.stderr.write(`cluster phase failed: ${error instanceof Error ? error.stack : String(error)}\n`);
        process.exit(1);
      },
    );
}
