// Turns one outbox entry into one ClickHouse row. Pure: no I/O, no clock. The document format
// is the authorizer's (StoredTransaction in actors/card/transaction.ts, lifecycle events in the
// card and terminal actors); a document this code cannot read becomes a reject row that keeps
// the document verbatim, so it is never lost and never blocks its stream.

import { z } from 'zod';
import { fastTransaction } from './transaction-fast-path';

/** One stream entry as read from Redis. */
export interface OutboxEntry {
  readonly shard: number;
  /** The stream entry id, e.g. "1700000000000-0". */
  readonly streamId: string;
  /** The `d` field, or undefined when the entry had no such field. */
  readonly document: string | undefined;
}

export type RowTable = 'transactions' | 'transaction_lines' | 'lifecycle_events' | 'outbox_rejects';

export interface Row {
  readonly table: RowTable;
  readonly values: Record<string, string | number | readonly string[]>;
}

// Money is an integer of minor units that a JS number holds exactly.
const money = z.number().int().min(-Number.MAX_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER);
const unix_ms = z.number().int().min(0).max(4_294_967_295_000);
const text = z.string().max(4096);
/** Lines one transaction may carry (a basket); more is a malformed document, kept as a reject. */
export const lines_max = 500;
/** Flags one transaction may carry. */
export const flags_max = 64;

export const transaction_kinds = [
  'purchase',
  'top_up',
  'reverse',
  'pre_authorization',
  'incremental',
  'completion',
  'void',
  'hold_expiry',
  'refund',
  'cash_out',
  'transfer_out',
  'transfer_in',
  'tab_settlement',
] as const;
export type TransactionKind = (typeof transaction_kinds)[number];

/** The contract's default for `balance_delta` of documents written before it existed (docs/OUTBOX.md). */
export function v1BalanceDelta(kind: string, outcome: string, amount: number): number {
  if (outcome !== 'approved') return 0;
  if (kind === 'purchase') return -amount;
  if (kind === 'top_up' || kind === 'reverse') return amount;
  return 0;
}

const line_schema = z.object({
  code: text,
  group: text.default(''),
  qty_milli: money.default(0),
  unit: money.default(0),
  amount: money,
  pump_unit: money.optional(),
  invoiced: money.optional(),
});

const transaction_schema = z.object({
  type: z.literal('transaction'),
  f: text,
  id: z.string().min(1).max(256),
  kind: z.enum(transaction_kinds),
  outcome: z.enum(['approved', 'declined']),
  reason: text,
  rule: text,
  card: text,
  program: text,
  terminal: text,
  merchant: text,
  amount: money,
  requested: money,
  currency: text,
  balance_after: money,
  key: text,
  original: text,
  reverse: text,
  source: text,
  operator: text,
  at: unix_ms,
  // Optional since issues 4–6; the defaults are docs/OUTBOX.md's.
  balance_delta: money.optional(),
  held_delta: money.default(0),
  deposit_delta: money.default(0),
  payout: money.default(0),
  hold: text.default(''),
  lines: z.array(line_schema).max(lines_max).default([]),
  odometer: money.default(0),
  driver: text.default(''),
  vehicle: text.default(''),
  fleet: text.default(''),
  pump: money.optional(),
  invoiced: money.optional(),
  discount: money.default(0),
  points_earned: money.default(0),
  points_redeemed: money.default(0),
  flags: z.array(text).max(flags_max).default([]),
  offline_at: unix_ms.default(0),
  account_balance_after: money.default(0),
  hold_amount: money.default(0),
  hold_expires_at: unix_ms.default(0),
  ledger_after: money.default(0),
  spent_after: money.default(0),
});

/** A transaction document as the contract reads it (defaults filled in). */
export type ParsedTransaction = z.output<typeof transaction_schema>;

/** The schema itself, for the property test that holds the fast path to it. */
export function parseTransactionWithSchema(document: unknown): ParsedTransaction | undefined {
  const parsed = transaction_schema.safeParse(document);
  return parsed.success ? parsed.data : undefined;
}

const card_event_schema = z.object({
  type: z.enum(['card_issued', 'card_status_changed', 'card_replaced', 'card_pin_changed']),
  card: text,
  program: text.default(''),
  currency: text.default(''),
  status: text.default(''),
  amount: money.default(0),
  operator: text.default(''),
  reason: text.default(''),
  at: unix_ms,
  deposit: money.default(0),
  named: z.boolean().default(false),
  expires_at: unix_ms.default(0),
  issuance: text.default(''),
  fleet: text.default(''),
  previous: text.default(''),
  replacement: text.default(''),
  event: text.default(''),
  action: text.default(''),
  approver: text.default(''),
});

