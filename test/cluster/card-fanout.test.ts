// Proves the per-card fan-out calls (CardFanoutService, proto/tapline/internal/v1/fanout.proto)
// between two real node processes on one Redis: a bulk issuance and a refund run entered on one
// node reach the cards the other node owns and come back with the right counts and payouts; a
// failure on the card's owner reaches the client as the owner's own gRPC status (ALREADY_EXISTS,
// message kept); and a malformed fan-out request sent straight onto a node's internal Forward
// stream (undecodable bytes, or a well-formed message with out-of-range fields) is answered
// INVALID_ARGUMENT, writes nothing, and leaves the node serving.

import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import type { RedisInstance } from '../../tools/devenv/redis';
import type { ServerProcess } from '../../tools/devenv/node-process';
import { CardClient, programConfig } from '../../tools/client/card-client';
import { placementOf } from '../../actors/sharding/allocation';
import { shardOf } from '../../actors/sharding/shard-key';
import { shardLeaseKey } from '../../services/authorizer/store/keys';
import { ClusterServiceClient, type ForwardedResult } from '../../gen/tapline/internal/v1/cluster';
import {
  CardFanoutServiceService,
  ApplyPspWebhookRequest,
  IssueBulkCardRequest,
  IssueBulkCardResponse,
  RefundRunCashOutRequest,
} from '../../gen/tapline/internal/v1/fanout';
import {
  startNodeProcess,
  startTestRedis,
  test_shard_count,
  waitFor,
  accessTo,
  forwardedCaller,
  nodeChannelCredentials,
} from '../support/harness';
import { connectInspector, type Inspector } from '../support/redis-inspect';
import { TaplineClient } from '../../tools/client/tapline-client';
import { OfflineClient } from '../../tools/client/offline-client';
import { OfflineTerminalSimulator, generateTerminalKey } from '../../tools/offline-terminal/simulator';
import { OfflineEntryResultKind, OfflineLiability } from '../../gen/tapline/v1/offline';

const node_ids = ['n1', 'n2'];
const cluster_env = {
  TAPLINE_CLUSTER_TICK_MS: '100',
  TAPLINE_MEMBER_TTL_MS: '1000',
  TAPLINE_SHARD_LEASE_MS: '1000',
  TAPLINE_REDIS_COMMAND_TIMEOUT_MS: '800',
  TAPLINE_ROUTE_WAIT_MAX_MS: '8000',
  TAPLINE_LOG_LEVEL: 'warn',
};
const owners = placementOf(test_shard_count, node_ids);
const ownerOf = (id: string): string => owners[shardOf('card', id, test_shard_count)] as string;

/** The first id `prefix-<n>` whose shard `nodeId` owns. */
function idOwnedBy(nodeId: string, prefix: string): string {
  for (let n = 0; ; n++) if (ownerOf(`${prefix}-${n}`) === nodeId) return `${prefix}-${n}`;
}

/** Bounds one raw Forward exchange: the node answers in milliseconds when it is healthy. */
const forward_answer_timeout_ms = 10_000;

