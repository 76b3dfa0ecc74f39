// The portal's pages: pure functions from what a page shows to its HTML (no I/O). Each page is
// one layout with a skip link, a header (language, sign out), one h1 and labelled forms; every
// form carries the session's CSRF token.

import { merchantSalesPanel, type MerchantSales } from './merchant-sales-views';
import type { CardInfo } from '../../gen/tapline/v1/cards';
import { FleetCardStatus, type FleetAccount, type FleetCard, type ReviewEntry } from '../../gen/tapline/v1/fleet';
import { CardStatus } from '../../gen/tapline/v1/types';
import { autoReloadPanel } from './auto-reload-panel';
import { barChart, type Bar } from './chart';
import { html, type Markup } from './html';
import { formatCount, formatDate, formatMoney, locales, t, type MessageKey } from './i18n';
import type { Locale, Session } from './sessions';

export interface PageContext {
  readonly session: Session;
  /** The path of this page (the language links come back to it). */
  readonly path: string;
}

const locale_names: Readonly<Record<Locale, string>> = { en: 'English', nl: 'Nederlands' };

export function layout(context: PageContext, title: string, body: Markup): string {
  const { session } = context;
  const locale = session.locale;
  return (
    '<!doctype html>' +
    html`<html lang="${locale}">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>${title} · ${t(locale, 'app.title')}</title>
        <link rel="stylesheet" href="/static/portal.css" />
      </head>
      <body>
        <a class="skip" href="#main">${t(locale, 'nav.skip')}</a>
        <header>
          <span class="brand">${t(locale, 'app.title')}</span>
          <nav aria-label="${t(locale, 'nav.language')}">
            ${locales.map((other) => html`<a href="/language/${other}?back=${encodeURIComponent(context.path)}" lang="${other}" ${other === locale ? html` aria-current="true"` : ''}>${locale_names[other]}</a>`)}
            ${
              session.principal === undefined
                ? ''
                : html`<span>${session.principal.display}</span>
                    <form class="inline" method="post" action="/logout">
                      <input type="hidden" name="_csrf" value="${session.csrf}" /><button class="link" type="submit">
                        ${t(locale, 'nav.logout')}
                      </button>
                    </form>`
            }
          </nav>
        </header>
        <main id="main">${body}</main>
        ${title === t(locale, 'organizer.title') ? html`<script src="/static/live.js"></script>` : ''}
      </body>
    </html>`.text
  );
}

export function csrf(session: Session): Markup {
  return html`<input type="hidden" name="_csrf" value="${session.csrf}" />`;
}

export function notice(text: string | undefined): Markup {
  return text === undefined ? html`` : html`<p class="notice" role="status">${text}</p>`;
}

export function loginPage(context: PageContext, failed: boolean): string {
  const locale = context.session.locale;
  const body = html`<h1>${t(locale, 'login.title')}</h1>
    ${failed ? html`<p class="error" role="alert">${t(locale, 'login.failed')}</p>` : ''}
    <div class="grid">
      <form class="panel" method="post" action="/login/card">
        <h2>${t(locale, 'login.card.heading')}</h2>
        ${csrf(context.session)} <label for="card">${t(locale, 'login.card.number')}</label
        ><input id="card" name="card" autocomplete="off" required maxlength="64" /> <label for="pin">${t(locale, 'login.card.pin')}</label
        ><input id="pin" name="pin" type="password" inputmode="numeric" autocomplete="off" required maxlength="12" />
        <button type="submit" id="card-login">${t(locale, 'login.submit')}</button>
      </form>
      <form class="panel" method="post" action="/login/staff">
        <h2>${t(locale, 'login.staff.heading')}</h2>
        ${csrf(context.session)} <label for="username">${t(locale, 'login.staff.username')}</label
        ><input id="username" name="username" autocomplete="username" required maxlength="64" />
        <label for="password">${t(locale, 'login.staff.password')}</label
        ><input id="password" name="password" type="password" autocomplete="current-password" required maxlength="256" />
        <button type="submit" id="staff-login">${t(locale, 'login.submit')}</button>
      </form>
    </div>`;
  return layout(context, t(locale, 'login.title'), body);
}

