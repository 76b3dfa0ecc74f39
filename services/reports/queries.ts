// The SQL of every report. Pure: each function takes validated values and returns one
// statement. Text enters only through identifier() (the database) and stringLiteral() (ids that
// params.ts already held to [A-Za-z0-9._-]); numbers only through `integer()`, which asserts a
// safe integer. Fixed fragments (period expressions) come from constant maps keyed by enums.
//
// The subset that runs on ClickHouse 18.16 and current releases: exact reads go through the
// *_dedup views (FINAL); times are compared as at_ms (UInt64) integers, so no DateTime64 and no
// time-zone-dependent parsing of caller text; calendar buckets use toDate/toStartOfMonth with an
// explicit 'UTC' argument and hour buckets are intDiv(at_ms, 3600000); UNION ALL branches have
// identical column types (toInt64 / String) because 18.16 does not find a common supertype; no
// window functions, no query parameters, no LowCardinality.

import { identifier, stringLiteral } from '../streamer/sql';

export type Granularity = 'day' | 'month';
export type MerchantGrouping = 'merchant' | 'terminal';

/** Longest answer of a row-listing report; a report that would exceed it asks for a narrower range. */
export const report_rows_max = 100_000;
/** Cards in one reconciliation (both sides are held in memory to compare). */
export const reconciliation_cards_max = 1_000_000;
/** Entries in one card history. */
export const card_history_entries_max = 100_000;
/** Merchants listed in an event's top list. */
export const top_merchants_max = 10;

export const hour_ms = 3_600_000;

const period_expression: Record<Granularity, string> = {
  day: `toString(toDate(at, 'UTC'))`,
  month: `toString(toStartOfMonth(at, 'UTC'))`,
};

/** An integer spliced into SQL: asserted, never parsed from text here. */
export function integer(value: number): string {
  if (!Number.isSafeInteger(value)) throw new Error(`assertion: ${String(value)} is not a safe integer`);
  return String(value);
}

const tables = (database: string) => ({
  transactions: `${identifier(database)}.transactions_dedup`,
  lifecycle: `${identifier(database)}.lifecycle_events_dedup`,
});

/** Outstanding stored value per program and currency, with its four components. */
export function floatSql(database: string, currency: string | undefined): string {
  const t = tables(database);
  const currencyFilter = currency === undefined ? '' : ` AND currency = ${stringLiteral(currency)}`;
  return `SELECT program, currency,
      sum(issued) AS issued_minor, sum(top_ups) AS top_ups_minor, sum(spend) AS spend_minor, sum(reversals) AS reversals_minor,
      sum(issued) + sum(top_ups) - sum(spend) + sum(reversals) AS outstanding_minor
    FROM (
      SELECT program, currency, toInt64(sum(amount)) AS issued, toInt64(0) AS top_ups, toInt64(0) AS spend, toInt64(0) AS reversals
        FROM ${t.lifecycle} WHERE type = 'card_issued'${currencyFilter} GROUP BY program, currency
      UNION ALL
      SELECT program, currency, toInt64(0), toInt64(sumIf(amount, kind = 'top_up')), toInt64(sumIf(amount, kind = 'purchase')), toInt64(sumIf(amount, kind = 'reverse'))
        FROM ${t.transactions} WHERE outcome = 'approved'${currencyFilter} GROUP BY program, currency
    )
    GROUP BY program, currency ORDER BY program, currency
    LIMIT ${integer(report_rows_max + 1)}`;
}

/** Each card's balance as the events say: initial balance + top-ups − purchases + reversals. */
export function cardBalancesSql(database: string): string {
  const t = tables(database);
  return `SELECT card, sum(delta) AS balance_minor
    FROM (
      SELECT card, toInt64(amount) AS delta FROM ${t.lifecycle} WHERE type = 'card_issued'
      UNION ALL
      SELECT card, toInt64(if(kind = 'purchase', -amount, amount)) AS delta FROM ${t.transactions} WHERE outcome = 'approved'
    )
    GROUP BY card ORDER BY card
    LIMIT ${integer(reconciliation_cards_max + 1)}`;
}

/** Counts and amounts per merchant (or terminal), currency and period. */
export function merchantsSql(database: string, from_ms: number, until_ms: number, granularity: Granularity, by: MerchantGrouping): string {
  const t = tables(database);
  const keys = by === 'terminal' ? 'merchant, terminal' : 'merchant';
  return `SELECT ${keys}, currency, ${period_expression[granularity]} AS period,
      countIf(kind = 'purchase' AND outcome = 'approved') AS purchases,
      toInt64(sumIf(amount, kind = 'purchase' AND outcome = 'approved')) AS purchases_minor,
      countIf(outcome = 'declined') AS declines,
      countIf(kind = 'reverse' AND outcome = 'approved' AND reverse = 'reversed') AS reversals,
      toInt64(sumIf(amount, kind = 'reverse' AND outcome = 'approved')) AS reversals_minor,
      countIf(kind = 'top_up' AND outcome = 'approved') AS top_ups,
      toInt64(sumIf(amount, kind = 'top_up' AND outcome = 'approved')) AS top_ups_minor
    FROM ${t.transactions}
    WHERE at_ms >= ${integer(from_ms)} AND at_ms < ${integer(until_ms)}
    GROUP BY ${keys}, currency, period ORDER BY ${keys}, currency, period
    LIMIT ${integer(report_rows_max + 1)}`;
}

