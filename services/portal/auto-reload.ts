// The cardholder's auto-reload: the page showing it, setting it up and switching it off, each acting
// as the holder. Setting it up starts a first payment at the PSP (StartPspTopUp with the chosen
// threshold and reload amount): the node stores the auto-reload only when the PSP reports that
// payment paid, with the mandate the PSP created for it. The browser never sends a mandate, so no
// holder can make a card charge another customer's. The node checks the amounts against the
// program's top-up and balance maximums before anything is started at the PSP.

import type { FastifyInstance } from 'fastify';
import { invalidArgument, unavailable } from '../../actors/errors';
import { minorOf } from './amounts';
import { autoReloadPage, firstPaymentStartedPage } from './auto-reload-views';
import { formField, pageContext, sendPage, sessionOf, tokenOf, type PortalDeps } from './context';
import { formatMoney, t } from './i18n';

const card_params = {
  type: 'object',
  properties: { id: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,64}$' } },
  required: ['id'],
} as const;
/** Schemes a PSP's checkout URL may have: the holder's browser is sent there, nowhere else. */
const checkout_protocols: ReadonlySet<string> = new Set(['https:', 'http:']);

function pageRoute(app: FastifyInstance, deps: PortalDeps): void {
  app.get<{ Params: { id: string }; Querystring: { done?: string } }>(
    '/cards/:id/auto-reload',
    { config: { rule: 'portal.card.auto_reload' }, schema: { params: card_params } },
    async (request, reply) => {
      const card = await deps.backend.card(await tokenOf(request, deps), request.params.id);
      const done = request.query.done === 'off' ? t(sessionOf(request).locale, 'auto_reload.switched_off') : undefined;
      return sendPage(reply, autoReloadPage(pageContext(request), card, done));
    },
  );
}

function setUpRoute(app: FastifyInstance, deps: PortalDeps): void {
  app.post<{ Params: { id: string } }>(
    '/cards/:id/auto-reload',
    { config: { rule: 'portal.card.auto_reload.set_up' }, schema: { params: card_params } },
    async (request, reply) => {
      const thresholdMinor = minorOf(formField(request, 'threshold'), 'threshold');
      const reloadMinor = minorOf(formField(request, 'amount'), 'amount');
      const firstMinor = minorOf(formField(request, 'first'), 'first');
      if (thresholdMinor === undefined) throw invalidArgument('threshold is required', { field: 'threshold' });
      if (reloadMinor === undefined || reloadMinor <= 0n) throw invalidArgument('amount must be more than 0', { field: 'amount' });
      if (firstMinor === undefined || firstMinor <= 0n) throw invalidArgument('first must be more than 0', { field: 'first' });
      const token = await tokenOf(request, deps);
      const card = await deps.backend.card(token, request.params.id);
      const currency = card.balance?.currency ?? 'EUR';
      const started = await deps.backend.startPspTopUp(token, card.cardId, firstMinor, currency, {
        thresholdMinor,
        amountMinor: reloadMinor,
      });
      const checkout = URL.canParse(started.paymentUrl) ? new URL(started.paymentUrl) : undefined;
      if (checkout === undefined || !checkout_protocols.has(checkout.protocol))
        throw unavailable('the PSP answered no checkout address', { reference: started.pspReference });
      const locale = sessionOf(request).locale;
      return sendPage(
        reply,
        firstPaymentStartedPage(pageContext(request), {
          cardId: card.cardId,
          amount: formatMoney(locale, firstMinor, currency),
          threshold: formatMoney(locale, thresholdMinor, currency),
          reload: formatMoney(locale, reloadMinor, currency),
          checkout: checkout.href,
        }),
      );
    },
  );
}

function offRoute(app: FastifyInstance, deps: PortalDeps): void {
  app.post<{ Params: { id: string } }>(
    '/cards/:id/auto-reload/off',
    { config: { rule: 'portal.card.auto_reload.off' }, schema: { params: card_params } },
    async (request, reply) => {
      const token = await tokenOf(request, deps);
      const card = await deps.backend.card(token, request.params.id);
      await deps.backend.switchAutoReloadOff(token, card.cardId, card.balance?.currency ?? 'EUR');
      return reply.redirect(`/cards/${encodeURIComponent(card.cardId)}/auto-reload?done=off`, 303);
    },
  );
}

/** Registers the cardholder's auto-reload page and its two forms. */
export function registerAutoReloadPages(app: FastifyInstance, deps: PortalDeps): void {
  pageRoute(app, deps);
  setUpRoute(app, deps);
  offRoute(app, deps);
}
