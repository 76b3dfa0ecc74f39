// Negotiated fleet pricing. For each product a fleet is invoiced one of:
//   pump                      the price charged at the pump (no agreement for this product)
//   spot_plus_amount          base (SPOT) unit price + a fixed markup per unit
//   spot_plus_percent         base (SPOT) unit price + a percentage
//   pump_minus_amount         pump price - a fixed discount per unit
//   pump_minus_percent        pump price - a percentage
//   pump_plus_amount          pump price + a fixed markup per unit
//   pump_plus_percent         pump price + a percentage
//
// Representation (exact, no floating point):
// - Unit prices and per-unit markups/discounts are integers of *milli-minor units* per unit: a
//   thousandth of the currency's minor unit. 1.799 EUR/l = 179.9 cents/l = 179_900 milli-cents/l.
//   This holds the 3-decimal fuel prices of 2-decimal currencies with room for one more digit.
// - Quantities are thousandths of the unit (LineItem.quantity_milli: 40.215 l = 40_215).
// - Percentages are basis points (1 bp = 0.01 %; 250 = 2.5 %).
// - The pump price of a line is the line amount the terminal charged (LineItem.amount_minor).
//
// Rounding rule: every line's invoiced amount is computed in bigint from the exact product and
// rounded ONCE, to the nearest minor unit, halves rounded up (away from zero; all amounts here are
// non-negative). The invoice total is the sum of the rounded lines. A discount can bring a line to
// 0 but never below.
//
// SPOT prices come from the fleet's own base price list, or, for a product that list has no price
// in effect for, from the shared wholesale list the fleet follows (one list loaded once for many
// fleets, with the same effective dates).

import type { RuleLine } from './products';

export type PriceFormula =
  'pump' | 'spot_plus_amount' | 'spot_plus_percent' | 'pump_minus_amount' | 'pump_minus_percent' | 'pump_plus_amount' | 'pump_plus_percent';

export interface PriceAgreement {
  readonly formula: PriceFormula;
  /** Markup or discount per unit in milli-minor units (the *_amount formulas). */
  readonly amount_milli_minor?: number;
  /** Markup or discount in basis points (the *_percent formulas). */
  readonly percent_bp?: number;
}

/** One entry of a base price list: a product's SPOT unit price from an instant on. */
export interface BasePrice {
  readonly product_code: string;
  readonly unit_milli_minor: number;
  readonly effective_from_ms: number;
}

const milli_per_unit = 1000n;
const milli_minor_per_minor = 1000n;
const bp_per_whole = 10_000n;

/** round(numerator / denominator), halves up; both non-negative, denominator > 0. */
export function divideRoundHalfUp(numerator: bigint, denominator: bigint): bigint {
  if (numerator < 0n || denominator <= 0n)
    throw new RangeError('assertion: divideRoundHalfUp takes a non-negative numerator and a positive denominator');
  return (2n * numerator + denominator) / (2n * denominator);
}

/** Amount in minor units of `qty_milli` units at `unit_milli_minor` per unit, rounded half up. */
export function lineAmountMinor(qty_milli: number, unit_milli_minor: number): number {
  return Number(divideRoundHalfUp(BigInt(qty_milli) * BigInt(unit_milli_minor), milli_per_unit * milli_minor_per_minor));
}

/**
 * The base unit price of a product at an instant: the entry with the latest effective_from_ms
 * not after `atMs`. Undefined when the list has no price for it yet.
 */
export function basePriceAt(list: readonly BasePrice[], product_code: string, atMs: number): number | undefined {
  let best: BasePrice | undefined;
  for (const entry of list) {
    if (entry.product_code !== product_code || entry.effective_from_ms > atMs) continue;
    if (best === undefined || entry.effective_from_ms >= best.effective_from_ms) best = entry;
  }
  return best?.unit_milli_minor;
}

export type LinePrice = { readonly ok: true; readonly invoiced_minor: number } | { readonly ok: false; readonly rule: string };

/** The invoiced amount of one line under an agreement; `base` is the SPOT unit price if known. */
export function invoicedLine(agreement: PriceAgreement, line: RuleLine, base_unit_milli_minor: number | undefined): LinePrice {
  const qty = BigInt(line.qty_milli);
  const pump = BigInt(line.amount_minor);
  const amount = BigInt(agreement.amount_milli_minor ?? 0);
  const percent = BigInt(agreement.percent_bp ?? 0);
  switch (agreement.formula) {
    case 'pump':
      return { ok: true, invoiced_minor: line.amount_minor };
    case 'spot_plus_amount':
    case 'spot_plus_percent': {
      if (base_unit_milli_minor === undefined) return { ok: false, rule: `price:no_base:${line.code}` };
      const base = BigInt(base_unit_milli_minor);
      const scale = milli_per_unit * milli_minor_per_minor;
      const invoiced =
        agreement.formula === 'spot_plus_amount'
          ? divideRoundHalfUp(qty * (base + amount), scale)
          : divideRoundHalfUp(qty * base * (bp_per_whole + percent), scale * bp_per_whole);
      return { ok: true, invoiced_minor: Number(invoiced) };
    }
    case 'pump_minus_amount': {
      const discount = divideRoundHalfUp(qty * amount, milli_per_unit * milli_minor_per_minor);
      return { ok: true, invoiced_minor: Number(pump > discount ? pump - discount : 0n) };
    }
    case 'pump_minus_percent': {
      const keep = percent >= bp_per_whole ? 0n : bp_per_whole - percent;
      return { ok: true, invoiced_minor: Number(divideRoundHalfUp(pump * keep, bp_per_whole)) };
    }
    case 'pump_plus_amount':
      return { ok: true, invoiced_minor: Number(pump + divideRoundHalfUp(qty * amount, milli_per_unit * milli_minor_per_minor)) };
    case 'pump_plus_percent':
      return { ok: true, invoiced_minor: Number(divideRoundHalfUp(pump * (bp_per_whole + percent), bp_per_whole)) };
  }
}

/** Agreements of a fleet: by product code first, then by product group, then the default ("*"). */
export type PriceAgreements = Readonly<Record<string, PriceAgreement>>;

export function agreementFor(agreements: PriceAgreements, line: RuleLine): PriceAgreement {
  return agreements[`code:${line.code}`] ?? agreements[`group:${line.group}`] ?? agreements['*'] ?? { formula: 'pump' };
}

export type BasketPrice =
  | { readonly ok: true; readonly invoiced_lines_minor: readonly number[]; readonly invoiced_minor: number; readonly pump_minor: number }
  | { readonly ok: false; readonly rule: string };

/**
 * Prices every line of a basket; a line whose SPOT price is missing (from the own list and from
 * the shared one) makes the basket unpriceable.
 */
export function priceBasket(
  agreements: PriceAgreements,
  prices: readonly BasePrice[],
  lines: readonly RuleLine[],
  atMs: number,
  shared: readonly BasePrice[] = [],
): BasketPrice {
  const invoiced_lines_minor: number[] = [];
  let invoiced_minor = 0;
  let pump_minor = 0;
  for (const line of lines) {
    const agreement = agreementFor(agreements, line);
    const base = agreement.formula.startsWith('spot')
      ? (basePriceAt(prices, line.code, atMs) ?? basePriceAt(shared, line.code, atMs))
      : undefined;
    const priced = invoicedLine(agreement, line, base);
    if (!priced.ok) return priced;
    invoiced_lines_minor.push(priced.invoiced_minor);
    invoiced_minor += priced.invoiced_minor;
    pump_minor += line.amount_minor;
  }
  return { ok: true, invoiced_lines_minor, invoiced_minor, pump_minor };
}
