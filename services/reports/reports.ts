// The six reports: each runs its statements (queries.ts) through a QueryRunner and shapes the
// rows into sections. A section has fixed columns so JSON and CSV carry the same numbers under
// the same names, even when empty. Money stays in integer minor units: ClickHouse answers
// 64-bit integers as JSON strings (18.16) or numbers (current); both are checked to be safe
// integers before they become a JS number.

import type { EventsHttpContext } from '../events/http';
import type { RefundClaimsContext } from './refund-claims/http';
import type { SepaDebtor } from './bank-files/pain001';
import type { CardStateReader } from './card-states';
import type { SettlementStore } from './settlement-store';
import { ReportNotFoundError, ReportTooLargeError } from './errors';
import type { DateRange } from './params';
import {
  auditSql,
  auditRecordsSql,
  topUpsSql,
  card_history_entries_max,
  cardBalancesSql,
  cardHistorySql,
  flagsSql,
  floatSql,
  hour_ms,
  minute_ms,
  merchantsSql,
  offlineDebtSql,
  offlineSalesSql,
  offlineTerminalsSql,
  operationsSql,
  programTotalsSql,
  reconciliation_cards_max,
  reconciliation_fleets_max,
  fleetBalancesSql,
  replacementsSql,
  report_rows_max,
  salesPerHourSql,
  salesPerMinuteSql,
  declinesByReasonSql,
  topMerchantsSql,
  topProductsSql,
  type Granularity,
  type MerchantGrouping,
  type OperationsDimension,
} from './queries';

/** Replacement hops a card history follows (a card replaced more often than this is refused as a loop). */
export const replacement_chain_max = 16;

export type Cell = string | number | null;
export type ReportRow = Record<string, Cell>;
export type QueryRow = Record<string, unknown>;

/** Runs one SELECT and returns its rows (JSONEachRow). Throws ReportBackendError when the engine fails. */
export type QueryRunner = (sql: string) => Promise<QueryRow[]>;

export interface Section {
  readonly columns: readonly string[];
  readonly rows: readonly ReportRow[];
  /** A one-row section (a summary): JSON shows it as an object, not a list. */
  readonly single?: boolean;
}

export interface Report {
  readonly report: string;
  readonly parameters: Readonly<Record<string, string>>;
  /** In display order; the first is what CSV returns unless ?section= names another. */
  readonly sections: Readonly<Record<string, Section>>;
}

export interface ReportContext {
  readonly query: QueryRunner;
  readonly database: string;
  readonly cards: CardStateReader;
  /** Settlement state (settlement-store.ts); without it /settlement/ answers 404. */
  readonly settlement?: SettlementStore;
  /** The clock settlement uses (a period must have ended before it is settled); Date.now by default. */
  readonly now?: () => number;
  /** Notices and webhooks (services/events/http.ts); without it their routes answer 404. */
  readonly events?: EventsHttpContext;
  /** The operator's account, debtor of SEPA bank files (bank-files/pain001.ts). */
  readonly sepa_debtor?: SepaDebtor;
  /** Holders' refund claims and their payout runs (refund-claims/http.ts); without it their routes answer 404. */
  readonly refund_claims?: RefundClaimsContext;
}

// ---- row decoding ---------------------------------------------------------------------------

/** A 64-bit integer column as a JS number, asserted exact. */
export function int(row: QueryRow, column: string): number {
  const value = row[column];
  const number = typeof value === 'string' && /^-?[0-9]+$/.test(value) ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isSafeInteger(number)) {
    throw new Error(`assertion: column ${column} is not a safe integer: ${JSON.stringify(value)}`);
  }
  return number;
}

export function text(row: QueryRow, column: string): string {
  const value = row[column];
  if (typeof value !== 'string') throw new Error(`assertion: column ${column} is not a string: ${JSON.stringify(value)}`);
  return value;
}

/** A ratio to 4 decimals (not money: rates only). 0 when nothing was counted. */
export function rate(part: number, whole: number): number {
  return whole === 0 ? 0 : Math.round((part * 10_000) / whole) / 10_000;
}

/** The UTC hour an hour index (intDiv(at_ms, 3600000)) stands for, e.g. 2026-01-31T22:00Z. */
export function hourLabel(hour_index: number): string {
  return `${new Date(hour_index * hour_ms).toISOString().slice(0, 13)}:00Z`;
}

