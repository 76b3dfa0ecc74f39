// Proves persist-before-reply and idempotency across crashes, with real processes and SIGKILL:
//  1. kill -9 of the authorizer node while a load runs, then a new node on the same Redis;
//  2. kill -9 of Redis itself while a load runs (AOF with appendfsync always), then a restart.
// Afterwards every request whose outcome the client did not learn is retried with the same key.
// Checks: every approval a client received is in Redis (idempotency record and exactly one
// outbox entry); every retry got the original answer; no key moved money twice; each card's
// balance equals its initial balance minus the approvals the clients saw, and is never negative.

import assert from 'node:assert/strict';
import type { RedisInstance } from '../../tools/devenv/redis';
import type { ServerProcess } from '../../tools/devenv/node-process';
import { TaplineClient } from '../../tools/client/tapline-client';
import { Outcome } from '../../gen/tapline/v1/types';
import { startNodeProcess, startTestRedis, waitFor, accessTo } from '../support/harness';
import { connectInspector } from '../support/redis-inspect';
import { LoadRun } from '../support/load';

const card_count = 100;
const initial_balance_minor = 20_000;

async function seed(client: TaplineClient): Promise<string[]> {
  await client.registerTerminal('fault-pos', 'fault-merchant');
  const cards = Array.from({ length: card_count }, (_, i) => `fault-${i}`);
  await Promise.all(cards.map((id) => client.issueCard(id, initial_balance_minor)));
  return cards;
}

function newLoad(cards: string[]): LoadRun {
  // Amounts 1..400 on 100 cards of 200.00: cards run dry during the run, so declines happen too.
  return new LoadRun({
    terminalId: 'fault-pos',
    cards,
    concurrency: 64,
    requests_max: 40_000,
    amountOf: (n) => 1 + ((n * 7_919) % 400),
    cardOf: (n) => (n * 31) % card_count,
    deadline_ms: 5_000,
  });
}

/** Everything the clients saw must be exactly what Redis holds. */
async function verify(redisUrl: string, load: LoadRun, cards: string[]): Promise<void> {
  const inspect = await connectInspector(redisUrl);
  try {
    const outbox = await inspect.outbox();
    const outboxByKey = new Map<string, number>();
    for (const record of outbox) {
      if (record['type'] !== 'transaction') continue;
      outboxByKey.set(String(record['key']), (outboxByKey.get(String(record['key'])) ?? 0) + 1);
    }
    let approvals = 0;
    for (const entry of load.sent.values()) {
      const [first, ...retries] = entry.replies;
      assert.ok(first, `request ${entry.key} was answered`);
      for (const retry of retries) {
        assert.equal(retry.transactionId, first.transactionId, `retry of ${entry.key} returns the original transaction`);
        assert.equal(retry.outcome, first.outcome, `retry of ${entry.key} returns the original outcome`);
      }
      assert.equal(outboxByKey.get(entry.key), 1, `request ${entry.key} is in the outbox exactly once`);
      const stored = await inspect.idempotency(entry.key);
      assert.equal(stored?.id, first.transactionId, `idempotency record of ${entry.key} holds the answer the client saw`);
      if (first.outcome === Outcome.OUTCOME_APPROVED) approvals += 1;
    }
    assert.ok(approvals > 0, 'the load produced approvals');
    const approved = load.approvedByCard();
    for (const cardId of cards) {
      const card = await inspect.card(cardId);
      assert.ok(card, `card ${cardId} exists`);
      assert.ok(card.balanceMinor >= 0, `card ${cardId} balance ${card.balanceMinor} is not negative`);
      assert.equal(initial_balance_minor - card.balanceMinor, approved.get(cardId) ?? 0, `card ${cardId} moved exactly its approvals`);
    }
  } finally {
    await inspect.close();
  }
}

interface Running {
  readonly load: LoadRun;
  readonly cards: string[];
  readonly client: TaplineClient;
}

