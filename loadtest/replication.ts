// The benchmark's Redis replication phase (about a minute), on private Redis servers
// (appendfsync always everywhere):
//  - authorize_wait1_vs_local: closed-loop unary Authorize throughput of a node whose commits are
//    acknowledged once one replica has them (a Sentinel set: primary, one replica, three
//    Sentinels; WAIT 1), against a node on one Redis without replicas, in alternating rounds of
//    one run (the median of the rounds' ratios; goal at least 0.8). Both nodes, both Redis sets
//    and the driver share this machine's two cores, so the replica's own work (applying the
//    stream, fsync) is paid here too; on separate machines it is not.
//  - failover_unavailable_ms: a node on a Sentinel set with two replicas (so writes go on once one
//    is promoted) under closed-loop load; the primary is killed (SIGKILL). Every request is
//    retried with the same key until answered; for each request that was not answered on its
//    first attempt, the time from that attempt to its answer; p50 / p99 / max over them.
//    Sentinel's down-after is 1 s here (production: a few seconds), the node's Redis command
//    bound 1 s.

import { readFileSync } from 'node:fs';
import type { ClientAccess } from '../tools/client/access';
import type { DevCredentials } from '../tools/devenv/credentials';
import { accessToNode, benchNodeEnv } from '../tools/devenv/secure-node';
import type { H2Tls } from './h2-unary';
import { join } from 'node:path';
import { startRedis } from '../tools/devenv/redis';
import { startSentinelSet, type SentinelSet } from '../tools/devenv/redis-ha';
import { startServerProcess, type ServerProcess } from '../tools/devenv/node-process';
import { authorizer_node_flags } from '../services/authorizer/runtime-flags';
import { TaplineClient, purchase } from '../tools/client/tapline-client';
import { closedLoopUnary, pairedRatio, round, unaryTargets, type PhaseResult, type UnaryTarget } from './driver';

const settings = {
  cards: 2_000,
  terminals: 16,
  concurrency: 128,
  connections: 2,
  warmup_s: 1,
  measure_s: 4,
  rounds: 3,
  failover_concurrency: 64,
  /** Load before the kill, and after the first request answered past it. */
  failover_settle_ms: 2_000,
};

export interface Distribution {
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

export interface ReplicationReport {
  readonly local: PhaseResult[];
  readonly wait1: PhaseResult[];
  readonly authorize_wait1_vs_local: number;
  readonly failover_unavailable_ms: Distribution;
  /** Requests not answered on their first attempt (those the distribution is over). */
  readonly failover_requests_caught: number;
  /** From the kill until the Sentinels named the new primary. */
  readonly sentinel_failover_ms: number;
}

type Log = (message: string, fields?: Record<string, unknown>) => void;

/** A client's pause before retrying a failed request (it adds at most this to a measured wait). */
const retry_pause_ms = 10;

/** A node of the phase, secure as in production: its certificate and the benchmark's token issuer. */
async function startNode(credentials: DevCredentials, nodeId: string, env: Record<string, string>): Promise<ServerProcess> {
  return startServerProcess({
    script: 'dist/services/authorizer/main.js',
    nodeArgs: authorizer_node_flags,
    env: {
      TAPLINE_GRPC_PORT: '0',
      TAPLINE_INTERNAL_PORT: '0',
      TAPLINE_METRICS_PORT: '-1',
      TAPLINE_LOG_LEVEL: 'warn',
      ...(await benchNodeEnv(credentials, nodeId)),
      ...env,
    },
  });
}

/** The driver's connections: a venue gateway of the phase's merchants (mutual TLS). */
async function gatewayTls(credentials: DevCredentials): Promise<H2Tls> {
  const gateway = await credentials.gateway(['rl-m', 'rw-m']);
  return {
    ca: readFileSync(credentials.caFile),
    cert: readFileSync(gateway.cert),
    key: readFileSync(gateway.key),
    servername: 'localhost',
  };
}

function sentinelEnv(set: SentinelSet, extra: Record<string, string> = {}): Record<string, string> {
  return {
    TAPLINE_REDIS_MODE: 'sentinel',
    TAPLINE_REDIS_SENTINELS: set.sentinelAddresses,
    TAPLINE_REDIS_SENTINEL_NAME: set.masterName,
    TAPLINE_REDIS_WAIT_REPLICAS: '1',
    ...extra,
  };
}

async function seed(access: ClientAccess, prefix: string): Promise<void> {
  const admin = new TaplineClient(access);
  try {
    for (let t = 0; t < settings.terminals; t++) await admin.registerTerminal(`${prefix}-t${t}`, `${prefix}-m`);
    for (let start = 0; start < settings.cards; start += 200)
      await Promise.all(
        Array.from({ length: Math.min(200, settings.cards - start) }, (_, k) =>
          admin.issueCard(`${prefix}-c${start + k}`, 1_000_000_000_000, 'EUR', 'bench'),
        ),
      );
  } finally {
    admin.close();
  }
}

function distribution(values: readonly number[]): Distribution {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number): number =>
    sorted.length === 0 ? 0 : (sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] as number);
  return { p50: round(at(0.5), 1), p99: round(at(0.99), 1), max: round(sorted[sorted.length - 1] ?? 0, 1) };
}

