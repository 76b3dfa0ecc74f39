// What the event relay hands to notices and webhooks: one committed outbox document as ClickHouse
// keeps it in `relay_events` (migration 10), and the names external receivers subscribe to.
//
// Event names: `transaction.<kind>` for every transaction document (approved or declined: the
// outcome is in the data), `card.<what>` for card lifecycle documents (`card.issued`,
// `card.status_changed`, `card.replaced`, `card.pin_changed`, `card.issuance_cancelled`), `terminal.<what>`, `fleet.account_changed`
// and `operator.action`. A subscription names events exactly or by a prefix ending in `.*`.

import { identifier, stringLiteral } from '../streamer/sql';

export interface RelayEvent {
  /** The transaction id, or "<shard>:<stream id>" of a lifecycle document: unique, stable across re-reads. */
  readonly event_id: string;
  /** The outbox document type. */
  readonly type: string;
  readonly kind: string;
  readonly outcome: string;
  readonly reason: string;
  readonly card: string;
  readonly program: string;
  readonly terminal: string;
  readonly merchant: string;
  readonly fleet: string;
  readonly currency: string;
  readonly amount_minor: number;
  readonly balance_after_minor: number;
  readonly status: string;
  readonly previous: string;
  readonly action: string;
  readonly source: string;
  readonly original: string;
  readonly at_ms: number;
  /** Redis time of the commit (the stream id's time): the relay's cursor. */
  readonly stream_ms: number;
}

/** The externally visible name of an event. */
export function eventName(event: Pick<RelayEvent, 'type' | 'kind'>): string {
  if (event.type === 'transaction') return `transaction.${event.kind}`;
  if (event.type.startsWith('card_')) return `card.${event.type.slice('card_'.length)}`;
  if (event.type.startsWith('terminal_')) return `terminal.${event.type.slice('terminal_'.length)}`;
  if (event.type === 'fleet_account_changed') return 'fleet.account_changed';
  if (event.type === 'operator_action') return 'operator.action';
  return `other.${event.type}`;
}

/** A subscription pattern: `transaction.purchase`, `transaction.*`, `card.*` or `*`. */
export const event_pattern = /^(\*|[a-z_]{1,32}\.(\*|[a-z_]{1,32}))$/;

export function matchesPattern(name: string, pattern: string): boolean {
  if (pattern === '*') return true;
  if (pattern.endsWith('.*')) return name.startsWith(pattern.slice(0, -1));
  return name === pattern;
}

/** Where the relay stands: every event at or before (stream_ms, event_id) has been handed on. */
export interface RelayCursor {
  readonly stream_ms: number;
  readonly event_id: string;
}

/**
 * The next page of events after `cursor` and strictly below `horizon_ms`, in cursor order. Reads
 * the table without FINAL: a duplicate row (a batch the streamer sent twice) is dropped by the
 * caller, and the deliveries it would make already exist (their ids are derived from the event).
 */
export function relayEventsSql(database: string, cursor: RelayCursor, horizon_ms: number, rows_max: number): string {
  if (![cursor.stream_ms, horizon_ms, rows_max].every((value) => Number.isSafeInteger(value) && value >= 0))
    throw new Error('assertion: relay query bounds must be non-negative integers');
  return `SELECT event_id, type, kind, outcome, reason, card, program, terminal, merchant, fleet, currency,
      toString(amount) AS amount_text, toString(balance_after) AS balance_after_text, status, previous, action, source, original,
      toString(at_ms) AS at_ms_text, toString(stream_ms) AS stream_ms_text
    FROM ${identifier(database)}.relay_events
    -- Output names differ from the columns: ClickHouse resolves an alias in WHERE before a column.
    -- The plain range on stream_ms lets the primary key (stream_ms, event_id) skip what is behind.
    WHERE stream_ms >= ${cursor.stream_ms} AND stream_ms < ${horizon_ms}
      AND (stream_ms > ${cursor.stream_ms} OR event_id > ${stringLiteral(cursor.event_id)})
    ORDER BY stream_ms, event_id
    LIMIT ${rows_max}`;
}

function integer(row: Record<string, unknown>, name: string): number {
  const value = Number(row[name]);
  if (!Number.isSafeInteger(value)) throw new Error(`assertion: relay_events.${name} is not a safe integer`);
  return value;
}

function text(row: Record<string, unknown>, name: string): string {
  const value = row[name];
  return typeof value === 'string' ? value : '';
}

/** One row of relayEventsSql as an event. */
export function eventOfRow(row: Record<string, unknown>): RelayEvent {
  return {
    event_id: text(row, 'event_id'),
    type: text(row, 'type'),
    kind: text(row, 'kind'),
    outcome: text(row, 'outcome'),
    reason: text(row, 'reason'),
    card: text(row, 'card'),
    program: text(row, 'program'),
    terminal: text(row, 'terminal'),
    merchant: text(row, 'merchant'),
    fleet: text(row, 'fleet'),
    currency: text(row, 'currency'),
    amount_minor: integer(row, 'amount_text'),
    balance_after_minor: integer(row, 'balance_after_text'),
    status: text(row, 'status'),
    previous: text(row, 'previous'),
    action: text(row, 'action'),
    source: text(row, 'source'),
    original: text(row, 'original'),
    at_ms: integer(row, 'at_ms_text'),
    stream_ms: integer(row, 'stream_ms_text'),
  };
}

/** The data a webhook carries for an event: its fields under stable names, money in minor units. */
export function webhookData(event: RelayEvent): Record<string, string | number> {
  const data: Record<string, string | number> = { event_id: event.event_id, at_ms: event.at_ms };
  const fields: [string, string | number][] = [
    ['kind', event.kind],
    ['outcome', event.outcome],
    ['reason', event.reason],
    ['card', event.card],
    ['program', event.program],
    ['terminal', event.terminal],
    ['merchant', event.merchant],
    ['fleet', event.fleet],
    ['currency', event.currency],
    ['status', event.status],
    ['previous', event.previous],
    ['action', event.action],
    ['source', event.source],
    ['original', event.original],
  ];
  for (const [name, value] of fields) if (value !== '') data[name] = value;
  if (event.type === 'transaction') {
    data['amount_minor'] = event.amount_minor;
    data['balance_after_minor'] = event.balance_after_minor;
  } else if (event.type === 'card_issued' || event.type === 'card_replaced' || event.type === 'card_issuance_cancelled')
    data['amount_minor'] = event.amount_minor;
  return data;
}