describe('card fan-out calls between two real node processes', function () {
  this.timeout(90_000);
  let redis: RedisInstance | undefined;
  let inspect: Inspector;
  const nodes = new Map<string, ServerProcess>();
  const clients = new Map<string, CardClient>();
  const via = (nodeId: string): CardClient => clients.get(nodeId) as CardClient;
  const params = (amountMinor: bigint, currency = 'EUR') => ({
    initialBalance: { amountMinor, currency },
    programId: 'fan-p',
    deposit: undefined,
    expiresAtUnixMs: 0n,
  });

  /** Sends one call straight onto `nodeId`'s internal Forward stream and returns its result. */
  async function forwardRaw(nodeId: string, method: string, request: Uint8Array): Promise<ForwardedResult> {
    const node = nodes.get(nodeId) as ServerProcess;
    assert.ok(node.internalPort !== undefined, `${nodeId} announced its internal port`);
    // As a peer: a node certificate of the cluster CA, the frame carrying its caller.
    const client = new ClusterServiceClient(`127.0.0.1:${node.internalPort}`, await nodeChannelCredentials('fanout-probe'), {
      'grpc.ssl_target_name_override': 'localhost',
    });
    try {
      const stream = client.forward({ deadline: Date.now() + forward_answer_timeout_ms });
      const answered = new Promise<ForwardedResult>((resolve, reject) => {
        stream.on('data', (frame: { results: ForwardedResult[] }) => {
          const result = frame.results.find((r) => r.callId === 7n);
          if (result !== undefined) resolve(result);
        });
        stream.on('error', reject);
        stream.on('end', () => reject(new Error(`${nodeId}: Forward stream ended without a result for call 7`)));
      });
      stream.write({ calls: [{ callId: 7n, method, request: Buffer.from(request), timeoutMs: 5_000, caller: forwardedCaller() }] });
      const result = await answered;
      stream.cancel();
      return result;
    } finally {
      client.close();
    }
  }

  before(async function () {
    redis = await startTestRedis('card-fanout');
    inspect = await connectInspector(redis.url);
    for (const nodeId of node_ids) {
      const node = await startNodeProcess(redis.url, { ...cluster_env, TAPLINE_NODE_ID: nodeId });
      node.child.stderr?.on('data', (chunk: Buffer) => process.stderr.write(`[${nodeId} stderr] ${chunk.toString()}`));
      nodes.set(nodeId, node);
      clients.set(nodeId, new CardClient(await accessTo(node)));
    }
    const leasedAsPlaced = async (): Promise<number> => {
      const leases = await Promise.all(owners.map((_, shard) => inspect.client.get(shardLeaseKey(shard))));
      return leases.filter((lease, shard) => lease?.startsWith(`${owners[shard]}|`)).length;
    };
    let seen = 0;
    await waitFor(
      'start: every shard leased by its placement owner',
      async () => (seen = await leasedAsPlaced()) === test_shard_count,
      () => `${seen} of ${test_shard_count} shards leased as placed`,
      30_000,
    );
    await via('n1').defineProgram('fan-p', programConfig({ depositMinor: 50n }));
  });

  after(async function () {
    for (const client of clients.values()) client.close();
    await Promise.all([...nodes.values()].map((node) => node.terminate().catch(() => node.kill9())));
    await inspect?.close();
    await redis?.stop();
  });

  const card_ids = Array.from({ length: 24 }, (_, i) => `fan-${String(i).padStart(2, '0')}`);

  it('a bulk issuance entered on one node issues the cards the other node owns, once', async () => {
    assert.equal(new Set(card_ids.map(ownerOf)).size, 2, 'the cards live on both nodes');
    const request = { issuanceId: idOwnedBy('n1', 'fan-iss'), cardIds: card_ids, operatorId: 'ops', params: params(700n) };
    const first = await via('n1').bulkIssue(request);
    assert.deepEqual([first.issued, first.alreadyExisted], [card_ids.length, 0]);
    const again = await via('n2').bulkIssue(request);
    assert.deepEqual([again.issued, again.alreadyExisted], [0, card_ids.length], 'a re-run through the other node issues nothing');
    for (const cardId of card_ids) {
      const { card } = await via(ownerOf(cardId) === 'n1' ? 'n2' : 'n1').getCard(cardId);
      assert.deepEqual([card?.balance?.amountMinor, card?.deposit?.amountMinor], [700n, 50n], cardId);
    }
  });

  it("a refund run entered on one node pays every card on both nodes, with each payout's named flag", async () => {
    const entry = ownerOf('fan-p') === 'n1' ? 'n2' : 'n1';
    const run = await via(entry).refundRun('fan-p', 'fan-run-1');
    assert.equal(run.skipped, 0);
    assert.deepEqual(
      run.payouts.map((p) => [p.cardId, p.payout?.amountMinor, p.named]),
      card_ids.map((cardId) => [cardId, 750n, false]),
    );
    assert.deepEqual(run.totals, [{ amountMinor: 750n * BigInt(card_ids.length), currency: 'EUR' }]);
  });

  it("an offline batch merged on its terminal's node reaches the cards the other node owns, in entry order, once", async () => {
    const access = await accessTo(nodes.get('n1') as ServerProcess);
    const admin = new TaplineClient(access);
    const offline = new OfflineClient(access);
    try {
      await via('n1').defineProgram(
        'fan-off',
        programConfig({ offline: { txnMaxMinor: 2_000n, cardMaxMinor: 5_000n, debtThresholdMinor: 1_000n, cardCounter: false } }),
      );
      const till = 'fan-till';
      await admin.registerTerminal(till, 'fan-m');
      // Two cards on each node, whichever node owns the terminal: one side is merged through the router.
      const mine = [idOwnedBy('n1', 'fan-off-a'), idOwnedBy('n1', 'fan-off-b')];
      const theirs = [idOwnedBy('n2', 'fan-off-a'), idOwnedBy('n2', 'fan-off-b')];
      for (const cardId of [...mine, ...theirs]) await admin.issueCard(cardId, 1_000, 'EUR', 'fan-off');
      const key = generateTerminalKey();
      await offline.setTerminalOffline({
        terminalId: till,
        publicKey: key.spki,
        programIds: ['fan-off'],
        totalMaxMinor: 100_000,
        currency: 'EUR',
        countMax: 100,
        offlineMaxMs: 3_600_000,
      });
      const sim = new OfflineTerminalSimulator(till, offline, key, { clock: () => 0 });
      await sim.sync();
      // Each card twice, its sales apart in the batch: the second takes the card below zero.
      const sales: [string, number][] = [...mine, ...theirs].map((cardId): [string, number] => [cardId, 600]);
      for (const cardId of [...mine, ...theirs]) sales.push([cardId, 700]);
      for (const [cardId, amount] of sales) assert.ok('entry' in sim.sell({ cardId, programId: 'fan-off' }, amount, 'EUR'));
      sim.closeBatches();
      const [batch] = [...sim.pending];
      if (batch === undefined) throw new Error('no batch closed');
      const [answer] = await sim.upload();
      assert.deepEqual(
        answer?.results.map((r) => [r.kind, r.liability, r.balanceAfter?.amountMinor, r.debtAfter?.amountMinor]),
        sales.map((_, at) => [
          OfflineEntryResultKind.OFFLINE_ENTRY_RESULT_KIND_SALE,
          OfflineLiability.OFFLINE_LIABILITY_ISSUER,
          at < 4 ? 400n : -300n,
          at < 4 ? 0n : 300n,
        ]),
        "every card's two sales in entry order, on both nodes",
      );
      const before = await inspect.snapshot();
      const again = await sim.uploadBatch(batch);
      assert.equal(again.replayed, true);
      assert.deepEqual(again.results, answer?.results, 'a re-upload answers the same results');
      assert.equal(await inspect.snapshot(), before, 'and moves nothing');
      for (const cardId of [...mine, ...theirs]) assert.equal((await admin.balance(cardId)).balance?.amountMinor, -300n, cardId);
    } finally {
      admin.close();
      offline.close();
    }
  });

  it("a failure on the card's owner reaches the client as the owner's status", async () => {
    const taken = idOwnedBy('n2', 'fan-taken');
    await via('n2').issue({ cardId: taken, params: params(100n, 'USD'), holder: undefined, pin: '', operatorId: 'ops' });
    const before = await inspect.snapshot();
    await assert.rejects(
      via('n1').bulkIssue({ issuanceId: 'fan-iss-taken', cardIds: [taken], operatorId: 'ops', params: params(100n) }),
      (error: grpc.ServiceError) => {
        assert.equal(error.code, grpc.status.ALREADY_EXISTS, error.message);
        assert.match(error.details, /card exists with different currency or program/);
        return true;
      },
    );
    assert.equal(await inspect.snapshot(), before, 'the refused issuance wrote nothing');
  });

  it('a malformed fan-out request on the internal stream is INVALID_ARGUMENT, writes nothing, and the node keeps serving', async () => {
    const cardId = idOwnedBy('n2', 'fan-bad');
    const good = {
      cardId,
      issuanceId: 'fan-iss-bad',
      programId: 'fan-p',
      currency: 'EUR',
      initialBalanceMinor: 100n,
      depositMinor: 0n,
      expiresAtUnixMs: 0n,
      issuedAtUnixMs: 1_700_000_000_000n,
      operatorId: 'ops',
      cardAuthKeyId: '',
    };
    const issuePath = CardFanoutServiceService.issueBulkCard.path;
    const cases: [string, string, Uint8Array][] = [
      ['undecodable bytes', issuePath, Uint8Array.from([0x0a, 0xff])],
      ['an unknown currency', issuePath, IssueBulkCardRequest.encode({ ...good, currency: 'XXX' }).finish()],
      ['a negative balance', issuePath, IssueBulkCardRequest.encode({ ...good, initialBalanceMinor: -5n }).finish()],
      ['a balance past the request bound', issuePath, IssueBulkCardRequest.encode({ ...good, initialBalanceMinor: 1n << 62n }).finish()],
      ['no issuance id', issuePath, IssueBulkCardRequest.encode({ ...good, issuanceId: '' }).finish()],
      ['no issue time', issuePath, IssueBulkCardRequest.encode({ ...good, issuedAtUnixMs: 0n }).finish()],
      ['a malformed card auth key id', issuePath, IssueBulkCardRequest.encode({ ...good, cardAuthKeyId: 'no spaces' }).finish()],
      [
        'a PSP webhook with a malformed payment id',
        CardFanoutServiceService.applyPspWebhook.path,
        ApplyPspWebhookRequest.encode({ cardId, paymentId: 'tr_/../x' }).finish(),
      ],
      [
        'a cash-out without a run id',
        CardFanoutServiceService.refundRunCashOut.path,
        RefundRunCashOutRequest.encode({ cardId, runId: '', operatorId: 'ops' }).finish(),
      ],
    ];
    const before = await inspect.snapshot();
    for (const [what, method, bytes] of cases) {
      const result = await forwardRaw('n2', method, bytes);
      assert.deepEqual(
        [result.notOwner, result.statusCode],
        [false, grpc.status.INVALID_ARGUMENT],
        `${what}: expected INVALID_ARGUMENT from the owner, got ${result.statusCode} "${result.statusMessage}"`,
      );
    }
    assert.equal(await inspect.snapshot(), before, 'no malformed request wrote anything');
    const accepted = await forwardRaw('n2', issuePath, IssueBulkCardRequest.encode(good).finish());
    assert.equal(accepted.statusCode, grpc.status.OK, `the well-formed request is served: ${accepted.statusMessage}`);
    assert.equal(IssueBulkCardResponse.decode(accepted.response).alreadyExisted, false, 'and issues the card');
    assert.equal((await via('n1').getCard(cardId)).card?.balance?.amountMinor, 100n, 'the node still serves, through the other node too');
  });
});
