// Proves that losing a Redis primary loses no acknowledged approval, with real processes under
// continuous load from many clients: a node process, a streamer process into ClickHouse 18.16 and
// the reports service, all reaching Redis through Sentinel or Redis Cluster, commits acknowledged
// only once a replica has them (WAIT 1).
//  1. Sentinel: the replica falls behind (SIGSTOP), SIGKILL of the primary, the replica resumes;
//     the Sentinels promote it; the killed server comes back as its replica. Without WAIT the
//     writes acknowledged while the replica lagged would be lost with the primary.
//  2. Sentinel: SIGSTOP of the primary past the failover (a partitioned old primary), then SIGCONT:
//     every write sent to it is refused until the Sentinels have made it a replica.
//  3. Redis Cluster (3 primaries, 1 replica each): a primary's replica lags, SIGKILL of the
//     primary; its replica takes its slots. Meanwhile the cards of the other primaries are served
//     (the node loses the leases of the failing primary's shards only).
// Afterwards, clients retry every request whose answer they did not get, with the same key.
// Checks: every approval a client received is in Redis (the request's record names the transaction
// the client saw); every retry got the original answer; each card's balance is its initial balance
// minus the approvals the clients saw (no money spent twice, none lost); every answered request is
// in ClickHouse exactly once; the reports service's reconciliation finds 0 differences.

import assert from 'node:assert/strict';
import { createClient } from 'redis';
import { startClickHouse, queryClickHouse, type ClickHouseInstance } from '../../tools/devenv/clickhouse';
import { startServerProcess, type ServerProcess } from '../../tools/devenv/node-process';
import { askRedis, type RedisClusterSet, type SentinelSet } from '../../tools/devenv/redis-ha';
import type { RedisInstance } from '../../tools/devenv/redis';
import { pickFreePort } from '../../tools/devenv/supervise';
import { TaplineClient } from '../../tools/client/tapline-client';
import { Outcome } from '../../gen/tapline/v1/types';
import { redisTargetFromEnv } from '../../services/common/redis-target';
import { shardKeys, shardLeaseKey } from '../../services/authorizer/store/keys';
import { shardOf } from '../../actors/sharding/shard-key';
import {
  accessTo,
  clusterEnv,
  endpointsOf,
  reportsProcessEnv,
  reportsRequest,
  sentinelEnv,
  startNodeProcess,
  startTestRedisCluster,
  startTestSentinelSet,
  testDataDir,
  test_shard_count,
  waitFor,
} from '../support/harness';
import { streamerEnv } from '../support/outbox-fixtures';
import { connectAuditor } from '../support/redis-audit';
import { LoadRun } from '../support/load';

const card_count = 40;
const initial_balance_minor = 20_000;

/** More than the loopback socket buffers between a primary and its replica hold (32 MB + 4 MB here). */
const replication_filler_bytes = 48 * 1024 * 1024;

/** A key of the slot range `server` serves (any key outside a cluster). */
async function keyServedBy(server: RedisInstance, cluster: boolean): Promise<string> {
  if (!cluster) return 'failover-filler';
  const mine = (await askRedis<[number, number, [string, number]][]>(server.port, ['CLUSTER', 'SLOTS'])).filter(
    ([, , [, port]]) => Number(port) === server.port,
  );
  for (let n = 0; ; n++) {
    const slot = Number(await askRedis(server.port, ['CLUSTER', 'KEYSLOT', `failover-filler-${n}`]));
    if (mine.some(([from, to]) => slot >= from && slot <= to)) return `failover-filler-${n}`;
  }
}

/** The cards whose shard lives on a slot `server` serves (a Redis Cluster primary). */
async function cardsServedBy(server: RedisInstance, cards: readonly string[]): Promise<Set<string>> {
  const ranges = (await askRedis<[number, number, [string, number]][]>(server.port, ['CLUSTER', 'SLOTS'])).filter(
    ([, , [, port]]) => Number(port) === server.port,
  );
  const served = new Set<string>();
  for (const cardId of cards) {
    const key = shardKeys(shardOf('card', cardId, test_shard_count)).epoch;
    const slot = Number(await askRedis(server.port, ['CLUSTER', 'KEYSLOT', key]));
    if (ranges.some(([from, to]) => slot >= from && slot <= to)) served.add(cardId);
  }
  return served;
}

/** Requests answered so far for the cards of `cards`. */
function answeredFor(load: LoadRun, cards: ReadonlySet<string>): number {
  let count = 0;
  for (const entry of load.sent.values()) if (entry.replies.length > 0 && cards.has(entry.cardId)) count += 1;
  return count;
}

