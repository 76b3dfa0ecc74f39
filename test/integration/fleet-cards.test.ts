// Proves what fleet cards do at the pump and at the till, end to end on the real services: an
// in-process authorizer node (real gRPC over a socket, real Redis), the real streamer into
// ClickHouse 18.16 and the reports server.
// - PINs: the fleet's operator sets a card's PIN (stored only as a keyed hash); with pin_required a
//   purchase or pre-authorization without it is PIN_REQUIRED, a wrong one PIN_INVALID and counted on
//   the card record before the reply, the account's pin_attempts_max wrong ones lock it (PIN_LOCKED,
//   GetFleetCard says so) until a new PIN is set; a right one clears the count; unary and stream.
// - Points: redeemed points pay part of the invoice (never more than due), the account's points
//   fall, a reversal gives them back; more than the account has is POINTS_INSUFFICIENT.
// - Pay at the pump: a pre-authorization holds the account's credit (GetFleetAccount shows it held,
//   another card sees less credit); its completion from the same pump charges what was delivered at
//   negotiated prices and names the driver and vehicle entered at the pump; a second completion is
//   HOLD_NOT_FOUND; a completion or void from another terminal is PERMISSION_DENIED with Redis
//   unchanged; a void frees the credit; retries replay.
// - Returns: a refund with a manager's credential gives back its share of the invoiced amount; a
//   refund past the pump amount is REFUND_EXCEEDS_ORIGINAL; a reversal after a refund gives back
//   the rest only.
// - Pump-plus pricing on the wire.
// - In ClickHouse: the invoice of the closed cycle holds the completion (with its driver, vehicle
//   and odometer), the refund and the reversal (negative), not the holds, and adds up to what the
//   account invoiced; reconciliation agrees with Redis.

import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import type { AuthorizerNode } from '../../services/authorizer/node';
import type { RedisInstance } from '../../tools/devenv/redis';
import { startClickHouse, type ClickHouseInstance } from '../../tools/devenv/clickhouse';
import { outboxBacklog } from '../../tools/devenv/outbox';
import { DeclineReason, Outcome } from '../../gen/tapline/v1/types';
import { ReverseResult, type AuthorizeRequest, type AuthorizeStreamResponse } from '../../gen/tapline/v1/authorization';
import { PriceFormula } from '../../gen/tapline/v1/fleet';
import { TaplineClient } from '../../tools/client/tapline-client';
import { CardClient, RefundClient } from '../../tools/client/card-client';
import { FleetClient, fleetCompletion, fleetPreAuthorization, fleetPurchase, type FleetLine } from '../../tools/client/fleet-client';
import { shardOf } from '../../actors/sharding/shard-key';
import { fleetCardKey } from '../../services/authorizer/store/keys';
import { createLogger } from '../../services/common/logger';
import { ClickHouseRunner } from '../../services/reports/clickhouse-runner';
import { ReportsServer } from '../../services/reports/server';
import { loadStreamerConfig } from '../../services/streamer/config';
import { migrate } from '../../services/streamer/schema/migrate';
import { Streamer } from '../../services/streamer/streamer';
import {
  accessTo,
  reportsRequest,
  reportsSecurity,
  startInProcessNode,
  startTestRedis,
  test_shard_count,
  testCardStates,
  testDataDir,
  waitFor,
} from '../support/harness';
import { streamerEnv } from '../support/outbox-fixtures';
import { connectInspector, type Inspector } from '../support/redis-inspect';

const database = 'fleet_cards';
const logger = createLogger('fleet-cards-test', process.env['TAPLINE_TEST_LOG_LEVEL'] ?? 'warn');
const pin = '918273';
const manager = { id: 'mgr-fc', pin: '4812' };

const minor = (money: { amountMinor: bigint } | undefined): number => Number(money?.amountMinor ?? 0n);
const diesel = (amountMinor: number, qtyMilli = 40_000): FleetLine => ({
  code: 'diesel',
  group: 'diesel',
  qtyMilli,
  unitMinor: 0,
  amountMinor,
});

