// The organizer's and issuer's routes beyond the live figures: the audit log, read as the person
// (an auditor) from the reports service, filtered and paged; and the four-eyes approval of a
// merchant's settlement batch: an issuer proposes (computes) it, the reports service holds it in
// the "computed" state, and a settlement approver who is a different person approves it. The
// reports service refuses an approval by the batch's proposer whatever the approver's role, so
// the portal cannot be the way around it.

import type { FastifyInstance, FastifyRequest } from 'fastify';
import { invalidArgument, RejectedError } from '../../actors/errors';
import type { Role } from '../common/auth/policy';
import { pageContext, sessionOf, type PortalDeps } from './context';
import { t } from './i18n';
import { auditPage, denylistPage, settlementPage, type AuditRow, type BatchRow } from './organizer-views';
import type { ListDenylistRequest, ListDenylistResponse } from '../../gen/tapline/v1/offline';
import { field, html, id_pattern, principalOf, tokenFor } from './routing';
import { postAction } from './passthrough';

/** Audit records one page shows. */
export const audit_page_rows = 25;
const date_pattern = /^\d{4}-\d{2}-\d{2}$/;
/** A principal as the audit trail names it (a token subject). */
const principal_pattern = /^[A-Za-z0-9._@:+-]{1,128}$/;
const action_pattern = /^[A-Za-z0-9._:-]{0,64}$/;
const batch_pattern = /^[A-Za-z0-9._-]{1,160}$/;

interface AuditQuery {
  from?: string;
  to?: string;
  principal?: string;
  action?: string;
  page?: string;
}

function auditFilterOf(query: AuditQuery, now_ms: number) {
  const today = new Date(now_ms).toISOString().slice(0, 10);
  const filter = {
    from: (query.from ?? '').trim() || today,
    to: (query.to ?? '').trim() || today,
    principal: (query.principal ?? '').trim(),
    action: (query.action ?? '').trim(),
  };
  if (!date_pattern.test(filter.from) || !date_pattern.test(filter.to)) throw invalidArgument('from and to must be dates (YYYY-MM-DD)');
  if (filter.principal !== '' && !principal_pattern.test(filter.principal)) throw invalidArgument('principal is not a principal');
  if (!action_pattern.test(filter.action)) throw invalidArgument('action is not an action name');
  const page = Number(query.page ?? '1');
  if (!Number.isSafeInteger(page) || page < 1 || page > 100_000) throw invalidArgument('page must be a page number');
  return { filter, page };
}

function auditLink(filter: Record<string, string>, page: number): string {
  const query = new URLSearchParams({ ...filter, page: String(page) });
  return `/organizer/audit?${query.toString()}`;
}

function auditRoute(app: FastifyInstance, deps: PortalDeps): void {
  app.get<{ Querystring: AuditQuery }>('/organizer/audit', { config: { rule: 'portal.organizer.audit' } }, async (request, reply) => {
    const { filter, page } = auditFilterOf(request.query, deps.clock());
    const principal = filter.principal === '' ? '' : `&principal=${encodeURIComponent(filter.principal)}`;
    const report = await deps.backend.report(
      await tokenFor(request, deps),
      `/reports/audit?from=${filter.from}&to=${filter.to}${principal}`,
    );
    const records = ((report['records'] as Record<string, string | number>[] | undefined) ?? [])
      .map((row): AuditRow => ({
        at: String(row['at'] ?? ''),
        principal: String(row['principal'] ?? ''),
        role: String(row['role'] ?? ''),
        action: String(row['action'] ?? ''),
        subject: String(row['subject'] ?? ''),
        approver: String(row['approver'] ?? ''),
      }))
      .filter((row) => filter.action === '' || row.action.includes(filter.action));
    // Newest first: an auditor usually looks for what just happened.
    records.reverse();
    const first = (page - 1) * audit_page_rows;
    const rows = records.slice(first, first + audit_page_rows);
    return html(
      reply,
      auditPage(pageContext(request), {
        filter,
        rows,
        first,
        count: records.length,
        previous: page > 1 ? auditLink(filter, page - 1) : undefined,
        next: first + audit_page_rows < records.length ? auditLink(filter, page + 1) : undefined,
      }),
    );
  });
}

function merchantOf(text: string): string {
  if (!new RegExp(id_pattern).test(text)) throw invalidArgument('merchant must be a merchant id', { field: 'merchant' });
  return text;
}

function role(request: FastifyRequest): Role {
  return principalOf(request).grant.role as Role;
}

