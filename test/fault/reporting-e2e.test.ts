// End to end, with real processes: an authorization load through a node process while two
// streamers move the outbox into ClickHouse 18.16; one streamer is killed with SIGKILL mid-run and
// ClickHouse is stopped for a while and restarted, under load. Afterwards, once the outbox is
// empty, the reports service must agree with what the load driver saw, to the minor unit: the
// float report's spend equals the approvals the clients received, every answered request is in
// ClickHouse exactly once (deduplicated), reconciliation against the stored balances (read from the
// node process through ListBalances) lists no difference, and the merchant report, event
// statistics and the merchant's fee report (gross, fees per transaction, net) equal the driver's
// totals.

import assert from 'node:assert/strict';
import type { RedisInstance } from '../../tools/devenv/redis';
import { queryClickHouse, startClickHouse, type ClickHouseInstance } from '../../tools/devenv/clickhouse';
import { startServerProcess, type ServerProcess } from '../../tools/devenv/node-process';
import { pickFreePort } from '../../tools/devenv/supervise';
import { outboxBacklog } from '../../tools/devenv/outbox';
import { TaplineClient } from '../../tools/client/tapline-client';
import { Outcome } from '../../gen/tapline/v1/types';
import {
  accessTo,
  endpointsOf,
  reportsProcessEnv,
  reportsRequest,
  startNodeProcess,
  startTestRedis,
  test_shard_count,
  testDataDir,
  waitFor,
} from '../support/harness';
import { streamerEnv } from '../support/outbox-fixtures';
import { LoadRun } from '../support/load';
import { feeOf } from '../../services/reports/settlement-rules';

const card_count = 60;
const initial_balance_minor = 15_000;
const database = 'tapline_e2e';

async function getJson(port: number, path: string): Promise<Record<string, unknown>> {
  const reply = await reportsRequest(port, path);
  assert.equal(reply.status, 200, `${path} answered ${reply.status}: ${reply.body}`);
  return JSON.parse(reply.body) as Record<string, unknown>;
}

