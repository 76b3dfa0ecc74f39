// Proves the fleet account's pure decision (actors/fleet/rules.ts): a purchase runs status,
// program gate, products, prompts, pricing, card and fleet-wide limits, velocity and the credit
// limit, in that order, and an approval carries the new account, card and vehicle states with
// pump, invoiced, discount and points; a decline names its rule and only touches risk counters.
// Administration: create is idempotent and validates the zone, price lists merge and stay bounded,
// card issue/limits/status decide against the account. A property checks, for random purchase
// sequences, that the account balance equals minus the sum of invoiced approvals and never passes
// the credit limit, and that fleet-wide spend in a day never passes its limit.

import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  base_prices_max,
  reverseFleetPurchase,
  unspend,
  decideFleetAdmin,
  decideFleetCard,
  decideFleetPurchase,
  mergePrices,
  type FleetAccountState,
  type FleetCardState,
  type FleetPurchase,
} from '../../actors/fleet/rules';
import { decideAccountChange } from '../../actors/fleet/decide';
import { announceSeed, assertProperty } from './fast-check-seed';

const now = Date.parse('2026-11-23T10:00:00Z');

function account(overrides: Partial<FleetAccountState> = {}): FleetAccountState {
  const created = decideFleetAdmin('acme', undefined, {
    type: 'create',
    currency: 'EUR',
    creditLimitMinor: 100_000,
    timeZone: 'Europe/Berlin',
    nowMs: 0,
  });
  assert.equal(created.kind, 'changed');
  return { ...(created as { state: FleetAccountState }).state, ...overrides };
}

function card(acc: FleetAccountState, overrides: Partial<FleetCardState> = {}): FleetCardState {
  const issued = decideFleetCard(acc, 'acme~1', undefined, { type: 'issue', allowedGroups: undefined, limits: {}, nowMs: 0 });
  assert.equal(issued.kind, 'changed');
  return { ...(issued as { state: FleetCardState }).state, ...overrides };
}

function purchase(amountMinor: number, overrides: Partial<FleetPurchase> = {}): FleetPurchase {
  return {
    atMs: now,
    amountMinor,
    currency: 'EUR',
    merchantId: 'station-1',
    terminalId: 'pump-1',
    lines: [{ code: 'diesel', group: 'fuel', qty_milli: 10_000, unit_minor: 0, amount_minor: amountMinor }],
    prompts: { odometer_km: 0, driver_id: '', vehicle_id: '' },
    ...overrides,
  };
}

