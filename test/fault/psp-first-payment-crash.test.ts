// Proves that a paid first payment's credit and its auto-reload mandate survive a crash together,
// with real processes and SIGKILL: the production node process (Mollie adapter) against a local
// server implementing Mollie's contract, and real Redis. The node is killed while it applies the
// payment's webhook (the moment Redis executes the commit that credits the card) or right after it
// acknowledged the webhook; a new node then gets the webhook again, as Mollie retries it. Checks:
// the card is credited exactly once, its auto-reload holds the mandate Mollie created, and the
// top-up is in the outbox exactly once.

import assert from 'node:assert/strict';
import { createClient } from 'redis';
import type { RedisInstance } from '../../tools/devenv/redis';
import { startServerProcess, type ServerProcess } from '../../tools/devenv/node-process';
import { authorizer_node_flags } from '../../services/authorizer/runtime-flags';
import { CardClient } from '../../tools/client/card-client';
import { pspTopUpKey } from '../../actors/request-keys';
import { MollieApiFake } from '../support/mollie-api';
import { accessTo, nodeEnv, startTestRedis } from '../support/harness';
import { connectInspector } from '../support/redis-inspect';
import { freePort } from '../support/portal';

const api_key = 'test_firstPaymentCrash0123456789';

describe('a paid first payment across a node crash (real processes, SIGKILL)', function () {
  this.timeout(120_000);
  let redis: RedisInstance;
  let mollie: MollieApiFake;
  let apiUrl = '';
  const nodes: ServerProcess[] = [];

  before(async function () {
    mollie = new MollieApiFake(api_key);
    apiUrl = await mollie.start();
    redis = await startTestRedis('psp-first-crash');
  });

  after(async function () {
    for (const node of nodes.splice(0)) await node.kill9();
    await Promise.all([redis?.stop(), mollie?.stop()]);
  });

  /** The production node process with the Mollie adapter, its webhook listener on `port`. */
  async function startNode(port: number): Promise<ServerProcess> {
    const node = await startServerProcess({
      script: 'dist/services/authorizer/main.js',
      nodeArgs: authorizer_node_flags,
      env: await nodeEnv(redis.url, {
        TAPLINE_PSP_PROVIDER: 'mollie',
        TAPLINE_MOLLIE_API_KEY: api_key,
        TAPLINE_MOLLIE_API_URL: apiUrl,
        TAPLINE_PSP_WEBHOOK_URL: 'https://pay.example.test/psp/mollie/webhook',
        TAPLINE_PSP_REDIRECT_URL: 'https://portal.example.test/top-up/return',
        TAPLINE_PSP_WEBHOOK_PORT: String(port),
      }),
    });
    nodes.push(node);
    return node;
  }

  /**
   * Starts a first payment of 1,000 on a card of 4,000, has it paid, kills the node at `when`,
   * starts a new node, replays the webhook there and checks what Redis holds.
   */
  async function crashAndReplay(cardId: string, when: 'credit_commit' | 'acknowledged'): Promise<void> {
    const port = await freePort();
    const node = await startNode(port);
    const via = `http://127.0.0.1:${port}`;
    const cards = new CardClient(await accessTo(node));
    await cards.issue({
      cardId,
      params: { initialBalance: { amountMinor: 4_000n, currency: 'EUR' }, programId: 'default', deposit: undefined, expiresAtUnixMs: 0n },
      holder: undefined,
      pin: '',
      operatorId: 'ops',
    });
    const started = await cards.startPspTopUp(cardId, 1_000, { thresholdMinor: 1_500, amountMinor: 2_000 });
    cards.close();

    // Watches what Redis executes: the node dies as soon as Redis runs a commit that credits the card.
    const monitor = createClient({ url: redis.url });
    await monitor.connect();
    let killedAt = '';
    if (when === 'credit_commit')
      await monitor.monitor((reply) => {
        const line = String(reply);
        if (killedAt === '' && line.includes('"EVALSHA"') && line.includes(cardId) && line.includes('\\"balanceMinor\\":5000')) {
          killedAt = line;
          node.child.kill('SIGKILL');
        }
      });
    const webhook = await mollie.settle(started.pspReference, 'paid', via).catch(() => 0);
    if (when === 'acknowledged') {
      assert.equal(webhook, 200, 'the webhook was acknowledged before the kill');
      node.child.kill('SIGKILL');
    }
    await node.exited;
    monitor.destroy();
    if (when === 'credit_commit') assert.notEqual(killedAt, '', 'the node was killed at the commit that credits the card');

    // Mollie retries the webhook; a new node applies it.
    const again = await startNode(port);
    assert.equal(await mollie.callWebhook(started.pspReference, via), 200);
    const payment = mollie.payment(started.pspReference);
    const inspect = await connectInspector(redis.url);
    try {
      const card = await inspect.card(cardId);
      assert.equal(card?.balanceMinor, 5_000, 'credited exactly once');
      assert.deepEqual(
        card?.autoReload,
        { thresholdMinor: 1_500, amountMinor: 2_000, mandate: `${payment?.customerId ?? ''}.${payment?.mandateId ?? ''}` },
        'the mandate Mollie created is stored with the credit',
      );
      const topUps = (await inspect.outbox()).filter(
        (record) => record['type'] === 'transaction' && record['key'] === pspTopUpKey(started.pspReference),
      );
      assert.equal(topUps.length, 1, 'the top-up is in the outbox exactly once');
    } finally {
      await inspect.close();
      await again.kill9();
    }
  }

  it('kill -9 while the node commits the credit: after a replay the card has the credit once and the mandate', async () => {
    // Several cards: each run kills the node at the credit's commit.
    for (const cardId of ['fpc-1', 'fpc-2', 'fpc-3']) await crashAndReplay(cardId, 'credit_commit');
  });

  it('kill -9 right after the webhook was acknowledged: a replay changes nothing, credit and mandate are both there', async () => {
    await crashAndReplay('fpc-ack', 'acknowledged');
  });
});
