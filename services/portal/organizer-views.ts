// The organizer's and issuer's pages beyond the live figures: sales per minute and declines by
// reason (shown under the statistics), the audit log (filtered, paged) and the four-eyes approval
// of settlement batches. Pure functions from what a page shows to its HTML.

import { html, type Markup } from './html';
import { formatCount, formatMoney, t } from './i18n';
import type { Locale } from './sessions';
import { csrf, layout, notice, type PageContext } from './views';

/** Sales per minute and declines by reason of an event, as the statistics report gives them. */
export interface EventDetail {
  readonly minutes: readonly { minute: string; currency: string; purchases: number; purchases_minor: number }[];
  readonly declines: readonly { reason: string; declines: number; requested_minor: number }[];
  readonly currency: string;
}

function rowsOrNothing(locale: Locale, count: number, table: () => Markup): Markup {
  return count === 0 ? html`<p>${t(locale, 'organizer.no_rows')}</p>` : table();
}

/** The two tables under the live figures. */
export function eventDetail(locale: Locale, detail: EventDetail | undefined): Markup {
  if (detail === undefined) return html``;
  const minutes = rowsOrNothing(
    locale,
    detail.minutes.length,
    () =>
      html`<div class="table-wrap">
        <table id="sales-per-minute">
          <thead>
            <tr>
              <th scope="col">${t(locale, 'organizer.minute')}</th>
              <th scope="col" class="num">${t(locale, 'organizer.sales')}</th>
              <th scope="col" class="num">${t(locale, 'organizer.spent')}</th>
            </tr>
          </thead>
          <tbody>
            ${detail.minutes.map(
              (row) =>
                html`<tr>
                  <td>${row.minute.slice(11, 16)}</td>
                  <td class="num" data-test="minute-sales">${formatCount(locale, row.purchases)}</td>
                  <td class="num">${formatMoney(locale, row.purchases_minor, row.currency)}</td>
                </tr>`,
            )}
          </tbody>
        </table>
      </div>`,
  );
  const declines = rowsOrNothing(
    locale,
    detail.declines.length,
    () =>
      html`<div class="table-wrap">
        <table id="declines-by-reason">
          <thead>
            <tr>
              <th scope="col">${t(locale, 'organizer.reason')}</th>
              <th scope="col" class="num">${t(locale, 'organizer.declined')}</th>
              <th scope="col" class="num">${t(locale, 'organizer.requested')}</th>
            </tr>
          </thead>
          <tbody>
            ${detail.declines.map(
              (row) =>
                html`<tr data-reason="${row.reason}">
                  <td>${row.reason}</td>
                  <td class="num" data-test="declines">${formatCount(locale, row.declines)}</td>
                  <td class="num">${formatMoney(locale, row.requested_minor, detail.currency)}</td>
                </tr>`,
            )}
          </tbody>
        </table>
      </div>`,
  );
  return html`<div class="grid spaced">
    <section class="panel" aria-labelledby="per-minute-h">
      <h2 id="per-minute-h">${t(locale, 'organizer.per_minute')}</h2>
      ${minutes}
    </section>
    <section class="panel" aria-labelledby="declines-h">
      <h2 id="declines-h">${t(locale, 'organizer.declines')}</h2>
      ${declines}
    </section>
  </div>`;
}

/** The organizer's links to the audit log and settlement approval. */
export function organizerLinks(locale: Locale): Markup {
  return html`<nav class="spaced" aria-label="${t(locale, 'organizer.title')}">
    <a href="/organizer/audit">${t(locale, 'organizer.nav.audit')}</a> ·
    <a href="/organizer/settlement">${t(locale, 'organizer.nav.settlement')}</a> ·
    <a href="/organizer/denylist">${t(locale, 'organizer.nav.denylist')}</a>
  </nav>`;
}

/** One audit record as the audit report gives it (the audit_log of operator actions). */
export interface AuditRow {
  readonly at: string;
  readonly principal: string;
  readonly role: string;
  readonly action: string;
  readonly subject: string;
  readonly approver: string;
}

export interface AuditView {
  readonly filter: { readonly from: string; readonly to: string; readonly principal: string; readonly action: string };
  readonly rows: readonly AuditRow[];
  /** Index of the first row shown, and how many match in all. */
  readonly first: number;
  readonly count: number;
  readonly previous?: string | undefined;
  readonly next?: string | undefined;
}

