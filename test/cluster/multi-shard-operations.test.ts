// Proves that card and fleet operations touching entities on several shards are correct when
// those shards have different owners: three real authorizer processes on one Redis, every call
// sent to a random node (seeded; the seed is printed). Bulk issuance creates each card once, on
// its owner, with its balance, and a re-run issues nothing; a program refund run pays every card
// of the program (on all nodes) balance + deposit once, and a re-run answers the same list; a
// signed PSP callback sent to a node that does not own the card tops it up once, and so does an
// auto-reload set and triggered through other nodes; a replacement
// whose old and new cards have different owners moves the balance exactly once while purchases
// race on the old card (each purchase approved before it or declined after it, money conserved,
// the new card's owner sees the card although it had answered "not found" before); fleet
// purchases through random nodes commit card and account together on the fleet's owner. Last,
// the node running a bulk issuance is killed (SIGKILL) half-way: the call, retried by the router
// (or the client) with the same ids, completes on the new owner with every card issued once; then
// the node running a refund run is killed half-way, and the run completes with each card paid once.

import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import type { RedisInstance } from '../../tools/devenv/redis';
import type { ServerProcess } from '../../tools/devenv/node-process';
import { TaplineClient, purchase } from '../../tools/client/tapline-client';
import { CardClient, programConfig } from '../../tools/client/card-client';
import { FleetClient, fleetPurchase } from '../../tools/client/fleet-client';
import { CardStatus, DeclineReason, Outcome } from '../../gen/tapline/v1/types';
import { placementOf } from '../../actors/sharding/allocation';
import { shardOf, type PlacedKind } from '../../actors/sharding/shard-key';
import { pspPayload, signPspPayload } from '../../services/authorizer/usecases/psp';
import { shardLeaseKey } from '../../services/authorizer/store/keys';
import { startNodeProcess, startTestRedis, test_shard_count, waitFor, accessTo } from '../support/harness';
import { connectInspector, type Inspector } from '../support/redis-inspect';
import { seededRandom } from '../../tools/seeded-random';

const node_ids = ['n1', 'n2', 'n3'];
const psp_secret = 'cluster-psp-secret-for-tests';
const cluster_env = {
  TAPLINE_CLUSTER_TICK_MS: '100',
  TAPLINE_MEMBER_TTL_MS: '1000',
  TAPLINE_SHARD_LEASE_MS: '1000',
  TAPLINE_REDIS_COMMAND_TIMEOUT_MS: '800',
  TAPLINE_ROUTE_WAIT_MAX_MS: '8000',
  TAPLINE_LOG_LEVEL: 'warn',
  TAPLINE_PSP_SECRET: psp_secret,
  // The crash tests issue 1,000 cards in one call; four eyes on large issuances is tested elsewhere.
  TAPLINE_FOUR_EYES_AMOUNT_MINOR: '10000000',
};
const owners = placementOf(test_shard_count, node_ids);
const ownerOf = (kind: PlacedKind, id: string): string => owners[shardOf(kind, id, test_shard_count)] as string;

/** The first id `prefix-<n>` of an entity of `kind` whose shard `nodeId` owns. */
function idOwnedBy(nodeId: string, kind: PlacedKind, prefix: string): string {
  for (let n = 0; ; n++) if (ownerOf(kind, `${prefix}-${n}`) === nodeId) return `${prefix}-${n}`;
}

interface NodeClients {
  readonly money: TaplineClient;
  readonly cards: CardClient;
  readonly fleet: FleetClient;
}

