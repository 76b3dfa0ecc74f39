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
export const minute_ms = 60_000;
/** Minutes an event's live sales per minute covers: the latest minutes that had a sale. */
export const sales_minutes_max = 60;

const period_expression: Record<Granularity, string> = {
  day: `toString(toDate(at, 'UTC'))`,
  month: `toString(toStartOfMonth(at, 'UTC'))`,
};

/** An integer spliced into SQL: asserted, never parsed from text here. */
export function integer(value: number): string {
  if (!Number.isSafeInteger(value)) throw new Error(`assertion: ${String(value)} is not a safe integer`);
  return String(value);
}

/**
 * Rows with from_ms ≤ at_ms < until_ms. The same bounds on `at` (DateTime, seconds, the partition
 * key) exclude no matching row (at = floor(at_ms / 1000)) but let an engine that pushes predicates
 * into the FINAL views (current releases; 18.16 has enable_optimize_predicate_expression = 0)
 * skip whole months and parts by their min/max of `at`, which the at_ms condition alone does not.
 */
function timeRange(from_ms: number, until_ms: number): string {
  return `at_ms >= ${integer(from_ms)} AND at_ms < ${integer(until_ms)} AND at >= toDateTime(${integer(Math.floor(from_ms / 1000))}) AND at < toDateTime(${integer(Math.ceil(until_ms / 1000))})`;
}

const tables = (database: string) => ({
  transactions: `${identifier(database)}.transactions_dedup`,
  lifecycle: `${identifier(database)}.lifecycle_events_dedup`,
  /** The same transactions sorted by (merchant, at_ms, id) (migration 8): for merchant and time filters. */
  by_merchant: `${identifier(database)}.transactions_by_merchant_dedup`,
});

/**
 * Issues and cancelled issuances (CardService.CancelIssuance), signed: a cancellation takes off the
 * initial balance (`amount`) and deposit its issue had put on the card, so every sum over
 * `issue_sign * amount` reads a cancelled card as never issued (docs/REPORTING.md).
 */
const issuances = `type IN ('card_issued', 'card_issuance_cancelled')`;
const issue_sign = `if(type = 'card_issuance_cancelled', -1, 1)`;

/**
 * Kinds that spend stored value at a merchant (a completion is the captured part of a hold; an
 * offline sale charged to the card, docs/OFFLINE.md: one the merchant carries is declined).
 */
const spend_kinds = `('purchase', 'completion', 'offline_purchase')`;

/**
 * A reversal as merchants see it: of a purchase or completion (a sale taken back), or one that
 * found nothing to reverse (amount 0) — not one that only released a pre-authorization's hold,
 * which was never a sale. That release is the one reversal of a stored-value card with a nonzero
 * amount (the hold) and balance_delta 0; a fleet reversal always has balance_delta 0 (the account
 * is invoiced, not the card) and fleet cards have no holds. Written with columns that
 * transactions_by_merchant has too.
 */
const sale_reversal = `(kind = 'offline_void' OR (kind = 'reverse' AND (balance_delta != 0 OR fleet != '' OR amount = 0)))`;

/**
 * Transactions that move stored value. A fleet card's document (fleet != '') has balance_delta 0:
 * its amount is invoiced to the fleet account (credit), it is no part of the float. A document
 * that names a fleet and still moves a card balance is stored value and stays in.
 */
const stored_value = `(fleet = '' OR balance_delta != 0)`;

/**
 * Outstanding stored value per program and currency: issued initial balances + the sum of every
 * approved document's balance_delta (docs/OUTBOX.md), with the named components and the rest
 * (cash-outs, transfers, tab settlements) as other_minor; deposits held and payouts beside it.
 * Fleet cards (credit, invoiced to their account) are not stored value and are left out.
 */
export function floatSql(database: string, currency: string | undefined): string {
  const t = tables(database);
  const currencyFilter = currency === undefined ? '' : ` AND currency = ${stringLiteral(currency)}`;
  return `SELECT program, currency,
      sum(issued) AS issued_minor, sum(top_ups) AS top_ups_minor, sum(spend) AS spend_minor, sum(reversals) AS reversals_minor, sum(refunds) AS refunds_minor,
      sum(delta) - (sum(top_ups) - sum(spend) + sum(reversals) + sum(refunds)) AS other_minor,
      sum(issued) + sum(delta) AS outstanding_minor,
      sum(deposits) AS deposits_held_minor, sum(payouts) AS payouts_minor
    FROM (
      SELECT program, currency, toInt64(sum(${issue_sign} * amount)) AS issued, toInt64(0) AS top_ups, toInt64(0) AS spend, toInt64(0) AS reversals,
          toInt64(0) AS refunds, toInt64(0) AS delta, toInt64(sum(${issue_sign} * deposit)) AS deposits, toInt64(0) AS payouts
        FROM ${t.lifecycle} WHERE ${issuances} AND fleet = ''${currencyFilter} GROUP BY program, currency
      UNION ALL
      SELECT program, currency, toInt64(0), toInt64(sumIf(amount, kind = 'top_up')), toInt64(sumIf(amount, kind IN ${spend_kinds})), toInt64(sumIf(amount, ${sale_reversal})),
          toInt64(sumIf(amount, kind = 'refund')), toInt64(sum(balance_delta)), toInt64(sum(deposit_delta)), toInt64(sum(payout))
        FROM ${t.transactions} WHERE outcome = 'approved' AND ${stored_value}${currencyFilter} GROUP BY program, currency
    )
    GROUP BY program, currency ORDER BY program, currency
    LIMIT ${integer(report_rows_max + 1)}`;
}

