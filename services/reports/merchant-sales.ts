// One merchant's sales over a date range, three ways: per UTC day, per terminal and per product
// (the line items of its sales), each per currency. What a merchant or station manager reads on
// the portal's merchant page; scoped to the merchant of the path (merchant admins of it only).
//
//   GET /reports/merchants/<merchant>/sales?from=YYYY-MM-DD&to=YYYY-MM-DD   sections: days, terminals, products
//
// Sales are approved purchases, completions and offline sales; `returned_minor` is what was taken
// back in the same period (reversals of sales, refunds), so a day's net is sales_minor -
// returned_minor. Products come from the line items terminals sent (a sale without a basket has
// none). Amounts in minor units of their currency, never summed across currencies.

import type { DateRange } from './params';
import { merchantProductsSql, merchantSalesSql, merchant_sales_rows_max } from './queries';
import { bounded, int, text, type QueryRow, type Report, type ReportContext } from './reports';

export async function merchantSalesReport(context: ReportContext, merchant: string, range: DateRange): Promise<Report> {
  const [days, terminals, products] = await Promise.all([
    bounded(context, merchantSalesSql(context.database, merchant, range.from_ms, range.until_ms, 'day'), merchant_sales_rows_max),
    bounded(context, merchantSalesSql(context.database, merchant, range.from_ms, range.until_ms, 'terminal'), merchant_sales_rows_max),
    bounded(context, merchantProductsSql(context.database, merchant, range.from_ms, range.until_ms), merchant_sales_rows_max),
  ]);
  const sales = (key: 'day' | 'terminal', rows: QueryRow[]) => ({
    columns: [key, 'currency', 'sales', 'sales_minor', 'returned_minor'],
    rows: rows.map((row) => ({
      [key]: text(row, 'key'),
      currency: text(row, 'currency'),
      sales: int(row, 'sales'),
      sales_minor: int(row, 'sales_minor'),
      returned_minor: int(row, 'returned_minor'),
    })),
  });
  return {
    report: 'merchant_sales',
    parameters: { merchant, from: range.from, to: range.to },
    sections: {
      days: sales('day', days),
      terminals: sales('terminal', terminals),
      products: {
        columns: ['product', 'product_group', 'currency', 'quantity_milli', 'amount_minor'],
        rows: products.map((row) => ({
          product: text(row, 'code'),
          product_group: text(row, 'product_group'),
          currency: text(row, 'currency'),
          quantity_milli: int(row, 'qty_milli'),
          amount_minor: int(row, 'amount_minor'),
        })),
      },
    },
  };
}
