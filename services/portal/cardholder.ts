// The cardholder's pages beside the card page (pages.ts): a top-up the holder pays at the PSP, and
// the receipt of each transaction in the card's history (with its line items). Each acts as the holder: the node checks
// the card is the holder's own (StartPspTopUp is scoped to cards), the reports service the same for
// the history a receipt is read from.

import type { FastifyInstance } from 'fastify';
import { invalidArgument, notFound, RejectedError, unavailable } from '../../actors/errors';
import { minorOf } from './amounts';
import { formField, pageContext, sendPage, sessionOf, tokenOf, type PortalDeps } from './context';
import { formatMoney } from './i18n';
import { receiptPage, topUpReturnPage, topUpStartedPage, type ReceiptLine } from './cardholder-views';
import type { HistoryEntry } from './views';

/** History rows a card page shows (newest last, as the report orders them). */
export const history_rows_max = 200;

const id_pattern = '^[A-Za-z0-9._-]{1,64}$';
/** A transaction id as the node makes them ("<incarnation>-<counter>" in base 36), with room to spare. */
const transaction_pattern = '^[A-Za-z0-9._:~-]{1,128}$';
const card_params = { type: 'object', properties: { id: { type: 'string', pattern: id_pattern } }, required: ['id'] } as const;
const receipt_params = {
  type: 'object',
  properties: { id: { type: 'string', pattern: id_pattern }, txn: { type: 'string', pattern: transaction_pattern } },
  required: ['id', 'txn'],
} as const;
/** Schemes a PSP's checkout URL may have: the holder's browser is sent there, nowhere else. */
const checkout_protocols: ReadonlySet<string> = new Set(['https:', 'http:']);

/** Every entry of a card's history from the reports service (undefined when it cannot answer now). */
async function entriesOf(deps: PortalDeps, token: string, cardId: string): Promise<HistoryEntry[] | undefined> {
  try {
    const report = await deps.backend.report(token, `/reports/cards/${encodeURIComponent(cardId)}/history`);
    const entries = (report['entries'] as Record<string, string | number | null>[] | undefined) ?? [];
    return entries.map((entry) => ({
      at_ms: Number(entry['at_ms'] ?? 0),
      kind: String(entry['type'] ?? entry['entry'] ?? ''),
      amount_minor: Number(entry['amount_minor'] ?? 0),
      currency: String(entry['currency'] ?? 'EUR') || 'EUR',
      where: String(entry['merchant'] ?? ''),
      id: String(entry['id'] ?? ''),
      transaction: entry['entry'] === 'transaction',
      outcome: String(entry['outcome'] ?? ''),
      terminal: String(entry['terminal'] ?? ''),
      balance_after_minor: entry['balance_after_minor'] === null ? undefined : Number(entry['balance_after_minor'] ?? 0),
    }));
  } catch (error) {
    if (error instanceof RejectedError && error.code !== 'not_found') throw error;
    return error instanceof RejectedError ? [] : undefined;
  }
}

/** A transaction's line items, read as its card (none without a basket; undefined when the reports service cannot answer now). */
async function linesOf(deps: PortalDeps, token: string, cardId: string, transaction: string): Promise<ReceiptLine[] | undefined> {
  try {
    const path = `/reports/cards/${encodeURIComponent(cardId)}/transactions/${encodeURIComponent(transaction)}/lines`;
    const lines = ((await deps.backend.report(token, path))['lines'] as Record<string, string | number>[] | undefined) ?? [];
    return lines.map((line) => ({
      product: String(line['code'] ?? ''),
      qty_milli: Number(line['qty_milli'] ?? 0),
      unit_minor: Number(line['unit_minor'] ?? 0),
      amount_minor: Number(line['amount_minor'] ?? 0),
    }));
  } catch (error) {
    if (error instanceof RejectedError && error.code !== 'not_found') throw error;
    return error instanceof RejectedError ? [] : undefined;
  }
}

/** The newest entries of a card's history a card page shows, or undefined when it cannot answer now. */
export async function historyOf(deps: PortalDeps, token: string, cardId: string): Promise<HistoryEntry[] | undefined> {
  return (await entriesOf(deps, token, cardId))?.slice(-history_rows_max);
}

function topUpRoute(app: FastifyInstance, deps: PortalDeps): void {
  app.post<{ Params: { id: string } }>(
    '/cards/:id/top-up',
    { config: { rule: 'portal.card.top_up' }, schema: { params: card_params } },
    async (request, reply) => {
      const amountMinor = minorOf(formField(request, 'amount'), 'amount') ?? 0n;
      if (amountMinor <= 0n) throw invalidArgument('amount must be more than 0', { field: 'amount' });
      const token = await tokenOf(request, deps);
      const card = await deps.backend.card(token, request.params.id);
      const currency = card.balance?.currency ?? 'EUR';
      const started = await deps.backend.startPspTopUp(token, card.cardId, amountMinor, currency);
      const checkout = URL.canParse(started.paymentUrl) ? new URL(started.paymentUrl) : undefined;
      if (checkout === undefined || !checkout_protocols.has(checkout.protocol))
        throw unavailable('the PSP answered no checkout address', { reference: started.pspReference });
      // The holder follows a link to the checkout: the portal's forms post only to the portal
      // (form-action 'self'), and starting a payment moves nothing until the PSP reports it paid.
      const amount = formatMoney(sessionOf(request).locale, amountMinor, currency);
      return sendPage(reply, topUpStartedPage(pageContext(request), { cardId: card.cardId, amount, checkout: checkout.href }));
    },
  );
}

function receiptRoute(app: FastifyInstance, deps: PortalDeps): void {
  app.get<{ Params: { id: string; txn: string } }>(
    '/cards/:id/receipts/:txn',
    { config: { rule: 'portal.card.receipt' }, schema: { params: receipt_params } },
    async (request, reply) => {
      const { id, txn } = request.params;
      const token = await tokenOf(request, deps);
      const entries = await entriesOf(deps, token, id);
      if (entries === undefined) throw unavailable('the card history cannot be read now');
      // Only a transaction of this card's own history: another card's id here is simply not found.
      const entry = entries.find((candidate) => candidate.transaction && candidate.id === txn);
      if (entry === undefined) throw notFound('no such transaction on this card', { card: id });
      return sendPage(reply, receiptPage(pageContext(request), id, entry, await linesOf(deps, token, id, txn)));
    },
  );
}

/**
 * Where the PSP sends the holder back after paying (TAPLINE_PSP_REDIRECT_URL names it). Public: the
 * session cookie is SameSite=Strict, so a navigation coming from the PSP's site arrives without it;
 * the page's link back to the card is a navigation from the portal itself, which carries it again.
 */
function returnRoute(app: FastifyInstance): void {
  app.get('/top-up/return', { config: { rule: 'portal.top_up_return' } }, async (request, reply) =>
    sendPage(reply, topUpReturnPage(pageContext(request))),
  );
}

/** Registers the cardholder's top-up and receipt pages. */
export function registerCardholderPages(app: FastifyInstance, deps: PortalDeps): void {
  topUpRoute(app, deps);
  returnRoute(app);
  receiptRoute(app, deps);
}