/**
 * Each card's balance as the documents say: initial balance + the sum of balance_delta of its
 * approved documents. A fleet account's payment names no card (card = '') and is no card's.
 */
export function cardBalancesSql(database: string): string {
  const t = tables(database);
  return `SELECT card, sum(delta) AS balance_minor
    FROM (
      SELECT card, toInt64(${issue_sign} * amount) AS delta FROM ${t.lifecycle} WHERE ${issuances}
      UNION ALL
      SELECT card, toInt64(balance_delta) AS delta FROM ${t.transactions} WHERE outcome = 'approved' AND card != ''
    )
    GROUP BY card ORDER BY card
    LIMIT ${integer(reconciliation_cards_max + 1)}`;
}

/** Fleet accounts reconciled at most (each one's balance is compared with Redis). */
export const reconciliation_fleets_max = 100_000;

/**
 * Each fleet account's balance as the documents say: minus what its approved purchases and
 * completions invoiced, plus what its reversals and refunds gave back and the payments it made
 * (fleet_payment: `amount`; closing a cycle moves no money and has no transaction; the account starts at 0
 * when created, docs/FLEET_AND_RULES.md). Only accounts whose creation is in ClickHouse: a
 * document naming a fleet never created is not an account of this system (an account missing from
 * ClickHouse still shows, as missing_in_clickhouse, from the Redis side).
 */
export function fleetBalancesSql(database: string): string {
  const t = tables(database);
  return `SELECT fleet, sum(delta) AS balance_minor
    FROM (
      SELECT fleet, toInt64(0) AS delta, toUInt8(1) AS created FROM ${t.lifecycle} WHERE type = 'fleet_account_changed' AND event = 'created'
      UNION ALL
      SELECT fleet, toInt64(sumIf(invoiced, kind IN ('reverse', 'refund')) - sumIf(invoiced, kind IN ${spend_kinds}) + sumIf(amount, kind = 'fleet_payment')) AS delta,
          toUInt8(0) AS created
        FROM ${t.transactions} WHERE outcome = 'approved' AND fleet != '' GROUP BY fleet
    )
    GROUP BY fleet HAVING max(created) = 1 ORDER BY fleet
    LIMIT ${integer(reconciliation_fleets_max + 1)}`;
}

/** Rows of one merchant's sales per day, terminal or product (a month of days, a merchant's terminals and products). */
export const merchant_sales_rows_max = 10_000;

/**
 * One merchant's approved sales (purchases, completions and offline sales) per UTC day or per
 * terminal and currency, with what was taken back (reversals of sales, refunds) beside them.
 */
export function merchantSalesSql(database: string, merchant: string, from_ms: number, until_ms: number, key: 'day' | 'terminal'): string {
  const t = tables(database);
  return `SELECT ${key === 'day' ? period_expression.day : 'terminal'} AS key, currency,
      countIf(kind IN ${spend_kinds}) AS sales,
      toInt64(sumIf(amount, kind IN ${spend_kinds})) AS sales_minor,
      toInt64(sumIf(amount, ${sale_reversal})) + toInt64(sumIf(amount, kind = 'refund')) AS returned_minor
    FROM ${t.by_merchant}
    WHERE merchant = ${stringLiteral(merchant)} AND outcome = 'approved' AND ${timeRange(from_ms, until_ms)}
    GROUP BY key, currency HAVING sales > 0 OR returned_minor != 0 ORDER BY key, currency
    LIMIT ${integer(merchant_sales_rows_max + 1)}`;
}

/** One merchant's products sold (line items of approved sales): quantity and amount per product and currency, largest first. */
export function merchantProductsSql(database: string, merchant: string, from_ms: number, until_ms: number): string {
  const lines = `${identifier(database)}.transaction_lines_dedup`;
  return `SELECT code, product_group, currency, toInt64(sum(qty_milli)) AS qty_milli, toInt64(sum(amount)) AS amount_minor
    FROM ${lines}
    WHERE merchant = ${stringLiteral(merchant)} AND outcome = 'approved' AND kind IN ${spend_kinds} AND ${timeRange(from_ms, until_ms)}
    GROUP BY code, product_group, currency ORDER BY amount_minor DESC, code, currency
    LIMIT ${integer(merchant_sales_rows_max + 1)}`;
}

