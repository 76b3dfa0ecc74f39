// Property of offline selling, on the real thing: a real node, real Redis, the real streamer and
// ClickHouse 18.16, simulated terminals and card media. fast-check (seeded, the seed is printed)
// draws schedules over a few cards and terminals: online sales, top-ups, freezes and unfreezes,
// offline sales (some terminals ignore their grant and denylist), voids, counter refreshes,
// batches closed and uploaded in any order and again, syncs. After every schedule:
//   - every offline entry was applied exactly once: one result per entry, one record and one
//     document per entry key, and uploading an answered batch again answers the same results;
//   - every card's balance is its initial balance plus the movements its documents record;
//   - no card ever owed more than the loss bound of its program (actors/offline/loss-bound.ts);
//     schedules are tight (small caps, bursts of sales of one card, frequent syncs) so cards go
//     deep into debt, and the suite prints how close they came to the bound;
//   - a top-up of a card that owes pays the debt back first.
// After all schedules, once the streamer drained the outbox, ClickHouse's balance of every card
// equals Redis's, and the offline report's totals equal the results the terminals received.

import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import type { RedisInstance } from '../../tools/devenv/redis';
import type { AuthorizerNode } from '../../services/authorizer/node';
import { queryClickHouse, startClickHouse, type ClickHouseInstance } from '../../tools/devenv/clickhouse';
import { outboxBacklog } from '../../tools/devenv/outbox';
import { TaplineClient, purchase } from '../../tools/client/tapline-client';
import { CardClient, programConfig } from '../../tools/client/card-client';
import { OfflineClient } from '../../tools/client/offline-client';
import { OfflineTerminalSimulator, generateTerminalKey, type CardMedium } from '../../tools/offline-terminal/simulator';
import { OfflineLiability } from '../../gen/tapline/v1/offline';
import { CardStatus } from '../../gen/tapline/v1/types';
import { lossBoundMinor } from '../../actors/offline/loss-bound';
import { v1BalanceDelta } from '../../actors/outbox/contract';
import { createLogger } from '../../services/common/logger';
import { loadStreamerConfig } from '../../services/streamer/config';
import { migrate } from '../../services/streamer/schema/migrate';
import { Streamer } from '../../services/streamer/streamer';
import { cardBalancesSql } from '../../services/reports/queries';
import { accessTo, startInProcessNode, startTestRedis, test_shard_count, testDataDir, waitFor } from '../support/harness';
import { streamerEnv } from '../support/outbox-fixtures';
import { connectInspector, type Inspector } from '../support/redis-inspect';

const seed = Number(process.env['FC_SEED'] ?? Date.now() % 2 ** 31);
const runs = Number(process.env['TAPLINE_OFFLINE_PROPERTY_RUNS'] ?? 12);
const database = 'offline_props';
const logger = createLogger('offline-properties', process.env['TAPLINE_TEST_LOG_LEVEL'] ?? 'warn');
// Tight on purpose: a schedule of a few dozen steps drives cards deep into debt and up to the bound.
const policy = { txnMaxMinor: 600, cardMaxMinor: 1_000, debtThresholdMinor: 200 };

type Step =
  | { readonly op: 'sell'; readonly terminal: number; readonly card: number; readonly amount: number }
  /** Several sales of one card at one terminal in a row: what drives a card to its bound. */
  | { readonly op: 'burst'; readonly terminal: number; readonly card: number; readonly amount: number; readonly count: number }
  | { readonly op: 'void'; readonly terminal: number; readonly pick: number }
  | { readonly op: 'online'; readonly card: number; readonly amount: number }
  | { readonly op: 'top_up'; readonly card: number; readonly amount: number }
  | { readonly op: 'freeze' | 'unfreeze'; readonly card: number }
  | { readonly op: 'close'; readonly terminal: number }
  | { readonly op: 'upload'; readonly terminal: number; readonly reverse: boolean; readonly again: boolean }
  | { readonly op: 'sync'; readonly terminal: number }
  | { readonly op: 'refresh'; readonly terminal: number; readonly card: number };

