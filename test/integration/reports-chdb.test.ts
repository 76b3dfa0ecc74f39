// Proves that the schema migrations and every report statement run on a *current* ClickHouse
// engine too (chdb embeds one in-process), giving the same exact numbers as the 18.16 server in
// reports.test.ts: the same seeded history is inserted twice (duplicates unmerged), and each
// report function runs its SQL through chdb. The authorizer's stored balances are replaced by the
// card states the history leaves, read from memory, so only the SQL is under test here.
//
// chdb is loaded from the project (package.json devDependency) or from TAPLINE_CHDB_PATH; when
// neither is present the suite fails: a missing engine is a broken install.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CardBalance, CardStateReader } from '../../services/reports/card-states';
import { fleetCycleInvoiceReport, fleetInvoiceReport } from '../../services/reports/fleet-invoice';
import { fleetStatementReport } from '../../services/reports/fleet-statement';
import { fleetCardsReport } from '../../services/reports/fleet-cards';
import { parseDate } from '../../services/reports/params';
import { sales_minutes_max, settlementAggregatesSql } from '../../services/reports/queries';
import { settlementLines, type FeeRate } from '../../services/reports/settlement-rules';
import {
  auditReport,
  topUpsReport,
  cardHistoryReport,
  eventStatisticsReport,
  floatReport,
  merchantsReport,
  offlineReport,
  offlineTerminalsReport,
  operationsReport,
  reconciliationReport,
  int,
  text,
  type QueryRow,
  type Report,
  type ReportContext,
} from '../../services/reports/reports';
import { terminalHistoryReport, terminalsLastSeenReport, terminalStatisticsReport } from '../../services/reports/terminal-reports';
import { transactionLinesReport } from '../../services/reports/transaction-lines';
import { ReportNotFoundError } from '../../services/reports/errors';
import { rowsOf } from '../../services/streamer/rows';
import { terminalOffline, transactionDocument } from '../../actors/outbox/builders';
import { addColumnSql, migrations } from '../../services/streamer/schema/migrations';
import { identifier } from '../../services/streamer/sql';
import {
  expectedAudit,
  expectedFleetVehicles,
  expectedFleetCardVehicles,
  expectedTopUps,
  expectedFloat,
  expectedMerchants,
  expectedOperations,
  expectedProgram,
  expectedSettlementLines,
  expectedTopProducts,
  expectedSalesPerMinute,
  expectedDeclines,
  reportHistory,
  type History,
} from '../support/reports-fixtures';

/** The part of chdb's Session this test uses (typed here so the project compiles without chdb). */
interface ChdbSession {
  query(sql: string, format?: string): string;
  close(): void;
}

function loadChdb(): { Session: new (path?: string) => ChdbSession } | undefined {
  for (const candidate of ['chdb', process.env['TAPLINE_CHDB_PATH']]) {
    if (candidate === undefined || candidate === '') continue;
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      return require(candidate) as { Session: new (path?: string) => ChdbSession };
    } catch {
      // Not installed there; try the next place.
    }
  }
  return undefined;
}

const shard_count = 64;
const database = 'reports_chdb';
const seed = Number(process.env['TAPLINE_TEST_SEED'] ?? Date.now() % 1_000_000);

