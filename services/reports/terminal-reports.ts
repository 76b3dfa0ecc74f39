// Per-terminal reports: a terminal's transaction history and its statistics (approved sales per
// UTC day and currency, declines by reason, sales per cashier), both for one merchant's terminal:
// every query filters on the merchant of the path as well as the terminal, so a merchant admin
// (scoped to the merchant) never reads another merchant's rows through a terminal id. And when
// each of a merchant's terminals was last seen: its latest transaction, approved or not.
//
//   GET /reports/merchants/<merchant>/terminals                                   sections: terminals
//   GET /reports/merchants/<merchant>/terminals/<terminal>/history?from=&to=      sections: entries
//   GET /reports/merchants/<merchant>/terminals/<terminal>/statistics?from=&to=   sections: days, declines, cashiers
//
// Sales are approved purchases and completions (what a merchant is paid for); amounts in minor
// units of their currency, never summed across currencies.

import { identifier, stringLiteral } from '../streamer/sql';
import type { DateRange } from './params';
import { integer } from './queries';
import { bounded, int, text, type Report, type ReportContext } from './reports';

/** Entries one history answer carries; a longer history is narrowed by its date range. */
export const terminal_history_entries_max = 10_000;

const sales = `kind IN ('purchase', 'completion') AND outcome = 'approved'`;

function where(database: string, merchant: string, terminal: string, range: DateRange): string {
  const from_s = Math.floor(range.from_ms / 1000);
  const until_s = Math.ceil(range.until_ms / 1000);
  return `FROM ${identifier(database)}.transactions_dedup
    WHERE merchant = ${stringLiteral(merchant)} AND terminal = ${stringLiteral(terminal)}
      AND at_ms >= ${integer(range.from_ms)} AND at_ms < ${integer(range.until_ms)}
      AND at >= toDateTime(${integer(from_s)}) AND at < toDateTime(${integer(until_s)})`;
}

export function terminalHistorySql(database: string, merchant: string, terminal: string, range: DateRange): string {
  return `SELECT toUInt64(at_ms) AS at_ms, id, kind, outcome, reason, card, toInt64(amount) AS amount_minor,
      toInt64(requested) AS requested_minor, currency, cashier
    ${where(database, merchant, terminal, range)}
    ORDER BY at_ms, id
    LIMIT ${integer(terminal_history_entries_max + 1)}`;
}

export function terminalSalesPerDaySql(database: string, merchant: string, terminal: string, range: DateRange): string {
  return `SELECT toString(toDate(at, 'UTC')) AS day, currency, toUInt64(countIf(${sales})) AS sales,
      toInt64(sumIf(amount, ${sales})) AS sales_minor, toUInt64(countIf(outcome = 'declined')) AS declines
    ${where(database, merchant, terminal, range)}
    GROUP BY day, currency
    ORDER BY day, currency`;
}

export function terminalDeclinesSql(database: string, merchant: string, terminal: string, range: DateRange): string {
  return `SELECT reason, toUInt64(count()) AS declines
    ${where(database, merchant, terminal, range)} AND outcome = 'declined'
    GROUP BY reason
    ORDER BY reason`;
}

export function terminalCashiersSql(database: string, merchant: string, terminal: string, range: DateRange): string {
  return `SELECT cashier, currency, toUInt64(count()) AS sales, toInt64(sum(amount)) AS sales_minor
    ${where(database, merchant, terminal, range)} AND ${sales}
    GROUP BY cashier, currency
    ORDER BY cashier, currency`;
}

export async function terminalHistoryReport(context: ReportContext, merchant: string, terminal: string, range: DateRange): Promise<Report> {
  const rows = await bounded(context, terminalHistorySql(context.database, merchant, terminal, range), terminal_history_entries_max);
  const entries = rows.map((row) => ({
    at: new Date(int(row, 'at_ms')).toISOString(),
    at_ms: int(row, 'at_ms'),
    id: text(row, 'id'),
    kind: text(row, 'kind'),
    outcome: text(row, 'outcome'),
    reason: text(row, 'reason'),
    card: text(row, 'card'),
    amount_minor: int(row, 'amount_minor'),
    requested_minor: int(row, 'requested_minor'),
    currency: text(row, 'currency'),
    cashier: text(row, 'cashier'),
  }));
  return {
    report: 'terminal_history',
    parameters: { merchant, terminal, from: range.from, to: range.to },
    sections: {
      entries: {
        columns: ['at', 'at_ms', 'id', 'kind', 'outcome', 'reason', 'card', 'amount_minor', 'requested_minor', 'currency', 'cashier'],
        rows: entries,
      },
    },
  };
}

export async function terminalStatisticsReport(
  context: ReportContext,
  merchant: string,
  terminal: string,
  range: DateRange,
): Promise<Report> {
  const [days, declines, cashiers] = await Promise.all([
    bounded(context, terminalSalesPerDaySql(context.database, merchant, terminal, range)),
    bounded(context, terminalDeclinesSql(context.database, merchant, terminal, range)),
    bounded(context, terminalCashiersSql(context.database, merchant, terminal, range)),
  ]);
  return {
    report: 'terminal_statistics',
    parameters: { merchant, terminal, from: range.from, to: range.to },
    sections: {
      days: {
        columns: ['day', 'currency', 'sales', 'sales_minor', 'declines'],
        rows: days.map((row) => ({
          day: text(row, 'day'),
          currency: text(row, 'currency'),
          sales: int(row, 'sales'),
          sales_minor: int(row, 'sales_minor'),
          declines: int(row, 'declines'),
        })),
      },
      declines: {
        columns: ['reason', 'declines'],
        rows: declines.map((row) => ({ reason: text(row, 'reason'), declines: int(row, 'declines') })),
      },
      cashiers: {
        columns: ['cashier', 'currency', 'sales', 'sales_minor'],
        rows: cashiers.map((row) => ({
          cashier: text(row, 'cashier'),
          currency: text(row, 'currency'),
          sales: int(row, 'sales'),
          sales_minor: int(row, 'sales_minor'),
        })),
      },
    },
  };
}

/** Terminals one merchant's last-seen answer lists (the portal lists at most 1,000 of a merchant's). */
export const merchant_terminals_max = 10_000;

/**
 * The latest transaction of each of a merchant's terminals. It reads transactions_by_merchant
 * (sorted by merchant, so only this merchant's rows) without FINAL: a row streamed twice has the
 * same instant, so the latest one is exact before any merge. Nothing is written for it on the
 * authorization path: the transactions are in ClickHouse already.
 */
export function terminalsLastSeenSql(database: string, merchant: string): string {
  return `SELECT terminal, toUInt64(max(at_ms)) AS last_at_ms, toUInt64(count()) AS transactions
    FROM ${identifier(database)}.transactions_by_merchant
    WHERE merchant = ${stringLiteral(merchant)} AND terminal != ''
    GROUP BY terminal
    ORDER BY terminal
    LIMIT ${integer(merchant_terminals_max + 1)}`;
}

export async function terminalsLastSeenReport(context: ReportContext, merchant: string): Promise<Report> {
  const rows = await bounded(context, terminalsLastSeenSql(context.database, merchant), merchant_terminals_max);
  return {
    report: 'merchant_terminals',
    parameters: { merchant },
    sections: {
      terminals: {
        columns: ['terminal', 'last_at', 'last_at_ms'],
        rows: rows.map((row) => ({
          terminal: text(row, 'terminal'),
          last_at: new Date(int(row, 'last_at_ms')).toISOString(),
          last_at_ms: int(row, 'last_at_ms'),
        })),
      },
    },
  };
}
