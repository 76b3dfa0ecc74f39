// Proves that a request key is one request whichever shard its card lives on, on one Redis and on
// a Redis Cluster (3 primaries with replicas, commits acknowledged after WAIT 1), though a
// request's record lives on its card's shard (services/authorizer/store/keys.ts): the key record on
// the key's home shard catches a terminal transaction number reused for a card of another shard
// (ALREADY_EXISTS, nothing moved), also when both arrive at once; a reversal that overtook its
// original leaves the key dead for a card of another shard too; a reversal naming another card's
// transaction is refused; a retry returns the original answer; a receipt is found. A replacement
// onto another shard commits on one Redis and is refused on a Cluster, where a script writes one
// slot. Real node, real gRPC, real Redis; card ids are chosen so that the cards and the key's home
// shard are three different shards.

import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import type { AuthorizerNode } from '../../services/authorizer/node';
import { homeShardOfRequestKey, shardOf } from '../../actors/sharding/shard-key';
import { terminalTxnKey } from '../../actors/request-keys';
import { TaplineClient, purchase } from '../../tools/client/tapline-client';
import { CardClient } from '../../tools/client/card-client';
import { DeclineReason, Outcome } from '../../gen/tapline/v1/types';
import { ReverseResult } from '../../gen/tapline/v1/authorization';
import type { RedisInstance } from '../../tools/devenv/redis';
import type { RedisClusterSet } from '../../tools/devenv/redis-ha';
import { accessTo, clusterEnv, startInProcessNode, startTestRedis, startTestRedisCluster, test_shard_count } from '../support/harness';

/** The first id `<prefix>-<n>` whose card shard is none of `avoid`. */
function cardAvoiding(prefix: string, avoid: readonly number[]): string {
  for (let n = 0; ; n++) if (!avoid.includes(shardOf('card', `${prefix}-${n}`, test_shard_count))) return `${prefix}-${n}`;
}

/** Two cards and a terminal transaction number whose key's home shard is neither card's. */
function spreadOver(name: string, terminal: string, txn: number): { a: string; b: string; key: string } {
  const key = terminalTxnKey(terminal, txn);
  const home = homeShardOfRequestKey(key, test_shard_count);
  const a = cardAvoiding(`${name}-a`, [home]);
  const b = cardAvoiding(`${name}-b`, [home, shardOf('card', a, test_shard_count)]);
  return { a, b, key };
}