interface Schedule {
  readonly counter: boolean;
  readonly balances: readonly number[];
  readonly terminals: readonly { readonly countMax: number; readonly totalMaxMinor: number; readonly rogue: boolean }[];
  readonly steps: readonly Step[];
}

const schedules: fc.Arbitrary<Schedule> = fc
  .record({
    counter: fc.boolean(),
    balances: fc.array(fc.integer({ min: 0, max: 1_000 }), { minLength: 1, maxLength: 2 }),
    terminals: fc.array(
      fc.record({ countMax: fc.integer({ min: 2, max: 6 }), totalMaxMinor: fc.integer({ min: 1_000, max: 3_000 }), rogue: fc.boolean() }),
      { minLength: 2, maxLength: 3 },
    ),
  })
  .chain((shape) => {
    const t = fc.integer({ min: 0, max: shape.terminals.length - 1 });
    const c = fc.integer({ min: 0, max: shape.balances.length - 1 });
    const step: fc.Arbitrary<Step> = fc.oneof(
      {
        weight: 8,
        arbitrary: fc.record({ op: fc.constant('sell' as const), terminal: t, card: c, amount: fc.integer({ min: 100, max: 700 }) }),
      },
      {
        weight: 4,
        arbitrary: fc.record({
          op: fc.constant('burst' as const),
          terminal: t,
          card: c,
          amount: fc.integer({ min: 300, max: 600 }),
          count: fc.integer({ min: 2, max: 6 }),
        }),
      },
      { weight: 1, arbitrary: fc.record({ op: fc.constant('void' as const), terminal: t, pick: fc.nat() }) },
      { weight: 2, arbitrary: fc.record({ op: fc.constant('online' as const), card: c, amount: fc.integer({ min: 1, max: 700 }) }) },
      { weight: 2, arbitrary: fc.record({ op: fc.constant('top_up' as const), card: c, amount: fc.integer({ min: 1, max: 1_500 }) }) },
      { weight: 1, arbitrary: fc.record({ op: fc.constantFrom('freeze' as const, 'unfreeze' as const), card: c }) },
      { weight: 2, arbitrary: fc.record({ op: fc.constant('close' as const), terminal: t }) },
      { weight: 2, arbitrary: fc.record({ op: fc.constant('upload' as const), terminal: t, reverse: fc.boolean(), again: fc.boolean() }) },
      { weight: 4, arbitrary: fc.record({ op: fc.constant('sync' as const), terminal: t }) },
      { weight: 1, arbitrary: fc.record({ op: fc.constant('refresh' as const), terminal: t, card: c }) },
    );
    return fc.record({
      counter: fc.constant(shape.counter),
      balances: fc.constant(shape.balances),
      terminals: fc.constant(shape.terminals),
      steps: fc.array(step, { minLength: 40, maxLength: 90 }),
    });
  });

