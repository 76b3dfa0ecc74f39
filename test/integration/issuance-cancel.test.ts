// Proves cancelling a card's issuance against a real node over gRPC and real Redis: a card that
// has moved no money goes back to stock (unissued): every call but IssueCard answers NOT_FOUND, a
// named card's holder record is blanked, the initial balance and deposit are answered to hand back,
// and a repeat changes nothing. An unissued card is issued again (named for someone else, or
// anonymous); a retried bulk issuance does not issue its cancelled card again. A card that has
// moved money (even back to its initial balance), or is blocked or lost, is refused and unchanged;
// bad input is refused naming the field and writes nothing. Per card, the documents (issued −
// cancelled + every balance_delta) equal Redis.

import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { shardOf } from '../../actors/sharding/shard-key';
import { decodeCardHolder, decodeCardState } from '../../actors/state/card';
import { CardAction } from '../../gen/tapline/v1/cards';
import { CardStatus, Outcome } from '../../gen/tapline/v1/types';
import type { AuthorizerNode } from '../../services/authorizer/node';
import { cardKey, recordKey } from '../../services/authorizer/store/keys';
import { CardClient, programConfig } from '../../tools/client/card-client';
import { purchase, TaplineClient } from '../../tools/client/tapline-client';
import type { RedisInstance } from '../../tools/devenv/redis';
import { accessTo, startInProcessNode, startTestRedis, test_shard_count } from '../support/harness';
import { connectInspector, type Inspector } from '../support/redis-inspect';

const ada = { name: 'Ada Lovelace', idDocumentType: 0, idDocumentNumber: '', phone: '+31600000001', email: 'ada@example.org' };
const bob = { name: 'Bob Noyce', idDocumentType: 0, idDocumentNumber: '', phone: '', email: 'bob@example.org' };

const isCode =
  (code: grpc.status) =>
  (error: grpc.ServiceError): boolean => {
    assert.equal(error.code, code, error.message);
    return true;
  };

