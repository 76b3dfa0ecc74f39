// Turns one outbox entry into ClickHouse rows. Pure: no I/O, no clock. What a document is, is the
// outbox contract (actors/outbox: the document types, the transaction kinds and one zod schema per
// document); this file only maps parsed documents onto columns. A document the contract does not
// accept becomes a reject row that keeps the document verbatim, so it is never lost and never
// blocks its stream.

import {
  card_denylist_changed_schema,
  card_issuance_cancelled_schema,
  card_issued_schema,
  card_pin_changed_schema,
  card_replaced_schema,
  card_status_changed_schema,
  fleet_account_changed_schema,
  fleet_invoice_schema,
  operator_action_schema,
  audit_record_schema,
  type ParsedAuditRecord,
  tap_pour_schema,
  terminal_enabled_changed_schema,
  terminal_offline_schema,
  terminal_registered_schema,
  transaction_schema,
  type ParsedCardEvent,
  type ParsedTapPour,
  type ParsedTransaction,
} from '../../actors/outbox/schemas';
import { v1BalanceDelta } from '../../actors/outbox/contract';
import { describeIssues } from '../../actors/zod-issues';
import { fastTransaction } from './transaction-fast-path';

/** One stream entry as read from Redis. */
export interface OutboxEntry {
  readonly shard: number;
  /** The stream entry id, e.g. "1700000000000-0". */
  readonly streamId: string;
  /** The `d` field, or undefined when the entry had no such field. */
  readonly document: string | undefined;
}

export type RowTable =
  'transactions' | 'transaction_lines' | 'lifecycle_events' | 'audit_log' | 'fleet_invoices' | 'tap_pours' | 'outbox_rejects';

export interface Row {
  readonly table: RowTable;
  readonly values: Record<string, string | number | readonly string[]>;
}

/** The schema of each lifecycle document type this file maps (transactions take their own path). */
const card_event_schemas = {
  card_issued: card_issued_schema,
  card_status_changed: card_status_changed_schema,
  card_replaced: card_replaced_schema,
  card_pin_changed: card_pin_changed_schema,
  card_denylist_changed: card_denylist_changed_schema,
  card_issuance_cancelled: card_issuance_cancelled_schema,
} as const;
const terminal_event_schemas = {
  terminal_registered: terminal_registered_schema,
  terminal_enabled_changed: terminal_enabled_changed_schema,
} as const;

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
      if (!parsed.success) return [reject(entry, describeIssues(parsed.error))];
      t = parsed.data;
    }
    return transactionRows(t, entry);
  }
  if (typeof type === 'string' && Object.hasOwn(card_event_schemas, type)) {
    const parsed = card_event_schemas[type as keyof typeof card_event_schemas].safeParse(document);
    if (!parsed.success) return [reject(entry, describeIssues(parsed.error))];
    return [cardEventRow(parsed.data, entry)];
  }
  if (typeof type === 'string' && Object.hasOwn(terminal_event_schemas, type)) {
    const parsed = terminal_event_schemas[type as keyof typeof terminal_event_schemas].safeParse(document);
    if (!parsed.success) return [reject(entry, describeIssues(parsed.error))];
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
  if (type === 'terminal_offline') return [terminalOfflineRow(document, entry)];
  if (type === 'fleet_account_changed') {
    const parsed = fleet_account_changed_schema.safeParse(document);
    if (!parsed.success) return [reject(entry, describeIssues(parsed.error))];
    const e = parsed.data;
    return [
      lifecycle(entry, e.type, e.at, { fleet: e.fleet, currency: e.currency, event: e.event, operator: e.operator, reason: e.reason }),
    ];
  }
  if (type === 'fleet_invoice') return [fleetInvoiceRow(document, entry)];
  if (type === 'operator_action') {
    const parsed = operator_action_schema.safeParse(document);
    if (!parsed.success) return [reject(entry, describeIssues(parsed.error))];
    const e = parsed.data;
    return [
      lifecycle(entry, e.type, e.at, { action: e.action, subject: e.subject, detail: e.detail, operator: e.operator, reason: e.reason }),
    ];
  }
  if (type === 'audit_record') {
    const parsed = audit_record_schema.safeParse(document);
    if (!parsed.success) return [reject(entry, describeIssues(parsed.error))];
    return [auditRow(parsed.data, entry)];
  }
  if (type === 'tap_pour') {
    const parsed = tap_pour_schema.safeParse(document);
    if (!parsed.success) return [reject(entry, describeIssues(parsed.error))];
    return [tapPourRow(parsed.data, entry)];
  }
  return [reject(entry, `unknown document type ${JSON.stringify(type)}`)];
}

