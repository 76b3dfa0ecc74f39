// Proves the program rules on plain cards against a real node, real Redis and real gRPC,
// with the node on a test clock: rules defined through CardService.DefineProgram apply to every
// purchase of the program's cards. Velocity count and amount approve at the limit and decline one
// above it, count every purchase of the window however many, and a purchase leaves the rolling
// window at its edge to the bucket (window / 64: actors/rules/velocity.ts); merchant and terminal
// allow / block lists; a hard risk limit declines, a soft one approves and flags (reply, document,
// review queue) until an operator resolves it (audited); repeated counted declines (insufficient
// funds, wrong PINs) block the card temporarily until the block expires; loyalty discounts what
// the balance pays, earns points with group multipliers and redeems points as payment (declining
// when there are not enough), and a reversal takes the points back. Concurrent purchases racing a
// velocity count get exactly count_max approved; pre-authorizations pass the gate and completions
// enter the velocity history. Every decline names the rule, moves nothing, and a retry answers
// the first answer again; bad input changes nothing in Redis.

import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import type { RedisInstance } from '../../tools/devenv/redis';
import type { AuthorizerNode } from '../../services/authorizer/node';
import { DeclineReason, Outcome } from '../../gen/tapline/v1/types';
import type { AuthorizeRequest, AuthorizeResponse } from '../../gen/tapline/v1/authorization';
import type { ProgramRules } from '../../gen/tapline/v1/fleet';
import { TaplineClient, purchase } from '../../tools/client/tapline-client';
import { CardClient, holdRequest, programConfig } from '../../tools/client/card-client';
import { cardKey } from '../../services/authorizer/store/keys';
import { shardOf } from '../../actors/sharding/shard-key';
import { startInProcessNode, startTestRedis, test_shard_count, accessTo } from '../support/harness';
import { connectInspector, type Inspector } from '../support/redis-inspect';

const minute_ms = 60_000;

function rules(fields: Partial<ProgramRules>): ProgramRules {
  return {
    allowedMerchants: [],
    blockedMerchants: [],
    allowedTerminals: [],
    blockedTerminals: [],
    velocity: [],
    restrictMerchants: false,
    restrictTerminals: false,
    ...fields,
  };
}

