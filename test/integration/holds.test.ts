// Proves holds through the public API against a real node and real Redis: a pre-authorization
// reserves money (available = balance - holds, in the reply, GetBalance and for purchases),
// incremental holds add to it, completions for a lower, equal and higher-within-tolerance amount
// debit exactly that and release the hold, an over-tolerance completion and a completion of an
// unknown or finished hold are declined with their reasons, a void releases, a reversal of the
// pre-authorization releases and a reversal of the completion refunds, a hold expires (and is
// settled by a hold_expiry document on the next touch), and two completions of one hold racing
// on the wire produce exactly one debit. A second suite passivates a card with an open hold and
// shows that the hold has expired when the card is loaded again. Each step checks the documents written (balance_delta,
// held_delta, hold) and every retry returns the original answer.

import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import type { RedisInstance } from '../../tools/devenv/redis';
import type { AuthorizerNode } from '../../services/authorizer/node';
import { DeclineReason, Outcome } from '../../gen/tapline/v1/types';
import { ReverseResult } from '../../gen/tapline/v1/authorization';
import { TaplineClient, purchase } from '../../tools/client/tapline-client';
import { CardClient, holdRequest, programConfig } from '../../tools/client/card-client';
import { startInProcessNode, startTestRedis, waitFor, accessTo } from '../support/harness';
import { connectInspector, type Inspector } from '../support/redis-inspect';

