// Line items of a purchase: validated beyond validate.ts's sum check (group, quantity,
// unit price consistent with the line amount) and turned into the document's `lines`
// (docs/OUTBOX.md). Exact integer arithmetic only: quantity is in thousandths, so a line's amount
// must be quantity x unit price / 1000 rounded to the minor unit (either way, at most one unit off).

import { invalidArgument } from '../../../actors/errors';
import type { ReceiptLine } from '../../../actors/card/transaction';
import type { LineItem } from '../../../gen/tapline/v1/types';

const group_chars_max = 64;
/** 10^9 units: more than any basket; keeps quantity x unit price far inside bigint range anyway. */
const quantity_milli_max = 1_000_000_000_000n;

export function parseLines(items: readonly LineItem[]): ReceiptLine[] | undefined {
  if (items.length === 0) return undefined;
  return items.map((item, index) => {
    const field = `line_items[${index}]`;
    if (item.productGroup.length > group_chars_max)
      throw invalidArgument(`${field}.product_group is at most ${group_chars_max} characters`);
    if (item.quantityMilli < 0n || item.quantityMilli > quantity_milli_max)
      throw invalidArgument(`${field}.quantity_milli must be between 0 and 10^12`);
    if (item.unitPriceMinor < 0n || item.unitPriceMinor > 1_000_000_000_000n)
      throw invalidArgument(`${field}.unit_price_minor must be between 0 and 10^12`);
    if (item.quantityMilli > 0n && item.unitPriceMinor > 0n) {
      // amount x 1000 must be within 999 of quantity x unit price (rounding to the minor unit).
      const difference = item.amountMinor * 1000n - item.quantityMilli * item.unitPriceMinor;
      if (difference > 999n || difference < -999n)
        throw invalidArgument(`${field}.amount_minor must be quantity_milli x unit_price_minor / 1000, rounded`);
    }
    return {
      code: item.productCode,
      group: item.productGroup,
      qty_milli: Number(item.quantityMilli),
      unit: Number(item.unitPriceMinor),
      amount: Number(item.amountMinor),
    };
  });
}