describe('fleet: purchase decision', function () {
  before(() => announceSeed('fleet-rules'));

  it('approves a plain purchase: the account owes the invoiced amount; counters and no flags', function () {
    const acc = account();
    const decision = decideFleetPurchase(acc, card(acc), undefined, purchase(5000));
    assert.equal(decision.kind, 'approved');
    if (decision.kind !== 'approved') return;
    assert.equal(decision.account.balanceMinor, -5000);
    assert.equal(decision.account.spent.day_minor, 5000);
    assert.equal(decision.card.spent.lifetime_minor, 5000);
    assert.deepEqual([decision.pumpMinor, decision.invoicedMinor, decision.discountMinor, decision.pointsEarned], [5000, 5000, 0, 0]);
    assert.deepEqual(decision.flags, []);
    assert.equal(decision.vehicle, undefined);
  });

  it('credit limit: approves up to the available credit, declines one minor unit past it', function () {
    const acc = account({ creditLimitMinor: 10_000, balanceMinor: -4_000 });
    assert.equal(decideFleetPurchase(acc, card(acc), undefined, purchase(6_000)).kind, 'approved');
    const over = decideFleetPurchase(acc, card(acc), undefined, purchase(6_001));
    assert.deepEqual(
      [over.kind, over.kind === 'declined' && over.reason, over.kind === 'declined' && over.rule],
      ['declined', 'credit_limit_exceeded', 'credit:fleet'],
    );
  });

  it('the credit limit counts the invoiced amount, limits count the pump amount', function () {
    const acc = account({
      creditLimitMinor: 9_000,
      limits: { daily_minor: 10_000 },
      pricing: { 'group:fuel': { formula: 'pump_minus_percent', percent_bp: 1000 } },
    });
    const decision = decideFleetPurchase(acc, card(acc), undefined, purchase(10_000));
    assert.equal(decision.kind, 'approved');
    if (decision.kind !== 'approved') return;
    assert.deepEqual(
      [decision.pumpMinor, decision.invoicedMinor, decision.account.balanceMinor, decision.account.spent.day_minor],
      [10_000, 9_000, -9_000, 10_000],
    );
    assert.deepEqual(decision.invoicedLinesMinor, [9_000]);
  });

  it('declines in rule order with the rule named: status, currency, products, prompts, price, limits', function () {
    const acc = account({
      allowedGroups: ['fuel'],
      prompts: { require_odometer: true, require_driver: false, require_vehicle: false, odometer_jump_max_km: 0 },
      limits: { daily_minor: 100 },
    });
    const c = card(acc, { limits: { per_txn_minor: 50 } });
    const rule = (d: ReturnType<typeof decideFleetPurchase>): string => (d.kind === 'declined' ? `${d.reason}/${d.rule}` : 'approved');
    const withOdo = { prompts: { odometer_km: 10, driver_id: '', vehicle_id: '' } };
    assert.equal(rule(decideFleetPurchase(acc, { ...c, status: 'blocked' }, undefined, purchase(10))), 'card_blocked/status:blocked');
    assert.equal(rule(decideFleetPurchase(acc, { ...c, status: 'frozen' }, undefined, purchase(10))), 'card_frozen/status:frozen');
    assert.equal(rule(decideFleetPurchase(acc, c, undefined, purchase(10, { currency: 'USD' }))), 'currency_mismatch/currency');
    assert.equal(
      rule(
        decideFleetPurchase(
          acc,
          c,
          undefined,
          purchase(10, { ...withOdo, lines: [{ code: 'x', group: 'shop', qty_milli: 1, unit_minor: 10, amount_minor: 10 }] }),
        ),
      ),
      'product_restricted/product:account:line:1:shop',
    );
    assert.equal(rule(decideFleetPurchase(acc, c, undefined, purchase(10))), 'prompt_required/prompt:odometer');
    assert.equal(
      rule(decideFleetPurchase(acc, c, { odometerKm: 11, atMs: 0 }, purchase(10, withOdo))),
      'prompt_implausible/prompt:odometer_backwards',
    );
    assert.equal(
      rule(
        decideFleetPurchase(
          { ...acc, pricing: { '*': { formula: 'spot_plus_amount', amount_milli_minor: 0 } } },
          c,
          undefined,
          purchase(10, withOdo),
        ),
      ),
      'price_unavailable/price:no_base:diesel',
    );
    assert.equal(rule(decideFleetPurchase(acc, c, undefined, purchase(51, withOdo))), 'limit_exceeded/limit:card:per_txn');
    assert.equal(
      rule(decideFleetPurchase(acc, { ...c, limits: {} }, undefined, purchase(101, withOdo))),
      'limit_exceeded/limit:fleet:daily',
    );
    const ok = decideFleetPurchase(acc, c, { odometerKm: 10, atMs: 0 }, purchase(50, withOdo));
    assert.equal(ok.kind, 'approved');
    assert.deepEqual(ok.kind === 'approved' && ok.vehicle, { odometerKm: 10, atMs: now });
  });

  it('program rules: merchant restriction, velocity, soft flag, loyalty discount and points', function () {
    const acc = account({
      program: {
        merchant: { blocked_merchants: ['bad'] },
        velocity: [{ name: 'burst', window_ms: 60_000, count_max: 1 }],
        risk: { soft_amount_minor: 1_000 },
        loyalty: { minor_per_unit: 100, points_per_unit: 1, discount_bp_by_group: { fuel: 100 } },
      },
    });
    const c = card(acc);
    const blocked = decideFleetPurchase(acc, c, undefined, purchase(10, { merchantId: 'bad' }));
    assert.equal(blocked.kind === 'declined' && blocked.rule, 'merchant:blocked');
    const first = decideFleetPurchase(acc, c, undefined, purchase(2_000));
    assert.equal(first.kind, 'approved');
    if (first.kind !== 'approved') return;
    assert.deepEqual([first.discountMinor, first.invoicedMinor, first.pointsEarned, first.flags], [20, 1_980, 19, ['risk:soft_amount']]);
    assert.equal(first.account.points, 19);
    const second = decideFleetPurchase(first.account, first.card, undefined, purchase(10, { atMs: now + 1 }));
    assert.equal(second.kind === 'declined' && second.rule, 'velocity:burst:count');
  });

  it('repeated counted declines block the card temporarily; the decline carries the new card state', function () {
    const acc = account({
      creditLimitMinor: 100,
      program: { risk: { block_after_declines: 2, decline_window_ms: 60_000, block_ms: 60_000 } },
    });
    let c = card(acc);
    for (let i = 0; i < 2; i++) {
      const d = decideFleetPurchase(acc, c, undefined, purchase(101, { atMs: now + i }));
      assert.equal(d.kind === 'declined' && d.reason, 'credit_limit_exceeded');
      c = d.card;
    }
    const blocked = decideFleetPurchase(acc, c, undefined, purchase(1, { atMs: now + 2 }));
    assert.equal(blocked.kind === 'declined' && blocked.rule, 'risk:temporary_block');
    assert.equal(decideFleetPurchase(acc, c, undefined, purchase(1, { atMs: now + 60_001 })).kind, 'approved');
    // A decline that does not count (product) leaves the card's state as it was: nothing to write.
    const fresh = card(acc);
    const product = decideFleetPurchase({ ...acc, allowedGroups: [] }, fresh, undefined, purchase(1));
    assert.equal(product.kind, 'declined');
    assert.equal(product.card, fresh);
  });

  it('property: the balance is minus the invoiced approvals, within the credit limit; fleet daily spend within its limit', function () {
    assertProperty(
      fc.property(
        fc.integer({ min: 0, max: 50_000 }),
        fc.integer({ min: 0, max: 30_000 }),
        fc.array(
          fc.tuple(fc.integer({ min: 1, max: 9_000 }), fc.integer({ min: 0, max: 3 * 86_400_000 }), fc.integer({ min: 0, max: 2000 })),
          { maxLength: 40 },
        ),
        (credit, daily, requests) => {
          let acc = account({
            creditLimitMinor: credit,
            limits: { daily_minor: daily },
            pricing: { '*': { formula: 'pump_minus_percent', percent_bp: 150 } },
          });
          let c = card(acc);
          let invoiced = 0;
          const perDay = new Map<string, number>();
          for (const [amount, offset, bp] of [...requests].sort((a, b) => a[1] - b[1])) {
            acc = { ...acc, pricing: { '*': { formula: 'pump_minus_percent', percent_bp: bp } } };
            const d = decideFleetPurchase(acc, c, undefined, purchase(amount, { atMs: now + offset }));
            c = d.card;
            if (d.kind !== 'approved') continue;
            acc = d.account;
            invoiced += d.invoicedMinor;
            assert.ok(d.invoicedMinor <= d.pumpMinor);
            perDay.set(acc.spent.day, (perDay.get(acc.spent.day) ?? 0) + amount);
          }
          assert.equal(acc.balanceMinor + invoiced, 0);
          assert.ok(-acc.balanceMinor <= credit);
          for (const spent of perDay.values()) assert.ok(spent <= daily);
        },
      ),
      300,
    );
  });
});