const status_keys: ReadonlyMap<CardStatus, MessageKey> = new Map([
  [CardStatus.CARD_STATUS_ACTIVE, 'status.active'],
  [CardStatus.CARD_STATUS_FROZEN, 'status.frozen'],
  [CardStatus.CARD_STATUS_BLOCKED, 'status.blocked'],
  [CardStatus.CARD_STATUS_LOST, 'status.lost'],
  [CardStatus.CARD_STATUS_EXPIRED, 'status.expired'],
  [CardStatus.CARD_STATUS_CLOSED, 'status.closed'],
  [CardStatus.CARD_STATUS_REPLACED, 'status.replaced'],
]);

export function statusText(locale: Locale, status: CardStatus): string {
  return t(locale, status_keys.get(status) ?? 'status.unknown');
}

/** One entry of a card's history as the reports service gives it. */
export interface HistoryEntry {
  readonly at_ms: number;
  readonly kind: string;
  readonly amount_minor: number;
  readonly currency: string;
  readonly where: string;
  /** The transaction's or event's id (a transaction's receipt is found by it). */
  readonly id: string;
  /** A transaction (it has a receipt), not a lifecycle event. */
  readonly transaction: boolean;
  readonly outcome: string;
  readonly terminal: string;
  readonly balance_after_minor: number | undefined;
}

function historyTable(locale: Locale, history: readonly HistoryEntry[] | undefined, base: string): Markup {
  if (history === undefined) return html`<p>${t(locale, 'card.history.unavailable')}</p>`;
  if (history.length === 0) return html`<p>${t(locale, 'card.history.empty')}</p>`;
  return html`<div class="table-wrap">
    <table>
      <thead>
        <tr>
          <th scope="col">${t(locale, 'card.history.when')}</th>
          <th scope="col">${t(locale, 'card.history.kind')}</th>
          <th scope="col">${t(locale, 'card.history.where')}</th>
          <th scope="col" class="num">${t(locale, 'card.history.amount')}</th>
        </tr>
      </thead>
      <tbody>
        ${history.map(
          (entry) =>
            html`<tr>
              <td>
                ${
                  entry.transaction
                    ? html`<a href="${base}/receipts/${encodeURIComponent(entry.id)}" data-test="receipt-link"
                        >${formatDate(locale, entry.at_ms)}</a
                      >`
                    : formatDate(locale, entry.at_ms)
                }
              </td>
              <td>${entry.kind}</td>
              <td>${entry.where}</td>
              <td class="num">${formatMoney(locale, entry.amount_minor, entry.currency)}</td>
            </tr>`,
        )}
      </tbody>
    </table>
  </div>`;
}

/** The top-up form of an active card: the holder pays at the PSP, and the card is credited on its report. */
/** The holder's way to the refund of what is left to a bank account (refund-claims.ts): the holder's own, not staff's. */
function refundLink(context: PageContext, base: string): Markup {
  if (context.session.principal?.subject.startsWith('card:') !== true) return html``;
  const locale = context.session.locale;
  return html`<section class="panel" aria-labelledby="refund-h">
    <h2 id="refund-h">${t(locale, 'refund.title')}</h2>
    <p><a id="refund-link" href="${base}/refund">${t(locale, 'refund.link')}</a></p>
  </section>`;
}

function topUpPanel(context: PageContext, base: string, currency: string, active: boolean): Markup {
  const locale = context.session.locale;
  if (!active) return html``;
  return html`<form class="panel" method="post" action="${base}/top-up" aria-labelledby="top-up-h">
    <h2 id="top-up-h">${t(locale, 'card.top_up.heading')}</h2>
    <p>${t(locale, 'card.top_up.help')}</p>
    ${csrf(context.session)} <label for="top-up-amount">${t(locale, 'card.top_up.amount')} (${currency})</label
    ><input id="top-up-amount" name="amount" inputmode="decimal" required maxlength="16" />
    <button type="submit" id="top-up">${t(locale, 'card.top_up.submit')}</button>
  </form>`;
}

