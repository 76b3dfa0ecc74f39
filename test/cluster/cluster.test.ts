// Proves that a cluster of real authorizer processes on one Redis keeps money exact while its
// membership changes under continuous load from many clients that send each request to a random
// node: a node joins, one leaves gracefully (SIGTERM), one is killed (SIGKILL), and one is paused
// (SIGSTOP) past its shard leases and resumed (SIGCONT) — the stale-owner case, where only the
// epoch check in Redis stops it from writing. After each step every request whose outcome a
// client did not learn is retried (same key) and the test checks: every approval a client saw is
// in Redis exactly once (idempotency record + one outbox entry); a retry returns the original
// answer; every reply matches its request (card, amount, key); no balance a client saw and no
// balance in Redis is below zero; the approved amounts a client saw equal each card's balance
// movement in Redis. It prints the per-shard unavailability seen by callers in each step.

import assert from 'node:assert/strict';
import type { RedisInstance } from '../../tools/devenv/redis';
import type { ServerProcess } from '../../tools/devenv/node-process';
import { TaplineClient, purchase } from '../../tools/client/tapline-client';
import { Outcome } from '../../gen/tapline/v1/types';
import type { AuthorizeRequest, AuthorizeResponse } from '../../gen/tapline/v1/authorization';
import { shardOf } from '../../actors/sharding/shard-key';
import { shardLeaseKey } from '../../services/authorizer/store/keys';
import { startNodeProcess, startTestRedis, test_shard_count, waitFor, accessTo } from '../support/harness';
import { connectInspector } from '../support/redis-inspect';
import { seededRandom } from '../../tools/seeded-random';

const card_count = 120;
const initial_balance_minor = 50_000;
const terminal_id = 'cluster-pos';
/** Fast cluster timings so lease expiry fits a test; the relations match the defaults'. */
const cluster_env = {
  TAPLINE_CLUSTER_TICK_MS: '100',
  TAPLINE_MEMBER_TTL_MS: '1000',
  TAPLINE_SHARD_LEASE_MS: '1000',
  TAPLINE_REDIS_COMMAND_TIMEOUT_MS: '800',
  TAPLINE_ROUTE_WAIT_MAX_MS: '8000',
  TAPLINE_SHUTDOWN_GRACE_MS: '5000',
  TAPLINE_LOG_LEVEL: 'warn',
};

interface Sent {
  readonly key: string;
  readonly cardId: string;
  readonly amountMinor: number;
  readonly request: AuthorizeRequest;
  readonly replies: AuthorizeResponse[];
  errors: number;
  /** Longest time a caller waited for this request's answer (ms). */
  waitedMs: number;
}

/** Clients that pick a random live node for each request (seeded: the seed is printed). */
class ClusterLoad {
  readonly sent: Sent[] = [];
  private stopped = false;
  private running: Promise<void> | undefined;
  private next = 0;
  readonly random: () => number;

  constructor(
    private readonly cards: string[],
    private readonly clients: () => TaplineClient[],
    seed: number,
  ) {
    this.random = seededRandom(seed);
  }

  start(concurrency: number): void {
    this.stopped = false;
    this.running = Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (!this.stopped) {
          const n = this.next++;
          const cardId = this.cards[Math.floor(this.random() * this.cards.length)] as string;
          const amountMinor = 1 + Math.floor(this.random() * 900);
          const entry: Sent = {
            key: `t:${terminal_id}:${n + 1}`,
            cardId,
            amountMinor,
            request: purchase(terminal_id, n + 1, cardId, amountMinor),
            replies: [],
            errors: 0,
            waitedMs: 0,
          };
          this.sent.push(entry);
          await this.send(entry);
        }
      }),
    ).then(() => undefined);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.running;
  }

  get answered(): number {
    return this.sent.filter((e) => e.replies.length > 0).length;
  }

  async send(entry: Sent): Promise<void> {
    const clients = this.clients();
    const client = clients[Math.floor(this.random() * clients.length)];
    if (client === undefined) throw new Error('load: no live node to send to');
    const startedMs = Date.now();
    try {
      entry.replies.push(await client.authorize(entry.request, 10_000));
    } catch {
      entry.errors += 1;
    }
    entry.waitedMs = Math.max(entry.waitedMs, Date.now() - startedMs);
  }

  async settleUnknown(rounds_max: number): Promise<void> {
    for (let round = 0; round < rounds_max; round++) {
      const unknown = this.sent.filter((e) => e.replies.length === 0);
      if (unknown.length === 0) return;
      await Promise.all(unknown.map((entry) => this.send(entry)));
    }
    const left = this.sent.filter((e) => e.replies.length === 0).length;
    assert.equal(left, 0, `settle: ${left} requests still without an answer after ${rounds_max} rounds`);
  }
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

