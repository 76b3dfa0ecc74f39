// The portal's pages and forms: each reads what it shows, or does what it is asked, through the
// backend as the signed-in person, and redirects after a form (post/redirect/get) so a reload does
// not post again. What a path names (a card, fleet, merchant) was already checked against the
// person's grant by the route's rule (server.ts) before a handler runs.

import type { MerchantSales } from './merchant-sales-views';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { invalidArgument, RejectedError } from '../../actors/errors';
import { CardAction } from '../../gen/tapline/v1/cards';
import { FleetCardStatus } from '../../gen/tapline/v1/fleet';
import type { Bar } from './chart';
import { formatCount, formatMoney, t, type MessageKey } from './i18n';
import { pageContext, sessionOf, setSessionCookie, session_cookie, type PortalDeps } from './context';
import type { SessionPrincipal } from './sessions';
import { historyOf, registerCardholderPages } from './cardholder';
import { registerAutoReloadPages } from './auto-reload';
import { registerRefundClaimPages } from './refund-claims';
import { registerMerchantPages } from './merchant';
import { registerFleetRoutes } from './fleet';
import { registerOrganizerRoutes } from './organizer';
import { eventDetail, organizerLinks, type EventDetail } from './organizer-views';
import { html as markup } from './html';
import { field, html, id_params, id_pattern, minorOf, principalOf, thisMonth, tokenFor } from './routing';
import { cardPage, fleetPage, loginPage, merchantPage, organizerPage, statusText, type EventFigures } from './views';

const pin_pattern = /^\d{4,12}$/;