export function cardPage(context: PageContext, card: CardInfo, history: readonly HistoryEntry[] | undefined, done?: string): string {
  const locale = context.session.locale;
  const currency = card.balance?.currency ?? 'EUR';
  const base = `/cards/${encodeURIComponent(card.cardId)}`;
  const stoppable = card.status === CardStatus.CARD_STATUS_ACTIVE;
  const body = html`<h1>${t(locale, 'card.title', { id: card.cardId })}</h1>
    ${notice(done)}
    <div class="grid">
      <section class="panel" aria-labelledby="balance-h">
        <h2 id="balance-h">${t(locale, 'card.balance')}</h2>
        <p class="figure" data-test="balance">${formatMoney(locale, card.balance?.amountMinor ?? 0n, currency)}</p>
        <dl>
          <dt>${t(locale, 'card.available')}</dt>
          <dd data-test="available">${formatMoney(locale, card.available?.amountMinor ?? 0n, currency)}</dd>
          <dt>${t(locale, 'card.status')}</dt>
          <dd data-test="status">${statusText(locale, card.status)}</dd>
          ${
            card.expiresAtUnixMs > 0n
              ? html`<dt>${t(locale, 'card.expires')}</dt>
                  <dd>${formatDate(locale, Number(card.expiresAtUnixMs))}</dd>`
              : ''
          }
        </dl>
      </section>
      ${topUpPanel(context, base, currency, stoppable)} ${autoReloadPanel(locale, card.cardId, card.autoReload)}
      ${refundLink(context, base)}
      <section class="panel" aria-labelledby="stop-h">
        <h2 id="stop-h">${t(locale, 'card.stop.heading')}</h2>
        <p>${t(locale, 'card.stop.help')}</p>
        ${
          stoppable
            ? html`<form class="inline" method="post" action="${base}/lost">
                  ${csrf(context.session)}<button class="danger" id="report-lost" type="submit">${t(locale, 'card.lost')}</button>
                </form>
                <form class="inline" method="post" action="${base}/freeze">
                  ${csrf(context.session)}<button id="freeze" type="submit">${t(locale, 'card.freeze')}</button>
                </form>`
            : ''
        }
      </section>
    </div>
    <section class="panel spaced" aria-labelledby="history-h">
      <h2 id="history-h">${t(locale, 'card.history')}</h2>
      ${historyTable(locale, history, base)}
    </section>`;
  return layout(context, t(locale, 'card.title', { id: card.cardId }), body);
}

function money(locale: Locale, value: { amountMinor: bigint; currency: string } | undefined): string {
  return value === undefined ? '–' : formatMoney(locale, value.amountMinor, value.currency);
}

/** What a fleet manager's page shows beside the account: the card asked for, the vehicles' consumption. */
export interface FleetView {
  readonly account: FleetAccount;
  readonly card?: FleetCard | undefined;
  readonly vehicles?: readonly Bar[] | undefined;
  readonly reviews?: readonly ReviewEntry[] | undefined;
  readonly done?: string | undefined;
}