/** Per shard, the longest wait of any request on it since `from` (index in load.sent). */
function unavailability(load: ClusterLoad, from: number): { p50: number; p99: number; max: number } {
  const worst = new Map<number, number>();
  for (const entry of load.sent.slice(from)) {
    const shard = shardOf('card', entry.cardId, test_shard_count);
    worst.set(shard, Math.max(worst.get(shard) ?? 0, entry.waitedMs));
  }
  const sorted = [...worst.values()].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted[sorted.length - 1] ?? 0 };
}

async function verify(redisUrl: string, load: ClusterLoad, cards: string[]): Promise<void> {
  const inspect = await connectInspector(redisUrl);
  try {
    const outboxCount = new Map<string, number>();
    for (const record of await inspect.outbox()) {
      if (record['type'] === 'transaction') outboxCount.set(String(record['key']), (outboxCount.get(String(record['key'])) ?? 0) + 1);
    }
    const approvedByCard = new Map<string, number>();
    for (const entry of load.sent) {
      const [first, ...retries] = entry.replies;
      assert.ok(first, `request ${entry.key} was answered`);
      for (const retry of retries) {
        assert.equal(retry.transactionId, first.transactionId, `retry of ${entry.key} returns the original transaction`);
        assert.equal(retry.outcome, first.outcome, `retry of ${entry.key} returns the original outcome`);
      }
      const stored = await inspect.idempotency(entry.key);
      assert.ok(stored, `request ${entry.key} is recorded`);
      assert.equal(stored.id, first.transactionId, `the reply to ${entry.key} is the one recorded for it`);
      assert.equal(stored.card, entry.cardId, `the record of ${entry.key} is for its card`);
      assert.equal(outboxCount.get(entry.key), 1, `request ${entry.key} is in the outbox exactly once`);
      if (first.outcome === Outcome.OUTCOME_APPROVED) {
        assert.equal(first.approvedAmount?.amountMinor, BigInt(entry.amountMinor), `the approval of ${entry.key} is for its amount`);
        approvedByCard.set(entry.cardId, (approvedByCard.get(entry.cardId) ?? 0) + entry.amountMinor);
      }
      for (const reply of entry.replies) {
        assert.ok((reply.balanceAfter?.amountMinor ?? 0n) >= 0n, `balance seen by the client of ${entry.key} is not negative`);
      }
    }
    let approvedTotal = 0;
    let movedTotal = 0;
    for (const cardId of cards) {
      const card = await inspect.card(cardId);
      assert.ok(card, `card ${cardId} exists`);
      assert.ok(card.balanceMinor >= 0, `card ${cardId} balance ${card.balanceMinor} is not negative`);
      const approved = approvedByCard.get(cardId) ?? 0;
      assert.equal(initial_balance_minor - card.balanceMinor, approved, `card ${cardId} moved exactly its approvals`);
      approvedTotal += approved;
      movedTotal += initial_balance_minor - card.balanceMinor;
    }
    assert.equal(approvedTotal, movedTotal, 'total approved equals total balance movement');
    assert.ok(approvedTotal > 0, 'the load produced approvals');
  } finally {
    await inspect.close();
  }
}

