// Proves that auto-reload credits a card only on a charge the PSP confirmed, against a real node,
// real Redis and real gRPC, with a PSP adapter the test plays (it records the charges the node
// asks for and answers only when the test says so, through the node's callback path, signed like
// a real PSP's): a payment below the threshold asks for one charge and credits nothing; while the
// PSP has not answered, nothing is credited and no second charge is asked; a refused charge
// credits nothing; a confirmed one credits the mandate's amount once, however often the
// confirmation is delivered; a forged confirmation (bad signature) credits nothing.

import assert from 'node:assert/strict';
import type { RedisInstance } from '../../tools/devenv/redis';
import type { AuthorizerNode } from '../../services/authorizer/node';
import { Outcome } from '../../gen/tapline/v1/types';
import { TaplineClient, purchase } from '../../tools/client/tapline-client';
import { CardClient } from '../../tools/client/card-client';
import {
  pspPayload,
  signPspPayload,
  type PspAdapter,
  type PspIntegration,
  type PspCallbackSink,
} from '../../services/authorizer/usecases/psp';
import { accessTo, startInProcessNode, startTestRedis, waitFor } from '../support/harness';
import { connectInspector, type Inspector } from '../support/redis-inspect';

const psp_secret = 'auto-reload-psp-secret-01234';

interface Charge {
  readonly mandate: string;
  readonly cardId: string;
  readonly amountMinor: number;
  readonly currency: string;
  readonly reference: string;
}

/** A PSP that takes charge requests and answers only when told to. */
class ScriptedPsp implements PspAdapter {
  readonly charges: Charge[] = [];
  constructor(
    private readonly deliver: PspCallbackSink,
    private readonly clock: () => number,
  ) {}

  startPayment(): Promise<{ reference: string; paymentUrl: string }> {
    return Promise.reject(new Error('not used by this test'));
  }

  chargeMandate(mandate: string, cardId: string, amountMinor: number, currency: string, reference: string): Promise<void> {
    this.charges.push({ mandate, cardId, amountMinor, currency, reference });
    return Promise.resolve();
  }

  /** The PSP's callback for a charge, signed with `secret` (the shared one unless a forger signs). */
  answer(charge: Charge, status: 'succeeded' | 'failed', secret = psp_secret): void {
    const payload = pspPayload({
      reference: charge.reference,
      card: charge.cardId,
      amountMinor: charge.amountMinor,
      currency: charge.currency,
      status,
      kind: 'auto_reload',
      signedAtMs: this.clock(),
    });
    this.deliver(payload, signPspPayload(secret, payload));
  }
}

