// Proves the first-payment mandate flow and the checks before a PSP top-up starts, against a real
// node, real Redis and real gRPC, once with the Mollie adapter (a local server implementing Mollie's
// contract: customers, first payments that leave a mandate once paid, recurring payments) and once
// with the simulated PSP's signed callbacks:
//   - StartPspTopUp is refused (FAILED_PRECONDITION, no payment at the PSP) for a top-up the card
//     could not take now: above the program's top-up or balance maximum, a frozen card, an
//     auto-reload whose reload or threshold + reload the program would refuse;
//   - a paid first payment credits the top-up and stores the auto-reload with the mandate the PSP
//     created, in one commit of the card (one version step holds both, one outbox document each;
//     the mandate then pays a reload below the threshold, balance exact); a report before
//     it is paid, a webhook naming it under another card, a forged signed callback, a failed or
//     canceled first payment store nothing; a replayed report credits once and does not switch an
//     auto-reload the holder switched off back on;
//   - a holder may switch its own auto-reload off, but not store a mandate it names, nor start a
//     first payment for another card.

import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import type { RedisInstance } from '../../tools/devenv/redis';
import type { AuthorizerNode } from '../../services/authorizer/node';
import { Outcome } from '../../gen/tapline/v1/types';
import { CardAction } from '../../gen/tapline/v1/cards';
import { TaplineClient, purchase } from '../../tools/client/tapline-client';
import { CardClient, programConfig } from '../../tools/client/card-client';
import { mollie_integration } from '../../services/authorizer/psp/mollie';
import { pspPayload, signPspPayload, type PspIntegration } from '../../services/authorizer/usecases/psp';
import { SimulatedPsp, simulatedPsp } from '../../tools/psp-simulator/simulated-psp';
import { pspTopUpKey } from '../../actors/request-keys';
import { MollieApiFake } from '../support/mollie-api';
import { accessTo, startInProcessNode, startTestRedis, testToken, waitFor } from '../support/harness';
import { connectInspector, type Inspector } from '../support/redis-inspect';

const api_key = 'test_firstPaymentKey0123456789ab';
const psp_secret = 'first-payment-psp-secret-0123';

const refusedWith =
  (code: grpc.status) =>
  (error: unknown): boolean =>
    (error as grpc.ServiceError).code === code;

/** A card of program `programId` with `balance` EUR minor units. */
async function issue(cards: CardClient, cardId: string, balance: number, programId = 'default'): Promise<void> {
  await cards.issue({
    cardId,
    params: { initialBalance: { amountMinor: BigInt(balance), currency: 'EUR' }, programId, deposit: undefined, expiresAtUnixMs: 0n },
    holder: undefined,
    pin: '',
    operatorId: 'ops',
  });
}

