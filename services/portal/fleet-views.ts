// The fleet manager's page of cards and vehicles: pure functions from what it shows to its HTML.
// Besides the lists it carries the forms a manager works with: the fleet-wide limits, a card's
// product groups, the pinpad prompts, the decisions on flagged transactions, and the links of the fleet's invoices
// and statement (downloaded through the portal as the person).

import type { FleetAccount, FleetCard, ReviewEntry, SpendLimits } from '../../gen/tapline/v1/fleet';
import { html, type Markup } from './html';
import { formatCount, formatDate, formatMoney, t, type MessageKey } from './i18n';
import type { Locale } from './sessions';
import { csrf, decimalText, fleetStatusText, layout, notice, type PageContext } from './views';

/** One vehicle of the fleet as the card list report gives it. */
export interface FleetVehicle {
  readonly vehicle: string;
  readonly fill_ups: number;
  readonly last_at_ms: number;
  readonly last_card: string;
  readonly odometer_km: number;
}

export interface FleetCardsView {
  readonly account: FleetAccount;
  /** The cards' live state from the node, in card order; undefined when the list cannot be read now. */
  readonly cards: readonly FleetCard[] | undefined;
  /** More cards exist than the page reads one by one. */
  readonly more: boolean;
  readonly vehicles: readonly FleetVehicle[] | undefined;
  readonly reviews: readonly ReviewEntry[];
  /** This month's range, as the documents' links ask for it. */
  readonly period: { readonly from: string; readonly to: string };
  readonly done?: string | undefined;
}

function amountOr(locale: Locale, amount_minor: bigint | undefined, currency: string): string {
  return amount_minor === undefined ? '–' : formatMoney(locale, amount_minor, currency);
}

function cardNo(cardId: string): string {
  return cardId.split('~')[1] ?? cardId;
}

function cardsTable(locale: Locale, view: FleetCardsView, currency: string): Markup {
  if (view.cards === undefined) return html`<p>${t(locale, 'fleet.unavailable')}</p>`;
  if (view.cards.length === 0) return html`<p>${t(locale, 'fleet.cards.empty')}</p>`;
  const base = `/fleets/${encodeURIComponent(view.account.fleetId)}`;
  return html`<div class="table-wrap">
      <table id="fleet-cards">
        <thead>
          <tr>
            <th scope="col">${t(locale, 'fleet.card_no')}</th>
            <th scope="col">${t(locale, 'fleet.card.status')}</th>
            <th scope="col" class="num">${t(locale, 'fleet.per_txn')}</th>
            <th scope="col" class="num">${t(locale, 'fleet.daily')}</th>
            <th scope="col" class="num">${t(locale, 'fleet.card.spent_day')}</th>
            <th scope="col">${t(locale, 'fleet.cards.groups')}</th>
          </tr>
        </thead>
        <tbody>
          ${view.cards.map(
            (card) =>
              html`<tr data-card="${cardNo(card.cardId)}">
                <th scope="row"><a href="${base}?card=${encodeURIComponent(cardNo(card.cardId))}">${cardNo(card.cardId)}</a></th>
                <td data-test="status">${fleetStatusText(locale, card.status)}</td>
                <td class="num">${amountOr(locale, card.limits?.perTxnMinor, currency)}</td>
                <td class="num">${amountOr(locale, card.limits?.dailyMinor, currency)}</td>
                <td class="num" data-test="spent-day">${formatMoney(locale, card.spentDayMinor, currency)}</td>
                <td data-test="groups">
                  ${card.productGroups === undefined ? t(locale, 'fleet.cards.any_group') : card.productGroups.allowed.join(', ')}
                </td>
              </tr>`,
          )}
        </tbody>
      </table>
    </div>
    ${view.more ? html`<p>${t(locale, 'fleet.cards.more', { count: formatCount(locale, view.cards.length) })}</p>` : ''}`;
}

function vehiclesTable(locale: Locale, vehicles: readonly FleetVehicle[] | undefined): Markup {
  if (vehicles === undefined) return html`<p>${t(locale, 'fleet.unavailable')}</p>`;
  if (vehicles.length === 0) return html`<p>${t(locale, 'fleet.vehicles.empty')}</p>`;
  return html`<div class="table-wrap">
    <table id="fleet-vehicles">
      <thead>
        <tr>
          <th scope="col">${t(locale, 'fleet.vehicles.vehicle')}</th>
          <th scope="col" class="num">${t(locale, 'fleet.vehicles.fill_ups')}</th>
          <th scope="col">${t(locale, 'fleet.vehicles.last')}</th>
          <th scope="col">${t(locale, 'fleet.vehicles.last_card')}</th>
          <th scope="col" class="num">${t(locale, 'fleet.vehicles.odometer')}</th>
        </tr>
      </thead>
      <tbody>
        ${vehicles.map(
          (row) =>
            html`<tr data-vehicle="${row.vehicle}">
              <th scope="row">${row.vehicle}</th>
              <td class="num">${formatCount(locale, row.fill_ups)}</td>
              <td>${formatDate(locale, row.last_at_ms)}</td>
              <td>${cardNo(row.last_card)}</td>
              <td class="num">${row.odometer_km > 0 ? formatCount(locale, row.odometer_km) : '–'}</td>
            </tr>`,
        )}
      </tbody>
    </table>
  </div>`;
}

