// Proves the reports service against a real Redis and a real ClickHouse (the Debian 18.16
// server): a seeded, exactly-known history is XADDed in the authorizer's format and carried into
// ClickHouse by the real streamer, then its transactions are inserted a second time through the
// streamer's sink (duplicates not yet merged). Every report must show the numbers that plain
// loops compute from the same history, to the minor unit; CSV carries a header and the same
// numbers; reconciliation against the stored card states, read through a real authorizer node's
// AdminService.ListBalances on the same Redis, finds no difference until one card is tampered
// with, and then exactly that card; hostile or malformed parameters are answered 400
// naming the parameter without a single query reaching ClickHouse; and the process entry
// announces its port and exits 0 on SIGTERM. Every wait polls an observable condition.
//
// No string-literal round trip through a report filter is tested here: every text a caller can
// put into a filter is an id held to [A-Za-z0-9._-]{1,64} (or an ISO currency / enum) before it
// reaches stringLiteral(), so no quote or backslash can arrive there; stringLiteral() itself is
// round-tripped through ClickHouse in streamer.test.ts.

import assert from 'node:assert/strict';
import { createClient } from 'redis';
import { shardOf } from '../../actors/sharding/shard-key';
import { cardKey } from '../../services/authorizer/store/keys';
import { createLogger } from '../../services/common/logger';
import { startClickHouse, type ClickHouseInstance } from '../../tools/devenv/clickhouse';
import { startServerProcess } from '../../tools/devenv/node-process';
import { pickFreePort } from '../../tools/devenv/supervise';
import type { RedisInstance } from '../../tools/devenv/redis';
import type { AuthorizerCardStates } from '../../services/reports/card-states';
import type { AuthorizerNode } from '../../services/authorizer/node';
import { ClickHouseRunner } from '../../services/reports/clickhouse-runner';
import { ReportsServer } from '../../services/reports/server';
import { ClickHouseSink } from '../../services/streamer/clickhouse-sink';
import { loadStreamerConfig } from '../../services/streamer/config';
import { rowsOf } from '../../services/streamer/rows';
import { migrate } from '../../services/streamer/schema/migrate';
import { Streamer } from '../../services/streamer/streamer';
import { sales_minutes_max } from '../../services/reports/queries';
import {
  startInProcessNode,
  startTestRedis,
  test_shard_count,
  testDataDir,
  waitFor,
  reportsProcessEnv,
  reportsRequest,
  reportsSecurity,
  testCardStates,
} from '../support/harness';
import { appendToOutbox, rawTransactionRows, reportTotals, streamerEnv } from '../support/outbox-fixtures';
import {
  expectedAudit,
  expectedFleetVehicles,
  expectedTopUps,
  expectedFloat,
  expectedMerchants,
  expectedOperations,
  expectedProgram,
  expectedTopProducts,
  expectedSalesPerMinute,
  expectedDeclines,
  float_columns,
  history_start_ms,
  reportHistory,
  writeCardStates,
  type History,
} from '../support/reports-fixtures';

/** The fixture writes card states where a node with this shard count reads them. */
const shard_count = test_shard_count;
const database = 'reports_it';
const seed = Number(process.env['TAPLINE_TEST_SEED'] ?? Date.now() % 1_000_000);
const logger = createLogger('reports-test', process.env['TAPLINE_TEST_LOG_LEVEL'] ?? 'warn');
const day_ms = 86_400_000;

interface Answer {
  readonly status: number;
  readonly type: string;
  readonly body: string;
}

/** A GET over HTTPS with a token the route allows, the path sent byte for byte (fetch would normalise backslashes and dots). */
async function get(port: number, path: string, method = 'GET'): Promise<Answer> {
  const reply = await reportsRequest(port, path, { method });
  return { status: reply.status, type: String(reply.headers['content-type'] ?? ''), body: reply.body };
}

async function getJson(port: number, path: string): Promise<Record<string, unknown>> {
  const answer = await get(port, path);
  assert.equal(answer.status, 200, `GET ${path}: ${answer.body}`);
  assert.match(answer.type, /^application\/json/);
  return JSON.parse(answer.body) as Record<string, unknown>;
}