/**
 * Pauses `replica`, fills the replication link past what the kernel buffers for it (so what the
 * primary writes next stays in the primary's memory), lets the load send another 200 requests,
 * kills `primary` (SIGKILL) and resumes the replica: it never gets what the primary acknowledged
 * meanwhile, unless every acknowledgement waited for it. With `elsewhere` (Redis Cluster: the cards
 * of the other primaries, and the lease key of a shard of this one), once the node's lease of that
 * shard has lapsed 100 more requests for those cards must be answered first: losing the leases of
 * this primary's shards costs the node those shards only.
 */
async function killWhileReplicaLags(
  primary: RedisInstance,
  replica: RedisInstance,
  load: LoadRun,
  cluster: boolean,
  elsewhere?: { readonly cards: ReadonlySet<string>; readonly leaseKey: string },
): Promise<void> {
  const filler = await keyServedBy(primary, cluster);
  const writer = createClient({ socket: { host: '127.0.0.1', port: primary.port } });
  writer.on('error', () => undefined);
  await writer.connect();
  replica.pause();
  try {
    // One write: one fsync, well within the primary's min-replicas-max-lag.
    await writer.sendCommand(['SET', filler, 'x'.repeat(replication_filler_bytes)]);
    writer.destroy();
    const sent = load.sent.size;
    await waitFor(
      'requests sent while the replica lags',
      () => load.sent.size >= sent + 200,
      () => `${load.sent.size - sent} sent`,
      30_000,
    );
    if (elsewhere !== undefined) {
      let ttl = 0;
      await waitFor(
        "the node's lease of a shard of the lagging primary lapses (renewals refused)",
        async () => (ttl = await askRedis<number>(primary.port, ['PTTL', elsewhere.leaseKey])) === -2,
        () => `lease PTTL ${ttl} ms`,
        30_000,
      );
      const before = answeredFor(load, elsewhere.cards);
      await waitFor(
        "after that, the other primaries' cards are still served",
        () => answeredFor(load, elsewhere.cards) >= before + 100,
        () => `${answeredFor(load, elsewhere.cards) - before} answered for them`,
        30_000,
      );
    }
    await primary.kill9();
  } finally {
    replica.resume();
  }
}

/** Short leases and bounds: a node notices a lost primary within a second, re-takes its shards soon after. */
const fast_failover_env = {
  TAPLINE_REDIS_COMMAND_TIMEOUT_MS: '1000',
  TAPLINE_REDIS_WAIT_TIMEOUT_MS: '300',
  TAPLINE_REDIS_RECONNECT_BACKOFF_MAX_MS: '200',
  TAPLINE_SHARD_LEASE_MS: '2000',
  TAPLINE_CLUSTER_TICK_MS: '250',
  TAPLINE_MEMBER_TTL_MS: '2000',
};

async function getJson(port: number, path: string): Promise<Record<string, unknown>> {
  const reply = await reportsRequest(port, path);
  assert.equal(reply.status, 200, `${path} answered ${reply.status}: ${reply.body}`);
  return JSON.parse(reply.body) as Record<string, unknown>;
}

