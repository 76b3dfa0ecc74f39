// Proves a plain card's purchase under its program's rules (actors/card/program-rules.ts), purely:
// the order (temporary block and hard risk and merchant / terminal before the balance, velocity
// after it), that a decline names its rule, moves nothing and only touches the risk counters when
// its reason counts, that an approval debits amount − discount − redeemed value, earns points on
// the discounted basket with group multipliers, records velocity, and queues a flagged approval
// (bounded per card), and that resolving a review removes exactly that entry. A property checks,
// for random purchase sequences, that the balance equals the initial balance minus the sum of
// debits, never goes negative, and that points equal earned minus redeemed, never negative.

import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  afterRuleDecline,
  card_reviews_max,
  decideRuledPurchase,
  resolveCardReview,
  reversePoints,
  rulesStateOf,
  type RuledPurchaseInput,
} from '../../actors/card/program-rules';
import { apply, type CardState } from '../../actors/card/rules';
import type { ProgramRules } from '../../actors/rules/program';
import { default_program_config, program_audit_detail_max, programAuditDetail } from '../../actors/program/config';
import { announceSeed, assertProperty } from './fast-check-seed';

const t0 = Date.parse('2026-11-23T10:00:00Z');

function card(balanceMinor = 1_000): CardState {
  return { cardId: 'c-1', currency: 'EUR', programId: 'p', status: 'active', balanceMinor, heldMinor: 0, issuedAtMs: 0 };
}

function input(amountMinor: number, extra: Partial<RuledPurchaseInput> = {}): RuledPurchaseInput {
  return {
    atMs: t0,
    amountMinor,
    currency: 'EUR',
    merchantId: 'shop',
    terminalId: 'pos-1',
    redeemPoints: 0,
    transactionId: 'tx-1',
    ...extra,
  };
}

/** Decides and applies like the card actor does. */
function run(
  state: CardState,
  rules: ProgramRules,
  request: RuledPurchaseInput,
): { state: CardState; approved: boolean; rule?: string; debit: number } {
  const ruled = decideRuledPurchase(state, rules, request);
  if (ruled.decision.kind === 'approved')
    return { state: apply(ruled.base, ruled.decision.event), approved: true, debit: ruled.debitMinor };
  return { state: ruled.base, approved: false, debit: 0, ...(ruled.decision.kind === 'declined' ? { rule: ruled.decision.rule } : {}) };
}

