// Proves the policy rules every authorization can run through (actors/rules/): product
// restrictions per line (the forbidden line is named), prompt policy and odometer plausibility,
// merchant/terminal restrictions, velocity over rolling windows at and past each boundary, risk
// (hard decline, soft flag, temporary block after repeated declines and its expiry), loyalty
// (discount per group, points with a single round-down, redemption bounds), and the composition
// helper (first decline wins, flags accumulate). Properties: velocity never lets more than
// count_max approvals into any window, and points are never more than the exact share. (Velocity's
// buckets against an exact reference: test/unit/velocity.test.ts.)

import assert from 'node:assert/strict';
import fc from 'fast-check';
import { checkProducts, type RuleLine } from '../../actors/rules/products';
import { checkPrompts, no_prompts, odometerSubject } from '../../actors/rules/prompts';
import { checkMerchant } from '../../actors/rules/merchants';
import {
  bucketMs,
  checkVelocity,
  empty_velocity_state,
  inWindow,
  recordVelocity,
  velocity_series_buckets_max,
  velocityWindows,
  type VelocityState,
} from '../../actors/rules/velocity';
import { checkRisk, empty_risk_state, recordDecline, type RiskPolicy } from '../../actors/rules/risk';
import { lineDiscounts, pointsEarned, redeemPoints } from '../../actors/rules/loyalty';
import { approve_clean, decline, firstDecline } from '../../actors/rules/rule';
import { empty_review_queue, enqueueReview, resolveReview, review_entries_max } from '../../actors/rules/review-queue';
import { afterProgram, checkProgramGate, empty_program_state, loyaltyFor } from '../../actors/rules/program';
import { announceSeed, assertProperty } from './fast-check-seed';

const line = (group: string, amount_minor = 100, code = group): RuleLine => ({
  code,
  group,
  qty_milli: 1000,
  unit_minor: amount_minor,
  amount_minor,
});
const approve = { kind: 'approve', flags: [] };

describe('rules: products, prompts, merchants', function () {
  it('allows every group when neither account nor card restricts', function () {
    assert.deepEqual(checkProducts(undefined, undefined, [line('shop')]), approve);
    assert.deepEqual(checkProducts(undefined, undefined, []), approve);
  });

  it('declines the basket naming the first forbidden line and which list forbade it', function () {
    const account = ['diesel', 'adblue', 'car_wash'];
    assert.deepEqual(checkProducts(account, undefined, [line('diesel'), line('adblue')]), approve);
    assert.deepEqual(
      checkProducts(account, undefined, [line('diesel'), line('shop')]),
      decline('product_restricted', 'product:account:line:2:shop'),
    );
    assert.deepEqual(
      checkProducts(account, ['diesel'], [line('diesel'), line('car_wash')]),
      decline('product_restricted', 'product:card:line:2:car_wash'),
    );
    assert.deepEqual(checkProducts(undefined, ['diesel'], [line('petrol')]), decline('product_restricted', 'product:card:line:1:petrol'));
    assert.deepEqual(checkProducts([], undefined, [line('diesel')]), decline('product_restricted', 'product:account:line:1:diesel'));
  });

  it('declines a basket without lines when products are restricted', function () {
    assert.deepEqual(checkProducts(['diesel'], undefined, []), decline('product_restricted', 'product:no_lines'));
  });

  it('requires each prompt the policy asks for', function () {
    const all = { require_odometer: true, require_driver: true, require_vehicle: true, odometer_jump_max_km: 0 };
    const full = { odometer_km: 1000, driver_id: 'd1', vehicle_id: 'v1' };
    assert.deepEqual(checkPrompts(all, full, undefined), approve);
    assert.deepEqual(checkPrompts(all, { ...full, odometer_km: 0 }, undefined), decline('prompt_required', 'prompt:odometer'));
    assert.deepEqual(checkPrompts(all, { ...full, driver_id: '' }, undefined), decline('prompt_required', 'prompt:driver'));
    assert.deepEqual(checkPrompts(all, { ...full, vehicle_id: '' }, undefined), decline('prompt_required', 'prompt:vehicle'));
    assert.deepEqual(checkPrompts(no_prompts, { odometer_km: 0, driver_id: '', vehicle_id: '' }, undefined), approve);
  });

  it('odometer: equal to the last reading is plausible, lower is not, a jump past the maximum is not', function () {
    const policy = { ...no_prompts, require_odometer: true, odometer_jump_max_km: 2000 };
    const reading = (odometer_km: number) => ({ odometer_km, driver_id: '', vehicle_id: 'v1' });
    assert.deepEqual(checkPrompts(policy, reading(50_000), undefined), approve);
    assert.deepEqual(checkPrompts(policy, reading(50_000), 50_000), approve);
    assert.deepEqual(checkPrompts(policy, reading(49_999), 50_000), decline('prompt_implausible', 'prompt:odometer_backwards'));
    assert.deepEqual(checkPrompts(policy, reading(52_000), 50_000), approve);
    assert.deepEqual(checkPrompts(policy, reading(52_001), 50_000), decline('prompt_implausible', 'prompt:odometer_jump'));
    assert.deepEqual(checkPrompts({ ...policy, odometer_jump_max_km: 0 }, reading(900_000), 50_000), approve);
    assert.equal(odometerSubject(reading(1), 'f~1'), 'v1');
    assert.equal(odometerSubject({ odometer_km: 1, driver_id: '', vehicle_id: '' }, 'f~1'), 'card:f~1');
  });

  it('merchant and terminal restrictions: block lists win, allow lists restrict', function () {
    const policy = { allowed_merchants: ['m1', 'm2'], blocked_merchants: ['m2'], blocked_terminals: ['t9'] };
    assert.deepEqual(checkMerchant(policy, 'm1', 't1'), approve);
    assert.deepEqual(checkMerchant(policy, 'm2', 't1'), decline('merchant_restricted', 'merchant:blocked'));
    assert.deepEqual(checkMerchant(policy, 'm3', 't1'), decline('merchant_restricted', 'merchant:not_allowed'));
    assert.deepEqual(checkMerchant(policy, 'm1', 't9'), decline('terminal_restricted', 'terminal:blocked'));
    assert.deepEqual(checkMerchant({ allowed_terminals: ['t1'] }, 'mx', 't2'), decline('terminal_restricted', 'terminal:not_allowed'));
    assert.deepEqual(checkMerchant({}, 'any', 'any'), approve);
  });
});