describe('fleet: reversal', function () {
  it('gives the invoiced amount and points back and frees the limit room of periods still current', function () {
    const acc = account({ program: { loyalty: { minor_per_unit: 100, points_per_unit: 1 } } });
    const approved = decideFleetPurchase(acc, card(acc), undefined, purchase(5_000));
    assert.equal(approved.kind, 'approved');
    if (approved.kind !== 'approved') return;
    const back = reverseFleetPurchase(approved.account, approved.card, {
      pumpMinor: 5_000,
      invoicedMinor: approved.invoicedMinor,
      pointsEarned: approved.pointsEarned,
      pointsRedeemed: approved.pointsRedeemed,
      atMs: now,
    });
    assert.equal(back.account.balanceMinor, 0);
    assert.equal(back.account.points, 0);
    assert.deepEqual([back.card.spent.day_minor, back.card.spent.month_minor, back.card.spent.lifetime_minor], [0, 0, 0]);
  });

  it('leaves counters of a period that has ended since (only lifetime goes down)', function () {
    const acc = account();
    const approved = decideFleetPurchase(acc, card(acc), undefined, purchase(5_000));
    if (approved.kind !== 'approved') throw new Error('expected approval');
    const nextDay = decideFleetPurchase(approved.account, approved.card, undefined, purchase(100, { atMs: now + 86_400_000 }));
    if (nextDay.kind !== 'approved') throw new Error('expected approval');
    const counters = unspend(nextDay.card.spent, 'Europe/Berlin', now, 5_000);
    assert.deepEqual([counters.day_minor, counters.week_minor, counters.lifetime_minor], [100, 100, 100]);
    assert.equal(unspend(counters, 'Europe/Berlin', now, 1_000_000).lifetime_minor, 0);
  });
});