/** Alternating rounds on a node without replicas and a node acknowledged after one replica. */
async function waitVsLocal(
  dataDir: string,
  log: Log,
  credentials: DevCredentials,
): Promise<{ local: PhaseResult[]; wait1: PhaseResult[] }> {
  const single = await startRedis({ dataDir: join(dataDir, 'local-redis'), appendfsync: 'always' });
  const set = await startSentinelSet({ dataDir: join(dataDir, 'wait1-sentinel'), replicas: 1 });
  const nodes: ServerProcess[] = [];
  const targets: UnaryTarget[] = [];
  try {
    const local = await startNode(credentials, 'bench-local', { TAPLINE_REDIS_URL: single.url });
    nodes.push(local);
    const wait1 = await startNode(credentials, 'bench-wait1', sentinelEnv(set));
    nodes.push(wait1);
    await Promise.all([seed(accessToNode(credentials, local), 'rl'), seed(accessToNode(credentials, wait1), 'rw')]);
    const tls = await gatewayTls(credentials);
    let txn = 0;
    const request = (prefix: string) => (i: number) =>
      purchase(`${prefix}-t${i % settings.terminals}`, ++txn, `${prefix}-c${(i * 7919) % settings.cards}`, 1 + (i % 500));
    const localTargets = unaryTargets(local.address, settings.connections, tls);
    const waitTargets = unaryTargets(wait1.address, settings.connections, tls);
    targets.push(...localTargets, ...waitTargets);
    const rows = { local: [] as PhaseResult[], wait1: [] as PhaseResult[] };
    for (let r = 1; r <= settings.rounds; r++) {
      const warmup = r === 1 ? settings.warmup_s + 1 : settings.warmup_s;
      rows.local.push(await closedLoopUnary(localTargets, request('rl'), settings.concurrency, warmup, settings.measure_s));
      log(`round ${r}: authorize unary, one Redis without replicas`, { ...rows.local[rows.local.length - 1] });
      rows.wait1.push(await closedLoopUnary(waitTargets, request('rw'), settings.concurrency, warmup, settings.measure_s));
      log(`round ${r}: authorize unary, acknowledged after one replica (WAIT 1)`, { ...rows.wait1[rows.wait1.length - 1] });
    }
    return rows;
  } finally {
    for (const target of targets) target.close();
    for (const node of nodes) await node.terminate().catch(() => undefined);
    await set.stop();
    await single.stop();
  }
}

/** Closed-loop clients that retry each request with the same key until it is answered. */
class RetryingLoad {
  readonly caught_ms: number[] = [];
  answered = 0;
  private stopped = false;
  private running: Promise<void> = Promise.resolve();

  constructor(private readonly client: TaplineClient) {}

  start(): void {
    let n = 0;
    this.running = Promise.all(
      Array.from({ length: settings.failover_concurrency }, async () => {
        while (!this.stopped) {
          const i = n++;
          const request = purchase(`rf-t${i % settings.terminals}`, i + 1, `rf-c${(i * 7919) % settings.cards}`, 1 + (i % 500));
          const started = Date.now();
          for (let attempt = 0; ; attempt++) {
            try {
              await this.client.authorize(request, 2_000);
              this.answered += 1;
              if (attempt > 0) this.caught_ms.push(Date.now() - started);
              break;
            } catch {
              // Retried with the same key (the outcome of a failed attempt is unknown) after a
              // short pause, as a terminal would, without spinning on a failing node.
              if (this.stopped && attempt > 100) break;
              await new Promise((resolve) => setTimeout(resolve, retry_pause_ms));
            }
          }
        }
      }),
    ).then(() => undefined);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.running;
  }
}

async function until(what: string, timeout_ms: number, condition: () => boolean): Promise<void> {
  const deadline = Date.now() + timeout_ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`replication bench: ${what} not reached within ${timeout_ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Kills the primary of a two-replica Sentinel set under load; what the clients waited. */
async function failover(dataDir: string, log: Log, credentials: DevCredentials): Promise<{ caught: number[]; sentinel_ms: number }> {
  const set = await startSentinelSet({ dataDir: join(dataDir, 'failover-sentinel'), replicas: 2, downAfterMs: 1_000 });
  let node: ServerProcess | undefined;
  let client: TaplineClient | undefined;
  try {
    node = await startNode(
      credentials,
      'bench-failover',
      sentinelEnv(set, { TAPLINE_REDIS_COMMAND_TIMEOUT_MS: '1000', TAPLINE_REDIS_WAIT_TIMEOUT_MS: '300' }),
    );
    await seed(accessToNode(credentials, node), 'rf');
    client = new TaplineClient(accessToNode(credentials, node));
    const load = new RetryingLoad(client);
    load.start();
    const before = load.answered;
    await until('load before the kill', 60_000, () => load.answered >= before + 500);
    const old = await set.primary();
    const killed_at = Date.now();
    await old.kill9();
    await set.waitForFailover(old, 30_000);
    const sentinel_ms = Date.now() - killed_at;
    const after = load.answered;
    await until('load after the failover', 60_000, () => load.answered >= after + 500);
    await load.stop();
    log('failover', { sentinel_ms, caught: load.caught_ms.length, answered: load.answered });
    return { caught: load.caught_ms, sentinel_ms };
  } finally {
    client?.close();
    await node?.terminate().catch(() => undefined);
    await set.stop();
  }
}

export async function replicationPhase(dataDir: string, log: Log, credentials: DevCredentials): Promise<ReplicationReport> {
  const rows = await waitVsLocal(dataDir, log, credentials);
  const failed = await failover(dataDir, log, credentials);
  return {
    local: rows.local,
    wait1: rows.wait1,
    authorize_wait1_vs_local: pairedRatio(rows.wait1, rows.local, (r) => r.rps),
    failover_unavailable_ms: distribution(failed.caught),
    failover_requests_caught: failed.caught.length,
    sentinel_failover_ms: failed.sentinel_ms,
  };
}