const fleet_event_schema = z.object({
  type: z.literal('fleet_account_changed'),
  fleet: text,
  currency: text.default(''),
  event: text.default(''),
  operator: text.default(''),
  reason: text.default(''),
  at: unix_ms,
});

const operator_action_schema = z.object({
  type: z.literal('operator_action'),
  action: text,
  subject: text.default(''),
  detail: text.default(''),
  operator: text.default(''),
  reason: text.default(''),
  at: unix_ms,
});

const terminal_event_schema = z.object({
  type: z.enum(['terminal_registered', 'terminal_enabled_changed']),
  terminal: text,
  merchant: text.default(''),
  enabled: z.boolean(),
  operator: text.default(''),
  reason: text.default(''),
  at: unix_ms,
});

/** The id a lifecycle event (or a rejected document) is deduplicated by. */
export function entryEventId(entry: Pick<OutboxEntry, 'shard' | 'streamId'>): string {
  return `${entry.shard}:${entry.streamId}`;
}

/** The main row of an entry (the transaction, event or reject), without line rows. */
export function rowOf(entry: OutboxEntry): Row {
  const [main] = rowsOf(entry);
  if (main === undefined) throw new Error('assertion: rowsOf returned no row');
  return main;
}

/** Every row of an entry: the transaction, event or reject first, then one row per line item. */
export function rowsOf(entry: OutboxEntry): Row[] {
  if (entry.document === undefined) return [reject(entry, 'entry has no field d')];
  let document: unknown;
  try {
    document = JSON.parse(entry.document);
  } catch {
    return [reject(entry, 'field d is not JSON')];
  }
  const type = typeof document === 'object' && document !== null ? (document as { type?: unknown }).type : undefined;
  if (type === 'transaction') {
    // Almost every entry is a plain transaction: checked by hand first, by zod when in doubt.
    let t = fastTransaction(document as Record<string, unknown>);
    if (t === undefined) {
      const parsed = transaction_schema.safeParse(document);
      if (!parsed.success) return [reject(entry, describe(parsed.error))];
      t = parsed.data;
    }
    const main: Row = { table: 'transactions', values: transactionValues(t, entry) };
    const lines = t.lines.map((line, line_no): Row => ({
      table: 'transaction_lines',
      values: {
        id: t.id,
        line_no,
        kind: t.kind,
        outcome: t.outcome,
        card: t.card,
        program: t.program,
        merchant: t.merchant,
        terminal: t.terminal,
        fleet: t.fleet,
        vehicle: t.vehicle,
        driver: t.driver,
        currency: t.currency,
        code: line.code,
        product_group: line.group,
        qty_milli: line.qty_milli,
        unit: line.unit,
        amount: line.amount,
        pump_unit: line.pump_unit ?? line.unit,
        invoiced: line.invoiced ?? line.amount,
        at: Math.floor(t.at / 1000),
        at_ms: t.at,
      },
    }));
    return [main, ...lines];
  }
  if (type === 'card_issued' || type === 'card_status_changed' || type === 'card_replaced' || type === 'card_pin_changed') {
    const parsed = card_event_schema.safeParse(document);
    if (!parsed.success) return [reject(entry, describe(parsed.error))];
    const e = parsed.data;
    return [
      lifecycle(entry, e.type, e.at, {
        card: e.card,
        program: e.program,
        currency: e.currency,
        status: e.status,
        amount: e.amount,
        operator: e.operator,
        reason: e.reason,
        deposit: e.deposit,
        named: e.named ? 1 : 0,
        expires_at: e.expires_at,
        issuance: e.issuance,
        fleet: e.fleet,
        previous: e.previous,
        replacement: e.replacement,
        event: e.event,
        action: e.action,
        approver: e.approver,
      }),
    ];
  }
  if (type === 'terminal_registered' || type === 'terminal_enabled_changed') {
    const parsed = terminal_event_schema.safeParse(document);
    if (!parsed.success) return [reject(entry, describe(parsed.error))];
    const e = parsed.data;
    return [
      lifecycle(entry, e.type, e.at, {
        terminal: e.terminal,
        merchant: e.merchant,
        enabled: e.enabled ? 1 : 0,
        operator: e.operator,
        reason: e.reason,
      }),
    ];
  }
  if (type === 'fleet_account_changed') {
    const parsed = fleet_event_schema.safeParse(document);
    if (!parsed.success) return [reject(entry, describe(parsed.error))];
    const e = parsed.data;
    return [
      lifecycle(entry, e.type, e.at, { fleet: e.fleet, currency: e.currency, event: e.event, operator: e.operator, reason: e.reason }),
    ];
  }
  if (type === 'operator_action') {
    const parsed = operator_action_schema.safeParse(document);
    if (!parsed.success) return [reject(entry, describe(parsed.error))];
    const e = parsed.data;
    return [
      lifecycle(entry, e.type, e.at, { action: e.action, subject: e.subject, detail: e.detail, operator: e.operator, reason: e.reason }),
    ];
  }
  return [reject(entry, `unknown document type ${JSON.stringify(type)}`)];
}

