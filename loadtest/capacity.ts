// The figures of the Redis capacity plan (docs/CAPACITY.md), measured on this machine:
//   node dist/loadtest/capacity.js
//  - Redis CPU per authorization's commit entry, at saturation: 50,000 entries shaped like
//    authorizations (a card state, the request's record, its key record, an outbox document) are
//    pushed through the real committer as fast as it takes them, on (a) one Redis without
//    replicas, (b) a primary with one replica, acknowledged after WAIT 1, (c) a Redis Cluster of
//    3 primaries with a replica each (one script per shard, key records claimed on their home
//    shards). The primaries' and replicas' CPU seconds (from /proc) over the entries. CPU per
//    operation, not throughput, is what transfers to other machines: a primary that may use one
//    core commits about 1e6 / µs_per_entry authorizations per second. All with appendfsync always.
//  - Redis memory per card: used_memory after issuing cards through a node, per card.
//  - Redis memory per retained transaction: used_memory after authorizations through a node, per
//    authorization, with its outbox entry (before the streamer takes it) and without (what stays
//    for the idempotency retention: the request's record and its key record).
// Prints one JSON line. The machine is shared: run it when it is otherwise idle.

import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { createClient } from 'redis';
import { shardOf } from '../actors/sharding/shard-key';
import { authorizer_node_flags } from '../services/authorizer/runtime-flags';
import { Committer } from '../services/authorizer/store/committer';
import { shardKeys } from '../services/authorizer/store/keys';
import { RedisStore } from '../services/authorizer/store/redis-store';
import { Metrics } from '../services/common/metrics';
import { projectRoot } from '../services/common/paths';
import { redisTargetFromEnv, singleRedis, type RedisTarget } from '../services/common/redis-target';
import { TaplineClient, purchase } from '../tools/client/tapline-client';
import { accessToNode, benchCredentials, benchNodeEnv } from '../tools/devenv/secure-node';
import { startServerProcess, type ServerProcess } from '../tools/devenv/node-process';
import { startRedis } from '../tools/devenv/redis';
import { startRedisCluster, startSentinelSet } from '../tools/devenv/redis-ha';
import { cpuSeconds } from './cpu';
import { closedLoopUnary, round, unaryTargets } from './driver';
import { pump } from './micro';

/**
 * The WAIT bound at saturation: a replica sharing this machine's cores with everything else may
 * take longer than the production default (500 ms) to acknowledge a full batch; what is measured
 * here is CPU, not that bound.
 */
const saturation_wait_timeout_ms = '2000';

const settings = { cards: 20_000, terminals: 16, concurrency: 128, measure_s: 8, shard_count: 256, entries: 50_000 };

async function usedMemory(port: number): Promise<number> {
  const client = createClient({ socket: { host: '127.0.0.1', port } });
  await client.connect();
  try {
    const info = await client.sendCommand<string>(['INFO', 'memory']);
    return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0);
  } finally {
    await client.close();
  }
}

async function trimOutbox(port: number): Promise<void> {
  const client = createClient({ socket: { host: '127.0.0.1', port } });
  await client.connect();
  try {
    for (let shard = 0; shard < settings.shard_count; shard++) await client.sendCommand(['XTRIM', shardKeys(shard).outbox, 'MAXLEN', '0']);
  } finally {
    await client.close();
  }
}

/** Memory per card and per retained transaction, through a node on one Redis (secure, as in production). */
async function memory(dir: string) {
  const redis = await startRedis({ dataDir: join(dir, 'memory'), appendfsync: 'always' });
  const credentials = await benchCredentials();
  const node: ServerProcess = await startServerProcess({
    script: 'dist/services/authorizer/main.js',
    nodeArgs: authorizer_node_flags,
    env: {
      TAPLINE_REDIS_URL: redis.url,
      TAPLINE_GRPC_PORT: '0',
      TAPLINE_INTERNAL_PORT: '0',
      TAPLINE_METRICS_PORT: '-1',
      TAPLINE_LOG_LEVEL: 'warn',
      ...(await benchNodeEnv(credentials, 'capacity')),
    },
  });
  const admin = new TaplineClient(accessToNode(credentials, node));
  // The driver speaks for the terminals as a venue gateway of their merchant (mutual TLS).
  const gateway = await credentials.gateway(['cap-m']);
  const tls = {
    ca: readFileSync(credentials.caFile),
    cert: readFileSync(gateway.cert),
    key: readFileSync(gateway.key),
    servername: 'localhost',
  };
  const targets = unaryTargets(node.address, 2, tls);
  try {
    for (let t = 0; t < settings.terminals; t++) await admin.registerTerminal(`cap-t${t}`, 'cap-m');
    const empty = await usedMemory(redis.port);
    for (let start = 0; start < settings.cards; start += 200)
      await Promise.all(Array.from({ length: 200 }, (_, k) => admin.issueCard(`cap-c${start + k}`, 1_000_000_000_000, 'EUR', 'capacity')));
    await trimOutbox(redis.port);
    const withCards = await usedMemory(redis.port);
    let txn = 0;
    const request = (i: number) => purchase(`cap-t${i % settings.terminals}`, ++txn, `cap-c${(i * 7919) % settings.cards}`, 1 + (i % 500));
    const phase = await closedLoopUnary(targets, request, settings.concurrency, 0, settings.measure_s);
    // Requests still unanswered when the phase ended finish before the node stops answering.
    const sent = txn;
    const withTransactions = await usedMemory(redis.port);
    await trimOutbox(redis.port);
    const retained = await usedMemory(redis.port);
    return {
      authorizations: sent,
      errors: phase.errors,
      redis_bytes_per_card: Math.round((withCards - empty) / settings.cards),
      redis_bytes_per_transaction_with_outbox: Math.round((withTransactions - withCards) / sent),
      redis_bytes_per_retained_transaction: Math.round((retained - withCards) / sent),
    };
  } finally {
    admin.close();
    for (const target of targets) target.close();
    await node.terminate().catch(() => undefined);
    await redis.stop();
  }
}