describe('auto-reload credits only on a confirmed charge (real Redis, real gRPC, a scripted PSP)', function () {
  this.timeout(60_000);
  let redis: RedisInstance;
  let node: AuthorizerNode;
  let client: TaplineClient;
  let cards: CardClient;
  let inspect: Inspector;
  let psp: ScriptedPsp | undefined;
  let txn = 1;

  before(async function () {
    redis = await startTestRedis('auto-reload');
    const integration: PspIntegration = {
      name: 'scripted',
      signsCallbacks: true,
      create: ({ callbacks, clock }) => (psp = new ScriptedPsp(callbacks, clock)),
    };
    node = await startInProcessNode(redis.url, { TAPLINE_PSP_SECRET: psp_secret }, { psp: integration });
    client = new TaplineClient(await accessTo(node));
    cards = new CardClient(await accessTo(node));
    inspect = await connectInspector(redis.url);
    await client.registerTerminal('ar-till', 'ar-shop');
  });

  after(async function () {
    client?.close();
    cards?.close();
    await inspect?.close();
    await node?.shutdown();
    await redis?.stop();
  });

  /** The PSP's confirmation of a charge as a gRPC HandlePspCallback takes it. */
  const signedAnswer = (charge: Charge): [string, string] => {
    const payload = pspPayload({
      reference: charge.reference,
      card: charge.cardId,
      amountMinor: charge.amountMinor,
      currency: charge.currency,
      status: 'succeeded',
      kind: 'auto_reload',
      signedAtMs: Date.now(),
    });
    return [payload, signPspPayload(psp_secret, payload)];
  };
  const balance = async (cardId: string): Promise<bigint> => (await client.balance(cardId)).balance?.amountMinor ?? -1n;
  const reloads = async (cardId: string): Promise<number> =>
    (await inspect.outbox()).filter((d) => d['card'] === cardId && d['source'] === 'auto_reload' && d['outcome'] === 'approved').length;

  it('asks for a charge, credits nothing until the PSP confirms it, and once when it does', async () => {
    const scripted = psp as ScriptedPsp;
    await cards.issue({
      cardId: 'ar-1',
      params: { initialBalance: { amountMinor: 3_000n, currency: 'EUR' }, programId: 'default', deposit: undefined, expiresAtUnixMs: 0n },
      holder: undefined,
      pin: '',
      operatorId: 'ops',
    });
    await cards.setAutoReload('ar-1', 1_000, 5_000, 'mandate-ar-1');
    assert.equal((await client.authorize(purchase('ar-till', txn++, 'ar-1', 2_500))).outcome, Outcome.OUTCOME_APPROVED);
    await waitFor(
      'the node asks the PSP for one charge',
      () => scripted.charges.length === 1,
      () => `${scripted.charges.length} charges`,
    );
    const [charge] = scripted.charges as [Charge];
    assert.deepEqual([charge.mandate, charge.cardId, charge.amountMinor, charge.currency], ['mandate-ar-1', 'ar-1', 5_000, 'EUR']);
    // Not confirmed yet: nothing credited, and another low payment asks for no second charge.
    assert.equal((await client.authorize(purchase('ar-till', txn++, 'ar-1', 100))).outcome, Outcome.OUTCOME_APPROVED);
    assert.equal(await balance('ar-1'), 400n, 'nothing credited before the PSP confirms');
    assert.equal(scripted.charges.length, 1, 'one charge in flight per card');
    assert.equal(await reloads('ar-1'), 0);

    // A forged confirmation (not signed with the shared secret), then the PSP's refusal.
    scripted.answer(charge, 'succeeded', 'a-forger-secret-0123456789');
    scripted.answer(charge, 'failed');
    // Once the refusal is applied the charge is settled, and the next low payment asks again.
    let spentMinor = 2_600n;
    for (let tries = 0; scripted.charges.length < 2 && tries < 200; tries++) {
      assert.equal((await client.authorize(purchase('ar-till', txn++, 'ar-1', 1))).outcome, Outcome.OUTCOME_APPROVED);
      spentMinor += 1n;
    }
    await waitFor(
      'a second charge after the refusal',
      () => scripted.charges.length === 2,
      () => `${scripted.charges.length} charges`,
    );
    assert.equal(await balance('ar-1'), 3_000n - spentMinor, 'a refused or forged charge credited nothing');
    assert.equal(await reloads('ar-1'), 0);

    // This time the PSP confirms, and delivers its confirmation twice.
    const second = scripted.charges[1] as Charge;
    scripted.answer(second, 'succeeded');
    scripted.answer(second, 'succeeded');
    let seen = 0n;
    await waitFor(
      'the confirmed charge is credited',
      async () => (seen = await balance('ar-1')) === 3_000n - spentMinor + 5_000n,
      () => `balance ${seen}, expected ${3_000n - spentMinor} + 5,000`,
    );
    // Both deliveries are applied by the time a third one is answered (they are handled in order).
    await cards.pspCallback(...signedAnswer(second));
    assert.equal(await reloads('ar-1'), 1, 'credited once');
    assert.equal(await balance('ar-1'), 3_000n - spentMinor + 5_000n);
  });
});