/** The UTC minute a minute index (intDiv(at_ms, 60000)) stands for, e.g. 2026-01-31T22:05Z. */
export function minuteLabel(minute_index: number): string {
  return `${new Date(minute_index * minute_ms).toISOString().slice(0, 16)}Z`;
}

export async function bounded(context: ReportContext, sql: string, rows_max = report_rows_max): Promise<QueryRow[]> {
  const rows = await context.query(sql);
  if (rows.length > rows_max)
    throw new ReportTooLargeError('the report has more rows than one answer carries; narrow the range', { rows_max });
  return rows;
}

function pick(row: QueryRow, columns: { readonly text?: readonly string[]; readonly ints?: readonly string[] }): ReportRow {
  const out: ReportRow = {};
  for (const column of columns.text ?? []) out[column] = text(row, column);
  for (const column of columns.ints ?? []) out[column] = int(row, column);
  return out;
}

// ---- 1. float -------------------------------------------------------------------------------

const float_money = [
  'issued_minor',
  'top_ups_minor',
  'spend_minor',
  'reversals_minor',
  'refunds_minor',
  'other_minor',
  'outstanding_minor',
  'deposits_held_minor',
  'payouts_minor',
];

export async function floatReport(context: ReportContext, currency: string | undefined): Promise<Report> {
  const rows = (await bounded(context, floatSql(context.database, currency))).map((row) =>
    pick(row, { text: ['program', 'currency'], ints: float_money }),
  );
  return {
    report: 'float',
    parameters: currency === undefined ? {} : { currency },
    sections: { programs: { columns: ['program', 'currency', ...float_money], rows } },
  };
}

// ---- 2. reconciliation ----------------------------------------------------------------------

export type ReconciliationProblem = 'balance_differs' | 'missing_in_redis' | 'missing_in_clickhouse' | 'unreadable_in_redis';

export async function reconciliationReport(context: ReportContext): Promise<Report> {
  const [clickhouseRows, clickhouseFleetRows, stored] = await Promise.all([
    bounded(context, cardBalancesSql(context.database), reconciliation_cards_max),
    bounded(context, fleetBalancesSql(context.database), reconciliation_fleets_max),
    context.cards.allBalances(reconciliation_cards_max, reconciliation_fleets_max),
  ]);
  const { cards: redisCards, fleets: redisFleets } = stored;
  const clickhouse = new Map(clickhouseRows.map((row) => [text(row, 'card'), int(row, 'balance_minor')]));
  const cards = [...new Set([...clickhouse.keys(), ...redisCards.keys()])].sort();
  const differences = compareBalances(cards, clickhouse, redisCards).map(({ id, ...rest }) => ({ card: id, ...rest }));
  // A fleet account's balance in Redis is minus what it owes: the invoiced amounts of its documents.
  const clickhouseFleets = new Map(clickhouseFleetRows.map((row) => [text(row, 'fleet'), int(row, 'balance_minor')]));
  const fleets = [...new Set([...clickhouseFleets.keys(), ...redisFleets.keys()])].sort();
  const fleetDifferences = compareBalances(fleets, clickhouseFleets, redisFleets).map(({ id, ...rest }) => ({ fleet: id, ...rest }));
  return {
    report: 'reconciliation',
    parameters: {},
    sections: {
      differences: { columns: ['card', 'clickhouse_minor', 'redis_minor', 'difference', 'problem'], rows: differences },
      fleet_differences: { columns: ['fleet', 'clickhouse_minor', 'redis_minor', 'difference', 'problem'], rows: fleetDifferences },
      summary: {
        columns: ['cards_checked', 'differences', 'fleet_accounts_checked'],
        rows: [
          { cards_checked: cards.length, differences: differences.length + fleetDifferences.length, fleet_accounts_checked: fleets.length },
        ],
        single: true,
      },
    },
  };
}

