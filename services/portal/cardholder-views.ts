// The cardholder's pages beside the card page: the top-up started at the PSP (a link to its
// checkout) and a transaction's receipt. Pure functions from what a page shows to its HTML.

import { html, type Markup } from './html';
import { formatDate, formatMoney, formatQuantity, t, type MessageKey } from './i18n';
import type { Locale } from './sessions';
import { layout, type HistoryEntry, type PageContext } from './views';

export interface TopUpStarted {
  readonly cardId: string;
  /** The amount, formatted for the locale. */
  readonly amount: string;
  /** The PSP's checkout page for this payment. */
  readonly checkout: string;
}

export function topUpStartedPage(context: PageContext, started: TopUpStarted): string {
  const locale = context.session.locale;
  const title = t(locale, 'card.top_up.title');
  const body = html`<h1>${title}</h1>
    <section class="panel">
      <p>${t(locale, 'card.top_up.started', { amount: started.amount })}</p>
      <p><a class="button" id="pay" href="${started.checkout}">${t(locale, 'card.top_up.pay', { amount: started.amount })}</a></p>
      <p><a href="/cards/${encodeURIComponent(started.cardId)}">${t(locale, 'card.back')}</a></p>
    </section>`;
  return layout(context, title, body);
}

/** The page the PSP returns the holder to: the top-up is on the card once the PSP has reported it. */
export function topUpReturnPage(context: PageContext): string {
  const locale = context.session.locale;
  const title = t(locale, 'card.top_up.returned');
  const body = html`<h1>${title}</h1>
    <section class="panel">
      <p>${t(locale, 'card.top_up.returned_help')}</p>
      <p><a id="back-to-card" href="/">${t(locale, 'card.back')}</a></p>
    </section>`;
  return layout(context, title, body);
}

const outcome_keys: Readonly<Record<string, MessageKey>> = {
  approved: 'card.receipt.approved',
  declined: 'card.receipt.declined',
};

/** One line item of a receipt: quantities in thousandths, prices and amounts in minor units. */
export interface ReceiptLine {
  readonly product: string;
  readonly qty_milli: number;
  readonly unit_minor: number;
  readonly amount_minor: number;
}

function linesTable(locale: Locale, lines: readonly ReceiptLine[] | undefined, currency: string): Markup {
  if (lines === undefined) return html`<p>${t(locale, 'card.receipt.lines_unavailable')}</p>`;
  if (lines.length === 0) return html``;
  return html`<div class="table-wrap">
    <table id="receipt-lines">
      <caption>
        ${t(locale, 'card.receipt.lines')}
      </caption>
      <thead>
        <tr>
          <th scope="col">${t(locale, 'card.receipt.product')}</th>
          <th scope="col" class="num">${t(locale, 'card.receipt.quantity')}</th>
          <th scope="col" class="num">${t(locale, 'card.receipt.unit_price')}</th>
          <th scope="col" class="num">${t(locale, 'card.history.amount')}</th>
        </tr>
      </thead>
      <tbody>
        ${lines.map(
          (line) =>
            html`<tr data-line="${line.product}">
              <th scope="row">${line.product}</th>
              <td class="num">${formatQuantity(locale, line.qty_milli)}</td>
              <td class="num">${formatMoney(locale, line.unit_minor, currency)}</td>
              <td class="num">${formatMoney(locale, line.amount_minor, currency)}</td>
            </tr>`,
        )}
      </tbody>
    </table>
  </div>`;
}

/** A transaction's receipt: where, when, what (its line items), and the balance it left. */
export function receiptPage(context: PageContext, cardId: string, entry: HistoryEntry, lines?: readonly ReceiptLine[]): string {
  const locale = context.session.locale;
  const title = t(locale, 'card.receipt.title');
  const outcome = outcome_keys[entry.outcome];
  const body = html`<h1>${title}</h1>
    <section class="panel receipt" aria-labelledby="receipt-h">
      <h2 id="receipt-h">${t(locale, 'card.title', { id: cardId })}</h2>
      <dl>
        <dt>${t(locale, 'card.history.when')}</dt>
        <dd data-test="receipt-when">${formatDate(locale, entry.at_ms)}</dd>
        <dt>${t(locale, 'card.receipt.merchant')}</dt>
        <dd data-test="receipt-merchant">${entry.where || '–'}</dd>
        <dt>${t(locale, 'card.receipt.terminal')}</dt>
        <dd data-test="receipt-terminal">${entry.terminal || '–'}</dd>
        <dt>${t(locale, 'card.history.kind')}</dt>
        <dd>${entry.kind}</dd>
        <dt>${t(locale, 'card.receipt.outcome')}</dt>
        <dd>${outcome === undefined ? entry.outcome : t(locale, outcome)}</dd>
        <dt>${t(locale, 'card.history.amount')}</dt>
        <dd data-test="receipt-amount">${formatMoney(locale, entry.amount_minor, entry.currency)}</dd>
        <dt>${t(locale, 'card.receipt.balance_after')}</dt>
        <dd data-test="receipt-balance">
          ${entry.balance_after_minor === undefined ? '–' : formatMoney(locale, entry.balance_after_minor, entry.currency)}
        </dd>
        <dt>${t(locale, 'card.receipt.transaction')}</dt>
        <dd>${entry.id}</dd>
      </dl>
      ${linesTable(locale, lines, entry.currency)}
      <p><a href="/cards/${encodeURIComponent(cardId)}">${t(locale, 'card.back')}</a></p>
    </section>`;
  return layout(context, title, body);
}