describe('reports agree with the load driver across a streamer kill -9 and a ClickHouse outage', function () {
  this.timeout(240_000);
  let redis: RedisInstance | undefined;
  let clickhouse: ClickHouseInstance | undefined;
  const processes: ServerProcess[] = [];

  after(async function () {
    for (const child of processes.splice(0)) await child.kill9();
    await clickhouse?.stop();
    await redis?.stop();
  });

  it('float, per-request presence, reconciliation, merchant, event and fee totals are exact afterwards', async function () {
    redis = await startTestRedis('reporting-e2e');
    clickhouse = await startClickHouse({ dataDir: testDataDir('reporting-e2e-clickhouse') });
    const redisUrl = redis.url;
    const node = await startNodeProcess(redisUrl);
    processes.push(node);
    const startStreamer = async (name: string): Promise<ServerProcess> => {
      const streamer = await startServerProcess({
        script: 'dist/services/streamer/main.js',
        env: streamerEnv(redisUrl, (clickhouse as ClickHouseInstance).url, database, { TAPLINE_NODE_ID: name }),
      });
      processes.push(streamer);
      return streamer;
    };
    const doomed = await startStreamer('streamer-a');
    await startStreamer('streamer-b');

    const client = new TaplineClient(await accessTo(node));
    await client.registerTerminal('e2e-pos', 'e2e-merchant');
    const cards = Array.from({ length: card_count }, (_, i) => `e2e-${i}`);
    await Promise.all(cards.map((id) => client.issueCard(id, initial_balance_minor, 'EUR', 'e2e-festival')));
    const load = new LoadRun({
      terminalId: 'e2e-pos',
      cards,
      concurrency: 16,
      requests_max: 100_000,
      amountOf: (n) => 1 + ((n * 7_919) % 300),
      cardOf: (n) => (n * 31) % card_count,
      deadline_ms: 10_000,
    });
    load.start(() => client);

    await waitFor(
      'load before the streamer kill',
      () => load.answered >= 1_500,
      () => `${load.answered} answered`,
      60_000,
    );
    await doomed.kill9();
    await waitFor(
      'load before the ClickHouse outage',
      () => load.answered >= 3_000,
      () => `${load.answered} answered`,
      60_000,
    );
    await clickhouse.stop();
    const answeredAtOutage = load.answered;
    await waitFor(
      'load during the ClickHouse outage',
      () => load.answered >= answeredAtOutage + 1_500,
      () => `${load.answered} answered`,
      60_000,
    );
    await clickhouse.restart();
    await load.stop();
    await load.settleUnknown(client, 10);
    client.close();
    // The killed streamer's pending entries are taken over by the survivor (XAUTOCLAIM).
    await waitFor(
      'outbox drained into ClickHouse',
      async () => (await outboxBacklog(redisUrl, test_shard_count)) === 0,
      () => 'outbox not empty yet',
      90_000,
    );

    // Every answered request is in ClickHouse exactly once (deduplicated view).
    const keys = (
      await queryClickHouse(
        clickhouse.url,
        `SELECT idempotency_key, count() FROM ${database}.transactions_dedup GROUP BY idempotency_key FORMAT TSV`,
      )
    )
      .trim()
      .split('\n')
      .filter((l) => l !== '');
    const counted = new Map(keys.map((line) => line.split('\t') as [string, string]));
    for (const entry of load.sent.values()) assert.equal(counted.get(entry.key), '1', `${entry.key} is in ClickHouse once`);
    assert.equal(counted.size, load.sent.size, 'nothing in ClickHouse that no client sent');

    // The float report's spend is the sum of the approvals the clients saw, to the minor unit.
    let approvedTotal = 0;
    for (const entry of load.sent.values()) if (entry.replies[0]?.outcome === Outcome.OUTCOME_APPROVED) approvedTotal += entry.amountMinor;
    const reportsPort = await pickFreePort();
    const reports = await startServerProcess({
      script: 'dist/services/reports/main.js',
      env: {
        TAPLINE_REDIS_URL: redisUrl,
        TAPLINE_CLICKHOUSE_URL: clickhouse.url,
        TAPLINE_CLICKHOUSE_DATABASE: database,
        ...(await reportsProcessEnv(endpointsOf(node).operator)),
        TAPLINE_REPORTS_PORT: String(reportsPort),
        TAPLINE_LOG_LEVEL: 'warn',
      },
    });
    processes.push(reports);
    const float = await getJson(reportsPort, '/reports/float?currency=EUR');
    const program = (float['programs'] as Record<string, unknown>[]).find((row) => row['program'] === 'e2e-festival');
    assert.ok(program, 'the float report lists the program');
    assert.equal(program['spend_minor'], approvedTotal, 'spend = approvals the clients received');
    assert.equal(program['issued_minor'], card_count * initial_balance_minor);
    assert.equal(program['outstanding_minor'], card_count * initial_balance_minor - approvedTotal);

    const reconciliation = await getJson(reportsPort, '/reports/reconciliation');
    assert.deepEqual(reconciliation['summary'], { cards_checked: card_count, differences: 0, fleet_accounts_checked: 0 });

    // The merchant report (read from the transactions_by_merchant materialized view, which saw the
    // same re-sent batches), event statistics and the merchant's fees agree with the driver too.
    // The run started at most a few minutes ago: yesterday..today (UTC) holds all of it, even across midnight.
    const day = (ms: number): string => new Date(ms).toISOString().slice(0, 10);
    const range = `from=${day(Date.now() - 86_400_000)}&to=${day(Date.now())}`;
    const merchants = (await getJson(reportsPort, `/reports/merchants?${range}&granularity=month`))['periods'] as Record<string, unknown>[];
    const purchases = merchants
      .filter((row) => row['merchant'] === 'e2e-merchant')
      .reduce((sum, row) => sum + (row['purchases_minor'] as number), 0);
    assert.equal(purchases, approvedTotal, 'merchant purchases = approvals the clients received');
    const statistics = await getJson(reportsPort, '/reports/events/e2e-festival/statistics');
    assert.deepEqual(
      (statistics['totals'] as Record<string, unknown>[]).map((row) => [row['spent_minor'], row['remaining_minor']]),
      [[approvedTotal, card_count * initial_balance_minor - approvedTotal]],
    );
    const rate = { kind: 'purchase', percent_bp: 250, fixed_minor: 3 };
    const put = await reportsRequest(reportsPort, '/settlement/merchants/e2e-merchant', {
      method: 'PUT',
      body: JSON.stringify({ cycle: 'daily', payee_name: 'E2E Merchant', payee_iban: 'DE89370400440532013000', rates: [rate] }),
    });
    // Rates apply at once; the payee account waits for a settlement approver (four eyes).
    assert.equal(put.status, 202, put.body);
    let fees = 0;
    for (const entry of load.sent.values())
      if (entry.replies[0]?.outcome === Outcome.OUTCOME_APPROVED) fees += feeOf(entry.amountMinor, rate);
    const fee_report = await getJson(reportsPort, `/reports/merchants/e2e-merchant/fees?${range}`);
    assert.deepEqual(
      (fee_report['currencies'] as Record<string, unknown>[]).map((row) => [row['gross_minor'], row['fees_minor'], row['net_minor']]),
      [[approvedTotal, fees, approvedTotal - fees]],
    );
    process.stdout.write(`      (${load.sent.size} requests, ${approvedTotal} minor units approved, reports exact)\n`);
  });
});