/**
 * The transactions row of a document. Columns whose value is their column's default (0, '' or an
 * empty array, with a DEFAULT of that same value: every column but balance_delta, pump and
 * invoiced, whose DEFAULTs are expressions) are left out: ClickHouse fills them in, on 18.16 as on
 * current servers, and a plain purchase's row is then half the bytes to encode, send and parse.
 */
function transactionValues(t: ParsedTransaction, entry: OutboxEntry): Record<string, string | number | readonly string[]> {
  const values: Record<string, string | number | readonly string[]> = {
    id: t.id,
    kind: t.kind,
    outcome: t.outcome,
    card: t.card,
    program: t.program,
    terminal: t.terminal,
    merchant: t.merchant,
    amount: t.amount,
    requested: t.requested,
    currency: t.currency,
    balance_after: t.balance_after,
    idempotency_key: t.key,
    fingerprint: t.f,
    at: Math.floor(t.at / 1000),
    at_ms: t.at,
    shard: entry.shard,
    stream_id: entry.streamId,
    balance_delta: t.balance_delta ?? v1BalanceDelta(t.kind, t.outcome, t.amount),
    pump: t.pump ?? t.amount,
    invoiced: t.invoiced ?? t.amount,
  };
  const text = (column: string, value: string): void => {
    if (value !== '') values[column] = value;
  };
  const number = (column: string, value: number): void => {
    if (value !== 0) values[column] = value;
  };
  text('reason', t.reason);
  text('rule', t.rule);
  text('original', t.original);
  text('reverse', t.reverse);
  text('source', t.source);
  text('operator', t.operator);
  text('hold', t.hold);
  text('driver', t.driver);
  text('vehicle', t.vehicle);
  text('fleet', t.fleet);
  number('held_delta', t.held_delta);
  number('deposit_delta', t.deposit_delta);
  number('payout', t.payout);
  number('odometer', t.odometer);
  number('discount', t.discount);
  number('points_earned', t.points_earned);
  number('points_redeemed', t.points_redeemed);
  number('offline_at', t.offline_at);
  number('account_balance_after', t.account_balance_after);
  number('line_count', t.lines.length);
  number('hold_amount', t.hold_amount);
  number('hold_expires_at', t.hold_expires_at);
  number('ledger_after', t.ledger_after);
  number('spent_after', t.spent_after);
  if (t.flags.length > 0) values['flags'] = t.flags;
  return values;
}

function lifecycle(entry: OutboxEntry, type: string, atMs: number, fields: Record<string, string | number>): Row {
  return {
    table: 'lifecycle_events',
    values: {
      event_id: entryEventId(entry),
      type,
      card: '',
      program: '',
      currency: '',
      status: '',
      amount: 0,
      terminal: '',
      merchant: '',
      enabled: 0,
      operator: '',
      reason: '',
      replacement: '',
      deposit: 0,
      named: 0,
      expires_at: 0,
      issuance: '',
      fleet: '',
      previous: '',
      event: '',
      action: '',
      subject: '',
      detail: '',
      approver: '',
      ...fields,
      at: Math.floor(atMs / 1000),
      at_ms: atMs,
      shard: entry.shard,
      stream_id: entry.streamId,
    },
  };
}

function reject(entry: OutboxEntry, error: string): Row {
  return {
    table: 'outbox_rejects',
    values: { event_id: entryEventId(entry), shard: entry.shard, stream_id: entry.streamId, document: entry.document ?? '', error },
  };
}

function describe(error: z.ZodError): string {
  return error.issues
    .map((issue) => `${issue.path.join('.')}: ${issue.message}`)
    .join('; ')
    .slice(0, 1000);
}