describe('report SQL on a current ClickHouse engine (chdb)', function () {
  let session: ChdbSession;
  let directory: string;
  let history: History;
  let context: ReportContext;

  before(function () {
    const chdb = loadChdb();
    // chdb is a devDependency: a missing engine is a broken install, not a reason to skip.
    if (chdb === undefined) throw new Error('chdb is not installed: run npm install (devDependency chdb), or set TAPLINE_CHDB_PATH');
    console.log(`    seed ${seed} (replay with TAPLINE_TEST_SEED=${seed})`);
    directory = mkdtempSync(join(tmpdir(), 'tapline-chdb-'));
    session = new chdb.Session(directory);
    console.log(`    engine ${session.query('SELECT version()', 'TSV').trim()}`);
    session.query(`CREATE DATABASE IF NOT EXISTS ${identifier(database)}`);
    // Migration statements name their tables unqualified, as on a server connection whose
    // default database is the target.
    session.query(`USE ${identifier(database)}`);
    // Twice: every statement must be idempotent (an AddColumn is skipped when system.columns has it).
    for (let round = 0; round < 2; round += 1) {
      for (const migration of migrations) {
        for (const statement of migration.statements(database)) {
          if (typeof statement === 'string') session.query(statement);
          else if ('backfill' in statement) session.query(statement.backfill);
          else if (
            Number(
              session
                .query(
                  `SELECT count() FROM system.columns WHERE database = '${database}' AND table = '${statement.add_column.table}' AND name = '${statement.add_column.column}'`,
                  'TSV',
                )
                .trim(),
            ) === 0
          )
            session.query(addColumnSql(statement));
        }
      }
    }
    history = reportHistory(seed, 24, 400, shard_count);
    const rows = history.documents.flatMap((document, index) =>
      rowsOf({ shard: document.shard, streamId: `1-${index}`, document: document.json }),
    );
    const again = history.transactions.flatMap((t, index) => rowsOf({ shard: 0, streamId: `9-${index}`, document: JSON.stringify(t) }));
    for (const table of ['transactions', 'transaction_lines', 'lifecycle_events'] as const) {
      for (const batch of [rows, table === 'lifecycle_events' ? [] : again]) {
        const values = batch.filter((row) => row.table === table).map((row) => JSON.stringify(row.values));
        if (values.length > 0)
          session.query(`INSERT INTO ${identifier(database)}.${identifier(table)} FORMAT JSONEachRow\n${values.join('\n')}`);
      }
    }
    const raw = session.query(`SELECT count() FROM ${identifier(database)}.transactions`, 'TSV').trim();
    assert.equal(Number(raw), 2 * history.transactions.length, 'duplicates are present');
    const states = new Map<string, CardBalance>(
      history.cards.map((card) => [card.card, { balance_minor: card.balance_minor, currency: card.currency, program: card.program }]),
    );
    const cards: CardStateReader = {
      allBalances: () => Promise.resolve({ cards: new Map(states), fleets: new Map() }),
      card: (cardId) => Promise.resolve(states.get(cardId)),
      close: () => undefined,
    };
    const query = (sql: string): Promise<QueryRow[]> => {
      const text = session.query(sql, 'JSONEachRow');
      return Promise.resolve(
        text.trim() === ''
          ? []
          : text
              .trim()
              .split('\n')
              .map((line) => JSON.parse(line) as QueryRow),
      );
    };
    context = { query, database, cards };
  });

  after(function () {
    session?.close();
    if (directory !== undefined) rmSync(directory, { recursive: true, force: true });
  });

  const range = (from: string, to: string) => ({ from, to, from_ms: parseDate('from', from), until_ms: parseDate('to', to) + 86_400_000 });

  it('float and reconciliation give the exact 18.16 numbers', async function () {
    assert.deepEqual((await floatReport(context, undefined)).sections['programs']?.rows, expectedFloat(history));
    assert.deepEqual((await floatReport(context, 'CHF')).sections['programs']?.rows, expectedFloat(history, 'CHF'));
    const reconciliation = await reconciliationReport(context);
    assert.deepEqual(reconciliation.sections['summary']?.rows, [
      { cards_checked: history.cards.length, differences: 0, fleet_accounts_checked: 0 },
    ]);
  });

  it('the audit trail and the top-ups report give the exact rows', async function () {
    const report = await auditReport(context, range('2026-01-31', '2026-02-01'), undefined);
    assert.deepEqual(
      report.sections['entries']?.rows.map((e) => [e['type'], e['operator'], Date.parse(String(e['at']))]).sort(),
      expectedAudit(history)
        .map((e) => [e.type, e.operator, e.at])
        .sort(),
    );
    const top_ups = await topUpsReport(context, range('2026-01-31', '2026-02-01'));
    assert.deepEqual(top_ups.sections['days']?.rows, expectedTopUps(history, Date.UTC(2026, 0, 31), Date.UTC(2026, 1, 2)));
    const one = await auditReport(context, range('2026-01-31', '2026-02-01'), 'ops-9');
    assert.deepEqual(
      one.sections['entries']?.rows.map((e) => e['action']),
      ['set_fee_rates'],
    );
  });

  it('the fleet invoice gives the exact vehicles and consumption', async function () {
    const report = await fleetInvoiceReport(context, 'fleet-acme', range('2026-02-01', '2026-02-01'));
    assert.deepEqual(report.sections['vehicles']?.rows, expectedFleetVehicles(history, 'fleet-acme'));
    // The fleet's card list: the history issues no fleet card (its cards are program cards), so only its vehicles.
    const listed = await fleetCardsReport(context, 'fleet-acme');
    assert.deepEqual(listed.sections['cards']?.rows, []);
    assert.deepEqual(listed.sections['vehicles']?.rows, expectedFleetCardVehicles(history, 'fleet-acme'));
    assert.equal(report.sections['transactions']?.rows.length, history.transactions.filter((t) => t.fleet === 'fleet-acme').length);
    assert.equal(
      report.sections['lines']?.rows.length,
      history.transactions.filter((t) => t.fleet === 'fleet-acme').reduce((sum, t) => sum + (t.lines ?? []).length, 0),
    );
  });

  it('the invoice of a billing cycle and the statement: documents without a cycle are cycle 1, the invoice adds up, payments replay', async function () {
    const sign: Record<string, number> = { purchase: 1, completion: 1, reverse: -1, refund: -1 };
    const cycle1 = history.transactions
      .filter((t) => t.fleet === 'fleet-acme' && t.outcome === 'approved')
      .reduce((sum, t) => sum + (sign[t.kind] ?? 0) * (t.invoiced ?? t.amount), 0);
    const issued_at = Date.UTC(2026, 1, 3);
    const invoice = {
      type: 'fleet_invoice',
      fleet: 'fleet-acme',
      number: 'fleet-acme-1',
      cycle: 1,
      currency: 'CHF',
      amount: cycle1,
      applied: 0,
      opened_at: Date.UTC(2026, 0, 1),
      due_at: issued_at + 10 * 86_400_000,
      operator: 'ops-1',
      at: issued_at,
    };
    const payment = {
      ...history.transactions[0]!,
      id: 'pay-1',
      kind: 'fleet_payment',
      outcome: 'approved',
      card: '',
      program: 'fleet-acme',
      terminal: '',
      merchant: '',
      amount: 1_000,
      requested: 1_000,
      currency: 'CHF',
      key: 'k:fleet-payment:fleet-acme:bank-1',
      original: '',
      reason: '',
      rule: '',
      reverse: '',
      at: issued_at + 86_400_000,
      fleet: 'fleet-acme',
      pump: 0,
      invoiced: 0,
      balance_delta: 0,
      cycle: 2,
    };
    for (const [document, streamId] of [
      [invoice, '7-1'],
      [payment, '7-2'],
    ] as const) {
      for (const row of rowsOf({ shard: 3, streamId, document: JSON.stringify(document) }))
        session.query(`INSERT INTO ${identifier(database)}.${identifier(row.table)} FORMAT JSONEachRow\n${JSON.stringify(row.values)}`);
    }
    const report = await fleetCycleInvoiceReport(context, 'fleet-acme', 1);
    assert.equal(report.sections['invoice']?.rows[0]?.['amount_minor'], cycle1);
    assert.deepEqual(
      report.sections['vehicles']?.rows,
      expectedFleetVehicles(history, 'fleet-acme'),
      'the same documents as the range invoice',
    );
    await assert.rejects(fleetCycleInvoiceReport(context, 'fleet-acme', 2), /no invoice for this cycle/);
    const statement = await fleetStatementReport(context, 'fleet-acme', range('2026-01-01', '2026-02-28'));
    assert.deepEqual(statement.sections['summary']?.rows[0], {
      fleet: 'fleet-acme',
      currency: 'CHF',
      from: '2026-01-01',
      to: '2026-02-28',
      opening_minor: 0,
      invoiced_minor: cycle1,
      paid_minor: 1_000,
      closing_minor: cycle1 - 1_000,
      overdue_minor: cycle1 - 1_000,
      unbilled_minor: 0,
    });
    assert.deepEqual(
      statement.sections['open_items']?.rows.map((row) => [row['number'], row['outstanding_minor'], row['days_overdue']]),
      [['fleet-acme-1', cycle1 - 1_000, 16]],
    );
  });

  it('settlement aggregates give the exact batch lines', async function () {
    const rates: FeeRate[] = [
      { kind: 'purchase', percent_bp: 175, fixed_minor: 5 },
      { kind: 'refund', percent_bp: 0, fixed_minor: 20 },
    ];
    for (const merchant of ['bar-0', 'bar-2']) {
      const [from_ms, until_ms] = [Date.UTC(2026, 0, 31), Date.UTC(2026, 1, 2)];
      const rows = await context.query(settlementAggregatesSql(database, merchant, from_ms, until_ms));
      const lines = settlementLines(
        rows.map((row) => ({
          currency: text(row, 'currency'),
          kind: text(row, 'kind'),
          amount_minor: int(row, 'amount_minor'),
          count: int(row, 'count'),
          delta_minor: int(row, 'delta_minor'),
        })),
        rates,
      );
      assert.deepEqual(lines, expectedSettlementLines(history, merchant, from_ms, until_ms, rates), merchant);
      assert.ok(lines.length > 0);
    }
  });

  it('merchants, operations, card history and event statistics run and agree', async function () {
    const days = range('2026-01-31', '2026-02-01');
    for (const [granularity, by] of [
      ['day', 'merchant'],
      ['month', 'merchant'],
      ['day', 'terminal'],
    ] as const) {
      const report = await merchantsReport(context, days, granularity, by);
      assert.deepEqual(
        report.sections['periods']?.rows,
        expectedMerchants(history, days.from_ms, days.until_ms, granularity, by),
        `${granularity} by ${by}`,
      );
    }
    const operations = await operationsReport(context, days);
    const expected = expectedOperations(history, days.from_ms, days.until_ms);
    const summary = operations.sections['summary']?.rows[0];
    assert.deepEqual(
      [summary?.['requests'], summary?.['approved'], summary?.['declined'], summary?.['insufficient_funds']],
      [expected.requests, expected.approved, expected.declined, expected.insufficient_funds],
    );
    assert.equal(operations.sections['by_hour']?.rows.length, expected.by_hour.size);
    assert.equal(summary?.['flagged'], expected.flagged);
    assert.deepEqual(
      operations.sections['by_flag']?.rows,
      [...expected.by_flag.entries()].map(([flag, counts]) => ({ flag, ...counts })),
    );
    const history_report = await cardHistoryReport(context, 'card-01');
    assert.equal(history_report.sections['entries']?.rows.length, 2 + history.transactions.filter((t) => t.card === 'card-01').length);
    const replaced = await cardHistoryReport(context, 'card-00r');
    assert.equal(
      replaced.sections['entries']?.rows.length,
      3 + history.transactions.filter((t) => t.card === 'card-00' || t.card === 'card-00r').length,
    );
    for (const program of ['festival-2026', 'fleet.west']) {
      const statistics = await eventStatisticsReport(context, program);
      assert.deepEqual(statistics.sections['totals']?.rows, [expectedProgram(history, program)]);
      assert.deepEqual(statistics.sections['top_products']?.rows, expectedTopProducts(history, program));
      assert.deepEqual(statistics.sections['sales_per_minute']?.rows, expectedSalesPerMinute(history, program, sales_minutes_max));
      assert.deepEqual(statistics.sections['declines_by_reason']?.rows, expectedDeclines(history, program));
      assert.ok(
        (statistics.sections['top_merchants']?.rows.length ?? 0) > 0 && (statistics.sections['sales_per_hour']?.rows.length ?? 0) > 0,
      );
    }
  });
  it("a terminal's history and statistics give the exact counts and sums of its transactions", async function () {
    const day_ms = 86_400_000;
    const times = history.transactions.map((t) => t.at);
    const day = (ms: number): string => new Date(Math.floor(ms / day_ms) * day_ms).toISOString().slice(0, 10);
    const whole = range(day(Math.min(...times)), day(Math.max(...times)));
    for (const [merchant, terminal] of [
      ['bar-0', 'pos-0'],
      ['bar-1', 'pos-4'],
    ] as const) {
      const own = history.transactions.filter((t) => t.merchant === merchant && t.terminal === terminal);
      assert.ok(own.length > 0, `the history has transactions at ${terminal}`);
      const report = await terminalHistoryReport(context, merchant, terminal, whole);
      assert.equal(report.sections['entries']?.rows.length, own.length, `${terminal}: every transaction once`);
      const sale = (t: (typeof own)[number]): boolean => (t.kind === 'purchase' || t.kind === 'completion') && t.outcome === 'approved';
      const days = new Map<string, { day: string; currency: string; sales: number; sales_minor: number; declines: number }>();
      const declines = new Map<string, number>();
      const cashiers = new Map<string, { cashier: string; currency: string; sales: number; sales_minor: number }>();
      for (const t of own) {
        const key = `${day(t.at)}|${t.currency}`;
        const row = days.get(key) ?? { day: day(t.at), currency: t.currency, sales: 0, sales_minor: 0, declines: 0 };
        if (sale(t)) {
          row.sales += 1;
          row.sales_minor += t.amount;
          const by = cashiers.get(t.currency) ?? { cashier: '', currency: t.currency, sales: 0, sales_minor: 0 };
          by.sales += 1;
          by.sales_minor += t.amount;
          cashiers.set(t.currency, by);
        }
        if (t.outcome === 'declined') {
          row.declines += 1;
          declines.set(t.reason, (declines.get(t.reason) ?? 0) + 1);
        }
        days.set(key, row);
      }
      const sorted = <T>(map: Map<string, T>): T[] => [...map.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, v]) => v);
      const statistics = await terminalStatisticsReport(context, merchant, terminal, whole);
      assert.deepEqual(statistics.sections['days']?.rows, sorted(days), `${terminal}: sales per day`);
      assert.deepEqual(
        statistics.sections['declines']?.rows,
        sorted(declines).map((count, index) => ({ reason: [...declines.keys()].sort()[index], declines: count })),
        `${terminal}: declines by reason`,
      );
      assert.deepEqual(statistics.sections['cashiers']?.rows, sorted(cashiers), `${terminal}: sales per cashier`);
      // Another merchant's terminal id reads nothing (the merchant filters every query).
      const foreign = await terminalHistoryReport(context, 'bar-2', terminal, whole);
      assert.equal(foreign.sections['entries']?.rows.length, 0);
    }
  });

  it("the terminals' last seen and a transaction's line items are exact over duplicated rows, and only their owner's", async function () {
    for (const merchant of ['bar-0', 'bar-1']) {
      const latest = new Map<string, number>();
      for (const t of history.transactions)
        if (t.merchant === merchant && t.terminal !== '') latest.set(t.terminal, Math.max(latest.get(t.terminal) ?? 0, t.at));
      const report = await terminalsLastSeenReport(context, merchant);
      assert.deepEqual(
        report.sections['terminals']?.rows.map((row) => [row['terminal'], row['last_at_ms']]),
        [...latest.entries()].sort(([a], [b]) => (a < b ? -1 : 1)),
        `${merchant}: each terminal's latest transaction`,
      );
    }
    const sale = history.transactions.find((t) => (t.lines?.length ?? 0) > 1 && t.card !== '' && t.merchant !== '');
    assert.ok(sale !== undefined, 'the history has a sale with a basket');
    const expected = (sale.lines ?? []).map((line) => [line.code, line.qty_milli, line.unit, line.amount]);
    const shown = (report: Report): unknown[] =>
      (report.sections['lines']?.rows ?? []).map((row) => [row['code'], row['qty_milli'], row['unit_minor'], row['amount_minor']]);
    assert.deepEqual(shown(await transactionLinesReport(context, { card: sale.card }, sale.id)), expected, 'as its card');
    assert.deepEqual(shown(await transactionLinesReport(context, { merchant: sale.merchant }, sale.id)), expected, 'as its merchant');
    const other = history.transactions.find((t) => t.card !== sale.card && t.card !== '')?.card ?? 'nobody';
    await assert.rejects(transactionLinesReport(context, { card: other }, sale.id), ReportNotFoundError, "another card's");
    await assert.rejects(transactionLinesReport(context, { merchant: 'nobody' }, sale.id), ReportNotFoundError, "another merchant's");
  });

  // Last: it adds documents of its own program, which the exact numbers above do not count.
  it('the offline reports run on the current engine too: sales by liability, debt, terminals', async function () {
    const at = Date.UTC(2026, 0, 31, 22, 0, 0);
    const where = { merchantId: 'bar-off', programId: 'offline-chdb' };
    const sale = (n: number, amount: number, extras: Parameters<typeof transactionDocument>[4], outcome: 'approved' | 'declined') =>
      transactionDocument(
        { key: `o:t-off:${n}`, terminalId: 't-off', amountMinor: amount, originalKey: '', source: 'offline', operatorId: '' },
        where,
        {
          id: `off-${n}`,
          kind: 'offline_purchase',
          outcome,
          ...(outcome === 'declined' ? { reason: 'merchant_liability', rule: 'offline:denylisted' } : {}),
          cardId: `off-card-${n}`,
          amountMinor: outcome === 'approved' ? amount : 0,
          currency: 'EUR',
          balanceAfterMinor: -300,
          atMs: at,
        },
        '',
        extras,
      );
    const documents = [
      sale(1, 800, { balance_delta: -800, offline_at: at - 1_000, liability: 'issuer', debt_delta: 300, debt_after: 300 }, 'approved'),
      sale(2, 250, { balance_delta: 0, offline_at: at - 1_000, liability: 'merchant' }, 'declined'),
      terminalOffline({ terminal: 't-off', merchant: 'bar-off', event: 'grant', version: 3, at: at - 5_000 }),
      terminalOffline({ terminal: 't-off', merchant: 'bar-off', event: 'ack', version: 41, behind: 2, at: at - 4_000 }),
      terminalOffline({ terminal: 't-off', merchant: 'bar-off', event: 'batch', version: 1, entries: 2, missing: 1, at }),
    ];
    for (const [index, document] of documents.entries())
      for (const row of rowsOf({ shard: 1, streamId: `77-${index}`, document }))
        session.query(`INSERT INTO ${identifier(database)}.${identifier(row.table)} FORMAT JSONEachRow\n${JSON.stringify(row.values)}`);
    const report = await offlineReport(context, range('2026-01-31', '2026-02-01'));
    const sales = report.sections['sales']?.rows.find((row) => row['program'] === 'offline-chdb');
    assert.deepEqual(
      [
        sales?.['offline_sales'],
        sales?.['offline_sales_minor'],
        sales?.['merchant_sales'],
        sales?.['merchant_minor'],
        sales?.['offline_share'],
      ],
      [1, 800, 1, 250, 1],
    );
    const debt = report.sections['debt']?.rows.find((row) => row['program'] === 'offline-chdb');
    assert.deepEqual(
      [debt?.['debt_created_minor'], debt?.['debt_outstanding_minor'], debt?.['cards_in_debt'], debt?.['largest_debt_minor']],
      [300, 300, 1, 300],
    );
    const terminals = await offlineTerminalsReport({ ...context, now: () => at + 6_000 });
    assert.deepEqual(terminals.sections['terminals']?.rows, [
      {
        terminal: 't-off',
        merchant: 'bar-off',
        grant_number: 3,
        grant_at_ms: at - 5_000,
        acked_version: 41,
        acked_behind: 2,
        acked_at_ms: at - 4_000,
        staleness_ms: 10_000,
        batches: 1,
        missing_entries: 1,
      },
    ]);
  });
});