/** Each id's balance on both sides; one row per id that differs, is missing on a side or is unreadable in Redis. */
function compareBalances(
  ids: readonly string[],
  clickhouse: ReadonlyMap<string, number>,
  redis: ReadonlyMap<string, { readonly balance_minor: number | undefined }>,
): (ReportRow & { id: string })[] {
  const rows: (ReportRow & { id: string })[] = [];
  for (const id of ids) {
    const clickhouse_minor = clickhouse.get(id);
    const state = redis.get(id);
    const redis_minor = state?.balance_minor;
    let problem: ReconciliationProblem | undefined;
    if (state === undefined) problem = 'missing_in_redis';
    else if (redis_minor === undefined) problem = 'unreadable_in_redis';
    else if (clickhouse_minor === undefined) problem = 'missing_in_clickhouse';
    else if (redis_minor !== clickhouse_minor) problem = 'balance_differs';
    if (problem === undefined) continue;
    rows.push({
      id,
      clickhouse_minor: clickhouse_minor ?? null,
      redis_minor: redis_minor ?? null,
      difference: (redis_minor ?? 0) - (clickhouse_minor ?? 0),
      problem,
    });
  }
  return rows;
}

// ---- 3. merchants ---------------------------------------------------------------------------

const merchant_counts = [
  'purchases',
  'purchases_minor',
  'declines',
  'reversals',
  'reversals_minor',
  'top_ups',
  'top_ups_minor',
  'refunds',
  'refunds_minor',
];

export async function merchantsReport(
  context: ReportContext,
  range: DateRange,
  granularity: Granularity,
  by: MerchantGrouping,
): Promise<Report> {
  const keys = by === 'terminal' ? ['merchant', 'terminal', 'currency', 'period'] : ['merchant', 'currency', 'period'];
  const rows = (await bounded(context, merchantsSql(context.database, range.from_ms, range.until_ms, granularity, by))).map((row) =>
    pick(row, { text: keys, ints: merchant_counts }),
  );
  return {
    report: 'merchants',
    parameters: { from: range.from, to: range.to, granularity, by },
    sections: { periods: { columns: [...keys, ...merchant_counts], rows } },
  };
}

// ---- 4. operations --------------------------------------------------------------------------

interface OperationCounts {
  readonly key: string;
  readonly requests: number;
  readonly approved: number;
  readonly declined: number;
  readonly insufficient_funds: number;
  readonly flagged: number;
}

export async function operationsReport(context: ReportContext, range: DateRange): Promise<Report> {
  const dimensions: OperationsDimension[] = ['total', 'reason', 'terminal', 'hour'];
  const [[total, reasons, terminals, hours], flags] = await Promise.all([
    Promise.all(
      dimensions.map(async (dimension) =>
        (await bounded(context, operationsSql(context.database, range.from_ms, range.until_ms, dimension))).map((row): OperationCounts => ({
          key: text(row, 'key'),
          requests: int(row, 'requests'),
          approved: int(row, 'approved'),
          declined: int(row, 'declined'),
          insufficient_funds: int(row, 'insufficient_funds'),
          flagged: int(row, 'flagged'),
        })),
      ),
    ),
    bounded(context, flagsSql(context.database, range.from_ms, range.until_ms)),
  ]);
  const all = total?.[0] ?? { key: 'all', requests: 0, approved: 0, declined: 0, insufficient_funds: 0, flagged: 0 };
  const withRates = (counts: OperationCounts): ReportRow => ({
    requests: counts.requests,
    approved: counts.approved,
    declined: counts.declined,
    approval_rate: rate(counts.approved, counts.requests),
    decline_rate: rate(counts.declined, counts.requests),
    insufficient_funds: counts.insufficient_funds,
    insufficient_funds_rate: rate(counts.insufficient_funds, counts.requests),
    flagged: counts.flagged,
    flagged_rate: rate(counts.flagged, counts.requests),
  });
  const rate_columns = [
    'requests',
    'approved',
    'declined',
    'approval_rate',
    'decline_rate',
    'insufficient_funds',
    'insufficient_funds_rate',
    'flagged',
    'flagged_rate',
  ];
  return {
    report: 'operations',
    parameters: { from: range.from, to: range.to },
    sections: {
      summary: { columns: rate_columns, rows: [withRates(all)], single: true },
      by_reason: {
        columns: ['reason', 'declined', 'share_of_requests', 'share_of_declines'],
        rows: (reasons ?? [])
          .filter((row) => row.declined > 0)
          .map((row) => ({
            reason: row.key,
            declined: row.declined,
            share_of_requests: rate(row.declined, all.requests),
            share_of_declines: rate(row.declined, all.declined),
          })),
      },
      by_terminal: {
        columns: ['terminal', ...rate_columns],
        rows: (terminals ?? []).map((row) => ({ terminal: row.key, ...withRates(row) })),
      },
      by_hour: {
        columns: ['hour', ...rate_columns],
        rows: (hours ?? []).map((row) => ({ hour: hourLabel(Number(row.key)), ...withRates(row) })),
      },
      by_flag: {
        columns: ['flag', 'transactions', 'approved', 'amount_minor'],
        rows: flags.map((row) => pick(row, { text: ['flag'], ints: ['transactions', 'approved', 'amount_minor'] })),
      },
    },
  };
}