describe('holds: pre-authorization, incremental, completion, void, reversal, expiry (real Redis, real gRPC)', function () {
  this.timeout(60_000);
  let redis: RedisInstance;
  let node: AuthorizerNode;
  let client: TaplineClient;
  let cards: CardClient;
  let inspect: Inspector;
  let txn = 1;

  const issue = async (cardId: string, balance: number, programId = 'hotel'): Promise<void> => {
    await cards.issue({
      cardId,
      params: { initialBalance: { amountMinor: BigInt(balance), currency: 'EUR' }, programId, deposit: undefined, expiresAtUnixMs: 0n },
      holder: undefined,
      pin: '',
      operatorId: 'ops',
    });
  };
  const doc = async (terminalTxn: number): Promise<Record<string, unknown> | undefined> =>
    (await inspect.outbox()).find((d) => d['key'] === `t:pos-1:${terminalTxn}`);

  before(async function () {
    redis = await startTestRedis('holds');
    node = await startInProcessNode(redis.url);
    client = new TaplineClient(await accessTo(node));
    cards = new CardClient(await accessTo(node));
    inspect = await connectInspector(redis.url);
    await client.registerTerminal('pos-1', 'hotel-desk');
    await cards.defineProgram('hotel', programConfig({ completionToleranceBp: 1_500 }));
    await cards.defineProgram('short-holds', programConfig({ holdExpiryMs: 300n }));
  });

  after(async function () {
    client?.close();
    cards?.close();
    await inspect?.close();
    await node?.shutdown();
    await redis?.stop();
  });

  it('a pre-authorization holds money: the reply, GetBalance and purchases see available = balance - holds', async () => {
    await issue('h-basic', 10_000);
    const pre = txn++;
    const reply = await client.authorize(holdRequest('pre_authorization', 'pos-1', pre, 'h-basic', 3_000));
    assert.equal(reply.outcome, Outcome.OUTCOME_APPROVED);
    assert.equal(reply.holdAmount?.amountMinor, 3_000n);
    assert.equal(reply.balanceAfter?.amountMinor, 7_000n);
    assert.equal(reply.ledgerBalanceAfter?.amountMinor, 10_000n);
    assert.ok(reply.holdExpiresAtUnixMs > BigInt(Date.now()));
    const balance = await client.balance('h-basic');
    assert.deepEqual([balance.balance?.amountMinor, balance.available?.amountMinor], [10_000n, 7_000n]);
    assert.equal(
      (await client.authorize(purchase('pos-1', txn++, 'h-basic', 7_001))).declineReason,
      DeclineReason.DECLINE_REASON_INSUFFICIENT_FUNDS,
    );
    const stored = await doc(pre);
    assert.deepEqual(
      [stored?.['kind'], stored?.['balance_delta'], stored?.['held_delta'], stored?.['hold']],
      ['pre_authorization', 0, 3_000, `t:pos-1:${pre}`],
    );
    const retry = await client.authorize(holdRequest('pre_authorization', 'pos-1', pre, 'h-basic', 3_000));
    assert.equal(retry.replayed, true);
    assert.equal(retry.transactionId, reply.transactionId);
    assert.equal(retry.holdAmount?.amountMinor, 3_000n);
    assert.equal((await client.balance('h-basic')).available?.amountMinor, 7_000n, 'a retry holds nothing twice');
  });

  it('incremental, then a completion above the hold within tolerance debits exactly that and releases the hold', async () => {
    await issue('h-complete', 10_000);
    const pre = txn++;
    await client.authorize(holdRequest('pre_authorization', 'pos-1', pre, 'h-complete', 2_000));
    const inc = await client.authorize(holdRequest('incremental', 'pos-1', txn++, 'h-complete', 1_000, { terminalId: 'pos-1', txn: pre }));
    assert.equal(inc.holdAmount?.amountMinor, 3_000n);
    assert.equal(inc.balanceAfter?.amountMinor, 7_000n);
    const over = await client.authorize(holdRequest('completion', 'pos-1', txn++, 'h-complete', 3_451, { terminalId: 'pos-1', txn: pre }));
    assert.equal(over.declineReason, DeclineReason.DECLINE_REASON_COMPLETION_EXCEEDS_HOLD, '15 % over 3,000 is 3,450');
    const completionTxn = txn++;
    const done = await client.authorize(
      holdRequest('completion', 'pos-1', completionTxn, 'h-complete', 3_450, { terminalId: 'pos-1', txn: pre }),
    );
    assert.equal(done.outcome, Outcome.OUTCOME_APPROVED);
    assert.equal(done.approvedAmount?.amountMinor, 3_450n);
    assert.equal(done.balanceAfter?.amountMinor, 6_550n);
    assert.equal(done.holdAmount?.amountMinor, 3_000n, 'the hold released');
    const stored = await doc(completionTxn);
    assert.deepEqual(
      [stored?.['kind'], stored?.['balance_delta'], stored?.['held_delta'], stored?.['amount']],
      ['completion', -3_450, -3_000, 3_450],
    );
    const second = await client.authorize(holdRequest('completion', 'pos-1', txn++, 'h-complete', 10, { terminalId: 'pos-1', txn: pre }));
    assert.equal(second.declineReason, DeclineReason.DECLINE_REASON_HOLD_NOT_FOUND);
    const balance = await client.balance('h-complete');
    assert.deepEqual([balance.balance?.amountMinor, balance.available?.amountMinor], [6_550n, 6_550n]);
  });

  it('a completion below the hold releases the rest; an unknown hold is declined HOLD_NOT_FOUND', async () => {
    await issue('h-lower', 5_000);
    const pre = txn++;
    await client.authorize(holdRequest('pre_authorization', 'pos-1', pre, 'h-lower', 4_000));
    const done = await client.authorize(holdRequest('completion', 'pos-1', txn++, 'h-lower', 1_234, { terminalId: 'pos-1', txn: pre }));
    assert.equal(done.balanceAfter?.amountMinor, 3_766n);
    const unknown = await client.authorize(holdRequest('completion', 'pos-1', txn++, 'h-lower', 1, { terminalId: 'pos-1', txn: 999_999 }));
    assert.equal(unknown.declineReason, DeclineReason.DECLINE_REASON_HOLD_NOT_FOUND);
    assert.equal(unknown.declineRule, 'hold');
  });

  it('void releases a hold; a second void is declined; the reply and document show what was released', async () => {
    await issue('h-void', 5_000);
    const pre = txn++;
    await client.authorize(holdRequest('pre_authorization', 'pos-1', pre, 'h-void', 1_500));
    const voidTxn = txn++;
    const released = await cards.voidHold('pos-1', voidTxn, 'h-void', { terminalId: 'pos-1', txn: pre });
    assert.equal(released.outcome, Outcome.OUTCOME_APPROVED);
    assert.equal(released.releasedAmount?.amountMinor, 1_500n);
    assert.equal(released.balanceAfter?.amountMinor, 5_000n);
    const stored = await doc(voidTxn);
    assert.deepEqual([stored?.['kind'], stored?.['balance_delta'], stored?.['held_delta']], ['void', 0, -1_500]);
    const again = await cards.voidHold('pos-1', txn++, 'h-void', { terminalId: 'pos-1', txn: pre });
    assert.equal(again.declineReason, DeclineReason.DECLINE_REASON_HOLD_NOT_FOUND);
    assert.equal((await cards.voidHold('pos-1', voidTxn, 'h-void', { terminalId: 'pos-1', txn: pre })).replayed, true);
  });

  it('reversing a pre-authorization releases its hold; reversing a completion refunds it; each only once', async () => {
    await issue('h-reverse', 5_000);
    const pre = txn++;
    await client.authorize(holdRequest('pre_authorization', 'pos-1', pre, 'h-reverse', 2_000));
    const reversal = await client.reverse('pos-1', txn++, 'h-reverse', { terminalId: 'pos-1', txn: pre });
    assert.equal(reversal.result, ReverseResult.REVERSE_RESULT_REVERSED);
    assert.equal(reversal.reversedAmount?.amountMinor, 2_000n);
    assert.equal((await client.balance('h-reverse')).available?.amountMinor, 5_000n);
    const twice = await client.reverse('pos-1', txn++, 'h-reverse', { terminalId: 'pos-1', txn: pre });
    assert.equal(twice.result, ReverseResult.REVERSE_RESULT_ALREADY_REVERSED);
    const pre2 = txn++;
    await client.authorize(holdRequest('pre_authorization', 'pos-1', pre2, 'h-reverse', 1_000));
    const completion = txn++;
    await client.authorize(holdRequest('completion', 'pos-1', completion, 'h-reverse', 800, { terminalId: 'pos-1', txn: pre2 }));
    assert.equal((await client.balance('h-reverse')).balance?.amountMinor, 4_200n);
    const refund = await client.reverse('pos-1', txn++, 'h-reverse', { terminalId: 'pos-1', txn: completion });
    assert.equal(refund.result, ReverseResult.REVERSE_RESULT_REVERSED);
    assert.equal(refund.reversedAmount?.amountMinor, 800n);
    assert.equal((await client.balance('h-reverse')).balance?.amountMinor, 5_000n);
    const completedHold = await client.reverse('pos-1', txn++, 'h-reverse', { terminalId: 'pos-1', txn: pre2 });
    assert.equal(completedHold.result, ReverseResult.REVERSE_RESULT_NOTHING_TO_REVERSE, 'the completed hold has nothing left to release');
    assert.equal((await client.balance('h-reverse')).balance?.amountMinor, 5_000n);
  });

  it('a hold past its expiry stops counting at once and is settled by a hold_expiry document on the next use', async () => {
    await issue('h-expire', 1_000, 'short-holds');
    const pre = txn++;
    await client.authorize(holdRequest('pre_authorization', 'pos-1', pre, 'h-expire', 600));
    let available = 0n;
    await waitFor(
      'hold expiry',
      async () => {
        available = (await client.balance('h-expire')).available?.amountMinor ?? 0n;
        return available === 1_000n;
      },
      () => `available ${available}, expected 1000 once the 300 ms hold expired`,
      10_000,
    );
    const late = await client.authorize(holdRequest('completion', 'pos-1', txn++, 'h-expire', 600, { terminalId: 'pos-1', txn: pre }));
    assert.equal(late.declineReason, DeclineReason.DECLINE_REASON_HOLD_NOT_FOUND);
    const spend = await client.authorize(purchase('pos-1', txn++, 'h-expire', 1_000));
    assert.equal(spend.outcome, Outcome.OUTCOME_APPROVED);
    const expiry = (await inspect.outbox()).filter((d) => d['kind'] === 'hold_expiry' && d['card'] === 'h-expire');
    assert.equal(expiry.length, 1);
    assert.deepEqual([expiry[0]?.['held_delta'], expiry[0]?.['balance_delta'], expiry[0]?.['hold']], [-600, 0, `t:pos-1:${pre}`]);
  });

  it('a program with partial holds holds what is available and says how much', async () => {
    await cards.defineProgram('partial', programConfig({ partialHolds: true }));
    await issue('h-partial', 1_000, 'partial');
    const reply = await client.authorize(holdRequest('pre_authorization', 'pos-1', txn++, 'h-partial', 1_500));
    assert.deepEqual(
      [reply.outcome, reply.approvedAmount?.amountMinor, reply.holdAmount?.amountMinor, reply.balanceAfter?.amountMinor],
      [Outcome.OUTCOME_APPROVED, 1_000n, 1_000n, 0n],
    );
    const none = await client.authorize(holdRequest('pre_authorization', 'pos-1', txn++, 'h-partial', 1));
    assert.equal(none.declineReason, DeclineReason.DECLINE_REASON_INSUFFICIENT_FUNDS);
  });

  it('two completions of one hold racing on the wire: exactly one debits, the other is declined', async () => {
    for (let round = 0; round < 5; round++) {
      const cardId = `h-race-${round}`;
      await issue(cardId, 10_000);
      const pre = txn++;
      await client.authorize(holdRequest('pre_authorization', 'pos-1', pre, cardId, 5_000));
      const [a, b] = await Promise.all([
        client.authorize(holdRequest('completion', 'pos-1', txn++, cardId, 4_000, { terminalId: 'pos-1', txn: pre })),
        client.authorize(holdRequest('completion', 'pos-1', txn++, cardId, 5_000, { terminalId: 'pos-1', txn: pre })),
      ]);
      const approved = [a, b].filter((r) => r.outcome === Outcome.OUTCOME_APPROVED);
      assert.equal(approved.length, 1, `round ${round}`);
      const balance = await client.balance(cardId);
      assert.equal(balance.balance?.amountMinor, 10_000n - (approved[0]?.approvedAmount?.amountMinor ?? 0n));
      assert.equal(balance.available?.amountMinor, balance.balance?.amountMinor);
    }
  });

  it('refuses malformed hold requests (no original, unknown card) with their status, Redis unchanged', async () => {
    await issue('h-bad', 1_000);
    const before = await inspect.snapshot();
    const noOriginal = holdRequest('completion', 'pos-1', txn++, 'h-bad', 10);
    await assert.rejects(client.authorize(noOriginal), (error: grpc.ServiceError) => error.code === grpc.status.INVALID_ARGUMENT);
    await assert.rejects(
      client.authorize(holdRequest('pre_authorization', 'pos-1', txn++, 'no-such-card', 10)),
      (error: grpc.ServiceError) => error.code === grpc.status.NOT_FOUND,
    );
    await assert.rejects(
      cards.voidHold('pos-1', txn++, 'no-such-card', { terminalId: 'pos-1', txn: 1 }),
      (error: grpc.ServiceError) => error.code === grpc.status.NOT_FOUND,
    );
    assert.equal(await inspect.snapshot(), before);
  });
});

