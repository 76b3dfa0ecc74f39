// Holders' refund claims to a bank account, through the reports service as the person
// (services/reports/refund-claims/http.ts): the holder's page claims for its own card (the portal's
// rule and the reports service's both check the card is the holder's), and the organizer's page
// lists a program's claims and runs, where an issuer proposes a run and a settlement approver (a
// different person: the reports service refuses the proposer whatever the role) approves it, which
// pays it. The paid run's SEPA file is streamed through as the person.

import type { FastifyInstance, FastifyRequest } from 'fastify';
import { invalidArgument, RejectedError } from '../../actors/errors';
import type { Role } from '../common/auth/policy';
import { pageContext, sessionOf, type PortalDeps } from './context';
import { t } from './i18n';
import { openDocument, postAction } from './passthrough';
import { holderClaimPage, organizerRefundsPage, type ClaimRow, type RunRow } from './refund-claims-views';
import { field, html, id_params, id_pattern, principalOf, tokenFor } from './routing';

const run_pattern = /^[A-Za-z0-9._-]{1,64}\.refund\.[0-9]{1,9}$/;

/** A string field of an answer ('' or the fallback when absent or not a string). */
function text(value: unknown, fallback = ''): string {
  return typeof value === 'string' && value !== '' ? value : fallback;
}

function claimRowOf(row: Record<string, unknown>): ClaimRow {
  return {
    card: text(row['card']),
    currency: text(row['currency'], 'EUR'),
    state: text(row['state']),
    holder_name: text(row['holder_name']),
    iban: text(row['iban']),
    bic: text(row['bic']),
    submitted_at_ms: Number(row['submitted_at_ms'] ?? 0),
    run: text(row['run']),
    paid_minor: Number(row['paid_minor'] ?? 0),
    reason: text(row['reason']),
  };
}

async function claimOf(deps: PortalDeps, token: string, cardId: string): Promise<ClaimRow | undefined> {
  try {
    return claimRowOf(await deps.backend.report(token, `/refund-claims/cards/${encodeURIComponent(cardId)}`));
  } catch (error) {
    if (error instanceof RejectedError && error.code === 'not_found') return undefined;
    throw error;
  }
}

function holderRoutes(app: FastifyInstance, deps: PortalDeps): void {
  app.get<{ Params: { id: string }; Querystring: { done?: string } }>(
    '/cards/:id/refund',
    { config: { rule: 'portal.card.refund' }, schema: { params: id_params } },
    async (request, reply) => {
      const claim = await claimOf(deps, await tokenFor(request, deps), request.params.id);
      const done = request.query.done === 'submitted' ? t(sessionOf(request).locale, 'refund.submitted') : undefined;
      return html(reply, holderClaimPage(pageContext(request), { cardId: request.params.id, claim, done }));
    },
  );
  app.post<{ Params: { id: string } }>(
    '/cards/:id/refund',
    { config: { rule: 'portal.card.refund_submit' }, schema: { params: id_params } },
    async (request, reply) => {
      const cardId = request.params.id;
      const token = await tokenFor(request, deps);
      const bic = field(request, 'bic');
      const body = { holder_name: field(request, 'holder_name'), iban: field(request, 'iban'), ...(bic === '' ? {} : { bic }) };
      try {
        await postAction(deps.backend, token, `/refund-claims/cards/${encodeURIComponent(cardId)}`, body);
      } catch (error) {
        // A refused claim (bad details, refunds not open, a claim being paid) shows the page again
        // with why; nothing was stored.
        if (!(error instanceof RejectedError) || (error.code !== 'invalid_argument' && error.code !== 'failed_precondition')) throw error;
        const locale = sessionOf(request).locale;
        const problem = t(locale, error.code === 'invalid_argument' ? 'refund.invalid' : 'refund.refused');
        const claim = await claimOf(deps, token, cardId);
        return html(
          reply,
          holderClaimPage(pageContext(request), { cardId, claim, problem }),
          error.code === 'invalid_argument' ? 400 : 409,
        );
      }
      return reply.redirect(`/cards/${encodeURIComponent(cardId)}/refund?done=submitted`, 303);
    },
  );
}

function programOf(text: string | undefined): string {
  const program = (text ?? '').trim();
  if (program !== '' && !new RegExp(id_pattern).test(program)) throw invalidArgument('program must be a program id', { field: 'program' });
  return program;
}

