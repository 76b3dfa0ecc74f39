// Merchant settlement over HTTP: fee rates and cycle per merchant, batches computed from
// ClickHouse (exact, FINAL views), approved and marked settled in Redis (settlement-store.ts), and
// the bank-transfer CSV of an approved batch. The rules are in settlement-rules.ts; this file
// routes, validates and orchestrates.
//
//   PUT  /settlement/merchants/<merchant>                 body {cycle, payee_name, payee_iban, rates}
//                                                         a new payee account is only proposed (202):
//   POST /settlement/merchants/<merchant>/payee/approve   body {payee_iban?}: another settlement approver applies it
//   GET  /settlement/merchants/<merchant>
//   POST /settlement/merchants/<merchant>/batches         body {date: YYYY-MM-DD}: the batch of the period containing date
//   GET  /settlement/merchants/<merchant>/batches         the merchant's batches: id, period, state, net per currency
//   GET  /settlement/batches/<batchId>
//   POST /settlement/batches/<batchId>/approve            body {digest?}: computed → approved, by another principal
//   POST /settlement/batches/<batchId>/settle             body {reference?}: approved → settled
//   GET  /settlement/batches/<batchId>/transfer.csv       the bank file (approved or settled batches only)
//   GET  /settlement/batches/<batchId>/files/<format>     the bank file in a format of bank-files/writers.ts (csv, pain.001)
//   PUT  /settlement/campaigns/<campaignId>               body {program, opens, deadline}: a refund campaign (breakage.ts)
//   GET  /settlement/campaigns/<campaignId>
// Who acts is the caller's token subject (services/common/auth: the route's rule in policy.ts);
// every change writes its audit record in the same Redis script (settlement-store.ts).

import { createHash } from 'node:crypto';
import { auditRecord } from '../../actors/outbox/builders';
import type { Acting } from '../../actors/principal';
import { ParameterError, ReportNotFoundError, ReportTooLargeError, SettlementConflictError, SettlementForbiddenError } from './errors';
import { id_pattern, settlement_batch_id_pattern } from '../common/ids';
import { entityId, parseDate, type DateRange } from './params';
import { report_rows_max, settlementAggregatesSql } from './queries';
import { bounded, int, text, type QueryRunner, type Report, type ReportContext } from './reports';
import {
  batchId,
  parseMerchantConfig,
  periodOf,
  settlementLines,
  type FeeRate,
  type MerchantSettlementConfig,
  type SettlementLine,
  type SettlementPeriod,
  type TerminalDeployer,
} from './settlement-rules';
import { bankFileWriter } from './bank-files/writers';
import { campaignRequest } from './breakage';
import type { SepaDebtor } from './bank-files/pain001';
import type { SettlementStore, StoredBatch } from './settlement-store';

export interface SettlementContext {
  readonly query: QueryRunner;
  readonly database: string;
  readonly store: SettlementStore;
  readonly now: () => number;
  /** The operator's account, debtor of SEPA files; without it pain.001 files are refused (409). */
  readonly debtor?: SepaDebtor;
}

/** The computed content of a batch (the `d` of its Redis hash): what approval freezes. */
export interface BatchContent {
  readonly id: string;
  readonly merchant: string;
  readonly period: SettlementPeriod;
  readonly payee_name: string;
  readonly payee_iban: string;
  readonly rates: readonly FeeRate[];
  /** The terminal deployer paid its share of the fees, as configured when computed. */
  readonly deployer?: TerminalDeployer;
  readonly lines: readonly SettlementLine[];
  readonly computed_by: string;
  readonly computed_at_ms: number;
}

export interface HttpAnswer {
  readonly status: number;
  readonly type: string;
  readonly body: string;
  readonly headers?: Record<string, string>;
}

/** Batches one listing returns (ten years of daily batches); past it the answer is 413. */
export const batches_listed_max = 4_000;

/** Merchants one settlement run computes; more are refused (413) rather than half-done silently. */
export const run_merchants_max = 2_000;

/** Request bodies are small JSON objects. */
export const settlement_body_bytes_max = 16_384;