describe('a 3-node cluster under load (real processes: join, SIGTERM, SIGKILL, SIGSTOP/SIGCONT)', function () {
  this.timeout(300_000);
  let redis: RedisInstance | undefined;
  const nodes = new Map<string, ServerProcess>();
  const clients = new Map<string, TaplineClient>();

  async function startNode(nodeId: string): Promise<void> {
    const node = await startNodeProcess((redis as RedisInstance).url, { ...cluster_env, TAPLINE_NODE_ID: nodeId });
    // A node dying on its own is a failure of this test: say which and why.
    node.child.stderr?.on('data', (chunk: Buffer) => process.stderr.write(`[${nodeId} stderr] ${chunk.toString()}`));
    node.child.stdout?.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n'))
        if (line.includes('"level":50') || line.includes('"level":60')) process.stderr.write(`[${nodeId}] ${line}\n`);
    });
    nodes.set(nodeId, node);
    clients.set(nodeId, new TaplineClient(await accessTo(node)));
  }

  function forget(nodeId: string): void {
    clients.get(nodeId)?.close();
    clients.delete(nodeId);
    nodes.delete(nodeId);
  }

  let stopLoad: () => Promise<void> = () => Promise.resolve();

  after(async function () {
    // Stop the load first (a failed step leaves it running) so nothing sends to closed clients.
    await stopLoad().catch(() => undefined);
    for (const client of clients.values()) client.close();
    for (const node of nodes.values()) {
      try {
        process.kill(node.pid, 'SIGCONT');
      } catch {
        // already gone
      }
      await node.kill9();
    }
    await redis?.stop();
  });

  it('keeps every approval, spends nothing twice and answers every request through membership changes', async function () {
    const seed = Number(process.env['TAPLINE_TEST_SEED'] ?? Date.now() % 1_000_000);
    process.stdout.write(`      (seed ${seed}; replay with TAPLINE_TEST_SEED=${seed})\n`);
    redis = await startTestRedis('cluster');
    for (const id of ['n1', 'n2', 'n3']) await startNode(id);
    const admin = clients.get('n1') as TaplineClient;
    await admin.registerTerminal(terminal_id, 'cluster-merchant');
    const cards = Array.from({ length: card_count }, (_, i) => `cl-${i}`);
    await Promise.all(cards.map((id) => admin.issueCard(id, initial_balance_minor)));

    const load = new ClusterLoad(cards, () => [...clients.values()], seed);
    stopLoad = () => load.stop();
    load.start(48);
    const report: string[] = [];
    const step = async (name: string, action: () => Promise<void>): Promise<void> => {
      const from = load.sent.length;
      const before = load.answered;
      await action();
      await waitFor(
        `${name}: load goes on after the step`,
        () => load.answered >= before + 1_500,
        () => `${load.answered - before} answered since the step`,
        60_000,
      );
      const u = unavailability(load, from);
      report.push(`${name}: per-shard wait p50 ${u.p50} ms, p99 ${u.p99} ms, max ${u.max} ms`);
    };

    await step('steady (3 nodes)', () => Promise.resolve());
    await step('join n4', () => startNode('n4'));
    await step('graceful leave n2 (SIGTERM)', async () => {
      const node = nodes.get('n2') as ServerProcess;
      forget('n2');
      assert.equal(await node.terminate(), 0, 'n2 exits cleanly after handing off');
    });
    await step('kill -9 n3', async () => {
      const node = nodes.get('n3') as ServerProcess;
      forget('n3');
      await node.kill9();
    });
    await step('SIGSTOP n1 past its leases, SIGCONT', async () => {
      const node = nodes.get('n1') as ServerProcess;
      const inspect = await connectInspector((redis as RedisInstance).url);
      const leasedTo = async (nodeId: string): Promise<number> => {
        const leases = await Promise.all(Array.from({ length: test_shard_count }, (_, shard) => inspect.client.get(shardLeaseKey(shard))));
        return leases.filter((lease) => lease?.startsWith(`${nodeId}|`)).length;
      };
      try {
        assert.ok((await leasedTo('n1')) > 0, 'n1 holds shards before the pause');
        process.kill(node.pid, 'SIGSTOP');
        // Paused past its leases: the others take every shard of n1 while it still believes it holds them.
        await waitFor(
          "SIGSTOP: other nodes take the paused node's shards",
          async () => (await leasedTo('n1')) === 0,
          () => 'n1 still leases shards',
          20_000,
        );
      } finally {
        process.kill(node.pid, 'SIGCONT');
        await inspect.close();
      }
    });
    await load.stop();
    await load.settleUnknown(10);
    for (const line of report) process.stdout.write(`      ${line}\n`);
    process.stdout.write(`      (${load.sent.length} requests, ${load.sent.filter((e) => e.errors > 0).length} retried after an error)\n`);
    await verify(redis.url, load, cards);
  });
});
