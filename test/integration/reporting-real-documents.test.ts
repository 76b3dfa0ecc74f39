// Proves that the documents the REAL authorizer writes are understood by the streamer and add up in
// the reports (no hand-written fixtures): a real node (in-process, real gRPC over a socket), real
// Redis, the real streamer and ClickHouse 18.16. The test drives every operation the authorizer
// has — issue (named with deposit, anonymous, bulk), purchases with line items, declines of several
// reasons, cash / PSP / auto-reload top-ups, pre-authorization, incremental, completion, void, hold
// reversal and hold expiry, reversal (and nothing-to-reverse with its late original), refund with a
// manager credential, replacement, return, a program refund run, tab spending and settlement, PIN
// set / change / lock / reset, card state changes, a fleet account with prompts, line items and
// negotiated prices, a fleet reversal, a fleet billing cycle closed into its invoice and a payment,
// terminal registration and disabling — and keeps what each
// reply said. Once the streamer has drained the outbox it asserts: no document was rejected, every
// record the node stored (entity states, idempotency records) reads back through its codec
// (actors/state) and the outbox contract, every document is in ClickHouse exactly once,
// reconciliation (stored balances read through the node's ListBalances) finds no difference (plain cards, fleet cards and fleet accounts), the float equals Redis's balances per program and the deposits /
// payouts / refunds the replies reported, card history follows the replacement, the event
// statistics and merchant report equal the totals computed from the replies, and the fleet invoice
// lists every fleet transaction with its vehicle, driver, odometer, pump and invoiced amounts and a
// fuel consumption per vehicle.

import { singleRedis } from '../../services/common/redis-target';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import type { AuthorizerNode } from '../../services/authorizer/node';
import type { RedisInstance } from '../../tools/devenv/redis';
import { queryClickHouse, startClickHouse, type ClickHouseInstance } from '../../tools/devenv/clickhouse';
import { outboxBacklog } from '../../tools/devenv/outbox';
import { CardStatus, DeclineReason, Outcome } from '../../gen/tapline/v1/types';
import { ReverseResult } from '../../gen/tapline/v1/authorization';
import { CardAction, ChangeCardStateResponse, SettlementMethod, type CardServiceIssueCardRequest } from '../../gen/tapline/v1/cards';
import { PriceFormula } from '../../gen/tapline/v1/fleet';
import { TaplineClient, purchase } from '../../tools/client/tapline-client';
import { CardClient, RefundClient, holdRequest, programConfig } from '../../tools/client/card-client';
import { FleetClient, fleetPurchase, type FleetLine, type FleetPrompts } from '../../tools/client/fleet-client';
import { OfflineClient } from '../../tools/client/offline-client';
import { OfflineTerminalSimulator, generateTerminalKey } from '../../tools/offline-terminal/simulator';
import { pspPayload, signPspPayload } from '../../services/authorizer/usecases/psp';
import { shardOf } from '../../actors/sharding/shard-key';
import { cardKey, fleetKey } from '../../services/authorizer/store/keys';
import { createLogger } from '../../services/common/logger';
import type { AuthorizerCardStates } from '../../services/reports/card-states';
import { ClickHouseRunner } from '../../services/reports/clickhouse-runner';
import { ReportsServer } from '../../services/reports/server';
import { RedisSettlementStore } from '../../services/reports/settlement-store';
import { feeOf } from '../../services/reports/settlement-rules';
import { loadStreamerConfig } from '../../services/streamer/config';
import { migrate } from '../../services/streamer/schema/migrate';
import { Streamer } from '../../services/streamer/streamer';
import {
  startInProcessNode,
  startTestRedis,
  test_shard_count,
  testDataDir,
  waitFor,
  accessTo,
  reportsRequest,
  reportsSecurity,
  testCardStates,
} from '../support/harness';
import { streamerEnv } from '../support/outbox-fixtures';
import { connectInspector, type Inspector } from '../support/redis-inspect';
import { state_codecs } from '../../actors/state';
import { document_types, transaction_kinds } from '../../actors/outbox/contract';
import { document_schemas } from '../../actors/outbox/schemas';
import { decodeRecord, decodeStoredTransaction } from '../../actors/card/transaction';
import type { EntityKind } from '../../actors/runtime/persistence';

const database = 'real_docs';
const logger = createLogger('real-documents-test', process.env['TAPLINE_TEST_LOG_LEVEL'] ?? 'warn');
const psp_secret = 'psp-secret-for-real-documents';
const manager = { id: 'mgr-rd', pin: '8642' };
const holder = { name: 'Ada Lovelace', idDocumentType: 0, idDocumentNumber: '', phone: '', email: 'ada@example.org' };

/** What the replies said, per approved money movement: the expected side of every report. */
interface Moved {
  readonly program: string;
  readonly merchant: string;
  readonly kind: 'purchase' | 'completion' | 'reverse' | 'refund' | 'top_up';
  readonly amount: number;
}

/** A GET over HTTPS with a token of a role the route allows (the audit trail: an auditor's). */
async function get(port: number, path: string): Promise<{ status: number; body: string }> {
  const reply = await reportsRequest(port, path);
  return { status: reply.status, body: reply.body };
}

type Rows = Record<string, unknown>[];