/** Counts and amounts per merchant (or terminal), currency and period. */
export function merchantsSql(database: string, from_ms: number, until_ms: number, granularity: Granularity, by: MerchantGrouping): string {
  const t = tables(database);
  const keys = by === 'terminal' ? 'merchant, terminal' : 'merchant';
  return `SELECT ${keys}, currency, ${period_expression[granularity]} AS period,
      countIf(kind IN ${spend_kinds} AND outcome = 'approved') AS purchases,
      toInt64(sumIf(amount, kind IN ${spend_kinds} AND outcome = 'approved')) AS purchases_minor,
      countIf(outcome = 'declined') AS declines,
      countIf(${sale_reversal} AND outcome = 'approved' AND reverse = 'reversed') AS reversals,
      toInt64(sumIf(amount, ${sale_reversal} AND outcome = 'approved')) AS reversals_minor,
      countIf(kind = 'top_up' AND outcome = 'approved') AS top_ups,
      toInt64(sumIf(amount, kind = 'top_up' AND outcome = 'approved')) AS top_ups_minor,
      countIf(kind = 'refund' AND outcome = 'approved') AS refunds,
      toInt64(sumIf(amount, kind = 'refund' AND outcome = 'approved')) AS refunds_minor
    FROM ${t.by_merchant}
    WHERE ${timeRange(from_ms, until_ms)}
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
      countIf(outcome = 'declined' AND reason = 'insufficient_funds') AS insufficient_funds,
      countIf(length(flags) > 0) AS flagged
    FROM ${t.transactions}
    WHERE ${timeRange(from_ms, until_ms)}
    GROUP BY key ORDER BY key
    LIMIT ${integer(report_rows_max + 1)}`;
}

/** Suspicious-flag counts: per flag, the transactions that carry it (one may carry several). */
export function flagsSql(database: string, from_ms: number, until_ms: number): string {
  const t = tables(database);
  return `SELECT arrayJoin(flags) AS flag, count() AS transactions, countIf(outcome = 'approved') AS approved, toInt64(sum(amount)) AS amount_minor
    FROM ${t.transactions}
    WHERE ${timeRange(from_ms, until_ms)} AND length(flags) > 0
    GROUP BY flag ORDER BY flag
    LIMIT ${integer(report_rows_max + 1)}`;
}

/** Replacements touching any of `cards` (either side); the history follows them to a fixed point. */
export function replacementsSql(database: string, cards: readonly string[]): string {
  const t = tables(database);
  const list = cards.map(stringLiteral).join(', ');
  return `SELECT card, replacement FROM ${t.lifecycle}
    WHERE type = 'card_replaced' AND (card IN (${list}) OR replacement IN (${list}))
    ORDER BY card, replacement
    LIMIT ${integer(report_rows_max + 1)}`;
}

/** Every transaction and lifecycle event of the cards (one card and its replacements), oldest first (events before transactions of the same millisecond). */
export function cardHistorySql(database: string, cards: readonly string[]): string {
  const t = tables(database);
  const list = `(${cards.map(stringLiteral).join(', ')})`;
  return `SELECT at_ms, entry, id, card, type, outcome, reason, amount_minor, requested_minor, currency, balance_after_minor, terminal, merchant, status, reverse, replacement
    FROM (
      SELECT toUInt64(at_ms) AS at_ms, 'lifecycle' AS entry, event_id AS id, card, type, '' AS outcome, reason,
          toInt64(amount) AS amount_minor, toInt64(0) AS requested_minor, currency, toInt64(0) AS balance_after_minor,
          terminal, merchant, status, '' AS reverse, replacement
        FROM ${t.lifecycle} WHERE card IN ${list}
      UNION ALL
      SELECT toUInt64(at_ms), 'transaction', id, card, kind, outcome, reason,
          toInt64(amount), toInt64(requested), currency, toInt64(balance_after),
          terminal, merchant, '', reverse, ''
        FROM ${t.transactions} WHERE card IN ${list}
    )
    ORDER BY at_ms, entry, id
    LIMIT ${integer(card_history_entries_max + 1)}`;
}

