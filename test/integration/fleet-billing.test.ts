// Proves the fleet postpaid cycle end to end on the real services: an in-process authorizer node
// on a test clock (real gRPC over a socket, real Redis with AOF), the real streamer into
// ClickHouse 18.16, and the reports server.
// - CloseFleetCycle turns what accrued into an invoice due after the payment terms, committed with
//   its fleet_invoice document; the debt and the available credit do not move; a repeat answers
//   already_closed and a cycle not open yet is FAILED_PRECONDITION, with nothing written.
// - PostFleetPayment settles invoices oldest first and restores its amount of credit in the same
//   commit as the account, its idempotency record and its document; a retry with the same
//   reference replays, with another amount is ALREADY_EXISTS; a payment above what the invoices owe
//   or in another currency is declined; malformed payments are refused with Redis unchanged.
// - An invoice unpaid block_after_overdue_days past its due date declines every card of the account
//   (ACCOUNT_OVERDUE) from that instant on; GetFleetAccount names it; paying it lifts the restriction.
// - Reports from ClickHouse: the invoice of a cycle (JSON, CSV, and a PDF read back with pdftotext)
//   lists exactly the cycle's documents, adds up to the amount the account invoiced and gives fuel
//   consumption per vehicle; the statement replays invoices and payments into the balances the
//   account showed; reconciliation finds the account's balance, payments included.
// - A seeded property over gRPC: random fill-ups, payments and cycle closes on fresh accounts; after
//   every step the account's available credit equals its limit less what its open invoices owe
//   less what it spent since its last close, as a model of the replies computes them; afterwards
//   every closed cycle's invoice in ClickHouse adds up (the report refuses one that does not).

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import fc from 'fast-check';
import type { AuthorizerNode } from '../../services/authorizer/node';
import type { RedisInstance } from '../../tools/devenv/redis';
import { startClickHouse, type ClickHouseInstance } from '../../tools/devenv/clickhouse';
import { outboxBacklog } from '../../tools/devenv/outbox';
import { DeclineReason, Outcome } from '../../gen/tapline/v1/types';
import { PriceFormula, type FleetAccount } from '../../gen/tapline/v1/fleet';
import { TaplineClient } from '../../tools/client/tapline-client';
import { FleetClient, fleetPurchase } from '../../tools/client/fleet-client';
import { shardOf } from '../../actors/sharding/shard-key';
import { fleetKey } from '../../services/authorizer/store/keys';
import { createLogger } from '../../services/common/logger';
import type { AuthorizerCardStates } from '../../services/reports/card-states';
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
  testToken,
  waitFor,
} from '../support/harness';
import { streamerEnv } from '../support/outbox-fixtures';
import { connectInspector, type Inspector } from '../support/redis-inspect';
import { fast_check_seed } from '../unit/fast-check-seed';

const database = 'fleet_billing';
const logger = createLogger('fleet-billing-test', process.env['TAPLINE_TEST_LOG_LEVEL'] ?? 'warn');
const day_ms = 86_400_000;

/** A GET of the reports service over HTTPS, with `token` or else a token of the first role the route allows. */
async function get(port: number, path: string, token?: string): Promise<{ status: number; type: string; body: Buffer }> {
  const reply = await reportsRequest(port, path, token === undefined ? {} : { token });
  return { status: reply.status, type: String(reply.headers['content-type']), body: reply.bytes };
}