/** A terminal's offline life (settings, grant, acknowledgement, batch): one lifecycle_events row. */
function terminalOfflineRow(document: unknown, entry: OutboxEntry): Row {
  const parsed = terminal_offline_schema.safeParse(document);
  if (!parsed.success) return reject(entry, describeIssues(parsed.error));
  const e = parsed.data;
  return lifecycle(entry, e.type, e.at, {
    terminal: e.terminal,
    merchant: e.merchant,
    event: e.event,
    operator: e.operator,
    version: e.version,
    behind: e.behind,
    entries: e.entries,
    missing: e.missing,
  });
}

/** An operator action's audit record: one audit_log row, deduplicated by its stream entry like lifecycle events. */
function auditRow(e: ParsedAuditRecord, entry: OutboxEntry): Row {
  return {
    table: 'audit_log',
    values: {
      event_id: entryEventId(entry),
      action: e.action,
      principal: e.principal,
      role: e.role,
      scope: e.scope,
      approver: e.approver,
      subject: e.subject,
      before: e.before,
      after: e.after,
      at: Math.floor(e.at / 1000),
      at_ms: e.at,
      shard: entry.shard,
      stream_id: entry.streamId,
    },
  };
}

/** A tap's pour report (migration 11), deduplicated by (terminal, report). */
function tapPourRow(p: ParsedTapPour, entry: OutboxEntry): Row {
  return {
    table: 'tap_pours',
    values: {
      event_id: entryEventId(entry),
      terminal: p.terminal,
      merchant: p.merchant,
      report: p.report,
      transaction: p.transaction,
      from_ms: p.from,
      to_ms: p.to,
      poured_ml: p.poured_ml,
      product: p.product,
      at: Math.floor(p.at / 1000),
      at_ms: p.at,
      shard: entry.shard,
      stream_id: entry.streamId,
    },
  };
}

/** A fleet_invoice document's fleet_invoices row, or its reject. */
function fleetInvoiceRow(document: unknown, entry: OutboxEntry): Row {
  const parsed = fleet_invoice_schema.safeParse(document);
  if (!parsed.success) return reject(entry, describeIssues(parsed.error));
  const e = parsed.data;
  return {
    table: 'fleet_invoices',
    values: {
      fleet: e.fleet,
      number: e.number,
      cycle: e.cycle,
      currency: e.currency,
      amount: e.amount,
      applied: e.applied,
      opened_at_ms: e.opened_at,
      due_at_ms: e.due_at,
      operator: e.operator,
      at: Math.floor(e.at / 1000),
      at_ms: e.at,
      shard: entry.shard,
      stream_id: entry.streamId,
    },
  };
}

/** The rows of a parsed transaction: its transactions row, then one transaction_lines row per line item. */
export function transactionRows(t: ParsedTransaction, entry: OutboxEntry): Row[] {
  const main: Row = { table: 'transactions', values: transactionValues(t, entry) };
  if (t.lines.length === 0) return [main];
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
      // Absent: the column's default (cycle 1 for a fleet document written before cycles).
      ...(t.cycle === undefined ? {} : { cycle: t.cycle }),
    },
  }));
  return [main, ...lines];
}

function cardEventRow(e: ParsedCardEvent, entry: OutboxEntry): Row {
  return lifecycle(entry, e.type, e.at, {
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
  });
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
  text('cashier', t.cashier);
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
  // Absent: the column's default (cycle 1 for a fleet document written before cycles, 0 otherwise).
  if (t.cycle !== undefined) values['cycle'] = t.cycle;
  number('hold_expires_at', t.hold_expires_at);
  number('ledger_after', t.ledger_after);
  number('spent_after', t.spent_after);
  text('liability', t.liability);
  number('debt_delta', t.debt_delta);
  number('debt_after', t.debt_after);
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
      version: 0,
      behind: 0,
      entries: 0,
      missing: 0,
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
