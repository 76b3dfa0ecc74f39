// Proves fleet accounts end to end against a real authorizer node, real Redis and real gRPC:
// a fleet card's purchase is decided by its account's actor and the account, card and vehicle
// records, the idempotency record and the outbox document are written in one commit before the
// reply; every limit type (per transaction, daily, weekly, monthly, lifetime, fleet-wide, credit)
// approves at and below its boundary and declines one minor unit above it; limits restart at local
// midnight, at the local week and month end and on both DST days of Europe/Berlin (the node runs on
// a test clock moved across those instants); products, prompts, odometer plausibility and
// negotiated prices with base price lists by effective date are applied, from the account's own
// list or a shared SPOT list several fleets follow; many cards of one fleet
// racing its fleet-wide limit never get more than the limit approved; program rules (velocity,
// soft risk flag, temporary block) work through the same path; and bad fleet input changes nothing.

import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import type { RedisInstance } from '../../tools/devenv/redis';
import type { AuthorizerNode } from '../../services/authorizer/node';
import { DeclineReason, Outcome } from '../../gen/tapline/v1/types';
import { ReverseResult, type AuthorizeStreamResponse } from '../../gen/tapline/v1/authorization';
import { FleetCardStatus, PriceFormula, SetFleetCardStatusResponse, type SpendLimits } from '../../gen/tapline/v1/fleet';
import { TaplineClient } from '../../tools/client/tapline-client';
import { CardClient } from '../../tools/client/card-client';
import { FleetClient, fleetPurchase, type FleetLine, type FleetPrompts } from '../../tools/client/fleet-client';
import { shardOf } from '../../actors/sharding/shard-key';
import { fleetCardKey, fleetKey } from '../../services/authorizer/store/keys';
import { startInProcessNode, startTestRedis, test_shard_count, accessTo } from '../support/harness';
import { connectInspector, type Inspector } from '../support/redis-inspect';

const at = (iso: string): number => Date.parse(iso);

