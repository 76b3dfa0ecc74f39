// Proves scheduled settlement against a real Redis and ClickHouse 18.16: documents of yesterday
// are committed to the outbox at their own time (stream ids = their `at`, as the authorizer's
// commits are); while they wait in the outbox the scheduler computes nothing (the horizon has not
// passed the period); once streamed, exactly one of two schedulers (the lease holder) computes the
// merchant's batch, whose lines equal a transaction-by-transaction computation: fees, top-ups the
// merchant holds and its commission on them, the deployer's share of the fees. After approval
// the SEPA file (pain.001.001.03) served over HTTP is valid against the published XSD and pays
// the merchant's EUR net and the deployer's EUR share; the CSV carries every currency.

import { singleRedis } from '../../services/common/redis-target';
import assert from 'node:assert/strict';
import { createClient } from 'redis';
import type { TransactionDocument } from '../../actors/outbox/contract';
import { shardOf } from '../../actors/sharding/shard-key';
import { shardKeys } from '../../services/authorizer/store/keys';
import { createLogger } from '../../services/common/logger';
import type { CardStateReader } from '../../services/reports/card-states';
import { ClickHouseRunner } from '../../services/reports/clickhouse-runner';
import { ReportsServer } from '../../services/reports/server';
import { SettlementScheduler } from '../../services/reports/settlement-scheduler';
import { feeOf, type FeeRate } from '../../services/reports/settlement-rules';
import { RedisSettlementStore } from '../../services/reports/settlement-store';
import { loadStreamerConfig } from '../../services/streamer/config';
import { migrate } from '../../services/streamer/schema/migrate';
import { Streamer } from '../../services/streamer/streamer';
import { startClickHouse, type ClickHouseInstance } from '../../tools/devenv/clickhouse';
import type { RedisInstance } from '../../tools/devenv/redis';
import { defaultRoleOf, reportsRequest, reportsSecurity, startTestRedis, testDataDir, testToken, waitFor } from '../support/harness';
import { reportTotals, streamerEnv } from '../support/outbox-fixtures';
import { pain001_xsd, validateXml } from '../support/xsd';

const database = 'settle_sched_it';
const shard_count = 64;
const logger = createLogger('settlement-schedule-test', process.env['TAPLINE_TEST_LOG_LEVEL'] ?? 'warn');
const day_ms = 86_400_000;
const debtor = { name: 'Festival Payments GmbH', iban: 'DE02120300000000202051', bic: 'BYLADEM1001' };

const no_card_states: CardStateReader = {
  allBalances: () => Promise.reject(new Error('not read here')),
  card: () => Promise.reject(new Error('not read here')),
  close: () => undefined,
};

/** One HTTPS request as principal `who` (its token's subject), with the first role the route's rule allows. */
async function get(port: number, method: string, path: string, body = '', who = 'ops-2'): Promise<{ status: number; body: string }> {
  const token = await testToken(defaultRoleOf(method, path), ['*'], who);
  const reply = await reportsRequest(port, path, { method, token, ...(body === '' ? {} : { body }) });
  return { status: reply.status, body: reply.body };
}

function document(id: string, kind: 'purchase' | 'refund' | 'top_up', amount: number, currency: string, at: number): TransactionDocument {
  return {
    type: 'transaction',
    f: `f-${id}`,
    id,
    kind,
    outcome: 'approved',
    reason: '',
    rule: '',
    card: `card-${id}`,
    program: 'fest',
    terminal: 'kiosk-t1',
    merchant: 'kiosk',
    amount,
    requested: amount,
    currency,
    balance_after: 0,
    key: `kiosk-t1:${id}`,
    original: '',
    reverse: '',
    source: kind === 'top_up' ? 'cash' : '',
    operator: '',
    at,
    ...(kind === 'refund' ? { balance_delta: amount } : {}),
  };
}