function limitField(id: string, label: string, currency: string, value: bigint | undefined): Markup {
  return html`<label for="${id}">${label} (${currency})</label
    ><input id="${id}" name="${id}" inputmode="decimal" maxlength="16" value="${value === undefined ? '' : decimalText(value)}" />`;
}

function limitsForm(context: PageContext, base: string, limits: SpendLimits | undefined, currency: string): Markup {
  const locale = context.session.locale;
  return html`<form class="panel" method="post" action="${base}/limits" aria-labelledby="account-limits-h">
    <h2 id="account-limits-h">${t(locale, 'fleet.account_limits.heading')}</h2>
    ${csrf(context.session)} ${limitField('account_per_txn', t(locale, 'fleet.per_txn'), currency, limits?.perTxnMinor)}
    ${limitField('account_daily', t(locale, 'fleet.daily'), currency, limits?.dailyMinor)}
    ${limitField('account_weekly', t(locale, 'fleet.weekly'), currency, limits?.weeklyMinor)}
    ${limitField('account_monthly', t(locale, 'fleet.monthly'), currency, limits?.monthlyMinor)}
    <button type="submit" id="save-account-limits">${t(locale, 'fleet.limits.submit')}</button>
  </form>`;
}

function groupsForm(context: PageContext, base: string): Markup {
  const locale = context.session.locale;
  return html`<form class="panel" method="post" action="${base}/card-groups" aria-labelledby="groups-h">
    <h2 id="groups-h">${t(locale, 'fleet.groups.heading')}</h2>
    ${csrf(context.session)} <label for="groups_card_no">${t(locale, 'fleet.card_no')}</label
    ><input id="groups_card_no" name="card_no" required maxlength="64" /> <label for="groups">${t(locale, 'fleet.groups.list')}</label
    ><input id="groups" name="groups" maxlength="400" />
    <button type="submit" id="save-groups">${t(locale, 'fleet.groups.submit')}</button>
  </form>`;
}

function reviewRow(context: PageContext, base: string, row: ReviewEntry): Markup {
  const locale = context.session.locale;
  const id = row.transactionId;
  return html`<tr data-review="${id}">
    <td>${formatDate(locale, Number(row.authorizedAtUnixMs))}</td>
    <td>${cardNo(row.cardId)}</td>
    <td>${row.flags.join(', ')}</td>
    <td class="num">${row.amount === undefined ? '–' : formatMoney(locale, row.amount.amountMinor, row.amount.currency)}</td>
    <td>
      <form method="post" action="${base}/reviews" aria-label="${t(locale, 'fleet.reviews.decision', { id })}">
        ${csrf(context.session)}<input type="hidden" name="transaction" value="${id}" />
        <label for="note-${id}">${t(locale, 'fleet.reviews.note')}</label><input id="note-${id}" name="note" maxlength="200" />
        <button type="submit" name="decision" value="approve">${t(locale, 'fleet.reviews.approve')}</button>
        <button type="submit" name="decision" value="reject" class="danger">${t(locale, 'fleet.reviews.reject')}</button>
      </form>
    </td>
  </tr>`;
}

function reviewsSection(context: PageContext, base: string, reviews: readonly ReviewEntry[]): Markup {
  const locale = context.session.locale;
  return html`<section class="panel spaced" aria-labelledby="reviews-h">
    <h2 id="reviews-h">${t(locale, 'fleet.reviews.heading')}</h2>
    ${
      reviews.length === 0
        ? html`<p>${t(locale, 'fleet.reviews.empty')}</p>`
        : html`<div class="table-wrap">
            <table id="review-queue">
              <thead>
                <tr>
                  <th scope="col">${t(locale, 'card.history.when')}</th>
                  <th scope="col">${t(locale, 'fleet.card_no')}</th>
                  <th scope="col">${t(locale, 'fleet.reviews.flags')}</th>
                  <th scope="col" class="num">${t(locale, 'card.history.amount')}</th>
                  <th scope="col">${t(locale, 'fleet.reviews.note')}</th>
                </tr>
              </thead>
              <tbody>
                ${reviews.map((row) => reviewRow(context, base, row))}
              </tbody>
            </table>
          </div>`
    }
  </section>`;
}

