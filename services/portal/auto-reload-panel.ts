// The card page's auto-reload panel: what is set (threshold, reload amount, the mandate by its last
// characters only) and the link to the auto-reload page. Apart from the page (auto-reload-views.ts)
// because the card page (views.ts) shows it and the page's layout comes from views.ts.

import type { AutoReloadInfo } from '../../gen/tapline/v1/cards';
import { html, type Markup } from './html';
import { formatMoney, t } from './i18n';
import type { Locale } from './sessions';

/** The auto-reload as a definition list, or the sentence that it is off. */
export function autoReloadSummary(locale: Locale, autoReload: AutoReloadInfo | undefined): Markup {
  if (autoReload === undefined) return html`<p data-test="auto-reload-off">${t(locale, 'auto_reload.off')}</p>`;
  const money = (value: { amountMinor: bigint; currency: string } | undefined): string =>
    value === undefined ? '–' : formatMoney(locale, value.amountMinor, value.currency);
  return html`<dl data-test="auto-reload">
    <dt>${t(locale, 'auto_reload.threshold')}</dt>
    <dd data-test="auto-reload-threshold">${money(autoReload.threshold)}</dd>
    <dt>${t(locale, 'auto_reload.amount')}</dt>
    <dd data-test="auto-reload-amount">${money(autoReload.amount)}</dd>
    <dt>${t(locale, 'auto_reload.mandate')}</dt>
    <dd data-test="auto-reload-mandate">${t(locale, 'auto_reload.mandate_ending', { ending: autoReload.mandateEnding })}</dd>
  </dl>`;
}

/** The panel on the card page. */
export function autoReloadPanel(locale: Locale, cardId: string, autoReload: AutoReloadInfo | undefined): Markup {
  return html`<section class="panel" aria-labelledby="auto-reload-h">
    <h2 id="auto-reload-h">${t(locale, 'auto_reload.title')}</h2>
    ${autoReloadSummary(locale, autoReload)}
    <p><a id="auto-reload-link" href="/cards/${encodeURIComponent(cardId)}/auto-reload">${t(locale, 'auto_reload.link')}</a></p>
  </section>`;
}