describe('operations across shards of different owners (3 real node processes)', function () {
  this.timeout(120_000);
  const seed = Number(process.env['TAPLINE_TEST_SEED'] ?? Date.now() % 1_000_000);
  const random = seededRandom(seed);
  let redis: RedisInstance | undefined;
  let inspect: Inspector;
  const nodes = new Map<string, ServerProcess>();
  const clients = new Map<string, NodeClients>();
  let txn = 1;

  const via = (nodeId: string): NodeClients => clients.get(nodeId) as NodeClients;
  const anyNode = (): NodeClients => via(node_ids[Math.floor(random() * node_ids.length)] as string);

  before(async function () {
    process.stdout.write(`      seed ${seed} (TAPLINE_TEST_SEED=${seed} replays it)\n`);
    redis = await startTestRedis('multi-shard');
    inspect = await connectInspector(redis.url);
    for (const nodeId of node_ids) {
      const node = await startNodeProcess(redis.url, { ...cluster_env, TAPLINE_NODE_ID: nodeId });
      node.child.stderr?.on('data', (chunk: Buffer) => process.stderr.write(`[${nodeId} stderr] ${chunk.toString()}`));
      node.child.stdout?.on('data', (chunk: Buffer) => {
        for (const line of chunk.toString().split('\n'))
          if (line.includes('"level":50') || line.includes('"level":60')) process.stderr.write(`[${nodeId}] ${line}\n`);
      });
      nodes.set(nodeId, node);
      clients.set(nodeId, {
        money: new TaplineClient(await accessTo(node)),
        cards: new CardClient(await accessTo(node)),
        fleet: new FleetClient(await accessTo(node)),
      });
    }
    for (const nodeId of node_ids) assert.ok(owners.includes(nodeId), `${nodeId} owns shards in the placement`);
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
    await via('n1').money.registerTerminal('pos-1', 'bar');
    await via('n2').money.registerTerminal('pump-1', 'station-1');
    await via('n3').cards.defineProgram('fest-c', programConfig({ depositMinor: 100n }));
  });

  after(async function () {
    for (const client of clients.values()) {
      client.money.close();
      client.cards.close();
      client.fleet.close();
    }
    await Promise.all([...nodes.values()].map((node) => node.terminate().catch(() => node.kill9())));
    await inspect?.close();
    await redis?.stop();
  });

  const bulk_cards = Array.from({ length: 60 }, (_, i) => `bulk-${String(i).padStart(2, '0')}`);

  it('bulk issue: each card exists once on its owner with its balance; a re-run elsewhere issues nothing', async () => {
    const spread = new Set(bulk_cards.map((cardId) => ownerOf('card', cardId)));
    assert.equal(spread.size, 3, 'the cards live on all three nodes');
    const request = {
      issuanceId: 'iss-1',
      cardIds: bulk_cards,
      operatorId: 'ops',
      params: { initialBalance: { amountMinor: 1_000n, currency: 'EUR' }, programId: 'fest-c', deposit: undefined, expiresAtUnixMs: 0n },
    };
    const first = await via('n1').cards.bulkIssue(request);
    assert.deepEqual([first.issued, first.alreadyExisted], [60, 0]);
    const again = await via('n2').cards.bulkIssue(request);
    assert.deepEqual([again.issued, again.alreadyExisted], [0, 60], 'a re-run issues nothing');
    for (const cardId of bulk_cards) {
      const { card } = await anyNode().cards.getCard(cardId);
      assert.deepEqual([card?.balance?.amountMinor, card?.deposit?.amountMinor, card?.issuanceId], [1_000n, 100n, 'iss-1'], cardId);
      assert.equal((await inspect.card(cardId))?.version, 1, `${cardId} written once, on its own shard`);
    }
    const cardKeys = await inspect.client.keys('tl:{s*}:card:bulk-*');
    assert.equal(cardKeys.length, 60, 'no card was written on a shard other than its own');
    const issued = (await inspect.outbox()).filter((d) => d['type'] === 'card_issued' && d['issuance'] === 'iss-1');
    assert.equal(issued.length, 60, 'one card_issued document per card');
  });

  it('program refund run over cards on all nodes pays balance + deposit once; a re-run answers the same list', async () => {
    for (const cardId of bulk_cards.slice(0, 20)) {
      const reply = await anyNode().money.authorize(purchase('pos-1', txn++, cardId, 1 + Math.floor(random() * 900)));
      assert.equal(reply.outcome, Outcome.OUTCOME_APPROVED);
    }
    let expected = 0n;
    for (const cardId of bulk_cards) {
      const { card } = await anyNode().cards.getCard(cardId);
      expected += (card?.balance?.amountMinor ?? 0n) + (card?.deposit?.amountMinor ?? 0n);
    }
    const run = await via('n3').cards.refundRun('fest-c', 'run-1');
    assert.equal(run.payouts.length, 60);
    assert.equal(run.skipped, 0);
    const paid = run.payouts.reduce((sum, p) => sum + (p.payout?.amountMinor ?? 0n), 0n);
    assert.equal(paid, expected, 'payout list = sum of balances + deposits');
    assert.deepEqual(run.totals, [{ amountMinor: expected, currency: 'EUR' }]);
    for (const cardId of bulk_cards) assert.equal((await inspect.card(cardId))?.balanceMinor, 0, `${cardId} paid out`);
    const rerun = await via('n1').cards.refundRun('fest-c', 'run-1');
    assert.deepEqual(
      rerun.payouts.map((p) => p.transactionId),
      run.payouts.map((p) => p.transactionId),
      'the re-run answers the stored payouts',
    );
    const cashOuts = (await inspect.outbox()).filter((d) => d['kind'] === 'cash_out' && String(d['key']).startsWith('k:refund-run:run-1:'));
    assert.equal(cashOuts.length, 60, 'one cash-out per card, none twice');
    for (const cardId of bulk_cards) assert.equal((await anyNode().cards.getCard(cardId)).card?.status, CardStatus.CARD_STATUS_CLOSED);
  });

  it('a PSP callback delivered to a node that does not own the card tops it up once', async () => {
    const cardId = idOwnedBy('n2', 'card', 'psp-card');
    await via('n2').cards.issue({
      cardId,
      params: { initialBalance: { amountMinor: 500n, currency: 'EUR' }, programId: 'fest-c', deposit: undefined, expiresAtUnixMs: 0n },
      holder: undefined,
      pin: '',
      operatorId: 'ops',
    });
    const payload = pspPayload({
      reference: 'pay-c1',
      card: cardId,
      amountMinor: 2_000,
      currency: 'EUR',
      status: 'succeeded',
      kind: 'top_up',
      signedAtMs: Date.now(),
    });
    const first = await via('n1').cards.pspCallback(payload, signPspPayload(psp_secret, payload));
    assert.deepEqual([first.outcome, first.balanceAfter?.amountMinor, first.replayed], [Outcome.OUTCOME_APPROVED, 2_500n, false]);
    const again = await via('n3').cards.pspCallback(payload, signPspPayload(psp_secret, payload));
    assert.deepEqual([again.transactionId, again.replayed], [first.transactionId, true], 'delivered again to another node: replayed');
    assert.equal((await inspect.card(cardId))?.balanceMinor, 2_500);
    const before = await inspect.snapshot();
    await assert.rejects(
      via('n3').cards.pspCallback(payload, signPspPayload('another-secret-of-16+', payload)),
      (e: grpc.ServiceError) => e.code === grpc.status.PERMISSION_DENIED,
    );
    assert.equal(await inspect.snapshot(), before, 'a bad signature forwarded to the owner changes nothing');
  });

  it('auto-reload set and triggered through other nodes tops the card up once on its owner', async () => {
    const cardId = idOwnedBy('n3', 'card', 'auto-card');
    await via('n1').cards.issue({
      cardId,
      params: { initialBalance: { amountMinor: 3_000n, currency: 'EUR' }, programId: 'fest-c', deposit: undefined, expiresAtUnixMs: 0n },
      holder: undefined,
      pin: '',
      operatorId: 'ops',
    });
    await via('n2').cards.setAutoReload(cardId, 1_000, 5_000, 'mandate-c1');
    assert.equal((await via('n1').money.authorize(purchase('pos-1', txn++, cardId, 2_500))).outcome, Outcome.OUTCOME_APPROVED);
    let balance = 0n;
    await waitFor(
      'auto-reload top-up',
      async () => (balance = (await anyNode().money.balance(cardId)).balance?.amountMinor ?? 0n) === 5_500n,
      () => `balance ${balance}`,
      10_000,
    );
    const reloads = (await inspect.outbox()).filter((d) => d['card'] === cardId && d['source'] === 'auto_reload');
    assert.equal(reloads.length, 1, 'one reload');
  });

  it('replace across owners while purchases race on the old card: exactly one outcome each, money conserved', async () => {
    for (let round = 0; round < 3; round++) {
      const oldId = idOwnedBy('n1', 'card', `old-r${round}`);
      const newId = idOwnedBy('n2', 'card', `new-r${round}`);
      await via('n3').cards.issue({
        cardId: oldId,
        params: { initialBalance: { amountMinor: 5_000n, currency: 'EUR' }, programId: 'fest-c', deposit: undefined, expiresAtUnixMs: 0n },
        holder: undefined,
        pin: '',
        operatorId: 'ops',
      });
      // The new card's owner answers "not found" first (its actor is then active without a card).
      await assert.rejects(via('n2').money.balance(newId), (e: grpc.ServiceError) => e.code === grpc.status.NOT_FOUND);
      const purchases = Array.from({ length: 20 }, () => anyNode().money.authorize(purchase('pos-1', txn++, oldId, 150)));
      const replaced = via('n3').cards.replace(oldId, newId);
      const [replies, replacement] = await Promise.all([Promise.all(purchases), replaced]);
      let approvedMinor = 0;
      for (const reply of replies) {
        if (reply.outcome === Outcome.OUTCOME_APPROVED) approvedMinor += 150;
        else assert.equal(reply.declineReason, DeclineReason.DECLINE_REASON_CARD_CLOSED, 'a purchase after the replacement is declined');
      }
      assert.equal(replacement.alreadyReplaced, false);
      assert.equal(
        replacement.replacement?.balance?.amountMinor,
        BigInt(5_000 - approvedMinor),
        `round ${round}: the new card carries what was left`,
      );
      assert.deepEqual(
        [(await inspect.card(oldId))?.balanceMinor, (await inspect.card(newId))?.balanceMinor],
        [0, 5_000 - approvedMinor],
        'money conserved in Redis',
      );
      const seenByOwner = await via('n2').money.balance(newId);
      assert.equal(
        seenByOwner.balance?.amountMinor,
        BigInt(5_000 - approvedMinor),
        'the owner that answered "not found" sees the new card',
      );
      assert.equal((await via('n1').money.authorize(purchase('pos-1', txn++, newId, 100))).outcome, Outcome.OUTCOME_APPROVED);
      assert.equal((await via('n2').cards.replace(oldId, newId)).alreadyReplaced, true, 'a retry through another node answers the same');
      const docs = (await inspect.outbox()).filter((d) => d['card'] === oldId || d['card'] === newId);
      const delta = (kind: string, cardId: string): number =>
        docs.filter((d) => d['kind'] === kind && d['card'] === cardId).reduce((sum, d) => sum + Number(d['balance_delta']), 0);
      assert.equal(delta('transfer_out', oldId), -(5_000 - approvedMinor), 'one transfer_out');
      assert.equal(delta('transfer_in', newId), 5_000 - approvedMinor, 'one transfer_in');
    }
  });

  it('a replacement onto a card that exists on another owner is refused and changes nothing', async () => {
    const oldId = idOwnedBy('n3', 'card', 'old-taken');
    const takenId = idOwnedBy('n1', 'card', 'taken');
    for (const cardId of [oldId, takenId]) {
      await anyNode().cards.issue({
        cardId,
        params: { initialBalance: { amountMinor: 700n, currency: 'EUR' }, programId: 'fest-c', deposit: undefined, expiresAtUnixMs: 0n },
        holder: undefined,
        pin: '',
        operatorId: 'ops',
      });
    }
    const before = await inspect.snapshot();
    await assert.rejects(via('n2').cards.replace(oldId, takenId), (e: grpc.ServiceError) => e.code === grpc.status.ALREADY_EXISTS);
    assert.equal(await inspect.snapshot(), before);
  });

  it("fleet purchases through random nodes commit card and account together on the fleet's owner", async () => {
    const fleetId = idOwnedBy('n3', 'fleet', 'fleet-c');
    await anyNode().fleet.createAccount({ fleetId, creditLimitMinor: 10_000_000, timeZone: 'Europe/Berlin' });
    const cards: string[] = [];
    for (let i = 1; i <= 3; i++) {
      const issued = await anyNode().fleet.issueCard({
        fleetId,
        cardNo: String(i),
        limits: undefined,
        productGroups: undefined,
        operatorId: 'ops',
      });
      cards.push(issued.card?.cardId as string);
    }
    for (const cardId of cards) assert.equal(ownerOf('card', cardId), 'n3', "fleet cards live on the fleet's shard");
    let spentMinor = 0;
    const replies = await Promise.all(
      Array.from({ length: 30 }, (_, i) => {
        const amountMinor = 100 + i;
        spentMinor += amountMinor;
        return anyNode().money.authorize(
          fleetPurchase('pump-1', txn++, cards[i % 3] as string, [{ code: 'diesel', group: 'fuel', qtyMilli: 1_000, amountMinor }]),
        );
      }),
    );
    for (const reply of replies) assert.equal(reply.outcome, Outcome.OUTCOME_APPROVED, `declined: ${reply.declineReason}`);
    for (const nodeId of node_ids) {
      const { account } = await via(nodeId).fleet.getAccount(fleetId);
      assert.equal(account?.balance?.amountMinor, BigInt(-spentMinor), `${nodeId} answers the owner's account`);
    }
    const fleetDocs = (await inspect.outbox()).filter((d) => cards.includes(String(d['card'])) && d['outcome'] === 'approved');
    assert.equal(fleetDocs.length, 30, 'one document per purchase');
  });

  it('kill -9 of the node running a bulk issuance half-way: the retried call issues every card exactly once', async () => {
    const issuanceId = idOwnedBy('n1', 'issuance', 'iss-crash');
    const cardIds = Array.from({ length: 1_000 }, (_, i) => `crash-${String(i).padStart(4, '0')}`);
    const request = {
      issuanceId,
      cardIds,
      operatorId: 'ops',
      params: { initialBalance: { amountMinor: 250n, currency: 'EUR' }, programId: 'fest-c', deposit: undefined, expiresAtUnixMs: 0n },
    };
    const sent = via('n2')
      .cards.bulkIssue(request)
      .then(
        (value) => ({ value }),
        (error: grpc.ServiceError) => ({ error }),
      );
    let existing = 0;
    await waitFor(
      'crash: some cards issued',
      async () => (existing = (await inspect.client.keys('tl:{s*}:card:crash-*')).length) >= 50,
      () => `${existing} issued`,
      20_000,
      5,
    );
    await (nodes.get('n1') as ServerProcess).kill9();
    nodes.delete('n1');
    assert.ok(existing < cardIds.length, `killed half-way (${existing} of ${cardIds.length} issued)`);
    let outcome = await sent;
    // The router retries a forwarded call whose link broke; a client that still sees an error
    // retries with the same ids on another node.
    let clientRetries = 0;
    for (; 'error' in outcome && clientRetries < 3; clientRetries++) {
      outcome = await via('n3')
        .cards.bulkIssue(request)
        .then(
          (value) => ({ value }),
          (error: grpc.ServiceError) => ({ error }),
        );
    }
    assert.ok('value' in outcome, `the bulk issuance completed: ${'error' in outcome ? outcome.error.message : ''}`);
    process.stdout.write(`      killed at ${existing} of ${cardIds.length} cards; client retries needed: ${clientRetries}\n`);
    assert.equal(outcome.value.issued + outcome.value.alreadyExisted, cardIds.length);
    assert.equal((await inspect.client.keys('tl:{s*}:card:crash-*')).length, cardIds.length, 'every card exists once');
    const issued = (await inspect.outbox()).filter((d) => d['type'] === 'card_issued' && d['issuance'] === issuanceId);
    assert.equal(issued.length, cardIds.length, 'one card_issued document per card: none issued twice');
    const again = await via('n3').cards.bulkIssue(request);
    assert.deepEqual([again.issued, again.alreadyExisted], [0, cardIds.length], 'the issuance record was written; a re-run issues nothing');
  });

  it('kill -9 of the node running a refund run half-way: the retried run pays every card exactly once', async () => {
    const survivors = ['n2', 'n3'];
    const runOwner = placementOf(test_shard_count, survivors)[shardOf('program', 'fest-c', test_shard_count)] as string;
    const entry = survivors.find((nodeId) => nodeId !== runOwner) as string;
    let open = 0n;
    for (let i = 0; i < 1_000; i += 1) open += (await inspect.card(`crash-${String(i).padStart(4, '0')}`))?.balanceMinor === 250 ? 1n : 0n;
    assert.equal(open, 1_000n, 'the crash cards are open before the run');
    const sent = via(entry)
      .cards.refundRun('fest-c', 'run-2')
      .then(
        (value) => ({ value }),
        (error: grpc.ServiceError) => ({ error }),
      );
    let paid = 0;
    await waitFor(
      'crash: some cards paid out',
      async () => (paid = (await inspect.client.keys('tl:{s*}:key:k:refund-run:run-2:*')).length) >= 50,
      () => `${paid} paid`,
      20_000,
      5,
    );
    await (nodes.get(runOwner) as ServerProcess).kill9();
    nodes.delete(runOwner);
    let outcome = await sent;
    for (let attempt = 0; 'error' in outcome && attempt < 3; attempt++) {
      outcome = await via(entry)
        .cards.refundRun('fest-c', 'run-2')
        .then(
          (value) => ({ value }),
          (error: grpc.ServiceError) => ({ error }),
        );
    }
    assert.ok('value' in outcome, `the refund run completed: ${'error' in outcome ? outcome.error.message : ''}`);
    process.stdout.write(`      killed ${runOwner} at ${paid} paid cards\n`);
    const crashPayouts = outcome.value.payouts.filter((p) => p.cardId.startsWith('crash-'));
    assert.equal(crashPayouts.length, 1_000, 'every open card is in the payout list');
    assert.ok(
      crashPayouts.every((p) => p.payout?.amountMinor === 350n),
      'each paid balance 250 + deposit 100',
    );
    const cashOuts = (await inspect.outbox()).filter((d) => d['kind'] === 'cash_out' && String(d['key']).startsWith('k:refund-run:run-2:'));
    const perCard = new Map<string, number>();
    for (const d of cashOuts) perCard.set(String(d['card']), (perCard.get(String(d['card'])) ?? 0) + 1);
    const twice = [...perCard].filter(([, n]) => n > 1);
    const approved = cashOuts.filter((d) => d['outcome'] === 'approved').length;
    assert.deepEqual(
      [twice, approved],
      [[], outcome.value.payouts.length],
      `one approved cash-out per payout (${cashOuts.length} documents, ${outcome.value.skipped} skipped)`,
    );
    for (let i = 0; i < 1_000; i += 50) assert.equal((await inspect.card(`crash-${String(i).padStart(4, '0')}`))?.balanceMinor, 0);
  });
});
