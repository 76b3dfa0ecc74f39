// The merchant page's sales this month: per day, per terminal and per product (the reports
// service's /reports/merchants/<m>/sales), already formatted for the session's locale.

import { html, type Markup } from './html';
import { formatDay, formatMoney, formatQuantity, t } from './i18n';
import type { Locale } from './sessions';

export interface SalesRow {
  readonly key: string;
  readonly currency: string;
  readonly sales: number;
  readonly sales_minor: number;
  readonly returned_minor: number;
}

export interface ProductRow {
  readonly product: string;
  readonly currency: string;
  readonly quantity_milli: number;
  readonly amount_minor: number;
}

export interface MerchantSales {
  readonly days: readonly SalesRow[];
  readonly terminals: readonly SalesRow[];
  readonly products: readonly ProductRow[];
}

function salesTable(
  locale: Locale,
  id: string,
  caption: string,
  keyHeading: string,
  rows: readonly SalesRow[],
  keyText: (key: string) => string,
): Markup {
  return html`<div class="table-wrap">
    <table data-test="${id}">
      <caption>
        ${caption}
      </caption>
      <thead>
        <tr>
          <th scope="col">${keyHeading}</th>
          <th scope="col" class="num">${t(locale, 'merchant.sales.count')}</th>
          <th scope="col" class="num">${t(locale, 'merchant.sales.amount')}</th>
          <th scope="col" class="num">${t(locale, 'merchant.sales.returned')}</th>
        </tr>
      </thead>
      <tbody>
        ${rows.map(
          (row) =>
            html`<tr data-key="${row.key}">
              <td>${keyText(row.key)}</td>
              <td class="num">${String(row.sales)}</td>
              <td class="num">${formatMoney(locale, row.sales_minor, row.currency)}</td>
              <td class="num">${formatMoney(locale, row.returned_minor, row.currency)}</td>
            </tr>`,
        )}
      </tbody>
    </table>
  </div>`;
}

/** The panel; `sales` undefined when the report could not be read. */
export function merchantSalesPanel(locale: Locale, sales: MerchantSales | undefined): Markup {
  const body =
    sales === undefined
      ? html`<p>${t(locale, 'merchant.sales.unavailable')}</p>`
      : sales.days.length === 0
        ? html`<p data-test="sales-none">${t(locale, 'merchant.sales.none')}</p>`
        : html`${salesTable(locale, 'sales-days', t(locale, 'merchant.sales.by_day'), t(locale, 'merchant.sales.day'), sales.days, (day) =>
              formatDay(locale, day),
            )}
            ${salesTable(
              locale,
              'sales-terminals',
              t(locale, 'merchant.sales.by_terminal'),
              t(locale, 'merchant.sales.terminal'),
              sales.terminals,
              (terminal) => terminal,
            )}
            <div class="table-wrap">
              <table data-test="sales-products">
                <caption>
                  ${t(locale, 'merchant.sales.by_product')}
                </caption>
                <thead>
                  <tr>
                    <th scope="col">${t(locale, 'merchant.sales.product')}</th>
                    <th scope="col" class="num">${t(locale, 'merchant.sales.quantity')}</th>
                    <th scope="col" class="num">${t(locale, 'merchant.sales.amount')}</th>
                  </tr>
                </thead>
                <tbody>
                  ${sales.products.map(
                    (row) =>
                      html`<tr data-key="${row.product}">
                        <td>${row.product}</td>
                        <td class="num">${formatQuantity(locale, row.quantity_milli)}</td>
                        <td class="num">${formatMoney(locale, row.amount_minor, row.currency)}</td>
                      </tr>`,
                  )}
                </tbody>
              </table>
            </div>`;
  return html`<section class="panel" aria-labelledby="sales-h">
    <h2 id="sales-h">${t(locale, 'merchant.sales.heading')}</h2>
    ${body}
  </section>`;
}
