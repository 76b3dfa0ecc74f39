// Proves that acting on a transaction after the fact belongs to where it happened, against a real
// node, real Redis and real gRPC: a reversal comes from the original's terminal (another terminal,
// of another merchant or of the same one, is PERMISSION_DENIED and writes nothing); a reversal may
// tombstone only its own terminal's transaction numbers (naming another terminal's future number
// is refused, and that sale is approved when it comes); a hold is extended, completed or voided
// only by the terminal that placed it; a refund needs a manager of the merchant the purchase was
// made at; fleet reversals alike. Who asks is the authenticated caller: a venue gateway's
// certificate speaks for every terminal of its merchants and for nothing beyond them. A property
// test (fast-check, seeded) sends reversals from a random mix of terminals at random originals
// (made, declined, or not made yet, by any terminal) and checks that money moves only for
// reversals from the original's own terminal, and that every card's balance is exactly its initial
// balance less the purchases that stand.

import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import fc from 'fast-check';
import type { RedisInstance } from '../../tools/devenv/redis';
import type { AuthorizerNode } from '../../services/authorizer/node';
import { Outcome } from '../../gen/tapline/v1/types';
import { ReverseResult, type ReverseResponse } from '../../gen/tapline/v1/authorization';
import { TaplineClient, purchase } from '../../tools/client/tapline-client';
import { CardClient, RefundClient, holdRequest } from '../../tools/client/card-client';
import { FleetClient, fleetPurchase } from '../../tools/client/fleet-client';
import { accessTo, startInProcessNode, startTestRedis } from '../support/harness';
import { connectInspector, type Inspector } from '../support/redis-inspect';

const seed = Number(process.env['FC_SEED'] ?? Date.now() % 2 ** 31);
const pin_secret = 'origin-test-pin-secret-0123';
/** Terminals of the property test: two of one merchant, one of another. */
const terminals = [
  { id: 'o-pos-a1', merchant: 'o-shop-a' },
  { id: 'o-pos-a2', merchant: 'o-shop-a' },
  { id: 'o-pos-b1', merchant: 'o-shop-b' },
] as const;

const denied = (e: grpc.ServiceError): boolean => e.code === grpc.status.PERMISSION_DENIED;