function auditFilter(locale: Locale, filter: AuditView['filter']): Markup {
  const input = (id: keyof AuditView['filter'], key: Parameters<typeof t>[1], max: number): Markup =>
    html`<div>
      <label for="audit-${id}">${t(locale, key)}</label><input id="audit-${id}" name="${id}" value="${filter[id]}" maxlength="${max}" />
    </div>`;
  return html`<form class="panel" method="get" action="/organizer/audit">
    <div class="grid">
      ${input('from', 'audit.from', 10)}${input('to', 'audit.to', 10)}${input('principal', 'audit.principal', 128)}${input(
        'action',
        'audit.action',
        64,
      )}
    </div>
    <button type="submit" id="audit-filter">${t(locale, 'audit.filter')}</button>
  </form>`;
}

export function auditPage(context: PageContext, view: AuditView): string {
  const locale = context.session.locale;
  const title = t(locale, 'audit.title');
  const last = view.first + view.rows.length;
  const table =
    view.rows.length === 0
      ? html`<p>${t(locale, 'audit.empty')}</p>`
      : html`<p data-test="audit-page">
            ${t(locale, 'audit.page', { first: formatCount(locale, view.first + 1), last: formatCount(locale, last), count: formatCount(locale, view.count) })}
          </p>
          <div class="table-wrap">
            <table id="audit-records">
              <thead>
                <tr>
                  <th scope="col">${t(locale, 'audit.when')}</th>
                  <th scope="col">${t(locale, 'audit.who')}</th>
                  <th scope="col">${t(locale, 'audit.role')}</th>
                  <th scope="col">${t(locale, 'audit.what')}</th>
                  <th scope="col">${t(locale, 'audit.subject')}</th>
                  <th scope="col">${t(locale, 'audit.approver')}</th>
                </tr>
              </thead>
              <tbody>
                ${view.rows.map(
                  (row) =>
                    html`<tr>
                      <td>${row.at.replace('T', ' ').slice(0, 19)}</td>
                      <td>${row.principal}</td>
                      <td>${row.role}</td>
                      <td data-test="audit-action">${row.action}</td>
                      <td>${row.subject}</td>
                      <td>${row.approver}</td>
                    </tr>`,
                )}
              </tbody>
            </table>
          </div>`;
  const pages = html`<nav class="spaced" aria-label="${title}">
    ${view.previous === undefined ? '' : html`<a href="${view.previous}" id="audit-previous">${t(locale, 'audit.previous')}</a>`}
    ${view.next === undefined ? '' : html`<a href="${view.next}" id="audit-next">${t(locale, 'audit.next')}</a>`}
  </nav>`;
  const body = html`<h1>${title}</h1>
    ${auditFilter(locale, view.filter)}
    <section class="panel spaced" aria-label="${title}">${table} ${pages}</section>`;
  return layout(context, title, body);
}

/** One settlement batch of a merchant as the settlement listing gives it. */
export interface BatchRow {
  readonly id: string;
  readonly period_from: string;
  readonly period_to: string;
  readonly state: string;
  readonly computed_by: string;
  readonly approved_by: string;
  readonly net: readonly { currency: string; net_minor: number }[];
}

export interface SettlementView {
  readonly merchant: string;
  readonly batches: readonly BatchRow[] | undefined;
  /** What the person's role may do here: propose (issuer), approve (settlement approver). */
  readonly may: { readonly propose: boolean; readonly approve: boolean };
  readonly done?: string | undefined;
}

function batchRow(context: PageContext, view: SettlementView, row: BatchRow): Markup {
  const locale = context.session.locale;
  return html`<tr data-batch="${row.id}">
    <td>${row.id}</td>
    <td>${row.period_from} – ${row.period_to}</td>
    <td data-test="batch-state">${row.state}</td>
    <td>${row.computed_by}</td>
    <td data-test="batch-approver">${row.approved_by}</td>
    <td class="num">${row.net.map((line) => formatMoney(locale, line.net_minor, line.currency)).join(', ')}</td>
    <td>
      ${
        view.may.approve && row.state === 'computed'
          ? html`<form method="post" action="/organizer/settlement/approve">
              ${csrf(context.session)}<input type="hidden" name="batch" value="${row.id}" /><input
                type="hidden"
                name="merchant"
                value="${view.merchant}"
              />
              <button type="submit" aria-label="${t(locale, 'settlement.approve')} ${row.id}">${t(locale, 'settlement.approve')}</button>
            </form>`
          : ''
      }
    </td>
  </tr>`;
}

