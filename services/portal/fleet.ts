// The fleet manager's routes beyond the fleet's start page: the list of its cards and vehicles,
// the fleet-wide limits, a card's product groups, the pinpad prompts, the decisions on flagged transactions, and the
// fleet's invoices and statement streamed through the portal. Everything is done as the signed-in
// person (the node and the reports service check the person's grant again); the route's rule has
// already checked the fleet in the path against the grant (server.ts).

import type { FastifyInstance, FastifyRequest } from 'fastify';
import { invalidArgument, RejectedError } from '../../actors/errors';
import {
  FleetCardStatus,
  type FleetCard,
  type ProductGroups,
  type PromptPolicy,
  type ResolveReviewRequest,
  type ResolveReviewResponse,
  type SetFleetLimitsRequest,
  type SetFleetLimitsResponse,
  type SetFleetPromptsRequest,
  type SetFleetPromptsResponse,
  type SpendLimits,
} from '../../gen/tapline/v1/fleet';
import { sessionOf, pageContext, type PortalDeps } from './context';
import { fleetCardsPage, type FleetVehicle } from './fleet-views';
import { t, type MessageKey } from './i18n';
import { field, html, id_params, id_pattern, minorOf, principalOf, thisMonth, tokenFor } from './routing';
import { openDocument } from './passthrough';
import type { Backend } from './backend';

/** Cards whose live state the page reads from the node, one call each; a larger fleet shows the first ones. */
export const fleet_page_cards_max = 50;
/** Product groups a card may list (the node's own bound is larger; a form needs no more). */
const groups_max = 20;
const group_pattern = /^[A-Za-z0-9._-]{1,64}$/;
const date_pattern = /^\d{4}-\d{2}-\d{2}$/;
/** The documents a fleet downloads: its invoice so far and statement of a range, or a closed cycle's invoice. */
const document_pattern = /^(?:(invoice|statement)|invoice-(\d{1,9}))\.(csv|json|pdf)$/;
const content_types: Readonly<Record<string, string>> = {
  csv: 'text/csv; charset=utf-8',
  json: 'application/json; charset=utf-8',
  pdf: 'application/pdf',
};

type Params = { Params: { id: string } };

function cardIdOf(fleetId: string, cardNo: string): string {
  if (!new RegExp(id_pattern).test(cardNo)) throw invalidArgument('card_no must be a card number', { field: 'card_no' });
  return `${fleetId}~${cardNo}`;
}

/** The fleet's cards (live state from the node) and vehicles (from the reports service), or undefined when it cannot answer. */
async function listOf(
  deps: PortalDeps,
  token: string,
  fleetId: string,
): Promise<{ cards: FleetCard[]; more: boolean; vehicles: FleetVehicle[] } | undefined> {
  let report: Record<string, unknown>;
  try {
    report = await deps.backend.report(token, `/reports/fleets/${encodeURIComponent(fleetId)}/cards`);
  } catch (error) {
    if (error instanceof RejectedError && error.code !== 'not_found') throw error;
    return undefined;
  }
  const ids = ((report['cards'] as { card?: string }[] | undefined) ?? []).map((row) => String(row.card ?? ''));
  const shown = ids.filter((id) => id.startsWith(`${fleetId}~`)).slice(0, fleet_page_cards_max);
  const cards = await Promise.all(shown.map((cardId) => deps.backend.fleetCard(token, cardId)));
  const vehicles = ((report['vehicles'] as Record<string, string | number>[] | undefined) ?? []).map((row) => ({
    vehicle: String(row['vehicle'] ?? ''),
    fill_ups: Number(row['fill_ups'] ?? 0),
    last_at_ms: Number(row['last_at_ms'] ?? 0),
    last_card: String(row['last_card'] ?? ''),
    odometer_km: Number(row['odometer_km'] ?? 0),
  }));
  return { cards, more: ids.length > shown.length, vehicles };
}

const done_keys: Readonly<Record<string, MessageKey>> = {
  limits: 'fleet.account_limits.saved',
  prompts: 'fleet.prompts.saved',
  groups: 'fleet.groups.saved',
  approved: 'fleet.reviews.approved',
  rejected: 'fleet.reviews.rejected',
};

