// Proves the Mollie adapter against a local server that implements Mollie's documented Payments API
// v2 contract (test/support/mollie-api.ts), with two real nodes, real Redis and real gRPC: a top-up
// creates the payment as documented (Bearer key, amount with the currency's decimals, redirect and
// webhook URLs, metadata) and moves nothing; Mollie's unsigned webhook ("id=tr_...") tops the card
// up once, whichever node receives it and however often it comes, because the card's owner fetches
// the payment and acts only on Mollie's answer; forged, unknown, other-card, failed, canceled and
// expired payments move nothing; auto-reload charges the customer's mandate as a recurring payment
// with an Idempotency-Key; Mollie down or refusing the key is UNAVAILABLE (PSP_UNAVAILABLE) and a
// webhook then answers 503 so Mollie delivers it again, moving money once it can be fetched.

import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import type { RedisInstance } from '../../tools/devenv/redis';
import type { AuthorizerNode } from '../../services/authorizer/node';
import { Outcome } from '../../gen/tapline/v1/types';
import { TaplineClient, purchase } from '../../tools/client/tapline-client';
import { CardClient } from '../../tools/client/card-client';
import { placementOf } from '../../actors/sharding/allocation';
import { shardOf, type PlacedKind } from '../../actors/sharding/shard-key';
import { mollie_integration } from '../../services/authorizer/psp/mollie';
import { ErrorInfo } from '../../gen/google/rpc/error_details';
import { Status } from '../../gen/google/rpc/status';
import { MollieApiFake } from '../support/mollie-api';
import { accessTo, startInProcessNode, startTestRedis, test_shard_count, waitFor } from '../support/harness';
import { connectInspector, type Inspector } from '../support/redis-inspect';

const api_key = 'test_mollieFakeKey0123456789abcd';
const public_webhook = 'https://pay.example.test/psp/mollie/webhook';

const fast_cluster = {
  TAPLINE_CLUSTER_TICK_MS: '50',
  TAPLINE_MEMBER_TTL_MS: '500',
  TAPLINE_SHARD_LEASE_MS: '500',
  TAPLINE_REDIS_COMMAND_TIMEOUT_MS: '400',
  TAPLINE_ROUTE_WAIT_MAX_MS: '5000',
};

/** The first id `prefix-<n>` of an entity of `kind` whose shard `member` owns among `members`. */
function idOwnedBy(member: string, members: string[], kind: PlacedKind, prefix: string): string {
  const owners = placementOf(test_shard_count, members);
  for (let n = 0; ; n++) if (owners[shardOf(kind, `${prefix}-${n}`, test_shard_count)] === member) return `${prefix}-${n}`;
}

function reasonOf(error: grpc.ServiceError): string {
  const [bytes] = error.metadata.get('grpc-status-details-bin');
  if (!(bytes instanceof Buffer)) return '';
  const info = Status.decode(bytes).details.find((d) => d.typeUrl.endsWith('google.rpc.ErrorInfo'));
  return info === undefined ? '' : ErrorInfo.decode(info.value).reason;
}