describe('PSP first payments through Mollie: the mandate comes from the PSP, and top-ups are checked before the holder pays', function () {
  this.timeout(60_000);
  let redis: RedisInstance;
  let mollie: MollieApiFake;
  let node: AuthorizerNode;
  let cards: CardClient;
  let terminals: TaplineClient;
  let inspect: Inspector;
  let via = '';
  let txn = 1;

  before(async function () {
    mollie = new MollieApiFake(api_key);
    const apiUrl = await mollie.start();
    redis = await startTestRedis('psp-first-payment');
    node = await startInProcessNode(
      redis.url,
      {
        TAPLINE_PSP_PROVIDER: 'mollie',
        TAPLINE_MOLLIE_API_KEY: api_key,
        TAPLINE_MOLLIE_API_URL: apiUrl,
        TAPLINE_PSP_WEBHOOK_URL: 'https://pay.example.test/psp/mollie/webhook',
        TAPLINE_PSP_REDIRECT_URL: 'https://portal.example.test/top-up/return',
        TAPLINE_PSP_WEBHOOK_PORT: '0',
      },
      { psp: mollie_integration },
    );
    via = `http://127.0.0.1:${node.pspWebhookPort ?? 0}`;
    cards = new CardClient(await accessTo(node));
    terminals = new TaplineClient(await accessTo(node));
    inspect = await connectInspector(redis.url);
    await terminals.registerTerminal('fp-till', 'fp-shop');
    await cards.defineProgram('capped', programConfig({ maxTopUpMinor: 10_000n, maxBalanceMinor: 20_000n }));
  });

  after(async function () {
    cards?.close();
    terminals?.close();
    await inspect?.close();
    await node?.shutdown();
    await Promise.all([redis?.stop(), mollie?.stop()]);
  });

  const holderOf = async (cardId: string): Promise<CardClient> =>
    new CardClient(await accessTo(node, { overrides: { token: () => testToken('cardholder', [cardId], `card:${cardId}`) } }));
  const balanceOf = async (cardId: string): Promise<bigint> => (await terminals.balance(cardId)).balance?.amountMinor ?? -1n;
  const autoReloadOf = async (cardId: string) => (await cards.getCard(cardId)).card?.autoReload;

  it('refuses a top-up the card could not take now, and starts nothing at the PSP', async () => {
    await issue(cards, 'fp-cap', 15_000, 'capped');
    const before = mollie.created.length;
    const holder = await holderOf('fp-cap');
    try {
      await assert.rejects(
        holder.startPspTopUp('fp-cap', 10_001),
        refusedWith(grpc.status.FAILED_PRECONDITION),
        'above the top-up maximum',
      );
      await assert.rejects(
        holder.startPspTopUp('fp-cap', 5_001),
        refusedWith(grpc.status.FAILED_PRECONDITION),
        'above the balance maximum',
      );
      await assert.rejects(
        holder.startPspTopUp('fp-cap', 1_000, { thresholdMinor: 1_000, amountMinor: 10_001 }),
        refusedWith(grpc.status.FAILED_PRECONDITION),
        'a reload above the top-up maximum',
      );
      await assert.rejects(
        holder.startPspTopUp('fp-cap', 1_000, { thresholdMinor: 12_000, amountMinor: 9_000 }),
        refusedWith(grpc.status.FAILED_PRECONDITION),
        'threshold + reload above the balance maximum',
      );
      assert.equal(mollie.created.length, before, 'no payment was started');
      // Exactly up to the balance maximum is a top-up the card takes.
      await holder.startPspTopUp('fp-cap', 5_000);
      assert.equal(mollie.created.length, before + 1);
      await cards.changeState({
        cardId: 'fp-cap',
        action: CardAction.CARD_ACTION_FREEZE,
        reason: 'test',
        operatorId: 'ops',
        approverId: '',
      });
      await assert.rejects(holder.startPspTopUp('fp-cap', 100), refusedWith(grpc.status.FAILED_PRECONDITION), 'a frozen card');
      assert.equal(mollie.created.length, before + 1);
    } finally {
      holder.close();
    }
  });

  it('credits a paid first payment and stores the mandate Mollie created, once; the mandate then pays a reload', async () => {
    await issue(cards, 'fp-1', 4_000);
    const holder = await holderOf('fp-1');
    try {
      const started = await holder.startPspTopUp('fp-1', 1_000, { thresholdMinor: 1_500, amountMinor: 2_000 });
      const payment = mollie.payment(started.pspReference);
      assert.equal(payment?.sequenceType, 'first');
      assert.match(payment?.customerId ?? '', /^cst_/, 'a customer was created for the first payment');
      // Reports before the payment is paid, and a webhook naming it under another card: nothing.
      assert.equal(await mollie.callWebhook(started.pspReference, via), 200);
      const forged = 'https://pay.example.test/psp/mollie/webhook?card=fp-other';
      assert.equal(await mollie.callWebhook(started.pspReference, via, forged), 200);
      assert.equal(await autoReloadOf('fp-1'), undefined, 'nothing stored before the payment is paid');
      assert.equal(await balanceOf('fp-1'), 4_000n);

      assert.equal(await mollie.settle(started.pspReference, 'paid', via), 200);
      const mandateId = mollie.payment(started.pspReference)?.mandateId ?? '';
      assert.match(mandateId, /^mdt_/, 'the paid first payment left a mandate');
      assert.equal(await balanceOf('fp-1'), 5_000n, 'the first payment is credited');
      const stored = await autoReloadOf('fp-1');
      assert.equal(stored?.threshold?.amountMinor, 1_500n);
      assert.equal(stored?.amount?.amountMinor, 2_000n);
      assert.equal(stored?.mandateEnding, mandateId.slice(-4), 'the mandate Mollie created, shown by its end only');

      // Replayed: credited once.
      assert.equal(await mollie.callWebhook(started.pspReference, via), 200);
      assert.equal(await balanceOf('fp-1'), 5_000n, 'a replayed report credits nothing again');

      // A sale below the threshold: the node charges that customer's mandate.
      const created = mollie.created.length;
      assert.equal((await terminals.authorize(purchase('fp-till', txn++, 'fp-1', 4_000))).outcome, Outcome.OUTCOME_APPROVED);
      await waitFor(
        'the node charges the mandate',
        () => mollie.created.length === created + 1,
        () => `${mollie.created.length - created} charges`,
      );
      const charge = mollie.created[created];
      assert.deepEqual([charge?.sequenceType, charge?.customerId, charge?.mandateId], ['recurring', payment?.customerId, mandateId]);
      assert.equal(await mollie.settle(charge?.id ?? '', 'paid', via), 200);
      assert.equal(await balanceOf('fp-1'), 3_000n, '5,000 - 4,000 + the reload of 2,000');

      // The holder switches it off; a replayed first-payment report does not switch it back on.
      await holder.setAutoReload('fp-1', 0, 0, '');
      assert.equal(await autoReloadOf('fp-1'), undefined);
      assert.equal(await mollie.callWebhook(started.pspReference, via), 200);
      assert.equal(await autoReloadOf('fp-1'), undefined, 'a replay stores nothing again');
      assert.equal(await balanceOf('fp-1'), 3_000n);
      assert.equal((await terminals.authorize(purchase('fp-till', txn++, 'fp-1', 2_000))).outcome, Outcome.OUTCOME_APPROVED);
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(mollie.created.length, created + 1, 'switched off: no further charge');
    } finally {
      holder.close();
    }
  });

  it('credits a paid first payment and stores its mandate in one commit: one version step holds both, a replay writes nothing', async () => {
    await issue(cards, 'fp-5', 4_000);
    const started = await cards.startPspTopUp('fp-5', 1_000, { thresholdMinor: 1_500, amountMinor: 2_000 });
    const before = await inspect.card('fp-5');
    assert.equal(before?.autoReload, undefined);
    assert.equal(await mollie.settle(started.pspReference, 'paid', via), 200);
    const payment = mollie.payment(started.pspReference);
    // One commit wrote the card: no stored version of it has the credit without the mandate, so a
    // node killed at any moment leaves both or neither.
    const after = await inspect.card('fp-5');
    assert.equal(after?.version, (before?.version ?? 0) + 1, 'one commit wrote the credit and the mandate');
    assert.equal(after?.balanceMinor, 5_000);
    assert.deepEqual(after?.autoReload, {
      thresholdMinor: 1_500,
      amountMinor: 2_000,
      mandate: `${payment?.customerId ?? ''}.${payment?.mandateId ?? ''}`,
    });
    const outbox = await inspect.outbox();
    const topUps = outbox.filter((record) => record['type'] === 'transaction' && record['key'] === pspTopUpKey(started.pspReference));
    assert.equal(topUps.length, 1, 'the top-up is in the outbox once');
    const sets = outbox.filter((record) => record['action'] === 'auto_reload_set' && record['subject'] === 'fp-5');
    assert.deepEqual(
      sets.map((record) => [record['operator'], record['detail']]),
      [[`psp:${started.pspReference}`, JSON.stringify({ threshold: 1_500, amount: 2_000 })]],
      "the mandate is set once, by the PSP's payment, its reference kept out of the document",
    );

    const stored = await inspect.snapshot();
    assert.equal(await mollie.callWebhook(started.pspReference, via), 200);
    assert.equal(await inspect.snapshot(), stored, 'a replayed report writes nothing');
  });

  it('stores nothing for a failed or canceled first payment', async () => {
    await issue(cards, 'fp-2', 4_000);
    for (const status of ['failed', 'canceled'] as const) {
      const started = await cards.startPspTopUp('fp-2', 1_000, { thresholdMinor: 1_000, amountMinor: 2_000 });
      const before = await inspect.snapshot();
      assert.equal(await mollie.settle(started.pspReference, status, via), 200);
      assert.equal(mollie.payment(started.pspReference)?.mandateId, undefined, `a ${status} payment leaves no mandate`);
      assert.equal(await inspect.snapshot(), before, `a ${status} first payment changes nothing`);
      assert.equal(await autoReloadOf('fp-2'), undefined);
    }
  });

  it('lets a holder switch off only its own auto-reload, never store a mandate it names or start one for another card', async () => {
    await issue(cards, 'fp-3', 4_000);
    await issue(cards, 'fp-4', 4_000);
    await cards.setAutoReload('fp-4', 1_000, 2_000, 'cst_desk.mdt_desk');
    const holder = await holderOf('fp-3');
    const created = mollie.created.length;
    try {
      await assert.rejects(
        holder.setAutoReload('fp-3', 1_000, 2_000, 'cst_someoneelse.mdt_theirs'),
        refusedWith(grpc.status.PERMISSION_DENIED),
        'a mandate named by the holder',
      );
      await assert.rejects(holder.setAutoReload('fp-4', 0, 0, ''), refusedWith(grpc.status.PERMISSION_DENIED), "another card's");
      await assert.rejects(
        holder.startPspTopUp('fp-4', 1_000, { thresholdMinor: 1_000, amountMinor: 2_000 }),
        refusedWith(grpc.status.PERMISSION_DENIED),
        "another card's first payment",
      );
      await assert.rejects(holder.getCard('fp-4'), refusedWith(grpc.status.PERMISSION_DENIED), "another card's auto-reload");
      assert.equal(mollie.created.length, created, 'no payment was started');
      assert.equal(await autoReloadOf('fp-3'), undefined);
      assert.equal((await autoReloadOf('fp-4'))?.mandateEnding, 'desk', "the other card's auto-reload is unchanged");
    } finally {
      holder.close();
    }
  });
});