/** Redis CPU per commit entry at saturation on `target`: primaries' and replicas' µs per entry. */
async function cpuPerEntry(target: RedisTarget, primaries: number[], replicas: number[]) {
  const store = await RedisStore.connect({ target, command_timeout_ms: 5_000, reconnect_backoff_max_ms: 1_000 }, () => undefined);
  try {
    const epochs = await store.takeShards(Array.from({ length: settings.shard_count }, (_, i) => i));
    const committer = new Committer(
      store,
      { shardCount: settings.shard_count, epochOf: (shard) => epochs.get(shard) },
      { batch_entries_max: 2_000, in_flight_max: 2, pending_entries_max: 1_000_000, idempotency_ttl_s: 3_600 },
      pino({ level: 'silent' }),
      new Metrics(),
    );
    // Sizes of real ones: a card state of ~300 bytes and a transaction document of ~600.
    const state = JSON.stringify({
      cardId: 'cap-card',
      currency: 'EUR',
      programId: 'p',
      status: 'active',
      balanceMinor: 1_000,
      padding: 'p'.repeat(200),
    });
    const versions = new Map<string, number>();
    const refused = new Map<string, number>();
    const sum = (pids: number[]): number => pids.reduce((total, pid) => total + cpuSeconds(pid), 0);
    const before = { primaries: sum(primaries), replicas: sum(replicas) };
    const started = Date.now();
    await pump(settings.entries, (i, done) => {
      const card = `cap-c${i % 5_000}`;
      const version = versions.get(card) ?? 0;
      versions.set(card, version + 1);
      const document = JSON.stringify({ type: 'transaction', id: `x${i}`, card, amount: 250, key: `t:cap:${i}`, padding: 'p'.repeat(500) });
      committer.submit({
        shard: shardOf('card', card, settings.shard_count),
        writes: [{ entity: { kind: 'card', id: card }, expectVersion: version, data: state }],
        idempotency: { key: `t:cap:${i}`, value: document },
        outbox: document,
        settle: (result) => {
          if (result.status !== 'committed') {
            const why = result.status === 'failed' ? `failed: ${result.error.message}` : result.status;
            refused.set(why, (refused.get(why) ?? 0) + 1);
          }
          done();
        },
      });
    });
    const seconds = (Date.now() - started) / 1000;
    if (refused.size > 0) throw new Error(`capacity: entries did not commit (${target.mode}): ${JSON.stringify([...refused])}`);
    return {
      entries_per_s: round(settings.entries / seconds, 0),
      primaries_us_per_entry: round(((sum(primaries) - before.primaries) * 1e6) / settings.entries, 1),
      replicas_us_per_entry: round(((sum(replicas) - before.replicas) * 1e6) / settings.entries, 1),
    };
  } finally {
    await store.close();
  }
}

async function main(): Promise<void> {
  const base = join(projectRoot(), '.bench');
  mkdirSync(base, { recursive: true });
  const dir = mkdtempSync(join(base, 'capacity-'));
  try {
    const single = await startRedis({ dataDir: join(dir, 'single'), appendfsync: 'always' });
    const local = await cpuPerEntry(singleRedis(single.url), [single.pid], []).finally(() => single.stop());
    const set = await startSentinelSet({ dataDir: join(dir, 'sentinel'), replicas: 1 });
    const wait1 = await (async () => {
      const primary = await set.primary();
      const replicas = set.servers.filter((server) => server !== primary).map((server) => server.pid);
      const target = redisTargetFromEnv({
        TAPLINE_REDIS_MODE: 'sentinel',
        TAPLINE_REDIS_SENTINELS: set.sentinelAddresses,
        TAPLINE_REDIS_SENTINEL_NAME: set.masterName,
        TAPLINE_REDIS_WAIT_REPLICAS: '1',
        TAPLINE_REDIS_WAIT_TIMEOUT_MS: saturation_wait_timeout_ms,
      });
      return cpuPerEntry(target, [primary.pid], replicas);
    })().finally(() => set.stop());
    const cluster = await startRedisCluster({ dataDir: join(dir, 'cluster'), primaries: 3, replicasPerPrimary: 1 });
    const cluster3 = await cpuPerEntry(
      redisTargetFromEnv({
        TAPLINE_REDIS_MODE: 'cluster',
        TAPLINE_REDIS_CLUSTER_NODES: cluster.seeds,
        TAPLINE_REDIS_WAIT_REPLICAS: '1',
        TAPLINE_REDIS_WAIT_TIMEOUT_MS: saturation_wait_timeout_ms,
      }),
      cluster.servers.slice(0, 3).map((server) => server.pid),
      cluster.servers.slice(3).map((server) => server.pid),
    ).finally(() => cluster.stop());
    const memoryFigures = await memory(dir);
    process.stdout.write(JSON.stringify({ settings, redis_cpu: { local, wait1, cluster3 }, memory: memoryFigures }) + '\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`capacity failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
