// Proves how a card ends, against a real node and real Redis: replacement moves balance, deposit,
// program and holder to a new card (which must not exist, even if an actor cached it as absent)
// and leaves the old one dead for every operation; return / cash-out pays out balance + deposit and
// closes the card, idempotently; the end-of-event refund run pays out a whole program once and
// answers its payout list; the documents balance per card (issued + balance_delta = Redis).
// Races: a replacement racing purchases on the old card, a return racing top-ups - exactly one
// outcome wins per request and money is neither lost nor counted twice.

import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import type { RedisInstance } from '../../tools/devenv/redis';
import type { AuthorizerNode } from '../../services/authorizer/node';
import { CardStatus, DeclineReason, Outcome } from '../../gen/tapline/v1/types';
import { TaplineClient, purchase } from '../../tools/client/tapline-client';
import { CardClient, holdRequest, programConfig } from '../../tools/client/card-client';
import { startInProcessNode, startTestRedis, accessTo } from '../support/harness';
import { connectInspector, type Inspector } from '../support/redis-inspect';

const holder = { name: 'Grace Hopper', idDocumentType: 0, idDocumentNumber: '', phone: '', email: 'grace@example.org' };

describe('replacement, return and the program refund run (real Redis, real gRPC)', function () {
  this.timeout(120_000);
  let redis: RedisInstance;
  let node: AuthorizerNode;
  let client: TaplineClient;
  let cards: CardClient;
  let inspect: Inspector;
  let txn = 1;

  const issue = async (cardId: string, balance: number, programId = 'fest', named = false): Promise<void> => {
    await cards.issue({
      cardId,
      params: { initialBalance: { amountMinor: BigInt(balance), currency: 'EUR' }, programId, deposit: undefined, expiresAtUnixMs: 0n },
      holder: named ? holder : undefined,
      pin: '',
      operatorId: 'ops',
    });
  };

  /** Per card: initial balance of card_issued + sum of balance_delta (derived for v1 kinds) must equal Redis. */
  const assertDocumentsBalance = async (cardIds: readonly string[]): Promise<void> => {
    const docs = await inspect.outbox();
    for (const cardId of cardIds) {
      let total = 0;
      for (const d of docs) {
        if (d['card'] !== cardId) continue;
        if (d['type'] === 'card_issued') total += Number(d['amount']);
        if (d['type'] !== 'transaction' || d['outcome'] !== 'approved') continue;
        const kind = String(d['kind']);
        const derived = kind === 'purchase' ? -Number(d['amount']) : kind === 'top_up' || kind === 'reverse' ? Number(d['amount']) : 0;
        total += d['balance_delta'] === undefined ? derived : Number(d['balance_delta']);
      }
      assert.equal(total, (await inspect.card(cardId))?.balanceMinor, `documents of ${cardId} vs Redis`);
    }
  };

  before(async function () {
    redis = await startTestRedis('card-closing');
    node = await startInProcessNode(redis.url);
    client = new TaplineClient(await accessTo(node));
    cards = new CardClient(await accessTo(node));
    inspect = await connectInspector(redis.url);
    await client.registerTerminal('bar-1', 'bar');
    await cards.defineProgram('fest', programConfig({ depositMinor: 300n }));
  });

  after(async function () {
    client?.close();
    cards?.close();
    await inspect?.close();
    await node?.shutdown();
    await redis?.stop();
  });

  it('replaces a named card: balance, deposit and holder move; the old card is dead; a retry answers the same', async () => {
    await issue('old-1', 4_000, 'fest', true);
    await client.authorize(purchase('bar-1', txn++, 'old-1', 1_000));
    // An actor for the new id that cached "not found" must not hide the new card.
    await assert.rejects(client.balance('new-1'), (e: grpc.ServiceError) => e.code === grpc.status.NOT_FOUND);
    const reply = await cards.replace('old-1', 'new-1');
    assert.equal(reply.alreadyReplaced, false);
    assert.deepEqual(
      [reply.replacement?.balance?.amountMinor, reply.replacement?.deposit?.amountMinor, reply.replacement?.named],
      [3_000n, 300n, true],
    );
    assert.deepEqual(
      [reply.oldCard?.status, reply.oldCard?.balance?.amountMinor, reply.oldCard?.deposit?.amountMinor],
      [CardStatus.CARD_STATUS_REPLACED, 0n, 0n],
    );
    assert.equal((await client.balance('new-1')).balance?.amountMinor, 3_000n);
    assert.equal((await client.authorize(purchase('bar-1', txn++, 'new-1', 500))).outcome, Outcome.OUTCOME_APPROVED);
    assert.equal((await client.authorize(purchase('bar-1', txn++, 'old-1', 1))).declineReason, DeclineReason.DECLINE_REASON_CARD_CLOSED);
    assert.equal(
      (await client.topUp('old-1', 100, { terminalId: 'bar-1', txn: txn++ })).declineReason,
      DeclineReason.DECLINE_REASON_CARD_CLOSED,
    );
    assert.equal((await cards.returnCard('old-1', 'ret-old-1')).declineReason, DeclineReason.DECLINE_REASON_CARD_CLOSED);
    assert.equal((await cards.replace('old-1', 'new-1')).alreadyReplaced, true);
    await assert.rejects(cards.replace('old-1', 'new-2'), (e: grpc.ServiceError) => e.code === grpc.status.FAILED_PRECONDITION);
    const holderRecord = JSON.stringify(await inspect.snapshot());
    assert.ok(holderRecord.includes(':holder:new-1'), 'the holder moved with the card');
    const replaced = (await inspect.outbox()).find((d) => d['type'] === 'card_replaced' && d['card'] === 'old-1');
    assert.deepEqual(
      [replaced?.['replacement'], replaced?.['amount'], replaced?.['deposit'], replaced?.['reason']],
      ['new-1', 3_000, 300, 'damaged'],
    );
    await assertDocumentsBalance(['old-1', 'new-1']);
  });

  it('refuses a replacement onto an existing card, of a blocked card, and of a card with an open hold; Redis unchanged', async () => {
    await issue('old-2', 1_000);
    await issue('taken-2', 1_000);
    await issue('blocked-2', 1_000);
    await cards.changeState({ cardId: 'blocked-2', action: 4, reason: 'fraud', operatorId: 'ops', approverId: '' });
    await issue('held-2', 1_000);
    await client.authorize(holdRequest('pre_authorization', 'bar-1', txn++, 'held-2', 400));
    const before = await inspect.snapshot();
    await assert.rejects(cards.replace('blocked-2', 'new-b2'), (e: grpc.ServiceError) => e.code === grpc.status.FAILED_PRECONDITION);
    await assert.rejects(cards.replace('held-2', 'new-h2'), (e: grpc.ServiceError) => e.code === grpc.status.FAILED_PRECONDITION);
    await assert.rejects(cards.replace('old-2', 'taken-2'), (e: grpc.ServiceError) => e.code === grpc.status.ALREADY_EXISTS);
    await assert.rejects(cards.replace('old-2', 'old-2'), (e: grpc.ServiceError) => e.code === grpc.status.INVALID_ARGUMENT);
    await assert.rejects(cards.replace('no-such-card', 'new-x'), (e: grpc.ServiceError) => e.code === grpc.status.NOT_FOUND);
    assert.equal(await inspect.snapshot(), before);
  });

  it('returns a card: balance + deposit paid out, card closed, idempotent; the document says payout and deltas', async () => {
    await issue('ret-1', 2_500);
    await client.authorize(purchase('bar-1', txn++, 'ret-1', 500));
    const paid = await cards.returnCard('ret-1', 'desk-receipt-1');
    assert.equal(paid.outcome, Outcome.OUTCOME_APPROVED);
    assert.equal(paid.payout?.amountMinor, 2_300n, '2,000 balance + 300 deposit');
    const again = await cards.returnCard('ret-1', 'desk-receipt-1');
    assert.deepEqual([again.replayed, again.transactionId, again.payout?.amountMinor], [true, paid.transactionId, 2_300n]);
    const second = await cards.returnCard('ret-1', 'desk-receipt-2');
    assert.equal(second.declineReason, DeclineReason.DECLINE_REASON_CARD_CLOSED);
    assert.equal((await client.balance('ret-1')).status, CardStatus.CARD_STATUS_CLOSED);
    const stored = (await inspect.outbox()).find((d) => d['key'] === 'k:desk-receipt-1');
    assert.deepEqual(
      [stored?.['kind'], stored?.['payout'], stored?.['balance_delta'], stored?.['deposit_delta']],
      ['cash_out', 2_300, -2_000, -300],
    );
    await assertDocumentsBalance(['ret-1']);
  });

  it('the refund run pays out every open card of a program once and answers the payout list', async () => {
    await cards.defineProgram('fest-end', programConfig({ depositMinor: 100n }));
    for (let i = 0; i < 30; i++) await issue(`end-${String(i).padStart(2, '0')}`, 1_000 + i, 'fest-end', i % 3 === 0);
    await client.authorize(purchase('bar-1', txn++, 'end-00', 1_000));
    await cards.returnCard('end-01', 'early-return');
    await cards.changeState({ cardId: 'end-02', action: 4, reason: 'fraud', operatorId: 'ops', approverId: '' });
    const run = await cards.refundRun('fest-end', 'run-1');
    assert.equal(run.payouts.length, 28, '30 cards, one already returned, one blocked');
    assert.equal(run.skipped, 2);
    const byCard = new Map(run.payouts.map((p) => [p.cardId, p]));
    assert.equal(byCard.get('end-00')?.payout?.amountMinor, 100n, 'spent to zero: only the deposit');
    assert.equal(byCard.get('end-03')?.payout?.amountMinor, 1_103n);
    assert.equal(byCard.get('end-03')?.named, true);
    const expectedTotal = run.payouts.reduce((sum, p) => sum + (p.payout?.amountMinor ?? 0n), 0n);
    assert.deepEqual(run.totals, [{ amountMinor: expectedTotal, currency: 'EUR' }]);
    const again = await cards.refundRun('fest-end', 'run-1');
    assert.deepEqual(
      again.payouts.map((p) => [p.cardId, p.payout?.amountMinor, p.transactionId]),
      run.payouts.map((p) => [p.cardId, p.payout?.amountMinor, p.transactionId]),
    );
    const cashOuts = (await inspect.outbox()).filter(
      (d) => d['kind'] === 'cash_out' && String(d['key']).startsWith('k:refund-run:run-1:') && d['outcome'] === 'approved',
    );
    assert.equal(cashOuts.length, 28, 'the second run paid nothing twice');
  });

  it('race: a replacement racing purchases on the old card - each purchase lands on one side, money is conserved', async () => {
    for (let round = 0; round < 5; round++) {
      const oldId = `race-old-${round}`;
      const newId = `race-new-${round}`;
      await issue(oldId, 10_000);
      const purchases = Array.from({ length: 20 }, () => client.authorize(purchase('bar-1', txn++, oldId, 100)));
      const replacing = cards.replace(oldId, newId);
      const [replies, replaced] = await Promise.all([Promise.all(purchases), replacing]);
      const approved = replies.filter((r) => r.outcome === Outcome.OUTCOME_APPROVED).length;
      for (const reply of replies)
        if (reply.outcome !== Outcome.OUTCOME_APPROVED) assert.equal(reply.declineReason, DeclineReason.DECLINE_REASON_CARD_CLOSED);
      assert.equal(replaced.replacement?.balance?.amountMinor, BigInt(10_000 - 100 * approved), `round ${round}`);
      assert.equal((await inspect.card(oldId))?.balanceMinor, 0);
      assert.equal((await inspect.card(newId))?.balanceMinor, 10_000 - 100 * approved);
      await assertDocumentsBalance([oldId, newId]);
    }
  });

  it('race: a return racing top-ups - each top-up is either paid out or declined, never lost', async () => {
    for (let round = 0; round < 5; round++) {
      const cardId = `race-ret-${round}`;
      await issue(cardId, 1_000);
      const topUps = Array.from({ length: 10 }, () => client.topUp(cardId, 50, { terminalId: 'bar-1', txn: txn++ }));
      const returning = cards.returnCard(cardId, `race-return-${round}`);
      const [replies, returned] = await Promise.all([Promise.all(topUps), returning]);
      const approvedTopUps = replies.filter((r) => r.outcome === Outcome.OUTCOME_APPROVED).length;
      assert.equal(returned.payout?.amountMinor, BigInt(1_000 + 300 + 50 * approvedTopUps), `round ${round}`);
      assert.equal((await inspect.card(cardId))?.balanceMinor, 0);
      await assertDocumentsBalance([cardId]);
    }
  });
});
