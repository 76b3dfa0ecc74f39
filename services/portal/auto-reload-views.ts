// The cardholder's auto-reload page: what is set, the form that sets it up by paying a first top-up
// at the PSP (the PSP's payment yields the mandate; the page never asks for one), the switch to turn
// it off, and the page with the link to the PSP's checkout once the first payment is started.

import type { CardInfo } from '../../gen/tapline/v1/cards';
import { CardStatus } from '../../gen/tapline/v1/types';
import { autoReloadSummary } from './auto-reload-panel';
import { html } from './html';
import { t } from './i18n';
import { csrf, layout, notice, type PageContext } from './views';

export function autoReloadPage(context: PageContext, card: CardInfo, done?: string): string {
  const locale = context.session.locale;
  const currency = card.balance?.currency ?? 'EUR';
  const base = `/cards/${encodeURIComponent(card.cardId)}/auto-reload`;
  const title = t(locale, 'auto_reload.title');
  const field = (id: string, name: string, label: string) =>
    html`<label for="${id}">${label} (${currency})</label><input id="${id}" name="${name}" inputmode="decimal" required maxlength="16" />`;
  const body = html`<h1>${title}</h1>
    ${notice(done)}
    <div class="grid">
      <section class="panel" aria-labelledby="auto-reload-now-h">
        <h2 id="auto-reload-now-h">${t(locale, 'card.title', { id: card.cardId })}</h2>
        <p>${t(locale, 'auto_reload.help')}</p>
        ${autoReloadSummary(locale, card.autoReload)}
        ${
          card.autoReload === undefined
            ? ''
            : html`<form class="inline" method="post" action="${base}/off">
                ${csrf(context.session)}<button id="auto-reload-off" type="submit">${t(locale, 'auto_reload.switch_off')}</button>
              </form>`
        }
      </section>
      ${
        card.status === CardStatus.CARD_STATUS_ACTIVE
          ? html`<form class="panel" method="post" action="${base}" aria-labelledby="auto-reload-setup-h">
              <h2 id="auto-reload-setup-h">${t(locale, 'auto_reload.setup.heading')}</h2>
              <p>${t(locale, 'auto_reload.setup.help')}</p>
              ${csrf(context.session)} ${field('auto-reload-threshold', 'threshold', t(locale, 'auto_reload.threshold'))}
              ${field('auto-reload-amount', 'amount', t(locale, 'auto_reload.amount'))}
              ${field('auto-reload-first', 'first', t(locale, 'auto_reload.first'))}
              <button type="submit" id="auto-reload-setup">${t(locale, 'auto_reload.setup.submit')}</button>
            </form>`
          : ''
      }
    </div>
    <p><a href="/cards/${encodeURIComponent(card.cardId)}">${t(locale, 'card.back')}</a></p>`;
  return layout(context, title, body);
}

export interface FirstPaymentStarted {
  readonly cardId: string;
  /** The amounts, formatted for the locale. */
  readonly amount: string;
  readonly threshold: string;
  readonly reload: string;
  /** The PSP's checkout page for the first payment. */
  readonly checkout: string;
}

export function firstPaymentStartedPage(context: PageContext, started: FirstPaymentStarted): string {
  const locale = context.session.locale;
  const title = t(locale, 'auto_reload.setup.heading');
  const body = html`<h1>${title}</h1>
    <section class="panel">
      <p>${t(locale, 'auto_reload.started', { amount: started.amount, threshold: started.threshold, reload: started.reload })}</p>
      <p><a class="button" id="pay" href="${started.checkout}">${t(locale, 'card.top_up.pay', { amount: started.amount })}</a></p>
      <p><a href="/cards/${encodeURIComponent(started.cardId)}">${t(locale, 'card.back')}</a></p>
    </section>`;
  return layout(context, title, body);
}
