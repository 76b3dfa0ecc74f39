// Product restrictions, checked per line item: a fleet (and each of its cards) may allow only
// some product groups (diesel, petrol, adblue, car_wash, shop, ...). A basket with one forbidden
// line is declined as a whole, and the rule names the line (1-based) and its group, so the pinpad
// can tell the driver which item to remove. An absent list allows every group; both the
// account's and the card's lists must allow a line.

import { approve_clean, decline, type RuleVerdict } from './rule';

export interface RuleLine {
  readonly code: string;
  readonly group: string;
  /** Quantity in thousandths of the unit (litres to the millilitre). */
  readonly qty_milli: number;
  /** Unit price as sent by the terminal, minor units. */
  readonly unit_minor: number;
  /** Line amount at the pump, minor units. */
  readonly amount_minor: number;
}

export function checkProducts(
  accountAllowed: readonly string[] | undefined,
  cardAllowed: readonly string[] | undefined,
  lines: readonly RuleLine[],
): RuleVerdict {
  if (accountAllowed === undefined && cardAllowed === undefined) return approve_clean;
  // Restrictions cannot be checked on a basket that does not say what it holds.
  if (lines.length === 0) return decline('product_restricted', 'product:no_lines');
  for (let index = 0; index < lines.length; index++) {
    const group = (lines[index] as RuleLine).group;
    if (accountAllowed !== undefined && !accountAllowed.includes(group))
      return decline('product_restricted', `product:account:line:${index + 1}:${group}`);
    if (cardAllowed !== undefined && !cardAllowed.includes(group))
      return decline('product_restricted', `product:card:line:${index + 1}:${group}`);
  }
  return approve_clean;
}
