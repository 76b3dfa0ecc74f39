// Proves merchant settlement against a real Redis and ClickHouse 18.16, over the reports HTTP API:
// the seeded report history is streamed into ClickHouse (and its transactions inserted twice, as
// after a crash before XACK); a merchant's fee rates and cycle are stored; the batch of a period
// equals what plain loops over the history compute transaction by transaction, to the minor unit;
// the bank file is refused before approval; two operators approving at once make one approval;
// approval with a stale digest is refused; once approved the batch, its digest and its bank file
// never change again (recomputing, re-approving, re-settling change nothing, byte for byte in
// Redis); settle needs approval; an open period is refused; bad input is 400 naming the field and
// changes nothing in Redis.

import { singleRedis } from '../../services/common/redis-target';
import assert from 'node:assert/strict';
import { shardOf } from '../../actors/sharding/shard-key';
import { createLogger } from '../../services/common/logger';
import { startClickHouse, type ClickHouseInstance } from '../../tools/devenv/clickhouse';
import type { RedisInstance } from '../../tools/devenv/redis';
import type { CardStateReader } from '../../services/reports/card-states';
import { ClickHouseRunner } from '../../services/reports/clickhouse-runner';
import { ReportsServer } from '../../services/reports/server';
import { bankTransferCsv, type FeeRate, type SettlementLine } from '../../services/reports/settlement-rules';
import { RedisSettlementStore } from '../../services/reports/settlement-store';
import { ClickHouseSink } from '../../services/streamer/clickhouse-sink';
import { loadStreamerConfig } from '../../services/streamer/config';
import { rowsOf } from '../../services/streamer/rows';
import { migrate } from '../../services/streamer/schema/migrate';
import { Streamer } from '../../services/streamer/streamer';
import { startTestRedis, testDataDir, waitFor, defaultRoleOf, reportsRequest, reportsSecurity, testToken } from '../support/harness';
import { appendToOutbox, reportTotals, streamerEnv } from '../support/outbox-fixtures';
import { connectInspector } from '../support/redis-inspect';
import { expectedSettlementLines, reportHistory, writeCardStates, type History } from '../support/reports-fixtures';

const shard_count = 64;
const database = 'settlement_it';
const seed = Number(process.env['TAPLINE_TEST_SEED'] ?? Date.now() % 1_000_000);
const logger = createLogger('settlement-test', process.env['TAPLINE_TEST_LOG_LEVEL'] ?? 'warn');

/** Every Redis key with its content (the whole database, as an auditor reads it). */
async function redisSnapshot(url: string): Promise<string> {
  const inspector = await connectInspector(url, shard_count);
  try {
    return await inspector.snapshot();
  } finally {
    await inspector.close();
  }
}

interface Answer {
  readonly status: number;
  readonly type: string;
  readonly body: string;
}

/**
 * One request as principal `who` (the token's subject), with the first role the route's rule
 * allows (issuer_admin configures and computes, settlement_approver approves); null sends no token.
 */
async function send(port: number, method: string, path: string, body?: unknown, who: string | null = 'ops-1'): Promise<Answer> {
  const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  const token = who === null ? null : await testToken(defaultRoleOf(method, path), ['*'], who);
  const reply = await reportsRequest(port, path, { method, token, ...(payload === undefined ? {} : { body: payload }) });
  return { status: reply.status, type: String(reply.headers['content-type'] ?? ''), body: reply.body };
}

/** A settlement approver other than the proposer approves a merchant's proposed payee account (four eyes). */
async function approvePayee(port: number, merchant: string): Promise<void> {
  const answer = await send(port, 'POST', `/settlement/merchants/${merchant}/payee/approve`, {}, 'approver-1');
  assert.equal(answer.status, 200, answer.body);
}

const rates: FeeRate[] = [
  { kind: 'purchase', percent_bp: 175, fixed_minor: 5 },
  { kind: 'refund', percent_bp: 0, fixed_minor: 20 },
];

const expectedLines = (history: History, merchant: string, from_ms: number, until_ms: number): SettlementLine[] =>
  expectedSettlementLines(history, merchant, from_ms, until_ms, rates);