describe('cancelling a card issuance (real node over gRPC, real Redis)', function () {
  this.timeout(60_000);
  let redis: RedisInstance;
  let node: AuthorizerNode;
  let client: TaplineClient;
  let cards: CardClient;
  let inspect: Inspector;
  let txn = 1;

  const issue = (cardId: string, balance: number, holder?: typeof ada, pin = ''): Promise<unknown> =>
    cards.issue({
      cardId,
      params: {
        initialBalance: { amountMinor: BigInt(balance), currency: 'EUR' },
        programId: 'ic',
        deposit: undefined,
        expiresAtUnixMs: 0n,
      },
      holder,
      pin,
      operatorId: 'desk-1',
    });
  const stored = async (cardId: string): Promise<Record<string, unknown>> => {
    const data = await inspect.client.hGet(cardKey(shardOf('card', cardId, test_shard_count), cardId), 'd');
    assert.ok(typeof data === 'string', `${cardId} is stored`);
    return decodeCardState(data) as unknown as Record<string, unknown>;
  };
  const holderOf = async (cardId: string): Promise<unknown> => {
    const data = await inspect.client.hGet(recordKey(shardOf('card', cardId, test_shard_count), 'holder', cardId), 'd');
    return typeof data === 'string' ? decodeCardHolder(data) : undefined;
  };

  before(async function () {
    redis = await startTestRedis('issuance-cancel');
    node = await startInProcessNode(redis.url, { TAPLINE_PIN_SECRET: 'issuance-cancel-pin-secret' });
    client = new TaplineClient(await accessTo(node));
    cards = new CardClient(await accessTo(node));
    inspect = await connectInspector(redis.url);
    await client.registerTerminal('desk', 'fest-bar');
    await cards.defineProgram('ic', programConfig({ depositMinor: 300n }));
  });

  after(async function () {
    client?.close();
    cards?.close();
    await inspect?.close();
    await node?.shutdown();
    await redis?.stop();
  });

  it('puts a named card back into stock: NOT_FOUND to every call but IssueCard, holder blanked, amounts answered; a repeat changes nothing', async () => {
    await issue('ic-named', 2_000, ada, '1234');
    const reply = await cards.cancelIssuance('ic-named', 'sold to the wrong person');
    assert.equal(reply.previous, CardStatus.CARD_STATUS_ACTIVE);
    assert.deepEqual(
      [reply.balance?.amountMinor, reply.deposit?.amountMinor, reply.balance?.currency, reply.alreadyUnissued],
      [2_000n, 300n, 'EUR', false],
    );
    const state = await stored('ic-named');
    assert.deepEqual(
      [state['status'], state['balanceMinor'], state['programId'], state['profile'], state['unmoved']],
      ['unissued', 0, '', undefined, undefined],
      'stock: nothing on the card, no program, PIN or holder kind',
    );
    assert.deepEqual(await holderOf('ic-named'), { name: '', idDocumentType: '', idDocumentNumber: '', phone: '', email: '' });
    const notFound = isCode(grpc.status.NOT_FOUND);
    await assert.rejects(cards.getCard('ic-named'), notFound);
    await assert.rejects(client.balance('ic-named'), notFound);
    await assert.rejects(client.authorize(purchase('desk', txn++, 'ic-named', 100)), notFound);
    await assert.rejects(client.topUp('ic-named', 100, { terminalId: 'desk', txn: txn++ }), notFound);
    await assert.rejects(
      cards.changeState({ cardId: 'ic-named', action: CardAction.CARD_ACTION_FREEZE, reason: 'x', operatorId: 'ops', approverId: '' }),
      notFound,
    );
    await assert.rejects(cards.returnCard('ic-named', 'ret-ic-1'), notFound);
    await assert.rejects(cards.replace('ic-named', 'ic-named-new'), notFound);
    await assert.rejects(cards.setPin('ic-named', '9999', '', true), notFound);
    await assert.rejects(client.setCardStatus('ic-named', CardStatus.CARD_STATUS_FROZEN), notFound);
    const before = await inspect.snapshot();
    const again = await cards.cancelIssuance('ic-named');
    assert.equal(again.previous, CardStatus.CARD_STATUS_UNISSUED);
    assert.deepEqual([again.balance?.amountMinor, again.deposit?.amountMinor, again.alreadyUnissued], [0n, 0n, true]);
    assert.equal(await inspect.snapshot(), before, 'a repeat writes nothing');
    const documents = (await inspect.outbox()).filter((d) => d['type'] === 'card_issuance_cancelled' && d['card'] === 'ic-named');
    assert.equal(documents.length, 1);
    assert.deepEqual(
      [
        documents[0]?.['amount'],
        documents[0]?.['deposit'],
        documents[0]?.['program'],
        documents[0]?.['operator'],
        documents[0]?.['reason'],
      ],
      [2_000, 300, 'ic', 'dev-issuer_admin', 'sold to the wrong person'],
    );
  });

  it('issues an unissued card again (named for another holder), and that issue can be cancelled in turn', async () => {
    await issue('ic-again', 1_000, ada);
    await cards.cancelIssuance('ic-again');
    await issue('ic-again', 1_500, bob);
    const card = await cards.getCard('ic-again');
    assert.equal(card.card?.balance?.amountMinor, 1_500n);
    assert.equal(((await holderOf('ic-again')) as { name: string }).name, 'Bob Noyce');
    const second = await cards.cancelIssuance('ic-again');
    assert.deepEqual([second.balance?.amountMinor, second.alreadyUnissued], [1_500n, false]);
    await issue('ic-again', 700);
    assert.equal((await client.balance('ic-again')).balance?.amountMinor, 700n);
  });

  it('refuses a card that has moved money (even back to its initial balance), a blocked or lost one; cancels a frozen one', async () => {
    const refused = isCode(grpc.status.FAILED_PRECONDITION);
    await issue('ic-moved', 2_000);
    const sale = txn++;
    assert.equal((await client.authorize(purchase('desk', sale, 'ic-moved', 500))).outcome, Outcome.OUTCOME_APPROVED);
    await client.reverse('desk', txn++, 'ic-moved', { terminalId: 'desk', txn: sale });
    assert.equal((await client.balance('ic-moved')).balance?.amountMinor, 2_000n);
    await issue('ic-topped', 0);
    await client.topUp('ic-topped', 1_000, { terminalId: 'desk', txn: txn++ });
    await issue('ic-blocked', 1_000);
    await cards.changeState({ cardId: 'ic-blocked', action: CardAction.CARD_ACTION_BLOCK, reason: 'x', operatorId: 'ops', approverId: '' });
    await issue('ic-lost', 1_000, ada);
    await cards.changeState({
      cardId: 'ic-lost',
      action: CardAction.CARD_ACTION_REPORT_LOST,
      reason: 'x',
      operatorId: 'ops',
      approverId: '',
    });
    const before = await inspect.snapshot();
    for (const cardId of ['ic-moved', 'ic-topped', 'ic-blocked', 'ic-lost']) await assert.rejects(cards.cancelIssuance(cardId), refused);
    assert.equal(await inspect.snapshot(), before, 'refusals write nothing');
    // A declined purchase moves nothing; freezing is no movement either.
    await issue('ic-frozen', 300);
    assert.equal((await client.authorize(purchase('desk', txn++, 'ic-frozen', 5_000))).outcome, Outcome.OUTCOME_DECLINED);
    await cards.changeState({ cardId: 'ic-frozen', action: CardAction.CARD_ACTION_FREEZE, reason: 'x', operatorId: 'ops', approverId: '' });
    const frozen = await cards.cancelIssuance('ic-frozen');
    assert.deepEqual([frozen.previous, frozen.balance?.amountMinor], [CardStatus.CARD_STATUS_FROZEN, 300n]);
  });

  it('a retried bulk issuance does not issue its cancelled card again; a new issue does', async () => {
    const bulk = {
      issuanceId: 'ic-box',
      cardIds: ['ic-b1', 'ic-b2'],
      params: { initialBalance: { amountMinor: 500n, currency: 'EUR' }, programId: 'ic', deposit: undefined, expiresAtUnixMs: 0n },
      operatorId: 'ops',
    };
    assert.equal((await cards.bulkIssue(bulk)).issued, 2);
    await cards.cancelIssuance('ic-b1');
    const retried = await cards.bulkIssue(bulk);
    assert.deepEqual([retried.issued, retried.alreadyExisted], [0, 2]);
    await assert.rejects(cards.getCard('ic-b1'), isCode(grpc.status.NOT_FOUND));
    await issue('ic-b1', 900);
    assert.equal((await client.balance('ic-b1')).balance?.amountMinor, 900n);
  });

  it('refuses bad input naming the field and writes nothing; an unknown card is NOT_FOUND', async () => {
    await issue('ic-bad', 100);
    const before = await inspect.snapshot();
    const invalid = (field: string) => (error: grpc.ServiceError) => {
      assert.equal(error.code, grpc.status.INVALID_ARGUMENT, error.message);
      assert.match(error.details, new RegExp(field));
      return true;
    };
    await assert.rejects(cards.cancelIssuance('ic-bad', ''), invalid('reason'));
    await assert.rejects(cards.cancelIssuance('ic-bad', 'x'.repeat(300)), invalid('reason'));
    await assert.rejects(cards.cancelIssuance('ic bad'), invalid('card_id'));
    await assert.rejects(cards.cancelIssuance('ic-nobody'), isCode(grpc.status.NOT_FOUND));
    // No status change reaches "unissued" but this call.
    await assert.rejects(client.setCardStatus('ic-bad', CardStatus.CARD_STATUS_UNISSUED), isCode(grpc.status.INVALID_ARGUMENT));
    assert.equal(await inspect.snapshot(), before);
  });

  it('per card, issued − cancelled + every balance_delta of the documents equals Redis', async () => {
    const documents = await inspect.outbox();
    const cardIds = [...new Set(documents.map((d) => d['card']).filter((card): card is string => typeof card === 'string'))];
    assert.ok(cardIds.length >= 10, cardIds.join(' '));
    for (const cardId of cardIds) {
      let total = 0;
      for (const d of documents) {
        if (d['card'] !== cardId) continue;
        if (d['type'] === 'card_issued') total += Number(d['amount']);
        if (d['type'] === 'card_issuance_cancelled') total -= Number(d['amount']);
        if (d['type'] !== 'transaction' || d['outcome'] !== 'approved') continue;
        const kind = String(d['kind']);
        const derived = kind === 'purchase' ? -Number(d['amount']) : kind === 'top_up' || kind === 'reverse' ? Number(d['amount']) : 0;
        total += d['balance_delta'] === undefined ? derived : Number(d['balance_delta']);
      }
      assert.equal(total, (await inspect.card(cardId))?.balanceMinor, `documents of ${cardId} vs Redis`);
    }
  });
});