describe('crashes under load (real processes, SIGKILL)', function () {
  this.timeout(240_000);
  let redis: RedisInstance | undefined;
  const nodes: ServerProcess[] = [];

  afterEach(async function () {
    for (const node of nodes.splice(0)) await node.kill9();
    await redis?.stop();
    redis = undefined;
  });

  /** Starts Redis and a node process, seeds cards, and runs the load until `answered` replies. */
  async function underLoad(
    name: string,
    answered: number,
    overrides: Record<string, string> = {},
  ): Promise<Running & { node: ServerProcess; redisUrl: string }> {
    redis = await startTestRedis(name);
    const node = await startNodeProcess(redis.url, overrides);
    nodes.push(node);
    const client = new TaplineClient(await accessTo(node));
    const cards = await seed(client);
    const load = newLoad(cards);
    load.start(() => client);
    await waitFor(
      `${name}: load before the fault`,
      () => load.answered >= answered,
      () => `${load.answered} answered`,
      60_000,
    );
    return { client, cards, load, node, redisUrl: redis.url };
  }

  /** Stops the load, starts a fresh node, retries every unknown request there. */
  async function recoverOnNewNode(running: Running, redisUrl: string): Promise<TaplineClient> {
    await running.load.stop();
    running.client.close();
    const node = await startNodeProcess(redisUrl);
    nodes.push(node);
    const client = new TaplineClient(await accessTo(node));
    await running.load.settleUnknown(client, 10);
    return client;
  }

  it('kill -9 of the node loses no acknowledged approval and retries move no money twice', async function () {
    const running = await underLoad('fault-node', 3_000);
    await running.node.kill9();
    const unknownAfterCrash = [...running.load.sent.values()].filter((e) => e.replies.length === 0).length;
    const client = await recoverOnNewNode(running, running.redisUrl);
    // A few answered requests retried too: each must get its original answer back.
    const sample = [...running.load.sent.values()].filter((e) => e.replies.length > 0).slice(0, 200);
    await Promise.all(sample.map(async (entry) => entry.replies.push(await client.authorize(entry.request))));
    client.close();
    process.stdout.write(`      (${running.load.sent.size} requests, ${unknownAfterCrash} unknown at the crash and retried)\n`);
    await verify(running.redisUrl, running.load, running.cards);
  });

  it('SIGTERM under load drains gracefully: exit code 0, every accepted request answered or refused as retryable', async function () {
    const running = await underLoad('fault-sigterm', 2_000);
    const code = await running.node.terminate();
    assert.equal(code, 0, 'the node exits cleanly after draining');
    const client = await recoverOnNewNode(running, running.redisUrl);
    client.close();
    await verify(running.redisUrl, running.load, running.cards);
  });

  it('kill -9 of Redis loses no acknowledged approval (AOF fsync before reply)', async function () {
    const running = await underLoad('fault-redis', 3_000, {
      TAPLINE_REDIS_COMMAND_TIMEOUT_MS: '2000',
      TAPLINE_REDIS_RECONNECT_BACKOFF_MAX_MS: '200',
    });
    const { load, client, cards } = running;
    const instance = redis as RedisInstance;
    const acknowledgedBeforeCrash = [...load.sent.values()].filter((e) => e.replies.length > 0).length;
    await instance.kill9();
    // Requests keep failing fast (UNAVAILABLE) while Redis is down.
    await waitFor(
      'requests fail while Redis is down',
      () => [...load.sent.values()].some((e) => e.errors > 0),
      () => 'no errors yet',
      20_000,
    );
    await load.stop();
    await instance.restart();
    await waitFor(
      'node serves again after Redis restart',
      async () => {
        try {
          await client.balance(cards[0] as string);
          return true;
        } catch {
          return false;
        }
      },
      () => `redis ${instance.url}`,
      30_000,
    );
    await load.settleUnknown(client, 10);
    client.close();
    process.stdout.write(`      (${load.sent.size} requests, ${acknowledgedBeforeCrash} acknowledged before Redis was killed)\n`);
    await verify(instance.url, load, cards);
  });
});
