// Micro-measurements of the node's own costs, without gRPC: where the CPU of one authorization
// goes. Run by `npm run bench` in a child process (its JSON line lands under `micro`), or alone:
//   node --max-semi-space-size=16 dist/loadtest/micro.js redis://127.0.0.1:PORT
// Figures are node CPU (process.cpuUsage) per operation, so Redis' own work is not included,
// except redis_us_per_commit_entry: Redis' CPU (INFO cpu) per group-commit entry.

import { accessToNode, benchCredentials, benchNodeEnv } from '../tools/devenv/secure-node';
import { singleRedis } from '../services/common/redis-target';
import pino from 'pino';
import { ActorRuntime } from '../actors/runtime/actor-runtime';
import { shardOf } from '../actors/sharding/shard-key';
import { loadConfig } from '../services/authorizer/config';
import { AuthorizerNode } from '../services/authorizer/node';
import { parseAuthorize } from '../services/authorizer/grpc/validate';
import { toAuthorizeResponse } from '../services/authorizer/grpc/mapping';
import { Committer } from '../services/authorizer/store/committer';
import { RedisStore } from '../services/authorizer/store/redis-store';
import { Metrics } from '../services/common/metrics';
import { TaplineClient, purchase } from '../tools/client/tapline-client';
import { createClient } from 'redis';
import { round } from './driver';
import { encodeIdempotencyRecord } from '../actors/state/idempotency';
import type { ClientAccess } from '../tools/client/access';

const silent = pino({ level: 'silent' });
/** Operations per macrotask: like requests arriving per socket read. */
const per_turn = 200;
/** Operations per probe: enough for a stable per-operation figure, few enough for the 5-minute bench. */
const actor_messages = 100_000;
const operations = 50_000;

/** Feeds `count` operations, `per_turn` per event-loop turn; resolves when all are done. */
export function pump(count: number, start: (i: number, done: () => void) => void): Promise<number> {
  return new Promise((resolve) => {
    const cpu = process.cpuUsage();
    let sent = 0;
    let finished = 0;
    const done = (): void => {
      finished += 1;
      if (finished === count) {
        const used = process.cpuUsage(cpu);
        resolve((used.user + used.system) / count);
      }
    };
    const turn = (): void => {
      for (let k = 0; k < per_turn && sent < count; k++, sent++) start(sent, done);
      if (sent < count) setImmediate(turn);
    };
    turn();
  });
}

async function actorMessage(): Promise<number> {
  const runtime = new ActorRuntime();
  let delivered = 0;
  let onAll: () => void = () => undefined;
  const actors = Array.from({ length: 1_000 }, (_, i) =>
    runtime.spawn(
      `m${i}`,
      {
        receive: (batch: number[]) => {
          delivered += batch.length;
          if (delivered === actor_messages) onAll();
        },
        fail: () => undefined,
      },
      { mailbox_max: 1_000, drain_batch_max: 512 },
    ),
  );
  const cpu = process.cpuUsage();
  await new Promise<void>((resolve) => {
    onAll = resolve;
    let sent = 0;
    const turn = (): void => {
      for (let k = 0; k < per_turn && sent < actor_messages; k++, sent++) actors[(sent * 7_919) % 1_000]?.tell(sent);
      if (sent < actor_messages) setImmediate(turn);
    };
    turn();
  });
  const used = process.cpuUsage(cpu);
  runtime.shutdown();
  return (used.user + used.system) / actor_messages;
}

/** Redis' own CPU seconds so far (user + system), from INFO cpu. */
export async function redisCpuSeconds(redisUrl: string): Promise<number> {
  const client = createClient({ url: redisUrl });
  await client.connect();
  try {
    const info = await client.info('cpu');
    const field = (name: string): number => Number(new RegExp(`${name}:([0-9.]+)`).exec(info)?.[1] ?? NaN);
    return field('used_cpu_user') + field('used_cpu_sys');
  } finally {
    await client.close();
  }
}

