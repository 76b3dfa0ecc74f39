// Proves on-tab accounts against a real node and real Redis: a named card with a tab limit spends
// on credit (its balance goes negative, never below -limit: INSUFFICIENT_FUNDS past it), the debt
// is settled by invoice or direct debit, idempotently by reference and never beyond what is owed
// (SETTLEMENT_EXCEEDS_DEBT); only named cards get a tab; a card that owes cannot lower its limit
// below the debt nor be returned; settlement documents carry balance_delta and the account balance.

import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import type { RedisInstance } from '../../tools/devenv/redis';
import type { AuthorizerNode } from '../../services/authorizer/node';
import { DeclineReason, Outcome } from '../../gen/tapline/v1/types';
import { SettlementMethod } from '../../gen/tapline/v1/cards';
import { TaplineClient, purchase } from '../../tools/client/tapline-client';
import { CardClient } from '../../tools/client/card-client';
import { startInProcessNode, startTestRedis, accessTo } from '../support/harness';
import { connectInspector, type Inspector } from '../support/redis-inspect';

const holder = { name: 'Hotel Guest', idDocumentType: 0, idDocumentNumber: '', phone: '', email: '' };

describe('on-tab accounts (real Redis, real gRPC)', function () {
  this.timeout(60_000);
  let redis: RedisInstance;
  let node: AuthorizerNode;
  let client: TaplineClient;
  let cards: CardClient;
  let inspect: Inspector;
  let txn = 1;

  const issue = async (cardId: string, named: boolean): Promise<void> => {
    await cards.issue({
      cardId,
      params: { initialBalance: { amountMinor: 0n, currency: 'EUR' }, programId: 'resort', deposit: undefined, expiresAtUnixMs: 0n },
      holder: named ? holder : undefined,
      pin: '',
      operatorId: 'ops',
    });
  };

  before(async function () {
    redis = await startTestRedis('tabs');
    node = await startInProcessNode(redis.url);
    client = new TaplineClient(await accessTo(node));
    cards = new CardClient(await accessTo(node));
    inspect = await connectInspector(redis.url);
    await client.registerTerminal('spa-1', 'spa');
  });

  after(async function () {
    client?.close();
    cards?.close();
    await inspect?.close();
    await node?.shutdown();
    await redis?.stop();
  });

  it('spends on credit down to -limit, settles by invoice and direct debit, idempotently, never beyond the debt', async () => {
    await issue('tab-1', true);
    assert.equal((await cards.setTabLimit('tab-1', 20_000)).card?.tabLimit?.amountMinor, 20_000n);
    assert.equal((await client.authorize(purchase('spa-1', txn++, 'tab-1', 15_000))).outcome, Outcome.OUTCOME_APPROVED);
    const past = await client.authorize(purchase('spa-1', txn++, 'tab-1', 5_001));
    assert.equal(past.declineReason, DeclineReason.DECLINE_REASON_INSUFFICIENT_FUNDS);
    assert.equal((await client.authorize(purchase('spa-1', txn++, 'tab-1', 5_000))).outcome, Outcome.OUTCOME_APPROVED);
    const owing = await client.balance('tab-1');
    assert.deepEqual([owing.balance?.amountMinor, owing.available?.amountMinor], [-20_000n, 0n]);
    const invoice = await cards.settleTab('tab-1', 12_000, 'INV-2026-001');
    assert.deepEqual([invoice.outcome, invoice.balance?.amountMinor], [Outcome.OUTCOME_APPROVED, -8_000n]);
    const again = await cards.settleTab('tab-1', 12_000, 'INV-2026-001');
    assert.deepEqual([again.replayed, again.transactionId, again.balance?.amountMinor], [true, invoice.transactionId, -8_000n]);
    const tooMuch = await cards.settleTab('tab-1', 8_001, 'DD-7', SettlementMethod.SETTLEMENT_METHOD_DIRECT_DEBIT);
    assert.equal(tooMuch.declineReason, DeclineReason.DECLINE_REASON_SETTLEMENT_EXCEEDS_DEBT);
    const debit = await cards.settleTab('tab-1', 8_000, 'DD-8', SettlementMethod.SETTLEMENT_METHOD_DIRECT_DEBIT);
    assert.equal(debit.balance?.amountMinor, 0n);
    const stored = (await inspect.outbox()).find((d) => d['key'] === 'k:tab:INV-2026-001');
    assert.deepEqual(
      [stored?.['kind'], stored?.['balance_delta'], stored?.['account_balance_after'], stored?.['source']],
      ['tab_settlement', 12_000, -8_000, 'invoice'],
    );
  });

  it('gives a tab to named cards only; a card that owes keeps its limit and cannot be returned', async () => {
    await issue('tab-anon', false);
    await assert.rejects(cards.setTabLimit('tab-anon', 1_000), (e: grpc.ServiceError) => e.code === grpc.status.FAILED_PRECONDITION);
    await issue('tab-2', true);
    await cards.setTabLimit('tab-2', 5_000);
    await client.authorize(purchase('spa-1', txn++, 'tab-2', 3_000));
    const before = await inspect.snapshot();
    await assert.rejects(cards.setTabLimit('tab-2', 2_999), (e: grpc.ServiceError) => e.code === grpc.status.FAILED_PRECONDITION);
    assert.equal(await inspect.snapshot(), before);
    assert.equal((await cards.returnCard('tab-2', 'tab-2-return')).declineRule, 'tab_open');
    await assert.rejects(cards.settleTab('tab-2', 0, 'zero'), (e: grpc.ServiceError) => e.code === grpc.status.INVALID_ARGUMENT);
    await assert.rejects(cards.settleTab('tab-2', 10, 'bad ref'), (e: grpc.ServiceError) => e.code === grpc.status.INVALID_ARGUMENT);
  });
});