function documentLink(href: string, key: MessageKey, locale: Locale, format: string, values: Record<string, string> = {}): Markup {
  return html`<li><a href="${href}" download data-document="${href.split('/').pop() ?? ''}">${t(locale, key, values)} (${format})</a></li>`;
}

function documentsSection(locale: Locale, base: string, view: FleetCardsView): Markup {
  const range = `?from=${view.period.from}&to=${view.period.to}`;
  const docs = `${base}/documents`;
  return html`<section class="panel spaced" aria-labelledby="documents-h">
    <h2 id="documents-h">${t(locale, 'fleet.documents.heading')}</h2>
    <p>${t(locale, 'fleet.documents.period')}: ${view.period.from} – ${view.period.to}</p>
    <ul>
      ${documentLink(`${docs}/invoice.csv${range}`, 'fleet.documents.invoice', locale, 'CSV')}
      ${documentLink(`${docs}/invoice.json${range}`, 'fleet.documents.invoice', locale, 'JSON')}
      ${documentLink(`${docs}/statement.pdf${range}`, 'fleet.documents.statement', locale, 'PDF')}
      ${documentLink(`${docs}/statement.csv${range}`, 'fleet.documents.statement', locale, 'CSV')}
      ${view.account.openInvoices.map((invoice) =>
        documentLink(`${docs}/invoice-${invoice.cycle}.pdf`, 'fleet.documents.cycle', locale, 'PDF', { number: invoice.number }),
      )}
    </ul>
    ${view.account.openInvoices.length === 0 ? html`<p>${t(locale, 'fleet.documents.none')}</p>` : ''}
  </section>`;
}

function promptBox(name: string, label: string, on: boolean | undefined): Markup {
  return html`<label class="check" for="${name}"
    ><input type="checkbox" id="${name}" name="${name}" value="1" ${on === true ? 'checked' : ''} data-test="prompt-${name.slice(8)}" />
    ${label}</label
  >`;
}

/**
 * What the pinpad asks for with every fill-up of the fleet's cards, as a form: it sets the prompts
 * alone (SetFleetPrompts), so the fleet's product groups and program rules stay as they are.
 */
function promptsForm(context: PageContext, base: string, account: FleetAccount): Markup {
  const locale = context.session.locale;
  const jump = account.prompts?.odometerJumpMaxKm ?? 0n;
  return html`<form class="panel" method="post" action="${base}/prompts" aria-labelledby="prompts-h">
    <h2 id="prompts-h">${t(locale, 'fleet.prompts.heading')}</h2>
    ${csrf(context.session)} ${promptBox('require_odometer', t(locale, 'fleet.prompts.odometer'), account.prompts?.requireOdometer)}
    ${promptBox('require_driver', t(locale, 'fleet.prompts.driver'), account.prompts?.requireDriver)}
    ${promptBox('require_vehicle', t(locale, 'fleet.prompts.vehicle'), account.prompts?.requireVehicle)}
    <label for="odometer_jump_max_km">${t(locale, 'fleet.prompts.jump')}</label
    ><input
      id="odometer_jump_max_km"
      name="odometer_jump_max_km"
      inputmode="numeric"
      maxlength="8"
      value="${jump === 0n ? '' : String(jump)}"
    />
    <p>${t(locale, 'fleet.prompts.help')}</p>
    <button type="submit" id="save-prompts">${t(locale, 'fleet.prompts.submit')}</button>
  </form>`;
}

export function fleetCardsPage(context: PageContext, view: FleetCardsView): string {
  const locale = context.session.locale;
  const { account } = view;
  const currency = account.creditLimit?.currency ?? 'EUR';
  const base = `/fleets/${encodeURIComponent(account.fleetId)}`;
  const title = t(locale, 'fleet.manage.title', { id: account.fleetId });
  const body = html`<h1>${title}</h1>
    ${notice(view.done)}
    <p><a href="${base}">${t(locale, 'fleet.title', { id: account.fleetId })}</a></p>
    <section class="panel" aria-labelledby="cards-h">
      <h2 id="cards-h">${t(locale, 'fleet.cards.heading')}</h2>
      ${cardsTable(locale, view, currency)}
    </section>
    <div class="grid spaced">
      ${limitsForm(context, base, account.limits, currency)} ${groupsForm(context, base)} ${promptsForm(context, base, account)}
    </div>
    ${reviewsSection(context, base, view.reviews)}
    <section class="panel spaced" aria-labelledby="vehicles-h">
      <h2 id="vehicles-h">${t(locale, 'fleet.vehicles.heading')}</h2>
      ${vehiclesTable(locale, view.vehicles)}
    </section>
    ${documentsSection(locale, base, view)}`;
  return layout(context, title, body);
}