// ---- 5. card history ------------------------------------------------------------------------

const history_text = [
  'entry',
  'id',
  'card',
  'type',
  'outcome',
  'reason',
  'currency',
  'terminal',
  'merchant',
  'status',
  'reverse',
  'replacement',
];
const history_ints = ['at_ms', 'amount_minor', 'requested_minor', 'balance_after_minor'];

/** The card and every card it replaced or was replaced by, transitively, sorted. */
export async function replacementChain(context: ReportContext, card: string): Promise<string[]> {
  const chain = new Set([card]);
  for (let hop = 0; hop <= replacement_chain_max; hop += 1) {
    const rows = await bounded(context, replacementsSql(context.database, [...chain].sort()));
    const before = chain.size;
    for (const row of rows) {
      chain.add(text(row, 'card'));
      chain.add(text(row, 'replacement'));
    }
    if (chain.size === before) return [...chain].sort();
  }
  throw new ReportTooLargeError('the card was replaced more often than one history follows', { replacement_chain_max });
}

export async function cardHistoryReport(context: ReportContext, card: string): Promise<Report> {
  const chain = await replacementChain(context, card);
  const [rows, state] = await Promise.all([
    bounded(context, cardHistorySql(context.database, chain), card_history_entries_max),
    context.cards.card(card),
  ]);
  if (rows.length === 0 && state === undefined) throw new ReportNotFoundError('no such card', { card });
  // A transaction carries the balance the authorizer computed after it, on its own card; a
  // lifecycle event moves no money except issuing, whose amount is the initial balance (and the
  // cancellation of an issue, which takes it off). Across a
  // replacement each entry shows the balance of the card it belongs to.
  const balances = new Map<string, number>();
  const entries = rows.map((row) => {
    const entry = pick(row, { text: history_text, ints: history_ints });
    const owner = entry['card'] as string;
    if (entry['entry'] === 'transaction') balances.set(owner, entry['balance_after_minor'] as number);
    else if (entry['type'] === 'card_issued') balances.set(owner, entry['amount_minor'] as number);
    // A cancelled issuance takes the initial balance off: the card holds nothing.
    else if (entry['type'] === 'card_issuance_cancelled') balances.set(owner, 0);
    return { at: new Date(entry['at_ms'] as number).toISOString(), ...entry, balance_after_minor: balances.get(owner) ?? null };
  });
  return {
    report: 'card_history',
    parameters: { card },
    sections: {
      entries: { columns: ['at', ...history_ints.slice(0, 1), ...history_text, ...history_ints.slice(1)], rows: entries },
      summary: {
        columns: ['card', 'cards', 'entries', 'last_balance_after_minor', 'redis_balance_minor'],
        rows: [
          {
            card,
            cards: chain.join(' '),
            entries: entries.length,
            last_balance_after_minor: balances.get(card) ?? null,
            redis_balance_minor: state?.balance_minor ?? null,
          },
        ],
        single: true,
      },
    },
  };
}

// ---- 6. event statistics --------------------------------------------------------------------