describe('Redis primary lost under load: no acknowledged approval lost (Sentinel, Cluster; real processes)', function () {
  this.timeout(300_000);
  let clickhouse: ClickHouseInstance;
  const processes: ServerProcess[] = [];
  let stopRedis: (() => Promise<void>) | undefined;

  before(async function () {
    clickhouse = await startClickHouse({ dataDir: testDataDir('failover-clickhouse') });
  });

  afterEach(async function () {
    for (const child of processes.splice(0)) await child.kill9();
    await stopRedis?.();
    stopRedis = undefined;
  });

  after(async function () {
    await clickhouse?.stop();
  });

  /**
   * Starts a node, a streamer and load on the deployment `env` names; runs `fault` once `before`
   * requests were answered; checks everything once the load has gone on past the fault.
   */
  async function underLoadThrough(
    name: string,
    env: Record<string, string>,
    fault: (load: LoadRun, cards: readonly string[]) => Promise<void>,
  ): Promise<void> {
    const database = `failover_${name.replace(/-/g, '_')}`;
    const node = await startNodeProcess('redis://127.0.0.1:1', { ...env, ...fast_failover_env, TAPLINE_NODE_ID: `${name}-node` });
    processes.push(node);
    processes.push(
      await startServerProcess({
        script: 'dist/services/streamer/main.js',
        env: streamerEnv('redis://127.0.0.1:1', clickhouse.url, database, {
          ...env,
          TAPLINE_REDIS_COMMAND_TIMEOUT_MS: '1000',
          TAPLINE_NODE_ID: name,
        }),
      }),
    );
    const client = new TaplineClient(await accessTo(node));
    await client.registerTerminal(`${name}-pos`, `${name}-merchant`);
    const cards = Array.from({ length: card_count }, (_, i) => `${name}-${i}`);
    await Promise.all(cards.map((id) => client.issueCard(id, initial_balance_minor, 'EUR', `${name}-event`)));
    const load = new LoadRun({
      terminalId: `${name}-pos`,
      cards,
      concurrency: 32,
      requests_max: 60_000,
      amountOf: (n) => 1 + ((n * 7_919) % 400),
      cardOf: (n) => (n * 31) % card_count,
      deadline_ms: 5_000,
    });
    load.start(() => client);
    await waitFor(
      `${name}: load before the fault`,
      () => load.answered >= 600,
      () => `${load.answered} answered`,
      60_000,
    );
    const acknowledgedBefore = load.answered;
    await fault(load, cards);
    // The system serves again: the load goes on past the fault.
    await waitFor(
      `${name}: load after the fault`,
      () => load.answered >= acknowledgedBefore + 600,
      () => `${load.answered} answered, ${acknowledgedBefore} before the fault`,
      60_000,
    );
    await load.stop();
    await load.settleUnknown(client, 10);
    client.close();
    const failed = [...load.sent.values()].reduce((sum, entry) => sum + entry.errors, 0);
    process.stdout.write(
      `      (${load.sent.size} requests, ${acknowledgedBefore} answered before the fault, ${failed} failed attempts retried)\n`,
    );
    await verifyRedis(env, load, cards);
    await verifyDownstream(name, env, database, node, load);
  }

  /** Every answer the clients saw is what Redis holds; balances move by exactly the approvals seen. */
  async function verifyRedis(env: Record<string, string>, load: LoadRun, cards: readonly string[]): Promise<void> {
    const auditor = await connectAuditor(redisTargetFromEnv(env));
    try {
      let approvals = 0;
      for (const entry of load.sent.values()) {
        const [first, ...retries] = entry.replies;
        assert.ok(first, `request ${entry.key} was answered`);
        for (const retry of retries) {
          assert.equal(retry.transactionId, first.transactionId, `retry of ${entry.key} returns the original transaction`);
          assert.equal(retry.outcome, first.outcome, `retry of ${entry.key} returns the original outcome`);
        }
        const stored = await auditor.idempotency(entry.key);
        assert.equal(stored?.id, first.transactionId, `the record of ${entry.key} holds the answer the client saw`);
        if (first.outcome === Outcome.OUTCOME_APPROVED) approvals += 1;
      }
      assert.ok(approvals > 0, 'the load produced approvals');
      const approved = load.approvedByCard();
      for (const cardId of cards) {
        const card = await auditor.card(cardId);
        assert.ok(card, `card ${cardId} exists`);
        assert.ok(card.balanceMinor >= 0, `card ${cardId} balance ${card.balanceMinor} is not negative`);
        assert.equal(initial_balance_minor - card.balanceMinor, approved.get(cardId) ?? 0, `card ${cardId} moved exactly its approvals`);
      }
    } finally {
      await auditor.close();
    }
  }

  /** Every answered request is in ClickHouse once, and reconciliation against the stored balances finds no difference. */
  async function verifyDownstream(
    name: string,
    env: Record<string, string>,
    database: string,
    node: ServerProcess,
    load: LoadRun,
  ): Promise<void> {
    const auditor = await connectAuditor(redisTargetFromEnv(env));
    try {
      await waitFor(
        'outbox drained into ClickHouse',
        async () => (await auditor.outboxBacklog()) === 0,
        () => 'outbox not empty',
        90_000,
      );
    } finally {
      await auditor.close();
    }
    const lines = (
      await queryClickHouse(
        clickhouse.url,
        `SELECT idempotency_key, count() FROM ${database}.transactions_dedup GROUP BY idempotency_key FORMAT TSV`,
      )
    )
      .trim()
      .split('\n')
      .filter((line) => line !== '');
    const counted = new Map(lines.map((line) => line.split('\t') as [string, string]));
    for (const entry of load.sent.values()) assert.equal(counted.get(entry.key), '1', `${entry.key} is in ClickHouse once`);
    assert.equal(counted.size, load.sent.size, 'nothing in ClickHouse that no client was answered');
    const port = await pickFreePort();
    processes.push(
      await startServerProcess({
        script: 'dist/services/reports/main.js',
        env: {
          ...env,
          TAPLINE_REDIS_URL: 'redis://127.0.0.1:1',
          TAPLINE_CLICKHOUSE_URL: clickhouse.url,
          TAPLINE_CLICKHOUSE_DATABASE: database,
          ...(await reportsProcessEnv(endpointsOf(node).operator)),
          TAPLINE_REPORTS_PORT: String(port),
          TAPLINE_LOG_LEVEL: 'warn',
        },
      }),
    );
    const reconciliation = await getJson(port, '/reports/reconciliation');
    assert.deepEqual(
      reconciliation['summary'],
      { cards_checked: card_count, differences: 0, fleet_accounts_checked: 0 },
      `${name}: reconciliation of ClickHouse against the stored balances`,
    );
  }

  it('Sentinel, SIGKILL of the primary: the replica is promoted, every approval survives, ClickHouse reconciles', async function () {
    const set: SentinelSet = await startTestSentinelSet('failover-kill');
    stopRedis = () => set.stop();
    await underLoadThrough('sentinel-kill', sentinelEnv(set), async (load) => {
      const old = await set.primary();
      const replica = set.servers.find((server) => server !== old) as RedisInstance;
      // The replica falls behind (paused, it takes nothing from its primary) and the primary dies
      // before it catches up: the failover promotes a replica that missed those writes.
      await killWhileReplicaLags(old, replica, load, false);
      await set.waitForFailover(old, 30_000);
      // With one replica the promoted primary refuses writes until it has a replica again: the
      // killed server comes back as one, asking the Sentinels for the primary as a restarted pod's
      // start-up does (Sentinel itself would demote it only on its next 10 s INFO round).
      await set.rejoinAsReplica(old);
      await set.waitForReplicas(1, 30_000);
    });
  });

  it('Sentinel, SIGSTOP of the primary past the failover, then SIGCONT: the old primary accepts nothing', async function () {
    const set: SentinelSet = await startTestSentinelSet('failover-pause');
    stopRedis = () => set.stop();
    await underLoadThrough('sentinel-pause', sentinelEnv(set), async () => {
      const old: RedisInstance = await set.primary();
      old.pause();
      await set.waitForFailover(old, 30_000);
      old.resume();
      let refused = 0;
      const accepted: string[] = [];
      let role = 'master';
      await waitFor(
        'the old primary becomes a replica of the new one',
        async () => {
          try {
            await askRedis(old.port, ['SET', `tl:probe:${refused + accepted.length}`, 'x'], 1_000);
            accepted.push(role);
          } catch {
            refused += 1;
          }
          role = String((await askRedis<unknown[]>(old.port, ['ROLE'], 1_000).catch(() => ['unknown']))[0]);
          return role === 'slave';
        },
        () => `role ${role}, ${refused} writes refused, ${accepted.length} accepted`,
        30_000,
        20,
      );
      assert.deepEqual(accepted, [], 'the old primary accepted no write after it came back');
      assert.ok(refused > 0, 'writes were tried on the old primary while it still believed it was primary');
      await set.waitForReplicas(1, 30_000);
    });
  });

  it('Redis Cluster, SIGKILL of a primary: its replica takes its slots, every approval survives, ClickHouse reconciles', async function () {
    const cluster: RedisClusterSet = await startTestRedisCluster('failover-cluster');
    stopRedis = () => cluster.stop();
    await underLoadThrough('cluster-kill', clusterEnv(cluster), async (load, cards) => {
      const victim = await cluster.primaryOfSlot(0);
      const onVictim = [...(await cardsServedBy(victim, cards))];
      const elsewhere = new Set(cards.filter((cardId) => !onVictim.includes(cardId)));
      assert.ok(onVictim[0] !== undefined && elsewhere.size > 0, 'cards on the victim and on the other primaries');
      const leaseKey = shardLeaseKey(shardOf('card', onVictim[0], test_shard_count));
      // Servers 3.. replicate servers 0.. in order (startRedisCluster): server 3 is the victim's replica.
      const replica = cluster.servers[cluster.servers.indexOf(victim) + 3] as RedisInstance;
      await killWhileReplicaLags(victim, replica, load, true, { cards: elsewhere, leaseKey });
      await waitFor(
        'a replica serves slot 0',
        async () => (await cluster.primaryOfSlot(0).catch(() => victim)) !== victim,
        () => `slot 0 still on port ${victim.port}`,
        30_000,
      );
      await victim.restart();
      await cluster.waitHealthy(1, 30_000);
    });
  });
});