describe('reporting from the real authorizer documents (node + streamer + ClickHouse 18.16)', function () {
  this.timeout(180_000);
  let redis: RedisInstance;
  let clickhouse: ClickHouseInstance;
  let node: AuthorizerNode;
  let streamer: Streamer;
  let runner: ClickHouseRunner;
  let states: AuthorizerCardStates;
  let settlement: RedisSettlementStore;
  let server: ReportsServer;
  let client: TaplineClient;
  let cards: CardClient;
  let refunds: RefundClient;
  let fleet: FleetClient;
  let offline: OfflineClient;
  let inspect: Inspector;
  let txn = 1;
  const moved: Moved[] = [];
  /** Every document the authorizer wrote, read from the outbox streams before the streamer starts. */
  let written: Record<string, unknown>[] = [];
  const payouts = new Map<string, number>();
  /** Declined replies the test received, by terminal. */
  const declines = new Map<string, number>();
  const declined = (terminal: string): void => {
    declines.set(terminal, (declines.get(terminal) ?? 0) + 1);
  };
  const fleetReplies: {
    id: string;
    card: string;
    vehicle: string;
    driver: string;
    odometer: number;
    pump: number;
    invoiced: number;
    kind: string;
  }[] = [];
  const fuelLines: { vehicle: string; odometer: number; qty_milli: number }[] = [];

  const report = async (path: string): Promise<Record<string, Rows>> => {
    const answer = await get(server.port, path);
    assert.equal(answer.status, 200, `GET ${path}: ${answer.body}`);
    return JSON.parse(answer.body) as Record<string, Rows>;
  };
  const sql = async (statement: string): Promise<string[][]> =>
    (await queryClickHouse(clickhouse.url, `${statement} FORMAT TSV`))
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => line.split('\t'));

  const issue = (cardId: string, balance: number, programId: string, fields: Partial<CardServiceIssueCardRequest> = {}): Promise<unknown> =>
    cards.issue({
      cardId,
      params: { initialBalance: { amountMinor: BigInt(balance), currency: 'EUR' }, programId, deposit: undefined, expiresAtUnixMs: 0n },
      holder: undefined,
      pin: '',
      operatorId: 'ops',
      ...fields,
    });
  const buy = async (
    terminal: string,
    merchant: string,
    program: string,
    cardId: string,
    amount: number,
    extra: { pin?: string; lines?: { code: string; group: string; qty: number; unit: number; amount: number }[] } = {},
  ) => {
    const request = { ...purchase(terminal, txn++, cardId, amount), pin: extra.pin ?? '' };
    const lineItems = (extra.lines ?? []).map((l) => ({
      productCode: l.code,
      productGroup: l.group,
      quantityMilli: BigInt(l.qty),
      unitPriceMinor: BigInt(l.unit),
      amountMinor: BigInt(l.amount),
    }));
    const reply = await client.authorize({ ...request, lineItems });
    if (reply.outcome === Outcome.OUTCOME_APPROVED)
      moved.push({ program, merchant, kind: 'purchase', amount: Number(reply.approvedAmount?.amountMinor ?? BigInt(amount)) });
    else declined(terminal);
    return { reply, txn: Number(request.terminalTxnNumber) };
  };
  const fleetBuy = async (cardId: string, lines: FleetLine[], prompts: FleetPrompts) => {
    const n = txn++;
    const reply = await client.authorize(fleetPurchase('rd-pump', n, cardId, lines, prompts));
    if (reply.outcome !== Outcome.OUTCOME_APPROVED) declined('rd-pump');
    if (reply.outcome === Outcome.OUTCOME_APPROVED) {
      const pump = Number(reply.pumpAmount?.amountMinor);
      moved.push({ program: 'rd-fleet', merchant: 'rd-station', kind: 'purchase', amount: pump });
      fleetReplies.push({
        id: reply.transactionId,
        card: cardId,
        vehicle: prompts.vehicleId ?? '',
        driver: prompts.driverId ?? '',
        odometer: prompts.odometerKm ?? 0,
        pump,
        invoiced: Number(reply.invoicedAmount?.amountMinor),
        kind: 'purchase',
      });
      for (const line of lines)
        if (line.group === 'fuel')
          fuelLines.push({ vehicle: prompts.vehicleId ?? '', odometer: prompts.odometerKm ?? 0, qty_milli: line.qtyMilli ?? 0 });
    }
    return { reply, txn: n };
  };

  before(async function () {
    [redis, clickhouse] = await Promise.all([startTestRedis('real-docs'), startClickHouse({ dataDir: testDataDir('real-docs-ch') })]);
    await migrate(clickhouse.url, database);
    node = await startInProcessNode(redis.url, { TAPLINE_PIN_SECRET: 'real-docs-pin-secret-0123', TAPLINE_PSP_SECRET: psp_secret });
    const access = await accessTo(node);
    client = new TaplineClient(access);
    cards = new CardClient(access);
    refunds = new RefundClient(access);
    fleet = new FleetClient(access);
    offline = new OfflineClient(access);
    inspect = await connectInspector(redis.url);
    runner = new ClickHouseRunner(clickhouse.url, database, 30_000);
    states = await testCardStates(node);
    settlement = await RedisSettlementStore.connect(singleRedis(redis.url));
    server = await ReportsServer.start(
      { query: (statement) => runner.query(statement), database, cards: states, settlement },
      0,
      logger,
      await reportsSecurity(),
    );
    await drive();
    // The streamer deletes what it has delivered: the documents are read before it starts.
    written = await inspect.outbox();
    streamer = await Streamer.start(loadStreamerConfig(streamerEnv(redis.url, clickhouse.url, database)), logger);
    await waitFor(
      'outbox drained into ClickHouse',
      async () => (await outboxBacklog(redis.url, test_shard_count)) === 0,
      () => 'outbox not empty yet',
      60_000,
      100,
    );
    const documents = written.length;
    let seen = '';
    await waitFor(
      'every document in ClickHouse',
      async () => {
        const count = async (table: string): Promise<number> => Number((await sql(`SELECT count() FROM ${database}.${table}`))[0]?.[0]);
        const [t, l, a, i, p, r] = [
          await count('transactions'),
          await count('lifecycle_events'),
          await count('audit_log'),
          await count('fleet_invoices'),
          await count('tap_pours'),
          await count('outbox_rejects'),
        ];
        seen = `${t} transactions + ${l} events + ${a} audit records + ${i} invoices + ${p} tap pours + ${r} rejects, ${documents} documents`;
        return t + l + a + i + p + r >= documents;
      },
      () => seen,
      30_000,
      100,
    );
  });

  after(async function () {
    await server?.stop(1_000);
    await streamer?.stop();
    for (const c of [client, cards, refunds, fleet, offline]) c?.close();
    states?.close();
    await Promise.all([runner?.close(), settlement?.close(), inspect?.close()]);
    await node?.shutdown();
    await Promise.all([redis?.stop(), clickhouse?.stop()]);
  });

  async function drive(): Promise<void> {
    // Terminals, programs, managers.
    await client.registerTerminal('rd-bar', 'rd-bar-m');
    await client.registerTerminal('rd-desk', 'rd-hotel-m');
    await client.registerTerminal('rd-pump', 'rd-station');
    await client.registerTerminal('rd-old', 'rd-bar-m');
    await client.setTerminalEnabled('rd-old', false);
    await cards.defineProgram('rd-fest', programConfig({ depositMinor: 200n }));
    await cards.defineProgram('rd-hotel', programConfig({ completionToleranceBp: 1_500 }));
    await cards.defineProgram('rd-short', programConfig({ holdExpiryMs: 300n }));
    await cards.defineProgram('rd-pin', programConfig({ pinRequired: true, pinAttemptsMax: 3 }));
    await cards.defineProgram('rd-end', programConfig({ depositMinor: 100n }));
    await refunds.registerManager('rd-bar-m', manager.id, manager.pin);
    // A beer tap's pour report over a period (the tap_pour document).
    const tap = await client.terminal('rd-bar');
    await new Promise<void>((resolve, reject) => {
      const period = { $case: 'period' as const, value: { fromUnixMs: BigInt(Date.now() - 3_600_000), toUnixMs: BigInt(Date.now()) } };
      tap.reportPour(
        { terminalId: 'rd-bar', reportId: 'rd-hour-1', subject: period, pouredMl: 12_500n, productCode: '' },
        new grpc.Metadata(),
        { deadline: Date.now() + 20_000 },
        (error) => (error ? reject(error) : resolve()),
      );
    });

    // Issuing: named with deposit, anonymous, bulk.
    await issue('rd-named', 5_000, 'rd-fest', {
      holder,
      params: {
        initialBalance: { amountMinor: 5_000n, currency: 'EUR' },
        programId: 'rd-fest',
        deposit: { amountMinor: 300n, currency: 'EUR' },
        expiresAtUnixMs: 0n,
      },
    });
    await issue('rd-anon', 3_000, 'rd-fest');
    const bulk = await cards.bulkIssue({
      issuanceId: 'rd-batch-1',
      cardIds: ['rd-b1', 'rd-b2', 'rd-b3'],
      params: { initialBalance: { amountMinor: 1_000n, currency: 'EUR' }, programId: 'rd-fest', deposit: undefined, expiresAtUnixMs: 0n },
      operatorId: 'ops',
    });
    assert.equal(bulk.issued, 3);

    // Issuances cancelled: a named card with its deposit, issued again as an anonymous card with
    // another balance, and a card left unissued. The reports must read both as never issued.
    await issue('rd-oops', 2_500, 'rd-fest', {
      holder,
      params: {
        initialBalance: { amountMinor: 2_500n, currency: 'EUR' },
        programId: 'rd-fest',
        deposit: { amountMinor: 300n, currency: 'EUR' },
        expiresAtUnixMs: 0n,
      },
    });
    const undone = await cards.cancelIssuance('rd-oops', 'wrong holder');
    assert.deepEqual([undone.balance?.amountMinor, undone.deposit?.amountMinor], [2_500n, 300n]);
    await issue('rd-oops', 800, 'rd-fest');
    await issue('rd-gone', 1_200, 'rd-fest');
    await cards.cancelIssuance('rd-gone');

    // Purchases with line items, declines.
    const beer = { code: 'beer', group: 'drinks', qty: 2_000, unit: 450, amount: 900 };
    assert.equal(
      (
        await buy('rd-bar', 'rd-bar-m', 'rd-fest', 'rd-anon', 1_250, {
          lines: [beer, { code: 'fries', group: 'food', qty: 1_000, unit: 350, amount: 350 }],
        })
      ).reply.outcome,
      Outcome.OUTCOME_APPROVED,
    );
    assert.equal(
      (await buy('rd-bar', 'rd-bar-m', 'rd-fest', 'rd-b1', 5_000)).reply.declineReason,
      DeclineReason.DECLINE_REASON_INSUFFICIENT_FUNDS,
    );
    await cards.changeState({ cardId: 'rd-b2', action: CardAction.CARD_ACTION_FREEZE, reason: 'lost?', operatorId: 'ops', approverId: '' });
    assert.equal((await buy('rd-bar', 'rd-bar-m', 'rd-fest', 'rd-b2', 100)).reply.outcome, Outcome.OUTCOME_DECLINED);
    await cards.changeState({
      cardId: 'rd-b2',
      action: CardAction.CARD_ACTION_UNFREEZE,
      reason: 'found',
      operatorId: 'ops',
      approverId: '',
    });
    const disabled = await buy('rd-old', 'rd-bar-m', 'rd-fest', 'rd-b2', 100).catch((error: Error) => error);
    assert.ok(disabled instanceof Error || disabled.reply.outcome === Outcome.OUTCOME_DECLINED, 'a disabled terminal approves nothing');

    // Top-ups: cash, PSP callback, auto-reload.
    const cash = await client.topUp('rd-b1', 500, { terminalId: 'rd-bar', txn: txn++ });
    assert.equal(cash.outcome, Outcome.OUTCOME_APPROVED);
    moved.push({ program: 'rd-fest', merchant: 'rd-bar-m', kind: 'top_up', amount: 500 });
    const started = await cards.startPspTopUp('rd-b1', 2_000);
    const payload = pspPayload({
      reference: started.pspReference,
      card: 'rd-b1',
      amountMinor: 2_000,
      currency: 'EUR',
      status: 'succeeded',
      kind: 'top_up',
      signedAtMs: Date.now(),
    });
    assert.equal((await cards.pspCallback(payload, signPspPayload(psp_secret, payload))).outcome, Outcome.OUTCOME_APPROVED);
    moved.push({ program: 'rd-fest', merchant: '', kind: 'top_up', amount: 2_000 });
    await cards.setAutoReload('rd-b3', 500, 2_000, 'mandate-rd');
    await buy('rd-bar', 'rd-bar-m', 'rd-fest', 'rd-b3', 600);
    let reloaded = 0n;
    await waitFor(
      'auto-reload top-up',
      async () => (reloaded = (await client.balance('rd-b3')).balance?.amountMinor ?? 0n) === 2_400n,
      () => `balance ${reloaded}`,
      10_000,
    );
    moved.push({ program: 'rd-fest', merchant: '', kind: 'top_up', amount: 2_000 });

    // Holds: pre-authorization, incremental, completion; void; reversal of a hold; expiry.
    await issue('rd-guest', 10_000, 'rd-hotel');
    const pre = txn++;
    assert.equal(
      (await client.authorize(holdRequest('pre_authorization', 'rd-desk', pre, 'rd-guest', 3_000))).outcome,
      Outcome.OUTCOME_APPROVED,
    );
    assert.equal(
      (await client.authorize(holdRequest('incremental', 'rd-desk', txn++, 'rd-guest', 1_000, { terminalId: 'rd-desk', txn: pre })))
        .outcome,
      Outcome.OUTCOME_APPROVED,
    );
    const completion = await client.authorize(
      holdRequest('completion', 'rd-desk', txn++, 'rd-guest', 3_500, { terminalId: 'rd-desk', txn: pre }),
    );
    assert.equal(completion.outcome, Outcome.OUTCOME_APPROVED);
    moved.push({ program: 'rd-hotel', merchant: 'rd-hotel-m', kind: 'completion', amount: 3_500 });
    const voided = txn++;
    await client.authorize(holdRequest('pre_authorization', 'rd-desk', voided, 'rd-guest', 2_000));
    assert.equal(
      (await cards.voidHold('rd-desk', txn++, 'rd-guest', { terminalId: 'rd-desk', txn: voided })).outcome,
      Outcome.OUTCOME_APPROVED,
    );
    const released = txn++;
    await client.authorize(holdRequest('pre_authorization', 'rd-desk', released, 'rd-guest', 1_000));
    assert.equal(
      (await client.reverse('rd-desk', txn++, 'rd-guest', { terminalId: 'rd-desk', txn: released })).result,
      ReverseResult.REVERSE_RESULT_REVERSED,
    );
    await issue('rd-sleepy', 1_000, 'rd-short');
    await client.authorize(holdRequest('pre_authorization', 'rd-desk', txn++, 'rd-sleepy', 600));
    let available = 0n;
    await waitFor(
      'hold expired',
      async () => (available = (await client.balance('rd-sleepy')).available?.amountMinor ?? 0n) === 1_000n,
      () => `available ${available}`,
      10_000,
    );
    const touched = await buy('rd-desk', 'rd-hotel-m', 'rd-short', 'rd-sleepy', 10);
    assert.equal(
      touched.reply.outcome,
      Outcome.OUTCOME_APPROVED,
      JSON.stringify(touched.reply, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)),
    );
    await waitFor(
      'hold_expiry written',
      async () => (await inspect.outbox()).some((d) => d['kind'] === 'hold_expiry'),
      () => 'no hold_expiry yet',
      10_000,
    );

    // Reversal, nothing to reverse, and the late original.
    const reversed = await buy('rd-bar', 'rd-bar-m', 'rd-fest', 'rd-anon', 400);
    const reversal = await client.reverse('rd-bar', txn++, 'rd-anon', { terminalId: 'rd-bar', txn: reversed.txn });
    assert.equal(reversal.result, ReverseResult.REVERSE_RESULT_REVERSED);
    moved.push({ program: 'rd-fest', merchant: 'rd-bar-m', kind: 'reverse', amount: 400 });
    const lateTxn = 900_000;
    assert.equal(
      (await client.reverse('rd-bar', txn++, 'rd-anon', { terminalId: 'rd-bar', txn: lateTxn })).result,
      ReverseResult.REVERSE_RESULT_NOTHING_TO_REVERSE,
    );
    // The late original is answered from the tombstone the reversal stored under its key: a
    // replay of a stored answer, which writes no document (the reversal's own document, with
    // reverse = nothing_to_reverse, is the record of it), so it is no decline of the reports.
    assert.equal(
      (await client.authorize(purchase('rd-bar', lateTxn, 'rd-anon', 50))).declineReason,
      DeclineReason.DECLINE_REASON_REVERSED_BEFORE_AUTHORIZATION,
    );
    assert.ok(
      !(await inspect.outbox()).some((d) => d['key'] === `t:rd-bar:${lateTxn}` && d['kind'] === 'purchase'),
      'no document for the late original',
    );

    // Refund with a manager credential.
    const refunded = await buy('rd-bar', 'rd-bar-m', 'rd-fest', 'rd-named', 1_000);
    const refund = await refunds.refund('rd-bar', txn++, 'rd-named', { terminalId: 'rd-bar', txn: refunded.txn }, 400, manager);
    assert.equal(refund.outcome, Outcome.OUTCOME_APPROVED);
    moved.push({ program: 'rd-fest', merchant: 'rd-bar-m', kind: 'refund', amount: 400 });

    // Replacement (balance and deposit move), then the new card spends.
    const replaced = await cards.replace('rd-named', 'rd-named-2');
    assert.equal(replaced.replacement?.balance?.amountMinor, 4_400n);
    await buy('rd-bar', 'rd-bar-m', 'rd-fest', 'rd-named-2', 700);

    // Return and the program refund run.
    const returned = await cards.returnCard('rd-b2', 'rd-ret-1');
    assert.equal(returned.outcome, Outcome.OUTCOME_APPROVED);
    payouts.set('rd-fest', Number(returned.payout?.amountMinor));
    await issue('rd-e1', 700, 'rd-end');
    await issue('rd-e2', 700, 'rd-end');
    await buy('rd-bar', 'rd-bar-m', 'rd-end', 'rd-e1', 200);
    const run = await cards.refundRun('rd-end', 'rd-run-1');
    assert.equal(run.payouts.length, 2);
    payouts.set(
      'rd-end',
      run.payouts.reduce((sum, p) => sum + Number(p.payout?.amountMinor), 0),
    );

    // Tab spending and settlement.
    await issue('rd-tab', 0, 'rd-resort', { holder });
    await cards.setTabLimit('rd-tab', 5_000);
    assert.equal((await buy('rd-desk', 'rd-hotel-m', 'rd-resort', 'rd-tab', 3_000)).reply.outcome, Outcome.OUTCOME_APPROVED);
    assert.equal(
      (await cards.settleTab('rd-tab', 2_000, 'INV-RD-1', SettlementMethod.SETTLEMENT_METHOD_INVOICE)).outcome,
      Outcome.OUTCOME_APPROVED,
    );

    // PINs: set at issuance, used, changed, locked by wrong attempts, reset.
    await issue('rd-p1', 2_000, 'rd-pin', { pin: '1234' });
    assert.equal((await buy('rd-bar', 'rd-bar-m', 'rd-pin', 'rd-p1', 100, { pin: '1234' })).reply.outcome, Outcome.OUTCOME_APPROVED);
    await cards.setPin('rd-p1', '5678', '1234');
    for (let attempt = 0; attempt < 3; attempt++) await buy('rd-bar', 'rd-bar-m', 'rd-pin', 'rd-p1', 100, { pin: '0000' });
    await cards.setPin('rd-p1', '9753', '', true);
    assert.equal((await buy('rd-bar', 'rd-bar-m', 'rd-pin', 'rd-p1', 100, { pin: '9753' })).reply.outcome, Outcome.OUTCOME_APPROVED);

    // Fleet: account, policy with prompts, negotiated prices, cards, purchases with lines, a decline, a reversal.
    await fleet.createAccount({ fleetId: 'rd-fleet', creditLimitMinor: 1_000_000, timeZone: 'Europe/Berlin' });
    await fleet.setPolicy({
      fleetId: 'rd-fleet',
      productGroups: undefined,
      program: undefined,
      operatorId: 'ops',
      prompts: { requireOdometer: true, requireDriver: true, requireVehicle: true, odometerJumpMaxKm: 0n },
    });
    await fleet.setPricing({
      fleetId: 'rd-fleet',
      operatorId: 'ops',
      agreements: [
        {
          productCode: '',
          productGroup: 'fuel',
          formula: PriceFormula.PRICE_FORMULA_PUMP_MINUS_PERCENT,
          amountMilliMinor: 0n,
          percentBp: 500n,
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
    const truck =
      (await fleet.issueCard({ fleetId: 'rd-fleet', cardNo: '1', limits: undefined, productGroups: undefined, operatorId: 'ops' })).card
        ?.cardId ?? '';
    const van =
      (await fleet.issueCard({ fleetId: 'rd-fleet', cardNo: '2', limits: undefined, productGroups: undefined, operatorId: 'ops' })).card
        ?.cardId ?? '';
    const diesel = (qtyMilli: number, amountMinor: number): FleetLine => ({
      code: 'diesel',
      group: 'fuel',
      qtyMilli,
      unitMinor: 150,
      amountMinor,
    });
    assert.equal(
      (await fleetBuy(truck, [diesel(40_000, 6_000)], { odometerKm: 10_000, driverId: 'd-1', vehicleId: 'truck-1' })).reply.outcome,
      Outcome.OUTCOME_APPROVED,
    );
    assert.equal(
      (await fleetBuy(truck, [diesel(30_000, 4_500)], { odometerKm: 10_400, driverId: 'd-1', vehicleId: 'truck-1' })).reply.outcome,
      Outcome.OUTCOME_APPROVED,
    );
    assert.equal(
      (await fleetBuy(truck, [diesel(10_000, 1_500)], { driverId: 'd-1', vehicleId: 'truck-1' })).reply.declineRule,
      'prompt:odometer',
    );
    const vanBuy = await fleetBuy(van, [diesel(20_000, 3_000), { code: 'wash', group: 'car_wash', qtyMilli: 1_000, amountMinor: 900 }], {
      odometerKm: 5_000,
      driverId: 'd-2',
      vehicleId: 'van-1',
    });
    assert.equal(vanBuy.reply.outcome, Outcome.OUTCOME_APPROVED);
    const vanReversed = await fleetBuy(van, [diesel(10_000, 1_500)], { odometerKm: 5_300, driverId: 'd-2', vehicleId: 'van-1' });
    const fleetReversal = await client.reverse('rd-pump', txn++, van, { terminalId: 'rd-pump', txn: vanReversed.txn });
    assert.equal(fleetReversal.result, ReverseResult.REVERSE_RESULT_REVERSED);
    const reversedReply = fleetReplies.find((r) => r.id === vanReversed.reply.transactionId);
    assert.ok(reversedReply);
    moved.push({ program: 'rd-fleet', merchant: 'rd-station', kind: 'reverse', amount: reversedReply.pump });
    fleetReplies.push({
      id: fleetReversal.transactionId,
      card: van,
      vehicle: 'van-1',
      driver: 'd-2',
      odometer: 0,
      pump: reversedReply.pump,
      invoiced: reversedReply.invoiced,
      kind: 'reverse',
    });
    // The postpaid cycle: cycle 1 closed into its invoice, and part of it paid.
    const cycleInvoiced = fleetReplies.reduce((sum, r) => sum + (r.kind === 'reverse' ? -r.invoiced : r.invoiced), 0);
    const closed = await fleet.closeCycle('rd-fleet', 1);
    assert.equal(Number(closed.invoice?.amount?.amountMinor), cycleInvoiced);
    const paid = await fleet.postPayment('rd-fleet', 'rd-bank-1', 1_000);
    assert.equal(paid.outcome, Outcome.OUTCOME_APPROVED);
    const block = await cards.changeState({
      cardId: 'rd-anon',
      action: CardAction.CARD_ACTION_BLOCK,
      reason: 'fraud',
      operatorId: 'ops',
      approverId: '',
    });
    assert.equal(block.status, CardStatus.CARD_STATUS_BLOCKED);
    // Four eyes: the unblock is held, then carried out when another principal (the approver) approves it.
    const held = await cards.changeState({
      cardId: 'rd-anon',
      action: CardAction.CARD_ACTION_UNBLOCK,
      reason: 'cleared',
      operatorId: '',
      approverId: '',
    });
    const unblock = ChangeCardStateResponse.decode((await cards.approve(held.pendingApprovalId)).response);
    assert.equal(unblock.status, CardStatus.CARD_STATUS_ACTIVE);
    await driveOffline();
  }

  /**
   * Offline selling: a terminal set up and synced (settings, grant, acknowledgement), two sales of
   * one card past its balance (debt past the threshold: listed), the void of the first (paid back:
   * off the list), a sale on a blocked card by a terminal that ignores its denylist (the
   * merchant's), a top-up, and the upload (batch).
   */
  async function driveOffline(): Promise<void> {
    const policy = { txnMaxMinor: 2_000n, cardMaxMinor: 3_000n, debtThresholdMinor: 500n, cardCounter: false };
    await cards.defineProgram('rd-offline', programConfig({ offline: policy }));
    await client.registerTerminal('rd-off', 'rd-off-m');
    const key = generateTerminalKey();
    await offline.setTerminalOffline({
      terminalId: 'rd-off',
      publicKey: key.spki,
      programIds: ['rd-offline'],
      totalMaxMinor: 100_000,
      currency: 'EUR',
      countMax: 50,
      offlineMaxMs: 3_600_000,
    });
    await issue('rd-off-1', 1_000, 'rd-offline');
    await issue('rd-off-2', 1_000, 'rd-offline');
    await cards.changeState({
      cardId: 'rd-off-2',
      action: CardAction.CARD_ACTION_BLOCK,
      reason: 'lost',
      operatorId: 'ops',
      approverId: '',
    });
    const terminal = new OfflineTerminalSimulator('rd-off', offline, key, { clock: () => 0, rogue: true });
    await terminal.sync();
    const first = terminal.sell({ cardId: 'rd-off-1', programId: 'rd-offline' }, 900, 'EUR');
    terminal.sell({ cardId: 'rd-off-1', programId: 'rd-offline' }, 900, 'EUR');
    terminal.sell({ cardId: 'rd-off-2', programId: 'rd-offline' }, 400, 'EUR');
    terminal.voidSale((first as { entry: number }).entry);
    terminal.closeBatches();
    const [answer] = await terminal.upload();
    assert.deepEqual(
      answer?.results.map((result) => result.liabilityReason),
      ['', '', 'denylisted', ''],
    );
    for (const amount of [900, 900]) moved.push({ program: 'rd-offline', merchant: 'rd-off-m', kind: 'purchase', amount });
    moved.push({ program: 'rd-offline', merchant: 'rd-off-m', kind: 'reverse', amount: 900 });
    declined('rd-off');
    const topUp = await client.topUp('rd-off-1', 500, { terminalId: 'rd-off', txn: txn++ });
    assert.equal(topUp.balanceAfter?.amountMinor, 600n);
    moved.push({ program: 'rd-offline', merchant: 'rd-off-m', kind: 'top_up', amount: 500 });
  }

  it('every real document is understood: outbox_rejects is empty', async function () {
    const rejects = await sql(`SELECT error, document FROM ${database}.outbox_rejects`);
    assert.deepEqual(rejects, [], 'no document rejected');
  });

  it('every record the real authorizer stored reads back through its codec, and every idempotency record through the contract', async function () {
    // The key's kind segment (services/authorizer/store/keys.ts) to the entity kind of its codec.
    const kinds: Readonly<Record<string, EntityKind>> = {
      card: 'card',
      term: 'terminal',
      fleet: 'fleet',
      fcard: 'fleet_card',
      veh: 'vehicle',
      review: 'review',
      program: 'program',
      holder: 'holder',
      issuance: 'issuance',
      refunded: 'refunded',
      manager: 'manager',
      spent: 'spent',
    };
    const decoded = new Map<string, number>();
    for await (const keys of inspect.client.scanIterator({ MATCH: 'tl:*', COUNT: 1000 })) {
      for (const key of keys) {
        const segment = /^tl:\{s[0-9]+\}:([a-z]+):/.exec(key)?.[1];
        const kind = segment === undefined ? undefined : kinds[segment];
        if (kind !== undefined) {
          const data = await inspect.client.hGet(key, 'd');
          assert.ok(typeof data === 'string', `${key} has its state in d`);
          assert.doesNotThrow(() => state_codecs[kind].decode(data), `${key} decodes as ${kind}`);
          decoded.set(kind, (decoded.get(kind) ?? 0) + 1);
        } else if ((segment === 'idem' || segment === 'key') && /^tl:\{s[0-9]+\}:[a-z]+:k:tap-pour\//.test(key)) {
          // A tap's pour report: a tap_pour document, under a key no client key can spell.
          const value = await inspect.client.get(key);
          assert.ok(value !== null && document_schemas.tap_pour.safeParse(JSON.parse(value)).success, `${key} is a tap_pour document`);
        } else if (segment === 'idem' || segment === 'key') {
          const value = await inspect.client.get(key);
          assert.ok(value !== null, key);
          // A key record names the record's key (keys.ts); the record is checked under that key.
          if (value.startsWith('tl:{')) continue;
          // Money decisions write the compact layout; tombstones and system actions a contract document.
          if (value.startsWith('{')) assert.doesNotThrow(() => decodeStoredTransaction(value), `${key} is a contract transaction document`);
          assert.doesNotThrow(() => decodeRecord(value), `${key} decodes as an idempotency record`);
          decoded.set('idempotency record', (decoded.get('idempotency record') ?? 0) + 1);
        }
      }
    }
    // What the drive wrote: every kind of record but the review queue (no fleet approval is flagged).
    const expected = [
      'card',
      'terminal',
      'program',
      'holder',
      'issuance',
      'refunded',
      'manager',
      'spent',
      'fleet',
      'fleet_card',
      'vehicle',
    ];
    for (const kind of [...expected, 'idempotency record'])
      assert.ok((decoded.get(kind) ?? 0) > 0, `no ${kind} decoded: ${JSON.stringify([...decoded])}`);
  });

  it('every committed document is in ClickHouse exactly once', async function () {
    const documents = written;
    const transactionIds = documents
      .filter((d) => d['type'] === 'transaction')
      .map((d) => String(d['id']))
      .sort();
    assert.equal(new Set(transactionIds).size, transactionIds.length, 'transaction ids are unique in the outbox');
    const counted = await sql(`SELECT id, count() FROM ${database}.transactions_dedup GROUP BY id ORDER BY id`);
    assert.deepEqual(
      counted.map(([id]) => id),
      transactionIds,
    );
    assert.ok(counted.every(([, count]) => count === '1'));
    const audited = documents.filter((d) => d['type'] === 'audit_record').length;
    assert.ok(audited > 0, 'operator actions wrote their audit records');
    const pours = documents.filter((d) => d['type'] === 'tap_pour').length;
    const [[pourRows]] = (await sql(`SELECT count() FROM ${database}.tap_pours_dedup`)) as [[string]];
    assert.equal(Number(pourRows), pours, 'every tap pour report once');
    const [[events]] = (await sql(`SELECT count() FROM ${database}.lifecycle_events_dedup`)) as [[string]];
    const [[invoices]] = (await sql(`SELECT count() FROM ${database}.fleet_invoices_dedup`)) as [[string]];
    assert.equal(Number(invoices), documents.filter((d) => d['type'] === 'fleet_invoice').length, 'every fleet invoice once');
    assert.equal(
      Number(events) + Number(invoices),
      documents.length - transactionIds.length - audited - pours,
      'every lifecycle document once',
    );
    const [[records]] = (await sql(`SELECT count() FROM ${database}.audit_log_dedup`)) as [[string]];
    assert.equal(Number(records), audited, 'every audit record once');
    const lines = documents.reduce((sum, d) => sum + (Array.isArray(d['lines']) ? d['lines'].length : 0), 0);
    assert.deepEqual(
      await sql(`SELECT count(), sum(amount), sum(invoiced) FROM ${database}.transaction_lines_dedup`),
      [
        [
          String(lines),
          String(
            documents.reduce(
              (sum, d) => sum + (Array.isArray(d['lines']) ? (d['lines'] as { amount: number }[]).reduce((a, l) => a + l.amount, 0) : 0),
              0,
            ),
          ),
          String(
            documents.reduce(
              (sum, d) =>
                sum +
                (Array.isArray(d['lines'])
                  ? (d['lines'] as { amount: number; invoiced?: number }[]).reduce((a, l) => a + (l.invoiced ?? l.amount), 0)
                  : 0),
              0,
            ),
          ),
        ],
      ],
      'every line item once',
    );
    assert.ok(lines >= 6, `${lines} line items`);
    const kinds = new Set(documents.map((d) => String(d['kind'] ?? d['type'])));
    // Every kind and document type of the contract: a kind added there must be driven here too.
    for (const kind of [...transaction_kinds, ...document_types.filter((type) => type !== 'transaction')]) {
      assert.ok(kinds.has(kind), `the run wrote a ${kind} document`);
    }
  });

  it('the fields added to the contract by the card engineer arrive in ClickHouse as written (hold figures, spent, status action and approver)', async function () {
    const columns = ['hold_amount', 'hold_expires_at', 'ledger_after', 'spent_after', 'held_delta', 'hold'] as const;
    const rows = await sql(`SELECT id, ${columns.join(', ')} FROM ${database}.transactions_dedup ORDER BY id`);
    const stored = new Map(rows.map(([id, ...values]) => [id, values]));
    let checked = 0;
    for (const d of written.filter(
      (doc) => doc['type'] === 'transaction' && (doc['hold_amount'] !== undefined || doc['spent_after'] !== undefined),
    )) {
      assert.deepEqual(
        stored.get(String(d['id'])),
        columns.map((column) => String((d[column] as string | number | undefined) ?? (column === 'hold' ? '' : 0))),
        `${String(d['kind'])} ${String(d['id'])}`,
      );
      checked += 1;
    }
    assert.ok(checked >= 8, `hold and spent figures checked on ${checked} documents`);
    const changes = await sql(
      `SELECT card, status, previous, action, approver FROM ${database}.lifecycle_events_dedup WHERE type = 'card_status_changed' ORDER BY card, action`,
    );
    const expected = written
      .filter((d) => d['type'] === 'card_status_changed')
      .map((d) => [d['card'], d['status'], d['previous'] ?? '', d['action'] ?? '', d['approver'] ?? ''].map(String));
    assert.deepEqual(
      changes,
      expected.sort((a, b) => `${a[0]} ${a[3]}`.localeCompare(`${b[0]} ${b[3]}`)),
    );
    assert.deepEqual(
      changes.map((row) => row[3]),
      ['block', 'unblock', 'freeze', 'unfreeze', 'block'],
    );
    const day = (ms: number): string => new Date(ms).toISOString().slice(0, 10);
    const audit = (await report(`/reports/audit?from=${day(Date.now() - 86_400_000)}&to=${day(Date.now())}`))['entries'] ?? [];
    const unblocked = audit.find((entry) => entry['type'] === 'card_status_changed' && entry['action'] === 'unblock');
    assert.deepEqual(
      [unblocked?.['card'], unblocked?.['operator'], unblocked?.['approver']],
      ['rd-anon', 'dev-issuer_admin', 'dev-approver'],
      'the audit trail names both principals of an unblock (token subjects, never request fields)',
    );
    // Per principal: the approver's records are its own decisions and the actions it released,
    // each with what changed; nothing of anyone else.
    const records = (await report(`/reports/audit?from=${day(Date.now() - 86_400_000)}&to=${day(Date.now())}&principal=dev-approver`))[
      'records'
    ];
    assert.ok(records !== undefined && records.length >= 2, `the approver's records: ${JSON.stringify(records)}`);
    assert.ok(records.every((r) => r['principal'] === 'dev-approver' || r['approver'] === 'dev-approver'));
    const released = records.find((r) => r['action'] === 'tapline.v1.CardService/ChangeCardState' && r['subject'] === 'card:rd-anon');
    assert.deepEqual(
      [released?.['principal'], released?.['role'], released?.['approver']],
      ['dev-issuer_admin', 'issuer_admin', 'dev-approver'],
    );
    const after = JSON.parse(String(released?.['after'])) as Record<string, Record<string, unknown>>;
    const before = JSON.parse(String(released?.['before'])) as Record<string, Record<string, unknown>>;
    assert.deepEqual([before['card:rd-anon']?.['status'], after['card:rd-anon']?.['status']], ['blocked', 'active'], 'before and after');
    assert.ok(
      records.some((r) => r['principal'] === 'dev-approver' && r['action'] === 'tapline.v1.ApprovalService/Approve'),
      "the approver's own decision",
    );
  });

  it('reconciliation lists no difference: plain cards, fleet cards and fleet accounts', async function () {
    const reconciliation = await report('/reports/reconciliation');
    assert.deepEqual(reconciliation['differences'], []);
    const summary = reconciliation['summary'] as unknown as Record<string, number>;
    assert.equal(summary['differences'], 0);
    assert.equal(summary['cards_checked'], 18, '16 stored-value cards (one replaced, one unissued; two sold offline) and 2 fleet cards');
    assert.equal(summary['fleet_accounts_checked'], 1);
    const account = JSON.parse(
      String(await inspect.client.hGet(fleetKey(shardOf('fleet', 'rd-fleet', test_shard_count), 'rd-fleet'), 'd')),
    ) as {
      balanceMinor: number;
    };
    // What the replies invoiced, less the payment the drive made.
    const owed = fleetReplies.reduce((sum, r) => sum + (r.kind === 'reverse' ? -r.invoiced : r.invoiced), 0) - 1_000;
    assert.equal(account.balanceMinor, -owed, 'the fleet account owes what the replies invoiced, less what it paid');
    // A fleet account that does not match its documents is listed, and only it.
    const key = fleetKey(shardOf('fleet', 'rd-fleet', test_shard_count), 'rd-fleet');
    const original = String(await inspect.client.hGet(key, 'd'));
    await inspect.client.hSet(key, 'd', JSON.stringify({ ...(JSON.parse(original) as object), balanceMinor: account.balanceMinor - 5 }));
    try {
      const tampered = await report('/reports/reconciliation');
      assert.deepEqual(tampered['fleet_differences'], [
        { fleet: 'rd-fleet', clickhouse_minor: -owed, redis_minor: -owed - 5, difference: -5, problem: 'balance_differs' },
      ]);
      assert.deepEqual(tampered['differences'], []);
      assert.equal((tampered['summary'] as unknown as Record<string, number>)['differences'], 1);
    } finally {
      await inspect.client.hSet(key, 'd', original);
    }
  });

  it('the float equals Redis balances per program; deposits, payouts and refunds equal the replies', async function () {
    const float = (await report('/reports/float'))['programs'] ?? [];
    const redisCards = (await states.allBalances(1_000, 1_000)).cards;
    const balances = new Map<string, number>();
    const deposits = new Map<string, number>();
    for (const [cardId, state] of redisCards) {
      // An unissued card (its issuance cancelled, program "") is in no program's float.
      if (state.fleet !== undefined || state.balance_minor === undefined || state.program === '') continue;
      balances.set(state.program, (balances.get(state.program) ?? 0) + state.balance_minor);
      const stored = await inspect.client.hGet(cardKey(shardOf('card', cardId, test_shard_count), cardId), 'd');
      const depositMinor =
        stored === null ? 0 : Number((JSON.parse(stored) as { profile?: { depositMinor?: number } }).profile?.depositMinor ?? 0);
      deposits.set(state.program, (deposits.get(state.program) ?? 0) + depositMinor);
    }
    const byProgram = new Map(float.map((row) => [String(row['program']), row]));
    assert.equal(byProgram.has('rd-fleet'), false, 'a fleet account is credit, not stored value: not in the float');
    for (const [program, balance] of balances) {
      const row = byProgram.get(program);
      assert.ok(row, `the float lists ${program}`);
      assert.equal(row['outstanding_minor'], balance, `${program}: outstanding = Redis balances`);
      assert.equal(row['deposits_held_minor'], deposits.get(program) ?? 0, `${program}: deposits held = Redis deposits`);
      assert.equal(row['payouts_minor'], payouts.get(program) ?? 0, `${program}: payouts = the replies'`);
      const refunded = moved.filter((m) => m.program === program && m.kind === 'refund').reduce((sum, m) => sum + m.amount, 0);
      assert.equal(row['refunds_minor'], refunded, `${program}: refunds = the replies'`);
    }
    assert.deepEqual([...byProgram.keys()].sort(), [...balances.keys()].sort(), 'the float lists exactly the programs with cards');
  });

  it('card history follows the replacement', async function () {
    const history = await report('/reports/cards/rd-named-2/history');
    const summary = history['summary'] as unknown as Record<string, unknown>;
    assert.deepEqual(
      String(summary['cards'])
        .split(/[ ,;]+/)
        .sort(),
      ['rd-named', 'rd-named-2'],
    );
    const entries = history['entries'] ?? [];
    assert.ok(
      entries.some((e) => e['card'] === 'rd-named' && e['type'] === 'purchase'),
      "the old card's purchase is listed",
    );
    assert.ok(
      entries.some((e) => e['card'] === 'rd-named-2' && e['type'] === 'purchase'),
      "the new card's purchase is listed",
    );
    assert.equal(summary['last_balance_after_minor'], summary['redis_balance_minor']);
  });

  it('card history shows a cancelled issuance and the issue after it, with the balance each left', async function () {
    const entries = (await report('/reports/cards/rd-oops/history'))['entries'] ?? [];
    assert.deepEqual(
      entries.map((e) => [e['type'], e['balance_after_minor']]),
      [
        ['card_issued', 2_500],
        ['card_issuance_cancelled', 0],
        ['card_issued', 800],
      ],
    );
    const [[issued, cancelled]] = (await sql(
      `SELECT countIf(type = 'card_issued'), countIf(type = 'card_issuance_cancelled') FROM ${database}.lifecycle_events_dedup WHERE card IN ('rd-oops', 'rd-gone')`,
    )) as [[string, string]];
    assert.deepEqual([issued, cancelled], ['3', '2']);
  });

  it('card history of a fleet card (<fleet>~<card>) lists its purchases and its reversal', async function () {
    const history = await report(`/reports/cards/${encodeURIComponent('rd-fleet~2')}/history`);
    const entries = history['entries'] ?? [];
    assert.ok(entries.length >= 3, `the van's entries: ${JSON.stringify(entries).slice(0, 300)}`);
    assert.ok(
      entries.every((e) => e['card'] === 'rd-fleet~2'),
      "only the van's entries",
    );
    assert.deepEqual(
      entries
        .filter((e) => e['entry'] === 'transaction')
        .map((e) => e['type'])
        .sort(),
      ['purchase', 'purchase', 'reverse'],
    );
  });

  it('event statistics and the merchant report equal the totals of the replies', async function () {
    const sum = (filter: (m: Moved) => boolean): number => moved.filter(filter).reduce((total, m) => total + m.amount, 0);
    const redisCards = (await states.allBalances(1_000, 1_000)).cards;
    for (const program of ['rd-fest', 'rd-hotel', 'rd-short', 'rd-pin', 'rd-end', 'rd-resort', 'rd-offline']) {
      const [totals] = (await report(`/reports/events/${program}/statistics`))['totals'] ?? [];
      assert.ok(totals, program);
      const remaining = [...redisCards.values()]
        .filter((state) => state.program === program && state.fleet === undefined)
        .reduce((total, state) => total + (state.balance_minor ?? 0), 0);
      assert.deepEqual(
        [
          totals['spent_minor'],
          totals['reversed_minor'],
          totals['refunded_minor'],
          totals['top_ups_minor'],
          totals['payouts_minor'],
          totals['remaining_minor'],
        ],
        [
          sum((m) => m.program === program && (m.kind === 'purchase' || m.kind === 'completion')),
          sum((m) => m.program === program && m.kind === 'reverse'),
          sum((m) => m.program === program && m.kind === 'refund'),
          sum((m) => m.program === program && m.kind === 'top_up'),
          payouts.get(program) ?? 0,
          remaining,
        ],
        `${program}: spent, reversed, refunded, topped up, paid out, remaining`,
      );
      // Cancelled issuances are not counted: as many cards issued as the program has in Redis.
      const stored = [...redisCards.values()].filter((state) => state.program === program && state.fleet === undefined).length;
      assert.equal(totals['cards_issued'], stored, `${program}: cards issued`);
    }
    const day = (ms: number): string => new Date(ms).toISOString().slice(0, 10);
    const periods =
      (await report(`/reports/merchants?from=${day(Date.now() - 86_400_000)}&to=${day(Date.now())}&granularity=month`))['periods'] ?? [];
    for (const merchant of ['rd-bar-m', 'rd-hotel-m', 'rd-station', 'rd-off-m']) {
      const rows = periods.filter((row) => row['merchant'] === merchant);
      const total = (column: string): number => rows.reduce((s, row) => s + Number(row[column]), 0);
      assert.equal(
        total('purchases_minor'),
        sum((m) => m.merchant === merchant && (m.kind === 'purchase' || m.kind === 'completion')),
        `${merchant} purchases`,
      );
      assert.equal(
        total('reversals_minor'),
        sum((m) => m.merchant === merchant && m.kind === 'reverse'),
        `${merchant} reversals`,
      );
      assert.equal(
        total('refunds_minor'),
        sum((m) => m.merchant === merchant && m.kind === 'refund'),
        `${merchant} refunds`,
      );
    }
  });

  it('the operations report counts the declines the replies said, per terminal', async function () {
    const day = (ms: number): string => new Date(ms).toISOString().slice(0, 10);
    const operations = await report(`/reports/operations?from=${day(Date.now() - 86_400_000)}&to=${day(Date.now())}`);
    const summary = operations['summary'] as unknown as Record<string, number>;
    const byTerminalSeen = JSON.stringify((operations['by_terminal'] ?? []).map((row) => [row['terminal'], row['declined']]));
    assert.equal(
      summary['declined'],
      [...declines.values()].reduce((a, b) => a + b, 0),
      `replies ${JSON.stringify([...declines])}, report ${byTerminalSeen}`,
    );
    const byTerminal = new Map((operations['by_terminal'] ?? []).map((row) => [String(row['terminal']), Number(row['declined'])]));
    for (const [terminal, count] of declines) assert.equal(byTerminal.get(terminal), count, terminal);
    assert.ok((declines.get('rd-bar') ?? 0) >= 5 && (declines.get('rd-pump') ?? 0) >= 1);
  });

  it('the offline reports: sales by liability, the offline share, debt made and cancelled, each terminal and its denylist', async function () {
    const day = (ms: number): string => new Date(ms).toISOString().slice(0, 10);
    const offlineReport = await report(`/reports/offline?from=${day(Date.now() - 86_400_000)}&to=${day(Date.now())}`);
    const sales = (offlineReport['sales'] ?? []).find((row) => row['program'] === 'rd-offline');
    assert.deepEqual(
      [
        sales?.['offline_sales'],
        sales?.['offline_sales_minor'],
        sales?.['merchant_sales'],
        sales?.['merchant_minor'],
        sales?.['voided_minor'],
      ],
      [2, 1_800, 1, 400, 900],
    );
    assert.equal(sales?.['offline_share'], 1, "every sale of the program's cards was made offline");
    const debt = (offlineReport['debt'] ?? []).find((row) => row['program'] === 'rd-offline');
    assert.deepEqual(
      [debt?.['debt_created_minor'], debt?.['debt_voided_minor'], debt?.['debt_outstanding_minor'], debt?.['cards_in_debt']],
      [800, 800, 0, 0],
    );
    const terminals = (await report('/reports/offline/terminals'))['terminals'] ?? [];
    const terminal = terminals.find((row) => row['terminal'] === 'rd-off');
    assert.deepEqual(
      [
        terminal?.['merchant'],
        terminal?.['grant_number'],
        terminal?.['acked_behind'],
        terminal?.['batches'],
        terminal?.['missing_entries'],
      ],
      ['rd-off-m', 1, 0, 1, 0],
    );
    assert.ok(typeof terminal?.['staleness_ms'] === 'number' && terminal['staleness_ms'] >= 0, JSON.stringify(terminal));
  });

  it('the top-ups report lists the cash, PSP and auto-reload top-ups the replies approved', async function () {
    const day = (ms: number): string => new Date(ms).toISOString().slice(0, 10);
    const rows = (await report(`/reports/top-ups?from=${day(Date.now() - 86_400_000)}&to=${day(Date.now())}`))['days'] ?? [];
    const bySource = new Map<string, number>();
    for (const row of rows)
      bySource.set(
        `${String(row['program'])}/${String(row['source'])}`,
        (bySource.get(`${String(row['program'])}/${String(row['source'])}`) ?? 0) + Number(row['amount_minor']),
      );
    assert.deepEqual([...bySource.entries()].sort(), [
      ['rd-fest/auto_reload', 2_000],
      ['rd-fest/cash', 500],
      ['rd-fest/psp', 2_000],
      ['rd-offline/cash', 500],
    ]);
    assert.equal(
      [...bySource.values()].reduce((a, b) => a + b, 0),
      moved.filter((m) => m.kind === 'top_up').reduce((sum, m) => sum + m.amount, 0),
    );
  });

  it('merchant fees: a fleet reversal gives the pump amount back, a released hold neither deducts nor costs a fee', async function () {
    const rates = [
      { kind: 'purchase', percent_bp: 250, fixed_minor: 3 },
      { kind: 'completion', percent_bp: 250, fixed_minor: 3 },
      { kind: 'reverse', percent_bp: 0, fixed_minor: 7 },
    ];
    const day = (ms: number): string => new Date(ms).toISOString().slice(0, 10);
    for (const merchant of ['rd-station', 'rd-hotel-m']) {
      const put = await reportsRequest(server.port, `/settlement/merchants/${merchant}`, {
        method: 'PUT',
        body: JSON.stringify({ cycle: 'daily', payee_name: 'Real Docs', payee_iban: 'DE89370400440532013000', rates }),
      });
      // Rates apply at once; the payee account waits for a settlement approver (four eyes).
      assert.equal(put.status, 202, put.body);
      const mine = moved.filter((m) => m.merchant === merchant);
      const gross = mine.filter((m) => m.kind === 'purchase' || m.kind === 'completion').reduce((sum, m) => sum + m.amount, 0);
      const reversed = mine.filter((m) => m.kind === 'reverse').reduce((sum, m) => sum + m.amount, 0);
      const fees = mine.reduce(
        (sum, m) =>
          sum +
          feeOf(
            m.amount,
            rates.find((rate) => rate.kind === m.kind),
          ),
        0,
      );
      const currencies =
        (await report(`/reports/merchants/${merchant}/fees?from=${day(Date.now() - 86_400_000)}&to=${day(Date.now())}`))['currencies'] ??
        [];
      assert.deepEqual(
        currencies.map((row) => [row['gross_minor'], row['reversals'], row['reversals_minor'], row['fees_minor'], row['net_minor']]),
        [[gross, mine.filter((m) => m.kind === 'reverse').length, reversed, fees, gross - reversed - fees]],
        merchant,
      );
    }
  });

  it('the fleet invoice lists every fleet transaction with vehicle, driver, odometer, pump and invoiced amounts, and fuel per vehicle', async function () {
    const day = (ms: number): string => new Date(ms).toISOString().slice(0, 10);
    const invoice = await report(`/reports/fleets/rd-fleet/invoice?from=${day(Date.now() - 86_400_000)}&to=${day(Date.now())}`);
    const listed = (invoice['transactions'] ?? []).map((t) => [
      t['id'],
      t['kind'],
      t['card'],
      t['vehicle'],
      t['driver'],
      t['odometer'],
      t['pump_minor'],
      t['invoiced_minor'],
    ]);
    const expected = fleetReplies.map((r) => [r.id, r.kind, r.card, r.vehicle, r.driver, r.odometer, r.pump, r.invoiced]);
    assert.deepEqual(listed, expected);
    const vehicles = new Map((invoice['vehicles'] ?? []).map((v) => [String(v['vehicle']), v]));
    const truck = vehicles.get('truck-1');
    assert.ok(truck, 'the truck has a consumption row');
    assert.equal(truck['distance_km'], 400);
    assert.equal(truck['consumption_milli'], 30_000);
    assert.equal(truck['litres_per_100km'], '7.50');
    for (const [vehicle, row] of vehicles) {
      const mine = fleetReplies.filter((r) => r.vehicle === vehicle);
      const signed = (field: 'pump' | 'invoiced'): number =>
        mine.reduce((sum, r) => sum + (r.kind === 'reverse' ? -r[field] : r[field]), 0);
      assert.deepEqual(
        [row['pump_minor'], row['invoiced_minor']],
        [signed('pump'), signed('invoiced')],
        `${vehicle}: a reversal nets out of its vehicle's totals`,
      );
    }
    assert.deepEqual([...vehicles.keys()].sort(), ['truck-1', 'van-1']);
    assert.ok(fuelLines.length >= 3);
    // The invoice of the closed cycle: the same documents, adding up to what the account invoiced.
    const cycle = await report('/reports/fleets/rd-fleet/invoices/1');
    assert.deepEqual(
      (cycle['transactions'] ?? []).map((t) => t['id']),
      fleetReplies.map((r) => r.id),
    );
  });
});