/** One program's money per currency: cards issued, initial balances, top-ups, spend, reversals, refunds, the balance_delta sum, deposits, payouts. */
export function programTotalsSql(database: string, program: string): string {
  const t = tables(database);
  const literal = stringLiteral(program);
  return `SELECT currency, sum(cards) AS cards_issued, sum(initial) AS initial_minor, sum(top_ups) AS top_ups_minor,
      sum(spent) AS spent_minor, sum(reversed) AS reversed_minor, sum(refunded) AS refunded_minor, sum(delta) AS delta_minor,
      sum(deposits) AS deposits_held_minor, sum(payouts) AS payouts_minor
    FROM (
      SELECT currency, toInt64(sum(${issue_sign})) AS cards, toInt64(sum(${issue_sign} * amount)) AS initial, toInt64(0) AS top_ups, toInt64(0) AS spent,
          toInt64(0) AS reversed, toInt64(0) AS refunded, toInt64(0) AS delta, toInt64(sum(${issue_sign} * deposit)) AS deposits, toInt64(0) AS payouts
        FROM ${t.lifecycle} WHERE ${issuances} AND program = ${literal} GROUP BY currency
      UNION ALL
      SELECT currency, toInt64(0), toInt64(0), toInt64(sumIf(amount, kind = 'top_up')), toInt64(sumIf(amount, kind IN ${spend_kinds})), toInt64(sumIf(amount, ${sale_reversal})),
          toInt64(sumIf(amount, kind = 'refund')), toInt64(sum(balance_delta)), toInt64(sum(deposit_delta)), toInt64(sum(payout))
        FROM ${t.transactions} WHERE outcome = 'approved' AND program = ${literal} GROUP BY currency
    )
    GROUP BY currency ORDER BY currency
    LIMIT ${integer(report_rows_max + 1)}`;
}

/** The program's merchants by net sales (purchases and completions − reversals − refunds), largest first. */
export function topMerchantsSql(database: string, program: string): string {
  const t = tables(database);
  return `SELECT merchant, currency,
      countIf(kind IN ${spend_kinds}) AS purchases,
      toInt64(sumIf(amount, kind IN ${spend_kinds})) AS purchases_minor,
      toInt64(sumIf(amount, ${sale_reversal})) AS reversals_minor,
      toInt64(sumIf(amount, kind = 'refund')) AS refunds_minor,
      toInt64(sumIf(amount, kind IN ${spend_kinds})) - toInt64(sumIf(amount, ${sale_reversal})) - toInt64(sumIf(amount, kind = 'refund')) AS net_sales_minor
    FROM ${t.transactions}
    WHERE outcome = 'approved' AND program = ${stringLiteral(program)} AND kind IN ('purchase', 'completion', 'reverse', 'refund', 'offline_purchase', 'offline_void')
    GROUP BY merchant, currency ORDER BY net_sales_minor DESC, merchant, currency
    LIMIT ${integer(top_merchants_max)}`;
}

/** The program's products by amount sold (line items of approved purchases and completions), largest first. */
export function topProductsSql(database: string, program: string): string {
  const lines = `${identifier(database)}.transaction_lines_dedup`;
  return `SELECT code, product_group, currency, count() AS lines, toInt64(sum(qty_milli)) AS qty_milli, toInt64(sum(amount)) AS amount_minor
    FROM ${lines}
    WHERE outcome = 'approved' AND program = ${stringLiteral(program)} AND kind IN ${spend_kinds}
    GROUP BY code, product_group, currency ORDER BY amount_minor DESC, code, currency
    LIMIT ${integer(top_merchants_max)}`;
}

/** The program's approved purchases, reversals and refunds per UTC hour. */
export function salesPerHourSql(database: string, program: string): string {
  const t = tables(database);
  return `SELECT intDiv(at_ms, ${integer(hour_ms)}) AS hour, currency,
      countIf(kind IN ${spend_kinds}) AS purchases,
      toInt64(sumIf(amount, kind IN ${spend_kinds})) AS purchases_minor,
      toInt64(sumIf(amount, ${sale_reversal})) AS reversals_minor,
      toInt64(sumIf(amount, kind = 'refund')) AS refunds_minor
    FROM ${t.transactions}
    WHERE outcome = 'approved' AND program = ${stringLiteral(program)} AND kind IN ('purchase', 'completion', 'reverse', 'refund', 'offline_purchase', 'offline_void')
    GROUP BY hour, currency ORDER BY hour, currency
    LIMIT ${integer(report_rows_max + 1)}`;
}

/**
 * The program's approved sales per UTC minute, of the latest minutes that had one (newest first;
 * the report puts them in time order): the live view of an event's till traffic.
 */
export function salesPerMinuteSql(database: string, program: string): string {
  const t = tables(database);
  return `SELECT intDiv(at_ms, ${integer(minute_ms)}) AS minute, currency,
      countIf(kind IN ${spend_kinds}) AS purchases,
      toInt64(sumIf(amount, kind IN ${spend_kinds})) AS purchases_minor
    FROM ${t.transactions}
    WHERE outcome = 'approved' AND program = ${stringLiteral(program)} AND kind IN ${spend_kinds}
    GROUP BY minute, currency ORDER BY minute DESC, currency
    LIMIT ${integer(sales_minutes_max)}`;
}