describe('reversals, holds and refunds belong to where the purchase happened (real Redis, real gRPC)', function () {
  this.timeout(180_000);
  let redis: RedisInstance;
  let node: AuthorizerNode;
  let client: TaplineClient;
  let cards: CardClient;
  let refunds: RefundClient;
  let fleet: FleetClient;
  let inspect: Inspector;
  let txn = 1;

  before(async function () {
    process.stdout.write(`      fast-check seed: ${seed} (replay with FC_SEED=${seed})\n`);
    redis = await startTestRedis('reversal-origin');
    node = await startInProcessNode(redis.url, { TAPLINE_PIN_SECRET: pin_secret });
    const access = await accessTo(node);
    client = new TaplineClient(access);
    cards = new CardClient(access);
    refunds = new RefundClient(access);
    fleet = new FleetClient(access);
    inspect = await connectInspector(redis.url);
    for (const terminal of terminals) await client.registerTerminal(terminal.id, terminal.merchant);
    await refunds.registerManager('o-shop-a', 'anna', '2468');
    await refunds.registerManager('o-shop-b', 'bert', '1357');
  });

  after(async function () {
    client?.close();
    cards?.close();
    refunds?.close();
    fleet?.close();
    await inspect?.close();
    await node?.shutdown();
    await redis?.stop();
  });

  const reverse = (terminalId: string, cardId: string, original: { terminalId: string; txn: number }) =>
    client.reverse(terminalId, txn++, cardId, original);

  it("another terminal cannot reverse a purchase, nor tombstone another terminal's future number", async () => {
    await client.issueCard('o-victim', 10_000);
    const sale = txn++;
    assert.equal((await client.authorize(purchase('o-pos-a1', sale, 'o-victim', 3_000))).outcome, Outcome.OUTCOME_APPROVED);
    const future = 900_000 + txn++;
    const before = await inspect.snapshot();
    for (const stranger of ['o-pos-b1', 'o-pos-a2']) {
      await assert.rejects(reverse(stranger, 'o-victim', { terminalId: 'o-pos-a1', txn: sale }), denied, `${stranger} reverses`);
      await assert.rejects(reverse(stranger, 'o-victim', { terminalId: 'o-pos-a1', txn: future }), denied, `${stranger} tombstones`);
    }
    assert.equal(await inspect.snapshot(), before, 'nothing written');
    assert.equal((await client.balance('o-victim')).balance?.amountMinor, 7_000n);
    // The future sale is not declined by a stranger's tombstone; the own terminal reverses its sale.
    assert.equal((await client.authorize(purchase('o-pos-a1', future, 'o-victim', 1_000))).outcome, Outcome.OUTCOME_APPROVED);
    const own = await reverse('o-pos-a1', 'o-victim', { terminalId: 'o-pos-a1', txn: sale });
    assert.equal(own.result, ReverseResult.REVERSE_RESULT_REVERSED);
    assert.equal((await client.balance('o-victim')).balance?.amountMinor, 9_000n);
  });

  it("who asks is the caller's certificate: a venue gateway reverses for any terminal of its merchants, never beyond them", async () => {
    await client.issueCard('o-gateway', 10_000);
    const sale = txn++;
    assert.equal((await client.authorize(purchase('o-pos-a1', sale, 'o-gateway', 2_500))).outcome, Outcome.OUTCOME_APPROVED);
    const viaGateway = async (merchants: readonly string[], terminalId: string): Promise<ReverseResponse> => {
      const gateway = await client.gateway(merchants);
      const request = {
        terminalId,
        terminalTxnNumber: BigInt(txn++),
        cardId: 'o-gateway',
        original: { ref: { $case: 'terminalTxn' as const, value: { terminalId: 'o-pos-a1', txnNumber: BigInt(sale) } } },
      };
      return new Promise((resolve, reject) => gateway.reverse(request, (e, r) => (e ? reject(e) : resolve(r))));
    };
    const before = await inspect.snapshot();
    // A gateway of merchant B cannot even name A's terminal; as B's terminal it does not speak for A's sale.
    await assert.rejects(viaGateway(['o-shop-b'], 'o-pos-a2'), denied, "B's gateway naming A's terminal");
    await assert.rejects(viaGateway(['o-shop-b'], 'o-pos-b1'), denied, "B's gateway reversing A's sale");
    assert.equal(await inspect.snapshot(), before, 'nothing written');
    // A's gateway speaks for all of A's terminals: the reversal sent as A's other till is its own.
    const reversed = await viaGateway(['o-shop-a'], 'o-pos-a2');
    assert.equal(reversed.result, ReverseResult.REVERSE_RESULT_REVERSED);
    assert.equal((await client.balance('o-gateway')).balance?.amountMinor, 10_000n);
  });

  it('a hold is extended, completed or voided only by the terminal that placed it', async () => {
    await cards.issue({
      cardId: 'o-hold',
      params: { initialBalance: { amountMinor: 10_000n, currency: 'EUR' }, programId: 'default', deposit: undefined, expiresAtUnixMs: 0n },
      holder: undefined,
      pin: '',
      operatorId: 'ops',
    });
    const pre = txn++;
    assert.equal(
      (await client.authorize(holdRequest('pre_authorization', 'o-pos-a1', pre, 'o-hold', 4_000))).outcome,
      Outcome.OUTCOME_APPROVED,
    );
    const hold = { terminalId: 'o-pos-a1', txn: pre };
    const before = await inspect.snapshot();
    await assert.rejects(client.authorize(holdRequest('completion', 'o-pos-b1', txn++, 'o-hold', 4_000, hold)), denied, 'completion');
    await assert.rejects(client.authorize(holdRequest('incremental', 'o-pos-a2', txn++, 'o-hold', 100, hold)), denied, 'incremental');
    await assert.rejects(cards.voidHold('o-pos-b1', txn++, 'o-hold', hold), denied, 'void');
    assert.equal(await inspect.snapshot(), before, 'nothing written');
    const done = await client.authorize(holdRequest('completion', 'o-pos-a1', txn++, 'o-hold', 3_500, hold));
    assert.equal(done.outcome, Outcome.OUTCOME_APPROVED);
    assert.equal((await client.balance('o-hold')).balance?.amountMinor, 6_500n);
  });

  it('a refund needs a manager of the merchant the purchase was made at', async () => {
    await client.issueCard('o-refund', 5_000);
    const sale = txn++;
    await client.authorize(purchase('o-pos-a1', sale, 'o-refund', 2_000));
    const before = await inspect.snapshot();
    await assert.rejects(
      refunds.refund('o-pos-b1', txn++, 'o-refund', { terminalId: 'o-pos-a1', txn: sale }, 2_000, { id: 'bert', pin: '1357' }),
      denied,
      "merchant B's manager at B's till",
    );
    assert.equal(await inspect.snapshot(), before, 'nothing written');
    // Another till of the same merchant with that merchant's manager: a returns desk.
    const refund = await refunds.refund('o-pos-a2', txn++, 'o-refund', { terminalId: 'o-pos-a1', txn: sale }, 2_000, {
      id: 'anna',
      pin: '2468',
    });
    assert.equal(refund.outcome, Outcome.OUTCOME_APPROVED);
    assert.equal((await client.balance('o-refund')).balance?.amountMinor, 5_000n);
  });

  it('fleet reversals alike: only the pump that sold reverses, tombstones only its own numbers', async () => {
    await fleet.createAccount({ fleetId: 'o-fleet', creditLimitMinor: 100_000, timeZone: 'Europe/Berlin' });
    const issued = await fleet.issueCard({
      fleetId: 'o-fleet',
      cardNo: '1',
      limits: undefined,
      productGroups: undefined,
      operatorId: 'ops',
    });
    const cardId = issued.card!.cardId;
    const sale = txn++;
    const line = { code: 'diesel', group: 'fuel', amountMinor: 5_000 };
    assert.equal((await client.authorize(fleetPurchase('o-pos-a1', sale, cardId, [line]))).outcome, Outcome.OUTCOME_APPROVED);
    const before = await inspect.snapshot();
    await assert.rejects(reverse('o-pos-b1', cardId, { terminalId: 'o-pos-a1', txn: sale }), denied, 'another pump reverses');
    await assert.rejects(reverse('o-pos-b1', cardId, { terminalId: 'o-pos-a1', txn: 800_000 }), denied, 'another pump tombstones');
    assert.equal(await inspect.snapshot(), before, 'nothing written');
    assert.equal((await reverse('o-pos-a1', cardId, { terminalId: 'o-pos-a1', txn: sale })).result, ReverseResult.REVERSE_RESULT_REVERSED);
  });

  it('property: reversals from a random mix of terminals never move money for a foreign terminal', async function () {
    type Step =
      | { kind: 'purchase'; terminal: number; amount: number }
      | { kind: 'reverse'; terminal: number; target: number; unusedNumber: boolean; targetTerminal: number };
    const step: fc.Arbitrary<Step> = fc.oneof(
      {
        weight: 3,
        arbitrary: fc.record({ kind: fc.constant('purchase' as const), terminal: fc.nat(2), amount: fc.integer({ min: 1, max: 900 }) }),
      },
      {
        weight: 4,
        arbitrary: fc.record({
          kind: fc.constant('reverse' as const),
          terminal: fc.nat(2),
          target: fc.nat(30),
          unusedNumber: fc.boolean(),
          targetTerminal: fc.nat(2),
        }),
      },
    );
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 24 }), async (steps) => {
        run += 1;
        const cardId = `o-prop-${run}`;
        const initial = 5_000;
        await client.issueCard(cardId, initial);
        // Purchases sent so far (by position), with the number each used and whether it stands.
        const sales: { terminal: number; txn: number; amount: number; approved: boolean; reversed: boolean }[] = [];
        for (const s of steps) {
          const n = txn++;
          if (s.kind === 'purchase') {
            const reply = await client.authorize(purchase(terminals[s.terminal]!.id, n, cardId, s.amount));
            sales.push({
              terminal: s.terminal,
              txn: n,
              amount: s.amount,
              approved: reply.outcome === Outcome.OUTCOME_APPROVED,
              reversed: false,
            });
            continue;
          }
          const target = sales.length > 0 && !s.unusedNumber ? sales[s.target % sales.length] : undefined;
          // Either an earlier purchase, or a number no purchase used (yet) on some terminal.
          const original =
            target !== undefined
              ? { terminalId: terminals[target.terminal]!.id, txn: target.txn }
              : { terminalId: terminals[s.targetTerminal]!.id, txn: 500_000 + txn++ };
          const fromOrigin = terminals[s.terminal]!.id === original.terminalId;
          const balanceBefore = (await client.balance(cardId)).balance?.amountMinor;
          try {
            const reply = await client.reverse(terminals[s.terminal]!.id, n, cardId, original);
            assert.ok(fromOrigin, `a reversal from ${terminals[s.terminal]!.id} of ${original.terminalId}:${original.txn} was answered`);
            if (reply.result === ReverseResult.REVERSE_RESULT_REVERSED) {
              assert.ok(target !== undefined && target.approved && !target.reversed, 'only a standing purchase is reversed');
              target.reversed = true;
            }
          } catch (error) {
            const e = error as grpc.ServiceError;
            assert.equal(e.code, grpc.status.PERMISSION_DENIED, `refused with ${grpc.status[e.code]}: ${e.details}`);
            assert.ok(!fromOrigin, 'the original terminal is never refused');
            assert.equal((await client.balance(cardId)).balance?.amountMinor, balanceBefore, 'a refused reversal moves nothing');
          }
        }
        const standing = sales.filter((sale) => sale.approved && !sale.reversed).reduce((sum, sale) => sum + sale.amount, 0);
        assert.equal(
          (await client.balance(cardId)).balance?.amountMinor,
          BigInt(initial - standing),
          'balance = initial - standing purchases',
        );
      }),
      { seed, numRuns: 25 },
    );
  });
});