export function fleetPage(context: PageContext, view: FleetView): string {
  const locale = context.session.locale;
  const { account } = view;
  const currency = account.creditLimit?.currency ?? 'EUR';
  const base = `/fleets/${encodeURIComponent(account.fleetId)}`;
  const card = view.card;
  const body = html`<h1>${t(locale, 'fleet.title', { id: account.fleetId })}</h1>
    ${notice(view.done)}
    <p><a href="${base}/cards" id="fleet-manage">${t(locale, 'fleet.manage.link')}</a></p>
    <div class="grid">
      <section class="panel" aria-labelledby="credit-h">
        <h2 id="credit-h">${t(locale, 'fleet.available_credit')}</h2>
        <p class="figure">${money(locale, account.availableCredit)}</p>
        <dl>
          <dt>${t(locale, 'fleet.credit_limit')}</dt>
          <dd>${money(locale, account.creditLimit)}</dd>
          <dt>${t(locale, 'fleet.owed')}</dt>
          <dd>${money(locale, account.balance)}</dd>
        </dl>
      </section>
      <form class="panel" method="post" action="${base}/card-limits" aria-labelledby="limits-h">
        <h2 id="limits-h">${t(locale, 'fleet.limits.heading')}</h2>
        ${csrf(context.session)} <label for="card_no">${t(locale, 'fleet.card_no')}</label
        ><input id="card_no" name="card_no" required maxlength="64" value="${card?.cardId.split('~')[1] ?? ''}" />
        <label for="per_txn">${t(locale, 'fleet.per_txn')} (${currency})</label
        ><input
          id="per_txn"
          name="per_txn"
          inputmode="decimal"
          maxlength="16"
          value="${card?.limits?.perTxnMinor === undefined ? '' : decimalText(card.limits.perTxnMinor)}"
        />
        <label for="daily">${t(locale, 'fleet.daily')} (${currency})</label
        ><input
          id="daily"
          name="daily"
          inputmode="decimal"
          maxlength="16"
          value="${card?.limits?.dailyMinor === undefined ? '' : decimalText(card.limits.dailyMinor)}"
        />
        <button type="submit" id="save-limits">${t(locale, 'fleet.limits.submit')}</button>
      </form>
      ${
        card === undefined
          ? ''
          : html`<section class="panel" aria-labelledby="card-h">
              <h2 id="card-h">${t(locale, 'fleet.card.heading', { id: card.cardId })}</h2>
              <dl>
                <dt>${t(locale, 'fleet.per_txn')}</dt>
                <dd data-test="per-txn">
                  ${card.limits?.perTxnMinor === undefined ? '–' : formatMoney(locale, card.limits.perTxnMinor, currency)}
                </dd>
                <dt>${t(locale, 'fleet.daily')}</dt>
                <dd>${card.limits?.dailyMinor === undefined ? '–' : formatMoney(locale, card.limits.dailyMinor, currency)}</dd>
                <dt>${t(locale, 'fleet.card.spent_day')}</dt>
                <dd>${formatMoney(locale, card.spentDayMinor, currency)}</dd>
                <dt>${t(locale, 'fleet.card.status')}</dt>
                <dd data-test="fleet-card-status">${t(locale, fleet_status_keys.get(card.status) ?? 'status.unknown')}</dd>
              </dl>
              ${card.status === FleetCardStatus.FLEET_CARD_STATUS_BLOCKED ? '' : blockForm(context, base, card.cardId)}
            </section>`
      }
    </div>
    ${reviewTable(locale, view.reviews)}
    <section class="panel spaced" aria-labelledby="consumption-h">
      <h2 id="consumption-h">${t(locale, 'fleet.consumption.heading')}</h2>
      ${view.vehicles === undefined || view.vehicles.length === 0 ? html`<p>${t(locale, 'fleet.consumption.empty')}</p>` : barChart(t(locale, 'fleet.consumption.heading'), view.vehicles)}
    </section>`;
  return layout(context, t(locale, 'fleet.title', { id: account.fleetId }), body);
}

const fleet_status_keys: ReadonlyMap<FleetCardStatus, MessageKey> = new Map([
  [FleetCardStatus.FLEET_CARD_STATUS_ACTIVE, 'fleet.status.active'],
  [FleetCardStatus.FLEET_CARD_STATUS_FROZEN, 'fleet.status.frozen'],
  [FleetCardStatus.FLEET_CARD_STATUS_BLOCKED, 'fleet.status.blocked'],
]);

/** A fleet card's status in the person's language. */
export function fleetStatusText(locale: Locale, status: FleetCardStatus): string {
  return t(locale, fleet_status_keys.get(status) ?? 'status.unknown');
}

function blockForm(context: PageContext, base: string, cardId: string): Markup {
  const locale = context.session.locale;
  return html`<form method="post" action="${base}/card-block">
    ${csrf(context.session)}<input type="hidden" name="card_no" value="${cardId.split('~')[1] ?? ''}" />
    <button class="danger" type="submit" id="block-card">${t(locale, 'fleet.card.block')}</button>
  </form>`;
}

