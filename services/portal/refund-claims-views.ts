// Pages of holders' refund claims to a bank account: the holder's claim (its form and its state),
// and the organizer's claims with the payout runs (propose, approve, the SEPA file). The IBAN is
// shown only as the reports service masks it.

import { html, type Markup } from './html';
import { formatDate, formatMoney, t, type MessageKey } from './i18n';
import type { Locale } from './sessions';
import { csrf, layout, notice, type PageContext } from './views';

/** A claim as the reports service answers it (IBAN masked). */
export interface ClaimRow {
  readonly card: string;
  readonly currency: string;
  readonly state: string;
  readonly holder_name: string;
  readonly iban: string;
  readonly bic: string;
  readonly submitted_at_ms: number;
  readonly run: string;
  readonly paid_minor: number;
  readonly reason: string;
}

export interface RunRow {
  readonly id: string;
  readonly state: string;
  readonly proposed_by: string;
  readonly approved_by: string;
  readonly paid_minor: number;
  readonly claims: number;
  readonly in_payout: number;
}

const claim_states: Readonly<Record<string, MessageKey>> = {
  submitted: 'refund.state.submitted',
  in_payout: 'refund.state.in_payout',
  paid: 'refund.state.paid',
  rejected: 'refund.state.rejected',
};

const run_states: Readonly<Record<string, MessageKey>> = {
  proposed: 'refund.run.proposed',
  approved: 'refund.run.approved',
  paid: 'refund.run.paid',
};

function stateText(locale: Locale, states: Readonly<Record<string, MessageKey>>, state: string): string {
  const key = states[state];
  return key === undefined ? state : t(locale, key);
}

function claimSummary(locale: Locale, claim: ClaimRow): Markup {
  return html`<dl>
    <dt>${t(locale, 'refund.state')}</dt>
    <dd data-test="claim-state">${stateText(locale, claim_states, claim.state)}</dd>
    <dt>${t(locale, 'refund.holder_name')}</dt>
    <dd>${claim.holder_name}</dd>
    <dt>${t(locale, 'refund.iban')}</dt>
    <dd data-test="claim-iban">${claim.iban}</dd>
    <dt>${t(locale, 'refund.submitted_at')}</dt>
    <dd>${formatDate(locale, claim.submitted_at_ms)}</dd>
    ${
      claim.state === 'paid'
        ? html`<dt>${t(locale, 'refund.paid')}</dt>
            <dd data-test="claim-paid">${formatMoney(locale, claim.paid_minor, claim.currency)}</dd>`
        : ''
    }
    ${
      claim.state === 'rejected'
        ? html`<dt>${t(locale, 'refund.reason')}</dt>
            <dd data-test="claim-reason">${claim.reason}</dd>`
        : ''
    }
  </dl>`;
}

export interface HolderClaimView {
  readonly cardId: string;
  readonly claim: ClaimRow | undefined;
  readonly done?: string | undefined;
  /** Why the last submission was refused (a message of the catalog), shown above the form. */
  readonly problem?: string | undefined;
}

/** The holder's page: the claim's state, and the form while the claim may still change. */
export function holderClaimPage(context: PageContext, view: HolderClaimView): string {
  const locale = context.session.locale;
  const title = t(locale, 'refund.title');
  const base = `/cards/${encodeURIComponent(view.cardId)}`;
  const editable = view.claim === undefined || view.claim.state === 'submitted' || view.claim.state === 'rejected';
  const form = editable
    ? html`<form class="panel" method="post" action="${base}/refund" aria-labelledby="refund-form-h">
        <h2 id="refund-form-h">${t(locale, view.claim?.state === 'submitted' ? 'refund.change' : 'refund.submit')}</h2>
        <p>${t(locale, 'refund.help')}</p>
        ${csrf(context.session)}
        <label for="refund-name">${t(locale, 'refund.holder_name')}</label
        ><input id="refund-name" name="holder_name" required maxlength="70" autocomplete="name" />
        <label for="refund-iban">${t(locale, 'refund.iban')}</label
        ><input id="refund-iban" name="iban" required maxlength="42" autocomplete="off" spellcheck="false" />
        <label for="refund-bic">${t(locale, 'refund.bic')}</label
        ><input id="refund-bic" name="bic" maxlength="14" autocomplete="off" spellcheck="false" />
        <button type="submit" id="refund-submit">${t(locale, 'refund.submit')}</button>
      </form>`
    : '';
  const body = html`<h1>${title}</h1>
    ${notice(view.done)}
    ${view.problem === undefined ? '' : html`<p class="notice" role="alert" data-test="refund-problem">${view.problem}</p>`}
    <p><a href="${base}">${t(locale, 'card.back')}</a></p>
    <div class="grid">
      <section class="panel" aria-labelledby="refund-claim-h">
        <h2 id="refund-claim-h">${t(locale, 'refund.claim')}</h2>
        ${view.claim === undefined ? html`<p data-test="claim-state">${t(locale, 'refund.none')}</p>` : claimSummary(locale, view.claim)}
      </section>
      ${form}
    </div>`;
  return layout(context, title, body);
}