async function commitEntry(redisUrl: string): Promise<{ node_us: number; redis_us: number }> {
  const store = await RedisStore.connect(
    { target: singleRedis(redisUrl), command_timeout_ms: 5_000, reconnect_backoff_max_ms: 1_000 },
    () => undefined,
  );
  const shard_count = 256;
  const epochs = await store.takeShards(Array.from({ length: shard_count }, (_, i) => i));
  const committer = new Committer(
    store,
    { shardCount: shard_count, epochOf: (shard) => epochs.get(shard) },
    {
      batch_entries_max: 2_000,
      in_flight_max: 2,
      pending_entries_max: 1_000_000,
      idempotency_ttl_s: 3_600,
    },
    silent,
    new Metrics(),
  );
  const document = JSON.stringify({
    type: 'transaction',
    id: 'x',
    card: 'micro-card',
    amount: 250,
    currency: 'EUR',
    key: 't:micro:1',
    at: 0,
    padding: 'p'.repeat(350),
  });
  // The idempotency record a node writes for such a purchase: its answer, compact (actors/state/idempotency.ts).
  const record = encodeIdempotencyRecord({
    f: 'purchase|micro-card|250|EUR|micro-t1|pos|',
    r: {
      id: 'x',
      kind: 'purchase',
      outcome: 'approved',
      cardId: 'micro-card',
      amountMinor: 250,
      currency: 'EUR',
      balanceAfterMinor: 750,
      atMs: 1_764_800_000_000,
    },
    origin: { terminalId: 'micro-t1', merchantId: 'micro-m' },
  });
  const state = JSON.stringify({
    cardId: 'micro-card',
    currency: 'EUR',
    programId: 'p',
    status: 'active',
    balanceMinor: 1_000,
    heldMinor: 0,
    issuedAtMs: 1,
  });
  // Each card lives on one shard (its key includes the shard), so its versions chain; every entry
  // must commit, or this would measure refused entries instead.
  const versions = new Map<string, number>();
  let refused = 0;
  const redisBefore = await redisCpuSeconds(redisUrl);
  const perEntry = await pump(operations, (i, done) => {
    const cardNumber = i % 5_000;
    const card = `micro-c${cardNumber}`;
    const version = versions.get(card) ?? 0;
    versions.set(card, version + 1);
    committer.submit({
      shard: shardOf('card', card, shard_count),
      writes: [{ entity: { kind: 'card', id: card }, expectVersion: version, data: state }],
      idempotency: { key: `t:micro:${i}`, value: record },
      outbox: document,
      settle: (result) => {
        if (result.status !== 'committed') refused += 1;
        done();
      },
    });
  });
  if (refused > 0) throw new Error(`micro commit: ${refused} of ${operations} entries did not commit`);
  const redisSeconds = (await redisCpuSeconds(redisUrl)) - redisBefore;
  await store.close();
  return { node_us: perEntry, redis_us: (redisSeconds * 1e6) / operations };
}

/** A node in this process for a micro probe (the benchmark's dev credentials, silent), and a client's access to it. */
export async function startMicroNode(redisUrl: string, nodeId: string): Promise<{ node: AuthorizerNode; access: ClientAccess }> {
  const credentials = await benchCredentials();
  const node = await AuthorizerNode.start(
    loadConfig({
      TAPLINE_REDIS_URL: redisUrl,
      TAPLINE_GRPC_PORT: '0',
      TAPLINE_INTERNAL_PORT: '0',
      TAPLINE_METRICS_PORT: '-1',
      TAPLINE_LOG_LEVEL: 'silent',
      ...(await benchNodeEnv(credentials, nodeId)),
    }),
    silent,
  );
  return { node, access: accessToNode(credentials, node) };
}

/** Registers 64 terminals `<terminalPrefix>0..63` of merchant micro-m and issues `cards` cards `micro-card<n>` (program micro). */
export async function seedMicroCards(access: ClientAccess, terminalPrefix: string, cards: number, parallel: number): Promise<void> {
  const admin = new TaplineClient(access);
  try {
    for (let t = 0; t < 64; t++) await admin.registerTerminal(`${terminalPrefix}${t}`, 'micro-m');
    for (let s = 0; s < cards; s += parallel)
      await Promise.all(
        Array.from({ length: Math.min(parallel, cards - s) }, (_, k) =>
          admin.issueCard(`micro-card${s + k}`, 1_000_000_000_000, 'EUR', 'micro'),
        ),
      );
  } finally {
    admin.close();
  }
}

async function domainAuthorization(redisUrl: string): Promise<number> {
  const { node, access } = await startMicroNode(redisUrl, 'micro');
  await seedMicroCards(access, 'micro-t', 5_000, 250);
  const perAuthorization = await pump(operations, (i, done) => {
    const request = parseAuthorize(purchase(`micro-t${i % 64}`, i + 1, `micro-card${(i * 7_919) % 5_000}`, 1 + (i % 500)));
    node.region.money(request, (outcome) => {
      if (outcome.ok) toAuthorizeResponse(outcome.value);
      done();
    });
  });
  await node.shutdown();
  return perAuthorization;
}

async function main(): Promise<void> {
  const redisUrl = process.argv[2];
  if (redisUrl === undefined) throw new Error('usage: micro.js <redis url> [commit]');
  if (process.argv[3] === 'commit') {
    // Only the commit probe: a quick measure while working on the store (BENCH_PHASES=redis).
    const commit = await commitEntry(redisUrl);
    process.stdout.write(
      JSON.stringify({ commit_us_per_entry: round(commit.node_us, 2), redis_us_per_commit_entry: round(commit.redis_us, 2) }) + '\n',
    );
    process.exit(0);
  }
  const actor_us_per_message = round(await actorMessage(), 2);
  const commit = await commitEntry(redisUrl);
  const commit_us_per_entry = round(commit.node_us, 2);
  const redis_us_per_commit_entry = round(commit.redis_us, 2);
  const domain_us_per_authorization = round(await domainAuthorization(redisUrl), 2);
  process.stdout.write(
    JSON.stringify({ actor_us_per_message, commit_us_per_entry, redis_us_per_commit_entry, domain_us_per_authorization }) + '\n',
  );
  process.exit(0);
}

// Run as a script by the bench; imported for pump() by the other micro probes.
if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(`micro failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  });
}