const json = (status: number, value: unknown): HttpAnswer => ({ status, type: 'application/json', body: JSON.stringify(value) });

function parseBody(body: string): Record<string, unknown> {
  if (body.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    throw new ParameterError('body', 'is not JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ParameterError('body', 'must be a JSON object');
  return value as Record<string, unknown>;
}

function onlyFields(body: Record<string, unknown>, allowed: readonly string[]): void {
  for (const name of Object.keys(body))
    if (!allowed.includes(name))
      throw new ParameterError(id_pattern.test(name) ? name : 'body', `unknown field; allowed: ${allowed.join(', ') || 'none'}`);
}

function batchView(stored: StoredBatch, changed: boolean): Record<string, unknown> {
  const content = JSON.parse(stored.d) as BatchContent;
  return {
    ...content,
    digest: stored.digest,
    state: stored.state,
    changed,
    approved_by: stored.approved_by,
    approved_at_ms: stored.approved_at_ms,
    settled_by: stored.settled_by,
    settled_at_ms: stored.settled_at_ms,
    reference: stored.reference,
  };
}

async function stored(context: SettlementContext, id: string): Promise<StoredBatch> {
  const batch = await context.store.batch(id);
  if (batch === undefined) throw new ReportNotFoundError('no such settlement batch', { batch: id });
  return batch;
}

/** What a merchant earned and was charged over any date range at its current rates (a report: nothing is stored). */
export async function merchantFeesReport(context: ReportContext, merchant: string, range: DateRange): Promise<Report> {
  if (context.settlement === undefined) throw new ReportNotFoundError('settlement is not served here');
  const config = await context.settlement.config(merchant);
  if (config === undefined) throw new ReportNotFoundError('the merchant has no settlement configuration', { merchant });
  const rows = await bounded(context, settlementAggregatesSql(context.database, merchant, range.from_ms, range.until_ms));
  const lines = settlementLines(
    rows.map((row) => ({
      currency: text(row, 'currency'),
      kind: text(row, 'kind'),
      amount_minor: int(row, 'amount_minor'),
      count: int(row, 'count'),
      delta_minor: int(row, 'delta_minor'),
    })),
    config.rates,
    config.deployer?.share_bp ?? 0,
  );
  return {
    report: 'merchant_fees',
    parameters: { merchant, from: range.from, to: range.to },
    sections: {
      currencies: {
        columns: [
          'currency',
          'purchases',
          'gross_minor',
          'reversals',
          'reversals_minor',
          'refunds',
          'refunds_minor',
          'fees_minor',
          'top_ups',
          'top_ups_minor',
          'top_up_commission_minor',
          'deployer_share_minor',
          'net_minor',
        ],
        rows: lines.map((line) => ({ ...line })),
      },
      rates: { columns: ['kind', 'percent_bp', 'fixed_minor'], rows: config.rates.map((rate) => ({ ...rate })) },
    },
  };
}

/** Computes (or, once approved, returns unchanged) the batch of the merchant's period containing `date`. */
export async function computeBatch(
  context: SettlementContext,
  merchant: string,
  date: string,
  acting: Acting,
): Promise<Record<string, unknown>> {
  const config = await context.store.config(merchant);
  if (config === undefined) throw new ReportNotFoundError('the merchant has no settlement configuration', { merchant });
  if (config.payee_iban === '')
    throw new SettlementConflictError('the merchant has no approved payee account yet (a settlement approver approves it)', { merchant });
  const period = periodOf(config.cycle, parseDate('date', date));
  const id = batchId(merchant, period);
  const existing = await context.store.batch(id);
  if (existing !== undefined && existing.state !== 'computed') return batchView(existing, false);
  const now_ms = context.now();
  if (period.until_ms > now_ms) throw new SettlementConflictError('the period has not ended', { batch: id, period_to: period.to });
  const rows = await context.query(settlementAggregatesSql(context.database, merchant, period.from_ms, period.until_ms));
  if (rows.length > report_rows_max)
    throw new ReportTooLargeError('too many distinct amounts in one period', { rows_max: report_rows_max });
  const lines = settlementLines(
    rows.map((row) => ({
      currency: text(row, 'currency'),
      kind: text(row, 'kind'),
      amount_minor: int(row, 'amount_minor'),
      count: int(row, 'count'),
      delta_minor: int(row, 'delta_minor'),
    })),
    config.rates,
    config.deployer?.share_bp ?? 0,
  );
  const content: BatchContent = {
    id,
    merchant,
    period,
    payee_name: config.payee_name,
    payee_iban: config.payee_iban,
    rates: config.rates,
    ...(config.deployer === undefined ? {} : { deployer: config.deployer }),
    lines,
    computed_by: acting.subject,
    computed_at_ms: now_ms,
  };
  const d = JSON.stringify(content);
  const digest = createHash('sha256').update(d).digest('hex');
  const audit = auditRecord({
    actor: acting,
    changes: [
      {
        entity: `settlement-batch:${id}`,
        before: existing === undefined ? undefined : { digest: existing.digest },
        after: { state: 'computed', digest },
      },
    ],
    at: now_ms,
  });
  const result = await context.store.compute(id, d, digest, audit);
  return batchView(await stored(context, id), result === 'changed');
}

/** The route of a settlement request (its name in policy.ts http_rules) and its path parameters, or undefined. */
export function settlementRouteOf(method: string, path: string): { name: string; params: string[] } | undefined {
  const [collection, rawId, action, extra, beyond] = path.split('?')[0]?.split('/').slice(2) ?? [];
  if (beyond !== undefined) return undefined;
  const id = rawId === undefined ? undefined : safeDecode(rawId);
  const write = method === 'PUT' || method === 'POST';
  if (collection === 'merchants' && id !== undefined) {
    if (action === undefined) return { name: method === 'PUT' ? 'settlement.merchant.put' : 'settlement.merchant.get', params: [id] };
    if (action === 'batches' && extra === undefined)
      return { name: write ? 'settlement.batches.compute' : 'settlement.batches.list', params: [id] };
    if (action === 'payee' && extra === 'approve') return { name: 'settlement.payee.approve', params: [id] };
    return undefined;
  }
  if (collection === 'runs' && rawId === undefined) return { name: 'settlement.runs', params: [] };
  if (collection === 'campaigns' && id !== undefined && action === undefined)
    return { name: method === 'PUT' ? 'settlement.campaign.put' : 'settlement.campaign.get', params: [id] };
  if (collection !== 'batches' || id === undefined) return undefined;
  if (action === 'files' && extra !== undefined && !write) return { name: 'settlement.batch.files', params: [id] };
  if (extra !== undefined) return undefined;
  const names: Record<string, string> = {
    approve: 'settlement.batch.approve',
    settle: 'settlement.batch.settle',
    'transfer.csv': 'settlement.batch.transfer',
  };
  return action === undefined
    ? { name: 'settlement.batch.get', params: [id] }
    : names[action] === undefined
      ? undefined
      : { name: names[action], params: [id] };
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/**
 * Routes one settlement request (path below /settlement/), made by `acting` (the caller the
 * access check authenticated). Throws ParameterError, ReportNotFoundError, SettlementConflictError,
 * SettlementForbiddenError.
 */
export async function settlementRequest(
  context: SettlementContext,
  method: string,
  path: string,
  acting: Acting | undefined,
  body: string,
): Promise<HttpAnswer> {
  const segments = path.split('/').slice(2); // '', 'settlement', ...
  const write = method === 'PUT' || method === 'POST';
  if (!write && method !== 'GET' && method !== 'HEAD')
    return json(405, { error: { code: 'method_not_allowed', message: 'GET, PUT or POST' } });
  if (write && acting === undefined) throw new Error('assertion: a settlement change without its caller');
  const request: SettlementCall = { context, method, write, acting: acting as Acting, body };
  const [collection, rawId, action, extra, beyond] = segments;
  const payeeApproval = collection === 'merchants' && action === 'payee' && extra === 'approve' && method === 'POST';
  if (beyond !== undefined || (extra !== undefined && action !== 'files' && !payeeApproval))
    throw new ReportNotFoundError('no such settlement resource', {});
  const answer = payeeApproval
    ? await approvePayee(request, entityId('merchantId', rawId ?? ''))
    : collection === 'merchants' && rawId !== undefined
      ? await merchantRequest(request, entityId('merchantId', rawId), action)
      : collection === 'runs' && rawId === undefined && method === 'POST'
        ? await runRequest(request)
        : collection === 'batches' && rawId !== undefined
          ? await batchRequest(request, batchIdOf(rawId), action, extra)
          : collection === 'campaigns' && rawId !== undefined && action === undefined
            ? await campaignRequest(context.store, method, entityId('campaignId', rawId), request.acting, body, context.now())
            : undefined;
  if (answer === undefined) throw new ReportNotFoundError('no such settlement resource', {});
  return answer;
}

/** One settlement call, as its handlers need it. */
interface SettlementCall {
  readonly context: SettlementContext;
  readonly method: string;
  readonly write: boolean;
  /** Who acts (set for every write). */
  readonly acting: Acting;
  readonly body: string;
}

/** /settlement/merchants/<merchant>[/batches]: a merchant's configuration and its batches. */
async function merchantRequest(call: SettlementCall, merchant: string, action: string | undefined): Promise<HttpAnswer | undefined> {
  const { context, method, write, acting, body } = call;
  if (action === undefined && method === 'PUT') return putConfig(call, merchant);
  if (action === undefined && !write) {
    const config = await context.store.config(merchant);
    if (config === undefined) throw new ReportNotFoundError('the merchant has no settlement configuration', { merchant });
    return json(200, config);
  }
  if (action === 'batches' && !write) {
    const ids = (await context.store.batchIds(merchant, batches_listed_max)).filter(
      (id) => settlement_batch_id_pattern.exec(id)?.[1] === merchant,
    );
    if (ids.length > batches_listed_max) throw new ReportTooLargeError('more batches than one listing carries', { batches_listed_max });
    const batches: Record<string, unknown>[] = [];
    for (const id of ids) {
      const batch = await context.store.batch(id);
      if (batch === undefined) continue;
      const content = JSON.parse(batch.d) as BatchContent;
      batches.push({
        id,
        period_from: content.period.from,
        period_to: content.period.to,
        state: batch.state,
        // Who proposed it and who approved it: the four eyes a reviewer checks at a glance.
        computed_by: content.computed_by,
        approved_by: batch.approved_by,
        net: content.lines.map((line) => ({ currency: line.currency, net_minor: line.net_minor })),
      });
    }
    return json(200, { merchant, batches });
  }
  if (action === 'batches' && method === 'POST') {
    const fields = parseBody(body);
    onlyFields(fields, ['date']);
    if (typeof fields['date'] !== 'string') throw new ParameterError('date', 'is required: YYYY-MM-DD');
    const view = await computeBatch(context, merchant, fields['date'], acting);
    return json(view['changed'] === true ? 201 : 200, view);
  }
  return undefined;
}

/**
 * PUT of a merchant's configuration. Rates and cycle take effect at once; a payee account that
 * differs from the approved one (or the first one) is only proposed: the approved account stays in
 * use until a settlement approver other than the proposer approves it (202 Accepted).
 */
async function putConfig({ context, acting, body }: SettlementCall, merchant: string): Promise<HttpAnswer> {
  const now_ms = context.now();
  const proposed = parseMerchantConfig(merchant, parseBody(body), acting.subject, now_ms);
  const expected = await context.store.configText(merchant);
  const current = expected === '' ? undefined : (JSON.parse(expected) as MerchantSettlementConfig);
  const payeeChanged = current === undefined || current.payee_iban !== proposed.payee_iban || current.payee_name !== proposed.payee_name;
  const pending = payeeChanged
    ? { payee_name: proposed.payee_name, payee_iban: proposed.payee_iban, proposed_by: acting.subject, proposed_at_ms: now_ms }
    : current.pending_payee;
  const next: MerchantSettlementConfig = {
    ...proposed,
    payee_name: current?.payee_name ?? '',
    payee_iban: current?.payee_iban ?? '',
    ...(current?.payee_approved_by === undefined ? {} : { payee_approved_by: current.payee_approved_by }),
    ...(pending === undefined ? {} : { pending_payee: pending }),
  };
  await writeConfig(context, acting, merchant, expected, current, next);
  return json(payeeChanged ? 202 : 200, next);
}

/** POST .../payee/approve: applies the proposed payee account; never by its proposer. */
async function approvePayee({ context, acting, body }: SettlementCall, merchant: string): Promise<HttpAnswer> {
  const fields = parseBody(body);
  onlyFields(fields, ['payee_iban']);
  const expected = await context.store.configText(merchant);
  if (expected === '') throw new ReportNotFoundError('the merchant has no settlement configuration', { merchant });
  const current = JSON.parse(expected) as MerchantSettlementConfig;
  const pending = current.pending_payee;
  if (pending === undefined) throw new SettlementConflictError('no payee account change is pending', { merchant });
  if (fields['payee_iban'] !== undefined && fields['payee_iban'] !== pending.payee_iban)
    throw new SettlementConflictError('the pending payee account is not the one you read; read it again', { merchant });
  if (pending.proposed_by === acting.subject)
    throw new SettlementForbiddenError('four eyes: the principal that proposed a payee account cannot approve it', { merchant });
  // The approved account replaces the pending one: pending_payee is left out of the next config.
  const rest: { -readonly [K in keyof MerchantSettlementConfig]: MerchantSettlementConfig[K] } = { ...current };
  delete rest.pending_payee;
  const next: MerchantSettlementConfig = {
    ...rest,
    payee_name: pending.payee_name,
    payee_iban: pending.payee_iban,
    payee_approved_by: acting.subject,
    updated_at_ms: context.now(),
  };
  await writeConfig(context, acting, merchant, expected, current, next);
  return json(200, next);
}

/** Writes a configuration read as `expected` with its audit record; 409 when it changed since. */
async function writeConfig(
  context: SettlementContext,
  acting: Acting,
  merchant: string,
  expected: string,
  before: MerchantSettlementConfig | undefined,
  next: MerchantSettlementConfig,
): Promise<void> {
  const audit = auditRecord({
    actor: acting,
    changes: [{ entity: `settlement-config:${merchant}`, before, after: next }],
    at: context.now(),
  });
  if ((await context.store.putConfig(next, expected, audit)) === 'conflict')
    throw new SettlementConflictError('the configuration changed since it was read; send it again', { merchant });
}

/** POST /settlement/runs: compute every configured merchant's batch of a closed period. */
async function runRequest({ context, body, acting }: SettlementCall): Promise<HttpAnswer> {
  const fields = parseBody(body);
  onlyFields(fields, ['date']);
  if (typeof fields['date'] !== 'string') throw new ParameterError('date', 'is required: YYYY-MM-DD');
  const date = fields['date'];
  const day_ms = parseDate('date', date);
  const merchants = await context.store.merchants(run_merchants_max);
  if (merchants.length > run_merchants_max) throw new ReportTooLargeError('more merchants than one run computes', { run_merchants_max });
  const batches: Record<string, unknown>[] = [];
  const open: string[] = [];
  const awaiting: string[] = [];
  for (const merchant of merchants) {
    const config = await context.store.config(merchant);
    if (config === undefined) continue;
    if (periodOf(config.cycle, day_ms).until_ms > context.now()) {
      open.push(merchant);
      continue;
    }
    if (config.payee_iban === '') {
      awaiting.push(merchant);
      continue;
    }
    const view = await computeBatch(context, merchant, date, acting);
    batches.push({ id: view['id'], state: view['state'], changed: view['changed'], digest: view['digest'] });
  }
  return json(200, { date, batches, periods_still_open: open, awaiting_payee_approval: awaiting });
}

/** /settlement/batches/<id>[/transfer.csv|approve|settle]: one batch and its transitions. */
async function batchRequest(
  { context, method, write, acting, body }: SettlementCall,
  id: string,
  action: string | undefined,
  format: string | undefined,
): Promise<HttpAnswer | undefined> {
  if (action === undefined && !write) return json(200, batchView(await stored(context, id), false));
  if (action === 'transfer.csv' && !write) return bankFile(context, id, 'csv');
  if (action === 'files' && format !== undefined && !write) return bankFile(context, id, format);
  if (action === 'approve' && method === 'POST') {
    const fields = parseBody(body);
    onlyFields(fields, ['digest']);
    const digest = fields['digest'] ?? '';
    if (typeof digest !== 'string' || (digest !== '' && !/^[0-9a-f]{64}$/.test(digest)))
      throw new ParameterError('digest', 'must be the batch digest: 64 hex digits');
    const now_ms = context.now();
    const audit = auditRecord({
      actor: acting,
      changes: [
        { entity: `settlement-batch:${id}`, before: { state: 'computed' }, after: { state: 'approved', approved_by: acting.subject } },
      ],
      at: now_ms,
    });
    const result = await context.store.approve(id, acting.subject, now_ms, digest, audit);
    if (result === 'missing') throw new ReportNotFoundError('no such settlement batch', { batch: id });
    if (result === 'same_principal')
      throw new SettlementForbiddenError('four eyes: the principal that computed a batch cannot approve it', { batch: id });
    if (result === 'digest_mismatch')
      throw new SettlementConflictError('the batch was recomputed since you read it; read it again', { batch: id });
    return json(200, batchView(await stored(context, id), result === 'changed'));
  }
  if (action === 'settle' && method === 'POST') {
    const fields = parseBody(body);
    onlyFields(fields, ['reference']);
    const reference = fields['reference'] ?? '';
    if (typeof reference !== 'string' || (reference !== '' && !id_pattern.test(reference)))
      throw new ParameterError('reference', 'must be 1..64 of A-Z a-z 0-9 . _ -');
    const now_ms = context.now();
    const audit = auditRecord({
      actor: acting,
      changes: [
        {
          entity: `settlement-batch:${id}`,
          before: { state: 'approved' },
          after: { state: 'settled', settled_by: acting.subject, reference },
        },
      ],
      at: now_ms,
    });
    const result = await context.store.settle(id, acting.subject, now_ms, reference, audit);
    if (result === 'missing') throw new ReportNotFoundError('no such settlement batch', { batch: id });
    if (result === 'not_approved') throw new SettlementConflictError('the batch is not approved', { batch: id });
    return json(200, batchView(await stored(context, id), result === 'changed'));
  }
  return undefined;
}

/** The bank file of an approved or settled batch in one of the writers' formats (bank-files/writers.ts). */
async function bankFile(context: SettlementContext, id: string, format: string): Promise<HttpAnswer> {
  const writer = bankFileWriter(format);
  if (writer === undefined) throw new ReportNotFoundError('no such bank file format', { format: format.slice(0, 32) });
  const batch = await stored(context, id);
  if (batch.state === 'computed') throw new SettlementConflictError('the batch is not approved', { batch: id });
  const content = JSON.parse(batch.d) as BatchContent;
  const file = writer.write(
    {
      batch_id: id,
      payee_name: content.payee_name,
      payee_iban: content.payee_iban,
      period: content.period,
      lines: content.lines,
      ...(content.deployer === undefined ? {} : { deployer: content.deployer }),
    },
    { debtor: context.debtor, approved_at_ms: batch.approved_at_ms },
  );
  if (!file.ok) throw new SettlementConflictError(file.reason, { batch: id, format: writer.format });
  const name = writer.format === 'csv' ? `settlement-${id}.csv` : `settlement-${id}.${writer.format}.${writer.extension}`;
  return { status: 200, type: writer.content_type, body: file.body, headers: { 'content-disposition': `attachment; filename="${name}"` } };
}

function batchIdOf(segment: string): string {
  let decoded: string;
  try {
    decoded = decodeURIComponent(segment);
  } catch {
    throw new ParameterError('batchId', 'is not valid percent-encoding');
  }
  if (!settlement_batch_id_pattern.test(decoded))
    throw new ParameterError('batchId', 'must be <merchant>.<daily|weekly|monthly>.<YYYY-MM-DD>');
  return decoded;
}