describe('rules: velocity, risk, loyalty', function () {
  before(() => announceSeed('rules-policy'));
  const minute = 60_000;

  /** Records approved spendings (at, amount) under the rules' windows. */
  const recorded = (rules: Parameters<typeof velocityWindows>[0], spendings: readonly (readonly [number, number])[]): VelocityState =>
    spendings.reduce((state, [at, amount]) => recordVelocity(state, velocityWindows(rules), at, amount), empty_velocity_state);

  it('velocity count: the count_max-th in the window is approved, the next declined; the window rolls by buckets', function () {
    const rules = [{ name: '10m', window_ms: 10 * minute, count_max: 3 }];
    let state = empty_velocity_state;
    for (const at of [0, minute, 2 * minute]) {
      assert.deepEqual(checkVelocity(rules, state, at, 10), approve);
      state = recordVelocity(state, velocityWindows(rules), at, 10);
    }
    assert.deepEqual(checkVelocity(rules, state, 3 * minute, 10), decline('velocity_exceeded', 'velocity:10m:count'));
    // The first event (bucket [0, 9375 ms)) still counts 10 minutes later, and leaves the window once
    // its whole bucket has: at most one bucket (10 min / 64) late, never early.
    const bucket = bucketMs(10 * minute);
    assert.deepEqual(checkVelocity(rules, state, 10 * minute - 1, 10), decline('velocity_exceeded', 'velocity:10m:count'));
    assert.deepEqual(checkVelocity(rules, state, 10 * minute + bucket - 2, 10), decline('velocity_exceeded', 'velocity:10m:count'));
    assert.deepEqual(checkVelocity(rules, state, 10 * minute + bucket - 1, 10), approve);
  });

  it('velocity amount: up to amount_max in the window is approved, one minor unit more declined', function () {
    const rules = [{ name: '1d', window_ms: 1440 * minute, amount_max_minor: 500 }];
    const state = recorded(rules, [[0, 300]]);
    assert.deepEqual(checkVelocity(rules, state, minute, 200), approve);
    assert.deepEqual(checkVelocity(rules, state, minute, 201), decline('velocity_exceeded', 'velocity:1d:amount'));
    assert.deepEqual(checkVelocity(rules, state, 1440 * minute + bucketMs(1440 * minute), 500), approve);
    assert.deepEqual(inWindow(state, minute, 1440 * minute), { count: 1, amount_minor: 300 });
  });

  it('velocity memory is bounded: buckets per window, one series per window the rules use', function () {
    const rules = [
      { name: 'short', window_ms: 1_000, count_max: 1_000_000 },
      { name: 'long', window_ms: 1_000_000, count_max: 1_000_000 },
    ];
    let state = empty_velocity_state;
    for (let i = 0; i < 10_000; i++) state = recordVelocity(state, velocityWindows(rules), i * 37, 1);
    assert.equal(state.series.length, 2);
    for (const series of state.series) assert.ok(series.buckets.length <= velocity_series_buckets_max, `${series.buckets.length} buckets`);
    // A window the rules no longer use is dropped; exact counts survive for the one still used.
    const short = recordVelocity(state, [1_000], 10_000 * 37, 1);
    assert.deepEqual(
      short.series.map((series) => series.window_ms),
      [1_000],
    );
  });

  it('property: no rolling window ever holds more than count_max approvals', function () {
    assertProperty(
      fc.property(
        fc.integer({ min: 1, max: 10 }),
        fc.integer({ min: 1, max: 100 }),
        fc.array(fc.integer({ min: 0, max: 1000 }), { maxLength: 80 }),
        (count_max, window_ms, offsets) => {
          const rules = [{ name: 'w', window_ms, count_max }];
          let state = empty_velocity_state;
          const approved: number[] = [];
          for (const at of [...offsets].sort((a, b) => a - b)) {
            if (checkVelocity(rules, state, at, 1).kind === 'approve') {
              state = recordVelocity(state, velocityWindows(rules), at, 1);
              approved.push(at);
            }
          }
          for (const end of approved) assert.ok(approved.filter((at) => at > end - window_ms && at <= end).length <= count_max);
        },
      ),
      500,
    );
  });

  it('risk: above the hard limit declines; above the soft threshold approves with a flag; at them passes', function () {
    const policy: RiskPolicy = { hard_amount_minor: 10_000, soft_amount_minor: 5_000 };
    const none = empty_velocity_state;
    assert.deepEqual(checkRisk(policy, empty_risk_state, 0, 5_000, none), approve);
    assert.deepEqual(checkRisk(policy, empty_risk_state, 0, 5_001, none), { kind: 'approve', flags: ['risk:soft_amount'] });
    assert.deepEqual(checkRisk(policy, empty_risk_state, 0, 10_000, none), { kind: 'approve', flags: ['risk:soft_amount'] });
    assert.deepEqual(checkRisk(policy, empty_risk_state, 0, 10_001, none), decline('risk', 'risk:hard_amount'));
  });

  it('risk: a soft velocity pattern flags instead of declining', function () {
    const policy: RiskPolicy = { soft_velocity: [{ name: 'burst', window_ms: minute, count_max: 2 }] };
    const state = recorded(policy.soft_velocity ?? [], [
      [0, 1],
      [1, 1],
    ]);
    assert.deepEqual(checkRisk(policy, empty_risk_state, 2, 1, state), { kind: 'approve', flags: ['risk:soft:velocity:burst:count'] });
  });

  it('risk: N counted declines within the window block the card for block_ms; others do not count', function () {
    const policy: RiskPolicy = { block_after_declines: 3, decline_window_ms: 10 * minute, block_ms: 30 * minute };
    let state = empty_risk_state;
    state = recordDecline(policy, state, 0, 'insufficient_funds');
    state = recordDecline(policy, state, minute, 'pin_invalid');
    assert.equal(recordDecline(policy, state, 2 * minute, 'product_restricted'), state);
    assert.equal(checkRisk(policy, state, 2 * minute, 1, empty_velocity_state).kind, 'approve');
    state = recordDecline(policy, state, 2 * minute, 'credit_limit_exceeded');
    assert.deepEqual(state, { declines_at_ms: [], blocked_until_ms: 32 * minute });
    assert.deepEqual(
      checkRisk(policy, state, 32 * minute - 1, 1, empty_velocity_state),
      decline('temporarily_blocked', 'risk:temporary_block'),
    );
    assert.deepEqual(checkRisk(policy, state, 32 * minute, 1, empty_velocity_state), approve);
    // Declines spread wider than the window never block.
    let spread = empty_risk_state;
    for (const at of [0, 10 * minute, 20 * minute, 30 * minute]) spread = recordDecline(policy, spread, at, 'insufficient_funds');
    assert.equal(spread.blocked_until_ms, 0);
    assert.equal(recordDecline({}, empty_risk_state, 0, 'insufficient_funds'), empty_risk_state);
  });

  it('loyalty: discount per group rounds half up and never exceeds the line', function () {
    const policy = { minor_per_unit: 100, points_per_unit: 1, discount_bp_by_group: { shop: 1000, wash: 20_000 } };
    assert.deepEqual(lineDiscounts(policy, [line('shop'), line('fuel'), line('wash')], [105, 1000, 300]), [11, 0, 300]); // 10.5 -> 11
  });

  it('loyalty: points per unit with group and merchant multipliers, rounded down once over the basket', function () {
    const policy = {
      minor_per_unit: 100,
      points_per_unit: 1,
      group_multiplier_bp: { shop: 20_000 },
      merchant_multiplier_bp: { partner: 15_000 },
    };
    assert.equal(pointsEarned(policy, 'm', [line('fuel')], [7235]), 72);
    assert.equal(pointsEarned(policy, 'm', [line('fuel'), line('fuel')], [150, 150]), 3); // 1.5 + 1.5, not 1 + 1
    assert.equal(pointsEarned(policy, 'm', [line('shop')], [150]), 3);
    assert.equal(pointsEarned(policy, 'partner', [line('shop')], [150]), 4); // 4.5 -> 4
    assert.equal(pointsEarned({ minor_per_unit: 0, points_per_unit: 1 }, 'm', [line('shop')], [150]), 0);
  });

  it('loyalty: redemption is bounded by the balance and by the amount due', function () {
    const policy = { minor_per_unit: 100, points_per_unit: 1, point_value_minor: 10 };
    assert.deepEqual(redeemPoints(policy, 100, 50, 1000), { ok: true, points: 50, value_minor: 500 });
    assert.deepEqual(redeemPoints(policy, 100, 100, 255), { ok: true, points: 25, value_minor: 250 });
    assert.deepEqual(redeemPoints(policy, 100, 101, 5000), { ok: false, rule: 'loyalty:points_insufficient' });
    assert.deepEqual(redeemPoints({ minor_per_unit: 1, points_per_unit: 1 }, 100, 1, 5000), {
      ok: false,
      rule: 'loyalty:redemption_disabled',
    });
    assert.deepEqual(redeemPoints(policy, 100, 0, 5000), { ok: true, points: 0, value_minor: 0 });
  });

  it('property: points never exceed the exact share and lose less than one point', function () {
    assertProperty(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 1_000_000 }), { maxLength: 10 }),
        fc.integer({ min: 1, max: 1000 }),
        fc.integer({ min: 1, max: 10 }),
        (amounts, minor_per_unit, points_per_unit) => {
          const points = pointsEarned(
            { minor_per_unit, points_per_unit },
            'm',
            amounts.map(() => line('fuel')),
            amounts,
          );
          const exact = (amounts.reduce((a, b) => a + b, 0) * points_per_unit) / minor_per_unit;
          assert.ok(points <= exact + 1e-9 && points > exact - 1);
        },
      ),
      500,
    );
  });

  it('composition: the first decline wins and later rules are not evaluated; flags accumulate', function () {
    let evaluated = false;
    assert.deepEqual(
      firstDecline([
        () => approve_clean,
        () => decline('risk', 'a'),
        () => {
          evaluated = true;
          return approve_clean;
        },
      ]),
      decline('risk', 'a'),
    );
    assert.equal(evaluated, false);
    assert.deepEqual(firstDecline([() => ({ kind: 'approve', flags: ['x'] }), () => ({ kind: 'approve', flags: ['y'] })]), {
      kind: 'approve',
      flags: ['x', 'y'],
    });
  });

  it('program gate and bookkeeping: a counted decline is remembered, an approval feeds velocity', function () {
    const rules = {
      risk: { block_after_declines: 1, decline_window_ms: minute, block_ms: minute },
      velocity: [{ name: 'v', window_ms: minute, count_max: 1 }],
    };
    const request = { atMs: 0, amount_minor: 10, merchantId: 'm', terminalId: 't' };
    const blocked = afterProgram(rules, empty_program_state, request, { approved: false, reason: 'insufficient_funds' });
    assert.deepEqual(checkProgramGate(rules, blocked, { ...request, atMs: 1 }), decline('temporarily_blocked', 'risk:temporary_block'));
    const approved = afterProgram(rules, empty_program_state, request, { approved: true });
    assert.deepEqual(approved.velocity, { series: [{ window_ms: minute, buckets: [[0, 1, 10]] }] });
    assert.equal(afterProgram({}, empty_program_state, request, { approved: true }), empty_program_state);
    assert.deepEqual(loyaltyFor({}, 'm', [line('fuel')], [100]), { discounts_minor: [0], discount_minor: 0, points_earned: 0 });
  });

  it('review queue: flagged entries queue in order, the oldest makes room past the bound and is counted', function () {
    let queue = empty_review_queue;
    for (let i = 0; i < review_entries_max + 3; i++)
      queue = enqueueReview(queue, { id: `t${i}`, card: 'c', amount_minor: i, flags: ['risk:soft_amount'], at_ms: i });
    assert.equal(queue.entries.length, review_entries_max);
    assert.equal(queue.dropped, 3);
    assert.equal(queue.entries[0]?.id, 't3');
    const resolved = resolveReview(queue, 't10');
    assert.equal(resolved.entries.length, review_entries_max - 1);
    assert.equal(
      resolved.entries.some((e) => e.id === 't10'),
      false,
    );
    assert.equal(resolveReview(queue, 'unknown'), queue);
  });
});