export interface OrganizerRefundsView {
  readonly program: string;
  readonly claims: readonly ClaimRow[];
  readonly runs: readonly RunRow[];
  readonly may: { readonly propose: boolean; readonly approve: boolean; readonly download: boolean };
  readonly done?: string | undefined;
}

function claimsTable(locale: Locale, claims: readonly ClaimRow[]): Markup {
  if (claims.length === 0) return html`<p>${t(locale, 'refund.claims.empty')}</p>`;
  return html`<div class="table-wrap">
    <table id="refund-claims">
      <thead>
        <tr>
          <th scope="col">${t(locale, 'refund.card')}</th>
          <th scope="col">${t(locale, 'refund.holder_name')}</th>
          <th scope="col">${t(locale, 'refund.iban')}</th>
          <th scope="col">${t(locale, 'refund.state')}</th>
          <th scope="col">${t(locale, 'refund.paid')}</th>
        </tr>
      </thead>
      <tbody>
        ${claims.map(
          (claim) =>
            html`<tr data-card="${claim.card}">
              <td>${claim.card}</td>
              <td>${claim.holder_name}</td>
              <td>${claim.iban}</td>
              <td data-test="state">${stateText(locale, claim_states, claim.state)}${claim.reason === '' ? '' : ` (${claim.reason})`}</td>
              <td data-test="paid">${claim.state === 'paid' ? formatMoney(locale, claim.paid_minor, claim.currency) : '–'}</td>
            </tr>`,
        )}
      </tbody>
    </table>
  </div>`;
}

function runsTable(context: PageContext, view: OrganizerRefundsView): Markup {
  const locale = context.session.locale;
  if (view.runs.length === 0) return html`<p>${t(locale, 'refund.runs.empty')}</p>`;
  return html`<div class="table-wrap">
    <table id="refund-runs">
      <thead>
        <tr>
          <th scope="col">${t(locale, 'refund.run')}</th>
          <th scope="col">${t(locale, 'refund.state')}</th>
          <th scope="col">${t(locale, 'settlement.proposed_by')}</th>
          <th scope="col">${t(locale, 'settlement.approved_by')}</th>
          <th scope="col">${t(locale, 'refund.paid')}</th>
          <th scope="col">${t(locale, 'refund.actions')}</th>
        </tr>
      </thead>
      <tbody>
        ${view.runs.map(
          (run) =>
            html`<tr data-run="${run.id}">
              <td>${run.id}</td>
              <td data-test="state">${stateText(locale, run_states, run.state)}</td>
              <td>${run.proposed_by}</td>
              <td>${run.approved_by}</td>
              <td data-test="paid">${formatMoney(locale, run.paid_minor, 'EUR')}</td>
              <td>
                ${
                  view.may.approve && run.state !== 'paid'
                    ? html`<form class="inline" method="post" action="/organizer/refunds/approve">
                        ${csrf(context.session)}<input type="hidden" name="run" value="${run.id}" /><input
                          type="hidden"
                          name="program"
                          value="${view.program}"
                        /><button type="submit" class="approve-run">${t(locale, 'refund.approve')}</button>
                      </form>`
                    : ''
                }
                ${
                  view.may.download && run.state === 'paid' && run.paid_minor > 0
                    ? html`<a class="file" href="/organizer/refunds/runs/${run.id}/pain.001">${t(locale, 'refund.file')}</a>`
                    : ''
                }
              </td>
            </tr>`,
        )}
      </tbody>
    </table>
  </div>`;
}

export function organizerRefundsPage(context: PageContext, view: OrganizerRefundsView): string {
  const locale = context.session.locale;
  const title = t(locale, 'refund.organizer.title');
  const propose = view.may.propose
    ? html`<form class="panel" method="post" action="/organizer/refunds/propose" aria-labelledby="refund-propose-h">
        <h2 id="refund-propose-h">${t(locale, 'refund.propose')}</h2>
        ${csrf(context.session)}<input type="hidden" name="program" value="${view.program}" />
        <button type="submit" id="propose-run">${t(locale, 'refund.propose')}</button>
      </form>`
    : '';
  const body = html`<h1>${title}</h1>
    ${notice(view.done)}
    <p>${t(locale, 'refund.organizer.help')}</p>
    <div class="grid">
      <form class="panel" method="get" action="/organizer/refunds">
        <label for="refund-program">${t(locale, 'refund.program')}</label
        ><input id="refund-program" name="program" required maxlength="64" value="${view.program}" />
        <button type="submit" id="show-claims">${t(locale, 'settlement.show')}</button>
      </form>
      ${propose}
    </div>
    <section class="panel spaced" aria-labelledby="refund-runs-h">
      <h2 id="refund-runs-h">${t(locale, 'refund.runs')}</h2>
      ${runsTable(context, view)}
    </section>
    <section class="panel spaced" aria-labelledby="refund-claims-h">
      <h2 id="refund-claims-h">${t(locale, 'refund.claims')}</h2>
      ${claimsTable(locale, view.claims)}
    </section>`;
  return layout(context, title, body);
}