/** The program's declined requests per reason (all time), most frequent first. */
export function declinesByReasonSql(database: string, program: string): string {
  const t = tables(database);
  return `SELECT reason, toUInt64(count()) AS declines, toInt64(sum(requested)) AS requested_minor
    FROM ${t.transactions}
    WHERE outcome = 'declined' AND program = ${stringLiteral(program)}
    GROUP BY reason ORDER BY declines DESC, reason
    LIMIT ${integer(report_rows_max + 1)}`;
}

/**
 * What settlement needs from one merchant's period: approved purchases, completions, reversals
 * and refunds grouped by currency, kind and amount (the fee of a transaction depends on its amount
 * only, so fees are computed exactly per distinct amount in TypeScript, not in SQL). A reversal
 * that only released a hold is no sale taken back and is left out (no fee, nothing deducted);
 * delta_minor is what was taken back from the merchant, i.e. the amount (a fleet reversal's
 * balance_delta is 0 although the pump amount, paid to the station, is taken back).
 */
export function settlementAggregatesSql(database: string, merchant: string, from_ms: number, until_ms: number): string {
  const t = tables(database);
  return `SELECT currency, kind, toInt64(amount) AS amount_minor, count() AS count, toInt64(sum(amount)) AS delta_minor
    FROM ${t.by_merchant}
    WHERE outcome = 'approved' AND merchant = ${stringLiteral(merchant)} AND (kind IN ('purchase', 'completion', 'refund', 'top_up', 'offline_purchase') OR (${sale_reversal}))
      AND ${timeRange(from_ms, until_ms)}
    GROUP BY currency, kind, amount ORDER BY currency, kind, amount_minor
    LIMIT ${integer(report_rows_max + 1)}`;
}

/** Which of a fleet's documents an invoice reads: a time range, or exactly one billing cycle's. */
export type FleetSelection = { readonly from_ms: number; readonly until_ms: number } | { readonly cycle: number };

function fleetSelection(selection: FleetSelection): string {
  return 'cycle' in selection ? `cycle = ${integer(selection.cycle)}` : timeRange(selection.from_ms, selection.until_ms);
}

/** A fleet account's invoiced transactions (approved purchases, completions, reversals, refunds) of the selection, in time order. */
export function fleetTransactionsSql(database: string, fleet: string, selection: FleetSelection): string {
  const t = tables(database);
  return `SELECT id, toUInt64(at_ms) AS at_ms, kind, card, vehicle, driver, toInt64(odometer) AS odometer, merchant, terminal, currency,
      toInt64(pump) AS pump_minor, toInt64(invoiced) AS invoiced_minor, toInt64(discount) AS discount_minor, toUInt64(line_count) AS line_count,
      toInt64(points_redeemed) AS points_redeemed
    FROM ${t.transactions}
    WHERE fleet = ${stringLiteral(fleet)} AND outcome = 'approved' AND kind IN ('purchase', 'completion', 'reverse', 'refund', 'offline_purchase', 'offline_void')
      AND ${fleetSelection(selection)}
    ORDER BY at_ms, id
    LIMIT ${integer(report_rows_max + 1)}`;
}

/** The line items of those transactions, in time order. */
export function fleetLinesSql(database: string, fleet: string, selection: FleetSelection): string {
  const lines = `${identifier(database)}.transaction_lines_dedup`;
  return `SELECT id, toUInt64(line_no) AS line_no, toUInt64(at_ms) AS at_ms, kind, vehicle, driver, code, product_group, currency,
      toInt64(qty_milli) AS qty_milli, toInt64(pump_unit) AS pump_unit_minor, toInt64(unit) AS unit_minor, toInt64(amount) AS amount_minor, toInt64(invoiced) AS invoiced_minor
    FROM ${lines}
    WHERE fleet = ${stringLiteral(fleet)} AND outcome = 'approved' AND kind IN ('purchase', 'completion', 'reverse', 'refund', 'offline_purchase', 'offline_void')
      AND ${fleetSelection(selection)}
    ORDER BY at_ms, id, line_no
    LIMIT ${integer(report_rows_max + 1)}`;
}

/** Invoices a fleet statement replays at most (ten years of monthly cycles, and then some). */
export const fleet_statement_invoices_max = 10_000;