export async function eventStatisticsReport(context: ReportContext, program: string): Promise<Report> {
  const [totals, merchants, products, hours, minutes, declines] = await Promise.all([
    bounded(context, programTotalsSql(context.database, program)),
    bounded(context, topMerchantsSql(context.database, program)),
    bounded(context, topProductsSql(context.database, program)),
    bounded(context, salesPerHourSql(context.database, program)),
    bounded(context, salesPerMinuteSql(context.database, program)),
    bounded(context, declinesByReasonSql(context.database, program)),
  ]);
  if (totals.length === 0) throw new ReportNotFoundError('no such program', { program });
  const currencies = totals.map((row) => {
    const initial_minor = int(row, 'initial_minor');
    const top_ups_minor = int(row, 'top_ups_minor');
    const deposited_minor = initial_minor + top_ups_minor;
    const remaining_minor = initial_minor + int(row, 'delta_minor');
    if (!Number.isSafeInteger(remaining_minor) || !Number.isSafeInteger(deposited_minor))
      throw new Error('assertion: program totals exceed safe integers');
    return {
      currency: text(row, 'currency'),
      cards_issued: int(row, 'cards_issued'),
      initial_minor,
      top_ups_minor,
      deposited_minor,
      spent_minor: int(row, 'spent_minor'),
      reversed_minor: int(row, 'reversed_minor'),
      refunded_minor: int(row, 'refunded_minor'),
      remaining_minor,
      deposits_held_minor: int(row, 'deposits_held_minor'),
      payouts_minor: int(row, 'payouts_minor'),
    };
  });
  return {
    report: 'event_statistics',
    parameters: { program },
    sections: {
      totals: {
        columns: [
          'currency',
          'cards_issued',
          'initial_minor',
          'top_ups_minor',
          'deposited_minor',
          'spent_minor',
          'reversed_minor',
          'refunded_minor',
          'remaining_minor',
          'deposits_held_minor',
          'payouts_minor',
        ],
        rows: currencies,
      },
      top_merchants: {
        columns: ['merchant', 'currency', 'purchases', 'purchases_minor', 'reversals_minor', 'refunds_minor', 'net_sales_minor'],
        rows: merchants.map((row) =>
          pick(row, {
            text: ['merchant', 'currency'],
            ints: ['purchases', 'purchases_minor', 'reversals_minor', 'refunds_minor', 'net_sales_minor'],
          }),
        ),
      },
      top_products: {
        columns: ['code', 'product_group', 'currency', 'lines', 'qty_milli', 'amount_minor'],
        rows: products.map((row) =>
          pick(row, { text: ['code', 'product_group', 'currency'], ints: ['lines', 'qty_milli', 'amount_minor'] }),
        ),
      },
      sales_per_hour: {
        columns: ['hour', 'currency', 'purchases', 'purchases_minor', 'reversals_minor', 'refunds_minor'],
        rows: hours.map((row) => ({
          hour: hourLabel(int(row, 'hour')),
          ...pick(row, { text: ['currency'], ints: ['purchases', 'purchases_minor', 'reversals_minor', 'refunds_minor'] }),
        })),
      },
      ...liveSections(minutes, declines),
    },
  };
}

/** An event's sales per minute and declines by reason: what its organizer watches during the event. */
function liveSections(minutes: QueryRow[], declines: QueryRow[]): Report['sections'] {
  return {
    sales_per_minute: {
      columns: ['minute', 'currency', 'purchases', 'purchases_minor'],
      // The statement reads the newest minutes first (to keep the latest ones); shown oldest first.
      rows: [...minutes].reverse().map((row) => ({
        minute: minuteLabel(int(row, 'minute')),
        ...pick(row, { text: ['currency'], ints: ['purchases', 'purchases_minor'] }),
      })),
    },
    declines_by_reason: {
      columns: ['reason', 'declines', 'requested_minor'],
      rows: declines.map((row) => pick(row, { text: ['reason'], ints: ['declines', 'requested_minor'] })),
    },
  };
}

// ---- 7. operator audit trail ----------------------------------------------------------------

const audit_text = [
  'event_id',
  'type',
  'operator',
  'action',
  'subject',
  'card',
  'terminal',
  'merchant',
  'fleet',
  'status',
  'previous',
  'event',
  'detail',
  'reason',
  'approver',
];

const audit_record_text = ['event_id', 'action', 'principal', 'role', 'scope', 'approver', 'subject', 'before', 'after'];

/**
 * The operator audit trail in the range, optionally of one principal: `records`, the audit record
 * of every operator action (who, role, scope, approver, before and after; audit_log; of one
 * principal: its own actions and those it approved), and
 * `entries`, the lifecycle events and operator_action documents that name their operator.
 */