for (const shape of ['one Redis', 'Redis Cluster'] as const) {
  describe(`request keys across shards (${shape}, real node)`, function () {
    this.timeout(120_000);
    let redis: RedisInstance | undefined;
    let cluster: RedisClusterSet | undefined;
    let node: AuthorizerNode;
    let client: TaplineClient;
    let cards: CardClient;
    const terminal = 'keys-pos';

    before(async function () {
      if (shape === 'one Redis') {
        redis = await startTestRedis('request-keys');
        node = await startInProcessNode(redis.url);
      } else {
        cluster = await startTestRedisCluster('request-keys-cluster');
        node = await startInProcessNode('redis://127.0.0.1:1', clusterEnv(cluster));
      }
      client = new TaplineClient(await accessTo(node));
      cards = new CardClient(await accessTo(node));
      await client.registerTerminal(terminal, 'keys-merchant');
    });

    after(async function () {
      client?.close();
      cards?.close();
      await node?.shutdown();
      await redis?.stop();
      await cluster?.stop();
    });

    it('refuses a terminal transaction number reused for a card of another shard, moving nothing; the first request keeps its answer', async () => {
      const { a, b } = spreadOver('reuse', terminal, 1);
      await client.issueCard(a, 1_000);
      await client.issueCard(b, 1_000);
      const first = await client.authorize(purchase(terminal, 1, a, 300));
      assert.equal(first.outcome, Outcome.OUTCOME_APPROVED);
      await assert.rejects(
        client.authorize(purchase(terminal, 1, b, 300)),
        (e: grpc.ServiceError) => e.code === grpc.status.ALREADY_EXISTS,
      );
      assert.equal((await client.balance(b)).balance?.amountMinor, 1_000n, 'the other card moved nothing');
      const retry = await client.authorize(purchase(terminal, 1, a, 300));
      assert.equal(retry.transactionId, first.transactionId, 'the retry returns the original answer');
      assert.equal((await client.balance(a)).balance?.amountMinor, 700n, 'the first card moved once');
    });

    it('of one key sent for two cards of different shards at once, exactly one request moves money', async () => {
      const { a, b } = spreadOver('race', terminal, 2);
      await client.issueCard(a, 1_000);
      await client.issueCard(b, 1_000);
      const answers = await Promise.allSettled([
        client.authorize(purchase(terminal, 2, a, 100)),
        client.authorize(purchase(terminal, 2, b, 100)),
      ]);
      const approved = answers.filter((answer) => answer.status === 'fulfilled' && answer.value.outcome === Outcome.OUTCOME_APPROVED);
      const refused = answers.filter(
        (answer) => answer.status === 'rejected' && (answer.reason as grpc.ServiceError).code === grpc.status.ALREADY_EXISTS,
      );
      assert.deepEqual([approved.length, refused.length], [1, 1], JSON.stringify(answers.map((answer) => answer.status)));
      const balances = [(await client.balance(a)).balance?.amountMinor, (await client.balance(b)).balance?.amountMinor].sort(
        (x, y) => Number(x) - Number(y),
      );
      assert.deepEqual(balances, [900n, 1_000n], 'one card paid once, the other nothing');
    });

    it('a reversal that overtook its original leaves the key dead for a card of another shard too', async () => {
      const { a, b } = spreadOver('tomb', terminal, 3);
      await client.issueCard(a, 1_000);
      await client.issueCard(b, 1_000);
      const reversal = await client.reverse(terminal, 4, a, { terminalId: terminal, txn: 3 });
      assert.equal(reversal.result, ReverseResult.REVERSE_RESULT_NOTHING_TO_REVERSE);
      const late = await client.authorize(purchase(terminal, 3, b, 100));
      assert.equal(late.outcome, Outcome.OUTCOME_DECLINED);
      assert.equal(late.declineReason, DeclineReason.DECLINE_REASON_REVERSED_BEFORE_AUTHORIZATION);
      assert.equal((await client.balance(b)).balance?.amountMinor, 1_000n);
    });

    it("refuses a reversal naming another shard's card's transaction, and finds a receipt on the card's shard", async () => {
      const { a, b } = spreadOver('other', terminal, 5);
      await client.issueCard(a, 1_000);
      await client.issueCard(b, 1_000);
      const original = await client.authorize(purchase(terminal, 5, a, 250));
      assert.equal(original.outcome, Outcome.OUTCOME_APPROVED);
      await assert.rejects(
        client.reverse(terminal, 6, b, { terminalId: terminal, txn: 5 }),
        (e: grpc.ServiceError) => e.code === grpc.status.INVALID_ARGUMENT,
      );
      assert.equal((await client.balance(a)).balance?.amountMinor, 750n, 'the original stands');
      const till = await client.terminal(terminal);
      const receipt = await new Promise<{ transactionId: string }>((resolve, reject) =>
        till.getReceipt(
          { cardId: a, transaction: { ref: { $case: 'terminalTxn', value: { terminalId: terminal, txnNumber: 5n } } } },
          (error, value) => (error === null ? resolve(value) : reject(error)),
        ),
      );
      assert.equal(receipt.transactionId, original.transactionId);
    });

    it(
      shape === 'one Redis'
        ? 'replaces a card by one on another shard in one commit'
        : 'refuses to replace a card by one on another shard (FAILED_PRECONDITION), changing nothing',
      async () => {
        const old = cardAvoiding('replace-old', []);
        const replacement = cardAvoiding('replace-new', [shardOf('card', old, test_shard_count)]);
        await client.issueCard(old, 500);
        if (shape === 'one Redis') {
          const reply = await cards.replace(old, replacement);
          assert.equal(reply.alreadyReplaced, false);
          assert.equal((await client.balance(replacement)).balance?.amountMinor, 500n);
          return;
        }
        await assert.rejects(cards.replace(old, replacement), (e: grpc.ServiceError) => e.code === grpc.status.FAILED_PRECONDITION);
        assert.equal((await client.balance(old)).balance?.amountMinor, 500n);
        await assert.rejects(client.balance(replacement), (e: grpc.ServiceError) => e.code === grpc.status.NOT_FOUND);
      },
    );
  });
}
