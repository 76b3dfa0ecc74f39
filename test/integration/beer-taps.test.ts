// Proves the beer-tap registration link end to end: taps (terminals) sell through a real node and
// report what they poured over gRPC (AuthorizationService.ReportPour), per sale or over a period;
// the reports reach ClickHouse 18.16 through the outbox and the streamer, and GET /reports/taps
// compares, per tap and day and per reported sale, the millilitres poured with the millilitres
// paid (a reversed sale counts as not paid). A retried report is answered as a replay and written
// once; a report id reused for another pour is ALREADY_EXISTS; bad reports are refused with the
// precise status and leave nothing behind.

import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import type { ReportPourRequest, ReportPourResponse } from '../../gen/tapline/v1/authorization';
import { Outcome } from '../../gen/tapline/v1/types';
import type { AuthorizerNode } from '../../services/authorizer/node';
import { createLogger } from '../../services/common/logger';
import type { CardStateReader } from '../../services/reports/card-states';
import { ClickHouseRunner } from '../../services/reports/clickhouse-runner';
import { ReportsServer } from '../../services/reports/server';
import { loadStreamerConfig } from '../../services/streamer/config';
import { migrate } from '../../services/streamer/schema/migrate';
import { Streamer } from '../../services/streamer/streamer';
import { purchase, TaplineClient } from '../../tools/client/tapline-client';
import { startClickHouse, type ClickHouseInstance } from '../../tools/devenv/clickhouse';
import type { RedisInstance } from '../../tools/devenv/redis';
import { accessTo, reportsRequest, reportsSecurity, startInProcessNode, startTestRedis, testDataDir, waitFor } from '../support/harness';
import { streamerEnv } from '../support/outbox-fixtures';

const database = 'taps_it';
const logger = createLogger('taps-test', process.env['TAPLINE_TEST_LOG_LEVEL'] ?? 'warn');
const day_ms = 86_400_000;

const no_card_states: CardStateReader = {
  allBalances: () => Promise.reject(new Error('not read here')),
  card: () => Promise.reject(new Error('not read here')),
  close: () => undefined,
};

/** GET over HTTPS with a token of a role the route allows (the reports service's door). */
function getJson(port: number, path: string): Promise<{ status: number; body: string }> {
  return reportsRequest(port, path);
}