describe('plain card purchases under program rules (pure)', function () {
  before(() => announceSeed('card-program-rules'));

  it('declines in order: temporary block, hard risk, merchant, terminal, balance, velocity', function () {
    const rules: ProgramRules = {
      risk: { hard_amount_minor: 500 },
      merchant: { allowed_merchants: ['shop'], blocked_terminals: ['pos-9'] },
      velocity: [{ name: 'v', window_ms: 60_000, count_max: 0 }],
    };
    const blocked = {
      ...card(),
      rules: { ...rulesStateOf(card()), program: { velocity: { series: [] }, risk: { declines_at_ms: [], blocked_until_ms: t0 + 1 } } },
    };
    assert.equal(run(blocked, rules, input(10_000, { merchantId: 'bar' })).rule, 'risk:temporary_block');
    assert.equal(run(card(), rules, input(501, { merchantId: 'bar' })).rule, 'risk:hard_amount');
    assert.equal(run(card(), rules, input(500, { merchantId: 'bar', terminalId: 'pos-9' })).rule, 'merchant:not_allowed');
    assert.equal(run(card(), rules, input(500, { terminalId: 'pos-9' })).rule, 'terminal:blocked');
    assert.equal(run(card(100), rules, input(500)).rule, 'balance');
    assert.equal(run(card(), rules, input(500)).rule, 'velocity:v:count');
  });

  it('a decline moves nothing and counts towards the block only for counted reasons', function () {
    const rules: ProgramRules = {
      risk: { block_after_declines: 2, decline_window_ms: 60_000, block_ms: 1_000 },
      merchant: { blocked_merchants: ['bar'] },
    };
    const start = card(100);
    const merchant = run(start, rules, input(10, { merchantId: 'bar' }));
    assert.equal(merchant.state, start, 'a merchant decline does not count');
    const first = run(start, rules, input(200));
    assert.deepEqual([first.approved, first.state.balanceMinor, first.state.rules?.program.risk.declines_at_ms], [false, 100, [t0]]);
    const second = run(first.state, rules, input(200, { atMs: t0 + 1 }));
    assert.equal(second.state.rules?.program.risk.blocked_until_ms, t0 + 1 + 1_000);
    assert.equal(run(second.state, rules, input(10, { atMs: t0 + 1_000 })).rule, 'risk:temporary_block');
    assert.equal(run(second.state, rules, input(10, { atMs: t0 + 1_001 })).approved, true, 'the block ends at blocked_until');
    const pin = afterRuleDecline(start, rules, { atMs: t0, amount_minor: 1, merchantId: 'shop', terminalId: 'pos-1' }, 'pin_invalid');
    assert.deepEqual(pin.rules?.program.risk.declines_at_ms, [t0], 'PIN failures count');
  });

  it('velocity: limits are inclusive and the window ends window_ms later, to the bucket (1,000 ms / 64: 16 ms)', function () {
    const rules: ProgramRules = { velocity: [{ name: 'd', window_ms: 1_000, count_max: 2, amount_max_minor: 100 }] };
    let state = run(card(), rules, input(60)).state;
    state = run(state, rules, input(40, { atMs: t0 + 10 })).state;
    assert.equal(state.balanceMinor, 900);
    assert.equal(run(state, rules, input(1, { atMs: t0 + 20 })).rule, 'velocity:d:count');
    assert.equal(run(state, rules, input(1, { atMs: t0 + 999 })).rule, 'velocity:d:count');
    // Both purchases share one 16 ms bucket: it leaves the window once all of it has.
    const bucketEnd = (Math.floor((t0 + 10) / 16) + 1) * 16;
    assert.equal(run(state, rules, input(60, { atMs: bucketEnd + 998 })).rule, 'velocity:d:count');
    const later = run(state, rules, input(60, { atMs: bucketEnd + 999 }));
    assert.equal(later.approved, true, 'the first purchases left the window');
    assert.equal(run(later.state, rules, input(41, { atMs: bucketEnd + 1_000 })).rule, 'velocity:d:amount');
  });

  it('loyalty: discount per group, points on the discounted basket with multipliers (rounded down once), redemption', function () {
    const rules: ProgramRules = {
      loyalty: {
        minor_per_unit: 100,
        points_per_unit: 1,
        group_multiplier_bp: { food: 20_000 },
        discount_bp_by_group: { drinks: 1_000 },
        point_value_minor: 2,
      },
    };
    const lines = [
      { code: 'beer', group: 'drinks', qty_milli: 0, unit: 0, amount: 505 },
      { code: 'fries', group: 'food', qty_milli: 0, unit: 0, amount: 299 },
    ];
    const ruled = decideRuledPurchase(card(), rules, input(804, { lines }));
    // 10 % of 505 = 50.5 -> 51 (half up); points = (454 + 299 x 2) / 100 = 10.52 -> 10.
    assert.deepEqual([ruled.debitMinor, ruled.figures?.discountMinor, ruled.figures?.pointsEarned], [753, 51, 10]);
    const bought = run(card(), rules, input(804, { lines }));
    assert.deepEqual([bought.state.balanceMinor, bought.state.rules?.points], [1_000 - 753, 10]);
    // 10 points of 2 = 20, on 15 due only 7 are used (never more than the amount due).
    const redeemed = decideRuledPurchase(bought.state, rules, input(15, { redeemPoints: 10 }));
    assert.deepEqual([redeemed.debitMinor, redeemed.figures?.pointsRedeemed], [1, 7]);
    assert.equal(run(bought.state, rules, input(15, { redeemPoints: 11 })).rule, 'loyalty:points_insufficient');
    assert.equal(run(card(), {}, input(15, { redeemPoints: 1 })).rule, 'loyalty:redemption_disabled');
  });

  it('the program_defined audit detail stays under the limit of reports: long rules become a digest', function () {
    const short = { ...default_program_config, rules: { merchant: { blocked_merchants: ['bar'] } } };
    assert.deepEqual(JSON.parse(programAuditDetail(short)), JSON.parse(JSON.stringify(short)));
    const merchants = Array.from({ length: 1_000 }, (_, i) => `merchant-${i}`);
    const long = { ...default_program_config, rules: { merchant: { allowed_merchants: merchants } } };
    const detail = programAuditDetail(long);
    assert.ok(detail.length <= program_audit_detail_max);
    assert.equal((JSON.parse(detail) as { rules: { sha256: string } }).rules.sha256.length, 64);
  });

  it('soft velocity flags instead of declining, and the flag names the pattern', function () {
    const rules: ProgramRules = { risk: { soft_velocity: [{ name: 'burst', window_ms: 1_000, count_max: 1 }] } };
    const first = run(card(), rules, input(10, { transactionId: 'a' }));
    assert.equal(first.state.rules?.reviews.length ?? 0, 0);
    const second = decideRuledPurchase(first.state, rules, input(10, { atMs: t0 + 1, transactionId: 'b' }));
    assert.equal(second.decision.kind, 'approved');
    assert.deepEqual(second.figures?.flags, ['risk:soft:velocity:burst:count']);
    assert.deepEqual(
      second.base.rules?.reviews.map((entry) => entry.id),
      ['b'],
    );
  });

  it('a reversal takes the points earned back and gives the points redeemed back, never below zero', function () {
    const state = { ...card(), rules: { ...rulesStateOf(card()), points: 5 } };
    assert.equal(reversePoints(state, { discountMinor: 0, pointsEarned: 3, pointsRedeemed: 1, flags: [] }).rules?.points, 3);
    assert.equal(reversePoints(state, { discountMinor: 0, pointsEarned: 9, pointsRedeemed: 0, flags: [] }).rules?.points, 0);
    assert.equal(
      reversePoints(state, { discountMinor: 0, pointsEarned: 0, pointsRedeemed: 0, flags: [] }),
      state,
      'unchanged: the same state',
    );
  });

  it('a flagged approval is queued on the card (bounded) and resolving removes exactly that entry', function () {
    const rules: ProgramRules = { risk: { soft_amount_minor: 5 } };
    let state = card(100_000);
    for (let i = 0; i < card_reviews_max + 2; i++) state = run(state, rules, input(10, { transactionId: `tx-${i}`, atMs: t0 + i })).state;
    const reviews = state.rules?.reviews ?? [];
    assert.equal(reviews.length, card_reviews_max);
    assert.deepEqual([reviews[0]?.id, state.rules?.reviews_dropped, reviews[0]?.flags], ['tx-2', 2, ['risk:soft_amount']]);
    const resolved = resolveCardReview(state, 'tx-5');
    assert.deepEqual(resolved?.reviews.map((entry) => entry.id).includes('tx-5'), false);
    assert.equal(resolved?.reviews.length, card_reviews_max - 1);
    assert.equal(resolveCardReview(state, 'tx-0'), undefined, 'a dropped entry is not open');
    assert.equal(run(state, rules, input(5)).state.rules?.reviews.length, card_reviews_max, 'at the threshold: not flagged');
  });

  it('property: balance = initial − Σ debits, never negative; points = earned − redeemed, never negative', function () {
    const rules: ProgramRules = {
      velocity: [{ name: 'w', window_ms: 5_000, count_max: 4, amount_max_minor: 3_000 }],
      risk: { hard_amount_minor: 2_500, soft_amount_minor: 1_000, block_after_declines: 3, decline_window_ms: 10_000, block_ms: 3_000 },
      loyalty: { minor_per_unit: 50, points_per_unit: 3, discount_bp_by_group: { '': 750 }, point_value_minor: 3 },
    };
    const step = fc.record({
      amount: fc.integer({ min: 1, max: 3_000 }),
      gap: fc.integer({ min: 0, max: 4_000 }),
      redeem: fc.integer({ min: 0, max: 40 }),
    });
    assertProperty(
      fc.property(fc.integer({ min: 0, max: 20_000 }), fc.array(step, { maxLength: 40 }), (initial, steps) => {
        let state = card(initial);
        let at = t0;
        let debits = 0;
        let earned = 0;
        let redeemedPoints = 0;
        steps.forEach((s, index) => {
          at += s.gap;
          const ruled = decideRuledPurchase(
            state,
            rules,
            input(s.amount, { atMs: at, redeemPoints: s.redeem, transactionId: `t${index}` }),
          );
          if (ruled.decision.kind === 'approved') {
            state = apply(ruled.base, ruled.decision.event);
            debits += ruled.debitMinor;
            earned += ruled.figures?.pointsEarned ?? 0;
            redeemedPoints += ruled.figures?.pointsRedeemed ?? 0;
            assert.ok(ruled.debitMinor >= 0 && ruled.debitMinor <= s.amount);
          } else {
            assert.equal(ruled.base.balanceMinor, state.balanceMinor, 'a decline moves nothing');
            state = ruled.base;
          }
          assert.ok(state.balanceMinor >= 0);
          assert.ok((state.rules?.points ?? 0) >= 0);
        });
        assert.equal(state.balanceMinor, initial - debits);
        assert.equal(state.rules?.points ?? 0, earned - redeemedPoints);
      }),
      300,
    );
  });
});