function batchesTable(context: PageContext, view: SettlementView): Markup {
  const locale = context.session.locale;
  if (view.batches === undefined || view.batches.length === 0) return html`<p>${t(locale, 'settlement.empty')}</p>`;
  return html`<div class="table-wrap">
    <table id="settlement-batches">
      <thead>
        <tr>
          <th scope="col">${t(locale, 'settlement.batch')}</th>
          <th scope="col">${t(locale, 'settlement.period')}</th>
          <th scope="col">${t(locale, 'settlement.state')}</th>
          <th scope="col">${t(locale, 'settlement.proposed_by')}</th>
          <th scope="col">${t(locale, 'settlement.approved_by')}</th>
          <th scope="col" class="num">${t(locale, 'settlement.net')}</th>
          <th scope="col">${t(locale, 'settlement.approve')}</th>
        </tr>
      </thead>
      <tbody>
        ${view.batches.map((row) => batchRow(context, view, row))}
      </tbody>
    </table>
  </div>`;
}

export function settlementPage(context: PageContext, view: SettlementView): string {
  const locale = context.session.locale;
  const title = t(locale, 'settlement.title');
  const propose = view.may.propose
    ? html`<form class="panel" method="post" action="/organizer/settlement/propose" aria-labelledby="propose-h">
        <h2 id="propose-h">${t(locale, 'settlement.propose')}</h2>
        ${csrf(context.session)}<input type="hidden" name="merchant" value="${view.merchant}" />
        <label for="settlement-date">${t(locale, 'settlement.date')}</label
        ><input id="settlement-date" name="date" required maxlength="10" />
        <button type="submit" id="propose-batch">${t(locale, 'settlement.propose')}</button>
      </form>`
    : '';
  const body = html`<h1>${title}</h1>
    ${notice(view.done)}
    <p>${t(locale, 'settlement.help')}</p>
    <div class="grid">
      <form class="panel" method="get" action="/organizer/settlement">
        <label for="settlement-merchant">${t(locale, 'settlement.merchant')}</label
        ><input id="settlement-merchant" name="merchant" required maxlength="64" value="${view.merchant}" />
        <button type="submit" id="show-batches">${t(locale, 'settlement.show')}</button>
      </form>
      ${propose}
    </div>
    <section class="panel spaced" aria-label="${t(locale, 'settlement.batch')}">${batchesTable(context, view)}</section>`;
  return layout(context, title, body);
}

export interface DenylistView {
  readonly entries: readonly { card: string; reason: string }[];
  readonly version: string;
  readonly next?: string | undefined;
}

export function denylistPage(context: PageContext, view: DenylistView): string {
  const locale = context.session.locale;
  const title = t(locale, 'denylist.title');
  const table =
    view.entries.length === 0
      ? html`<p>${t(locale, 'denylist.empty')}</p>`
      : html`<div class="table-wrap">
          <table id="denylist">
            <thead>
              <tr>
                <th scope="col">${t(locale, 'denylist.card')}</th>
                <th scope="col">${t(locale, 'denylist.reason')}</th>
              </tr>
            </thead>
            <tbody>
              ${view.entries.map(
                (row) =>
                  html`<tr data-card="${row.card}">
                    <td>${row.card}</td>
                    <td data-test="reason">${row.reason}</td>
                  </tr>`,
              )}
            </tbody>
          </table>
        </div>`;
  const body = html`<h1>${title}</h1>
    <p>${t(locale, 'denylist.help')}</p>
    <p>${t(locale, 'denylist.version')}: <strong data-test="denylist-version">${view.version}</strong></p>
    <section class="panel" aria-label="${title}">
      ${table} ${view.next === undefined ? '' : html`<p><a href="${view.next}" id="denylist-next">${t(locale, 'audit.next')}</a></p>`}
    </section>`;
  return layout(context, title, body);
}