function hasPdftotext(): boolean {
  try {
    execFileSync('pdftotext', ['-v'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const minor = (money: { amountMinor: bigint } | undefined): number => Number(money?.amountMinor ?? 0n);

/** The account's own split of its credit: every figure GetFleetAccount shows. */
function split(account: FleetAccount | undefined): { limit: number; available: number; unpaid: number; uninvoiced: number; held: number } {
  return {
    limit: minor(account?.creditLimit),
    available: minor(account?.availableCredit),
    unpaid: minor(account?.invoicedUnpaid),
    uninvoiced: minor(account?.uninvoiced),
    held: minor(account?.held),
  };
}

describe('fleet postpaid cycle (real gRPC, Redis, streamer, ClickHouse 18.16, reports)', function () {
  this.timeout(300_000);
  let redis: RedisInstance;
  let clickhouse: ClickHouseInstance;
  let node: AuthorizerNode;
  let streamer: Streamer | undefined;
  let runner: ClickHouseRunner;
  let states: AuthorizerCardStates;
  let server: ReportsServer;
  let client: TaplineClient;
  let fleet: FleetClient;
  let inspect: Inspector;
  // A test clock in the past (deadlines are checked against real time).
  let nowMs = Date.parse('2025-01-06T08:00:00Z');
  let txn = 0;
  /** Fleets whose closed cycles the last test checks in ClickHouse: fleet -> closed cycles. */
  const closedCycles = new Map<string, number>();

  before(async function () {
    [redis, clickhouse] = await Promise.all([
      startTestRedis('fleet-billing'),
      startClickHouse({ dataDir: testDataDir('fleet-billing-ch') }),
    ]);
    await migrate(clickhouse.url, database);
    node = await startInProcessNode(redis.url, {}, { clock: () => nowMs });
    client = new TaplineClient(await accessTo(node));
    fleet = new FleetClient(await accessTo(node));
    inspect = await connectInspector(redis.url);
    runner = new ClickHouseRunner(clickhouse.url, database, 30_000);
    states = await testCardStates(node);
    server = await ReportsServer.start(
      { query: (statement) => runner.query(statement), database, cards: states },
      0,
      logger,
      await reportsSecurity(),
    );
    await client.registerTerminal('pump-1', 'station-1');
    await client.registerTerminal('pump-2', 'station-2');
  });

  after(async function () {
    await server?.stop(1_000);
    await streamer?.stop();
    client?.close();
    fleet?.close();
    states?.close();
    await Promise.all([runner?.close(), inspect?.close()]);
    await node?.shutdown();
    await Promise.all([redis?.stop(), clickhouse?.stop()]);
  });

  async function newFleet(fleetId: string, credit = 1_000_000, cards = 2): Promise<string[]> {
    await fleet.createAccount({ fleetId, creditLimitMinor: credit, timeZone: 'Europe/Berlin' });
    // Invoiced at pump price less 2 %: invoiced and pump amounts differ.
    await fleet.setPricing({
      fleetId,
      operatorId: 'ops',
      agreements: [
        {
          productCode: '',
          productGroup: '',
          formula: PriceFormula.PRICE_FORMULA_PUMP_MINUS_PERCENT,
          amountMilliMinor: 0n,
          percentBp: 200n,
        },
      ],
    });
    const ids: string[] = [];
    for (let i = 1; i <= cards; i++)
      ids.push(
        (await fleet.issueCard({ fleetId, cardNo: String(i), limits: undefined, productGroups: undefined, operatorId: 'ops' })).card!
          .cardId,
      );
    return ids;
  }

  /** A fill-up of `litres` thousandths of diesel for `amountMinor`, with a vehicle and its odometer. */
  const fill = (cardId: string, amountMinor: number, vehicle = '', odometerKm = 0, litresMilli = 40_000) =>
    client.authorize(
      fleetPurchase('pump-1', ++txn, cardId, [{ code: 'diesel', group: 'diesel', qtyMilli: litresMilli, unitMinor: 0, amountMinor }], {
        vehicleId: vehicle,
        odometerKm,
        driverId: vehicle === '' ? '' : `driver-of-${vehicle}`,
      }),
    );

  async function storedAccount(
    fleetId: string,
  ): Promise<{ billing: { cycle: number; invoices: { cycle: number; outstandingMinor: number }[] } }> {
    const record = await inspect.client.hGetAll(fleetKey(shardOf('fleet', fleetId, test_shard_count), fleetId));
    return JSON.parse(String(record['d'])) as never;
  }

  let invoicedCycle1 = 0;
  let paidTotal = 0;

  it('closes a cycle into an invoice due after the terms: debt and credit unchanged, a repeat changes nothing', async function () {
    const [one, two] = await newFleet('acme');
    await fleet.setBillingTerms('acme', 14, 3);
    const fills = [
      await fill(one!, 10_000, 'truck-1', 100_000, 50_000),
      await fill(one!, 8_000, 'truck-1', 100_500, 40_000),
      await fill(two!, 6_000, 'van-2', 20_000, 30_000),
      await fill(two!, 4_000, 'van-2', 20_300, 18_000),
    ];
    for (const reply of fills) assert.equal(reply.outcome, Outcome.OUTCOME_APPROVED);
    invoicedCycle1 = fills.reduce((sum, reply) => sum + minor(reply.invoicedAmount), 0);
    assert.equal(invoicedCycle1, 27_440, '28,000 at pump less 2 %');
    const before = split((await fleet.getAccount('acme')).account);
    assert.deepEqual(before, { limit: 1_000_000, available: 1_000_000 - 27_440, unpaid: 0, uninvoiced: 27_440, held: 0 });

    nowMs += 1_000;
    const closed = await fleet.closeCycle('acme', 1);
    assert.equal(closed.alreadyClosed, false);
    assert.equal(closed.invoice?.number, 'acme-1');
    assert.equal(minor(closed.invoice?.amount), 27_440);
    assert.equal(Number(closed.invoice?.dueAtUnixMs), nowMs + 14 * day_ms);
    const after = split(closed.account);
    assert.deepEqual(
      after,
      { limit: 1_000_000, available: 1_000_000 - 27_440, unpaid: 27_440, uninvoiced: 0, held: 0 },
      'only the split moved',
    );
    assert.equal(closed.account?.cycle, 2n);
    const stored = await storedAccount('acme');
    assert.equal(stored.billing.cycle, 2, 'the close is durable before the reply');
    const invoiceDocument = (await inspect.outbox()).find((d) => d['type'] === 'fleet_invoice' && d['fleet'] === 'acme');
    assert.equal(invoiceDocument?.['amount'], 27_440);
    assert.equal(invoiceDocument?.['number'], 'acme-1');
    // Who closed it is the token's subject, in an audit record written with the close.
    const closeAudit = (await inspect.outbox()).find(
      (d) => d['type'] === 'audit_record' && d['action'] === 'tapline.v1.FleetAdminService/CloseFleetCycle',
    );
    assert.deepEqual(
      [closeAudit?.['principal'], closeAudit?.['role'], closeAudit?.['subject']],
      ['dev-issuer_admin', 'issuer_admin', 'fleet:acme'],
    );

    const snapshot = await inspect.snapshot();
    const again = await fleet.closeCycle('acme', 1);
    assert.equal(again.alreadyClosed, true);
    assert.equal(again.invoice, undefined);
    await assert.rejects(fleet.closeCycle('acme', 3), (e: grpc.ServiceError) => e.code === grpc.status.FAILED_PRECONDITION);
    await assert.rejects(fleet.closeCycle('acme', 0), (e: grpc.ServiceError) => e.code === grpc.status.INVALID_ARGUMENT);
    await assert.rejects(fleet.closeCycle('ghost', 1), (e: grpc.ServiceError) => e.code === grpc.status.NOT_FOUND);
    assert.equal(await inspect.snapshot(), snapshot, 'nothing written by a repeat or a refused close');

    // Spend after the close accrues to cycle 2.
    const later = await fill(one!, 1_000, 'truck-1', 100_900, 5_000);
    assert.equal(minor(later.invoicedAmount), 980);
    const doc = (await inspect.outbox()).find((d) => d['id'] === later.transactionId);
    assert.equal(doc?.['cycle'], 2);
  });

  it('a payment settles the invoice and restores its credit atomically; retries replay; too much, wrong currency and bad input change nothing', async function () {
    nowMs += 1_000;
    const before = split((await fleet.getAccount('acme')).account);
    const paid = await fleet.postPayment('acme', 'bank-2025-001', 20_000);
    assert.equal(paid.outcome, Outcome.OUTCOME_APPROVED);
    assert.equal(minor(paid.appliedAmount), 20_000);
    assert.equal(minor(paid.availableCredit), before.available + 20_000);
    paidTotal += 20_000;
    const account = (await fleet.getAccount('acme')).account;
    assert.deepEqual(split(account), { ...before, available: before.available + 20_000, unpaid: 27_440 - 20_000 });
    assert.equal(minor(account?.openInvoices[0]?.outstanding), 7_440);
    // Account, idempotency record and outbox document are all there once the reply arrived.
    assert.equal((await storedAccount('acme')).billing.invoices[0]?.outstandingMinor, 7_440);
    const record = await inspect.idempotency('k:fleet-payment:acme:bank-2025-001');
    assert.equal(record?.['id'], paid.transactionId);
    const document = (await inspect.outbox()).find((d) => d['id'] === paid.transactionId);
    assert.equal(document?.['kind'], 'fleet_payment');
    assert.equal(document?.['amount'], 20_000);
    assert.equal(document?.['operator'], 'dev-issuer_admin', 'posted by the token subject, never a request field');
    const paymentAudits = (await inspect.outbox()).filter(
      (d) => d['type'] === 'audit_record' && d['action'] === 'tapline.v1.FleetAdminService/PostFleetPayment',
    );
    assert.deepEqual(
      paymentAudits.map((d) => [d['principal'], d['subject']]),
      [['dev-issuer_admin', 'fleet:acme']],
      'one audit record, committed with the payment',
    );

    const snapshot = await inspect.snapshot();
    const retry = await fleet.postPayment('acme', 'bank-2025-001', 20_000);
    assert.equal(retry.replayed, true);
    assert.equal(retry.transactionId, paid.transactionId);
    await assert.rejects(
      fleet.postPayment('acme', 'bank-2025-001', 19_999),
      (e: grpc.ServiceError) => e.code === grpc.status.ALREADY_EXISTS,
    );
    const refusals: [string, Promise<unknown>, grpc.status][] = [
      ['a reference with a space', fleet.postPayment('acme', 'bank 1', 100), grpc.status.INVALID_ARGUMENT],
      ['a reference in a system namespace', fleet.postPayment('acme', 'psp:x', 100), grpc.status.INVALID_ARGUMENT],
      ['a negative amount', fleet.postPayment('acme', 'bank-x', -5), grpc.status.INVALID_ARGUMENT],
      ['nothing', fleet.postPayment('acme', 'bank-y', 0), grpc.status.INVALID_ARGUMENT],
      ['an unknown currency', fleet.postPayment('acme', 'bank-z', 100, 'XXX'), grpc.status.INVALID_ARGUMENT],
      ['an unknown fleet', fleet.postPayment('ghost', 'bank-1', 100), grpc.status.NOT_FOUND],
    ];
    for (const [what, call, code] of refusals)
      await assert.rejects(call, (e: grpc.ServiceError) => {
        assert.equal(e.code, code, `${what}: ${e.details}`);
        return true;
      });
    assert.equal(await inspect.snapshot(), snapshot, 'replays and refusals wrote nothing');

    const tooMuch = await fleet.postPayment('acme', 'bank-2025-002', 7_441);
    assert.equal(tooMuch.outcome, Outcome.OUTCOME_DECLINED);
    assert.equal(tooMuch.declineReason, DeclineReason.DECLINE_REASON_SETTLEMENT_EXCEEDS_DEBT, 'the 980 of cycle 2 is not invoiced yet');
    const dollars = await fleet.postPayment('acme', 'bank-2025-003', 100, 'USD');
    assert.equal(dollars.declineReason, DeclineReason.DECLINE_REASON_CURRENCY_MISMATCH);
    assert.deepEqual(split((await fleet.getAccount('acme')).account).unpaid, 7_440, 'declined payments moved nothing');
  });

  it('an invoice unpaid 3 days past due restricts every card from that instant on; paying it lifts the restriction', async function () {
    const cards = ['acme~1', 'acme~2'];
    const due = Number((await fleet.getAccount('acme')).account?.openInvoices[0]?.dueAtUnixMs);
    nowMs = due + 3 * day_ms - 1;
    assert.equal((await fill(cards[0]!, 500)).outcome, Outcome.OUTCOME_APPROVED, 'one millisecond before');
    assert.equal((await fleet.getAccount('acme')).account?.restrictedByInvoice, '');
    nowMs = due + 3 * day_ms;
    for (const card of cards) {
      const reply = await fill(card, 500);
      assert.equal(reply.outcome, Outcome.OUTCOME_DECLINED);
      assert.equal(reply.declineReason, DeclineReason.DECLINE_REASON_ACCOUNT_OVERDUE);
      assert.equal(reply.declineRule, 'billing:overdue:acme-1');
    }
    assert.equal((await fleet.getAccount('acme')).account?.restrictedByInvoice, 'acme-1');
    nowMs += day_ms;
    await fleet.postPayment('acme', 'bank-2025-004', 7_000);
    paidTotal += 7_000;
    assert.equal((await fill(cards[1]!, 500)).declineReason, DeclineReason.DECLINE_REASON_ACCOUNT_OVERDUE, 'paid in part');
    await fleet.postPayment('acme', 'bank-2025-005', 440);
    paidTotal += 440;
    const free = await fill(cards[1]!, 500);
    assert.equal(free.outcome, Outcome.OUTCOME_APPROVED, 'paid in full');
    const account = (await fleet.getAccount('acme')).account;
    assert.equal(account?.restrictedByInvoice, '');
    assert.deepEqual(account?.openInvoices, []);
    nowMs += 1_000;
    const second = await fleet.closeCycle('acme', 2);
    assert.equal(minor(second.invoice?.amount), 980 + 490 + 490, 'cycle 2: the three approved fills since the close');
    closedCycles.set('acme', 2);
  });

  it('property over gRPC: available credit = limit - unpaid invoiced - uninvoiced spend after every step', async function () {
    console.log(`      fast-check seed: ${fast_check_seed} (replay with FC_SEED=${fast_check_seed}) [fleet billing over gRPC]`);
    type Step =
      | { kind: 'fill'; amount: number; card: number }
      | { kind: 'pay'; per_mille: number }
      | { kind: 'close' }
      | { kind: 'wait'; ms: number };
    const step: fc.Arbitrary<Step> = fc.oneof(
      {
        weight: 5,
        arbitrary: fc.record({ kind: fc.constant('fill' as const), amount: fc.integer({ min: 1, max: 150_000 }), card: fc.nat(1) }),
      },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('pay' as const), per_mille: fc.integer({ min: 1, max: 1_200 }) }) },
      { weight: 2, arbitrary: fc.constant({ kind: 'close' as const }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('wait' as const), ms: fc.integer({ min: 1, max: 10 * day_ms }) }) },
    );
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 5, maxLength: 25 }), async (steps) => {
        const fleetId = `prop-${++run}`;
        const limit = 400_000;
        const cards = await newFleet(fleetId, limit);
        await fleet.setBillingTerms(fleetId, 10);
        let uninvoiced = 0;
        let unpaid = 0;
        let cycle = 1;
        let reference = 0;
        for (const s of steps) {
          nowMs += 1_000;
          if (s.kind === 'fill') {
            const reply = await fill(cards[s.card]!, s.amount);
            if (reply.outcome === Outcome.OUTCOME_APPROVED) uninvoiced += minor(reply.invoicedAmount);
            else assert.equal(reply.declineReason, DeclineReason.DECLINE_REASON_CREDIT_LIMIT_EXCEEDED);
          } else if (s.kind === 'pay') {
            const owed = Math.max(0, unpaid);
            const amount = Math.max(1, Math.floor((owed * s.per_mille) / 1_000));
            const reply = await fleet.postPayment(fleetId, `pay-${++reference}`, amount);
            if (amount <= owed) {
              assert.equal(reply.outcome, Outcome.OUTCOME_APPROVED);
              unpaid -= amount;
            } else assert.equal(reply.declineReason, DeclineReason.DECLINE_REASON_SETTLEMENT_EXCEEDS_DEBT);
          } else if (s.kind === 'close') {
            const reply = await fleet.closeCycle(fleetId, cycle++);
            assert.equal(minor(reply.invoice?.amount), uninvoiced, 'the invoice is what accrued');
            unpaid += uninvoiced;
            uninvoiced = 0;
          } else nowMs += s.ms;
          const shown = split((await fleet.getAccount(fleetId)).account);
          assert.deepEqual(shown, { limit, available: limit - unpaid - uninvoiced, unpaid, uninvoiced, held: 0 }, `after ${s.kind}`);
        }
        closedCycles.set(fleetId, cycle - 1);
      }),
      { seed: fast_check_seed, numRuns: 6, endOnFailure: true },
    );
  });

  it('reports from ClickHouse: the invoice of a cycle (JSON, CSV, PDF), the statement, reconciliation', async function () {
    streamer = await Streamer.start(loadStreamerConfig(streamerEnv(redis.url, clickhouse.url, database)), logger);
    await waitFor(
      'outbox drained',
      async () => (await outboxBacklog(redis.url, test_shard_count)) === 0,
      () => 'outbox not empty yet',
      60_000,
      100,
    );
    const report = async (path: string): Promise<Record<string, unknown>> => {
      let last: { status: number; type: string; body: Buffer } = { status: 0, type: '', body: Buffer.alloc(0) };
      // The streamer may still be inserting the last batch: the invoice says so (503) until it adds up.
      await waitFor(
        `GET ${path}`,
        async () => (last = await get(server.port, path)).status !== 503,
        () => last.body.toString(),
        30_000,
        200,
      );
      assert.equal(last.status, 200, `GET ${path}: ${last.body.toString()}`);
      return JSON.parse(last.body.toString()) as Record<string, unknown>;
    };

    const invoice = await report('/reports/fleets/acme/invoices/1');
    const head = invoice['invoice'] as Record<string, unknown>;
    assert.equal(head['number'], 'acme-1');
    assert.equal(head['amount_minor'], invoicedCycle1);
    assert.equal(head['transactions'], 4, 'exactly the four fills of cycle 1');
    assert.equal(head['pump_minor'], 28_000);
    const vehicles = invoice['vehicles'] as Record<string, unknown>[];
    assert.deepEqual(
      vehicles.map((v) => [v['vehicle'], v['distance_km'], v['consumption_milli'], v['litres_per_100km']]),
      [
        ['truck-1', 500, 40_000, '8.00'],
        ['van-2', 300, 18_000, '6.00'],
      ],
    );
    // The fleet's own manager downloads its invoice; a manager of another fleet may not.
    const csv = await get(
      server.port,
      '/reports/fleets/acme/invoices/1?format=csv&section=vehicles',
      await testToken('fleet_manager', ['acme']),
    );
    assert.equal(csv.status, 200, csv.body.toString());
    const foreign = await testToken('fleet_manager', ['other']);
    assert.equal((await get(server.port, '/reports/fleets/acme/invoices/1?format=pdf', foreign)).status, 403);
    assert.equal((await get(server.port, '/reports/fleets/acme/statement?from=2025-01-01&to=2025-12-31', foreign)).status, 403);
    assert.match(csv.type, /text\/csv/);
    assert.match(csv.body.toString(), /^vehicle,currency,transactions,pump_minor,invoiced_minor/);
    assert.match(csv.body.toString(), /truck-1,EUR,2,18000,17640,90000,2,100000,100500,500,40000,8.00/);

    const pdf = await get(server.port, '/reports/fleets/acme/invoices/1?format=pdf');
    assert.equal(pdf.status, 200);
    assert.equal(pdf.type, 'application/pdf');
    assert.equal(pdf.body.subarray(0, 5).toString(), '%PDF-');
    if (hasPdftotext()) {
      const file = join(testDataDir('fleet-billing-pdf'), 'acme-1.pdf');
      writeFileSync(file, pdf.body);
      const text = execFileSync('pdftotext', ['-layout', file, '-'], { encoding: 'utf8' });
      for (const expected of [
        'Invoice acme-1',
        '274.40 EUR',
        '280.00 EUR',
        'Consumption per vehicle',
        'truck-1',
        'van-2',
        '8.00',
        '6.00',
        '90.000',
      ])
        assert.ok(text.includes(expected), `the PDF says ${expected}:\n${text}`);
    } else console.log('      pdftotext is not installed (poppler-utils): the PDF text is not read back');

    assert.equal((await get(server.port, '/reports/fleets/acme/invoices/9')).status, 404, 'a cycle not closed');
    assert.equal((await get(server.port, '/reports/fleets/acme/invoices/0')).status, 400);
    assert.equal((await get(server.port, '/reports/fleets/acme/invoices/1?format=xml')).status, 400);
    assert.equal(
      (await get(server.port, '/reports/fleets/acme/invoice?from=2025-01-01&to=2025-12-31&format=pdf')).status,
      400,
      'no PDF of a range',
    );

    const statement = await report('/reports/fleets/acme/statement?from=2025-01-01&to=2025-12-31');
    const summary = statement['summary'] as Record<string, unknown>;
    assert.equal(summary['opening_minor'], 0);
    assert.equal(summary['invoiced_minor'], invoicedCycle1 + 1_960);
    assert.equal(summary['paid_minor'], paidTotal);
    assert.equal(summary['closing_minor'], invoicedCycle1 + 1_960 - paidTotal);
    assert.equal(summary['unbilled_minor'], 0);
    const entries = statement['entries'] as Record<string, unknown>[];
    assert.deepEqual(
      entries.map((e) => [e['type'], e['reference'], e['debit_minor'], e['credit_minor'], e['balance_minor']]),
      [
        ['invoice', 'acme-1', 27_440, 0, 27_440],
        ['payment', 'bank-2025-001', 0, 20_000, 7_440],
        ['payment', 'bank-2025-004', 0, 7_000, 440],
        ['payment', 'bank-2025-005', 0, 440, 0],
        ['invoice', 'acme-2', 1_960, 0, 1_960],
      ],
    );
    assert.deepEqual(
      (statement['open_items'] as Record<string, unknown>[]).map((o) => [o['number'], o['outstanding_minor']]),
      [['acme-2', 1_960]],
    );
    const statementPdf = await get(server.port, '/reports/fleets/acme/statement?from=2025-01-01&to=2025-12-31&format=pdf');
    assert.equal(statementPdf.status, 200);
    assert.equal(statementPdf.body.subarray(0, 5).toString(), '%PDF-');
    if (hasPdftotext()) {
      const file = join(testDataDir('fleet-billing-pdf'), 'acme-statement.pdf');
      writeFileSync(file, statementPdf.body);
      const text = execFileSync('pdftotext', ['-layout', file, '-'], { encoding: 'utf8' });
      for (const expected of ['Statement of account acme', 'bank-2025-001', 'acme-2', '19.60'])
        assert.ok(text.includes(expected), `the statement says ${expected}:\n${text}`);
    }

    for (const [fleetId, cycles] of closedCycles)
      for (let cycle = 1; cycle <= cycles; cycle++) await report(`/reports/fleets/${fleetId}/invoices/${cycle}`);

    const reconciliation = await report('/reports/reconciliation');
    assert.deepEqual(reconciliation['fleet_differences'], [], 'payments and closes reconcile with Redis to the minor unit');
  });
});