function listRoute(app: FastifyInstance, deps: PortalDeps): void {
  app.get<Params & { Querystring: { done?: string; subject?: string } }>(
    '/fleets/:id/cards',
    { config: { rule: 'portal.fleet.cards' }, schema: { params: id_params } },
    async (request, reply) => {
      const token = await tokenFor(request, deps);
      const fleetId = request.params.id;
      const [account, listed, reviews] = await Promise.all([
        deps.backend.fleetAccount(token, fleetId),
        listOf(deps, token, fleetId),
        deps.backend.reviewQueue(token, fleetId),
      ]);
      const locale = sessionOf(request).locale;
      const key = request.query.done === undefined ? undefined : done_keys[request.query.done];
      const done = key === undefined ? undefined : t(locale, key, { id: (request.query.subject ?? '').slice(0, 128) });
      const [from, to] = thisMonth(deps.clock())
        .split('&')
        .map((part) => part.split('=')[1] ?? '');
      return html(
        reply,
        fleetCardsPage(pageContext(request), {
          account,
          cards: listed?.cards,
          more: listed?.more ?? false,
          vehicles: listed?.vehicles,
          reviews,
          period: { from: from ?? '', to: to ?? '' },
          done,
        }),
      );
    },
  );
}

function setFleetLimits(backend: Backend, token: string, fleetId: string, limits: SpendLimits): Promise<SetFleetLimitsResponse> {
  // No credit limit: that is the issuer's decision, and the node refuses it from a fleet manager.
  return backend.call<SetFleetLimitsRequest, SetFleetLimitsResponse>(
    backend.fleets.setFleetLimits.bind(backend.fleets),
    { fleetId, limits, creditLimitMinor: undefined, operatorId: '' },
    token,
  );
}

function resolveReview(backend: Backend, token: string, request: ResolveReviewRequest): Promise<ResolveReviewResponse> {
  return backend.call<ResolveReviewRequest, ResolveReviewResponse>(backend.fleets.resolveReview.bind(backend.fleets), request, token);
}

/** The prompts as the form posts them: a ticked box is "1", an empty distance no bound. */
function promptsOf(request: FastifyRequest): PromptPolicy {
  const ticked = (name: string): boolean => {
    const value = field(request, name);
    if (value !== '' && value !== '1') throw invalidArgument(`${name} must be ticked or not`, { field: name });
    return value === '1';
  };
  const jump = field(request, 'odometer_jump_max_km');
  if (!/^\d{0,8}$/.test(jump))
    throw invalidArgument('odometer_jump_max_km must be a whole number of km', { field: 'odometer_jump_max_km' });
  return {
    requireOdometer: ticked('require_odometer'),
    requireDriver: ticked('require_driver'),
    requireVehicle: ticked('require_vehicle'),
    odometerJumpMaxKm: BigInt(jump === '' ? 0 : jump),
  };
}

/** Product groups typed in a form: empty is "every group" (absent), else a bounded list of group names. */
function groupsOf(text: string): ProductGroups | undefined {
  if (text === '') return undefined;
  const allowed = [...new Set(text.split(',').map((group) => group.trim()))].filter((group) => group !== '');
  if (allowed.length > groups_max || !allowed.every((group) => group_pattern.test(group)))
    throw invalidArgument(`groups must be at most ${groups_max} group names separated by commas`, { field: 'groups' });
  return { allowed };
}

function limitRoutes(app: FastifyInstance, deps: PortalDeps): void {
  const schema = { params: id_params };
  app.post<Params>('/fleets/:id/limits', { config: { rule: 'portal.fleet.limits' }, schema }, async (request, reply) => {
    const token = await tokenFor(request, deps);
    const account = await deps.backend.fleetAccount(token, request.params.id);
    // The node replaces the account's limits as a whole: the lifetime limit, which the form does not show, is kept.
    const limits: SpendLimits = {
      ...(account.limits ?? {}),
      perTxnMinor: minorOf(field(request, 'account_per_txn'), 'account_per_txn'),
      dailyMinor: minorOf(field(request, 'account_daily'), 'account_daily'),
      weeklyMinor: minorOf(field(request, 'account_weekly'), 'account_weekly'),
      monthlyMinor: minorOf(field(request, 'account_monthly'), 'account_monthly'),
    };
    await setFleetLimits(deps.backend, token, request.params.id, limits);
    return reply.redirect(`/fleets/${encodeURIComponent(request.params.id)}/cards?done=limits`, 303);
  });
  app.post<Params>('/fleets/:id/card-groups', { config: { rule: 'portal.fleet.card_groups' }, schema }, async (request, reply) => {
    const cardNo = field(request, 'card_no');
    const cardId = cardIdOf(request.params.id, cardNo);
    const groups = groupsOf(field(request, 'groups'));
    const token = await tokenFor(request, deps);
    // The node sets a card's limits with its groups: the card's current limits go along unchanged.
    const card = await deps.backend.fleetCard(token, cardId);
    const limits = card.limits ?? {};
    await deps.backend.setFleetCardLimits(token, cardId, limits, groups);
    return reply.redirect(`/fleets/${encodeURIComponent(request.params.id)}/cards?done=groups&subject=${encodeURIComponent(cardNo)}`, 303);
  });
}