describe('PSP first payments through signed callbacks (the simulated PSP)', function () {
  this.timeout(60_000);
  let redis: RedisInstance;
  let node: AuthorizerNode;
  let cards: CardClient;
  let inspect: Inspector;
  let psp: SimulatedPsp | undefined;

  before(async function () {
    redis = await startTestRedis('psp-first-signed');
    const integration: PspIntegration = {
      ...simulatedPsp,
      create: (context) => {
        const created = simulatedPsp.create(context);
        psp = created instanceof SimulatedPsp ? created : undefined;
        return created;
      },
    };
    node = await startInProcessNode(redis.url, { TAPLINE_PSP_SECRET: psp_secret }, { psp: integration });
    cards = new CardClient(await accessTo(node));
    inspect = await connectInspector(redis.url);
  });

  after(async function () {
    cards?.close();
    await inspect?.close();
    await node?.shutdown();
    await redis?.stop();
  });

  const simulated = (): SimulatedPsp => psp ?? assert.fail('the simulated PSP was not created');
  const balanceOf = async (cardId: string): Promise<bigint> => (await cards.getCard(cardId)).card?.balance?.amountMinor ?? -1n;

  it('refuses a forged callback carrying a mandate: nothing credited, nothing stored', async () => {
    await issue(cards, 'sg-1', 4_000);
    const started = await cards.startPspTopUp('sg-1', 1_000, { thresholdMinor: 1_000, amountMinor: 2_000 });
    const forged = pspPayload({
      reference: started.pspReference,
      card: 'sg-1',
      amountMinor: 1_000,
      currency: 'EUR',
      status: 'succeeded',
      kind: 'top_up',
      signedAtMs: Date.now(),
      autoReload: { thresholdMinor: 1_000, amountMinor: 2_000, mandate: 'cst_victim.mdt_victim' },
    });
    const before = await inspect.snapshot();
    await assert.rejects(
      cards.pspCallback(forged, signPspPayload('a-forger-secret-0123456789', forged)),
      refusedWith(grpc.status.PERMISSION_DENIED),
    );
    await assert.rejects(cards.pspCallback(forged, ''), refusedWith(grpc.status.PERMISSION_DENIED), 'unsigned');
    assert.equal(await inspect.snapshot(), before, 'a forged callback changes nothing');
    assert.equal((await cards.getCard('sg-1')).card?.autoReload, undefined);
  });

  it('credits a paid first payment once and stores the PSP’s mandate; a failed one stores nothing', async () => {
    await issue(cards, 'sg-2', 4_000);
    const started = await cards.startPspTopUp('sg-2', 1_000, { thresholdMinor: 1_200, amountMinor: 3_000 });
    const [payload, signature] = simulated().complete(started.pspReference, 'succeeded');
    await waitFor(
      'the first payment is credited',
      async () => (await balanceOf('sg-2')) === 5_000n,
      () => 'balance not 5,000',
    );
    const mandate = (JSON.parse(payload) as { auto_reload: { mandate: string } }).auto_reload.mandate;
    // Stored with the credit, in the same commit: there as soon as the balance is.
    assert.equal((await cards.getCard('sg-2')).card?.autoReload?.mandateEnding, mandate.slice(-4));
    const replayed = await cards.pspCallback(payload, signature);
    assert.equal(replayed.replayed, true);
    assert.equal(await balanceOf('sg-2'), 5_000n, 'credited once');

    await issue(cards, 'sg-3', 4_000);
    const failing = await cards.startPspTopUp('sg-3', 1_000, { thresholdMinor: 1_200, amountMinor: 3_000 });
    const [failed, failedSignature] = simulated().complete(failing.pspReference, 'failed');
    assert.equal((await cards.pspCallback(failed, failedSignature)).paymentFailed, true);
    assert.equal(await balanceOf('sg-3'), 4_000n);
    assert.equal((await cards.getCard('sg-3')).card?.autoReload, undefined, 'a failed first payment stores nothing');
  });
});