/** A fleet account's invoices (closed cycles) issued before `until_ms`, or the one of `cycle`, in cycle order. */
export function fleetInvoicesSql(
  database: string,
  fleet: string,
  selection: { readonly until_ms: number } | { readonly cycle: number },
): string {
  const where = 'cycle' in selection ? `cycle = ${integer(selection.cycle)}` : `at_ms < ${integer(selection.until_ms)}`;
  return `SELECT number, toUInt64(cycle) AS cycle, currency, toInt64(amount) AS amount_minor, toInt64(applied) AS applied_minor,
      toUInt64(opened_at_ms) AS opened_at_ms, toUInt64(due_at_ms) AS due_at_ms, toUInt64(at_ms) AS at_ms
    FROM ${identifier(database)}.fleet_invoices_dedup
    WHERE fleet = ${stringLiteral(fleet)} AND ${where}
    ORDER BY cycle
    LIMIT ${integer(fleet_statement_invoices_max + 1)}`;
}

/** A fleet account's approved payments before `until_ms`, in the order the account applied them. */
export function fleetPaymentsSql(database: string, fleet: string, until_ms: number): string {
  const t = tables(database);
  return `SELECT id, toUInt64(at_ms) AS at_ms, toUInt64(cycle) AS cycle, idempotency_key, currency, toInt64(amount) AS amount_minor
    FROM ${t.transactions}
    WHERE fleet = ${stringLiteral(fleet)} AND kind = 'fleet_payment' AND outcome = 'approved' AND at_ms < ${integer(until_ms)}
    ORDER BY at_ms, id
    LIMIT ${integer(report_rows_max + 1)}`;
}

/** What the fleet's cycles after `after_cycle` accrued before `until_ms`: spend not invoiced yet, signed. */
export function fleetUnbilledSql(database: string, fleet: string, after_cycle: number, until_ms: number): string {
  const t = tables(database);
  return `SELECT toInt64(sumIf(invoiced, kind IN ${spend_kinds}) - sumIf(invoiced, kind IN ('reverse', 'refund'))) AS unbilled_minor
    FROM ${t.transactions}
    WHERE fleet = ${stringLiteral(fleet)} AND outcome = 'approved' AND cycle > ${integer(after_cycle)} AND at_ms < ${integer(until_ms)}`;
}

/** The operator audit trail (migration 7's view) in the range, optionally of one operator, oldest first. */
export function auditSql(database: string, from_ms: number, until_ms: number, operator: string | undefined): string {
  const operatorFilter = operator === undefined ? '' : ` AND operator = ${stringLiteral(operator)}`;
  return `SELECT toUInt64(at_ms) AS at_ms, event_id, type, operator, action, subject, card, terminal, merchant, fleet, status, previous, event, detail, reason, approver
    FROM ${identifier(database)}.audit_trail_dedup
    WHERE ${timeRange(from_ms, until_ms)}${operatorFilter}
    ORDER BY at_ms, event_id
    LIMIT ${integer(report_rows_max + 1)}`;
}

/**
 * The audit records of operator actions in the range, oldest first; of one principal when given:
 * what it did, and what it approved as the second principal of a four-eyes action.
 */
export function auditRecordsSql(database: string, from_ms: number, until_ms: number, principal: string | undefined): string {
  const principalFilter =
    principal === undefined ? '' : ` AND (principal = ${stringLiteral(principal)} OR approver = ${stringLiteral(principal)})`;
  return `SELECT toUInt64(at_ms) AS at_ms, event_id, action, principal, role, scope, approver, subject, before, after
    FROM ${identifier(database)}.audit_log_dedup
    WHERE ${timeRange(from_ms, until_ms)}${principalFilter}
    ORDER BY at_ms, event_id
    LIMIT ${integer(report_rows_max + 1)}`;
}

/** Approved top-ups per program, currency, source (cash, psp, auto_reload, admin, pos) and UTC day, from the top_ups view. */
export function topUpsSql(database: string, from_ms: number, until_ms: number): string {
  return `SELECT program, currency, source, toString(toDate(at, 'UTC')) AS day, count() AS top_ups, toInt64(sum(amount)) AS amount_minor
    FROM ${identifier(database)}.top_ups_dedup
    WHERE outcome = 'approved' AND ${timeRange(from_ms, until_ms)}
    GROUP BY program, currency, source, day ORDER BY program, currency, source, day
    LIMIT ${integer(report_rows_max + 1)}`;
}

// ---- offline selling (docs/OFFLINE.md) ------------------------------------------------------

/**
 * Offline sales per program and currency in the range: those charged to cards (the issuer's),
 * those the merchant carries (their amount asked, `requested`: nothing moved), what voids gave
 * back, and all spending of the range (the offline share is the first over the last).
 */