type Handler = (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;

/** The start page of a person: their own card, fleet or merchant, or the organizer's statistics. */
function homeOf(principal: SessionPrincipal | undefined): string {
  if (principal === undefined) return '/login';
  const first = encodeURIComponent(principal.grant.scope[0] ?? '');
  switch (principal.grant.role) {
    case 'cardholder':
      return `/cards/${first}`;
    case 'fleet_manager':
      return `/fleets/${first}`;
    case 'merchant_admin':
      return `/merchants/${first}`;
    case 'auditor':
      return '/organizer/audit';
    case 'settlement_approver':
      return '/organizer/settlement';
    default:
      return '/organizer';
  }
}

function signIn(request: FastifyRequest, reply: FastifyReply, deps: PortalDeps, principal: SessionPrincipal): FastifyReply {
  const session = deps.sessions.signIn(sessionOf(request), principal, deps.clock());
  setSessionCookie(reply, session);
  return reply.redirect(homeOf(principal), 303);
}

function loginRoutes(app: FastifyInstance, deps: PortalDeps): void {
  const rule = { config: { rule: 'portal.login' } };
  app.get('/', { config: { rule: 'portal.home' } }, async (request, reply) => reply.redirect(homeOf(sessionOf(request).principal), 303));
  app.get('/login', rule, async (request, reply) => html(reply, loginPage(pageContext(request), false)));
  app.post('/login/card', rule, async (request, reply) => {
    const cardId = field(request, 'card');
    const pin = field(request, 'pin');
    const principal: SessionPrincipal = { subject: `card:${cardId}`, display: cardId, grant: { role: 'cardholder', scope: [cardId] } };
    if (!new RegExp(id_pattern).test(cardId) || !pin_pattern.test(pin)) return html(reply, loginPage(pageContext(request), true), 401);
    try {
      const token = await deps.issuer.mint(principal.subject, principal.grant, deps.clock());
      // The card checks the PIN (a card without one is refused: it has nothing to check).
      await deps.backend.checkPin(token, cardId, pin);
    } catch (error) {
      if (error instanceof RejectedError) return html(reply, loginPage(pageContext(request), true), 401);
      throw error;
    }
    return signIn(request, reply, deps, principal);
  });
  app.post('/login/staff', rule, async (request, reply) => {
    const user = await deps.staff.verify(field(request, 'username'), field(request, 'password'));
    if (user === undefined) return html(reply, loginPage(pageContext(request), true), 401);
    return signIn(request, reply, deps, {
      subject: `staff:${user.username}`,
      display: user.username,
      grant: { role: user.role, scope: user.scope },
    });
  });
  app.post('/logout', { config: { rule: 'portal.logout' } }, async (request, reply) => {
    deps.sessions.end(sessionOf(request).id);
    reply.clearCookie(session_cookie, { path: '/', httpOnly: true, secure: true, sameSite: 'strict' });
    return reply.redirect('/login', 303);
  });
}

const stop_actions: Readonly<Record<string, CardAction>> = {
  lost: CardAction.CARD_ACTION_REPORT_LOST,
  freeze: CardAction.CARD_ACTION_FREEZE,
};

function cardRoutes(app: FastifyInstance, deps: PortalDeps): void {
  const schema = { params: id_params };
  app.get<{ Params: { id: string }; Querystring: { done?: string } }>(
    '/cards/:id',
    { config: { rule: 'portal.card' }, schema },
    async (request, reply) => {
      const token = await tokenFor(request, deps);
      const card = await deps.backend.card(token, request.params.id);
      const history = await historyOf(deps, token, card.cardId);
      const locale = sessionOf(request).locale;
      const done = request.query.done === undefined ? undefined : t(locale, 'card.stopped', { status: statusText(locale, card.status) });
      return html(reply, cardPage(pageContext(request), card, history, done));
    },
  );
  for (const [name, action] of Object.entries(stop_actions))
    app.post<{ Params: { id: string } }>(`/cards/:id/${name}`, { config: { rule: 'portal.card.stop' }, schema }, async (request, reply) => {
      const reason = `${name} via the portal by ${principalOf(request).subject}`.slice(0, 256);
      await deps.backend.changeCardState(await tokenFor(request, deps), request.params.id, action, reason);
      return reply.redirect(`/cards/${encodeURIComponent(request.params.id)}?done=${name}`, 303);
    });
  app.get<{ Querystring: { card?: string } }>(
    '/organizer/cards',
    { config: { rule: 'portal.organizer.card_lookup' } },
    async (request, reply) => {
      const cardId = (request.query.card ?? '').trim();
      if (!new RegExp(id_pattern).test(cardId)) throw invalidArgument('card must be a card id');
      return reply.redirect(`/cards/${encodeURIComponent(cardId)}`, 303);
    },
  );
}

async function vehiclesOf(deps: PortalDeps, token: string, fleetId: string, locale: 'en' | 'nl'): Promise<Bar[] | undefined> {
  try {
    const report = await deps.backend.report(token, `/reports/fleets/${encodeURIComponent(fleetId)}/invoice?${thisMonth(deps.clock())}`);
    const rows = (report['vehicles'] as Record<string, string | number>[] | undefined) ?? [];
    return rows.map((row) => ({
      label: String(row['vehicle'] ?? '') || '–',
      value: Number(row['invoiced_minor'] ?? 0),
      shown: formatMoney(locale, Number(row['invoiced_minor'] ?? 0), String(row['currency'] ?? 'EUR')),
    }));
  } catch (error) {
    if (error instanceof RejectedError && error.code !== 'not_found') throw error;
    return undefined;
  }
}

function fleetRoutes(app: FastifyInstance, deps: PortalDeps): void {
  const schema = { params: id_params };
  app.get<{ Params: { id: string }; Querystring: { card?: string; done?: string } }>(
    '/fleets/:id',
    { config: { rule: 'portal.fleet' }, schema },
    async (request, reply) => {
      const token = await tokenFor(request, deps);
      const fleetId = request.params.id;
      const account = await deps.backend.fleetAccount(token, fleetId);
      const cardNo = request.query.card;
      const card =
        cardNo === undefined || !new RegExp(id_pattern).test(cardNo)
          ? undefined
          : await deps.backend.fleetCard(token, `${fleetId}~${cardNo}`);
      const locale = sessionOf(request).locale;
      const vehicles = await vehiclesOf(deps, token, fleetId, locale);
      const reviews = await deps.backend.reviewQueue(token, fleetId);
      const done =
        request.query.done === undefined || card === undefined
          ? undefined
          : t(locale, request.query.done === 'blocked' ? 'fleet.card.blocked' : 'fleet.limits.saved', { id: card.cardId });
      return html(reply, fleetPage(pageContext(request), { account, card, vehicles, reviews, done }));
    },
  );
  app.post<{ Params: { id: string } }>(
    '/fleets/:id/card-block',
    { config: { rule: 'portal.fleet.card_block' }, schema },
    async (request, reply) => {
      const cardNo = field(request, 'card_no');
      if (!new RegExp(id_pattern).test(cardNo)) throw invalidArgument('card_no must be a card number', { field: 'card_no' });
      const blocked = FleetCardStatus.FLEET_CARD_STATUS_BLOCKED;
      await deps.backend.setFleetCardStatus(await tokenFor(request, deps), `${request.params.id}~${cardNo}`, blocked);
      return reply.redirect(`/fleets/${encodeURIComponent(request.params.id)}?card=${encodeURIComponent(cardNo)}&done=blocked`, 303);
    },
  );
  app.post<{ Params: { id: string } }>(
    '/fleets/:id/card-limits',
    { config: { rule: 'portal.fleet.card_limits' }, schema },
    async (request, reply) => {
      const cardNo = field(request, 'card_no');
      if (!new RegExp(id_pattern).test(cardNo)) throw invalidArgument('card_no must be a card number', { field: 'card_no' });
      const perTxnMinor = minorOf(field(request, 'per_txn'), 'per_txn');
      const dailyMinor = minorOf(field(request, 'daily'), 'daily');
      const token = await tokenFor(request, deps);
      const cardId = `${request.params.id}~${cardNo}`;
      // The node replaces a card's limits and product groups together: what the form does not show is kept.
      const card = await deps.backend.fleetCard(token, cardId);
      const limits = { ...(card.limits ?? {}), perTxnMinor, dailyMinor };
      await deps.backend.setFleetCardLimits(token, cardId, limits, card.productGroups);
      return reply.redirect(`/fleets/${encodeURIComponent(request.params.id)}?card=${encodeURIComponent(cardNo)}&done=limits`, 303);
    },
  );
}

async function feesOf(deps: PortalDeps, token: string, merchantId: string, locale: 'en' | 'nl') {
  try {
    const report = await deps.backend.report(token, `/reports/merchants/${encodeURIComponent(merchantId)}/fees?${thisMonth(deps.clock())}`);
    const rows = (report['currencies'] as Record<string, string | number>[] | undefined) ?? [];
    return rows.map((row) => {
      const currency = String(row['currency'] ?? 'EUR');
      const shown = (name: string): string => formatMoney(locale, Number(row[name] ?? 0), currency);
      return { currency, gross: shown('gross_minor'), fees: shown('fees_minor'), net: shown('net_minor') };
    });
  } catch (error) {
    if (error instanceof RejectedError && error.code !== 'not_found') throw error;
    return undefined;
  }
}

/** This month's sales of the merchant per day, terminal and product; undefined when the report cannot be read now. */
async function salesOf(deps: PortalDeps, token: string, merchantId: string): Promise<MerchantSales | undefined> {
  try {
    const report = await deps.backend.report(
      token,
      `/reports/merchants/${encodeURIComponent(merchantId)}/sales?${thisMonth(deps.clock())}`,
    );
    const rows = (name: string): Record<string, string | number>[] => (report[name] as Record<string, string | number>[] | undefined) ?? [];
    const sales = (row: Record<string, string | number>, key: string) => ({
      key: String(row[key] ?? ''),
      currency: String(row['currency'] ?? 'EUR'),
      sales: Number(row['sales'] ?? 0),
      sales_minor: Number(row['sales_minor'] ?? 0),
      returned_minor: Number(row['returned_minor'] ?? 0),
    });
    return {
      days: rows('days').map((row) => sales(row, 'day')),
      terminals: rows('terminals').map((row) => sales(row, 'terminal')),
      products: rows('products').map((row) => ({
        product: String(row['product'] ?? ''),
        currency: String(row['currency'] ?? 'EUR'),
        quantity_milli: Number(row['quantity_milli'] ?? 0),
        amount_minor: Number(row['amount_minor'] ?? 0),
      })),
    };
  } catch (error) {
    if (error instanceof RejectedError && error.code !== 'not_found') throw error;
    return undefined;
  }
}

function merchantRoutes(app: FastifyInstance, deps: PortalDeps): void {
  const schema = { params: id_params };
  app.get<{ Params: { id: string }; Querystring: { terminal?: string; done?: string } }>(
    '/merchants/:id',
    { config: { rule: 'portal.merchant' }, schema },
    async (request, reply) => {
      const locale = sessionOf(request).locale;
      const token = await tokenFor(request, deps);
      const [fees, sales] = await Promise.all([feesOf(deps, token, request.params.id, locale), salesOf(deps, token, request.params.id)]);
      const { terminal, done } = request.query;
      const state: MessageKey = done === 'enabled' ? 'merchant.enabled' : 'merchant.disabled';
      const shown =
        terminal === undefined || done === undefined
          ? undefined
          : t(locale, 'merchant.terminal.saved', { id: terminal.slice(0, 64), state: t(locale, state) });
      return html(reply, merchantPage(pageContext(request), { merchantId: request.params.id, fees, sales, done: shown }));
    },
  );
  app.post<{ Params: { id: string } }>(
    '/merchants/:id/terminals',
    { config: { rule: 'portal.merchant.terminal' }, schema },
    async (request, reply) => {
      const terminal = field(request, 'terminal');
      if (!new RegExp(id_pattern).test(terminal)) throw invalidArgument('terminal must be a terminal id', { field: 'terminal' });
      const enabled = field(request, 'enabled') === '1';
      // The node checks that the terminal belongs to one of the person's merchants.
      await deps.backend.setTerminalEnabled(await tokenFor(request, deps), terminal, enabled);
      const done = enabled ? 'enabled' : 'disabled';
      return reply.redirect(
        `/merchants/${encodeURIComponent(request.params.id)}?terminal=${encodeURIComponent(terminal)}&done=${done}`,
        303,
      );
    },
  );
}

/** The organizer's figures of one program, formatted for the locale. */
async function figuresOf(
  deps: PortalDeps,
  token: string,
  program: string,
  locale: 'en' | 'nl',
): Promise<EventFigures & { detail: EventDetail }> {
  const report = await deps.backend.report(token, `/reports/events/${encodeURIComponent(program)}/statistics`);
  const totals = ((report['totals'] as Record<string, string | number>[] | undefined) ?? [])[0] ?? {};
  const merchants = (report['top_merchants'] as Record<string, string | number>[] | undefined) ?? [];
  const currency = String(totals['currency'] ?? 'EUR');
  const amount = (value: unknown): string => formatMoney(locale, Number(value ?? 0), currency);
  const sales = merchants.reduce((sum, row) => sum + Number(row['purchases'] ?? 0), 0);
  const rowsOf = (name: string): Record<string, string | number>[] => (report[name] as Record<string, string | number>[] | undefined) ?? [];
  const detail = {
    currency,
    minutes: rowsOf('sales_per_minute').map((row) => ({
      minute: String(row['minute'] ?? ''),
      currency: String(row['currency'] ?? currency),
      purchases: Number(row['purchases'] ?? 0),
      purchases_minor: Number(row['purchases_minor'] ?? 0),
    })),
    declines: rowsOf('declines_by_reason').map((row) => ({
      reason: String(row['reason'] ?? ''),
      declines: Number(row['declines'] ?? 0),
      requested_minor: Number(row['requested_minor'] ?? 0),
    })),
  };
  return {
    detail,
    shown: {
      sales: formatCount(locale, sales),
      spent: amount(totals['spent_minor']),
      top_ups: amount(totals['top_ups_minor']),
      remaining: amount(totals['remaining_minor']),
    },
    merchants: merchants.map((row) => ({
      merchant: String(row['merchant'] ?? ''),
      purchases: formatCount(locale, Number(row['purchases'] ?? 0)),
      net: amount(row['net_sales_minor']),
    })),
  };
}

const statistics_reply = {
  200: {
    type: 'object',
    required: ['program', 'shown'],
    properties: {
      program: { type: 'string' },
      shown: {
        type: 'object',
        properties: { sales: { type: 'string' }, spent: { type: 'string' }, top_ups: { type: 'string' }, remaining: { type: 'string' } },
      },
    },
  },
} as const;

function organizerRoutes(app: FastifyInstance, deps: PortalDeps): void {
  app.get<{ Querystring: { program?: string } }>('/organizer', { config: { rule: 'portal.organizer' } }, async (request, reply) => {
    const requested = request.query.program ?? deps.programs[0];
    const program = requested !== undefined && deps.programs.includes(requested) ? requested : undefined;
    const locale = sessionOf(request).locale;
    const figures =
      program === undefined
        ? undefined
        : await figuresOf(deps, await tokenFor(request, deps), program, locale).catch((error: unknown) => {
            if (error instanceof RejectedError && error.code === 'not_found') return undefined;
            throw error;
          });
    const extra = markup`${eventDetail(locale, figures?.detail)}${organizerLinks(locale)}`;
    return html(reply, organizerPage(pageContext(request), deps.programs, program, figures, extra));
  });
  app.get<{ Params: { id: string } }>(
    '/api/v1/events/:id/statistics',
    { config: { rule: 'api.event_statistics' }, schema: { params: id_params, response: statistics_reply } },
    async (request) => {
      const figures = await figuresOf(deps, await tokenFor(request, deps), request.params.id, sessionOf(request).locale);
      return { program: request.params.id, shown: figures.shown };
    },
  );
}

/**
 * The OpenAPI description of the portal's JSON API, built from the same schemas the routes
 * validate and serialize with, so the two cannot drift apart.
 */
export const portal_openapi = {
  openapi: '3.1.0',
  info: { title: 'Tapline portal JSON API', version: '1' },
  paths: {
    '/api/v1/events/{id}/statistics': {
      get: {
        summary: "An event's live figures, formatted for the session's locale (the organizer page polls it)",
        parameters: [{ name: 'id', in: 'path', required: true, schema: id_params.properties.id }],
        security: [{ session: [] }],
        responses: {
          '200': { description: 'the figures', content: { 'application/json': { schema: statistics_reply[200] } } },
          '401': { description: 'not signed in' },
          '403': { description: "the person's role does not read event statistics" },
          '404': { description: 'no such event' },
        },
      },
    },
  },
  components: { securitySchemes: { session: { type: 'apiKey', in: 'cookie', name: '__Host-tapline-portal' } } },
} as const;

export function registerPages(app: FastifyInstance, deps: PortalDeps): void {
  app.get('/openapi.json', { config: { rule: 'portal.openapi' } }, (_request, reply) => reply.send(portal_openapi));
  loginRoutes(app, deps);
  cardRoutes(app, deps);
  registerCardholderPages(app, deps);
  registerAutoReloadPages(app, deps);
  registerMerchantPages(app, deps);
  fleetRoutes(app, deps);
  registerFleetRoutes(app, deps);
  merchantRoutes(app, deps);
  organizerRoutes(app, deps);
  registerOrganizerRoutes(app, deps);
  registerRefundClaimPages(app, deps);
}

export type { Handler };
