// The merchant's pages beside its start page (pages.ts): its terminals listed with their status,
// when each was last seen and a switch per row, the people who may act for it in the portal, and its settlement statements
// with their payout state. Each reads as the signed-in person: the node lists only the terminals
// of the person's own merchants and refuses a terminal of another; the reports service the same
// for settlement batches.

import type { FastifyInstance } from 'fastify';
import { invalidArgument, RejectedError } from '../../actors/errors';
import { formField, pageContext, sendPage, sessionOf, tokenOf, type PortalDeps } from './context';
import { formatMoney, t } from './i18n';
import { managersPage, settlementPage, terminalsPage, type StatementRow } from './merchant-views';

/** Terminals a merchant's list shows (a festival bar has a handful, a chain a few hundred). */
export const merchant_terminals_max = 1_000;
/** Settlement statements a page shows (newest first). */
export const statements_max = 100;

const id_pattern = '^[A-Za-z0-9._-]{1,64}$';
const merchant_params = { type: 'object', properties: { id: { type: 'string', pattern: id_pattern } }, required: ['id'] } as const;

/**
 * When each of the merchant's terminals was last seen (its latest transaction, from the reports
 * service: nothing is written for it when a terminal sells), or undefined when it cannot answer now.
 */
async function lastSeenOf(deps: PortalDeps, token: string, merchantId: string): Promise<ReadonlyMap<string, number> | undefined> {
  try {
    const answer = await deps.backend.report(token, `/reports/merchants/${encodeURIComponent(merchantId)}/terminals`);
    const rows = (answer['terminals'] as { terminal?: string; last_at_ms?: number }[] | undefined) ?? [];
    return new Map(rows.map((row) => [String(row.terminal ?? ''), Number(row.last_at_ms ?? 0)]));
  } catch (error) {
    if (error instanceof RejectedError && error.code !== 'not_found') throw error;
    return undefined;
  }
}

function terminalRoutes(app: FastifyInstance, deps: PortalDeps): void {
  const schema = { params: merchant_params };
  app.get<{ Params: { id: string }; Querystring: { terminal?: string; done?: string } }>(
    '/merchants/:id/terminals',
    { config: { rule: 'portal.merchant.terminals' }, schema },
    async (request, reply) => {
      const token = await tokenOf(request, deps);
      const [terminals, lastSeen] = await Promise.all([
        deps.backend.merchantTerminals(token, request.params.id, merchant_terminals_max),
        lastSeenOf(deps, token, request.params.id),
      ]);
      const locale = sessionOf(request).locale;
      const { terminal, done } = request.query;
      const shown =
        terminal === undefined || (done !== 'enabled' && done !== 'disabled')
          ? undefined
          : t(locale, 'merchant.terminal.saved', { id: terminal.slice(0, 64), state: t(locale, `merchant.${done}`) });
      return sendPage(reply, terminalsPage(pageContext(request), { merchantId: request.params.id, terminals, lastSeen, done: shown }));
    },
  );
  app.post<{ Params: { id: string } }>(
    '/merchants/:id/terminals/switch',
    { config: { rule: 'portal.merchant.terminals.switch' }, schema },
    async (request, reply) => {
      const terminal = formField(request, 'terminal');
      if (!new RegExp(id_pattern).test(terminal)) throw invalidArgument('terminal must be a terminal id', { field: 'terminal' });
      const enabled = formField(request, 'enabled') === '1';
      // The node checks that the terminal belongs to one of the person's merchants.
      await deps.backend.setTerminalEnabled(await tokenOf(request, deps), terminal, enabled);
      const done = enabled ? 'enabled' : 'disabled';
      const back = `/merchants/${encodeURIComponent(request.params.id)}/terminals`;
      return reply.redirect(`${back}?terminal=${encodeURIComponent(terminal)}&done=${done}`, 303);
    },
  );
}

/** A settlement batch as the reports service lists it. */
interface Batch {
  readonly id?: string;
  readonly period_from?: string;
  readonly period_to?: string;
  readonly state?: string;
  readonly net?: readonly { readonly currency?: string; readonly net_minor?: number }[];
}

/** The merchant's settlement batches, newest first, or undefined when settlement is not served. */
async function statementsOf(deps: PortalDeps, token: string, merchantId: string, locale: 'en' | 'nl'): Promise<StatementRow[] | undefined> {
  try {
    const answer = await deps.backend.report(token, `/settlement/merchants/${encodeURIComponent(merchantId)}/batches`);
    const batches = (answer['batches'] as Batch[] | undefined) ?? [];
    return batches
      .map((batch) => ({
        id: String(batch.id ?? ''),
        from: String(batch.period_from ?? ''),
        to: String(batch.period_to ?? ''),
        state: String(batch.state ?? ''),
        net: (batch.net ?? []).map((line) => formatMoney(locale, Number(line.net_minor ?? 0), String(line.currency ?? 'EUR'))).join(', '),
      }))
      .sort((a, b) => b.from.localeCompare(a.from))
      .slice(0, statements_max);
  } catch (error) {
    if (error instanceof RejectedError && error.code !== 'not_found') throw error;
    return undefined;
  }
}

function settlementRoutes(app: FastifyInstance, deps: PortalDeps): void {
  const schema = { params: merchant_params };
  app.get<{ Params: { id: string } }>(
    '/merchants/:id/settlement',
    { config: { rule: 'portal.merchant.settlement' }, schema },
    async (request, reply) => {
      const locale = sessionOf(request).locale;
      const statements = await statementsOf(deps, await tokenOf(request, deps), request.params.id, locale);
      return sendPage(reply, settlementPage(pageContext(request), request.params.id, statements));
    },
  );
  // Who may act for the merchant: the portal's own accounts (an identity provider's would be its own list).
  app.get<{ Params: { id: string } }>(
    '/merchants/:id/managers',
    { config: { rule: 'portal.merchant.managers' }, schema },
    async (request, reply) =>
      sendPage(reply, managersPage(pageContext(request), request.params.id, deps.staff.merchantAdminsOf(request.params.id))),
  );
}

/** Registers the merchant's terminal list, managers and settlement pages. */
export function registerMerchantPages(app: FastifyInstance, deps: PortalDeps): void {
  terminalRoutes(app, deps);
  settlementRoutes(app, deps);
}