export function offlineSalesSql(database: string, from_ms: number, until_ms: number): string {
  const t = tables(database);
  return `SELECT program, currency,
      countIf(kind = 'offline_purchase' AND outcome = 'approved') AS offline_sales,
      toInt64(sumIf(amount, kind = 'offline_purchase' AND outcome = 'approved')) AS offline_sales_minor,
      countIf(kind = 'offline_purchase' AND liability = 'merchant') AS merchant_sales,
      toInt64(sumIf(requested, kind = 'offline_purchase' AND liability = 'merchant')) AS merchant_minor,
      toInt64(sumIf(amount, kind = 'offline_void' AND outcome = 'approved')) AS voided_minor,
      toInt64(sumIf(amount, kind IN ${spend_kinds} AND outcome = 'approved')) AS spend_minor
    FROM ${t.transactions}
    WHERE fleet = '' AND ${timeRange(from_ms, until_ms)}
    GROUP BY program, currency ORDER BY program, currency
    LIMIT ${integer(report_rows_max + 1)}`;
}

/**
 * Debt per program and currency, over all time (a debt is what it is now, whenever it began): what
 * offline sales put on cards, what top-ups, refunds, returns and released holds paid back, what
 * voids cancelled, what is owed now, on how many cards, and the largest one card owes.
 */
export function offlineDebtSql(database: string): string {
  const t = tables(database);
  return `SELECT program, currency,
      toInt64(sum(created)) AS debt_created_minor, toInt64(sum(recovered)) AS debt_recovered_minor,
      toInt64(sum(voided)) AS debt_voided_minor, toInt64(sum(owed)) AS debt_outstanding_minor,
      countIf(owed > 0) AS cards_in_debt, toInt64(max(owed)) AS largest_debt_minor
    FROM (
      SELECT program, currency, card,
          sumIf(debt_delta, debt_delta > 0) AS created,
          -sumIf(debt_delta, debt_delta < 0 AND kind != 'offline_void') AS recovered,
          -sumIf(debt_delta, debt_delta < 0 AND kind = 'offline_void') AS voided,
          sum(debt_delta) AS owed
        FROM ${t.transactions} WHERE outcome = 'approved' AND debt_delta != 0
        GROUP BY program, currency, card
    )
    GROUP BY program, currency ORDER BY program, currency
    LIMIT ${integer(report_rows_max + 1)}`;
}

/**
/**
 * A refund campaign's sums per currency for one program (breakage-rules.ts): stored value before
 * the campaign opened, what moved while it ran (claims among it), what claims paid out, what moved
 * after its deadline, and the deposits still held at the deadline. Cards issued count by the time
 * of their issue. Fleet credit is no stored value and is left out, as in the float.
 */
export function breakageSql(database: string, program: string, opens_ms: number, deadline_ms: number): string {
  const t = tables(database);
  const [open, deadline] = [integer(opens_ms), integer(deadline_ms)];
  const during = `at_ms >= ${open} AND at_ms < ${deadline}`;
  return `SELECT currency, sum(before_open) AS float_at_open_minor, sum(during) AS movements_minor, sum(claims) AS claims,
      sum(claimed) AS claimed_minor, sum(after_deadline) AS after_deadline_minor, sum(deposits) AS deposits_at_deadline_minor
    FROM (
      SELECT currency, toInt64(sumIf(${issue_sign} * amount, at_ms < ${open})) AS before_open, toInt64(sumIf(${issue_sign} * amount, ${during})) AS during,
          toInt64(0) AS claims, toInt64(0) AS claimed, toInt64(sumIf(${issue_sign} * amount, at_ms >= ${deadline})) AS after_deadline,
          toInt64(sumIf(${issue_sign} * deposit, at_ms < ${deadline})) AS deposits
        FROM ${t.lifecycle} WHERE ${issuances} AND fleet = '' AND program = ${stringLiteral(program)} GROUP BY currency
      UNION ALL
      SELECT currency, toInt64(sumIf(balance_delta, at_ms < ${open})), toInt64(sumIf(balance_delta, ${during})),
          toInt64(countIf(kind = 'cash_out' AND ${during})), toInt64(sumIf(payout, kind = 'cash_out' AND ${during})),
          toInt64(sumIf(balance_delta, at_ms >= ${deadline})), toInt64(sumIf(deposit_delta, at_ms < ${deadline}))
        FROM ${t.transactions} WHERE outcome = 'approved' AND ${stored_value} AND program = ${stringLiteral(program)} GROUP BY currency
    )
    GROUP BY currency ORDER BY currency
    LIMIT ${integer(report_rows_max + 1)}`;
}

/**
 * Each terminal's offline life from its terminal_offline documents: its last grant, the denylist it
 * acknowledged last (the sum of its shard versions, how many changes it lacked, when), the batches
 * merged and the entry numbers missing after the last one, and its offline sales by liability.
 */