describe('hold expiry on a passivated card (real Redis, real gRPC)', function () {
  this.timeout(60_000);
  let redis: RedisInstance;
  let node: AuthorizerNode;
  let client: TaplineClient;
  let cards: CardClient;
  let inspect: Inspector;

  before(async function () {
    redis = await startTestRedis('holds-passivated');
    node = await startInProcessNode(redis.url, { TAPLINE_PASSIVATE_AFTER_MS: '1000', TAPLINE_PASSIVATION_SWEEP_MS: '100' });
    client = new TaplineClient(await accessTo(node));
    cards = new CardClient(await accessTo(node));
    inspect = await connectInspector(redis.url);
    await client.registerTerminal('pos-1', 'hotel-desk');
    await cards.defineProgram('short-holds', programConfig({ holdExpiryMs: 300n }));
  });

  after(async function () {
    client?.close();
    cards?.close();
    await inspect?.close();
    await node?.shutdown();
    await redis?.stop();
  });

  it('a card passivated with an open hold finds it expired when loaded again, and settles it on the next payment', async () => {
    await cards.issue({
      cardId: 'h-sleep',
      params: {
        initialBalance: { amountMinor: 1_000n, currency: 'EUR' },
        programId: 'short-holds',
        deposit: undefined,
        expiresAtUnixMs: 0n,
      },
      holder: undefined,
      pin: '',
      operatorId: 'ops',
    });
    await client.authorize(holdRequest('pre_authorization', 'pos-1', 1, 'h-sleep', 700));
    await waitFor(
      'passivation',
      () => node.region.cards.size === 0,
      () => `${node.region.cards.size} card actors still active`,
      15_000,
    );
    const balance = await client.balance('h-sleep');
    assert.deepEqual([balance.balance?.amountMinor, balance.available?.amountMinor], [1_000n, 1_000n], 'the expired hold no longer counts');
    assert.equal((await client.authorize(purchase('pos-1', 2, 'h-sleep', 1_000))).outcome, Outcome.OUTCOME_APPROVED);
    const expiry = (await inspect.outbox()).filter((d) => d['kind'] === 'hold_expiry' && d['card'] === 'h-sleep');
    assert.deepEqual(
      expiry.map((d) => d['held_delta']),
      [-700],
    );
  });
});