describe('fleet accounts (real Redis, real gRPC, test clock)', function () {
  let redis: RedisInstance;
  let node: AuthorizerNode;
  let client: TaplineClient;
  let fleet: FleetClient;
  let inspect: Inspector;
  // Instants in the past (a request's deadline is checked against this clock).
  let nowMs = at('2025-11-18T10:00:00Z');
  let txn = 0;

  before(async function () {
    redis = await startTestRedis('fleet');
    node = await startInProcessNode(redis.url, {}, { clock: () => nowMs });
    client = new TaplineClient(await accessTo(node));
    fleet = new FleetClient(await accessTo(node));
    inspect = await connectInspector(redis.url);
    await client.registerTerminal('pump-1', 'station-1');
  });

  after(async function () {
    client?.close();
    fleet?.close();
    await inspect?.close();
    await node?.shutdown();
    await redis?.stop();
  });

  async function newFleet(
    fleetId: string,
    options: { credit?: number; limits?: SpendLimits; cardLimits?: SpendLimits; cards?: number } = {},
  ): Promise<string[]> {
    await fleet.createAccount({ fleetId, creditLimitMinor: options.credit ?? 100_000_000, timeZone: 'Europe/Berlin' });
    if (options.limits) await fleet.setLimits({ fleetId, limits: options.limits, operatorId: 'ops' });
    const cards: string[] = [];
    for (let i = 1; i <= (options.cards ?? 1); i++) {
      const issued = await fleet.issueCard({
        fleetId,
        cardNo: String(i),
        limits: options.cardLimits,
        productGroups: undefined,
        operatorId: 'ops',
      });
      cards.push(issued.card!.cardId);
    }
    return cards;
  }

  const diesel = (amountMinor: number, extra: Partial<FleetLine> = {}): FleetLine => ({
    code: 'diesel',
    group: 'fuel',
    qtyMilli: 10_000,
    unitMinor: 150,
    amountMinor,
    ...extra,
  });
  const buy = (cardId: string, amountMinor: number, prompts: FleetPrompts = {}, lines?: FleetLine[]) =>
    client.authorize(fleetPurchase('pump-1', ++txn, cardId, lines ?? [diesel(amountMinor)], prompts));

  async function fleetRecord(fleetId: string): Promise<{ version: number; state: { balanceMinor: number; spent: { day_minor: number } } }> {
    const record = await inspect.client.hGetAll(fleetKey(shardOf('fleet', fleetId, test_shard_count), fleetId));
    return { version: Number(record['v']), state: JSON.parse(String(record['d'])) };
  }

  /** The stored account state as it is, every field. */
  async function fleetState(fleetId: string): Promise<object> {
    const record = await inspect.client.hGetAll(fleetKey(shardOf('fleet', fleetId, test_shard_count), fleetId));
    return JSON.parse(String(record['d'])) as object;
  }

  it('approves a fleet purchase: account, card, idempotency and outbox committed together before the reply', async function () {
    const [card] = await newFleet('acme');
    const reply = await buy(card!, 7_235, { odometerKm: 12_000, driverId: 'd-7', vehicleId: 'truck-9' });
    assert.equal(reply.outcome, Outcome.OUTCOME_APPROVED);
    assert.equal(reply.invoicedAmount?.amountMinor, 7_235n);
    assert.equal(reply.pumpAmount?.amountMinor, 7_235n);
    assert.equal(reply.balanceAfter?.amountMinor, 100_000_000n - 7_235n);
    const account = await fleetRecord('acme');
    assert.equal(account.state.balanceMinor, -7_235);
    const cardRecord = await inspect.client.hGetAll(fleetCardKey(shardOf('fleet', 'acme', test_shard_count), card!));
    assert.equal(JSON.parse(String(cardRecord['d'])).spent.lifetime_minor, 7_235);
    const doc = (await inspect.outbox()).find((d) => d['id'] === reply.transactionId)!;
    assert.equal(doc['fleet'], 'acme');
    assert.equal(doc['balance_delta'], 0);
    assert.equal(doc['account_balance_after'], -7_235);
    assert.equal(doc['pump'], 7_235);
    assert.equal(doc['invoiced'], 7_235);
    assert.equal(doc['odometer'], 12_000);
    assert.equal(doc['driver'], 'd-7');
    assert.equal(doc['vehicle'], 'truck-9');
    assert.deepEqual(doc['lines'], [
      { code: 'diesel', group: 'fuel', qty_milli: 10_000, unit: 150, amount: 7_235, pump_unit: 150, invoiced: 7_235 },
    ]);
    assert.equal((await inspect.idempotency(`t:pump-1:${txn}`))?.id, reply.transactionId);
    // A retry is answered from the record with the same fleet figures, and moves nothing.
    const retry = await client.authorize(
      fleetPurchase('pump-1', txn, card!, [diesel(7_235)], { odometerKm: 12_000, driverId: 'd-7', vehicleId: 'truck-9' }),
    );
    assert.equal(retry.replayed, true);
    assert.equal(retry.transactionId, reply.transactionId);
    assert.equal(retry.invoicedAmount?.amountMinor, 7_235n);
    assert.equal((await fleetRecord('acme')).state.balanceMinor, -7_235);
    // The same key with a different basket is a different request.
    await assert.rejects(
      client.authorize(fleetPurchase('pump-1', txn, card!, [diesel(7_000)])),
      (e: grpc.ServiceError) => e.code === grpc.status.ALREADY_EXISTS,
    );
    const fetched = await fleet.getCard(card!);
    assert.equal(fetched.card?.spentLifetimeMinor, 7_235n);
    assert.equal((await fleet.getAccount('acme')).account?.balance?.amountMinor, -7_235n);
  });

  const boundaries: { name: string; limits: { card?: SpendLimits; fleet?: SpendLimits }; rule: string }[] = [
    { name: 'card per transaction', limits: { card: { perTxnMinor: 5_000n } }, rule: 'limit:card:per_txn' },
    { name: 'card daily', limits: { card: { dailyMinor: 5_000n } }, rule: 'limit:card:daily' },
    { name: 'card weekly', limits: { card: { weeklyMinor: 5_000n } }, rule: 'limit:card:weekly' },
    { name: 'card monthly', limits: { card: { monthlyMinor: 5_000n } }, rule: 'limit:card:monthly' },
    { name: 'card lifetime', limits: { card: { lifetimeMinor: 5_000n } }, rule: 'limit:card:lifetime' },
    { name: 'fleet-wide daily', limits: { fleet: { dailyMinor: 5_000n } }, rule: 'limit:fleet:daily' },
    { name: 'fleet-wide weekly', limits: { fleet: { weeklyMinor: 5_000n } }, rule: 'limit:fleet:weekly' },
    { name: 'fleet-wide monthly', limits: { fleet: { monthlyMinor: 5_000n } }, rule: 'limit:fleet:monthly' },
    { name: 'fleet-wide lifetime', limits: { fleet: { lifetimeMinor: 5_000n } }, rule: 'limit:fleet:lifetime' },
    { name: 'fleet-wide per transaction', limits: { fleet: { perTxnMinor: 5_000n } }, rule: 'limit:fleet:per_txn' },
  ];
  for (const [index, { name, limits, rule }] of boundaries.entries()) {
    it(`${name} limit: just below and at the boundary approve, one minor unit above declines (${rule})`, async function () {
      const fleetId = `lim${index}`;
      const cards = await newFleet(fleetId, { cardLimits: limits.card, limits: limits.fleet, cards: 2 });
      // Per transaction: a single amount; the others accumulate (over two cards for fleet-wide limits).
      const second = limits.fleet ? cards[1]! : cards[0]!;
      if (name.includes('per transaction')) {
        assert.equal((await buy(cards[0]!, 4_999)).outcome, Outcome.OUTCOME_APPROVED);
        assert.equal((await buy(second, 5_000)).outcome, Outcome.OUTCOME_APPROVED);
      } else {
        assert.equal((await buy(cards[0]!, 2_999)).outcome, Outcome.OUTCOME_APPROVED);
        assert.equal((await buy(second, 2_000)).outcome, Outcome.OUTCOME_APPROVED); // 4,999: just below
        assert.equal((await buy(second, 1)).outcome, Outcome.OUTCOME_APPROVED); // 5,000: at
      }
      const over = await buy(second, name.includes('per transaction') ? 5_001 : 1);
      assert.equal(over.outcome, Outcome.OUTCOME_DECLINED);
      assert.equal(over.declineReason, DeclineReason.DECLINE_REASON_LIMIT_EXCEEDED);
      assert.equal(over.declineRule, rule);
      const doc = (await inspect.outbox()).find((d) => d['id'] === over.transactionId)!;
      assert.deepEqual([doc['outcome'], doc['rule'], doc['amount'], doc['invoiced']], ['declined', rule, 0, 0]);
    });
  }

  it('credit limit: the invoiced total may reach the credit limit, not pass it', async function () {
    const [card] = await newFleet('credit', { credit: 10_000 });
    assert.equal((await buy(card!, 9_999)).outcome, Outcome.OUTCOME_APPROVED);
    const over = await buy(card!, 2);
    assert.equal(over.declineReason, DeclineReason.DECLINE_REASON_CREDIT_LIMIT_EXCEEDED);
    assert.equal(over.declineRule, 'credit:fleet');
    const exact = await buy(card!, 1);
    assert.equal(exact.outcome, Outcome.OUTCOME_APPROVED);
    assert.equal(exact.balanceAfter?.amountMinor, 0n);
    assert.equal((await fleetRecord('credit')).state.balanceMinor, -10_000);
  });

  async function acrossBoundary(fleetId: string, limits: { card?: SpendLimits }, before: string, after: string): Promise<void> {
    const [card] = await newFleet(fleetId, { cardLimits: limits.card });
    nowMs = at(before);
    assert.equal((await buy(card!, 5_000)).outcome, Outcome.OUTCOME_APPROVED);
    const still = await buy(card!, 1);
    assert.equal(still.outcome, Outcome.OUTCOME_DECLINED, `still in the period at ${before}`);
    nowMs = at(after);
    assert.equal((await buy(card!, 5_000)).outcome, Outcome.OUTCOME_APPROVED, `new period at ${after}`);
    assert.equal((await buy(card!, 1)).outcome, Outcome.OUTCOME_DECLINED);
  }

  it('daily limit restarts exactly at local midnight in the fleet time zone (Berlin, UTC+1)', async function () {
    await acrossBoundary('day1', { card: { dailyMinor: 5_000n } }, '2025-11-18T22:59:59.999Z', '2025-11-18T23:00:00.000Z');
  });

  it('daily limit across the spring DST change: the 23-hour day ends at 22:00Z', async function () {
    await acrossBoundary('dst1', { card: { dailyMinor: 5_000n } }, '2025-03-30T21:59:59.999Z', '2025-03-30T22:00:00.000Z');
    // The start of that day was local midnight at 23:00Z the evening before (UTC+1).
    await acrossBoundary('dst2', { card: { dailyMinor: 5_000n } }, '2025-03-29T22:59:59.999Z', '2025-03-29T23:00:00.000Z');
  });

  it('daily limit across the autumn DST change: the 25-hour day ends at 23:00Z, not 22:00Z', async function () {
    const [card] = await newFleet('dst3', { cardLimits: { dailyMinor: 5_000n } });
    nowMs = at('2025-10-26T00:30:00Z'); // 02:30 CEST on 26 October
    assert.equal((await buy(card!, 5_000)).outcome, Outcome.OUTCOME_APPROVED);
    nowMs = at('2025-10-26T22:30:00Z'); // 23:30 CET, the same local day
    assert.equal((await buy(card!, 1)).declineRule, 'limit:card:daily');
    nowMs = at('2025-10-26T23:00:00Z'); // midnight CET
    assert.equal((await buy(card!, 5_000)).outcome, Outcome.OUTCOME_APPROVED);
  });

  it('monthly limit restarts at local month end (31 October 23:00Z in Berlin)', async function () {
    await acrossBoundary('month1', { card: { monthlyMinor: 5_000n } }, '2025-10-31T22:59:59.999Z', '2025-10-31T23:00:00.000Z');
  });

  it('weekly limit restarts at local Monday midnight', async function () {
    await acrossBoundary('week1', { card: { weeklyMinor: 5_000n } }, '2025-11-16T22:59:59.999Z', '2025-11-16T23:00:00.000Z');
    nowMs = at('2025-11-18T10:00:00Z');
  });

  it('many cards of one fleet racing its fleet-wide limit: the sum approved never exceeds it', async function () {
    nowMs = at('2025-11-18T10:00:00Z');
    const limit = 50_000;
    const cards = await newFleet('race', { limits: { dailyMinor: BigInt(limit) }, cards: 20 });
    const amounts = Array.from({ length: 300 }, (_, i) => 100 + ((i * 7919) % 900));
    const replies = await Promise.all(amounts.map((amount, i) => buy(cards[i % cards.length]!, amount)));
    const approved = replies
      .filter((r) => r.outcome === Outcome.OUTCOME_APPROVED)
      .reduce((sum, r) => sum + Number(r.approvedAmount?.amountMinor ?? 0n), 0);
    const declined = replies.filter((r) => r.outcome === Outcome.OUTCOME_DECLINED);
    assert.ok(approved <= limit, `approved ${approved} > limit ${limit}`);
    assert.ok(approved > limit - 1_000, `the limit was nearly used up (${approved})`);
    assert.ok(declined.length > 0 && declined.every((r) => r.declineRule === 'limit:fleet:daily'));
    const account = await fleetRecord('race');
    assert.equal(account.state.spent.day_minor, approved);
    assert.equal(account.state.balanceMinor, -approved);
  });

  it('product restrictions name the forbidden line; prompts and odometer plausibility are enforced', async function () {
    const [card] = await newFleet('policy');
    await fleet.setPolicy({
      fleetId: 'policy',
      productGroups: { allowed: ['fuel', 'car_wash'] },
      operatorId: 'ops',
      prompts: { requireOdometer: true, requireDriver: true, requireVehicle: false, odometerJumpMaxKm: 2_000n },
      program: undefined,
    });
    const shop = await client.authorize(
      fleetPurchase('pump-1', ++txn, card!, [diesel(5_000), { code: 'snack', group: 'shop', amountMinor: 300 }], {
        odometerKm: 1_000,
        driverId: 'd1',
      }),
    );
    assert.equal(shop.declineReason, DeclineReason.DECLINE_REASON_PRODUCT_RESTRICTED);
    assert.equal(shop.declineRule, 'product:account:line:2:shop');
    const noOdometer = await buy(card!, 100, { driverId: 'd1' });
    assert.equal(noOdometer.declineReason, DeclineReason.DECLINE_REASON_PROMPT_REQUIRED);
    assert.equal(noOdometer.declineRule, 'prompt:odometer');
    assert.equal((await buy(card!, 100, { odometerKm: 50_000, driverId: 'd1', vehicleId: 'van-1' })).outcome, Outcome.OUTCOME_APPROVED);
    const backwards = await buy(card!, 100, { odometerKm: 49_999, driverId: 'd1', vehicleId: 'van-1' });
    assert.equal(backwards.declineReason, DeclineReason.DECLINE_REASON_PROMPT_IMPLAUSIBLE);
    assert.equal(backwards.declineRule, 'prompt:odometer_backwards');
    assert.equal((await buy(card!, 100, { odometerKm: 52_001, driverId: 'd1', vehicleId: 'van-1' })).declineRule, 'prompt:odometer_jump');
    assert.equal((await buy(card!, 100, { odometerKm: 52_000, driverId: 'd1', vehicleId: 'van-1' })).outcome, Outcome.OUTCOME_APPROVED);
    // Another vehicle has its own reading.
    assert.equal((await buy(card!, 100, { odometerKm: 10, driverId: 'd1', vehicleId: 'van-2' })).outcome, Outcome.OUTCOME_APPROVED);
  });

  it('SetFleetPrompts changes only the prompts, audited; a repeat writes nothing; absent or bad prompts change nothing', async function () {
    const [card] = await newFleet('prompted');
    await fleet.setPolicy({
      fleetId: 'prompted',
      productGroups: { allowed: ['fuel'] },
      prompts: undefined,
      operatorId: 'ops',
      program: {
        allowedMerchants: [],
        blockedMerchants: ['station-9'],
        allowedTerminals: [],
        blockedTerminals: [],
        restrictMerchants: false,
        restrictTerminals: false,
        velocity: [{ name: 'twice', windowMs: 3_600_000n, countMax: 2n, amountMaxMinor: undefined }],
        risk: undefined,
        loyalty: undefined,
      },
      cardPolicy: { pinRequired: false, pinAttemptsMax: 5n, holdExpiryMs: 600_000n, completionToleranceBp: 1_500n },
    });
    const before = await fleetRecord('prompted');
    const beforeState = await fleetState('prompted');
    const prompts = { requireOdometer: true, requireDriver: false, requireVehicle: true, odometerJumpMaxKm: 1_500n };
    const answer = await fleet.setPrompts({ fleetId: 'prompted', prompts });
    assert.deepEqual(answer.account?.prompts, prompts, 'the answer carries the new prompts');
    const after = await fleetRecord('prompted');
    assert.equal(after.version, before.version + 1);
    const { prompts: newPrompts, ...rest } = (await fleetState('prompted')) as { prompts: unknown };
    const { prompts: oldPrompts, ...restBefore } = beforeState as { prompts: unknown };
    assert.deepEqual(rest, restBefore, 'product groups, program rules and card policy are kept');
    assert.notDeepEqual(newPrompts, oldPrompts);
    const audit = (await inspect.outbox()).filter((d) => d['action'] === 'tapline.v1.FleetAdminService/SetFleetPrompts');
    assert.equal(audit.length, 1, 'one audit record');
    assert.equal(audit[0]?.['principal'], 'dev-issuer_admin');
    assert.deepEqual(Object.keys((JSON.parse(String(audit[0]?.['after'])) as Record<string, object>)['fleet:prompted'] ?? {}), ['prompts']);
    // A repeat answers the account and writes nothing.
    const snapshot = await inspect.snapshot();
    assert.deepEqual((await fleet.setPrompts({ fleetId: 'prompted', prompts })).account?.prompts, prompts);
    assert.equal(await inspect.snapshot(), snapshot, 'a repeat writes nothing');
    for (const [request, what] of [
      [{ fleetId: 'prompted', prompts: undefined }, 'absent prompts'],
      [{ fleetId: 'prompted', prompts: { ...prompts, odometerJumpMaxKm: -1n } }, 'negative jump'],
      [{ fleetId: 'bad id!', prompts }, 'bad fleet id'],
    ] as const)
      await assert.rejects(fleet.setPrompts(request), (e: grpc.ServiceError) => e.code === grpc.status.INVALID_ARGUMENT, what);
    await assert.rejects(fleet.setPrompts({ fleetId: 'ghost', prompts }), (e: grpc.ServiceError) => e.code === grpc.status.NOT_FOUND);
    assert.equal(await inspect.snapshot(), snapshot, 'refused requests write nothing');
    // The prompts decide the next fill-up; the program's velocity rule still applies.
    const missing = await buy(card!, 100, { odometerKm: 1_000 });
    assert.deepEqual([missing.declineReason, missing.declineRule], [DeclineReason.DECLINE_REASON_PROMPT_REQUIRED, 'prompt:vehicle']);
    for (const km of [1_000, 1_100])
      assert.equal((await buy(card!, 100, { odometerKm: km, vehicleId: 'v-1' })).outcome, Outcome.OUTCOME_APPROVED);
    const third = await buy(card!, 100, { odometerKm: 1_200, vehicleId: 'v-1' });
    assert.equal(third.declineReason, DeclineReason.DECLINE_REASON_VELOCITY_EXCEEDED, 'the program rules set before still apply');
  });

  it('negotiated prices: SPOT + percent with base prices by effective date; pump - amount; both amounts recorded', async function () {
    const [card] = await newFleet('priced');
    await fleet.setPricing({
      fleetId: 'priced',
      operatorId: 'ops',
      agreements: [
        {
          productCode: 'diesel',
          productGroup: '',
          formula: PriceFormula.PRICE_FORMULA_SPOT_PLUS_PERCENT,
          amountMilliMinor: 0n,
          percentBp: 250n,
        },
        {
          productCode: '',
          productGroup: 'car_wash',
          formula: PriceFormula.PRICE_FORMULA_PUMP_MINUS_AMOUNT,
          amountMilliMinor: 50_000n,
          percentBp: 0n,
        },
      ],
    });
    const line = diesel(7_235, { qtyMilli: 40_215, unitMinor: 180 });
    const unpriced = await client.authorize(fleetPurchase('pump-1', ++txn, card!, [line]));
    assert.equal(unpriced.declineReason, DeclineReason.DECLINE_REASON_PRICE_UNAVAILABLE);
    assert.equal(unpriced.declineRule, 'price:no_base:diesel');
    await fleet.loadBasePrices({
      fleetId: 'priced',
      operatorId: 'ops',
      prices: [
        { productCode: 'diesel', unitMilliMinor: 140_000n, effectiveFromUnixMs: BigInt(nowMs - 1000) },
        { productCode: 'diesel', unitMilliMinor: 150_000n, effectiveFromUnixMs: BigInt(nowMs + 60_000) },
      ],
    });
    const first = await client.authorize(
      fleetPurchase('pump-1', ++txn, card!, [line, { code: 'wash', group: 'car_wash', qtyMilli: 1000, amountMinor: 900 }]),
    );
    assert.equal(first.outcome, Outcome.OUTCOME_APPROVED);
    // 40.215 l x 1.40 x 1.025 = 57.708525 -> 5771; wash 900 - 50 = 850.
    assert.equal(first.invoicedAmount?.amountMinor, 5_771n + 850n);
    assert.equal(first.pumpAmount?.amountMinor, 7_235n + 900n);
    const doc = (await inspect.outbox()).find((d) => d['id'] === first.transactionId)!;
    assert.deepEqual(
      (doc['lines'] as { invoiced: number }[]).map((l) => l.invoiced),
      [5_771, 850],
    );
    nowMs += 60_000; // the next base price takes effect
    const second = await client.authorize(fleetPurchase('pump-1', ++txn, card!, [line]));
    assert.equal(second.invoicedAmount?.amountMinor, 6_183n); // 40.215 x 1.50 x 1.025 = 61.830563 -> 6183
    assert.equal((await fleetRecord('priced')).state.balanceMinor, -(5_771 + 850 + 6_183));
    nowMs = at('2025-11-18T10:00:00Z');
  });

  it('a shared SPOT price list: loaded once, followed by several fleets by effective date; an own base price wins', async function () {
    const spotPlus = (fleetId: string, listId: string) =>
      fleet.setPricing({
        fleetId,
        operatorId: 'ops',
        priceListId: listId,
        agreements: [
          {
            productCode: '',
            productGroup: 'fuel',
            formula: PriceFormula.PRICE_FORMULA_SPOT_PLUS_AMOUNT,
            amountMilliMinor: 10_000n,
            percentBp: 0n,
          },
        ],
      });
    const [north] = await newFleet('north');
    const [south] = await newFleet('south');
    await spotPlus('north', 'platts');
    await spotPlus('south', 'platts');
    const line = diesel(6_000, { qtyMilli: 40_000, unitMinor: 150 });
    assert.equal(
      (await client.authorize(fleetPurchase('pump-1', ++txn, north!, [line]))).declineReason,
      DeclineReason.DECLINE_REASON_PRICE_UNAVAILABLE,
    );
    const loaded = await fleet.loadSharedPrices('platts', [
      { productCode: 'diesel', unitMilliMinor: 130_000n, effectiveFromUnixMs: BigInt(nowMs - 1_000) },
      { productCode: 'diesel', unitMilliMinor: 135_000n, effectiveFromUnixMs: BigInt(nowMs + 3_600_000) },
    ]);
    assert.deepEqual(
      loaded.prices.map((p) => p.unitMilliMinor),
      [130_000n, 135_000n],
    );
    const outbox = await inspect.outbox();
    const loadedDocument = outbox.find((d) => d['type'] === 'operator_action' && d['action'] === 'price_list_loaded');
    assert.deepEqual([loadedDocument?.['subject'], loadedDocument?.['operator']], ['platts', 'dev-issuer_admin']);
    // Who loaded it is the token's subject, in an audit record committed with the list.
    const audit = outbox.find((d) => d['type'] === 'audit_record' && d['action'] === 'tapline.v1.FleetAdminService/LoadSharedPrices');
    assert.deepEqual([audit?.['principal'], audit?.['subject']], ['dev-issuer_admin', 'price_list:platts']);
    // 40 l x (1.30 + 0.10) = 56.00; both fleets priced from the one list.
    for (const card of [north!, south!])
      assert.equal((await client.authorize(fleetPurchase('pump-1', ++txn, card, [line]))).invoicedAmount?.amountMinor, 5_600n);
    // The account's own base price wins over the shared list for its product.
    await fleet.loadBasePrices({
      fleetId: 'south',
      operatorId: 'ops',
      prices: [{ productCode: 'diesel', unitMilliMinor: 120_000n, effectiveFromUnixMs: BigInt(nowMs - 1_000) }],
    });
    assert.equal((await client.authorize(fleetPurchase('pump-1', ++txn, south!, [line]))).invoicedAmount?.amountMinor, 5_200n);
    nowMs += 3_600_000; // the list's next quotation takes effect
    assert.equal((await client.authorize(fleetPurchase('pump-1', ++txn, north!, [line]))).invoicedAmount?.amountMinor, 5_800n);
    const account = (await fleet.getAccount('north')).account;
    assert.equal(account?.priceListId, 'platts');
    await assert.rejects(fleet.loadSharedPrices('bad id', []), (e: grpc.ServiceError) => e.code === grpc.status.INVALID_ARGUMENT);
    nowMs = at('2025-11-18T10:00:00Z');
  });

  it('program rules on the fleet path: velocity declines, a soft amount flags, repeated declines block for a while', async function () {
    const [card] = await newFleet('risky', { credit: 10_000 });
    await fleet.setPolicy({
      fleetId: 'risky',
      productGroups: undefined,
      prompts: undefined,
      operatorId: 'ops',
      program: {
        allowedMerchants: [],
        blockedMerchants: [],
        allowedTerminals: [],
        blockedTerminals: [],
        restrictMerchants: false,
        restrictTerminals: false,
        velocity: [{ name: 'burst', windowMs: 60_000n, countMax: 3n, amountMaxMinor: undefined }],
        risk: {
          softAmountMinor: 2_000n,
          hardAmountMinor: 9_000n,
          softVelocity: [],
          blockAfterDeclines: 2n,
          declineWindowMs: 600_000n,
          blockMs: 600_000n,
        },
        loyalty: undefined,
      },
    });
    const flagged = await buy(card!, 2_001);
    assert.equal(flagged.outcome, Outcome.OUTCOME_APPROVED);
    assert.equal(flagged.suspicious, true);
    assert.deepEqual(flagged.flags, ['risk:soft_amount']);
    assert.deepEqual((await inspect.outbox()).find((d) => d['id'] === flagged.transactionId)!['flags'], ['risk:soft_amount']);
    // The flagged approval waits in the review queue (committed with it) until an operator resolves it.
    const queue = await fleet.listReviewQueue('risky');
    assert.deepEqual(
      queue.entries.map((e) => [e.transactionId, e.cardId, e.amount?.amountMinor, e.flags]),
      [[flagged.transactionId, card, 2_001n, ['risk:soft_amount']]],
    );
    assert.equal((await fleet.resolveReview('risky', flagged.transactionId, 'driver confirmed')).remaining, 0n);
    assert.equal((await fleet.listReviewQueue('risky')).entries.length, 0);
    await assert.rejects(fleet.resolveReview('risky', flagged.transactionId), (e: grpc.ServiceError) => e.code === grpc.status.NOT_FOUND);
    const audit = (await inspect.outbox()).find((d) => d['action'] === 'review_resolved')!;
    assert.equal(audit['subject'], flagged.transactionId);
    const hard = await buy(card!, 9_001);
    assert.equal(hard.declineReason, DeclineReason.DECLINE_REASON_RISK);
    assert.equal(hard.declineRule, 'risk:hard_amount');
    nowMs += 1;
    assert.equal((await buy(card!, 1)).outcome, Outcome.OUTCOME_APPROVED);
    assert.equal((await buy(card!, 1)).outcome, Outcome.OUTCOME_APPROVED);
    const burst = await buy(card!, 1);
    assert.equal(burst.declineReason, DeclineReason.DECLINE_REASON_VELOCITY_EXCEEDED);
    assert.equal(burst.declineRule, 'velocity:burst:count');
    // The window, to its bucket (60 s / 64: actors/rules/velocity.ts).
    nowMs += 61_000;
    // Two credit probes in a row block the card; the block lifts after block_ms.
    assert.equal((await buy(card!, 8_000)).declineRule, 'credit:fleet');
    assert.equal((await buy(card!, 8_000)).declineRule, 'credit:fleet');
    const blocked = await buy(card!, 1);
    assert.equal(blocked.declineReason, DeclineReason.DECLINE_REASON_TEMPORARILY_BLOCKED);
    nowMs += 600_000;
    assert.equal((await buy(card!, 1)).outcome, Outcome.OUTCOME_APPROVED);
    nowMs = at('2025-11-18T10:00:00Z');
  });

  it('reversals: the invoiced amount and the limit room come back once; a late original is declined', async function () {
    const [card] = await newFleet('rev', { cardLimits: { dailyMinor: 10_000n } });
    await fleet.setPricing({
      fleetId: 'rev',
      operatorId: 'ops',
      agreements: [
        {
          productCode: '',
          productGroup: '',
          formula: PriceFormula.PRICE_FORMULA_PUMP_MINUS_PERCENT,
          amountMilliMinor: 0n,
          percentBp: 1000n,
        },
      ],
    });
    const bought = await buy(card!, 10_000);
    assert.equal(bought.invoicedAmount?.amountMinor, 9_000n);
    assert.equal((await buy(card!, 1)).declineRule, 'limit:card:daily');
    const original = { terminalId: 'pump-1', txn: txn - 1 };
    const reversed = await client.reverse('pump-1', ++txn, card!, original);
    assert.equal(reversed.result, ReverseResult.REVERSE_RESULT_REVERSED);
    assert.equal(reversed.reversedAmount?.amountMinor, 10_000n);
    assert.equal((await fleetRecord('rev')).state.balanceMinor, 0);
    const doc = (await inspect.outbox()).find((d) => d['id'] === reversed.transactionId)!;
    assert.deepEqual(
      [doc['kind'], doc['fleet'], doc['invoiced'], doc['pump'], doc['balance_delta'], doc['account_balance_after']],
      ['reverse', 'rev', 9_000, 10_000, 0, 0],
    );
    assert.equal((await client.reverse('pump-1', ++txn, card!, original)).result, ReverseResult.REVERSE_RESULT_ALREADY_REVERSED);
    assert.equal((await fleetRecord('rev')).state.balanceMinor, 0);
    // The day's room is back.
    assert.equal((await buy(card!, 10_000)).outcome, Outcome.OUTCOME_APPROVED);
    // A time-out reversal that overtakes its original: nothing to reverse, and the original is dead.
    const early = await client.reverse('pump-1', ++txn, card!, { terminalId: 'pump-1', txn: 900_000 });
    assert.equal(early.result, ReverseResult.REVERSE_RESULT_NOTHING_TO_REVERSE);
    const late = await client.authorize(fleetPurchase('pump-1', 900_000, card!, [diesel(5)]));
    assert.equal(late.declineReason, DeclineReason.DECLINE_REASON_REVERSED_BEFORE_AUTHORIZATION);
    // Transaction 1 was another fleet's card (the first test): it cannot be reversed on this one.
    await assert.rejects(
      client.reverse('pump-1', ++txn, card!, { terminalId: 'pump-1', txn: 1 }),
      (e: grpc.ServiceError) => e.code === grpc.status.INVALID_ARGUMENT,
    );
  });

  it('AuthorizeStream carries fleet purchases too: each item decided by its account, with its own figures', async function () {
    const cards = await newFleet('streamed', { cards: 3 });
    const call = (await client.gateway(['station-1'])).authorizeStream();
    const results = new Map<string, { code: number; invoiced: bigint | undefined }>();
    call.on('data', (frame: AuthorizeStreamResponse) => {
      for (const result of frame.results)
        results.set(result.correlationId, { code: result.statusCode, invoiced: result.reply?.invoicedAmount?.amountMinor });
    });
    const ended = new Promise<void>((resolve, reject) => {
      call.on('end', resolve);
      call.on('error', reject);
    });
    const items = Array.from({ length: 30 }, (_, i) => ({
      correlationId: `f-${i}`,
      request: fleetPurchase('pump-1', 500_000 + i, cards[i % 3]!, [diesel(i + 1)]),
    }));
    items.push({ correlationId: 'bad-fleet-card', request: fleetPurchase('pump-1', 500_100, 'streamed~1~x', [diesel(1)]) });
    call.write({ items });
    call.end();
    await ended;
    for (let i = 0; i < 30; i++) assert.deepEqual(results.get(`f-${i}`), { code: grpc.status.OK, invoiced: BigInt(i + 1) });
    assert.equal(results.get('bad-fleet-card')?.code, grpc.status.INVALID_ARGUMENT);
    assert.equal((await fleetRecord('streamed')).state.balanceMinor, -(30 * 31) / 2);
  });

  it('a passivated fleet account reloads account, cards and odometers from Redis and decides the same', async function () {
    // Later than every instant the other tests used, so every fleet actor is idle an hour from now.
    nowMs = at('2025-11-20T10:00:00Z');
    const [card] = await newFleet('sleepy', { cardLimits: { dailyMinor: 1_000n } });
    await fleet.setPolicy({
      fleetId: 'sleepy',
      productGroups: undefined,
      program: undefined,
      operatorId: 'ops',
      prompts: { requireOdometer: true, requireDriver: false, requireVehicle: false, odometerJumpMaxKm: 0n },
    });
    assert.equal((await buy(card!, 600, { odometerKm: 5_000, vehicleId: 'bus' })).outcome, Outcome.OUTCOME_APPROVED);
    nowMs += 3_600_000; // idle far longer than TAPLINE_PASSIVATE_AFTER_MS (60 s), same local day
    assert.ok(node.region.passivateIdle() > 0);
    assert.equal(node.region.fleets.size, 0, 'every fleet actor was passivated');
    assert.equal((await buy(card!, 100, { odometerKm: 4_999, vehicleId: 'bus' })).declineRule, 'prompt:odometer_backwards');
    assert.equal((await buy(card!, 401, { odometerKm: 5_001, vehicleId: 'bus' })).declineRule, 'limit:card:daily');
    assert.equal((await buy(card!, 400, { odometerKm: 5_001, vehicleId: 'bus' })).outcome, Outcome.OUTCOME_APPROVED);
    assert.equal((await fleetRecord('sleepy')).state.balanceMinor, -1_000);
    nowMs = at('2025-11-18T10:00:00Z');
  });

  it('card status: a blocked fleet card is declined with its rule', async function () {
    const [card] = await newFleet('status');
    await fleet.setCardStatus({ cardId: card!, status: FleetCardStatus.FLEET_CARD_STATUS_BLOCKED, operatorId: 'ops', unblock: false });
    const reply = await buy(card!, 10);
    assert.equal(reply.declineReason, DeclineReason.DECLINE_REASON_CARD_BLOCKED);
    assert.equal(reply.declineRule, 'status:blocked');
  });

  it('card status: a blocked fleet card comes back only by an unblock a second principal approves (four eyes)', async function () {
    const [card] = await newFleet('unblock');
    const set = (status: FleetCardStatus, unblock: boolean) => fleet.setCardStatus({ cardId: card!, status, operatorId: 'ops', unblock });
    await set(FleetCardStatus.FLEET_CARD_STATUS_BLOCKED, false);
    const before = await inspect.snapshot();
    for (const status of [FleetCardStatus.FLEET_CARD_STATUS_ACTIVE, FleetCardStatus.FLEET_CARD_STATUS_FROZEN])
      await assert.rejects(
        set(status, false),
        (error: grpc.ServiceError) => error.code === grpc.status.FAILED_PRECONDITION,
        `blocked -> ${FleetCardStatus[status]} without unblock is FAILED_PRECONDITION`,
      );
    assert.equal(await inspect.snapshot(), before, 'a refused status change changes nothing');
    const held = await set(FleetCardStatus.FLEET_CARD_STATUS_ACTIVE, true);
    assert.match(held.pendingApprovalId, /^[0-9a-f-]{36}$/, 'the unblock is held');
    assert.equal(held.card, undefined);
    assert.equal((await buy(card!, 10)).declineReason, DeclineReason.DECLINE_REASON_CARD_BLOCKED, 'still blocked while held');
    const approver = new CardClient(await accessTo(node));
    try {
      const approved = await approver.approve(held.pendingApprovalId);
      assert.equal(SetFleetCardStatusResponse.decode(approved.response).card?.status, FleetCardStatus.FLEET_CARD_STATUS_ACTIVE);
    } finally {
      approver.close();
    }
    assert.equal((await buy(card!, 10)).outcome, Outcome.OUTCOME_APPROVED);
  });

  it('bad fleet input gets a precise status and changes nothing in Redis', async function () {
    const [card] = await newFleet('strict');
    const snapshot = await inspect.snapshot();
    const expect = async (call: Promise<unknown>, code: grpc.status, what: string): Promise<void> => {
      await assert.rejects(call, (e: grpc.ServiceError) => {
        assert.equal(e.code, code, `${what}: ${e.details}`);
        return true;
      });
    };
    await expect(buy('strict~99', 10), grpc.status.NOT_FOUND, 'unknown fleet card');
    await expect(buy('nofleet~1', 10), grpc.status.NOT_FOUND, 'unknown fleet');
    await expect(buy('strict~1~2', 10), grpc.status.INVALID_ARGUMENT, 'two separators');
    await expect(
      client.authorize(fleetPurchase('pump-1', ++txn, card!, [{ code: 'diesel', group: 'bad group', amountMinor: 10 }])),
      grpc.status.INVALID_ARGUMENT,
      'group with a space',
    );
    await expect(
      client.authorize(fleetPurchase('pump-1', ++txn, card!, [diesel(10, { qtyMilli: -1 })])),
      grpc.status.INVALID_ARGUMENT,
      'negative quantity',
    );
    await expect(buy(card!, 10, { odometerKm: -5 }), grpc.status.INVALID_ARGUMENT, 'negative odometer');
    await expect(buy(card!, 10, { vehicleId: 'v:1' }), grpc.status.INVALID_ARGUMENT, 'vehicle id with a colon');
    await expect(client.topUp(card!, 10, { terminalId: 'pump-1', txn: 900_001 }), grpc.status.INVALID_ARGUMENT, 'top-up of a fleet card');
    await expect(
      fleet.createAccount({ fleetId: 'tz', creditLimitMinor: 1, timeZone: 'Mars/Base' }),
      grpc.status.INVALID_ARGUMENT,
      'unknown time zone',
    );
    await expect(
      fleet.createAccount({ fleetId: 'strict', creditLimitMinor: 5, timeZone: 'Europe/Berlin' }),
      grpc.status.ALREADY_EXISTS,
      'create with other fields',
    );
    await expect(
      fleet.setLimits({ fleetId: 'strict', limits: { dailyMinor: -1n }, operatorId: 'ops' }),
      grpc.status.INVALID_ARGUMENT,
      'negative limit',
    );
    await expect(fleet.setLimits({ fleetId: 'ghost', limits: {}, operatorId: 'ops' }), grpc.status.NOT_FOUND, 'limits of an unknown fleet');
    await expect(
      fleet.setPricing({
        fleetId: 'strict',
        operatorId: 'ops',
        agreements: [
          { productCode: 'a', productGroup: 'b', formula: PriceFormula.PRICE_FORMULA_PUMP, amountMilliMinor: 0n, percentBp: 0n },
        ],
      }),
      grpc.status.INVALID_ARGUMENT,
      'code and group',
    );
    await expect(
      fleet.setPricing({
        fleetId: 'strict',
        operatorId: 'ops',
        agreements: [
          { productCode: 'a', productGroup: '', formula: PriceFormula.PRICE_FORMULA_UNSPECIFIED, amountMilliMinor: 0n, percentBp: 0n },
        ],
      }),
      grpc.status.INVALID_ARGUMENT,
      'no formula',
    );
    await expect(
      fleet.loadBasePrices({ fleetId: 'strict', operatorId: 'ops', prices: [] }),
      grpc.status.INVALID_ARGUMENT,
      'empty price list',
    );
    await expect(
      fleet.issueCard({ fleetId: 'ghost', cardNo: '1', limits: undefined, productGroups: undefined, operatorId: 'ops' }),
      grpc.status.NOT_FOUND,
      'card of an unknown fleet',
    );
    await expect(
      fleet.setCardStatus({ cardId: card!, status: FleetCardStatus.FLEET_CARD_STATUS_UNSPECIFIED, operatorId: 'ops', unblock: false }),
      grpc.status.INVALID_ARGUMENT,
      'no status',
    );
    assert.equal(await inspect.snapshot(), snapshot);
  });
});