describe('PSP top-ups through Mollie (a local server implementing Mollie’s contract, two nodes, real Redis and gRPC)', function () {
  this.timeout(90_000);
  let redis: RedisInstance;
  let mollie: MollieApiFake;
  let a: AuthorizerNode;
  let b: AuthorizerNode;
  let viaA: CardClient;
  let terminals: TaplineClient;
  let inspect: Inspector;
  let webhookA = '';
  let webhookB = '';
  let seq = 0;

  /** A card owned by node B (so node A's webhook must reach B), with `balance` EUR minor units. */
  const issueOnB = async (prefix: string, balance: number): Promise<string> => {
    seq += 1;
    const cardId = idOwnedBy('B', ['A', 'B'], 'card', `${prefix}${seq}`);
    await viaA.issue({
      cardId,
      params: {
        initialBalance: { amountMinor: BigInt(balance), currency: 'EUR' },
        programId: 'mollie',
        deposit: undefined,
        expiresAtUnixMs: 0n,
      },
      holder: undefined,
      pin: '',
      operatorId: 'ops',
    });
    return cardId;
  };
  const balanceOf = async (cardId: string): Promise<bigint> => (await terminals.balance(cardId)).balance?.amountMinor ?? -1n;

  before(async function () {
    mollie = new MollieApiFake(api_key);
    const apiUrl = await mollie.start();
    redis = await startTestRedis('psp-mollie');
    const env = {
      ...fast_cluster,
      TAPLINE_PSP_PROVIDER: 'mollie',
      TAPLINE_MOLLIE_API_KEY: api_key,
      TAPLINE_MOLLIE_API_URL: apiUrl,
      TAPLINE_MOLLIE_METHOD: 'ideal',
      TAPLINE_PSP_WEBHOOK_URL: public_webhook,
      TAPLINE_PSP_REDIRECT_URL: 'https://festival.example.test/topped-up',
      TAPLINE_PSP_WEBHOOK_PORT: '0',
      TAPLINE_PSP_REQUEST_TIMEOUT_MS: '2000',
    };
    // The production integration, exactly as services/authorizer/main.ts injects it.
    a = await startInProcessNode(redis.url, { ...env, TAPLINE_NODE_ID: 'A' }, { psp: mollie_integration });
    b = await startInProcessNode(redis.url, { ...env, TAPLINE_NODE_ID: 'B' }, { psp: mollie_integration });
    await waitFor(
      'two members hold their shards',
      () => a.coordinator.heldCount + b.coordinator.heldCount === test_shard_count && b.coordinator.heldCount > 0,
      () => `A holds ${a.coordinator.heldCount}, B holds ${b.coordinator.heldCount}`,
      10_000,
    );
    webhookA = `http://127.0.0.1:${a.pspWebhookPort ?? 0}`;
    webhookB = `http://127.0.0.1:${b.pspWebhookPort ?? 0}`;
    viaA = new CardClient(await accessTo(a));
    terminals = new TaplineClient(await accessTo(a));
    await terminals.registerTerminal('mollie-bar', 'bar');
    inspect = await connectInspector(redis.url);
  });

  after(async function () {
    viaA.close();
    terminals.close();
    await inspect.close();
    await a.shutdown();
    await b.shutdown();
    await redis.stop();
    await mollie.stop();
  });

  it('creates the payment as Mollie documents it, and moves nothing before Mollie says paid', async () => {
    const cardId = await issueOnB('m-start', 1_000);
    const started = await viaA.startPspTopUp(cardId, 1_250);
    const created = mollie.requests.filter((r) => r.method === 'POST').at(-1);
    assert.ok(created !== undefined, 'a create payment request reached Mollie');
    assert.equal(created.authorization, `Bearer ${api_key}`);
    assert.equal(created.path, '/v2/payments');
    const body = created.body as Record<string, unknown>;
    assert.deepEqual(body['amount'], { currency: 'EUR', value: '12.50' });
    assert.equal(body['method'], 'ideal');
    assert.equal(body['redirectUrl'], 'https://festival.example.test/topped-up');
    assert.equal(body['webhookUrl'], `${public_webhook}?card=${cardId}`);
    assert.deepEqual(body['metadata'], { card: cardId, kind: 'top_up' });
    assert.match(started.pspReference, /^tr_/);
    assert.equal(started.paymentUrl, `https://www.mollie.com/checkout/select-method/${started.pspReference}`);
    assert.equal(await balanceOf(cardId), 1_000n, 'nothing moves when a payment is started');
    // The holder opened the checkout but did not pay yet: Mollie says "open".
    assert.equal(await mollie.callWebhook(started.pspReference, webhookA), 200);
    assert.equal(await balanceOf(cardId), 1_000n, 'an open payment moves nothing');
  });

  it("tops the card up once on Mollie's webhook, whichever node receives it and however often", async () => {
    const cardId = await issueOnB('m-paid', 1_000);
    const { pspReference } = await viaA.startPspTopUp(cardId, 2_000);
    assert.equal(await mollie.settle(pspReference, 'paid', webhookA), 200, 'node A answers the webhook of a card node B owns');
    assert.equal(await balanceOf(cardId), 3_000n);
    assert.equal(await mollie.callWebhook(pspReference, webhookA), 200);
    assert.equal(await mollie.callWebhook(pspReference, webhookB), 200);
    assert.equal(await balanceOf(cardId), 3_000n, 'a webhook delivered again tops up nothing more');
    const fetched = mollie.requests.filter((r) => r.method === 'GET' && r.path === `/v2/payments/${pspReference}`);
    assert.ok(fetched.length >= 3, 'every webhook was checked against Mollie');
    assert.ok(fetched.every((r) => r.authorization === `Bearer ${api_key}`));
    const documents = (await inspect.outbox()).filter((d) => d['key'] === `k:psp:${pspReference}`);
    assert.equal(documents.length, 1, 'one top-up document');
    assert.equal(documents[0]?.['source'], 'psp');
    assert.equal(documents[0]?.['amount'], 2_000);
  });

  it('a forged, unknown or other-card webhook and a failed, canceled or expired payment move nothing', async () => {
    const cardId = await issueOnB('m-forged', 500);
    const other = await issueOnB('m-other', 500);
    const { pspReference } = await viaA.startPspTopUp(cardId, 700);
    // A forger names a payment that is still open, an id Mollie does not know, and a real paid
    // payment under another card's URL: Mollie's answer decides, so nothing moves.
    assert.equal(await mollie.callWebhook(pspReference, webhookA), 200);
    assert.equal(await mollie.callWebhook('tr_doesnotexist1', webhookA, `${public_webhook}?card=${cardId}`), 200);
    mollie.payment(pspReference)!.status = 'paid';
    assert.equal(await mollie.callWebhook(pspReference, webhookB, `${public_webhook}?card=${other}`), 200);
    assert.equal(await balanceOf(other), 500n, 'a paid payment of one card never tops up another');
    // Malformed requests are no webhook of ours.
    const malformed = await fetch(`${webhookA}/psp/mollie/webhook?card=${cardId}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'id=not-a-payment',
    });
    assert.equal(malformed.status, 400);
    assert.equal((await fetch(`${webhookA}/other/path`, { method: 'POST', body: 'id=tr_x' })).status, 404);
    assert.equal(await balanceOf(cardId), 500n, 'nothing moved before the real report');
    for (const status of ['failed', 'canceled', 'expired'] as const) {
      const failed = await viaA.startPspTopUp(cardId, 300);
      assert.equal(await mollie.settle(failed.pspReference, status, webhookA), 200, status);
    }
    assert.equal(await balanceOf(cardId), 500n, 'failed, canceled and expired payments move nothing');
    assert.equal(await mollie.callWebhook(pspReference, webhookA), 200);
    assert.equal(await balanceOf(cardId), 1_200n, 'the paid payment tops up its own card');
  });

  it('auto-reload charges the Mollie mandate as a recurring payment; the card is credited on the webhook', async () => {
    mollie.addCustomer('cst_reload01', 'mdt_reload01');
    const cardId = await issueOnB('m-reload', 2_000);
    await viaA.setAutoReload(cardId, 1_000, 5_000, 'cst_reload01.mdt_reload01');
    const paid = await terminals.authorize(purchase('mollie-bar', ++seq, cardId, 1_500));
    assert.equal(paid.outcome, Outcome.OUTCOME_APPROVED);
    await waitFor(
      'the node asks Mollie for a recurring payment',
      () => mollie.created.some((p) => p.sequenceType === 'recurring' && (p.metadata as { card?: string }).card === cardId),
      () => `${mollie.created.length} payments created`,
    );
    const charge = mollie.created.find((p) => p.sequenceType === 'recurring' && (p.metadata as { card?: string }).card === cardId)!;
    const request = mollie.requests.find(
      (r) => r.method === 'POST' && (r.body as { metadata?: { card?: string } }).metadata?.card === cardId,
    );
    assert.equal(charge.customerId, 'cst_reload01');
    assert.equal(charge.mandateId, 'mdt_reload01');
    assert.deepEqual(charge.amount, { currency: 'EUR', value: '50.00' });
    assert.match(request?.idempotencyKey ?? '', new RegExp(`^auto-${cardId}-`), 'the charge carries its reference as Idempotency-Key');
    assert.equal(await balanceOf(cardId), 500n, 'nothing is credited before Mollie reports the charge');
    assert.equal(await mollie.settle(charge.id, 'paid', webhookB), 200);
    assert.equal(await balanceOf(cardId), 5_500n);
    const documents = (await inspect.outbox()).filter((d) => d['key'] === `k:psp:${charge.id}`);
    assert.equal(documents.length, 1);
    assert.equal(documents[0]?.['source'], 'auto_reload');
  });

  it('Mollie down or refusing the key is UNAVAILABLE; its webhook is answered 503 and applied once Mollie answers', async () => {
    const cardId = await issueOnB('m-down', 100);
    const { pspReference } = await viaA.startPspTopUp(cardId, 900);
    mollie.failing = true;
    // Asked on the card's owner, the status carries its reason (a forwarded call keeps the code).
    const viaB = new CardClient(await accessTo(b));
    try {
      await assert.rejects(viaB.startPspTopUp(cardId, 900), (e: grpc.ServiceError) => {
        assert.equal(e.code, grpc.status.UNAVAILABLE);
        assert.equal(reasonOf(e), 'PSP_UNAVAILABLE');
        return true;
      });
      await assert.rejects(viaA.startPspTopUp(cardId, 900), (e: grpc.ServiceError) => e.code === grpc.status.UNAVAILABLE);
      assert.equal(await mollie.settle(pspReference, 'paid', webhookA), 503, 'Mollie delivers the webhook again later');
      assert.equal(await balanceOf(cardId), 100n);
    } finally {
      mollie.failing = false;
      viaB.close();
    }
    mollie.apiKey = 'test_rotatedKey0123456789abcdefgh';
    try {
      await assert.rejects(viaA.startPspTopUp(cardId, 900), (e: grpc.ServiceError) => e.code === grpc.status.UNAVAILABLE);
      assert.equal(await mollie.callWebhook(pspReference, webhookA), 503);
    } finally {
      mollie.apiKey = api_key;
    }
    assert.equal(await mollie.callWebhook(pspReference, webhookA), 200, "Mollie's retry");
    assert.equal(await balanceOf(cardId), 1_000n, 'applied once Mollie answers');
  });

  it('the signed-callback door stays closed on a Mollie node', async () => {
    await assert.rejects(viaA.pspCallback('{}', '00'), (e: grpc.ServiceError) => e.code === grpc.status.FAILED_PRECONDITION);
  });
});