async function batchesOf(deps: PortalDeps, token: string, merchant: string): Promise<BatchRow[] | undefined> {
  try {
    const listing = await deps.backend.report(token, `/settlement/merchants/${encodeURIComponent(merchant)}/batches`);
    return ((listing['batches'] as Record<string, string | number>[] | undefined) ?? []).map((row) => ({
      id: String(row['id'] ?? ''),
      period_from: String(row['period_from'] ?? ''),
      period_to: String(row['period_to'] ?? ''),
      state: String(row['state'] ?? ''),
      computed_by: String(row['computed_by'] ?? ''),
      approved_by: String(row['approved_by'] ?? ''),
      net: ((row['net'] as unknown as Record<string, string | number>[] | undefined) ?? []).map((line) => ({
        currency: String(line['currency'] ?? 'EUR'),
        net_minor: Number(line['net_minor'] ?? 0),
      })),
    }));
  } catch (error) {
    if (error instanceof RejectedError && error.code === 'not_found') return undefined;
    throw error;
  }
}

function settlementRoutes(app: FastifyInstance, deps: PortalDeps): void {
  app.get<{ Querystring: { merchant?: string; done?: string; batch?: string } }>(
    '/organizer/settlement',
    { config: { rule: 'portal.organizer.settlement' } },
    async (request, reply) => {
      const text = (request.query.merchant ?? '').trim();
      const merchant = text === '' ? '' : merchantOf(text);
      const batches = merchant === '' ? undefined : await batchesOf(deps, await tokenFor(request, deps), merchant);
      const locale = sessionOf(request).locale;
      const batch = (request.query.batch ?? '').slice(0, 160);
      const { done } = request.query;
      const shown =
        done === 'proposed' || done === 'approved'
          ? t(locale, done === 'proposed' ? 'settlement.proposed' : 'settlement.approved', { id: batch })
          : undefined;
      const may = { propose: role(request) === 'issuer_admin', approve: role(request) === 'settlement_approver' };
      return html(reply, settlementPage(pageContext(request), { merchant, batches, may, done: shown }));
    },
  );
  app.post('/organizer/settlement/propose', { config: { rule: 'portal.organizer.settlement_propose' } }, async (request, reply) => {
    const merchant = merchantOf(field(request, 'merchant'));
    const date = field(request, 'date');
    if (!date_pattern.test(date)) throw invalidArgument('date must be a date (YYYY-MM-DD)', { field: 'date' });
    const batch = await postAction(
      deps.backend,
      await tokenFor(request, deps),
      `/settlement/merchants/${encodeURIComponent(merchant)}/batches`,
      {
        date,
      },
    );
    const id = encodeURIComponent(String((batch as Record<string, string | number | undefined>)['id'] ?? ''));
    return reply.redirect(`/organizer/settlement?merchant=${encodeURIComponent(merchant)}&done=proposed&batch=${id}`, 303);
  });
  app.post('/organizer/settlement/approve', { config: { rule: 'portal.organizer.settlement_approve' } }, async (request, reply) => {
    const merchant = merchantOf(field(request, 'merchant'));
    const batch = field(request, 'batch');
    if (!batch_pattern.test(batch)) throw invalidArgument('batch must be a batch id', { field: 'batch' });
    // The reports service refuses (403) an approval by the person who proposed the batch.
    await postAction(deps.backend, await tokenFor(request, deps), `/settlement/batches/${encodeURIComponent(batch)}/approve`, {});
    return reply.redirect(
      `/organizer/settlement?merchant=${encodeURIComponent(merchant)}&done=approved&batch=${encodeURIComponent(batch)}`,
      303,
    );
  });
}

/** Denylist entries one page shows (the node pages shard after shard). */
export const denylist_page_rows = 100;
const denylist_token_pattern = /^s:[0-9]{1,6}:[0-9]{1,20}:(?:x|[0-9]{1,16})$/;

function denylistRoute(app: FastifyInstance, deps: PortalDeps): void {
  app.get<{ Querystring: { page?: string } }>(
    '/organizer/denylist',
    { config: { rule: 'portal.organizer.denylist' } },
    async (request, reply) => {
      const pageToken = request.query.page ?? '';
      if (pageToken !== '' && !denylist_token_pattern.test(pageToken)) throw invalidArgument('page is not a denylist page');
      const answer = await deps.backend.call<ListDenylistRequest, ListDenylistResponse>(
        deps.backend.offline.listDenylist.bind(deps.backend.offline),
        { pageSize: denylist_page_rows, pageToken },
        await tokenFor(request, deps),
      );
      return html(
        reply,
        denylistPage(pageContext(request), {
          entries: answer.entries.map((entry) => ({ card: entry.cardId, reason: entry.reason })),
          version: answer.version.toString(),
          next: answer.nextPageToken === '' ? undefined : `/organizer/denylist?page=${encodeURIComponent(answer.nextPageToken)}`,
        }),
      );
    },
  );
}

export function registerOrganizerRoutes(app: FastifyInstance, deps: PortalDeps): void {
  auditRoute(app, deps);
  settlementRoutes(app, deps);
  denylistRoute(app, deps);
}