/** A GET of the reports service over HTTPS with a token of the first role the route allows. */
async function get(port: number, path: string): Promise<{ status: number; body: string }> {
  const reply = await reportsRequest(port, path);
  return { status: reply.status, body: reply.body };
}

describe('fleet cards: PIN, points, pay at the pump, returns (real gRPC, Redis, ClickHouse 18.16)', function () {
  this.timeout(240_000);
  let redis: RedisInstance;
  let clickhouse: ClickHouseInstance;
  let node: AuthorizerNode;
  let client: TaplineClient;
  let cards: CardClient;
  let refunds: RefundClient;
  let fleet: FleetClient;
  let inspect: Inspector;
  let txn = 0;
  // What the account was invoiced in cycle 1, signed, as the replies said.
  let invoiced = 0;
  const invoiceIds: string[] = [];

  before(async function () {
    [redis, clickhouse] = await Promise.all([startTestRedis('fleet-cards'), startClickHouse({ dataDir: testDataDir('fleet-cards-ch') })]);
    await migrate(clickhouse.url, database);
    node = await startInProcessNode(redis.url, { TAPLINE_PIN_SECRET: 'fleet-cards-test-secret-0123456789' });
    const access = await accessTo(node);
    client = new TaplineClient(access);
    cards = new CardClient(access);
    refunds = new RefundClient(access);
    fleet = new FleetClient(access);
    inspect = await connectInspector(redis.url);
    await client.registerTerminal('pump-1', 'station-1');
    await client.registerTerminal('pump-2', 'station-1');
    await client.registerTerminal('shop-9', 'station-9');
    await refunds.registerManager('station-1', manager.id, manager.pin);
    await fleet.createAccount({ fleetId: 'haul', creditLimitMinor: 100_000, timeZone: 'Europe/Berlin' });
    await fleet.setPricing({
      fleetId: 'haul',
      operatorId: 'ops',
      agreements: [
        {
          productCode: '',
          productGroup: 'diesel',
          formula: PriceFormula.PRICE_FORMULA_PUMP_MINUS_PERCENT,
          amountMilliMinor: 0n,
          percentBp: 300n,
        },
      ],
    });
    for (const no of ['1', '2'])
      await fleet.issueCard({ fleetId: 'haul', cardNo: no, limits: undefined, productGroups: undefined, operatorId: 'ops' });
  });

  after(async function () {
    for (const c of [client, cards, refunds, fleet]) c?.close();
    await inspect?.close();
    await node?.shutdown();
    await Promise.all([redis?.stop(), clickhouse?.stop()]);
  });

  const buy = (card: string, amountMinor: number, extra: Partial<AuthorizeRequest> = {}) =>
    client.authorize({ ...fleetPurchase('pump-1', ++txn, card, [diesel(amountMinor)]), ...extra });
  const cardRecord = async (cardId: string): Promise<{ pinHash?: string; pinFailures?: number }> =>
    JSON.parse(String(await inspect.client.hGet(fleetCardKey(shardOf('fleet', 'haul', test_shard_count), cardId), 'd'))) as never;
  const charged = (reply: { invoicedAmount?: { amountMinor: bigint }; transactionId: string }, sign = 1): void => {
    invoiced += sign * minor(reply.invoicedAmount);
    invoiceIds.push(reply.transactionId);
  };

  it('PINs: required, counted, locked after the attempts, set anew by the operator; never stored in clear', async function () {
    await fleet.setPolicy({
      fleetId: 'haul',
      productGroups: undefined,
      prompts: undefined,
      program: {
        allowedMerchants: [],
        blockedMerchants: [],
        allowedTerminals: [],
        blockedTerminals: [],
        velocity: [],
        risk: undefined,
        loyalty: {
          minorPerUnit: 100n,
          pointsPerUnit: 1n,
          groupMultiplierBp: {},
          merchantMultiplierBp: {},
          discountBpByGroup: {},
          pointValueMinor: 10n,
        },
        restrictMerchants: false,
        restrictTerminals: false,
      },
      cardPolicy: { pinRequired: true, pinAttemptsMax: 3n, holdExpiryMs: 3_600_000n, completionToleranceBp: 500n },
      operatorId: 'ops',
    });
    const noPinYet = await buy('haul~1', 1_000, { pin: pin });
    assert.equal(noPinYet.declineReason, DeclineReason.DECLINE_REASON_PIN_REQUIRED, 'required but not set');
    const set = await fleet.setCardPin('haul~1', pin);
    assert.equal(set.card?.pinSet, true);
    assert.equal(set.card?.pinLocked, false);
    assert.ok(!(await inspect.snapshot()).includes(pin), 'the PIN is nowhere in Redis in clear');
    assert.equal((await buy('haul~1', 1_000)).declineReason, DeclineReason.DECLINE_REASON_PIN_REQUIRED, 'none entered');
    const wrong = await buy('haul~1', 1_000, { pin: '000000' });
    assert.equal(wrong.declineReason, DeclineReason.DECLINE_REASON_PIN_INVALID);
    assert.equal((await cardRecord('haul~1')).pinFailures, 1, 'counted on the card before the reply');
    const right = await buy('haul~1', 1_000, { pin });
    assert.equal(right.outcome, Outcome.OUTCOME_APPROVED);
    charged(right);
    assert.equal((await cardRecord('haul~1')).pinFailures, 0, 'a right PIN clears the count');
    for (let i = 0; i < 3; i++)
      assert.equal((await buy('haul~1', 1_000, { pin: '111111' })).declineReason, DeclineReason.DECLINE_REASON_PIN_INVALID);
    assert.equal(
      (await buy('haul~1', 1_000, { pin })).declineReason,
      DeclineReason.DECLINE_REASON_PIN_LOCKED,
      'locked even with the right PIN',
    );
    assert.equal((await fleet.getCard('haul~1')).card?.pinLocked, true);
    // The stream path hashes and checks the PIN the same way.
    const stream = (await client.terminal('pump-1')).authorizeStream();
    const frames: AuthorizeStreamResponse[] = [];
    stream.on('data', (frame: AuthorizeStreamResponse) => frames.push(frame));
    const ended = new Promise<void>((resolve, reject) => {
      stream.on('end', resolve);
      stream.on('error', reject);
    });
    stream.write({ items: [{ correlationId: 'locked', request: { ...fleetPurchase('pump-1', ++txn, 'haul~1', [diesel(500)]), pin } }] });
    stream.end();
    await ended;
    assert.equal(frames.flatMap((f) => f.results)[0]?.reply?.declineReason, DeclineReason.DECLINE_REASON_PIN_LOCKED);
    const unlocked = await fleet.setCardPin('haul~1', pin);
    assert.equal(unlocked.card?.pinLocked, false, 'a new PIN unlocks');
    const afterUnlock = await buy('haul~1', 1_000, { pin });
    assert.equal(afterUnlock.outcome, Outcome.OUTCOME_APPROVED);
    charged(afterUnlock);
    await assert.rejects(fleet.setCardPin('haul~1', '12'), (e: grpc.ServiceError) => e.code === grpc.status.INVALID_ARGUMENT);
    await assert.rejects(fleet.setCardPin('haul~7', pin), (e: grpc.ServiceError) => e.code === grpc.status.NOT_FOUND);
    await fleet.setCardPin('haul~2', '246810');
    // Who set it is audited with the change; the PIN's hash never enters the record.
    const audits = (await inspect.outbox()).filter(
      (d) => d['type'] === 'audit_record' && d['action'] === 'tapline.v1.FleetAdminService/SetFleetCardPin',
    );
    const last = audits[audits.length - 1];
    assert.deepEqual([last?.['principal'], last?.['subject']], ['dev-issuer_admin', 'fleet_card:haul~2']);
    const { pinHash } = await cardRecord('haul~2');
    assert.ok(pinHash !== undefined && pinHash !== '', 'the card stores a PIN hash');
    assert.ok(!JSON.stringify(audits).includes(pinHash), 'the audit records carry no PIN hash');
  });

  it('points: redeemed points pay part of the invoice, never more than due; a reversal gives them back', async function () {
    const points = Number((await fleet.getAccount('haul')).account?.points);
    assert.equal(points, 18, 'earned on the two approved purchases: 9 points each on 9.70 invoiced (1 point per 1.00, rounded down)');
    const redeemed = await buy('haul~1', 2_000, { pin, redeemPoints: 15n });
    assert.equal(redeemed.outcome, Outcome.OUTCOME_APPROVED);
    assert.equal(redeemed.pointsRedeemed, 15n);
    assert.equal(minor(redeemed.invoicedAmount), 1_940 - 150, 'diesel less 3 %, less 15 points of 0.10');
    charged(redeemed);
    const key = txn;
    const account = (await fleet.getAccount('haul')).account;
    assert.equal(Number(account?.points), 18 - 15 + Number(redeemed.pointsEarned));
    const tooMany = await buy('haul~1', 2_000, { pin, redeemPoints: 1_000n });
    assert.equal(tooMany.declineReason, DeclineReason.DECLINE_REASON_POINTS_INSUFFICIENT);
    const reversal = await client.reverse('pump-1', ++txn, 'haul~1', { terminalId: 'pump-1', txn: key });
    assert.equal(reversal.result, ReverseResult.REVERSE_RESULT_REVERSED);
    invoiced -= minor(redeemed.invoicedAmount);
    invoiceIds.push(reversal.transactionId);
    assert.equal(Number((await fleet.getAccount('haul')).account?.points), 18, 'redeemed points back, earned ones taken back');
  });

  it('pay at the pump: the hold binds the credit, the completion charges what was delivered, once, from its pump only', async function () {
    const before = minor((await fleet.getAccount('haul')).account?.availableCredit);
    const preTxn = ++txn;
    const held = await client.authorize(
      fleetPreAuthorization('pump-1', preTxn, 'haul~2', 60_000, { odometerKm: 12_345, driverId: 'drv-2', vehicleId: 'van-9' }, '246810'),
    );
    assert.equal(held.outcome, Outcome.OUTCOME_APPROVED);
    assert.equal(minor(held.holdAmount), 60_000);
    assert.ok(Number(held.holdExpiresAtUnixMs) > Date.now() + 3_500_000);
    const account = (await fleet.getAccount('haul')).account;
    assert.equal(minor(account?.held), 60_000);
    assert.equal(minor(account?.availableCredit), before - 60_000);
    // 3 % below pump prices: 5,000 more than is left at pump prices is still more than is left invoiced.
    const squeezed = await buy('haul~1', before - 60_000 + 5_000, { pin });
    assert.equal(squeezed.declineReason, DeclineReason.DECLINE_REASON_CREDIT_LIMIT_EXCEEDED, 'another card sees the held credit');
    const replay = await client.authorize(
      fleetPreAuthorization('pump-1', preTxn, 'haul~2', 60_000, { odometerKm: 12_345, driverId: 'drv-2', vehicleId: 'van-9' }, '246810'),
    );
    assert.equal(replay.replayed, true);
    assert.equal(minor((await fleet.getAccount('haul')).account?.held), 60_000, 'a retry holds nothing more');

    const snapshot = await inspect.snapshot();
    await assert.rejects(
      client.authorize(fleetCompletion('pump-2', ++txn, 'haul~2', { terminalId: 'pump-1', txn: preTxn }, [diesel(41_000, 25_000)])),
      (e: grpc.ServiceError) => e.code === grpc.status.PERMISSION_DENIED,
    );
    await assert.rejects(
      cards.voidHold('pump-2', ++txn, 'haul~2', { terminalId: 'pump-1', txn: preTxn }),
      (e: grpc.ServiceError) => e.code === grpc.status.PERMISSION_DENIED,
    );
    assert.equal(await inspect.snapshot(), snapshot, 'refused completions and voids wrote nothing');

    const completion = await client.authorize(
      fleetCompletion('pump-1', ++txn, 'haul~2', { terminalId: 'pump-1', txn: preTxn }, [diesel(41_000, 25_000)]),
    );
    assert.equal(completion.outcome, Outcome.OUTCOME_APPROVED);
    assert.equal(minor(completion.pumpAmount), 41_000);
    assert.equal(minor(completion.invoicedAmount), 39_770, 'less 3 %');
    assert.equal(minor(completion.holdAmount), 60_000, 'the hold released');
    charged(completion);
    const document = (await inspect.outbox()).find((d) => d['id'] === completion.transactionId);
    // The completion is the vehicle's fill: it carries the reading entered at the pump (fuel consumption counts it).
    assert.deepEqual(
      [document?.['driver'], document?.['vehicle'], document?.['odometer'], document?.['hold']],
      ['drv-2', 'van-9', 12_345, `t:pump-1:${preTxn}`],
    );
    assert.equal(minor((await fleet.getAccount('haul')).account?.held), 0);
    const twice = await client.authorize(
      fleetCompletion('pump-1', ++txn, 'haul~2', { terminalId: 'pump-1', txn: preTxn }, [diesel(1_000)]),
    );
    assert.equal(twice.declineReason, DeclineReason.DECLINE_REASON_HOLD_NOT_FOUND);

    const voidTxn = ++txn;
    assert.equal(
      (await client.authorize(fleetPreAuthorization('pump-1', voidTxn, 'haul~2', 20_000, {}, '246810'))).outcome,
      Outcome.OUTCOME_APPROVED,
    );
    const voided = await cards.voidHold('pump-1', ++txn, 'haul~2', { terminalId: 'pump-1', txn: voidTxn });
    assert.equal(voided.outcome, Outcome.OUTCOME_APPROVED);
    assert.equal(minor(voided.releasedAmount), 20_000);
    assert.equal(minor((await fleet.getAccount('haul')).account?.held), 0, 'the void freed the credit');
    const over = await client.authorize(fleetPreAuthorization('pump-1', ++txn, 'haul~2', 200_000, {}, '246810'));
    assert.equal(over.declineReason, DeclineReason.DECLINE_REASON_CREDIT_LIMIT_EXCEEDED);
    await assert.rejects(
      client.authorize({ ...fleetPreAuthorization('pump-1', ++txn, 'haul~2', 1_000, {}, '246810'), redeemPoints: 1n }),
      (e: grpc.ServiceError) => e.code === grpc.status.INVALID_ARGUMENT,
    );
  });

  it('returns: a refund gives back its share of the invoiced amount; a reversal afterwards only the rest', async function () {
    const originalTxn = ++txn;
    const bought = await client.authorize({
      ...fleetPurchase('pump-1', originalTxn, 'haul~2', [diesel(10_000)], { vehicleId: 'van-9', driverId: 'drv-2' }),
      pin: '246810',
    });
    assert.equal(minor(bought.invoicedAmount), 9_700);
    charged(bought);
    const before = minor((await fleet.getAccount('haul')).account?.availableCredit);
    const refund = await refunds.refund('pump-1', ++txn, 'haul~2', { terminalId: 'pump-1', txn: originalTxn }, 3_333, manager);
    assert.equal(refund.outcome, Outcome.OUTCOME_APPROVED);
    assert.equal(minor(refund.refundedAmount), 3_333);
    assert.equal(minor(refund.balanceAfter), before + 3_233, '9,700 x 3,333 / 10,000, half up');
    invoiced -= 3_233;
    invoiceIds.push(refund.transactionId);
    const over = await refunds.refund('pump-1', ++txn, 'haul~2', { terminalId: 'pump-1', txn: originalTxn }, 6_668, manager);
    assert.equal(over.declineReason, DeclineReason.DECLINE_REASON_REFUND_EXCEEDS_ORIGINAL);
    await assert.rejects(
      refunds.refund('shop-9', ++txn, 'haul~2', { terminalId: 'pump-1', txn: originalTxn }, 100, manager),
      (e: grpc.ServiceError) => e.code === grpc.status.PERMISSION_DENIED,
      'a manager of another merchant',
    );
    const reversal = await client.reverse('pump-1', ++txn, 'haul~2', { terminalId: 'pump-1', txn: originalTxn });
    assert.equal(reversal.result, ReverseResult.REVERSE_RESULT_REVERSED);
    assert.equal(minor(reversal.reversedAmount), 6_667, 'the pump amount not refunded yet');
    invoiced -= 9_700 - 3_233;
    invoiceIds.push(reversal.transactionId);
    assert.equal(minor((await fleet.getAccount('haul')).account?.availableCredit), before + 9_700, 'the whole invoiced amount back, once');
    const late = await refunds.refund('pump-1', ++txn, 'haul~2', { terminalId: 'pump-1', txn: originalTxn }, 1, manager);
    assert.equal(late.declineReason, DeclineReason.DECLINE_REASON_ORIGINAL_NOT_REFUNDABLE);
  });

  it('pump-plus pricing on the wire: the pump price with a markup per unit', async function () {
    await fleet.setPricing({
      fleetId: 'haul',
      operatorId: 'ops',
      agreements: [
        {
          productCode: 'adblue',
          productGroup: '',
          formula: PriceFormula.PRICE_FORMULA_PUMP_PLUS_AMOUNT,
          amountMilliMinor: 2_500n,
          percentBp: 0n,
        },
      ],
    });
    const reply = await client.authorize({
      ...fleetPurchase('pump-1', ++txn, 'haul~2', [
        { code: 'adblue', group: 'additive', qtyMilli: 40_215, unitMinor: 0, amountMinor: 3_000 },
      ]),
      pin: '246810',
    });
    assert.equal(minor(reply.invoicedAmount), 3_101, '40.215 x 2.5 ct = 100.5375 -> 101');
    charged(reply);
  });

  it('in ClickHouse: the cycle invoice holds the completion, refund and reversals (not the holds) and adds up; reconciliation agrees', async function () {
    const closed = await fleet.closeCycle('haul', 1);
    assert.equal(minor(closed.invoice?.amount), invoiced, 'the account invoiced what the replies charged');
    const streamer = await Streamer.start(loadStreamerConfig(streamerEnv(redis.url, clickhouse.url, database)), logger);
    const runner = new ClickHouseRunner(clickhouse.url, database, 30_000);
    const states = await testCardStates(node);
    const server = await ReportsServer.start(
      { query: (statement) => runner.query(statement), database, cards: states },
      0,
      logger,
      await reportsSecurity(),
    );
    try {
      await waitFor(
        'outbox drained',
        async () => (await outboxBacklog(redis.url, test_shard_count)) === 0,
        () => 'outbox not empty',
        60_000,
        100,
      );
      let answer = { status: 0, body: '' };
      await waitFor(
        'the invoice adds up',
        async () => (answer = await get(server.port, '/reports/fleets/haul/invoices/1')).status === 200,
        () => answer.body,
        30_000,
        200,
      );
      const invoice = JSON.parse(answer.body) as Record<string, Record<string, unknown>[]>;
      const listed = invoice['transactions']!.map((t) => t['id']);
      assert.deepEqual([...listed].sort(), [...invoiceIds].sort(), 'completions, refunds and reversals; no holds, no declines');
      const completion = invoice['transactions']!.find((t) => t['kind'] === 'completion');
      assert.deepEqual(
        [completion?.['vehicle'], completion?.['driver'], completion?.['odometer'], completion?.['pump_minor']],
        ['van-9', 'drv-2', 12_345, 41_000],
      );
      const reconciliation = JSON.parse((await get(server.port, '/reports/reconciliation')).body) as Record<string, unknown>;
      assert.deepEqual(reconciliation['fleet_differences'], []);
      assert.deepEqual(reconciliation['differences'], []);
    } finally {
      await server.stop(1_000);
      await streamer.stop();
      states.close();
      await runner.close();
    }
  });
});
