// Proves request routing between authorizer nodes (in-process nodes on one real Redis, real gRPC
// over loopback): a call sent to a node that does not own the card runs on the owner and gets the
// owner's answer (same transaction, same balance), a retry through the other node returns the
// original answer; AuthorizeStream items for cards of another node are answered too; bad input is
// refused with the same status through a forward and changes nothing; a terminal owned by another
// node is checked from Redis and a disable is seen within the cache bound; a forwarded call carries
// the client's deadline (a peer that never answers gets the remaining budget and the client gets
// DEADLINE_EXCEEDED at its deadline); and a stale owner is fenced: when another holder takes the
// shards, the node's commit is refused by Redis itself, the node drops the shard, and the call is
// retried with the same key once the node owns the shard again, moving the money once. A peer
// link closed while calls wait to be flushed fails them as retryable instead of crashing the node.

import { singleRedis } from '../../services/common/redis-target';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { reader_terminal } from '../../tools/client/access';
import type { AuthorizerNode } from '../../services/authorizer/node';
import type { RedisInstance } from '../../tools/devenv/redis';
import { TaplineClient, purchase } from '../../tools/client/tapline-client';
import { Outcome } from '../../gen/tapline/v1/types';
import { ClusterServiceService, type ForwardRequest, type ForwardResponse } from '../../gen/tapline/internal/v1/cluster';
import { AuthorizationServiceService, type AuthorizeStreamResponse } from '../../gen/tapline/v1/authorization';
import { placementOf } from '../../actors/sharding/allocation';
import { shardOf, type PlacedKind } from '../../actors/sharding/shard-key';
import { ClusterStore } from '../../services/authorizer/store/cluster-store';
import { Peers, type ForwardOutcome } from '../../services/authorizer/cluster/peers';
import { pino } from 'pino';
import { startInProcessNode, startTestRedis, test_shard_count, waitFor, accessTo, testCredentials } from '../support/harness';
import { connectInspector } from '../support/redis-inspect';

const fast_cluster = {
  TAPLINE_CLUSTER_TICK_MS: '50',
  TAPLINE_MEMBER_TTL_MS: '500',
  TAPLINE_SHARD_LEASE_MS: '500',
  TAPLINE_REDIS_COMMAND_TIMEOUT_MS: '400',
  TAPLINE_TERMINAL_CACHE_MS: '200',
  TAPLINE_ROUTE_WAIT_MAX_MS: '5000',
};

/** The value of a counter or gauge of a node's /metrics, for one label set (0 when absent). */
async function metricValue(node: AuthorizerNode, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = node.metrics.registry.getSingleMetric(name);
  if (metric === undefined) return 0;
  const { values } = await metric.get();
  const match = values.find((v) => Object.entries(labels).every(([key, value]) => v.labels[key] === value));
  return match?.value ?? 0;
}

/** The first id `prefix-<n>` of an entity of `kind` whose shard the given member owns among `members`. */
function idOwnedBy(member: string, members: string[], kind: PlacedKind, prefix: string): string {
  const owners = placementOf(test_shard_count, members);
  for (let n = 0; ; n++) if (owners[shardOf(kind, `${prefix}-${n}`, test_shard_count)] === member) return `${prefix}-${n}`;
}

