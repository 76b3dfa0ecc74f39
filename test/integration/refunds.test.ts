// Proves refunds (returned goods) through the public API against a real node and real Redis:
// a refund needs a registered manager of the terminal's merchant with the right PIN
// (PERMISSION_DENIED otherwise, nothing written); it credits the card and several partial refunds
// never add up to more than was spent on the purchase (REFUND_EXCEEDS_ORIGINAL); a declined or
// reversed original is not refundable; a reversal after a partial refund gives back only the
// rest; refunds are idempotent; concurrent refunds of one purchase never exceed it; the refund
// document carries balance_delta and the manager as operator; five refused PINs in a row lock
// the manager (even the right PIN is refused) until the lock time passes, and refused or locked
// attempts write nothing but the counted guess (services/authorizer/store/attempts.ts).

import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import type { RedisInstance } from '../../tools/devenv/redis';
import type { AuthorizerNode } from '../../services/authorizer/node';
import { DeclineReason, Outcome } from '../../gen/tapline/v1/types';
import { ReverseResult } from '../../gen/tapline/v1/authorization';
import { TaplineClient, purchase } from '../../tools/client/tapline-client';
import { RefundClient } from '../../tools/client/card-client';
import { startInProcessNode, startTestRedis, accessTo } from '../support/harness';
import { connectInspector, type Inspector } from '../support/redis-inspect';

const manager = { id: 'mgr-anna', pin: '8642' };
const second_manager = { id: 'mgr-bea', pin: '9753' };
const lock_ms = 1_500;