describe('program rules on plain cards (real Redis, real gRPC, test clock)', function () {
  this.timeout(60_000);
  let redis: RedisInstance;
  let node: AuthorizerNode;
  let client: TaplineClient;
  let cards: CardClient;
  let inspect: Inspector;
  // In the past: a request's deadline is checked against this clock.
  let nowMs = Date.parse('2025-11-18T10:00:00Z');
  let txn = 0;

  before(async function () {
    redis = await startTestRedis('program-rules');
    node = await startInProcessNode(redis.url, { TAPLINE_PIN_SECRET: 'rules-test-secret-0123456789' }, { clock: () => nowMs });
    client = new TaplineClient(await accessTo(node));
    cards = new CardClient(await accessTo(node));
    inspect = await connectInspector(redis.url);
    await client.registerTerminal('pos-1', 'shop');
    await client.registerTerminal('pos-2', 'bar');
    await client.registerTerminal('pos-3', 'shop');
  });

  after(async function () {
    client?.close();
    cards?.close();
    await inspect?.close();
    await node?.shutdown();
    await redis?.stop();
  });

  async function program(programId: string, programRules: ProgramRules, fields: Parameters<typeof programConfig>[0] = {}): Promise<void> {
    await cards.defineProgram(programId, programConfig({ ...fields, rules: programRules }));
  }

  async function issue(cardId: string, programId: string, balanceMinor = 10_000, pin = ''): Promise<void> {
    await cards.issue({
      cardId,
      params: {
        initialBalance: { amountMinor: BigInt(balanceMinor), currency: 'EUR' },
        programId,
        deposit: undefined,
        expiresAtUnixMs: 0n,
      },
      holder: undefined,
      pin,
      operatorId: 'ops',
    });
  }

  const request = (cardId: string, amountMinor: number, extra: Partial<AuthorizeRequest> = {}, terminalId = 'pos-1'): AuthorizeRequest => ({
    ...purchase(terminalId, ++txn, cardId, amountMinor),
    ...extra,
  });
  const balance = async (cardId: string): Promise<bigint> => (await client.balance(cardId)).balance?.amountMinor ?? -1n;

  /** A decline names its reason and rule, moves nothing, and its retry is the same answer. */
  async function expectDecline(wire: AuthorizeRequest, reason: DeclineReason, rule: string): Promise<AuthorizeResponse> {
    const before = await balance(wire.cardId);
    const reply = await client.authorize(wire);
    assert.equal(reply.outcome, Outcome.OUTCOME_DECLINED, `${rule}: declined`);
    assert.deepEqual([reply.declineReason, reply.declineRule], [reason, rule]);
    assert.equal(reply.approvedAmount?.amountMinor, 0n);
    assert.equal(await balance(wire.cardId), before, `${rule}: nothing moved`);
    const retry = await client.authorize(wire);
    assert.equal(retry.replayed, true);
    assert.deepEqual([retry.transactionId, retry.declineRule], [reply.transactionId, reply.declineRule]);
    return reply;
  }

  async function expectApproved(wire: AuthorizeRequest, debitMinor: number): Promise<AuthorizeResponse> {
    const before = await balance(wire.cardId);
    const reply = await client.authorize(wire);
    assert.equal(reply.outcome, Outcome.OUTCOME_APPROVED, `approved (${reply.declineRule})`);
    assert.equal(reply.approvedAmount?.amountMinor, BigInt(debitMinor));
    assert.equal(await balance(wire.cardId), before - BigInt(debitMinor));
    const retry = await client.authorize(wire);
    assert.equal(retry.replayed, true);
    assert.equal(retry.transactionId, reply.transactionId);
    assert.equal(await balance(wire.cardId), before - BigInt(debitMinor), 'a retry moves nothing');
    return reply;
  }

  /** When the bucket of a purchase made at `at` has left a window of `window_ms` (actors/rules/velocity.ts). */
  const leavesWindowAt = (at: number, window_ms: number): number => {
    const bucket_ms = Math.ceil(window_ms / 64);
    return (Math.floor(at / bucket_ms) + 1) * bucket_ms + window_ms - 1;
  };

  it('velocity count: at the limit approved, one above declined, free again once the window (to the bucket) has passed', async function () {
    await program('vel-count', rules({ velocity: [{ name: 'burst', windowMs: BigInt(minute_ms), countMax: 3n }] }));
    await issue('vc-1', 'vel-count');
    const start = nowMs;
    for (let i = 0; i < 3; i++) {
      await expectApproved(request('vc-1', 10), 10);
      nowMs += 1_000;
    }
    await expectDecline(request('vc-1', 10), DeclineReason.DECLINE_REASON_VELOCITY_EXCEEDED, 'velocity:burst:count');
    nowMs = start + minute_ms - 1;
    await expectDecline(request('vc-1', 10), DeclineReason.DECLINE_REASON_VELOCITY_EXCEEDED, 'velocity:burst:count');
    nowMs = leavesWindowAt(start, minute_ms) - 1;
    await expectDecline(request('vc-1', 10), DeclineReason.DECLINE_REASON_VELOCITY_EXCEEDED, 'velocity:burst:count');
    nowMs = leavesWindowAt(start, minute_ms);
    await expectApproved(request('vc-1', 10), 10);
  });

  it('velocity amount: exactly the limit approved, one minor unit more declined, window edge frees it', async function () {
    await program('vel-amount', rules({ velocity: [{ name: 'hour', windowMs: BigInt(60 * minute_ms), amountMaxMinor: 1_000n }] }));
    await issue('va-1', 'vel-amount');
    const start = nowMs;
    await expectApproved(request('va-1', 600), 600);
    nowMs += minute_ms;
    await expectApproved(request('va-1', 399), 399);
    await expectDecline(request('va-1', 2), DeclineReason.DECLINE_REASON_VELOCITY_EXCEEDED, 'velocity:hour:amount');
    await expectApproved(request('va-1', 1), 1);
    nowMs = start + 60 * minute_ms - 1;
    await expectDecline(request('va-1', 600), DeclineReason.DECLINE_REASON_VELOCITY_EXCEEDED, 'velocity:hour:amount');
    nowMs = leavesWindowAt(start, 60 * minute_ms);
    await expectApproved(request('va-1', 600), 600);
  });

  it('velocity amount counts every purchase of its whole window, however many (no cap on what is remembered)', async function () {
    // More purchases than the 64 events a card used to remember.
    await program('vel-busy', rules({ velocity: [{ name: 'day', windowMs: BigInt(1_440 * minute_ms), amountMaxMinor: 70n }] }));
    await issue('vb-1', 'vel-busy', 10_000);
    for (let i = 0; i < 70; i++) {
      const reply = await client.authorize(request('vb-1', 1));
      assert.equal(reply.outcome, Outcome.OUTCOME_APPROVED, `purchase ${i + 1} of 70 (${reply.declineRule})`);
      nowMs += 1_000;
    }
    await expectDecline(request('vb-1', 1), DeclineReason.DECLINE_REASON_VELOCITY_EXCEEDED, 'velocity:day:amount');
    assert.equal(await balance('vb-1'), 10_000n - 70n);
  });

  it('concurrent purchases racing a velocity count: exactly count_max approved, the rest declined, money exact', async function () {
    await program('race', rules({ velocity: [{ name: 'race', windowMs: BigInt(minute_ms), countMax: 5n }] }));
    await issue('rc-1', 'race', 10_000);
    const replies = await Promise.all(Array.from({ length: 20 }, () => client.authorize(request('rc-1', 7))));
    const approved = replies.filter((r) => r.outcome === Outcome.OUTCOME_APPROVED);
    assert.equal(approved.length, 5);
    assert.ok(replies.filter((r) => r.outcome !== Outcome.OUTCOME_APPROVED).every((r) => r.declineRule === 'velocity:race:count'));
    assert.equal(await balance('rc-1'), 10_000n - 5n * 7n);
    const state = JSON.parse(String((await inspect.client.hGetAll(cardKey(shardOf('card', 'rc-1', test_shard_count), 'rc-1')))['d'])) as {
      rules: { program: { velocity: { series: { buckets: [number, number, number][] }[] } } };
    };
    const counted = state.rules.program.velocity.series[0]?.buckets.reduce((sum, [, count]) => sum + count, 0);
    assert.equal(counted, 5, 'the velocity history persisted with the approvals');
  });

  it('merchant and terminal allow and block lists', async function () {
    await program('shops', rules({ restrictMerchants: true, allowedMerchants: ['shop'], blockedTerminals: ['pos-3'] }));
    await program('no-bar', rules({ blockedMerchants: ['bar'], restrictTerminals: true, allowedTerminals: ['pos-1', 'pos-2'] }));
    await issue('mt-1', 'shops');
    await issue('mt-2', 'no-bar');
    await expectApproved(request('mt-1', 10, {}, 'pos-1'), 10);
    await expectDecline(request('mt-1', 10, {}, 'pos-2'), DeclineReason.DECLINE_REASON_MERCHANT_RESTRICTED, 'merchant:not_allowed');
    await expectDecline(request('mt-1', 10, {}, 'pos-3'), DeclineReason.DECLINE_REASON_TERMINAL_RESTRICTED, 'terminal:blocked');
    await expectApproved(request('mt-2', 10, {}, 'pos-1'), 10);
    await expectDecline(request('mt-2', 10, {}, 'pos-2'), DeclineReason.DECLINE_REASON_MERCHANT_RESTRICTED, 'merchant:blocked');
    await expectDecline(request('mt-2', 10, {}, 'pos-3'), DeclineReason.DECLINE_REASON_TERMINAL_RESTRICTED, 'terminal:not_allowed');
  });

  it('risk: hard limit declines above it; soft limit approves, flags and queues for review until resolved (audited)', async function () {
    await program(
      'risky',
      rules({
        risk: {
          hardAmountMinor: 5_000n,
          softAmountMinor: 1_000n,
          softVelocity: [],
          blockAfterDeclines: 0n,
          declineWindowMs: 0n,
          blockMs: 0n,
        },
      }),
    );
    await issue('rk-1', 'risky', 20_000);
    await expectDecline(request('rk-1', 5_001), DeclineReason.DECLINE_REASON_RISK, 'risk:hard_amount');
    const clean = await expectApproved(request('rk-1', 1_000), 1_000);
    assert.deepEqual([clean.suspicious, clean.flags], [false, []]);
    const flagged = await expectApproved(request('rk-1', 5_000), 5_000);
    assert.deepEqual([flagged.suspicious, flagged.flags], [true, ['risk:soft_amount']]);
    const retry = await client.authorize({ ...purchase('pos-1', txn, 'rk-1', 5_000) });
    assert.deepEqual([retry.replayed, retry.suspicious, retry.flags], [true, true, ['risk:soft_amount']], 'the replay carries the flags');
    const doc = (await inspect.outbox()).find((d) => d['id'] === flagged.transactionId)!;
    assert.deepEqual(doc['flags'], ['risk:soft_amount']);
    assert.equal(doc['balance_delta'], -5_000);

    const queue = await cards.listProgramReviews('risky');
    assert.deepEqual(
      queue.entries.map((e) => [e.transactionId, e.cardId, e.amount?.amountMinor, e.flags]),
      [[flagged.transactionId, 'rk-1', 5_000n, ['risk:soft_amount']]],
    );
    assert.equal((await cards.getCardRules('rk-1')).openReviews, 1n);
    assert.equal((await cards.listProgramReviews('shops')).entries.length, 0, 'another program has its own queue');

    const resolved = await cards.resolveProgramReview('rk-1', flagged.transactionId, 'customer called, legit');
    assert.equal(resolved.remaining, 0n);
    assert.equal((await cards.listProgramReviews('risky')).entries.length, 0);
    const audit = (await inspect.outbox()).find((d) => d['action'] === 'review_resolved' && d['subject'] === flagged.transactionId)!;
    assert.equal(audit['operator'], 'dev-issuer_admin', "the resolving operator is the token's subject");
    assert.match(String(audit['detail']), /customer called/);
    await assert.rejects(
      cards.resolveProgramReview('rk-1', flagged.transactionId, 'again'),
      (e: grpc.ServiceError) => e.code === grpc.status.NOT_FOUND,
    );
  });

  it('temporary block after N insufficient-funds declines, expiring after block_ms', async function () {
    const risk = { softVelocity: [], blockAfterDeclines: 3n, declineWindowMs: BigInt(10 * minute_ms), blockMs: BigInt(30 * minute_ms) };
    await program('probe', rules({ risk }));
    await issue('tb-1', 'probe', 100);
    for (let i = 0; i < 3; i++) await expectDecline(request('tb-1', 200), DeclineReason.DECLINE_REASON_INSUFFICIENT_FUNDS, 'balance');
    const blockedAt = nowMs;
    await expectDecline(request('tb-1', 10), DeclineReason.DECLINE_REASON_TEMPORARILY_BLOCKED, 'risk:temporary_block');
    assert.equal((await cards.getCardRules('tb-1')).blockedUntilUnixMs, BigInt(blockedAt + 30 * minute_ms));
    nowMs = blockedAt + 30 * minute_ms - 1;
    await expectDecline(request('tb-1', 10), DeclineReason.DECLINE_REASON_TEMPORARILY_BLOCKED, 'risk:temporary_block');
    nowMs = blockedAt + 30 * minute_ms;
    await expectApproved(request('tb-1', 10), 10);
  });

  it('temporary block after N wrong PINs (PIN failures count)', async function () {
    const risk = { softVelocity: [], blockAfterDeclines: 2n, declineWindowMs: BigInt(10 * minute_ms), blockMs: BigInt(5 * minute_ms) };
    await program('pin-probe', rules({ risk }), { pinRequired: true, pinAttemptsMax: 5 });
    await issue('tp-1', 'pin-probe', 1_000, '2468');
    await expectDecline(request('tp-1', 10, { pin: '1111' }), DeclineReason.DECLINE_REASON_PIN_INVALID, 'pin');
    await expectDecline(request('tp-1', 10, { pin: '1112' }), DeclineReason.DECLINE_REASON_PIN_INVALID, 'pin');
    await expectDecline(request('tp-1', 10, { pin: '2468' }), DeclineReason.DECLINE_REASON_TEMPORARILY_BLOCKED, 'risk:temporary_block');
    nowMs += 5 * minute_ms;
    await expectApproved(request('tp-1', 10, { pin: '2468' }), 10);
  });

  it('loyalty: discount at authorization, points with group multipliers, redemption as payment', async function () {
    const loyalty = {
      minorPerUnit: 100n,
      pointsPerUnit: 1n,
      groupMultiplierBp: { food: 20_000n },
      merchantMultiplierBp: {},
      discountBpByGroup: { drinks: 1_000n },
      pointValueMinor: 1n,
    };
    await program('loyal', rules({ loyalty }));
    await issue('ly-1', 'loyal', 10_000);
    const lines = [
      { productCode: 'beer', productGroup: 'drinks', quantityMilli: 0n, unitPriceMinor: 0n, amountMinor: 500n },
      { productCode: 'fries', productGroup: 'food', quantityMilli: 0n, unitPriceMinor: 0n, amountMinor: 300n },
    ];
    // 10 % off the drinks (50): the balance pays 750; points = (450 x1 + 300 x2) / 100 = 10.
    const bought = await expectApproved(request('ly-1', 800, { lineItems: lines }), 750);
    assert.deepEqual([bought.discount?.amountMinor, bought.pointsEarned, bought.pointsRedeemed], [50n, 10n, 0n]);
    const doc = (await inspect.outbox()).find((d) => d['id'] === bought.transactionId)!;
    assert.deepEqual(
      [doc['amount'], doc['requested'], doc['balance_delta'], doc['discount'], doc['points_earned']],
      [750, 800, -750, 50, 10],
    );
    assert.equal((await cards.getCardRules('ly-1')).points, 10n);

    // Redeem 6 points on 99 (no lines, no discount): the balance pays 93, and 0 points are earned on it.
    const redeemed = await expectApproved(request('ly-1', 99, { redeemPoints: 6n }), 93);
    assert.deepEqual([redeemed.pointsRedeemed, redeemed.pointsEarned], [6n, 0n]);
    assert.equal((await cards.getCardRules('ly-1')).points, 4n);
    const redeemedDoc = (await inspect.outbox()).find((d) => d['id'] === redeemed.transactionId)!;
    assert.deepEqual([redeemedDoc['balance_delta'], redeemedDoc['points_redeemed']], [-93, 6]);
    await expectDecline(
      request('ly-1', 99, { redeemPoints: 5n }),
      DeclineReason.DECLINE_REASON_POINTS_INSUFFICIENT,
      'loyalty:points_insufficient',
    );
    assert.equal((await cards.getCardRules('ly-1')).points, 4n, 'a declined redemption keeps the points');

    // Reversing the redemption gives the 6 points back; reversing the first purchase takes its 10 back.
    const redeemedTxn = txn - 1;
    const back = await client.reverse('pos-1', ++txn, 'ly-1', { terminalId: 'pos-1', txn: redeemedTxn });
    assert.equal(back.reversedAmount?.amountMinor, 93n);
    assert.equal((await cards.getCardRules('ly-1')).points, 10n);
    const firstTxn = redeemedTxn - 1;
    await client.reverse('pos-1', ++txn, 'ly-1', { terminalId: 'pos-1', txn: firstTxn });
    assert.equal((await cards.getCardRules('ly-1')).points, 0n);
    assert.equal(await balance('ly-1'), 10_000n, 'both debits came back');
  });

  it('pre-authorizations pass the gate (merchant, hard risk); completions enter the velocity history', async function () {
    await program(
      'hotel',
      rules({
        blockedMerchants: ['bar'],
        risk: { hardAmountMinor: 3_000n, softVelocity: [], blockAfterDeclines: 0n, declineWindowMs: 0n, blockMs: 0n },
        velocity: [{ name: 'stay', windowMs: BigInt(60 * minute_ms), amountMaxMinor: 2_000n }],
      }),
    );
    await issue('ht-1', 'hotel', 10_000);
    const bar = await client.authorize(holdRequest('pre_authorization', 'pos-2', ++txn, 'ht-1', 100));
    assert.deepEqual([bar.declineReason, bar.declineRule], [DeclineReason.DECLINE_REASON_MERCHANT_RESTRICTED, 'merchant:blocked']);
    const big = await client.authorize(holdRequest('pre_authorization', 'pos-1', ++txn, 'ht-1', 3_001));
    assert.deepEqual([big.declineReason, big.declineRule], [DeclineReason.DECLINE_REASON_RISK, 'risk:hard_amount']);
    const hold = await client.authorize(holdRequest('pre_authorization', 'pos-1', ++txn, 'ht-1', 1_800));
    assert.equal(hold.outcome, Outcome.OUTCOME_APPROVED);
    const holdTxn = txn;
    const completed = await client.authorize(
      holdRequest('completion', 'pos-1', ++txn, 'ht-1', 1_500, { terminalId: 'pos-1', txn: holdTxn }),
    );
    assert.equal(completed.outcome, Outcome.OUTCOME_APPROVED);
    await expectDecline(request('ht-1', 501), DeclineReason.DECLINE_REASON_VELOCITY_EXCEEDED, 'velocity:stay:amount');
    await expectApproved(request('ht-1', 500), 500);
  });

  it('a card whose program has no rules is not touched by them (and cannot redeem points)', async function () {
    await issue('pl-1', 'plain-program');
    const reply = await expectApproved(request('pl-1', 10), 10);
    assert.deepEqual([reply.suspicious, reply.flags, reply.discount], [false, [], undefined]);
    const doc = (await inspect.outbox()).find((d) => d['id'] === reply.transactionId)!;
    assert.equal(doc['flags'], undefined, 'the plain document keeps its v1 shape');
    await expectDecline(
      request('pl-1', 10, { redeemPoints: 1n }),
      DeclineReason.DECLINE_REASON_POINTS_INSUFFICIENT,
      'loyalty:no_program_rules',
    );
    const state = JSON.parse(
      String((await inspect.client.hGetAll(cardKey(shardOf('card', 'pl-1', test_shard_count), 'pl-1')))['d']),
    ) as Record<string, unknown>;
    assert.equal(state['rules'], undefined);
  });

  it('GetProgram answers the rules DefineProgram stored; defining them again keeps the version', async function () {
    const programRules = rules({
      restrictMerchants: true,
      allowedMerchants: ['shop'],
      velocity: [{ name: 'v', windowMs: 1_000n, countMax: 2n }],
    });
    const first = await cards.defineProgram('echo', programConfig({ rules: programRules }));
    const again = await cards.defineProgram('echo', programConfig({ rules: programRules }));
    assert.equal(again.version, first.version);
    const stored = await cards.getProgram('echo');
    assert.deepEqual(stored.config?.rules?.allowedMerchants, ['shop']);
    assert.equal(stored.config?.rules?.restrictMerchants, true);
    assert.deepEqual(stored.config?.rules?.velocity, [{ name: 'v', windowMs: 1_000n, countMax: 2n, amountMaxMinor: undefined }]);
  });

  it('bad input gets a precise status and changes nothing in Redis', async function () {
    await issue('bad-1', 'loyal');
    const snapshot = await inspect.snapshot();
    const expect = async (call: Promise<unknown>, code: grpc.status, what: string): Promise<void> => {
      await assert.rejects(call, (e: grpc.ServiceError) => {
        assert.equal(e.code, code, `${what}: ${e.details}`);
        return true;
      });
    };
    await expect(client.authorize(request('bad-1', 10, { redeemPoints: -1n })), grpc.status.INVALID_ARGUMENT, 'negative points');
    await expect(
      client.authorize({ ...holdRequest('pre_authorization', 'pos-1', ++txn, 'bad-1', 10), redeemPoints: 1n }),
      grpc.status.INVALID_ARGUMENT,
      'points on a hold',
    );
    await expect(client.authorize(request('bad-1', 10, { redeemPoints: 10n ** 16n })), grpc.status.INVALID_ARGUMENT, 'too many points');
    await expect(
      cards.defineProgram('loyal', programConfig({ rules: rules({ velocity: [{ name: 'v', windowMs: 1_000n, countMax: 1_000_001n }] }) })),
      grpc.status.INVALID_ARGUMENT,
      'count above velocity_count_max',
    );
    await expect(
      cards.defineProgram('loyal', programConfig({ rules: rules({ velocity: [{ name: 'bad name', windowMs: 1_000n }] }) })),
      grpc.status.INVALID_ARGUMENT,
      'rule name',
    );
    await expect(
      cards.defineProgram('loyal', programConfig({ rules: rules({ blockedMerchants: ['a b'] }) })),
      grpc.status.INVALID_ARGUMENT,
      'merchant id',
    );
    await expect(cards.resolveProgramReview('bad-1', 'nope', 'x'), grpc.status.NOT_FOUND, 'no such review');
    await expect(cards.resolveProgramReview('bad-1', '', 'x'), grpc.status.INVALID_ARGUMENT, 'empty transaction id');
    await expect(cards.getCardRules('ghost'), grpc.status.NOT_FOUND, 'unknown card');
    await expect(cards.listProgramReviews(''), grpc.status.INVALID_ARGUMENT, 'no program');
    assert.equal(await inspect.snapshot(), snapshot);
  });
});