describe('fleet: administration', function () {
  it('set_prompts changes only the prompts; the same prompts again are unchanged (no write; the actor answers once durable)', function () {
    const program = { velocity: [{ name: 'twice', window_ms: 60_000, count_max: 2 }] };
    const acc = account({ program, allowedGroups: ['fuel'] });
    const prompts = { require_odometer: true, require_driver: false, require_vehicle: false, odometer_jump_max_km: 0 };
    const changed = decideFleetAdmin('acme', acc, { type: 'set_prompts', prompts });
    assert.equal(changed.kind, 'changed');
    const after = (changed as { state: FleetAccountState }).state;
    assert.deepEqual(after, { ...acc, prompts });
    assert.equal(decideFleetAdmin('acme', after, { type: 'set_prompts', prompts: { ...prompts } }).kind, 'unchanged');
    const env = { nowMs: now, nextId: () => 'id' };
    assert.equal(decideAccountChange('acme', after, { type: 'set_prompts', prompts }, 'ops', env).kind, 'unchanged');
    assert.equal(decideFleetAdmin('acme', undefined, { type: 'set_prompts', prompts }).kind, 'rejected');
  });

  it('creates an account once; the same create again is unchanged, a different one already exists', function () {
    const acc = account();
    assert.equal(
      decideFleetAdmin('acme', acc, { type: 'create', currency: 'EUR', creditLimitMinor: 100_000, timeZone: 'Europe/Berlin', nowMs: 5 })
        .kind,
      'unchanged',
    );
    assert.equal(
      (
        decideFleetAdmin('acme', acc, {
          type: 'create',
          currency: 'USD',
          creditLimitMinor: 100_000,
          timeZone: 'Europe/Berlin',
          nowMs: 5,
        }) as { code: string }
      ).code,
      'already_exists',
    );
    assert.equal(
      (
        decideFleetAdmin('x', undefined, { type: 'create', currency: 'EUR', creditLimitMinor: 1, timeZone: 'Nowhere/City', nowMs: 5 }) as {
          code: string;
        }
      ).code,
      'invalid_argument',
    );
    assert.equal((decideFleetAdmin('x', undefined, { type: 'set_pricing', pricing: {} }) as { code: string }).code, 'not_found');
  });

  it('sets limits, credit, policy and pricing', function () {
    const acc = account();
    const limited = decideFleetAdmin('acme', acc, { type: 'set_limits', creditLimitMinor: 5, limits: { daily_minor: 9 } });
    assert.deepEqual(limited.kind === 'changed' && [limited.state.creditLimitMinor, limited.state.limits], [5, { daily_minor: 9 }]);
    const unlimitedCredit = decideFleetAdmin('acme', acc, { type: 'set_limits', creditLimitMinor: undefined, limits: {} });
    assert.equal(unlimitedCredit.kind === 'changed' && unlimitedCredit.state.creditLimitMinor, 100_000);
    const policy = decideFleetAdmin(
      'acme',
      { ...acc, allowedGroups: ['x'] },
      { type: 'set_policy', allowedGroups: undefined, prompts: acc.prompts, program: {} },
    );
    assert.equal(policy.kind === 'changed' && 'allowedGroups' in policy.state, false);
  });

  it('merges base prices by product and instant, dropping entries superseded before now, bounded', function () {
    const merged = mergePrices(
      [
        { product_code: 'diesel', unit_milli_minor: 1, effective_from_ms: 0 },
        { product_code: 'diesel', unit_milli_minor: 2, effective_from_ms: 10 },
      ],
      [
        { product_code: 'diesel', unit_milli_minor: 3, effective_from_ms: 20 },
        { product_code: 'diesel', unit_milli_minor: 4, effective_from_ms: 10 },
      ],
      15,
    );
    assert.deepEqual(
      merged.map((p) => p.unit_milli_minor),
      [4, 3],
    );
    const many = Array.from({ length: base_prices_max + 5 }, (_, i) => ({
      product_code: `p${i}`,
      unit_milli_minor: 1,
      effective_from_ms: 0,
    }));
    assert.equal(mergePrices([], many, 0).length, base_prices_max);
  });

  it('issues cards once, sets their limits and status, only on an existing account', function () {
    const acc = account();
    const c = card(acc);
    assert.equal(decideFleetCard(acc, 'acme~1', c, { type: 'issue', allowedGroups: ['x'], limits: {}, nowMs: 1 }).kind, 'unchanged');
    assert.equal(
      (
        decideFleetCard(undefined, 'acme~1', undefined, { type: 'issue', allowedGroups: undefined, limits: {}, nowMs: 1 }) as {
          code: string;
        }
      ).code,
      'not_found',
    );
    assert.equal(
      (decideFleetCard(acc, 'acme~2', undefined, { type: 'set_status', status: 'blocked', unblock: false }) as { code: string }).code,
      'not_found',
    );
    const blocked = decideFleetCard(acc, 'acme~1', c, { type: 'set_status', status: 'blocked', unblock: false });
    assert.equal(blocked.kind === 'changed' && blocked.state.status, 'blocked');
    assert.equal(decideFleetCard(acc, 'acme~1', c, { type: 'set_status', status: 'active', unblock: false }).kind, 'unchanged');
    // A blocked card leaves blocked only by an unblock (held for a second approver at the door).
    const stuck = blocked.kind === 'changed' ? blocked.state : c;
    for (const status of ['active', 'frozen'] as const) {
      const refused = decideFleetCard(acc, 'acme~1', stuck, { type: 'set_status', status, unblock: false });
      assert.equal(refused.kind === 'rejected' && refused.code, 'failed_precondition', `blocked -> ${status} without unblock`);
    }
    const unblocked = decideFleetCard(acc, 'acme~1', stuck, { type: 'set_status', status: 'active', unblock: true });
    assert.equal(unblocked.kind === 'changed' && unblocked.state.status, 'active');
    const limited = decideFleetCard(acc, 'acme~1', c, { type: 'set_limits', limits: { daily_minor: 5 }, allowedGroups: ['fuel'] });
    assert.deepEqual(limited.kind === 'changed' && [limited.state.limits, limited.state.allowedGroups], [{ daily_minor: 5 }, ['fuel']]);
  });
});
