// The merchant's pages beside its start page: terminals (when each was last seen) with a switch per row, the people who may
// act for it, and settlement statements with their payout state. Pure functions to HTML.

import type { TerminalRecord } from '../../gen/tapline/v1/admin';
import { html, type Markup } from './html';
import { formatDate, t, type MessageKey } from './i18n';
import type { Locale } from './sessions';
import { csrf, layout, notice, type PageContext } from './views';

export interface TerminalsView {
  readonly merchantId: string;
  readonly terminals: readonly TerminalRecord[];
  /** Each terminal's latest transaction (Unix ms) by terminal id; undefined when it cannot be read now. */
  readonly lastSeen?: ReadonlyMap<string, number> | undefined;
  readonly done?: string | undefined;
}

function lastSeenText(locale: Locale, lastSeen: ReadonlyMap<string, number> | undefined, terminalId: string): string {
  if (lastSeen === undefined) return t(locale, 'merchant.terminals.last_seen_unavailable');
  const at = lastSeen.get(terminalId);
  return at === undefined ? t(locale, 'merchant.terminals.never_seen') : formatDate(locale, at);
}

function nav(context: PageContext, merchantId: string): Markup {
  const locale = context.session.locale;
  const base = `/merchants/${encodeURIComponent(merchantId)}`;
  const link = (path: string, key: MessageKey): Markup =>
    html`<a href="${base}${path}" ${context.path === `${base}${path}` ? html` aria-current="page"` : ''}>${t(locale, key)}</a>`;
  return html`<nav class="tabs" aria-label="${t(locale, 'merchant.nav')}">
    ${link('', 'merchant.nav.overview')} ${link('/terminals', 'merchant.terminals.heading')}
    ${link('/managers', 'merchant.managers.heading')} ${link('/settlement', 'merchant.settlement.heading')}
  </nav>`;
}

function switchForm(context: PageContext, merchantId: string, terminal: TerminalRecord): Markup {
  const locale = context.session.locale;
  const action = `/merchants/${encodeURIComponent(merchantId)}/terminals/switch`;
  const label = t(locale, terminal.enabled ? 'merchant.disable' : 'merchant.enable');
  return html`<form class="inline" method="post" action="${action}">
    ${csrf(context.session)}<input type="hidden" name="terminal" value="${terminal.terminalId}" /><input
      type="hidden"
      name="enabled"
      value="${terminal.enabled ? '0' : '1'}"
    /><button
      type="submit"
      class="${terminal.enabled ? 'danger' : ''}"
      data-switch="${terminal.terminalId}"
      aria-label="${label} ${terminal.terminalId}"
    >
      ${label}
    </button>
  </form>`;
}

export function terminalsPage(context: PageContext, view: TerminalsView): string {
  const locale = context.session.locale;
  const title = t(locale, 'merchant.terminals.title', { id: view.merchantId });
  const body = html`<h1>${title}</h1>
    ${nav(context, view.merchantId)} ${notice(view.done)}
    <section class="panel spaced" aria-labelledby="list-h">
      <h2 id="list-h">${t(locale, 'merchant.terminals.heading')}</h2>
      ${
        view.terminals.length === 0
          ? html`<p>${t(locale, 'merchant.terminals.empty')}</p>`
          : html`<div class="table-wrap">
              <table>
                <thead>
                  <tr>
                    <th scope="col">${t(locale, 'merchant.terminal_id')}</th>
                    <th scope="col">${t(locale, 'merchant.terminals.location')}</th>
                    <th scope="col">${t(locale, 'merchant.terminals.serial')}</th>
                    <th scope="col">${t(locale, 'merchant.terminals.status')}</th>
                    <th scope="col">${t(locale, 'merchant.terminals.last_seen')}</th>
                    <th scope="col">${t(locale, 'merchant.terminals.action')}</th>
                  </tr>
                </thead>
                <tbody>
                  ${view.terminals.map(
                    (terminal) =>
                      html`<tr data-terminal="${terminal.terminalId}">
                        <td>${terminal.terminalId}</td>
                        <td>${terminal.location || '–'}</td>
                        <td>${terminal.serialNumber || '–'}</td>
                        <td data-test="terminal-status">${t(locale, terminal.enabled ? 'merchant.enabled' : 'merchant.disabled')}</td>
                        <td data-test="terminal-last-seen">${lastSeenText(locale, view.lastSeen, terminal.terminalId)}</td>
                        <td>${switchForm(context, view.merchantId, terminal)}</td>
                      </tr>`,
                  )}
                </tbody>
              </table>
            </div>`
      }
    </section>`;
  return layout(context, title, body);
}

export function managersPage(context: PageContext, merchantId: string, managers: readonly string[]): string {
  const locale = context.session.locale;
  const title = t(locale, 'merchant.managers.title', { id: merchantId });
  const body = html`<h1>${title}</h1>
    ${nav(context, merchantId)}
    <section class="panel spaced" aria-labelledby="managers-h">
      <h2 id="managers-h">${t(locale, 'merchant.managers.heading')}</h2>
      <p>${t(locale, 'merchant.managers.help')}</p>
      ${
        managers.length === 0
          ? html`<p>${t(locale, 'merchant.managers.empty')}</p>`
          : html`<ul data-test="managers">
              ${managers.map((name) => html`<li>${name}</li>`)}
            </ul>`
      }
    </section>`;
  return layout(context, title, body);
}

/** One settlement statement: its period, payout state and net per currency (formatted). */
export interface StatementRow {
  readonly id: string;
  readonly from: string;
  readonly to: string;
  readonly state: string;
  readonly net: string;
}

const state_keys: Readonly<Record<string, MessageKey>> = {
  computed: 'merchant.settlement.computed',
  approved: 'merchant.settlement.approved',
  settled: 'merchant.settlement.settled',
};

export function settlementPage(context: PageContext, merchantId: string, statements: readonly StatementRow[] | undefined): string {
  const locale = context.session.locale;
  const title = t(locale, 'merchant.settlement.title', { id: merchantId });
  const body = html`<h1>${title}</h1>
    ${nav(context, merchantId)}
    <section class="panel spaced" aria-labelledby="statements-h">
      <h2 id="statements-h">${t(locale, 'merchant.settlement.heading')}</h2>
      ${
        statements === undefined
          ? html`<p>${t(locale, 'merchant.settlement.unavailable')}</p>`
          : statements.length === 0
            ? html`<p>${t(locale, 'merchant.settlement.empty')}</p>`
            : html`<div class="table-wrap">
                <table>
                  <thead>
                    <tr>
                      <th scope="col">${t(locale, 'merchant.settlement.period')}</th>
                      <th scope="col">${t(locale, 'merchant.settlement.state')}</th>
                      <th scope="col" class="num">${t(locale, 'merchant.net')}</th>
                    </tr>
                  </thead>
                  <tbody>
                    ${statements.map(
                      (row) =>
                        html`<tr data-batch="${row.id}">
                          <td>${row.from === row.to ? row.from : `${row.from} – ${row.to}`}</td>
                          <td data-test="payout-state">
                            ${state_keys[row.state] === undefined ? row.state : t(locale, state_keys[row.state] as MessageKey)}
                          </td>
                          <td class="num">${row.net}</td>
                        </tr>`,
                    )}
                  </tbody>
                </table>
              </div>`
      }
    </section>`;
  return layout(context, title, body);
}