/** Settlement reads no stored balance: a reader that fails the report loudly if it ever did. */
const no_card_states: CardStateReader = {
  allBalances: () => Promise.reject(new Error('settlement reads no stored balances')),
  card: () => Promise.reject(new Error('settlement reads no stored balances')),
  close: () => undefined,
};

describe('settlement (real Redis + ClickHouse 18.16)', function () {
  let redis: RedisInstance;
  let clickhouse: ClickHouseInstance;
  let runner: ClickHouseRunner;
  let store: RedisSettlementStore;
  let server: ReportsServer;
  let history: History;
  let port = 0;

  before(async function () {
    console.log(`    seed ${seed} (replay with TAPLINE_TEST_SEED=${seed})`);
    [redis, clickhouse] = await Promise.all([
      startTestRedis('settlement-it'),
      startClickHouse({ dataDir: testDataDir('settlement-it-ch') }),
    ]);
    await migrate(clickhouse.url, database);
    history = reportHistory(seed, 24, 400, shard_count);
    await writeCardStates(redis.url, history.cards, shard_count);
    await appendToOutbox(redis.url, history.documents);
    const streamer = await Streamer.start(loadStreamerConfig(streamerEnv(redis.url, clickhouse.url, database)), logger);
    try {
      await waitFor(
        'history streamed into ClickHouse',
        async () => (await reportTotals(clickhouse.url, database)).transactions === history.transactions.length,
        () => 'transactions missing',
        15_000,
        100,
      );
    } finally {
      await streamer.stop();
    }
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
    runner = new ClickHouseRunner(clickhouse.url, database, 30_000);
    store = await RedisSettlementStore.connect(singleRedis(redis.url));
    server = await ReportsServer.start(
      { query: runner.query, database, cards: no_card_states, settlement: store },
      0,
      logger,
      await reportsSecurity(),
    );
    port = server.port;
  });

  after(async function () {
    await server?.stop(1_000);
    await Promise.all([runner?.close(), store?.close()]);
    await Promise.all([redis?.stop(), clickhouse?.stop()]);
  });

  const config = { cycle: 'daily', payee_name: 'Bar Zero GmbH', payee_iban: 'DE89370400440532013000', rates };

  it('stores fee rates and cycle per merchant, and refuses bad configurations without changing anything', async function () {
    const put = await send(port, 'PUT', '/settlement/merchants/bar-0', config);
    // The payee account is only proposed: it waits for a settlement approver other than its proposer.
    assert.equal(put.status, 202, put.body);
    assert.equal((await send(port, 'POST', '/settlement/merchants/bar-0/payee/approve', {}, 'ops-1')).status, 403, 'never by its proposer');
    await approvePayee(port, 'bar-0');
    const read = JSON.parse((await send(port, 'GET', '/settlement/merchants/bar-0')).body) as Record<string, unknown>;
    assert.deepEqual(
      [read['cycle'], read['rates'], read['updated_by'], read['payee_iban'], read['payee_approved_by']],
      ['daily', rates, 'ops-1', config.payee_iban, 'approver-1'],
    );
    const before = await redisSnapshot(redis.url);
    const bad: [string, string, unknown, string | null, string][] = [
      ['PUT', '/settlement/merchants/bar-0', { ...config, cycle: 'hourly' }, 'ops-1', 'cycle'],
      ['PUT', '/settlement/merchants/bar-0', { ...config, payee_name: "x', 1); --" }, 'ops-1', 'payee_name'],
      [
        'PUT',
        '/settlement/merchants/bar-0',
        { ...config, rates: [{ kind: 'purchase', percent_bp: -1, fixed_minor: 0 }] },
        'ops-1',
        'rates.0.percent_bp',
      ],
      ['PUT', '/settlement/merchants/bar-0', '{not json', 'ops-1', 'body'],
      ['PUT', "/settlement/merchants/bar'0", config, 'ops-1', 'merchantId'],
      ['POST', '/settlement/merchants/bar-0/batches', { date: '2026-02-30' }, 'ops-1', 'date'],
      ['POST', '/settlement/merchants/bar-0/batches', { date: "2026-01-31' OR 1=1" }, 'ops-1', 'date'],
      ['POST', '/settlement/merchants/bar-0/batches', { date: '2026-01-31', extra: 1 }, 'ops-1', 'extra'],
      ['POST', '/settlement/batches/bar-0.daily.2026-01-31/approve', { digest: 'abc' }, 'ops-1', 'digest'],
      ['POST', '/settlement/batches/bar-0.hourly.2026-01-31/approve', {}, 'ops-1', 'batchId'],
      ['POST', '/settlement/batches/bar-0.daily.2026-01-31/settle', { reference: 'a b' }, 'ops-1', 'reference'],
      ['GET', '/settlement/merchants/bar-0?x=1', undefined, 'ops-1', 'query'],
    ];
    for (const [method, path, body, operator, field] of bad) {
      const answer = await send(port, method, path, body, operator);
      assert.equal(answer.status, 400, `${method} ${path}: ${answer.body}`);
      assert.equal((JSON.parse(answer.body) as { error: { parameter: string } }).error.parameter, field, `${method} ${path}`);
    }
    // Who acts is the token's subject: no token is 401, a role the route does not allow is 403.
    assert.equal((await send(port, 'PUT', '/settlement/merchants/bar-0', config, null)).status, 401);
    const analyst = await reportsRequest(port, '/settlement/merchants/bar-0', {
      method: 'PUT',
      body: JSON.stringify(config),
      role: 'analyst',
    });
    assert.equal(analyst.status, 403, analyst.body);
    assert.equal((await send(port, 'POST', '/settlement/merchants/nobody/batches', { date: '2026-01-31' })).status, 404);
    assert.equal((await send(port, 'GET', '/settlement/batches/bar-0.daily.2026-01-30')).status, 404);
    assert.equal(
      (await send(port, 'POST', '/settlement/merchants/bar-0/batches', { date: '2199-12-31' })).status,
      409,
      'an open period is refused',
    );
    assert.deepEqual(await redisSnapshot(redis.url), before, 'refused requests changed nothing');
  });

  it('computes what the merchant is owed, exactly; approval is once, race-safe and freezes the batch; settled stays settled', async function () {
    const day_ms = 86_400_000;
    const from_ms = Date.UTC(2026, 0, 31);
    const computed = await send(port, 'POST', '/settlement/merchants/bar-0/batches', { date: '2026-01-31' });
    assert.equal(computed.status, 201, computed.body);
    const batch = JSON.parse(computed.body) as Record<string, unknown>;
    const expected = expectedLines(history, 'bar-0', from_ms, from_ms + day_ms);
    assert.ok(expected.length > 0 && (expected[0]?.fees_minor ?? 0) > 0, 'the period has sales and fees');
    assert.deepEqual([batch['id'], batch['state'], batch['lines']], ['bar-0.daily.2026-01-31', 'computed', expected]);
    assert.equal(
      (await send(port, 'GET', '/settlement/batches/bar-0.daily.2026-01-31/transfer.csv')).status,
      409,
      'no bank file before approval',
    );
    assert.equal(
      (await send(port, 'POST', '/settlement/batches/bar-0.daily.2026-01-31/settle', {})).status,
      409,
      'no settling before approval',
    );
    // Computing again before approval gives the same batch (and the same digest).
    const again = JSON.parse((await send(port, 'POST', '/settlement/merchants/bar-0/batches', { date: '2026-01-31' })).body) as Record<
      string,
      unknown
    >;
    assert.deepEqual(again['lines'], expected);
    assert.equal(
      (await send(port, 'POST', '/settlement/batches/bar-0.daily.2026-01-31/approve', { digest: '0'.repeat(64) })).status,
      409,
      'a stale digest is refused',
    );
    // Four eyes: the principal that computed the batch (ops-1) cannot approve it.
    const own = await send(port, 'POST', '/settlement/batches/bar-0.daily.2026-01-31/approve', { digest: again['digest'] }, 'ops-1');
    assert.equal(own.status, 403, own.body);
    assert.equal(
      (JSON.parse((await send(port, 'GET', '/settlement/batches/bar-0.daily.2026-01-31')).body) as Record<string, unknown>)['state'],
      'computed',
    );
    // Two operators approve at once: one approval, both see the same approved batch.
    const approvals = await Promise.all(
      ['ops-2', 'ops-3', 'ops-4'].map((operator) =>
        send(port, 'POST', '/settlement/batches/bar-0.daily.2026-01-31/approve', { digest: again['digest'] }, operator),
      ),
    );
    const views = approvals.map((answer) => JSON.parse(answer.body) as Record<string, unknown>);
    assert.deepEqual(
      approvals.map((answer) => answer.status),
      [200, 200, 200],
    );
    assert.equal(views.filter((view) => view['changed'] === true).length, 1, 'exactly one approval changed the state');
    assert.equal(new Set(views.map((view) => view['approved_by'])).size, 1);
    assert.ok(views.every((view) => view['state'] === 'approved' && view['digest'] === again['digest']));
    const csv = await send(port, 'GET', '/settlement/batches/bar-0.daily.2026-01-31/transfer.csv');
    assert.equal(csv.status, 200);
    assert.match(csv.type, /^text\/csv; charset=utf-8/);
    assert.equal(
      csv.body,
      bankTransferCsv({
        batch_id: 'bar-0.daily.2026-01-31',
        payee_name: 'Bar Zero GmbH',
        payee_iban: 'DE89370400440532013000',
        period: { from: '2026-01-31', to: '2026-01-31' },
        lines: expected,
      }),
    );
    // New rates after approval change nothing in the approved batch.
    await send(port, 'PUT', '/settlement/merchants/bar-0', { ...config, rates: [{ kind: 'purchase', percent_bp: 9_000, fixed_minor: 0 }] });
    const frozen = await redisSnapshot(redis.url);
    const recomputed = await send(port, 'POST', '/settlement/merchants/bar-0/batches', { date: '2026-01-31' });
    assert.equal(recomputed.status, 200);
    assert.deepEqual(
      [
        (JSON.parse(recomputed.body) as Record<string, unknown>)['changed'],
        (JSON.parse(recomputed.body) as Record<string, unknown>)['lines'],
      ],
      [false, expected],
    );
    const settled = await send(port, 'POST', '/settlement/batches/bar-0.daily.2026-01-31/settle', { reference: 'SEPA-2026-0131' }, 'ops-5');
    assert.equal(settled.status, 200, settled.body);
    assert.deepEqual(
      ['state', 'changed', 'settled_by', 'reference'].map((key) => (JSON.parse(settled.body) as Record<string, unknown>)[key]),
      ['settled', true, 'ops-5', 'SEPA-2026-0131'],
    );
    const after_settle = await redisSnapshot(redis.url);
    // Re-running a settled period: compute, approve, settle again change nothing, byte for byte.
    for (const [method, path, body] of [
      ['POST', '/settlement/merchants/bar-0/batches', { date: '2026-01-31' }],
      ['POST', '/settlement/batches/bar-0.daily.2026-01-31/approve', {}],
      ['POST', '/settlement/batches/bar-0.daily.2026-01-31/settle', { reference: 'OTHER' }],
    ] as const) {
      const answer = await send(port, method, path, body);
      assert.equal(answer.status, 200, answer.body);
      assert.equal((JSON.parse(answer.body) as Record<string, unknown>)['changed'], false, path);
    }
    assert.deepEqual(await redisSnapshot(redis.url), after_settle, 're-running a settled period changed nothing');
    assert.notDeepEqual(frozen, after_settle, 'settling itself was recorded');
    // The next day is its own batch, computed with the new rates.
    const next = JSON.parse((await send(port, 'POST', '/settlement/merchants/bar-0/batches', { date: '2026-02-01' })).body) as Record<
      string,
      unknown
    >;
    assert.equal(next['id'], 'bar-0.daily.2026-02-01');
    assert.deepEqual(next['rates'], [{ kind: 'purchase', percent_bp: 9_000, fixed_minor: 0 }]);
    // The merchant's batches, with their states (a merchant "bar-0.x" would not be listed here).
    await send(port, 'PUT', '/settlement/merchants/bar-0.x', config);
    await approvePayee(port, 'bar-0.x');
    assert.equal((await send(port, 'POST', '/settlement/merchants/bar-0.x/batches', { date: '2026-01-31' })).status, 201);
    const listing = JSON.parse((await send(port, 'GET', '/settlement/merchants/bar-0/batches')).body) as {
      batches: Record<string, unknown>[];
    };
    assert.deepEqual(
      listing.batches.map((b) => [b['id'], b['state']]),
      [
        ['bar-0.daily.2026-01-31', 'settled'],
        ['bar-0.daily.2026-02-01', 'computed'],
      ],
    );
    assert.deepEqual(
      listing.batches[0]?.['net'],
      expected.map((line) => ({ currency: line.currency, net_minor: line.net_minor })),
    );
  });

  it('reports fees per merchant over any range at its current rates, per operation type', async function () {
    await send(port, 'PUT', '/settlement/merchants/bar-2', { ...config, payee_name: 'Bar Two' });
    await approvePayee(port, 'bar-2');
    const answer = await send(port, 'GET', '/reports/merchants/bar-2/fees?from=2026-01-31&to=2026-02-01');
    assert.equal(answer.status, 200, answer.body);
    const report = JSON.parse(answer.body) as Record<string, unknown>;
    assert.deepEqual(report['currencies'], expectedLines(history, 'bar-2', Date.UTC(2026, 0, 31), Date.UTC(2026, 1, 2)));
    assert.deepEqual(report['rates'], rates);
    assert.equal(
      (await send(port, 'GET', '/reports/merchants/bar-9/fees?from=2026-01-31&to=2026-02-01')).status,
      404,
      'no rates, no fee report',
    );
    assert.equal((await send(port, 'GET', "/reports/merchants/bar'2/fees?from=2026-01-31&to=2026-02-01")).status, 400);
  });

  it('a settlement run computes every configured merchant whose period has ended, and leaves settled ones alone', async function () {
    const run = await send(port, 'POST', '/settlement/runs', { date: '2026-01-31' });
    assert.equal(run.status, 200, run.body);
    const result = JSON.parse(run.body) as { batches: Record<string, unknown>[]; periods_still_open: string[] };
    const byId = new Map(result.batches.map((b) => [b['id'], b]));
    assert.deepEqual(
      [byId.get('bar-0.daily.2026-01-31')?.['state'], byId.get('bar-0.daily.2026-01-31')?.['changed']],
      ['settled', false],
      'a settled batch is left as it is',
    );
    assert.equal(byId.get('bar-2.daily.2026-01-31')?.['state'], 'computed');
    assert.deepEqual(result.periods_still_open, []);
    const batch = JSON.parse((await send(port, 'GET', '/settlement/batches/bar-2.daily.2026-01-31')).body) as Record<string, unknown>;
    assert.deepEqual(batch['lines'], expectedLines(history, 'bar-2', Date.UTC(2026, 0, 31), Date.UTC(2026, 1, 1)));
    assert.equal((await send(port, 'POST', '/settlement/runs', { date: 'yesterday' })).status, 400);
  });

  it('settles a monthly merchant over the whole month, across the day boundary', async function () {
    assert.equal(
      (await send(port, 'PUT', '/settlement/merchants/bar-1', { ...config, cycle: 'monthly', payee_name: 'Bar One' })).status,
      202,
    );
    await approvePayee(port, 'bar-1');
    const batch = JSON.parse((await send(port, 'POST', '/settlement/merchants/bar-1/batches', { date: '2026-02-14' })).body) as Record<
      string,
      unknown
    >;
    assert.equal(batch['id'], 'bar-1.monthly.2026-02-01');
    assert.deepEqual(batch['lines'], expectedLines(history, 'bar-1', Date.UTC(2026, 1, 1), Date.UTC(2026, 2, 1)));
    const january = JSON.parse((await send(port, 'POST', '/settlement/merchants/bar-1/batches', { date: '2026-01-01' })).body) as Record<
      string,
      unknown
    >;
    assert.deepEqual(january['lines'], expectedLines(history, 'bar-1', Date.UTC(2026, 0, 1), Date.UTC(2026, 1, 1)));
  });
});