describe('cluster routing between nodes (in-process nodes, real gRPC and Redis)', function () {
  this.timeout(60_000);
  let redis: RedisInstance;
  let a: AuthorizerNode;
  let b: AuthorizerNode;
  let viaA: TaplineClient;
  let viaB: TaplineClient;

  before(async function () {
    redis = await startTestRedis('cluster-routing');
    a = await startInProcessNode(redis.url, { ...fast_cluster, TAPLINE_NODE_ID: 'A' });
    b = await startInProcessNode(redis.url, { ...fast_cluster, TAPLINE_NODE_ID: 'B' });
    await waitFor(
      'two members hold their shards',
      () =>
        a.coordinator.memberIds.length === 2 &&
        b.coordinator.memberIds.length === 2 &&
        a.coordinator.heldCount + b.coordinator.heldCount === test_shard_count &&
        b.coordinator.heldCount > 0,
      () => `A holds ${a.coordinator.heldCount}, B holds ${b.coordinator.heldCount}`,
      10_000,
    );
    viaA = new TaplineClient(await accessTo(a));
    viaB = new TaplineClient(await accessTo(b));
  });

  after(async function () {
    viaA.close();
    viaB.close();
    await a.shutdown();
    await b.shutdown();
    await redis.stop();
  });

  it('a call to a node that does not own the card runs on the owner; a retry elsewhere gets the original', async () => {
    const cardOfB = idOwnedBy('B', ['A', 'B'], 'card', 'fwd-card');
    const terminalOfA = idOwnedBy('A', ['A', 'B'], 'terminal', 'fwd-till');
    await viaA.registerTerminal(terminalOfA, 'm-1');
    await viaA.issueCard(cardOfB, 10_000);
    const request = purchase(terminalOfA, 1, cardOfB, 2_500);
    const first = await viaA.authorize(request);
    assert.equal(first.outcome, Outcome.OUTCOME_APPROVED);
    assert.equal(first.balanceAfter?.amountMinor, 7_500n);
    const retry = await viaB.authorize(request);
    assert.equal(retry.transactionId, first.transactionId, 'the retry on the owner returns the original transaction');
    assert.equal(retry.replayed, true);
    const [balanceA, balanceB] = await Promise.all([viaA.balance(cardOfB), viaB.balance(cardOfB)]);
    assert.equal(balanceA.balance?.amountMinor, 7_500n);
    assert.deepEqual(balanceA, balanceB, "both nodes answer with the owner's balance");
    assert.ok((await metricValue(a, 'tapline_cluster_forwarded_total', { result: 'ok' })) >= 3, 'A counted its forwarded calls');
    const held = (await metricValue(a, 'tapline_cluster_shards_held')) + (await metricValue(b, 'tapline_cluster_shards_held'));
    assert.equal(held, test_shard_count, 'the shards-held gauges add up to every shard');
  });

  it('AuthorizeStream items for cards of another node are answered, each with its correlation id', async () => {
    const terminal = idOwnedBy('A', ['A', 'B'], 'terminal', 'stream-till');
    await viaA.registerTerminal(terminal, 'm-2');
    const cards = [idOwnedBy('A', ['A', 'B'], 'card', 'stream-a'), idOwnedBy('B', ['A', 'B'], 'card', 'stream-b')];
    await Promise.all(cards.map((card) => viaA.issueCard(card, 1_000)));
    const call = (await viaA.gateway(['m-2'])).authorizeStream();
    const results: AuthorizeStreamResponse['results'] = [];
    const done = new Promise<void>((resolve, reject) => {
      call.on('data', (frame: AuthorizeStreamResponse) => results.push(...frame.results));
      call.on('end', () => resolve());
      call.on('error', reject);
    });
    call.write({ items: cards.map((card, i) => ({ correlationId: `c-${card}`, request: purchase(terminal, 100 + i, card, 100 + i) })) });
    call.end();
    await done;
    assert.equal(results.length, 2);
    for (const [i, card] of cards.entries()) {
      const result = results.find((r) => r.correlationId === `c-${card}`);
      assert.equal(result?.statusCode, 0, `item for ${card}: ${result?.statusMessage}`);
      assert.equal(result.reply?.approvedAmount?.amountMinor, BigInt(100 + i));
    }
  });

  it("bad input through a forward gets the owner's exact status and changes nothing", async () => {
    const cardOfB = idOwnedBy('B', ['A', 'B'], 'card', 'bad-card');
    const terminal = idOwnedBy('A', ['A', 'B'], 'terminal', 'bad-till');
    await viaA.registerTerminal(terminal, 'm-3');
    await viaA.issueCard(cardOfB, 1_000);
    const inspect = await connectInspector(redis.url);
    try {
      const before = await inspect.snapshot();
      await assert.rejects(
        viaA.authorize(purchase(terminal, 7, cardOfB, -10)),
        (error: grpc.ServiceError) => error.code === grpc.status.INVALID_ARGUMENT,
      );
      await assert.rejects(
        viaA.authorize(purchase(terminal, 8, 'no-such-card-on-b', 10)),
        (error: grpc.ServiceError) => error.code === grpc.status.NOT_FOUND,
      );
      const after = await inspect.snapshot();
      const strip = (text: string): string =>
        text
          .split('\n')
          .filter((line) => !line.startsWith('tl:{s') || !line.includes(':lease='))
          .join('\n');
      assert.equal(strip(after), strip(before), 'Redis unchanged (leases aside)');
    } finally {
      await inspect.close();
    }
  });

  it('a terminal owned by another node is checked from Redis; its disable is seen within the cache bound', async () => {
    const terminalOfB = idOwnedBy('B', ['A', 'B'], 'terminal', 'remote-till');
    const cardOfA = idOwnedBy('A', ['A', 'B'], 'card', 'remote-card');
    await viaA.registerTerminal(terminalOfB, 'm-4');
    await viaA.issueCard(cardOfA, 5_000);
    assert.equal((await viaA.authorize(purchase(terminalOfB, 1, cardOfA, 10))).outcome, Outcome.OUTCOME_APPROVED);
    await viaA.setTerminalEnabled(terminalOfB, false);
    const disabledAt = Date.now();
    let txn = 2;
    await waitFor(
      'disabled terminal refused on the card owner',
      async () => {
        try {
          await viaA.authorize(purchase(terminalOfB, txn++, cardOfA, 10));
          return false;
        } catch (error) {
          return (error as grpc.ServiceError).code === grpc.status.FAILED_PRECONDITION;
        }
      },
      () => 'still approved',
      5_000,
      20,
    );
    assert.ok(Date.now() - disabledAt < 200 + 500, `seen after ${Date.now() - disabledAt} ms (bound 200 ms + one call)`);
  });

  it("a forwarded call carries the client's deadline", async () => {
    // A peer that registers, takes one shard and never answers: the call must end at its deadline.
    const seen: number[] = [];
    const silent = new grpc.Server();
    silent.addService(ClusterServiceService, {
      forward: (call: grpc.ServerDuplexStream<ForwardRequest, ForwardResponse>) => {
        call.on('data', (frame: ForwardRequest) => seen.push(...frame.calls.map((c) => c.timeoutMs)));
        call.on('error', () => undefined);
      },
    });
    // Z proves it is node Z (A's link requires the peer's certificate to name the member it reaches).
    const zFiles = await (await testCredentials()).node('Z');
    const zCredentials = grpc.ServerCredentials.createSsl(
      null,
      [{ cert_chain: readFileSync(zFiles.cert), private_key: readFileSync(zFiles.key) }],
      false,
    );
    const port = await new Promise<number>((resolve, reject) =>
      silent.bindAsync('127.0.0.1:0', zCredentials, (e, p) => (e ? reject(e) : resolve(p))),
    );
    const store = await ClusterStore.connect(
      { target: singleRedis(redis.url), command_timeout_ms: 2_000, reconnect_backoff_max_ms: 200 },
      () => undefined,
    );
    const z = { nodeId: 'Z', address: `127.0.0.1:${port}` };
    const cardOfZ = idOwnedBy('Z', ['A', 'B', 'Z'], 'card', 'silent-card');
    const shard = shardOf('card', cardOfZ, test_shard_count);
    const beat = setInterval(() => void store.heartbeat(z, 500).catch(() => undefined), 50);
    let epoch: string | undefined;
    const client = new TaplineClient(await accessTo(a));
    try {
      await store.heartbeat(z, 500);
      await waitFor(
        'Z takes its shard once the old owner hands it off',
        async () => {
          epoch = (await store.take('Z', [shard], 5_000)).taken.get(shard);
          return epoch !== undefined;
        },
        () => 'still leased',
        5_000,
      );
      await waitFor(
        'A routes the shard to Z',
        () => a.coordinator.ownerOf(shard)?.nodeId === 'Z',
        () => String(a.coordinator.ownerOf(shard)?.nodeId),
        5_000,
      );
      const startedMs = Date.now();
      await assert.rejects(
        client.authorize(purchase('t', 1, cardOfZ, 1), 700),
        (error: grpc.ServiceError) => error.code === grpc.status.DEADLINE_EXCEEDED,
      );
      const elapsedMs = Date.now() - startedMs;
      assert.ok(elapsedMs < 1_500, `the caller got its answer at its deadline (${elapsedMs} ms)`);
      assert.equal(seen.length, 1, 'the call was forwarded once');
      assert.ok((seen[0] ?? 0) > 0 && (seen[0] ?? 0) <= 700, `the peer received the remaining budget (${seen[0]} ms of 700)`);
    } finally {
      client.close();
      clearInterval(beat);
      await store.leave('Z');
      if (epoch !== undefined) await store.release('Z', new Map([[shard, epoch]]));
      await store.close();
      silent.forceShutdown();
    }
  });

  it('a peer link closed with calls still queued fails them as retryable (the node keeps running)', async () => {
    const peers = new Peers({ forward_in_flight_max: 10, forward_timeout_ms: 1_000 }, pino({ level: 'silent' }), () =>
      grpc.credentials.createInsecure(),
    );
    const outcomes: ForwardOutcome[] = [];
    // Queued in this turn; the peer leaves before the frame is flushed.
    peers.forward(
      { nodeId: 'B', address: `127.0.0.1:${b.internalPort}` },
      AuthorizationServiceService.getBalance.path,
      Buffer.alloc(0),
      500,
      Buffer.alloc(0),
      (o) => outcomes.push(o),
    );
    peers.update([], 'A');
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(
      outcomes.map((o) => o.kind),
      ['retry'],
    );
    peers.closeAll();
  });

  it('a node whose leases are not renewed stops answering from memory until it renews', async () => {
    const cardOfA = idOwnedBy('A', ['A', 'B'], 'card', 'fresh-card');
    await viaA.issueCard(cardOfA, 1_000);
    assert.equal((await viaA.balance(cardOfA)).balance?.amountMinor, 1_000n);
    a.coordinator.stop();
    try {
      await waitFor(
        "A's leases are past their renewal",
        () => !a.coordinator.leaseFresh(shardOf('card', cardOfA, test_shard_count)),
        () => 'still fresh',
        5_000,
        20,
      );
      // Nobody took the shard, but A cannot know that: it must not serve the balance from memory.
      const terminal = await viaA.terminal(reader_terminal);
      const call = new Promise<grpc.ServiceError | undefined>((resolve) => {
        terminal.getBalance({ cardId: cardOfA }, new grpc.Metadata(), { deadline: Date.now() + 300 }, (error) =>
          resolve(error ?? undefined),
        );
      });
      assert.equal((await call)?.code, grpc.status.DEADLINE_EXCEEDED, 'no answer from a node whose ownership is unconfirmed');
    } finally {
      a.coordinator.resume();
    }
    assert.equal((await viaA.balance(cardOfA)).balance?.amountMinor, 1_000n, 'served again once the lease is renewed');
  });

  it('a stale owner is fenced by Redis, drops the shard, and the call is retried with the same key', async () => {
    const cardOfA = idOwnedBy('A', ['A', 'B'], 'card', 'fenced-card');
    const terminal = idOwnedBy('A', ['A', 'B'], 'terminal', 'fenced-till');
    await viaA.registerTerminal(terminal, 'm-5');
    await viaA.issueCard(cardOfA, 1_000);
    assert.equal((await viaA.authorize(purchase(terminal, 1, cardOfA, 100))).outcome, Outcome.OUTCOME_APPROVED);
    const shard = shardOf('card', cardOfA, test_shard_count);
    const inspect = await connectInspector(redis.url);
    try {
      const fencedBefore = (await a.metrics.commitFenced.get()).values[0]?.value ?? 0;
      // A stops learning about the cluster (as if paused) while another holder takes the shard:
      // it increments the epoch and leases the shard. A still believes it holds the shard.
      a.coordinator.stop();
      const epoch = await inspect.client.incr(`tl:{s${shard}}:epoch`);
      await inspect.client.set(`tl:{s${shard}}:lease`, `X|${epoch}`, { PX: 300 });
      const request = purchase(terminal, 2, cardOfA, 200);
      await assert.rejects(viaA.authorize(request, 600), (error: grpc.ServiceError) => error.code === grpc.status.DEADLINE_EXCEEDED);
      const fencedAfter = (await a.metrics.commitFenced.get()).values[0]?.value ?? 0;
      assert.ok(fencedAfter > fencedBefore, "A's stale commits were refused by Redis (fenced)");
      assert.equal((await inspect.card(cardOfA))?.balanceMinor, 900, 'the stale owner wrote nothing');
      assert.equal(await inspect.idempotency(`t:${terminal}:2`), undefined, 'no record of the refused request');
      // A wakes up: it learns the shard was taken, drops it, takes it again once the lease
      // expires, and the client's retry with the same key is approved once.
      a.coordinator.resume();
      const reply = await viaA.authorize(request, 10_000);
      assert.equal(reply.outcome, Outcome.OUTCOME_APPROVED, 'the retry succeeds once A owns the shard again');
      assert.equal(reply.balanceAfter?.amountMinor, 700n, 'money moved once');
      assert.ok(Number(await inspect.client.get(`tl:{s${shard}}:epoch`)) > epoch, 'A took the shard again at a newer epoch');
      assert.equal((await inspect.card(cardOfA))?.balanceMinor, 700);
      const entries = (await inspect.outbox()).filter((r) => r['key'] === `t:${terminal}:2`);
      assert.equal(entries.length, 1, 'one outbox entry for the retried request');
      assert.ok((await metricValue(a, 'tapline_cluster_shard_moves_total', { event: 'lost' })) >= 1, 'A counted the lost shard');
    } finally {
      await inspect.close();
    }
  });
});