describe('beer-tap registration link (real node over gRPC, streamer, ClickHouse 18.16)', function () {
  this.timeout(120_000);
  let redis: RedisInstance;
  let clickhouse: ClickHouseInstance;
  let node: AuthorizerNode;
  let client: TaplineClient;
  let streamer: Streamer;
  let runner: ClickHouseRunner;
  let server: ReportsServer;
  const today = new Date().toISOString().slice(0, 10);
  const today_ms = Math.floor(Date.now() / day_ms) * day_ms;

  const reportPour = (request: Partial<ReportPourRequest>): Promise<ReportPourResponse> =>
    new Promise((resolve, reject) => {
      const full: ReportPourRequest = { terminalId: 'tap-1', reportId: '', subject: undefined, pouredMl: 0n, productCode: '', ...request };
      // Each tap reports over its own certificate's channel.
      client
        .terminal(full.terminalId)
        .then(
          (tap) =>
            tap.reportPour(full, new grpc.Metadata(), { deadline: Date.now() + 20_000 }, (error, response) =>
              error ? reject(error) : resolve(response),
            ),
          reject,
        );
    });

  const beer = (terminalId: string, txn: number, ml: number): Promise<unknown> =>
    client
      .authorize({
        ...purchase(terminalId, txn, 'guest-1', Math.round((ml * 700) / 1000)),
        lineItems: [
          {
            productCode: 'pils',
            productGroup: 'beer',
            quantityMilli: BigInt(ml),
            unitPriceMinor: 700n,
            amountMinor: BigInt(Math.round((ml * 700) / 1000)),
          },
        ],
      })
      .then((reply) => assert.equal(reply.outcome, Outcome.OUTCOME_APPROVED, `${terminalId} #${txn}: decline ${reply.declineReason}`));

  before(async function () {
    [redis, clickhouse] = await Promise.all([startTestRedis('taps-it'), startClickHouse({ dataDir: testDataDir('taps-it-ch') })]);
    await migrate(clickhouse.url, database);
    node = await startInProcessNode(redis.url);
    client = new TaplineClient(await accessTo(node));
    await client.registerTerminal('tap-1', 'bar');
    await client.registerTerminal('tap-2', 'bar');
    await client.issueCard('guest-1', 100_000);
    streamer = await Streamer.start(loadStreamerConfig(streamerEnv(redis.url, clickhouse.url, database)), logger);
    runner = new ClickHouseRunner(clickhouse.url, database, 20_000);
    server = await ReportsServer.start({ query: runner.query, database, cards: no_card_states }, 0, logger, await reportsSecurity());
  });

  after(async function () {
    await server?.stop(1_000);
    await streamer?.stop();
    client?.close();
    await node?.shutdown();
    await runner?.close();
    await Promise.all([redis?.stop(), clickhouse?.stop()]);
  });

  it('records each report once, answers a retry as a replay and refuses a reused report id or a bad report', async function () {
    await beer('tap-1', 1, 500);
    await beer('tap-1', 2, 300);
    await beer('tap-1', 3, 500);
    const reversed = await client.reverse('tap-1', 4, 'guest-1', { terminalId: 'tap-1', txn: 3 });
    assert.equal(reversed.reversedAmount?.amountMinor, 350n);
    await beer('tap-2', 1, 4_000);
    const sale = (txn: number) => ({ $case: 'terminalTxnNumber' as const, value: BigInt(txn) });
    assert.deepEqual(await reportPour({ reportId: 'r-1', subject: sale(1), pouredMl: 520n, productCode: 'pils' }), {
      reportId: 'r-1',
      replayed: false,
    });
    assert.deepEqual(await reportPour({ reportId: 'r-2', subject: sale(2), pouredMl: 300n }), { reportId: 'r-2', replayed: false });
    assert.deepEqual(await reportPour({ reportId: 'r-1', subject: sale(1), pouredMl: 520n, productCode: 'pils' }), {
      reportId: 'r-1',
      replayed: true,
    });
    const period = { $case: 'period' as const, value: { fromUnixMs: BigInt(today_ms), toUnixMs: BigInt(Date.now()) } };
    assert.equal((await reportPour({ terminalId: 'tap-2', reportId: 'day-1', subject: period, pouredMl: 10_000n })).replayed, false);
    const refused: [Partial<ReportPourRequest>, grpc.status][] = [
      [{ reportId: 'r-1', subject: sale(1), pouredMl: 999n, productCode: 'pils' }, grpc.status.ALREADY_EXISTS],
      [{ reportId: 'r-9', subject: sale(1), pouredMl: -1n }, grpc.status.INVALID_ARGUMENT],
      [{ reportId: 'r-9', subject: undefined, pouredMl: 10n }, grpc.status.INVALID_ARGUMENT],
      [{ reportId: "r'9", subject: sale(1), pouredMl: 10n }, grpc.status.INVALID_ARGUMENT],
      [
        { reportId: 'r-9', subject: { $case: 'period', value: { fromUnixMs: 10n, toUnixMs: 5n } }, pouredMl: 10n },
        grpc.status.INVALID_ARGUMENT,
      ],
      [{ terminalId: 'tap-none', reportId: 'r-9', subject: sale(1), pouredMl: 10n }, grpc.status.NOT_FOUND],
    ];
    for (const [request, code] of refused)
      await assert.rejects(
        reportPour(request),
        (error: grpc.ServiceError) => error.code === code,
        JSON.stringify(request, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)),
      );
  });

  it('reports poured against paid per tap and day and per reported sale', async function () {
    let body = '';
    await waitFor(
      'pour reports and sales in ClickHouse',
      async () => {
        body = (await getJson(server.port, `/reports/taps?from=${today}&to=${today}`)).body;
        const report = JSON.parse(body) as { days?: { reports: number; paid_ml: number }[] };
        return (report.days ?? []).reduce((sum, row) => sum + row.reports, 0) === 3 && (report.days ?? []).length === 2;
      },
      () => body,
      20_000,
      200,
    );
    await waitFor(
      'every sale streamed',
      async () => {
        body = (await getJson(server.port, `/reports/taps?from=${today}&to=${today}`)).body;
        return (JSON.parse(body) as { days: { paid_ml: number }[] }).days.reduce((sum, row) => sum + row.paid_ml, 0) === 4_800;
      },
      () => body,
      20_000,
      200,
    );
    const report = JSON.parse(body) as { days: Record<string, unknown>[]; sales: Record<string, unknown>[] };
    assert.deepEqual(report.days, [
      { terminal: 'tap-1', day: today, paid_ml: 800, poured_ml: 820, difference_ml: 20, difference_permille: '25.0', reports: 2 },
      { terminal: 'tap-2', day: today, paid_ml: 4_000, poured_ml: 10_000, difference_ml: 6_000, difference_permille: '1500.0', reports: 1 },
    ]);
    assert.deepEqual(report.sales, [
      { terminal: 'tap-1', report: 'r-1', sale: 't:tap-1:1', paid_ml: 500, poured_ml: 520, difference_ml: 20 },
      { terminal: 'tap-1', report: 'r-2', sale: 't:tap-1:2', paid_ml: 300, poured_ml: 300, difference_ml: 0 },
    ]);
    const rows = await runner.query(`SELECT count() AS n FROM ${database}.tap_pours_dedup`);
    assert.equal(Number(rows[0]?.['n']), 3, 'the retried report was written once, refused ones never');
    assert.equal((await getJson(server.port, `/reports/taps?from=${today}&to=${today}&terminal=tap%27x`)).status, 400);
  });
});