describe('offline selling, property: exactly once, exact balances, loss within the bound, debt recovered, ClickHouse = Redis', function () {
  this.timeout(600_000);
  let redis: RedisInstance;
  let clickhouse: ClickHouseInstance;
  let node: AuthorizerNode;
  let client: TaplineClient;
  let offline: OfflineClient;
  let inspect: Inspector;
  let run = 0;
  let onlineTxn = 1;
  /** Every card of every run, and what the terminals were answered for the offline report. */
  const allCards: string[] = [];
  const answered = { issuerMinor: 0, merchantSales: 0 };
  /** How close the schedules came to the bound (printed: a property that never nears it proves little). */
  const reach = { worstOverBound: 0, cardsInDebt: 0, cardsListedForDebt: 0 };

  before(async function () {
    console.log(`    seed ${seed} (replay with FC_SEED=${seed}), ${runs} schedules`);
    [redis, clickhouse] = await Promise.all([
      startTestRedis('offline-props'),
      startClickHouse({ dataDir: testDataDir('offline-props-ch') }),
    ]);
    await migrate(clickhouse.url, database);
    const keyFile = join(testDataDir('offline-props-key'), 'counter.pem');
    writeFileSync(keyFile, generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }));
    node = await startInProcessNode(redis.url, { TAPLINE_OFFLINE_COUNTER_KEY_FILE: keyFile });
    const access = await accessTo(node);
    client = new TaplineClient(access);
    offline = new OfflineClient(access);
    inspect = await connectInspector(redis.url);
    const cards = new CardClient(access);
    for (const [programId, cardCounter] of [
      ['prop-plain', false],
      ['prop-counter', true],
    ] as const) {
      const offlinePolicy = {
        txnMaxMinor: BigInt(policy.txnMaxMinor),
        cardMaxMinor: BigInt(policy.cardMaxMinor),
        debtThresholdMinor: BigInt(policy.debtThresholdMinor),
        cardCounter,
      };
      await cards.defineProgram(programId, programConfig({ offline: offlinePolicy }));
    }
    cards.close();
    await client.registerTerminal('prop-online', 'prop-shop');
  });

  after(async function () {
    client?.close();
    offline?.close();
    await inspect?.close();
    await node?.shutdown();
    await Promise.all([redis?.stop(), clickhouse?.stop()]);
  });

  it('holds for every drawn schedule', async function () {
    await fc.assert(
      fc.asyncProperty(schedules, async (schedule) => {
        run += 1;
        await check(schedule, `r${run}`);
      }),
      { seed, numRuns: runs },
    );
    console.log(
      `    reach: worst debt ${Math.round(reach.worstOverBound * 100)}% of its bound; ${reach.cardsInDebt} cards went into debt, ${reach.cardsListedForDebt} past the threshold`,
    );
  });

  it('ClickHouse agrees with Redis on every balance, and the offline report with the terminals', async function () {
    const streamer = await Streamer.start(loadStreamerConfig(streamerEnv(redis.url, clickhouse.url, database)), logger);
    try {
      await waitFor(
        'outbox drained',
        async () => (await outboxBacklog(redis.url, test_shard_count)) === 0,
        () => 'outbox not empty',
        120_000,
        100,
      );
      const expected = new Map<string, number>();
      for (const cardId of allCards) expected.set(cardId, (await inspect.card(cardId))?.balanceMinor ?? Number.NaN);
      let seen = '';
      await waitFor(
        'every balance in ClickHouse equals Redis',
        async () => {
          const rows = (await queryClickHouse(clickhouse.url, `${cardBalancesSql(database)} FORMAT TSV`))
            .split('\n')
            .filter((line) => line !== '')
            .map((line) => line.split('\t'));
          const clickhouseBalances = new Map(rows.map(([card, balance]) => [String(card), Number(balance)]));
          const differing = allCards.filter((cardId) => clickhouseBalances.get(cardId) !== expected.get(cardId));
          seen = `${differing.length} of ${allCards.length} differ, e.g. ${differing[0]}: ${clickhouseBalances.get(differing[0] ?? '')} vs ${expected.get(differing[0] ?? '')}`;
          return differing.length === 0;
        },
        () => seen,
        60_000,
        200,
      );
      const [issuer, merchant] = (
        await queryClickHouse(
          clickhouse.url,
          `SELECT toInt64(sumIf(amount, outcome = 'approved')), countIf(liability = 'merchant') FROM ${database}.offline_sales_dedup WHERE kind = 'offline_purchase' FORMAT TSV`,
        )
      )
        .trim()
        .split('\t')
        .map(Number);
      assert.deepEqual(
        [issuer, merchant],
        [answered.issuerMinor, answered.merchantSales],
        'offline totals in ClickHouse = what the terminals were answered',
      );
    } finally {
      await streamer.stop();
    }
  });

  async function check(schedule: Schedule, prefix: string): Promise<void> {
    const program = schedule.counter ? 'prop-counter' : 'prop-plain';
    const cardIds = schedule.balances.map((_, i) => `${prefix}-c${i}`);
    await Promise.all(cardIds.map((id, i) => client.issueCard(id, schedule.balances[i] as number, 'EUR', program)));
    allCards.push(...cardIds);
    const media: CardMedium[] = cardIds.map((cardId) => ({ cardId, programId: program }));
    let clockMs = 0;
    const terminals: OfflineTerminalSimulator[] = [];
    for (const [i, caps] of schedule.terminals.entries()) {
      const id = `${prefix}-t${i}`;
      await client.registerTerminal(id, `${prefix}-m${i}`);
      const key = generateTerminalKey();
      await offline.setTerminalOffline({
        terminalId: id,
        publicKey: key.spki,
        programIds: [program],
        totalMaxMinor: caps.totalMaxMinor,
        currency: 'EUR',
        countMax: caps.countMax,
        offlineMaxMs: 3_600_000,
      });
      const sim = new OfflineTerminalSimulator(id, offline, key, { clock: () => clockMs, rogue: caps.rogue, batch_entries_max: 3 });
      await sim.sync();
      terminals.push(sim);
    }
    const answeredBatches: { sim: OfflineTerminalSimulator; bytes: Uint8Array; signature: Uint8Array; results: unknown }[] = [];
    const uploadAll = async (sim: OfflineTerminalSimulator, reverse: boolean): Promise<void> => {
      const order = sim.pending.map((batch) => batch.number);
      if (reverse) order.reverse();
      for (const number of order) {
        const batch = sim.pending.find((b) => b.number === number);
        if (batch === undefined) continue;
        const answer = await sim.uploadBatch(batch);
        answeredBatches.push({ sim, bytes: batch.bytes, signature: batch.signature, results: answer.results });
      }
    };
    for (const step of schedule.steps) {
      clockMs += 1_000;
      await apply(step, terminals, media, uploadAll, answeredBatches);
    }
    for (const sim of terminals) {
      sim.closeBatches();
      await uploadAll(sim, true);
    }
    // Any answered batch again: the same results, nothing moves.
    const again = answeredBatches[answeredBatches.length - 1];
    if (again !== undefined) {
      const before = await inspect.snapshot();
      const answer = await offline.upload(again.sim.terminalId, again.bytes, again.signature);
      assert.deepEqual(answer.results, again.results, 'a re-upload answers the same results');
      assert.equal(await inspect.snapshot(), before, 'a re-upload changes nothing');
    }
    await verify(schedule, terminals, cardIds);
  }

  async function apply(
    step: Step,
    terminals: readonly OfflineTerminalSimulator[],
    media: readonly CardMedium[],
    uploadAll: (sim: OfflineTerminalSimulator, reverse: boolean) => Promise<void>,
    answeredBatches: { sim: OfflineTerminalSimulator; bytes: Uint8Array; signature: Uint8Array; results: unknown }[],
  ): Promise<void> {
    const sim = 'terminal' in step ? (terminals[step.terminal] as OfflineTerminalSimulator) : undefined;
    const medium = 'card' in step ? (media[step.card] as CardMedium) : undefined;
    switch (step.op) {
      case 'sell':
        sim?.sell(medium as CardMedium, step.amount, 'EUR');
        return;
      case 'burst':
        for (let n = 0; n < step.count; n++) sim?.sell(medium as CardMedium, step.amount, 'EUR');
        return;
      case 'void': {
        const sales = [...(sim as OfflineTerminalSimulator).entries.values()].filter((entry) => entry.amount !== undefined);
        const chosen = sales[step.pick % Math.max(1, sales.length)];
        if (chosen !== undefined) sim?.voidSale(Number(chosen.entryNumber));
        return;
      }
      case 'online':
        await client.authorize(purchase('prop-online', onlineTxn++, (medium as CardMedium).cardId, step.amount));
        return;
      case 'top_up':
        await client.topUp((medium as CardMedium).cardId, step.amount, { terminalId: 'prop-online', txn: onlineTxn++ });
        return;
      case 'freeze':
      case 'unfreeze':
        await client
          .setCardStatus(
            (medium as CardMedium).cardId,
            step.op === 'freeze' ? CardStatus.CARD_STATUS_FROZEN : CardStatus.CARD_STATUS_ACTIVE,
          )
          .catch(() => undefined);
        return;
      case 'close':
        sim?.closeBatches();
        return;
      case 'upload': {
        await uploadAll(sim as OfflineTerminalSimulator, step.reverse);
        const earlier = answeredBatches.find((batch) => batch.sim === sim);
        if (step.again && earlier !== undefined) {
          const answer = await offline.upload(earlier.sim.terminalId, earlier.bytes, earlier.signature);
          assert.deepEqual(answer.results, earlier.results, 'an answered batch uploaded again answers the same results');
        }
        return;
      }
      case 'sync':
        sim?.closeBatches();
        await uploadAll(sim as OfflineTerminalSimulator, false);
        await sim?.sync();
        return;
      case 'refresh':
        // Refused while the card is listed: its medium keeps what it counted.
        await sim?.refreshCounter(medium as CardMedium).catch(() => undefined);
        return;
    }
  }

  async function verify(schedule: Schedule, terminals: readonly OfflineTerminalSimulator[], cardIds: readonly string[]): Promise<void> {
    // Exactly once: a result per entry, a record per entry key.
    for (const sim of terminals) {
      assert.equal(sim.results.size, sim.entries.size, `${sim.terminalId}: a result for each of its ${sim.entries.size} entries`);
      for (const number of sim.entries.keys()) {
        const key = `o:${sim.terminalId}:${number}`;
        const result = sim.results.get(number);
        const record = await inspect.idempotency(key);
        if (result?.liabilityReason !== 'unknown_card') assert.ok(record !== undefined, `${key} has its record`);
        if (result?.liability === OfflineLiability.OFFLINE_LIABILITY_ISSUER)
          answered.issuerMinor += Number(result.amount?.amountMinor ?? 0n);
        if (result?.liability === OfflineLiability.OFFLINE_LIABILITY_MERCHANT) answered.merchantSales += 1;
      }
    }
    const documents = (await inspect.outbox()).filter((d) => d['type'] === 'transaction' && cardIds.includes(String(d['card'])));
    const keys = documents.map((d) => String(d['key'])).filter((key) => key.startsWith('o:'));
    assert.equal(new Set(keys).size, keys.length, 'one document per offline entry');
    const bound = lossBoundMinor(
      { ...policy, cardCounter: schedule.counter },
      schedule.terminals.map((t) => ({ totalMaxMinor: t.totalMaxMinor, countMax: t.countMax })),
    ).applies;
    for (const [i, cardId] of cardIds.entries()) {
      const mine = documents.filter((d) => d['card'] === cardId);
      const movements = mine
        .filter((d) => d['outcome'] === 'approved')
        .reduce((sum, d) => sum + Number(d['balance_delta'] ?? v1BalanceDelta(String(d['kind']), 'approved', Number(d['amount']))), 0);
      assert.equal(
        (await inspect.card(cardId))?.balanceMinor,
        (schedule.balances[i] as number) + movements,
        `${cardId}: balance = its movements`,
      );
      const worst = Math.max(0, ...mine.map((d) => Number(d['debt_after'] ?? 0)));
      assert.ok(worst <= bound, `${cardId} owed ${worst}, over the bound ${bound}`);
      reach.worstOverBound = Math.max(reach.worstOverBound, worst / bound);
      if (worst > 0) reach.cardsInDebt += 1;
      if (worst > policy.debtThresholdMinor) reach.cardsListedForDebt += 1;
      for (const topUp of mine.filter((d) => d['kind'] === 'top_up' && d['outcome'] === 'approved' && d['debt_delta'] !== undefined)) {
        const owedBefore = Number(topUp['debt_after']) - Number(topUp['debt_delta']);
        assert.equal(
          -Number(topUp['debt_delta']),
          Math.min(Number(topUp['amount']), owedBefore),
          `${cardId}: a top-up pays the debt back first`,
        );
      }
    }
  }
});
