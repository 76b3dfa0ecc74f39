// Turns one outbox entry into one ClickHouse row. Pure: no I/O, no clock. The document format
// is the authorizer's (StoredTransaction in actors/card/transaction.ts, lifecycle events in the
// card and terminal actors); a document this code cannot read becomes a reject row that keeps
// the document verbatim, so it is never lost and never blocks its stream.

import { z } from 'zod';

/** One stream entry as read from Redis. */
export interface OutboxEntry {
  readonly shard: number;
  /** The stream entry id, e.g. "1700000000000-0". */
  readonly streamId: string;
  /** The `d` field, or undefined when the entry had no such field. */
  readonly document: string | undefined;
}

export type RowTable = 'transactions' | 'lifecycle_events' | 'outbox_rejects';

export interface Row {
  readonly table: RowTable;
  readonly values: Record<string, string | number>;
}

// Money is an integer of minor units that a JS number holds exactly.
const money = z.number().int().min(-Number.MAX_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER);
const unix_ms = z.number().int().min(0).max(4_294_967_295_000);
const text = z.string().max(4096);

const transaction_schema = z.object({
  type: z.literal('transaction'),
  f: text,
  id: z.string().min(1).max(256),
  kind: z.enum(['purchase', 'top_up', 'reverse']),
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
});

const card_event_schema = z.object({
  type: z.enum(['card_issued', 'card_status_changed']),
  card: text,
  program: text.default(''),
  currency: text.default(''),
  status: text.default(''),
  amount: money.default(0),
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

export function rowOf(entry: OutboxEntry): Row {
  if (entry.document === undefined) return reject(entry, 'entry has no field d');
  let document: unknown;
  try {
    document = JSON.parse(entry.document);
  } catch {
    return reject(entry, 'field d is not JSON');
  }
  const type = typeof document === 'object' && document !== null ? (document as { type?: unknown }).type : undefined;
  const origin = { shard: entry.shard, stream_id: entry.streamId };
  if (type === 'transaction') {
    const parsed = transaction_schema.safeParse(document);
    if (!parsed.success) return reject(entry, describe(parsed.error));
    const t = parsed.data;
    return {
      table: 'transactions',
      values: {
        id: t.id, kind: t.kind, outcome: t.outcome, reason: t.reason, rule: t.rule, card: t.card,
        program: t.program, terminal: t.terminal, merchant: t.merchant, amount: t.amount,
        requested: t.requested, currency: t.currency, balance_after: t.balance_after,
        idempotency_key: t.key, original: t.original, reverse: t.reverse, source: t.source,
        operator: t.operator, fingerprint: t.f, at: Math.floor(t.at / 1000), at_ms: t.at, ...origin,
      },
    };
  }
  if (type === 'card_issued' || type === 'card_status_changed') {
    const parsed = card_event_schema.safeParse(document);
    if (!parsed.success) return reject(entry, describe(parsed.error));
    const e = parsed.data;
    return lifecycle(entry, e.type, e.at, {
      card: e.card, program: e.program, currency: e.currency, status: e.status, amount: e.amount,
      operator: e.operator, reason: e.reason,
    });
  }
  if (type === 'terminal_registered' || type === 'terminal_enabled_changed') {
    const parsed = terminal_event_schema.safeParse(document);
    if (!parsed.success) return reject(entry, describe(parsed.error));
    const e = parsed.data;
    return lifecycle(entry, e.type, e.at, {
      terminal: e.terminal, merchant: e.merchant, enabled: e.enabled ? 1 : 0, operator: e.operator, reason: e.reason,
    });
  }
  return reject(entry, `unknown document type ${JSON.stringify(type)}`);
}

function lifecycle(entry: OutboxEntry, type: string, atMs: number, fields: Record<string, string | number>): Row {
  return {
    table: 'lifecycle_events',
    values: {
      event_id: entryEventId(entry), type,
      card: '', program: '', currency: '', status: '', amount: 0, terminal: '', merchant: '', enabled: 0, operator: '', reason: '',
      ...fields,
      at: Math.floor(atMs / 1000), at_ms: atMs, shard: entry.shard, stream_id: entry.streamId,
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
  return error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ').slice(0, 1000);
}