export async function auditReport(context: ReportContext, range: DateRange, principal: string | undefined): Promise<Report> {
  const [events, audited] = await Promise.all([
    bounded(context, auditSql(context.database, range.from_ms, range.until_ms, principal)),
    bounded(context, auditRecordsSql(context.database, range.from_ms, range.until_ms, principal)),
  ]);
  const rows = events.map((row) => ({ at: new Date(int(row, 'at_ms')).toISOString(), ...pick(row, { text: audit_text }) }));
  const records = audited.map((row) => ({ at: new Date(int(row, 'at_ms')).toISOString(), ...pick(row, { text: audit_record_text }) }));
  return {
    report: 'audit',
    parameters: principal === undefined ? { from: range.from, to: range.to } : { from: range.from, to: range.to, principal },
    sections: {
      entries: { columns: ['at', ...audit_text], rows },
      records: { columns: ['at', ...audit_record_text], rows: records },
    },
  };
}

// ---- 8. top-ups -----------------------------------------------------------------------------

/** Money loaded onto cards, per program, currency, source and day. */
export async function topUpsReport(context: ReportContext, range: DateRange): Promise<Report> {
  const rows = (await bounded(context, topUpsSql(context.database, range.from_ms, range.until_ms))).map((row) =>
    pick(row, { text: ['program', 'currency', 'source', 'day'], ints: ['top_ups', 'amount_minor'] }),
  );
  return {
    report: 'top_ups',
    parameters: { from: range.from, to: range.to },
    sections: { days: { columns: ['program', 'currency', 'source', 'day', 'top_ups', 'amount_minor'], rows } },
  };
}

// ---- 9. offline selling ---------------------------------------------------------------------

const offline_sales_money = ['offline_sales_minor', 'merchant_minor', 'voided_minor', 'spend_minor'];
const offline_debt_money = [
  'debt_created_minor',
  'debt_recovered_minor',
  'debt_voided_minor',
  'debt_outstanding_minor',
  'largest_debt_minor',
];

/**
 * Offline selling per program (docs/OFFLINE.md): its sales in the range by who carries them and
 * their share of all spending (`sales`), and the debt they left, what it is now and what was paid
 * back, the exposure (`debt`, over all time).
 */
export async function offlineReport(context: ReportContext, range: DateRange): Promise<Report> {
  const [salesRows, debtRows] = await Promise.all([
    bounded(context, offlineSalesSql(context.database, range.from_ms, range.until_ms)),
    bounded(context, offlineDebtSql(context.database)),
  ]);
  const sales = salesRows.map((row) => {
    const picked = pick(row, { text: ['program', 'currency'], ints: ['offline_sales', 'merchant_sales', ...offline_sales_money] });
    return { ...picked, offline_share: rate(picked['offline_sales_minor'] as number, picked['spend_minor'] as number) };
  });
  const debt = debtRows.map((row) => pick(row, { text: ['program', 'currency'], ints: ['cards_in_debt', ...offline_debt_money] }));
  return {
    report: 'offline',
    parameters: { from: range.from, to: range.to },
    sections: {
      sales: {
        columns: [
          'program',
          'currency',
          'offline_sales',
          'offline_sales_minor',
          'merchant_sales',
          'merchant_minor',
          'voided_minor',
          'spend_minor',
          'offline_share',
        ],
        rows: sales,
      },
      debt: { columns: ['program', 'currency', 'cards_in_debt', ...offline_debt_money], rows: debt },
    },
  };
}

/** Each terminal's grant, acknowledged denylist and how stale it is now, batches merged and entries missing. */
export async function offlineTerminalsReport(context: ReportContext): Promise<Report> {
  const now = (context.now ?? Date.now)();
  const rows = (await bounded(context, offlineTerminalsSql(context.database))).map((row) => {
    const picked = pick(row, {
      text: ['terminal', 'merchant'],
      ints: ['grant_number', 'grant_at_ms', 'acked_version', 'acked_behind', 'acked_at_ms', 'batches', 'missing_entries'],
    });
    const acked = picked['acked_at_ms'] as number;
    return { ...picked, staleness_ms: acked === 0 ? null : Math.max(0, now - acked) };
  });
  return {
    report: 'offline_terminals',
    parameters: {},
    sections: {
      terminals: {
        columns: [
          'terminal',
          'merchant',
          'grant_number',
          'grant_at_ms',
          'acked_version',
          'acked_behind',
          'acked_at_ms',
          'staleness_ms',
          'batches',
          'missing_entries',
        ],
        rows,
      },
    },
  };
}