describe('refunds with a manager credential (real Redis, real gRPC)', function () {
  this.timeout(60_000);
  let redis: RedisInstance;
  let node: AuthorizerNode;
  let client: TaplineClient;
  let refunds: RefundClient;
  let inspect: Inspector;
  let txn = 1;

  const bought = async (cardId: string, balance: number, spent: number): Promise<{ terminalId: string; txn: number }> => {
    await client.issueCard(cardId, balance);
    const n = txn++;
    const reply = await client.authorize(purchase('shop-1', n, cardId, spent));
    assert.equal(reply.outcome, Outcome.OUTCOME_APPROVED);
    return { terminalId: 'shop-1', txn: n };
  };
  const denied = (error: grpc.ServiceError): boolean => error.code === grpc.status.PERMISSION_DENIED;

  before(async function () {
    redis = await startTestRedis('refunds');
    // A short lock so the lockout test can see a locked manager come back.
    node = await startInProcessNode(redis.url, {
      TAPLINE_PIN_SECRET: 'refund-test-secret-123456',
      TAPLINE_MANAGER_LOCK_MS: String(lock_ms),
    });
    client = new TaplineClient(await accessTo(node));
    refunds = new RefundClient(await accessTo(node));
    inspect = await connectInspector(redis.url);
    await client.registerTerminal('shop-1', 'merch-shop');
    await client.registerTerminal('other-1', 'merch-other');
    await refunds.registerManager('merch-shop', manager.id, manager.pin);
    await refunds.registerManager('merch-shop', second_manager.id, second_manager.pin);
  });

  /** Redis as a snapshot, less the counted PIN guesses (the one thing a refused credential writes). */
  const withoutGuesses = async (): Promise<string> =>
    (await inspect.snapshot())
      .split('\n')
      .filter((line) => !/^tl:\{s[0-9]+\}:tries:/.test(line))
      .join('\n');

  after(async function () {
    client?.close();
    refunds?.close();
    await inspect?.close();
    await node?.shutdown();
    await redis?.stop();
  });

  it('refunds part of a purchase, then the rest, never more; the document says balance_delta and the manager', async () => {
    const original = await bought('r-partial', 5_000, 3_000);
    const first = txn++;
    const a = await refunds.refund('shop-1', first, 'r-partial', original, 1_000, manager);
    assert.equal(a.outcome, Outcome.OUTCOME_APPROVED);
    assert.equal(a.refundedAmount?.amountMinor, 1_000n);
    assert.equal(a.balanceAfter?.amountMinor, 3_000n);
    const over = await refunds.refund('shop-1', txn++, 'r-partial', original, 2_001, manager);
    assert.equal(over.declineReason, DeclineReason.DECLINE_REASON_REFUND_EXCEEDS_ORIGINAL);
    const rest = await refunds.refund('shop-1', txn++, 'r-partial', original, 2_000, manager);
    assert.equal(rest.balanceAfter?.amountMinor, 5_000n);
    const more = await refunds.refund('shop-1', txn++, 'r-partial', original, 1, manager);
    assert.equal(more.declineReason, DeclineReason.DECLINE_REASON_REFUND_EXCEEDS_ORIGINAL);
    const retry = await refunds.refund('shop-1', first, 'r-partial', original, 1_000, manager);
    assert.deepEqual([retry.replayed, retry.transactionId], [true, a.transactionId]);
    assert.equal((await client.balance('r-partial')).balance?.amountMinor, 5_000n);
    const stored = (await inspect.outbox()).find((d) => d['key'] === `t:shop-1:${first}`);
    assert.deepEqual(
      [stored?.['kind'], stored?.['balance_delta'], stored?.['operator'], stored?.['original']],
      ['refund', 1_000, manager.id, `t:shop-1:${original.txn}`],
    );
  });

  it("refuses a wrong PIN, an unknown manager and another merchant's manager as PERMISSION_DENIED, Redis unchanged", async () => {
    const original = await bought('r-auth', 1_000, 500);
    const before = await withoutGuesses();
    await assert.rejects(refunds.refund('shop-1', txn++, 'r-auth', original, 100, { id: manager.id, pin: '0000' }), denied);
    await assert.rejects(refunds.refund('shop-1', txn++, 'r-auth', original, 100, { id: 'mgr-nobody', pin: manager.pin }), denied);
    await assert.rejects(refunds.refund('other-1', txn++, 'r-auth', original, 100, manager), denied);
    await assert.rejects(
      refunds.refund('shop-1', txn++, 'r-auth', original, 100, { id: manager.id, pin: '12' }),
      (e: grpc.ServiceError) => e.code === grpc.status.INVALID_ARGUMENT,
    );
    await assert.rejects(
      refunds.refund('shop-1', txn++, 'r-auth', { terminalId: 'shop-1', txn: 987_654 }, 100, manager),
      (e: grpc.ServiceError) => e.code === grpc.status.NOT_FOUND,
    );
    assert.equal(await withoutGuesses(), before);
  });

  it('locks a manager after 5 refused PINs in a row (even the right PIN is refused), writes nothing, and unlocks after the lock time', async () => {
    const guessed = { id: 'mgr-guessed', pin: '2468' };
    await refunds.registerManager('merch-shop', guessed.id, guessed.pin);
    const original = await bought('r-lock', 1_000, 500);
    for (const wrong of ['0000', '1111', '2222', '3333']) {
      await assert.rejects(refunds.refund('shop-1', txn++, 'r-lock', original, 10, { id: guessed.id, pin: wrong }), denied);
    }
    // Four refused in a row, then the right PIN: accepted, and the count starts again.
    assert.equal((await refunds.refund('shop-1', txn++, 'r-lock', original, 10, guessed)).outcome, Outcome.OUTCOME_APPROVED);
    for (const wrong of ['0000', '1111', '2222', '3333', '4444']) {
      await assert.rejects(refunds.refund('shop-1', txn++, 'r-lock', original, 10, { id: guessed.id, pin: wrong }), denied);
    }
    const lockedAt = Date.now();
    await assert.rejects(refunds.refund('shop-1', txn++, 'r-lock', original, 10, guessed), denied, 'the right PIN is refused while locked');
    assert.equal(
      (await refunds.refund('shop-1', txn++, 'r-lock', original, 10, manager)).outcome,
      Outcome.OUTCOME_APPROVED,
      'another manager of the merchant is not locked',
    );
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, lockedAt + lock_ms + 100 - Date.now())));
    assert.equal(
      (await refunds.refund('shop-1', txn++, 'r-lock', original, 10, guessed)).outcome,
      Outcome.OUTCOME_APPROVED,
      'unlocked after the lock time',
    );
    assert.equal((await client.balance('r-lock')).balance?.amountMinor, 530n, 'exactly the three approved refunds were credited');
  });

  it('a refused PIN writes nothing but its counted guess', async () => {
    const original = await bought('r-nowrite', 1_000, 500);
    const before = await withoutGuesses();
    for (let attempt = 0; attempt < 7; attempt++) {
      await assert.rejects(refunds.refund('shop-1', txn++, 'r-nowrite', original, 10, { id: 'mgr-nowrite', pin: '9999' }), denied);
    }
    assert.equal(await withoutGuesses(), before, 'refused and locked attempts change nothing but the count of guesses');
  });

  it('a declined or reversed purchase is not refundable; a reversal after a partial refund gives back only the rest', async () => {
    await client.issueCard('r-declined', 100);
    const declinedTxn = txn++;
    await client.authorize(purchase('shop-1', declinedTxn, 'r-declined', 500));
    const onDeclined = await refunds.refund('shop-1', txn++, 'r-declined', { terminalId: 'shop-1', txn: declinedTxn }, 10, manager);
    assert.equal(onDeclined.declineReason, DeclineReason.DECLINE_REASON_ORIGINAL_NOT_REFUNDABLE);

    const original = await bought('r-reverse', 2_000, 1_500);
    await refunds.refund('shop-1', txn++, 'r-reverse', original, 400, manager);
    const reversal = await client.reverse('shop-1', txn++, 'r-reverse', original);
    assert.equal(reversal.result, ReverseResult.REVERSE_RESULT_REVERSED);
    assert.equal(reversal.reversedAmount?.amountMinor, 1_100n, 'only what was not refunded');
    assert.equal((await client.balance('r-reverse')).balance?.amountMinor, 2_000n);
    const afterReversal = await refunds.refund('shop-1', txn++, 'r-reverse', original, 1, manager);
    assert.equal(afterReversal.declineReason, DeclineReason.DECLINE_REASON_ORIGINAL_NOT_REFUNDABLE);
  });

  it('concurrent refunds of one purchase never exceed what was spent on it', async () => {
    const original = await bought('r-race', 10_000, 1_000);
    // Two managers: one manager's PIN is compared at most five times at once (the lockout's bound).
    const replies = await Promise.all(
      Array.from({ length: 8 }, (_, i) => refunds.refund('shop-1', txn++, 'r-race', original, 300, i % 2 === 0 ? manager : second_manager)),
    );
    const approved = replies.filter((r) => r.outcome === Outcome.OUTCOME_APPROVED).length;
    assert.equal(approved, 3, '3 x 300 fit in 1,000, a fourth does not');
    assert.equal((await client.balance('r-race')).balance?.amountMinor, 9_000n + 900n);
  });
});
