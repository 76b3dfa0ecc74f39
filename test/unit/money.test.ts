// Proves the money primitives (actors/money.ts) hold their bounds exactly: isBoundedAmount at and
// one past ±amount_abs_max_minor and on non-integers; addMinor is exact and throws RangeError
// when a sum leaves the safe-integer range; minorFromWire converts every int64 edge value (±10^15,
// ±(10^15+1), int64 min and max) either exactly or to undefined, never to a rounded number; and
// the currency table answers only for its own ISO codes. Edge values are written out literally.

import assert from 'node:assert/strict';
import {
  addMinor,
  amount_abs_max_minor,
  currency_exponents,
  isBoundedAmount,
  isKnownCurrency,
  minorFromWire,
  request_amount_max_minor,
} from '../../actors/money';

const int64_max = 9_223_372_036_854_775_807n;
const int64_min = -9_223_372_036_854_775_808n;

describe('money: bounds', () => {
  it('keeps its limits in order, with the sum of two bounded amounts still exact', () => {
    assert.equal(amount_abs_max_minor, 10 ** 15);
    assert.equal(request_amount_max_minor, 10 ** 12);
    assert.ok(request_amount_max_minor < amount_abs_max_minor);
    assert.ok(Number.isSafeInteger(2 * amount_abs_max_minor));
    assert.ok(Number.isSafeInteger(-2 * amount_abs_max_minor));
  });
});

describe('money: isBoundedAmount', () => {
  it('accepts integers from -10^15 to 10^15 inclusive', () => {
    for (const value of [0, 1, -1, 999, amount_abs_max_minor, -amount_abs_max_minor, amount_abs_max_minor - 1]) {
      assert.equal(isBoundedAmount(value), true, String(value));
    }
  });

  it('refuses one past either bound, unsafe integers, fractions and non-finite values', () => {
    const bad = [
      amount_abs_max_minor + 1,
      -amount_abs_max_minor - 1,
      Number.MAX_SAFE_INTEGER,
      Number.MIN_SAFE_INTEGER,
      2 ** 53,
      0.5,
      -0.5,
      1e-9,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
    ];
    for (const value of bad) assert.equal(isBoundedAmount(value), false, String(value));
  });
});

describe('money: addMinor', () => {
  it('adds and subtracts exactly', () => {
    assert.equal(addMinor(1_000, 234), 1_234);
    assert.equal(addMinor(1_000, -1_234), -234);
    assert.equal(addMinor(amount_abs_max_minor, amount_abs_max_minor), 2 * amount_abs_max_minor);
    assert.equal(addMinor(Number.MAX_SAFE_INTEGER - 1, 1), Number.MAX_SAFE_INTEGER);
  });

  it('throws RangeError when the sum is no longer a safe integer', () => {
    assert.throws(() => addMinor(Number.MAX_SAFE_INTEGER, 1), RangeError);
    assert.throws(() => addMinor(Number.MIN_SAFE_INTEGER, -1), RangeError);
    assert.throws(() => addMinor(Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER), /money overflow/);
  });

  it('throws when an operand is not an integer, since the sum is then not one either', () => {
    assert.throws(() => addMinor(1, 0.5), RangeError);
    assert.throws(() => addMinor(Number.NaN, 1), RangeError);
  });
});

describe('money: minorFromWire', () => {
  const cases: readonly [bigint, number | undefined][] = [
    [0n, 0],
    [1n, 1],
    [-1n, -1],
    [10n ** 15n, 10 ** 15],
    [-(10n ** 15n), -(10 ** 15)],
    [10n ** 15n + 1n, undefined],
    [-(10n ** 15n) - 1n, undefined],
    [int64_max, undefined],
    [int64_min, undefined],
    [BigInt(Number.MAX_SAFE_INTEGER), undefined],
  ];
  for (const [wire, expected] of cases) {
    it(`${wire} -> ${expected === undefined ? 'undefined' : expected}`, () => {
      const value = minorFromWire(wire);
      assert.equal(value, expected);
      if (value !== undefined) {
        assert.equal(typeof value, 'number');
        assert.equal(BigInt(value), wire, 'the conversion must be exact');
      }
    });
  }
});

describe('money: currencies', () => {
  it('knows the listed ISO codes and their exponents', () => {
    assert.equal(isKnownCurrency('EUR'), true);
    assert.equal(currency_exponents['EUR'], 2);
    assert.equal(currency_exponents['JPY'], 0);
    assert.equal(currency_exponents['KWD'], 3);
  });

  it('refuses unknown, lower-case and Object.prototype names', () => {
    for (const code of ['XXX', 'eur', '', 'EURO', 'toString', 'constructor', '__proto__', 'hasOwnProperty']) {
      assert.equal(isKnownCurrency(code), false, code);
    }
  });

  it('cannot be extended at run time', () => {
    assert.ok(Object.isFrozen(currency_exponents));
    for (const [code, exponent] of Object.entries(currency_exponents)) {
      assert.match(code, /^[A-Z]{3}$/);
      assert.ok([0, 2, 3].includes(exponent), `${code} exponent ${exponent}`);
    }
  });
});