/** The fleet's flagged transactions waiting for review. */
function reviewTable(locale: Locale, reviews: readonly ReviewEntry[] | undefined): Markup {
  const rows = reviews ?? [];
  return html`<section class="panel spaced" aria-labelledby="reviews-h">
    <h2 id="reviews-h">${t(locale, 'fleet.reviews.heading')}</h2>
    ${
      rows.length === 0
        ? html`<p>${t(locale, 'fleet.reviews.empty')}</p>`
        : html`<div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">${t(locale, 'card.history.when')}</th>
                  <th scope="col">${t(locale, 'fleet.card_no')}</th>
                  <th scope="col">${t(locale, 'fleet.reviews.flags')}</th>
                  <th scope="col" class="num">${t(locale, 'card.history.amount')}</th>
                </tr>
              </thead>
              <tbody>
                ${rows.map(
                  (row) =>
                    html`<tr>
                      <td>${formatDate(locale, Number(row.authorizedAtUnixMs))}</td>
                      <td>${row.cardId}</td>
                      <td>${row.flags.join(', ')}</td>
                      <td class="num">${money(locale, row.amount)}</td>
                    </tr>`,
                )}
              </tbody>
            </table>
          </div>`
    }
  </section>`;
}

/** Minor units (two decimals) as the plain decimal a form field shows and reads back. */
export function decimalText(amount_minor: bigint): string {
  const whole = amount_minor / 100n;
  const cents = (amount_minor % 100n).toString().padStart(2, '0');
  return `${whole}.${cents}`;
}

export interface MerchantView {
  readonly merchantId: string;
  /** This month's sales, fees and net per currency, formatted. */
  readonly fees?: readonly { currency: string; gross: string; fees: string; net: string }[] | undefined;
  /** This month's sales per day, terminal and product; undefined when the report could not be read. */
  readonly sales?: MerchantSales | undefined;
  readonly done?: string | undefined;
}

export function merchantPage(context: PageContext, view: MerchantView): string {
  const locale = context.session.locale;
  const base = `/merchants/${encodeURIComponent(view.merchantId)}`;
  const body = html`<h1>${t(locale, 'merchant.title', { id: view.merchantId })}</h1>
    <nav class="tabs" aria-label="${t(locale, 'merchant.nav')}">
      <a href="${base}/terminals" id="terminal-list">${t(locale, 'merchant.terminals.heading')}</a>
      <a href="${base}/managers">${t(locale, 'merchant.managers.heading')}</a>
      <a href="${base}/settlement">${t(locale, 'merchant.settlement.heading')}</a>
    </nav>
    ${notice(view.done)}
    <div class="grid">
      <form class="panel" method="post" action="${base}/terminals" aria-labelledby="terminals-h">
        <h2 id="terminals-h">${t(locale, 'merchant.terminals.heading')}</h2>
        ${csrf(context.session)} <label for="terminal">${t(locale, 'merchant.terminal_id')}</label
        ><input id="terminal" name="terminal" required maxlength="64" />
        <button type="submit" name="enabled" value="0" class="danger" id="disable-terminal">${t(locale, 'merchant.disable')}</button>
        <button type="submit" name="enabled" value="1" id="enable-terminal">${t(locale, 'merchant.enable')}</button>
      </form>
      <section class="panel" aria-labelledby="fees-h">
        <h2 id="fees-h">${t(locale, 'merchant.fees.heading')}</h2>
        ${
          view.fees === undefined
            ? html`<p>${t(locale, 'merchant.fees.unavailable')}</p>`
            : html`<div class="table-wrap">
                <table>
                  <thead>
                    <tr>
                      <th scope="col">${t(locale, 'merchant.currency')}</th>
                      <th scope="col" class="num">${t(locale, 'merchant.gross')}</th>
                      <th scope="col" class="num">${t(locale, 'merchant.fees')}</th>
                      <th scope="col" class="num">${t(locale, 'merchant.net')}</th>
                    </tr>
                  </thead>
                  <tbody>
                    ${view.fees.map(
                      (row) =>
                        html`<tr>
                          <td>${row.currency}</td>
                          <td class="num">${row.gross}</td>
                          <td class="num">${row.fees}</td>
                          <td class="num">${row.net}</td>
                        </tr>`,
                    )}
                  </tbody>
                </table>
              </div>`
        }
      </section>
    </div>
    ${merchantSalesPanel(locale, view.sales)}`;
  return layout(context, t(locale, 'merchant.title', { id: view.merchantId }), body);
}