/** CSV back into rows, numbers as numbers (the fixture has no quoted cells). */
function parseCsv(text: string): Record<string, string | number | null>[] {
  const [header, ...lines] = text.trimEnd().split('\r\n');
  const columns = (header ?? '').split(',');
  return lines.map((line) =>
    Object.fromEntries(
      line
        .split(',')
        .map((cell, index) => [columns[index] ?? '', cell === '' ? null : /^-?[0-9]+(\.[0-9]+)?$/.test(cell) ? Number(cell) : cell]),
    ),
  );
}

describe('reports (real Redis + ClickHouse 18.16)', function () {
  let redis: RedisInstance;
  let clickhouse: ClickHouseInstance;
  let runner: ClickHouseRunner;
  let node: AuthorizerNode;
  let cards: AuthorizerCardStates;
  let server: ReportsServer;
  let history: History;
  let queries = 0;

  before(async function () {
    console.log(`    seed ${seed} (replay with TAPLINE_TEST_SEED=${seed})`);
    [redis, clickhouse] = await Promise.all([startTestRedis('reports-it'), startClickHouse({ dataDir: testDataDir('reports-it-ch') })]);
    await migrate(clickhouse.url, database);
    history = reportHistory(seed, 24, 400, shard_count);
    await writeCardStates(redis.url, history.cards, shard_count);
    await appendToOutbox(redis.url, history.documents);
    const streamer = await Streamer.start(loadStreamerConfig(streamerEnv(redis.url, clickhouse.url, database)), logger);
    const lifecycle_events = history.documents.length - history.transactions.length;
    try {
      let seen = '';
      await waitFor(
        'history streamed into ClickHouse',
        async () => {
          const totals = await reportTotals(clickhouse.url, database);
          seen = JSON.stringify(totals);
          return totals.transactions === history.transactions.length && totals.lifecycle_events === lifecycle_events;
        },
        () => `${seen}, expected ${history.transactions.length} transactions and ${lifecycle_events} events`,
        15_000,
        100,
      );
    } finally {
      await streamer.stop();
    }
    // The same transactions again, as a streamer that crashed before XACK would send them.
    const sink = new ClickHouseSink({ url: clickhouse.url, database, insert_timeout_ms: 10_000 });
    try {
      await sink.insert(
        history.transactions.flatMap((t, index) =>
          rowsOf({ shard: shardOf('card', t.card, shard_count), streamId: `9-${index}`, document: JSON.stringify(t) }),
        ),
      );
    } finally {
      await sink.close();
    }
    assert.equal(await rawTransactionRows(clickhouse.url, database), 2 * history.transactions.length, 'duplicates are present, unmerged');
    runner = new ClickHouseRunner(clickhouse.url, database, 30_000);
    node = await startInProcessNode(redis.url);
    cards = await testCardStates(node);
    const counted = async (sql: string) => {
      queries += 1;
      return runner.query(sql);
    };
    server = await ReportsServer.start({ query: counted, database, cards }, 0, logger, await reportsSecurity());
  });

  after(async function () {
    await server?.stop(1_000);
    cards?.close();
    await Promise.all([runner?.close(), node?.shutdown()]);
    await Promise.all([redis?.stop(), clickhouse?.stop()]);
  });

  it('float: issued + every balance movement per program and currency (refunds, cash-outs, transfers), deposits held, payouts; exact, JSON and CSV, by currency', async function () {
    const all = await getJson(server.port, '/reports/float');
    assert.deepEqual(all['programs'], expectedFloat(history));
    const eur = await getJson(server.port, '/reports/float?currency=EUR');
    assert.deepEqual(eur['programs'], expectedFloat(history, 'EUR'));
    assert.equal((eur['programs'] as unknown[]).length, 1);
    const csv = await get(server.port, '/reports/float?format=csv');
    assert.match(csv.type, /^text\/csv/);
    assert.ok(csv.body.startsWith(`program,currency,${float_columns.join(',')}\r\n`), csv.body);
    const festival = expectedFloat(history, 'EUR')[0];
    assert.ok(
      festival !== undefined &&
        (festival['refunds_minor'] as number) > 0 &&
        (festival['payouts_minor'] as number) > 0 &&
        (festival['deposits_held_minor'] as number) > 0,
      'the history has refunds, payouts and deposits',
    );
    assert.deepEqual(parseCsv(csv.body), expectedFloat(history));
  });

  it('reconciliation: zero differences while Redis matches, then exactly the tampered card, then exactly the unreadable one', async function () {
    const clean = await getJson(server.port, '/reports/reconciliation');
    assert.deepEqual(clean['summary'], { cards_checked: history.cards.length, differences: 0, fleet_accounts_checked: 0 });
    assert.deepEqual(clean['differences'], []);
    const victim = history.cards[5];
    assert.ok(victim !== undefined);
    const client = createClient({ url: redis.url });
    await client.connect();
    const key = cardKey(shardOf('card', victim.card, shard_count), victim.card);
    try {
      const original = await client.sendCommand(['HGET', key, 'd']);
      assert.ok(typeof original === 'string', 'the card has a state in Redis');
      const state = JSON.parse(original) as { balanceMinor: number };
      await client.sendCommand(['HSET', key, 'd', JSON.stringify({ ...state, balanceMinor: state.balanceMinor + 7 })]);
      const tampered = await getJson(server.port, '/reports/reconciliation');
      assert.deepEqual(tampered['summary'], { cards_checked: history.cards.length, differences: 1, fleet_accounts_checked: 0 });
      assert.deepEqual(tampered['differences'], [
        {
          card: victim.card,
          clickhouse_minor: victim.balance_minor,
          redis_minor: victim.balance_minor + 7,
          difference: 7,
          problem: 'balance_differs',
        },
      ]);
      const csv = await get(server.port, '/reports/reconciliation?format=csv');
      assert.deepEqual(parseCsv(csv.body), tampered['differences']);
      const summary = await get(server.port, '/reports/reconciliation?format=csv&section=summary');
      assert.equal(summary.body, `cards_checked,differences,fleet_accounts_checked\r\n${history.cards.length},1,0\r\n`);
      await client.sendCommand(['HSET', key, 'd', original]);
      // A state the authorizer cannot read is listed as such, never compared with a guessed balance.
      await client.sendCommand(['HSET', key, 'd', '{"balanceMinor":']);
      const unreadable = await getJson(server.port, '/reports/reconciliation');
      assert.deepEqual(unreadable['differences'], [
        {
          card: victim.card,
          clickhouse_minor: victim.balance_minor,
          redis_minor: null,
          difference: -victim.balance_minor,
          problem: 'unreadable_in_redis',
        },
      ]);
      await client.sendCommand(['HSET', key, 'd', original]);
      assert.deepEqual((await getJson(server.port, '/reports/reconciliation'))['differences'], [], 'consistent again');
    } finally {
      await client.close();
    }
  });

  it('an unreachable authorizer fails reconciliation and card history with 503: no balance is guessed', async function () {
    const nowhere = await testCardStates(`127.0.0.1:${await pickFreePort()}`, 2_000);
    const cut = await ReportsServer.start({ query: runner.query, database, cards: nowhere }, 0, logger, await reportsSecurity());
    try {
      for (const path of ['/reports/reconciliation', '/reports/cards/card-01/history']) {
        const answer = await get(cut.port, path);
        assert.equal(answer.status, 503, `${path}: ${answer.body}`);
        assert.deepEqual(JSON.parse(answer.body), { error: { code: 'unavailable', message: 'authorizer query failed' } }, path);
      }
    } finally {
      await cut.stop(1_000);
      nowhere.close();
    }
  });

  it('merchants: counts and amounts per merchant or terminal, per UTC day or month', async function () {
    const from_ms = Date.UTC(2026, 0, 31);
    const until_ms = Date.UTC(2026, 1, 1) + day_ms;
    for (const [granularity, by] of [
      ['day', 'merchant'],
      ['month', 'merchant'],
      ['day', 'terminal'],
    ] as const) {
      const path = `/reports/merchants?from=2026-01-31&to=2026-02-01&granularity=${granularity}&by=${by}`;
      const expected = expectedMerchants(history, from_ms, until_ms, granularity, by);
      assert.ok(expected.length > 0);
      assert.deepEqual((await getJson(server.port, path))['periods'], expected, path);
      assert.deepEqual(parseCsv((await get(server.port, `${path}&format=csv`)).body), expected, `${path} as CSV`);
    }
    const periods = new Set(expectedMerchants(history, from_ms, until_ms, 'day', 'merchant').map((row) => row['period']));
    assert.deepEqual([...periods].sort(), ['2026-01-31', '2026-02-01'], 'the history crosses midnight UTC');
    // One day only: February 1st.
    const feb = await getJson(server.port, '/reports/merchants?from=2026-02-01&to=2026-02-01');
    assert.deepEqual(feb['periods'], expectedMerchants(history, Date.UTC(2026, 1, 1), until_ms, 'day', 'merchant'));
  });

  it('operations: approvals, declines by reason, terminal and hour, insufficient-funds rate', async function () {
    const report = await getJson(server.port, '/reports/operations?from=2026-01-31&to=2026-02-01');
    const expected = expectedOperations(history, Date.UTC(2026, 0, 31), Date.UTC(2026, 1, 2));
    const ratio = (part: number, whole: number): number => (whole === 0 ? 0 : Math.round((part * 10_000) / whole) / 10_000);
    assert.equal(expected.requests, history.transactions.length);
    assert.deepEqual(report['summary'], {
      requests: expected.requests,
      approved: expected.approved,
      declined: expected.declined,
      approval_rate: ratio(expected.approved, expected.requests),
      decline_rate: ratio(expected.declined, expected.requests),
      insufficient_funds: expected.insufficient_funds,
      insufficient_funds_rate: ratio(expected.insufficient_funds, expected.requests),
      flagged: expected.flagged,
      flagged_rate: ratio(expected.flagged, expected.requests),
    });
    assert.ok(expected.flagged > 0, 'the history has flagged transactions');
    assert.deepEqual(
      report['by_flag'],
      [...expected.by_flag.entries()].map(([flag, counts]) => ({ flag, ...counts })),
    );
    assert.ok(expected.insufficient_funds > 0 && expected.by_reason.has('currency_mismatch'), 'the history has both decline reasons');
    assert.deepEqual(
      report['by_reason'],
      [...expected.by_reason.entries()]
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([reason, declined]) => ({
          reason,
          declined,
          share_of_requests: ratio(declined, expected.requests),
          share_of_declines: ratio(declined, expected.declined),
        })),
    );
    const counts = (rows: unknown, key: string) =>
      new Map(
        (rows as Record<string, number | string>[]).map((row) => [
          String(row[key]),
          {
            requests: row['requests'],
            approved: row['approved'],
            declined: row['declined'],
            insufficient_funds: row['insufficient_funds'],
          },
        ]),
      );
    assert.deepEqual(counts(report['by_terminal'], 'terminal'), expected.by_terminal);
    assert.deepEqual(counts(report['by_hour'], 'hour'), expected.by_hour);
    const csv = await get(server.port, '/reports/operations?from=2026-01-31&to=2026-02-01&format=csv&section=by_hour');
    assert.deepEqual(parseCsv(csv.body), report['by_hour']);
    const empty = await getJson(server.port, '/reports/operations?from=2025-01-01&to=2025-01-02');
    assert.deepEqual(empty['summary'], {
      requests: 0,
      approved: 0,
      declined: 0,
      approval_rate: 0,
      decline_rate: 0,
      insufficient_funds: 0,
      insufficient_funds_rate: 0,
      flagged: 0,
      flagged_rate: 0,
    });
  });

  it('card history: every event and transaction of one card in time order, with balance after each', async function () {
    const model = history.cards.find((card) => card.card === 'card-01');
    assert.ok(model !== undefined);
    const report = await getJson(server.port, '/reports/cards/card-01/history');
    const entries = report['entries'] as Record<string, string | number | null>[];
    const mine = history.transactions.filter((t) => t.card === 'card-01');
    // Issue, one status change, then its transactions (each once, despite the duplicate rows).
    assert.equal(entries.length, 2 + mine.length);
    assert.deepEqual(
      entries.slice(0, 2).map((e) => [e['type'], e['balance_after_minor']]),
      [
        ['card_issued', history.issued[1]?.amount],
        ['card_status_changed', history.issued[1]?.amount],
      ],
    );
    assert.deepEqual(
      entries.slice(2).map((e) => [e['id'], e['type'], e['outcome'], e['amount_minor'], e['balance_after_minor']]),
      mine.map((t) => [t.id, t.kind, t.outcome, t.amount, t.balance_after]),
    );
    const times = entries.map((e) => e['at_ms'] as number);
    assert.deepEqual(
      times,
      [...times].sort((a, b) => a - b),
      'time order',
    );
    assert.deepEqual(report['summary'], {
      card: 'card-01',
      cards: 'card-01',
      entries: entries.length,
      last_balance_after_minor: model.balance_minor,
      redis_balance_minor: model.balance_minor,
    });
    const missing = await get(server.port, '/reports/cards/no-such-card/history');
    assert.equal(missing.status, 404);
  });

  it('card history follows a replacement both ways: old and new card show one history, each entry with its own card and balance', async function () {
    const successor = history.cards.find((card) => card.card === 'card-00r');
    assert.ok(successor !== undefined);
    const chain = history.transactions.filter((t) => t.card === 'card-00' || t.card === 'card-00r');
    for (const card of ['card-00', 'card-00r']) {
      const report = await getJson(server.port, `/reports/cards/${card}/history`);
      const entries = report['entries'] as Record<string, string | number | null>[];
      // Two issues, one replacement event, and every transaction of both cards.
      assert.equal(entries.length, 3 + chain.length, card);
      assert.deepEqual(
        entries.filter((e) => e['entry'] === 'transaction').map((e) => [e['id'], e['card'], e['balance_after_minor']]),
        chain.map((t) => [t.id, t.card, t.balance_after]),
      );
      const replaced = entries.find((e) => e['type'] === 'card_replaced');
      assert.deepEqual([replaced?.['card'], replaced?.['replacement']], ['card-00', 'card-00r']);
      assert.equal((report['summary'] as Record<string, unknown>)['cards'], 'card-00 card-00r');
    }
    const summary = (await getJson(server.port, '/reports/cards/card-00r/history'))['summary'] as Record<string, unknown>;
    assert.deepEqual(
      [summary['last_balance_after_minor'], summary['redis_balance_minor']],
      [successor.balance_minor, successor.balance_minor],
    );
  });

  it('event statistics: cards issued, deposited, spent, reversed, refunded, remaining, deposits, payouts; top merchants and products; sales per hour', async function () {
    for (const program of ['festival-2026', 'fleet.west']) {
      const report = await getJson(server.port, `/reports/events/${program}/statistics`);
      assert.deepEqual(report['totals'], [expectedProgram(history, program)], program);
      assert.deepEqual(report['top_products'], expectedTopProducts(history, program), program);
      assert.deepEqual(report['sales_per_minute'], expectedSalesPerMinute(history, program, sales_minutes_max), program);
      assert.deepEqual(report['declines_by_reason'], expectedDeclines(history, program), program);
      assert.ok((report['declines_by_reason'] as unknown[]).length > 0, `${program}: the history has declines`);
      assert.ok((report['top_products'] as unknown[]).length > 0);
      const mine = history.transactions.filter((t) => t.program === program && t.outcome === 'approved');
      const net = new Map<string, number>();
      for (const t of mine)
        if (['purchase', 'reverse', 'refund'].includes(t.kind))
          net.set(t.merchant, (net.get(t.merchant) ?? 0) + (t.kind === 'purchase' ? t.amount : -t.amount));
      const top = report['top_merchants'] as Record<string, string | number>[];
      assert.deepEqual(
        top.map((row) => [row['merchant'], row['net_sales_minor']]),
        [...net.entries()].sort(([ma, a], [mb, b]) => b - a || (ma < mb ? -1 : 1)),
      );
      const hours = report['sales_per_hour'] as Record<string, string | number>[];
      const spent = mine.filter((t) => t.kind === 'purchase').reduce((sum, t) => sum + t.amount, 0);
      assert.equal(
        hours.reduce((sum, row) => sum + (row['purchases_minor'] as number), 0),
        spent,
        'hours add up to the spend',
      );
      assert.equal(hours[0]?.['hour'], `${new Date(history_start_ms).toISOString().slice(0, 13)}:00Z`);
    }
    assert.equal((await get(server.port, '/reports/events/no-such-program/statistics')).status, 404);
  });

  it('fleet invoice: every transaction and line with prompts and prices, totals and fuel consumption per vehicle', async function () {
    const report = await getJson(server.port, '/reports/fleets/fleet-acme/invoice?from=2026-02-01&to=2026-02-01');
    const mine = history.transactions.filter((t) => t.fleet === 'fleet-acme');
    assert.equal(mine.length, 12);
    const transactions = report['transactions'] as Record<string, string | number>[];
    assert.deepEqual(
      transactions.map((t) => [t['id'], t['vehicle'], t['driver'], t['odometer'], t['pump_minor'], t['invoiced_minor']]),
      mine.map((t) => [t.id, t.vehicle, t.driver, t.odometer ?? 0, t.pump ?? t.amount, t.invoiced ?? t.amount]),
    );
    const lines = report['lines'] as Record<string, string | number>[];
    const expected_lines = mine.flatMap((t) =>
      (t.lines ?? []).map((line, line_no) => [
        t.id,
        line_no,
        line.code,
        line.qty_milli,
        line.pump_unit ?? line.unit,
        line.invoiced ?? line.amount,
      ]),
    );
    assert.deepEqual(
      lines.map((l) => [l['id'], l['line_no'], l['code'], l['qty_milli'], l['pump_unit_minor'], l['invoiced_minor']]),
      expected_lines,
    );
    const vehicles = expectedFleetVehicles(history, 'fleet-acme');
    assert.deepEqual(report['vehicles'], vehicles);
    assert.ok(
      vehicles.every((v) => v['litres_per_100km'] !== null),
      'both vehicles have a consumption',
    );
    const totals = report['totals'] as Record<string, number | string>[];
    assert.deepEqual(totals, [
      {
        currency: 'CHF',
        transactions: 12,
        pump_minor: vehicles.reduce((sum, v) => sum + (v['pump_minor'] as number), 0),
        invoiced_minor: vehicles.reduce((sum, v) => sum + (v['invoiced_minor'] as number), 0),
      },
    ]);
    const csv = await get(server.port, '/reports/fleets/fleet-acme/invoice?from=2026-02-01&to=2026-02-01&format=csv&section=vehicles');
    assert.deepEqual(
      parseCsv(csv.body).map((row) => row['litres_per_100km']),
      vehicles.map((v) => Number(v['litres_per_100km'])),
    );
    const empty = await getJson(server.port, '/reports/fleets/fleet-acme/invoice?from=2026-01-01&to=2026-01-02');
    assert.deepEqual([empty['transactions'], empty['vehicles'], empty['totals']], [[], [], []]);
    assert.equal((await get(server.port, "/reports/fleets/acme'--/invoice?from=2026-02-01&to=2026-02-01")).status, 400);
  });

  it('top-ups: money loaded per program, currency, source and day', async function () {
    const expected = expectedTopUps(history, Date.UTC(2026, 0, 31), Date.UTC(2026, 1, 2));
    assert.ok(new Set(expected.map((row) => row['source'])).size >= 2, 'top-ups from two sources');
    assert.deepEqual((await getJson(server.port, '/reports/top-ups?from=2026-01-31&to=2026-02-01'))['days'], expected);
  });

  it('audit trail: every operator action and operator-made lifecycle event, filterable by operator', async function () {
    const expected = expectedAudit(history);
    assert.ok(expected.some((e) => e.type === 'operator_action') && expected.some((e) => e.type === 'card_replaced'));
    const report = await getJson(server.port, '/reports/audit?from=2026-01-31&to=2026-02-01');
    const entries = report['entries'] as Record<string, string>[];
    assert.deepEqual(
      entries.map((e) => [e['type'], e['operator'], Date.parse(e['at'] ?? '')]).sort(),
      expected.map((e) => [e.type, e.operator, e.at]).sort(),
    );
    const action = entries.find((e) => e['type'] === 'operator_action');
    assert.deepEqual([action?.['action'], action?.['subject'], action?.['detail']], ['set_fee_rates', 'bar-0', '{"percent_bp":175}']);
    const ops2 = await getJson(server.port, '/reports/audit?from=2026-01-31&to=2026-02-01&operator=ops-2');
    assert.deepEqual(
      (ops2['entries'] as Record<string, string>[]).map((e) => e['type']),
      expectedAudit(history, 'ops-2').map((e) => e.type),
    );
    const csv = await get(server.port, '/reports/audit?from=2026-01-31&to=2026-02-01&format=csv');
    assert.ok(csv.body.includes('"{""percent_bp"":175}"'), 'JSON detail is quoted in CSV');
  });

  it('answers hostile or malformed parameters 400, naming the parameter, without querying ClickHouse', async function () {
    const range = 'from=2026-01-01&to=2026-01-02';
    const cases: [string, string][] = [
      ["/reports/merchants?from=2026-01-01'%20OR%201=1--&to=2026-01-02", 'from'],
      ["/reports/merchants?from=2026-01-01'&to=2026-01-02", 'from'],
      [`/reports/merchants?${range}&granularity=week`, 'granularity'],
      [`/reports/merchants?${range}&by=card`, 'by'],
      ['/reports/merchants?from=2026-02-30&to=2026-03-01', 'from'],
      ['/reports/merchants?from=2026-01-02&to=2026-01-01', 'to'],
      ['/reports/merchants?from=2020-01-01&to=2026-01-01', 'to'],
      ['/reports/merchants?to=2026-01-01', 'from'],
      ['/reports/operations?from=26-01-01&to=2026-01-02', 'from'],
      [`/reports/operations?${range}&section=everything`, 'section'],
      ['/reports/float?currency=eur', 'currency'],
      ["/reports/float?currency=EUR'--", 'currency'],
      ['/reports/float?currency=EUR&currency=CHF', 'currency'],
      ['/reports/float?format=xml', 'format'],
      ['/reports/float?colour=red', 'colour'],
      ["/reports/cards/a'b/history", 'cardId'],
      ['/reports/cards/a%5Cb/history', 'cardId'],
      ['/reports/cards/%27%20OR%20%271%27=%271/history', 'cardId'],
      ['/reports/cards/%E2%82%AC/history', 'cardId'],
      ['/reports/cards/caf%C3%A9/history', 'cardId'],
      ['/reports/cards/%ZZ/history', 'cardId'],
      ['/reports/cards//history', 'cardId'],
      [`/reports/cards/${'a'.repeat(65)}/history`, 'cardId'],
      ['/reports/cards/a~b~c/history', 'cardId'],
      ['/reports/cards/~b/history', 'cardId'],
      ["/reports/cards/fleet~a'b/history", 'cardId'],
      ['/reports/events/x%00y/statistics', 'programId'],
      ['/reports/events/..%2F..%2Fetc/statistics', 'programId'],
      ["/reports/fleets/a'b/invoice?from=2026-01-01&to=2026-01-02", 'fleetId'],
      ['/reports/fleets/acme/invoice?from=2026-01-01', 'to'],
      ['/reports/fleets/acme/invoice?from=2026-01-01&to=2026-01-02&vehicle=x', 'vehicle'],
      ["/reports/cards/c-1/transactions/a'b/lines", 'transactionId'],
      ['/reports/cards/c-1/transactions/%ZZ/lines', 'transactionId'],
      [`/reports/cards/c-1/transactions/${'t'.repeat(129)}/lines`, 'transactionId'],
      ["/reports/cards/a'b/transactions/t-1/lines", 'cardId'],
      ["/reports/merchants/m'1/transactions/t-1/lines", 'merchantId'],
      ['/reports/merchants/m-1/transactions/a%20b/lines', 'transactionId'],
      ["/reports/merchants/m'1/terminals", 'merchantId'],
      ['/reports/merchants/m-1/terminals?from=2026-01-01', 'from'],
      ["/reports/audit?from=2026-01-01&to=2026-01-02&operator=ops'1", 'principal'],
      ['/reports/audit?from=2026-01-01&to=2026-01-02&operator=a%5Cb', 'principal'],
    ];
    const before = queries;
    for (const [path, parameter] of cases) {
      const answer = await get(server.port, path);
      assert.equal(answer.status, 400, `${path}: ${answer.body}`);
      const error = (JSON.parse(answer.body) as { error: { code: string; parameter: string } }).error;
      assert.deepEqual([error.code, error.parameter], ['invalid_argument', parameter], path);
    }
    assert.equal((await get(server.port, '/reports/nothing')).status, 404);
    assert.equal((await get(server.port, '/reports/float', 'POST')).status, 405);
    assert.equal(queries, before, 'no query reached ClickHouse');
  });

  it('runs as a process: announces its port, serves (reconciling through the node it is configured with), exits 0 on SIGTERM', async function () {
    let httpPort = 0;
    const child = await startServerProcess({
      script: 'dist/services/reports/main.js',
      env: {
        TAPLINE_CLICKHOUSE_URL: clickhouse.url,
        TAPLINE_CLICKHOUSE_DATABASE: database,
        TAPLINE_REDIS_URL: redis.url,
        ...(await reportsProcessEnv(`127.0.0.1:${node.operatorPort}`)),
        TAPLINE_REPORTS_PORT: '0',
        TAPLINE_LOG_LEVEL: 'warn',
      },
      onLine: (line) => {
        if (line.includes('"serving"')) httpPort = (JSON.parse(line) as { httpPort: number }).httpPort;
      },
    });
    try {
      assert.ok(httpPort > 0, 'the ready line names the HTTP port');
      assert.deepEqual((await getJson(httpPort, '/reports/float'))['programs'], expectedFloat(history));
      assert.deepEqual((await getJson(httpPort, '/reports/reconciliation'))['summary'], {
        cards_checked: history.cards.length,
        differences: 0,
        fleet_accounts_checked: 0,
      });
      assert.equal((await get(httpPort, '/reports/cards/card-of-request-xyz/history?bogus=1')).status, 400);
      // Metrics by route name and status, ClickHouse time by outcome; nothing from the request.
      let metrics = '';
      const expected = [
        /^tapline_reports_requests_total\{route="float",status="200"\} 1$/m,
        /^tapline_reports_requests_total\{route="card_history",status="400"\} 1$/m,
        /^tapline_reports_clickhouse_query_seconds_count\{outcome="ok"\} [1-9]/m,
        /^tapline_reports_request_seconds_bucket\{le="60",route="float"\} 1$/m,
      ];
      await waitFor(
        'the reports process counts the answered requests',
        async () => {
          metrics = (await get(httpPort, '/metrics')).body;
          return expected.every((pattern) => pattern.test(metrics));
        },
        () =>
          metrics
            .split('\n')
            .filter((line) => line.startsWith('tapline_reports'))
            .join('\n'),
        10_000,
      );
      assert.ok(!metrics.includes('card-of-request-xyz'), 'no label value comes from the request');
    } finally {
      assert.equal(await child.terminate(), 0, 'graceful exit');
    }
  });
});