describe('scheduled settlement and SEPA files (real Redis + ClickHouse 18.16)', function () {
  this.timeout(120_000);
  let redis: RedisInstance;
  let clickhouse: ClickHouseInstance;
  let runner: ClickHouseRunner;
  let store: RedisSettlementStore;
  let server: ReportsServer;
  let commands: ReturnType<typeof createClient>;
  const today_ms = Math.floor(Date.now() / day_ms) * day_ms;
  const yesterday_ms = today_ms - day_ms;
  const yesterday = new Date(yesterday_ms).toISOString().slice(0, 10);
  const rates: FeeRate[] = [
    { kind: 'purchase', percent_bp: 200, fixed_minor: 10 },
    { kind: 'refund', percent_bp: 0, fixed_minor: 20 },
    { kind: 'top_up', percent_bp: 100, fixed_minor: 0 },
  ];
  const share_bp = 2_500;
  const documents = [
    document('p1', 'purchase', 1_250, 'EUR', yesterday_ms + 36_000_000),
    document('p2', 'purchase', 333, 'EUR', yesterday_ms + 36_060_000),
    document('p3', 'purchase', 9_999, 'EUR', yesterday_ms + 36_120_000),
    document('r1', 'refund', 500, 'EUR', yesterday_ms + 36_180_000),
    document('t1', 'top_up', 5_000, 'EUR', yesterday_ms + 36_240_000),
    document('t2', 'top_up', 2_050, 'EUR', yesterday_ms + 36_300_000),
    document('c1', 'purchase', 4_000, 'CHF', yesterday_ms + 36_360_000),
  ];

  const scheduler = (holder: string): SettlementScheduler =>
    new SettlementScheduler(
      commands,
      { query: runner.query, database, store, now: Date.now },
      { shard_count, interval_ms: 60_000, catch_up_days: 3, holder, settle_margin_ms: 1_000 },
      logger,
    );

  before(async function () {
    [redis, clickhouse] = await Promise.all([
      startTestRedis('settle-sched-it'),
      startClickHouse({ dataDir: testDataDir('settle-sched-ch') }),
    ]);
    await migrate(clickhouse.url, database);
    commands = createClient({ url: redis.url });
    await commands.connect();
    // Committed at their own time, as the authorizer's commits are (an explicit stream id).
    for (const d of documents)
      await commands.sendCommand(['XADD', shardKeys(shardOf('card', d.card, shard_count)).outbox, `${d.at}-0`, 'd', JSON.stringify(d)]);
    runner = new ClickHouseRunner(clickhouse.url, database, 20_000);
    store = await RedisSettlementStore.connect(singleRedis(redis.url));
    server = await ReportsServer.start(
      { query: runner.query, database, cards: no_card_states, settlement: store, sepa_debtor: debtor },
      0,
      logger,
      await reportsSecurity(),
    );
    const config = {
      cycle: 'daily',
      payee_name: 'Kiosk GmbH',
      payee_iban: 'DE89370400440532013000',
      rates,
      deployer: { id: 'vendco', payee_name: 'VendCo BV', payee_iban: 'NL91ABNA0417164300', share_bp },
    };
    // A new payee account waits for a settlement approver other than its proposer (four eyes).
    assert.equal((await get(server.port, 'PUT', '/settlement/merchants/kiosk', JSON.stringify(config))).status, 202);
    assert.equal((await get(server.port, 'POST', '/settlement/merchants/kiosk/payee/approve', '{}', 'approver-1')).status, 200);
  });

  after(async function () {
    await server?.stop(1_000);
    await Promise.all([runner?.close(), store?.close(), commands?.close()]);
    await Promise.all([redis?.stop(), clickhouse?.stop()]);
  });

  it('computes no batch for a period still waiting in the outbox, then exactly one scheduler computes the exact batch', async function () {
    const first = scheduler('reports-a');
    const second = scheduler('reports-b');
    const early = await first.runOnce();
    assert.equal(early.held, true);
    // Earlier days (nothing happened) are computed as empty batches; yesterday is not all in ClickHouse yet.
    assert.ok(!early.computed.includes(`kiosk.daily.${yesterday}`), JSON.stringify(early.computed));
    assert.equal(early.computed.length, 2, 'the two quiet days of the catch-up window before yesterday');
    assert.ok(early.horizon_ms <= documents[0]!.at, 'the horizon stops at the oldest unstreamed entry');
    const streamer = await Streamer.start(loadStreamerConfig(streamerEnv(redis.url, clickhouse.url, database)), logger);
    try {
      await waitFor(
        'documents streamed',
        async () => (await reportTotals(clickhouse.url, database)).transactions === documents.length,
        () => 'transactions missing',
        20_000,
        100,
      );
      await waitFor(
        'outbox drained',
        async () => Number(await commands.sendCommand(['XLEN', shardKeys(shardOf('card', 'card-c1', shard_count)).outbox])) === 0,
        () => 'entries left',
        20_000,
        100,
      );
    } finally {
      await streamer.stop();
    }
    const [a, b] = await Promise.all([first.runOnce(), second.runOnce()]);
    assert.deepEqual([a.held, b.held].sort(), [false, true], 'one lease holder');
    assert.deepEqual([...a.computed, ...b.computed], [`kiosk.daily.${yesterday}`]);
    assert.deepEqual((await first.runOnce()).computed, [], 'a period is computed once');
    const batch = JSON.parse((await get(server.port, 'GET', `/settlement/batches/kiosk.daily.${yesterday}`)).body) as {
      computed_by: string;
      lines: Record<string, number | string>[];
    };
    assert.equal(batch.computed_by, 'scheduler');
    // Long hand, transaction by transaction.
    const euro = documents.filter((d) => d.currency === 'EUR');
    const fee = (d: TransactionDocument): number =>
      feeOf(
        d.amount,
        rates.find((rate) => rate.kind === d.kind),
      );
    const gross = euro.filter((d) => d.kind === 'purchase').reduce((sum, d) => sum + d.amount, 0);
    const fees = euro.filter((d) => d.kind !== 'top_up').reduce((sum, d) => sum + fee(d), 0);
    const topUps = euro.filter((d) => d.kind === 'top_up').reduce((sum, d) => sum + d.amount, 0);
    const commission = euro.filter((d) => d.kind === 'top_up').reduce((sum, d) => sum + fee(d), 0);
    const eur = batch.lines.find((line) => line['currency'] === 'EUR');
    assert.deepEqual(
      [eur?.['gross_minor'], eur?.['refunds_minor'], eur?.['fees_minor'], eur?.['top_ups_minor'], eur?.['top_up_commission_minor']],
      [gross, 500, fees, topUps, commission],
    );
    assert.equal(eur?.['net_minor'], gross - 500 - fees - topUps + commission);
    assert.equal(eur?.['deployer_share_minor'], Math.round((fees * share_bp) / 10_000));
  });

  it('serves the approved batch as a SEPA file the published XSD accepts, and as CSV', async function () {
    const id = `kiosk.daily.${yesterday}`;
    assert.equal((await get(server.port, 'GET', `/settlement/batches/${id}/files/pain.001`)).status, 409, 'not before approval');
    assert.equal((await get(server.port, 'POST', `/settlement/batches/${id}/approve`, '{}')).status, 200);
    const sepa = await get(server.port, 'GET', `/settlement/batches/${id}/files/pain.001`);
    assert.equal(sepa.status, 200, sepa.body);
    const validation = validateXml(sepa.body, pain001_xsd);
    assert.ok(validation.valid, validation.output);
    const batch = JSON.parse((await get(server.port, 'GET', `/settlement/batches/${id}`)).body) as { lines: Record<string, number>[] };
    const eur = batch.lines.find((line) => String(line['currency']) === 'EUR');
    const amounts = [...sepa.body.matchAll(/<InstdAmt Ccy="EUR">([0-9.]+)<\/InstdAmt>/g)].map((m) => m[1]);
    assert.deepEqual(amounts, [(Number(eur?.['net_minor']) / 100).toFixed(2), (Number(eur?.['deployer_share_minor']) / 100).toFixed(2)]);
    const csv = await get(server.port, 'GET', `/settlement/batches/${id}/files/csv`);
    assert.equal(csv.body, (await get(server.port, 'GET', `/settlement/batches/${id}/transfer.csv`)).body);
    assert.equal(csv.body.trim().split('\r\n').length, 1 + 4, 'header, EUR and CHF lines for the merchant and the deployer');
    assert.equal((await get(server.port, 'GET', `/settlement/batches/${id}/files/mt940`)).status, 404);
    assert.equal(sepa.body, (await get(server.port, 'GET', `/settlement/batches/${id}/files/pain.001`)).body, 'same bytes again');
  });

  it("refuses to run with a shard count below the authorizer's (the horizon would skip streams)", async function () {
    await commands.sendCommand(['XADD', shardKeys(32).outbox, '*', 'd', '{}']);
    const narrow = new SettlementScheduler(
      commands,
      { query: runner.query, database, store, now: Date.now },
      { shard_count: 32, interval_ms: 60_000, catch_up_days: 3, holder: 'narrow', settle_margin_ms: 1_000 },
      logger,
    );
    await commands.sendCommand(['DEL', 'tl:{settle}:scheduler:lease']);
    await assert.rejects(narrow.runOnce(), (error: Error) => error.name === 'ConfigError' && /TAPLINE_SHARD_COUNT/.test(error.message));
  });
});