/** The organizer's figures, already formatted (the live script replaces them by name). */
export interface EventFigures {
  readonly shown: Readonly<Record<'sales' | 'spent' | 'top_ups' | 'remaining', string>>;
  readonly merchants: readonly { merchant: string; purchases: string; net: string }[];
}

export function organizerPage(
  context: PageContext,
  programs: readonly string[],
  program: string | undefined,
  figures: EventFigures | undefined,
  /** What organizer-views.ts adds under the figures (sales per minute, declines, links). */
  extra: Markup = html``,
): string {
  const locale = context.session.locale;
  const stat = (name: keyof EventFigures['shown'], key: MessageKey): Markup =>
    html`<section class="panel">
      <h2>${t(locale, key)}</h2>
      <p class="figure" data-stat="${name}">${figures?.shown[name] ?? '–'}</p>
    </section>`;
  const body = html`<h1>${t(locale, 'organizer.title')}</h1>
    <form method="get" action="/organizer">
      <label for="program">${t(locale, 'organizer.program')}</label>
      <select id="program" name="program">
        ${programs.map((id) => html`<option value="${id}" ${id === program ? html` selected` : ''}>${id}</option>`)}
      </select>
      <button type="submit">${t(locale, 'organizer.show')}</button>
    </form>
    ${
      program === undefined || figures === undefined
        ? html`<p>${t(locale, 'organizer.none')}</p>`
        : html` <div data-live="/api/v1/events/${encodeURIComponent(program)}/statistics">
              <p>${t(locale, 'organizer.live')}</p>
              <div class="grid">
                ${stat('sales', 'organizer.sales')}${stat('spent', 'organizer.spent')}${stat('top_ups', 'organizer.top_ups')}${stat('remaining', 'organizer.remaining')}
              </div>
            </div>
            <section class="panel spaced" aria-labelledby="merchants-h">
              <h2 id="merchants-h">${t(locale, 'organizer.top_merchants')}</h2>
              <div class="table-wrap">
                <table>
                  <thead>
                    <tr>
                      <th scope="col">${t(locale, 'organizer.merchant')}</th>
                      <th scope="col" class="num">${t(locale, 'organizer.sales')}</th>
                      <th scope="col" class="num">${t(locale, 'organizer.spent')}</th>
                    </tr>
                  </thead>
                  <tbody>
                    ${figures.merchants.map(
                      (row) =>
                        html`<tr>
                          <td>${row.merchant}</td>
                          <td class="num">${row.purchases}</td>
                          <td class="num">${row.net}</td>
                        </tr>`,
                    )}
                  </tbody>
                </table>
              </div>
            </section>`
    }
    ${extra}
    <form class="panel spaced" method="get" action="/organizer/cards">
      <h2>${t(locale, 'organizer.lookup.heading')}</h2>
      <label for="lookup">${t(locale, 'organizer.lookup.card')}</label><input id="lookup" name="card" required maxlength="64" />
      <button type="submit">${t(locale, 'organizer.lookup.submit')}</button>
    </form>`;
  return layout(context, t(locale, 'organizer.title'), body);
}

export function errorPage(context: PageContext, status: 400 | 403 | 404 | 409 | 503): string {
  const locale = context.session.locale;
  const key: MessageKey = `error.${status}`;
  return layout(
    context,
    t(locale, key),
    html`<h1>${t(locale, key)}</h1>
      <p><a href="/">${t(locale, 'error.back')}</a></p>`,
  );
}

export { formatCount };