function promptsRoute(app: FastifyInstance, deps: PortalDeps): void {
  app.post<Params>(
    '/fleets/:id/prompts',
    { config: { rule: 'portal.fleet.prompts' }, schema: { params: id_params } },
    async (request, reply) => {
      const prompts = promptsOf(request);
      // The prompts alone: the fleet's product groups and program rules stay as the node holds them.
      await deps.backend.call<SetFleetPromptsRequest, SetFleetPromptsResponse>(
        deps.backend.fleets.setFleetPrompts.bind(deps.backend.fleets),
        { fleetId: request.params.id, prompts },
        await tokenFor(request, deps),
      );
      return reply.redirect(`/fleets/${encodeURIComponent(request.params.id)}/cards?done=prompts`, 303);
    },
  );
}

function reviewRoute(app: FastifyInstance, deps: PortalDeps): void {
  app.post<Params>(
    '/fleets/:id/reviews',
    { config: { rule: 'portal.fleet.review' }, schema: { params: id_params } },
    async (request, reply) => {
      const fleetId = request.params.id;
      const transactionId = field(request, 'transaction');
      const decision = field(request, 'decision');
      if (decision !== 'approve' && decision !== 'reject')
        throw invalidArgument('decision must be approve or reject', { field: 'decision' });
      if (transactionId === '' || transactionId.length > 128) throw invalidArgument('transaction must be a transaction id');
      const token = await tokenFor(request, deps);
      // The card to block is the one the node's queue names for the transaction, never one from the form.
      const entry = (await deps.backend.reviewQueue(token, fleetId)).find((row) => row.transactionId === transactionId);
      if (entry === undefined) throw new RejectedError('not_found', 'no such transaction in the review queue');
      const note = `${decision === 'approve' ? 'approved' : 'rejected'} by ${principalOf(request).subject}: ${field(request, 'note')}`;
      await resolveReview(deps.backend, token, { fleetId, transactionId, note: note.slice(0, 256), operatorId: '' });
      if (decision === 'reject') await deps.backend.setFleetCardStatus(token, entry.cardId, FleetCardStatus.FLEET_CARD_STATUS_BLOCKED);
      const done = decision === 'approve' ? 'approved' : 'rejected';
      return reply.redirect(`/fleets/${encodeURIComponent(fleetId)}/cards?done=${done}&subject=${encodeURIComponent(transactionId)}`, 303);
    },
  );
}

/** The reports path of a fleet document, or an invalid-argument refusal. */
function documentPath(fleetId: string, name: string, query: { from?: string; to?: string }): { path: string; format: string } {
  const match = document_pattern.exec(name);
  if (match === null) throw invalidArgument('no such document');
  const [, kind, cycle, format = 'json'] = match;
  const fleet = `/reports/fleets/${encodeURIComponent(fleetId)}`;
  const output = format === 'json' ? '' : `format=${format}`;
  if (cycle !== undefined) return { path: `${fleet}/invoices/${cycle}${output === '' ? '' : `?${output}`}`, format };
  const { from = '', to = '' } = query;
  if (!date_pattern.test(from) || !date_pattern.test(to)) throw invalidArgument('from and to must be dates (YYYY-MM-DD)');
  // The running invoice has no PDF of its own (a closed cycle's invoice does); its CSV is the transactions.
  if (kind === 'invoice' && format === 'pdf') throw invalidArgument('the invoice so far is CSV or JSON');
  const section = kind === 'invoice' && format === 'csv' ? '&section=transactions' : '';
  return { path: `${fleet}/${kind}?from=${from}&to=${to}${output === '' ? '' : `&${output}`}${section}`, format };
}

function documentRoute(app: FastifyInstance, deps: PortalDeps): void {
  const params = {
    type: 'object',
    properties: { id: id_params.properties.id, name: { type: 'string', maxLength: 40 } },
    required: ['id', 'name'],
  } as const;
  app.get<{ Params: { id: string; name: string }; Querystring: { from?: string; to?: string } }>(
    '/fleets/:id/documents/:name',
    { config: { rule: 'portal.fleet.document' }, schema: { params } },
    async (request, reply) => {
      const { path, format } = documentPath(request.params.id, request.params.name, request.query);
      const document = await openDocument(deps.backend, await tokenFor(request, deps), path);
      const filename = `${request.params.id}-${request.params.name}`.replace(/[^A-Za-z0-9._-]/g, '_');
      return reply
        .type(content_types[format] ?? 'application/octet-stream')
        .header('content-disposition', `attachment; filename="${filename}"`)
        .send(document);
    },
  );
}

export function registerFleetRoutes(app: FastifyInstance, deps: PortalDeps): void {
  listRoute(app, deps);
  limitRoutes(app, deps);
  promptsRoute(app, deps);
  reviewRoute(app, deps);
  documentRoute(app, deps);
}
