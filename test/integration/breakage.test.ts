// Proves refund campaigns and breakage on real documents: a real node (over gRPC, with a clock the
// test moves across days) issues a program's cards the day before the campaign, cards spend and
// are returned (claims) while it runs, one is returned after its deadline; the streamer carries
// everything into ClickHouse 18.16. The breakage report then says, per currency, the float when
// the campaign opened, what moved and was claimed while it ran, what was left at the deadline (the
// breakage, 0 while the campaign is open) and what moved since, each equal to the long-hand sums
// of what the test did, and its float now equals the float report's outstanding value for the
// program to the minor unit. A campaign is final after its deadline; bad input is 400 naming the field.

import { singleRedis } from '../../services/common/redis-target';
import assert from 'node:assert/strict';
import { Outcome } from '../../gen/tapline/v1/types';
import type { AuthorizerNode } from '../../services/authorizer/node';
import { createLogger } from '../../services/common/logger';
import type { CardStateReader } from '../../services/reports/card-states';
import { ClickHouseRunner } from '../../services/reports/clickhouse-runner';
import { ReportsServer } from '../../services/reports/server';
import { RedisSettlementStore } from '../../services/reports/settlement-store';
import { loadStreamerConfig } from '../../services/streamer/config';
import { migrate } from '../../services/streamer/schema/migrate';
import { Streamer } from '../../services/streamer/streamer';
import { CardClient, programConfig } from '../../tools/client/card-client';
import { purchase, TaplineClient } from '../../tools/client/tapline-client';
import { startClickHouse, type ClickHouseInstance } from '../../tools/devenv/clickhouse';
import type { RedisInstance } from '../../tools/devenv/redis';
import { accessTo, reportsRequest, reportsSecurity, startInProcessNode, startTestRedis, testDataDir, waitFor } from '../support/harness';
import { reportTotals, streamerEnv } from '../support/outbox-fixtures';

const database = 'breakage_it';
const logger = createLogger('breakage-test', process.env['TAPLINE_TEST_LOG_LEVEL'] ?? 'warn');
const day_ms = 86_400_000;

const no_card_states: CardStateReader = {
  allBalances: () => Promise.reject(new Error('not read here')),
  card: () => Promise.reject(new Error('not read here')),
  close: () => undefined,
};