function role(request: FastifyRequest): Role {
  return principalOf(request).grant.role as Role;
}

async function listingOf(deps: PortalDeps, token: string, program: string): Promise<{ claims: ClaimRow[]; runs: RunRow[] }> {
  if (program === '') return { claims: [], runs: [] };
  const listing = await deps.backend.report(token, `/refund-claims/programs/${encodeURIComponent(program)}`);
  const claims = ((listing['claims'] as Record<string, unknown>[] | undefined) ?? []).map(claimRowOf);
  const runs = ((listing['runs'] as Record<string, unknown>[] | undefined) ?? []).map((row): RunRow => ({
    id: text(row['id']),
    state: text(row['state']),
    proposed_by: text(row['proposed_by']),
    approved_by: text(row['approved_by']),
    paid_minor: Number(row['paid_minor'] ?? 0),
    claims: ((row['claims'] as unknown[] | undefined) ?? []).length,
    in_payout: Number(row['in_payout'] ?? 0),
  }));
  return { claims, runs };
}

function organizerRoutes(app: FastifyInstance, deps: PortalDeps): void {
  app.get<{ Querystring: { program?: string; done?: string; run?: string } }>(
    '/organizer/refunds',
    { config: { rule: 'portal.organizer.refunds' } },
    async (request, reply) => {
      const program = programOf(request.query.program);
      const { claims, runs } = await listingOf(deps, await tokenFor(request, deps), program);
      const locale = sessionOf(request).locale;
      const run = request.query.run ?? '';
      const done =
        (request.query.done === 'proposed' || request.query.done === 'approved') && run_pattern.test(run)
          ? t(locale, request.query.done === 'proposed' ? 'refund.proposed' : 'refund.approved', { id: run })
          : undefined;
      const may = {
        propose: role(request) === 'issuer_admin' && program !== '',
        approve: role(request) === 'settlement_approver',
        download: role(request) === 'issuer_admin' || role(request) === 'settlement_approver',
      };
      return html(reply, organizerRefundsPage(pageContext(request), { program, claims, runs, may, done }));
    },
  );
  app.post('/organizer/refunds/propose', { config: { rule: 'portal.organizer.refunds_propose' } }, async (request, reply) => {
    const program = programOf(field(request, 'program'));
    if (program === '') throw invalidArgument('program is required', { field: 'program' });
    const run = await postAction(
      deps.backend,
      await tokenFor(request, deps),
      `/refund-claims/programs/${encodeURIComponent(program)}/runs`,
      {},
    );
    const id = text(run['id']);
    return reply.redirect(`/organizer/refunds?program=${encodeURIComponent(program)}&done=proposed&run=${encodeURIComponent(id)}`, 303);
  });
  app.post('/organizer/refunds/approve', { config: { rule: 'portal.organizer.refunds_approve' } }, async (request, reply) => {
    const program = programOf(field(request, 'program'));
    const run = field(request, 'run');
    if (!run_pattern.test(run)) throw invalidArgument('run must be a refund run id', { field: 'run' });
    await postAction(deps.backend, await tokenFor(request, deps), `/refund-claims/runs/${encodeURIComponent(run)}/approve`, {});
    return reply.redirect(`/organizer/refunds?program=${encodeURIComponent(program)}&done=approved&run=${encodeURIComponent(run)}`, 303);
  });
  app.get<{ Params: { run: string } }>(
    '/organizer/refunds/runs/:run/pain.001',
    {
      config: { rule: 'portal.organizer.refunds_file' },
      schema: { params: { type: 'object', properties: { run: { type: 'string', pattern: run_pattern.source } }, required: ['run'] } },
    },
    async (request, reply) => {
      const run = request.params.run;
      const document = await openDocument(
        deps.backend,
        await tokenFor(request, deps),
        `/refund-claims/runs/${encodeURIComponent(run)}/pain.001`,
      );
      return reply
        .type('application/xml; charset=utf-8')
        .header('content-disposition', `attachment; filename="${run}.pain.001.xml"`)
        .send(document);
    },
  );
}

/** Registers the holder's claim page and the organizer's claims and payout runs. */
export function registerRefundClaimPages(app: FastifyInstance, deps: PortalDeps): void {
  holderRoutes(app, deps);
  organizerRoutes(app, deps);
}