export function offlineTerminalsSql(database: string): string {
  const t = tables(database);
  return `SELECT terminal, any(merchant) AS merchant,
      toInt64(maxIf(version, event = 'grant')) AS grant_number, toInt64(maxIf(at_ms, event = 'grant')) AS grant_at_ms,
      toInt64(argMaxIf(version, at_ms, event = 'ack')) AS acked_version, toInt64(argMaxIf(behind, at_ms, event = 'ack')) AS acked_behind,
      toInt64(maxIf(at_ms, event = 'ack')) AS acked_at_ms,
      countIf(event = 'batch') AS batches, toInt64(argMaxIf(missing, at_ms, event = 'batch')) AS missing_entries
    FROM ${t.lifecycle} WHERE type = 'terminal_offline'
    GROUP BY terminal ORDER BY terminal
    LIMIT ${integer(report_rows_max + 1)}`;
}

/**
 * Product groups a tap pours, sold by the litre: a line's qty_milli is then millilitres, the paid
 * volume a tap's pour report is compared with (docs/REPORTING.md, "Beer taps").
 */
export const poured_groups: readonly string[] = ['beer', 'draught', 'cider', 'wine', 'soft_drink', 'water'];

/**
 * Per tap and UTC day number (at_ms / 86 400 000): millilitres paid at the tap (poured groups'
 * lines of approved purchases and completions not reversed) and millilitres the tap reported
 * (a sale's report by its time, a period's report by its start).
 */
export function tapVolumesSql(database: string, from_ms: number, until_ms: number, terminal: string | undefined): string {
  const t = tables(database);
  const lines = `${identifier(database)}.transaction_lines_dedup`;
  const pours = `${identifier(database)}.tap_pours_dedup`;
  const terminalFilter = terminal === undefined ? '' : ` AND terminal = ${stringLiteral(terminal)}`;
  const groups = `(${poured_groups.map(stringLiteral).join(', ')})`;
  const pourTime = `if(from_ms > 0, from_ms, at_ms)`;
  return `SELECT terminal, day, sum(paid) AS paid_ml, sum(poured) AS poured_ml, sum(reports) AS reports
    FROM (
      SELECT terminal, intDiv(at_ms, 86400000) AS day, toInt64(sum(qty_milli)) AS paid, toInt64(0) AS poured, toUInt64(0) AS reports
        FROM ${lines}
        WHERE outcome = 'approved' AND kind IN ${spend_kinds} AND product_group IN ${groups} AND ${timeRange(from_ms, until_ms)}${terminalFilter}
          AND id NOT IN (SELECT id FROM ${t.transactions} WHERE outcome = 'approved'${terminalFilter} AND idempotency_key IN
            (SELECT original FROM ${t.transactions} WHERE kind = 'reverse' AND outcome = 'approved'${terminalFilter}))
        GROUP BY terminal, day
      UNION ALL
      SELECT terminal, intDiv(${pourTime}, 86400000) AS day, toInt64(0), toInt64(sum(poured_ml)), toUInt64(count())
        FROM ${pours}
        WHERE ${pourTime} >= ${integer(from_ms)} AND ${pourTime} < ${integer(until_ms)}${terminalFilter}
        GROUP BY terminal, day
    )
    GROUP BY terminal, day ORDER BY terminal, day
    LIMIT ${integer(report_rows_max + 1)}`;
}

/** The range's pour reports that name a sale (by the sale's idempotency key). */
export function tapSalePoursSql(database: string, from_ms: number, until_ms: number, terminal: string | undefined): string {
  const terminalFilter = terminal === undefined ? '' : ` AND terminal = ${stringLiteral(terminal)}`;
  return `SELECT terminal, report, transaction, toInt64(poured_ml) AS poured_ml, toUInt64(at_ms) AS at_ms
    FROM ${identifier(database)}.tap_pours_dedup
    WHERE transaction != '' AND at_ms >= ${integer(from_ms)} AND at_ms < ${integer(until_ms)}${terminalFilter}
    ORDER BY terminal, at_ms, report
    LIMIT ${integer(report_rows_max + 1)}`;
}

/** Millilitres paid per sale (by idempotency key) among `keys`: poured groups' lines of approved purchases and completions. */
export function paidVolumeByKeySql(database: string, keys: readonly string[]): string {
  const t = tables(database);
  const groups = `(${poured_groups.map(stringLiteral).join(', ')})`;
  const keyList = keys.length === 0 ? `('')` : `(${keys.map(stringLiteral).join(', ')})`;
  return `SELECT idempotency_key AS sale, toInt64(sum(qty_milli)) AS paid_ml
    FROM ${t.transactions} ALL INNER JOIN
      (SELECT id, qty_milli FROM ${identifier(database)}.transaction_lines_dedup WHERE product_group IN ${groups}) USING id
    WHERE idempotency_key IN ${keyList} AND outcome = 'approved' AND kind IN ${spend_kinds}
    GROUP BY idempotency_key
    LIMIT ${integer(report_rows_max + 1)}`;
}