/** One HTTPS request with a token of a role the route allows (the reports service's door). */
function request(port: number, method: string, path: string, body?: unknown): Promise<{ status: number; body: string }> {
  return reportsRequest(port, path, { method, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
}

describe('refund campaigns and breakage (real node, streamer, ClickHouse 18.16)', function () {
  this.timeout(120_000);
  let redis: RedisInstance;
  let clickhouse: ClickHouseInstance;
  let node: AuthorizerNode;
  let client: TaplineClient;
  let cards: CardClient;
  let runner: ClickHouseRunner;
  let store: RedisSettlementStore;
  let server: ReportsServer;
  let txn = 1;
  // The campaign runs today and tomorrow (UTC); the cards are issued yesterday.
  const today_ms = Math.floor(Date.now() / day_ms) * day_ms;
  const day = (ms: number): string => new Date(ms).toISOString().slice(0, 10);
  // The node's clock runs at a fixed offset from real time (a node's leases and timers need a clock
  // that advances smoothly); the test moves to another day by restarting the node with a new offset.
  const clocks = { node_offset_ms: -day_ms, reports: today_ms - day_ms + 43_200_000 };
  const startNode = async (day_offset: number): Promise<void> => {
    client?.close();
    cards?.close();
    await node?.shutdown();
    clocks.node_offset_ms = day_offset * day_ms;
    node = await startInProcessNode(redis.url, {}, { clock: () => Date.now() + clocks.node_offset_ms });
    client = new TaplineClient(await accessTo(node));
    cards = new CardClient(await accessTo(node));
  };

  const issue = (cardId: string, balance: number): Promise<unknown> =>
    cards.issue({
      cardId,
      params: {
        initialBalance: { amountMinor: BigInt(balance), currency: 'EUR' },
        programId: 'fest',
        deposit: undefined,
        expiresAtUnixMs: 0n,
      },
      holder: undefined,
      pin: '',
      operatorId: 'ops',
    });

  before(async function () {
    [redis, clickhouse] = await Promise.all([startTestRedis('breakage-it'), startClickHouse({ dataDir: testDataDir('breakage-it-ch') })]);
    await migrate(clickhouse.url, database);
    await startNode(-1);
    await client.registerTerminal('bar-1', 'bar');
    await cards.defineProgram('fest', programConfig({}));
    runner = new ClickHouseRunner(clickhouse.url, database, 20_000);
    store = await RedisSettlementStore.connect(singleRedis(redis.url));
    server = await ReportsServer.start(
      { query: runner.query, database, cards: no_card_states, settlement: store, now: () => clocks.reports },
      0,
      logger,
      await reportsSecurity(),
    );
  });

  after(async function () {
    await server?.stop(1_000);
    client?.close();
    cards?.close();
    await node?.shutdown();
    await Promise.all([runner?.close(), store?.close()]);
    await Promise.all([redis?.stop(), clickhouse?.stop()]);
  });

  it('reports what was left at the deadline as breakage, reconciled with the float', async function () {
    const campaign = { program: 'fest', opens: day(today_ms), deadline: day(today_ms + day_ms) };
    const put = await request(server.port, 'PUT', '/settlement/campaigns/fest-2026', campaign);
    assert.equal(put.status, 200, put.body);
    // Yesterday: the event.
    await issue('bk-1', 3_000);
    await issue('bk-2', 2_000);
    await issue('bk-3', 1_000);
    await client.authorize(purchase('bar-1', txn++, 'bk-1', 500));
    // During the campaign: one claim, one more sale, one card issued late.
    await startNode(0);
    assert.equal((await cards.returnCard('bk-1', 'claim-bk-1')).outcome, Outcome.OUTCOME_APPROVED);
    await client.authorize(purchase('bar-1', txn++, 'bk-2', 300));
    await issue('bk-4', 700);
    // After the deadline: a late claim.
    await startNode(2);
    assert.equal((await cards.returnCard('bk-3', 'claim-bk-3')).outcome, Outcome.OUTCOME_APPROVED);
    const streamer = await Streamer.start(loadStreamerConfig(streamerEnv(redis.url, clickhouse.url, database)), logger);
    try {
      await waitFor(
        'transactions streamed',
        async () => (await reportTotals(clickhouse.url, database)).transactions >= 4,
        () => 'missing',
        20_000,
        100,
      );
      await waitFor(
        'issues streamed',
        async () => (await reportTotals(clickhouse.url, database)).lifecycle_events >= 5,
        () => 'missing',
        20_000,
        100,
      );
    } finally {
      await streamer.stop();
    }
    clocks.reports = today_ms + 36_000_000;
    const open = JSON.parse((await request(server.port, 'GET', '/reports/campaigns/fest-2026/breakage')).body) as {
      currencies: Record<string, number | string>[];
      summary: { state: string };
    };
    assert.equal(open.summary.state, 'open');
    assert.equal(open.currencies[0]?.['breakage_minor'], 0, 'no breakage before the deadline');
    clocks.reports = today_ms + 3 * day_ms;
    const closed = JSON.parse((await request(server.port, 'GET', '/reports/campaigns/fest-2026/breakage')).body) as {
      currencies: Record<string, number | string>[];
      summary: { state: string };
    };
    assert.equal(closed.summary.state, 'closed');
    const at_open = 3_000 + 2_000 + 1_000 - 500;
    const movements = -2_500 - 300 + 700;
    assert.deepEqual(closed.currencies, [
      {
        currency: 'EUR',
        float_at_open_minor: at_open,
        movements_minor: movements,
        claims: 1,
        claimed_minor: 2_500,
        after_deadline_minor: -1_000,
        deposits_at_deadline_minor: 0,
        float_at_deadline_minor: at_open + movements,
        breakage_minor: at_open + movements,
        deposit_breakage_minor: 0,
        float_now_minor: at_open + movements - 1_000,
      },
    ]);
    const float = JSON.parse((await request(server.port, 'GET', '/reports/float?currency=EUR')).body) as {
      programs: { program: string; outstanding_minor: number }[];
    };
    assert.equal(float.programs.find((row) => row.program === 'fest')?.outstanding_minor, closed.currencies[0]?.['float_now_minor']);
  });

  it('keeps a campaign final after its deadline and refuses bad input naming the field', async function () {
    const late = await request(server.port, 'PUT', '/settlement/campaigns/fest-2026', {
      program: 'fest',
      opens: day(today_ms),
      deadline: day(today_ms + 9 * day_ms),
    });
    assert.equal(late.status, 409, late.body);
    const bad: [unknown, string][] = [
      [{ program: 'fest', opens: day(today_ms + 5 * day_ms), deadline: day(today_ms + 4 * day_ms) }, 'deadline'],
      [{ program: 'fest', opens: '2026-02-30', deadline: day(today_ms + 9 * day_ms) }, 'opens'],
      [{ program: "fe'st", opens: day(today_ms + 4 * day_ms), deadline: day(today_ms + 9 * day_ms) }, 'program'],
      [{ program: 'fest', opens: day(today_ms + 4 * day_ms), deadline: day(today_ms + 9 * day_ms), extra: 1 }, 'body'],
    ];
    for (const [body, field] of bad) {
      const answer = await request(server.port, 'PUT', '/settlement/campaigns/next', body);
      assert.equal(answer.status, 400, answer.body);
      assert.equal((JSON.parse(answer.body) as { error: { parameter: string } }).error.parameter, field);
    }
    assert.equal((await request(server.port, 'GET', '/settlement/campaigns/next')).status, 404, 'nothing stored');
    assert.equal((await request(server.port, 'GET', '/reports/campaigns/next/breakage')).status, 404);
  });
});
