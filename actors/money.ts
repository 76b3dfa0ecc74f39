// Exact money. Amounts are integer minor units held in a JS number that is always checked to be
// a safe integer within the bounds below; nothing here ever uses floating-point arithmetic on
// money beyond integer addition and subtraction, which is exact below 2^53.

/**
 * The largest absolute amount Tapline stores anywhere (a balance, a hold, one movement):
 * 10^15 minor units (10 trillion EUR). It sits far below Number.MAX_SAFE_INTEGER (~9 * 10^15),
 * so the sum or difference of two bounded amounts is still exact and can be checked afterwards.
 */
export const amount_abs_max_minor = 1_000_000_000_000_000;

/** The largest single movement a request may ask for: 10^12 minor units (10 billion EUR). */
export const request_amount_max_minor = 1_000_000_000_000;

/**
 * ISO 4217 currencies Tapline accepts, with their minor-unit exponent. A closed-loop system
 * only needs the currencies its programs are issued in; this list is the common set and is
 * extended here, in one place, when a program needs another.
 */
export const currency_exponents: Readonly<Record<string, number>> = Object.freeze({
  EUR: 2,
  USD: 2,
  GBP: 2,
  CHF: 2,
  SEK: 2,
  NOK: 2,
  DKK: 2,
  PLN: 2,
  CZK: 2,
  HUF: 2,
  RON: 2,
  CAD: 2,
  AUD: 2,
  NZD: 2,
  JPY: 0,
  KRW: 0,
  ISK: 0,
  BHD: 3,
  KWD: 3,
  TND: 3,
  ZAR: 2,
  BRL: 2,
  MXN: 2,
  INR: 2,
  SGD: 2,
  HKD: 2,
  CNY: 2,
  TRY: 2,
  AED: 2,
});

export function isKnownCurrency(code: string): boolean {
  return Object.prototype.hasOwnProperty.call(currency_exponents, code);
}

/** True when `value` is an integer amount Tapline can hold exactly. */
export function isBoundedAmount(value: number): boolean {
  return Number.isSafeInteger(value) && Math.abs(value) <= amount_abs_max_minor;
}

/** Adds two bounded amounts; the caller must check the result with isBoundedAmount. */
export function addMinor(a: number, b: number): number {
  const sum = a + b;
  if (!Number.isSafeInteger(sum)) throw new RangeError(`money overflow: ${a} + ${b}`);
  return sum;
}

/** amount_abs_max_minor as a bigint, built once: every amount on the wire is checked against it. */
const amount_abs_max_minor_wire = BigInt(amount_abs_max_minor);

/** Converts a wire int64 to a bounded number, or undefined when it is out of range. */
export function minorFromWire(value: bigint): number | undefined {
  if (value > amount_abs_max_minor_wire || value < -amount_abs_max_minor_wire) return undefined;
  return Number(value);
}
