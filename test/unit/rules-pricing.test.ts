// Proves the negotiated-price formulas (actors/rules/pricing.ts) and their stated rounding rule:
// each line's invoiced amount is computed exactly in bigint and rounded once to the minor unit,
// halves up. Every formula has worked examples including the exact half case; base price lists
// resolve by effective date; properties check the rounding against an exact rational reference,
// that discounts never go below zero or above the pump price, and that markups never go below the
// SPOT price.

import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  agreementFor,
  basePriceAt,
  divideRoundHalfUp,
  invoicedLine,
  lineAmountMinor,
  priceBasket,
  type BasePrice,
} from '../../actors/rules/pricing';
import type { RuleLine } from '../../actors/rules/products';
import { announceSeed, assertProperty } from './fast-check-seed';

function line(qty_milli: number, amount_minor: number, code = 'diesel', group = 'fuel'): RuleLine {
  return { code, group, qty_milli, unit_minor: 0, amount_minor };
}

describe('rules: negotiated pricing', function () {
  before(() => announceSeed('rules-pricing'));

  it('rounds halves up and everything else to nearest', function () {
    assert.equal(divideRoundHalfUp(15n, 10n), 2n);
    assert.equal(divideRoundHalfUp(25n, 10n), 3n);
    assert.equal(divideRoundHalfUp(14n, 10n), 1n);
    assert.equal(divideRoundHalfUp(0n, 7n), 0n);
    assert.throws(() => divideRoundHalfUp(-1n, 10n), RangeError);
    assert.throws(() => divideRoundHalfUp(1n, 0n), RangeError);
  });

  it('prices quantity x unit price in milli-minor units (40.215 l at 1.799 EUR/l = 72.35 EUR)', function () {
    assert.equal(lineAmountMinor(40_215, 179_900), 7235); // 7234.6785 cents
    assert.equal(lineAmountMinor(1000, 1_500), 2); // 1.5 cents: half up
    assert.equal(lineAmountMinor(1000, 2_500), 3); // 2.5 cents: half up, not to even
    assert.equal(lineAmountMinor(1000, 1_499), 1);
    assert.equal(lineAmountMinor(0, 179_900), 0);
  });

  it('pump: the invoiced amount is the pump amount', function () {
    assert.deepEqual(invoicedLine({ formula: 'pump' }, line(40_215, 7235), undefined), { ok: true, invoiced_minor: 7235 });
  });

  it('spot + amount per unit: (base + markup) x quantity, rounded once', function () {
    const agreement = { formula: 'spot_plus_amount' as const, amount_milli_minor: 2_500 };
    assert.deepEqual(invoicedLine(agreement, line(10_000, 1800), 150_000), { ok: true, invoiced_minor: 1525 });
    assert.deepEqual(invoicedLine(agreement, line(333, 60), 150_000), { ok: true, invoiced_minor: 51 }); // 50.7825
    assert.deepEqual(invoicedLine(agreement, line(2_000, 60), 0), { ok: true, invoiced_minor: 5 }); // 5.0 exactly
    assert.deepEqual(invoicedLine(agreement, line(1_000, 60), 0), { ok: true, invoiced_minor: 3 }); // 2.5 -> 3
  });

  it('spot + percent: base x (1 + bp/10000) x quantity, rounded once', function () {
    const agreement = { formula: 'spot_plus_percent' as const, percent_bp: 250 };
    assert.deepEqual(invoicedLine(agreement, line(10_000, 1800), 150_000), { ok: true, invoiced_minor: 1538 }); // 1537.5
    assert.deepEqual(invoicedLine(agreement, line(40_215, 7235), 140_000), { ok: true, invoiced_minor: 5771 }); // 5770.8525
    assert.deepEqual(invoicedLine({ formula: 'spot_plus_percent', percent_bp: 0 }, line(10_000, 1), 150_000), {
      ok: true,
      invoiced_minor: 1500,
    });
  });

  it('spot formulas without a base price in effect cannot be priced; the rule names the product', function () {
    assert.deepEqual(invoicedLine({ formula: 'spot_plus_amount', amount_milli_minor: 1 }, line(1000, 1), undefined), {
      ok: false,
      rule: 'price:no_base:diesel',
    });
  });

  it('pump - amount per unit: pump amount minus the rounded discount, never below zero', function () {
    const agreement = { formula: 'pump_minus_amount' as const, amount_milli_minor: 5_000 };
    assert.deepEqual(invoicedLine(agreement, line(40_215, 7235), undefined), { ok: true, invoiced_minor: 7034 }); // discount 201.075 -> 201
    assert.deepEqual(invoicedLine(agreement, line(100, 7235), undefined), { ok: true, invoiced_minor: 7235 - 1 }); // 0.5 -> 1
    assert.deepEqual(invoicedLine(agreement, line(40_215, 100), undefined), { ok: true, invoiced_minor: 0 });
  });

  it('pump - percent: pump x (1 - bp/10000), rounded once (halves up)', function () {
    const agreement = { formula: 'pump_minus_percent' as const, percent_bp: 300 };
    assert.deepEqual(invoicedLine(agreement, line(40_215, 7235), undefined), { ok: true, invoiced_minor: 7018 }); // 7017.95
    assert.deepEqual(invoicedLine({ formula: 'pump_minus_percent', percent_bp: 1000 }, line(1, 5), undefined), {
      ok: true,
      invoiced_minor: 5,
    }); // 4.5 -> 5
    assert.deepEqual(invoicedLine({ formula: 'pump_minus_percent', percent_bp: 10_000 }, line(1, 5), undefined), {
      ok: true,
      invoiced_minor: 0,
    });
    assert.deepEqual(invoicedLine({ formula: 'pump_minus_percent', percent_bp: 20_000 }, line(1, 5), undefined), {
      ok: true,
      invoiced_minor: 0,
    });
  });

  it('base price lists resolve by effective date: the latest entry not after the instant', function () {
    const list: BasePrice[] = [
      { product_code: 'diesel', unit_milli_minor: 150_000, effective_from_ms: 1000 },
      { product_code: 'diesel', unit_milli_minor: 155_000, effective_from_ms: 2000 },
      { product_code: 'petrol', unit_milli_minor: 170_000, effective_from_ms: 0 },
    ];
    assert.equal(basePriceAt(list, 'diesel', 999), undefined);
    assert.equal(basePriceAt(list, 'diesel', 1000), 150_000);
    assert.equal(basePriceAt(list, 'diesel', 1999), 150_000);
    assert.equal(basePriceAt(list, 'diesel', 2000), 155_000);
    assert.equal(basePriceAt(list, 'adblue', 5000), undefined);
  });

  it('agreements resolve by product code, then group, then the default; else the pump price', function () {
    const agreements = {
      'code:diesel': { formula: 'pump_minus_percent' as const, percent_bp: 1 },
      'group:fuel': { formula: 'pump_minus_percent' as const, percent_bp: 2 },
      '*': { formula: 'pump_minus_percent' as const, percent_bp: 3 },
    };
    assert.equal(agreementFor(agreements, line(1, 1, 'diesel', 'fuel')).percent_bp, 1);
    assert.equal(agreementFor(agreements, line(1, 1, 'petrol', 'fuel')).percent_bp, 2);
    assert.equal(agreementFor(agreements, line(1, 1, 'wash', 'car_wash')).percent_bp, 3);
    assert.equal(agreementFor({}, line(1, 1)).formula, 'pump');
  });

  it('prices a basket line by line; the total is the sum of the rounded lines', function () {
    const prices: BasePrice[] = [{ product_code: 'diesel', unit_milli_minor: 140_000, effective_from_ms: 0 }];
    const basket = priceBasket(
      {
        'code:diesel': { formula: 'spot_plus_percent', percent_bp: 250 },
        'group:shop': { formula: 'pump_minus_percent', percent_bp: 500 },
      },
      prices,
      [line(40_215, 7235), line(1000, 299, 'coffee', 'shop'), line(1000, 450, 'wash', 'car_wash')],
      10,
    );
    assert.deepEqual(basket, { ok: true, invoiced_lines_minor: [5771, 284, 450], invoiced_minor: 6505, pump_minor: 7984 });
    assert.deepEqual(priceBasket({ '*': { formula: 'spot_plus_amount', amount_milli_minor: 0 } }, [], [line(1, 1)], 10), {
      ok: false,
      rule: 'price:no_base:diesel',
    });
  });

  it('property: every formula equals the exact rational value rounded half up', function () {
    assertProperty(
      fc.property(
        fc.integer({ min: 0, max: 1_000_000_000 }),
        fc.integer({ min: 0, max: 10_000_000 }),
        fc.integer({ min: 0, max: 100_000_000 }),
        fc.integer({ min: 0, max: 5_000_000 }),
        fc.integer({ min: 0, max: 10_000 }),
        (qty, base, pump, amount, bp) => {
          const exactHalfUp = (num: bigint, den: bigint): bigint => {
            const floor = num / den;
            return 2n * (num - floor * den) >= den ? floor + 1n : floor;
          };
          const l = line(qty, pump);
          const get = (agreement: Parameters<typeof invoicedLine>[0]): number => {
            const priced = invoicedLine(agreement, l, base);
            assert.ok(priced.ok);
            return priced.invoiced_minor;
          };
          const q = BigInt(qty);
          assert.equal(
            BigInt(get({ formula: 'spot_plus_amount', amount_milli_minor: amount })),
            exactHalfUp(q * BigInt(base + amount), 1_000_000n),
          );
          assert.equal(
            BigInt(get({ formula: 'spot_plus_percent', percent_bp: bp })),
            exactHalfUp(q * BigInt(base) * BigInt(10_000 + bp), 10_000_000_000n),
          );
          const minusAmount = get({ formula: 'pump_minus_amount', amount_milli_minor: amount });
          assert.equal(
            BigInt(minusAmount),
            BigInt(pump) - exactHalfUp(q * BigInt(amount), 1_000_000n) > 0n
              ? BigInt(pump) - exactHalfUp(q * BigInt(amount), 1_000_000n)
              : 0n,
          );
          const minusPercent = get({ formula: 'pump_minus_percent', percent_bp: bp });
          assert.equal(BigInt(minusPercent), exactHalfUp(BigInt(pump) * BigInt(10_000 - bp), 10_000n));
          assert.ok(minusAmount >= 0 && minusAmount <= pump && minusPercent >= 0 && minusPercent <= pump);
          assert.ok(get({ formula: 'spot_plus_percent', percent_bp: bp }) >= lineAmountMinor(qty, base));
          assert.ok(get({ formula: 'spot_plus_amount', amount_milli_minor: amount }) >= lineAmountMinor(qty, base));
        },
      ),
      2000,
    );
  });
});