export type OperationsDimension = 'total' | 'reason' | 'terminal' | 'hour';

const operations_key: Record<OperationsDimension, string> = {
  total: `'all'`,
  reason: `if(outcome = 'approved', 'approved', reason)`,
  terminal: 'terminal',
  hour: `toString(intDiv(at_ms, ${integer(hour_ms)}))`,
};

/** Approval and decline counts of all money requests in the range, grouped by one dimension. */
export function operationsSql(database: string, from_ms: number, until_ms: number, dimension: OperationsDimension): string {
  const t = tables(database);
  return `SELECT ${operations_key[dimension]} AS key,
      count() AS requests,
      countIf(outcome = 'approved') AS approved,
      countIf(outcome = 'declined') AS declined,
      countIf(outcome = 'declined' AND reason = 'insufficient_funds') AS insufficient_funds
    FROM ${t.transactions}
    WHERE at_ms >= ${integer(from_ms)} AND at_ms < ${integer(until_ms)}
    GROUP BY key ORDER BY key
    LIMIT ${integer(report_rows_max + 1)}`;
}

/** Every transaction and lifecycle event of one card, oldest first (events before transactions of the same millisecond). */
export function cardHistorySql(database: string, card: string): string {
  const t = tables(database);
  const literal = stringLiteral(card);
  return `SELECT at_ms, entry, id, type, outcome, reason, amount_minor, requested_minor, currency, balance_after_minor, terminal, merchant, status, reverse
    FROM (
      SELECT toUInt64(at_ms) AS at_ms, 'lifecycle' AS entry, event_id AS id, type, '' AS outcome, reason,
          toInt64(amount) AS amount_minor, toInt64(0) AS requested_minor, currency, toInt64(0) AS balance_after_minor,
          terminal, merchant, status, '' AS reverse
        FROM ${t.lifecycle} WHERE card = ${literal}
      UNION ALL
      SELECT toUInt64(at_ms), 'transaction', id, kind, outcome, reason,
          toInt64(amount), toInt64(requested), currency, toInt64(balance_after),
          terminal, merchant, '', reverse
        FROM ${t.transactions} WHERE card = ${literal}
    )
    ORDER BY at_ms, entry, id
    LIMIT ${integer(card_history_entries_max + 1)}`;
}

/** One program's money: cards issued, initial balances, top-ups, spend and reversals per currency. */
export function programTotalsSql(database: string, program: string): string {
  const t = tables(database);
  const literal = stringLiteral(program);
  return `SELECT currency, sum(cards) AS cards_issued, sum(initial) AS initial_minor, sum(top_ups) AS top_ups_minor,
      sum(spent) AS spent_minor, sum(reversed) AS reversed_minor
    FROM (
      SELECT currency, toUInt64(count()) AS cards, toInt64(sum(amount)) AS initial, toInt64(0) AS top_ups, toInt64(0) AS spent, toInt64(0) AS reversed
        FROM ${t.lifecycle} WHERE type = 'card_issued' AND program = ${literal} GROUP BY currency
      UNION ALL
      SELECT currency, toUInt64(0), toInt64(0), toInt64(sumIf(amount, kind = 'top_up')), toInt64(sumIf(amount, kind = 'purchase')), toInt64(sumIf(amount, kind = 'reverse'))
        FROM ${t.transactions} WHERE outcome = 'approved' AND program = ${literal} GROUP BY currency
    )
    GROUP BY currency ORDER BY currency
    LIMIT ${integer(report_rows_max + 1)}`;
}

/** The program's merchants by net sales (purchases − reversals), largest first. */
export function topMerchantsSql(database: string, program: string): string {
  const t = tables(database);
  return `SELECT merchant, currency,
      countIf(kind = 'purchase') AS purchases,
      toInt64(sumIf(amount, kind = 'purchase')) AS purchases_minor,
      toInt64(sumIf(amount, kind = 'reverse')) AS reversals_minor,
      toInt64(sumIf(amount, kind = 'purchase')) - toInt64(sumIf(amount, kind = 'reverse')) AS net_sales_minor
    FROM ${t.transactions}
    WHERE outcome = 'approved' AND program = ${stringLiteral(program)} AND kind IN ('purchase', 'reverse')
    GROUP BY merchant, currency ORDER BY net_sales_minor DESC, merchant, currency
    LIMIT ${integer(top_merchants_max)}`;
}

/** The program's approved purchases and reversals per UTC hour. */
export function salesPerHourSql(database: string, program: string): string {
  const t = tables(database);
  return `SELECT intDiv(at_ms, ${integer(hour_ms)}) AS hour, currency,
      countIf(kind = 'purchase') AS purchases,
      toInt64(sumIf(amount, kind = 'purchase')) AS purchases_minor,
      toInt64(sumIf(amount, kind = 'reverse')) AS reversals_minor
    FROM ${t.transactions}
    WHERE outcome = 'approved' AND program = ${stringLiteral(program)} AND kind IN ('purchase', 'reverse')
    GROUP BY hour, currency ORDER BY hour, currency
    LIMIT ${integer(report_rows_max + 1)}`;
}
