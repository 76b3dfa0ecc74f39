// Proves that a fleet authorization's account and card updates are one atomic, durable commit,
// across a kill -9 of the authorizer node in the middle of a race: 20 cards of one fleet send
// concurrent purchases against a fleet-wide daily limit, the node is SIGKILLed while they run, a
// new node takes over the same Redis, and every request whose answer was lost is retried with the
// same key. Checks: every answer a client saw is the stored one (idempotency record, exactly one
// outbox document); the account's daily counter and balance, and each card's counter, equal the
// sum of the approvals the clients saw; and that sum never exceeds the fleet-wide limit.

import assert from 'node:assert/strict';
import type { RedisInstance } from '../../tools/devenv/redis';
import type { ServerProcess } from '../../tools/devenv/node-process';
import type { AuthorizeRequest, AuthorizeResponse } from '../../gen/tapline/v1/authorization';
import { Outcome } from '../../gen/tapline/v1/types';
import { TaplineClient } from '../../tools/client/tapline-client';
import { FleetClient, fleetPurchase } from '../../tools/client/fleet-client';
import { shardOf } from '../../actors/sharding/shard-key';
import { fleetCardKey, fleetKey } from '../../services/authorizer/store/keys';
import { startNodeProcess, startTestRedis, test_shard_count, waitFor, accessTo } from '../support/harness';
import { connectInspector } from '../support/redis-inspect';

const fleet_id = 'crashfleet';
const card_count = 20;
const requests_total = 3_000;
const daily_limit_minor = 250_000;
const concurrency = 48;

describe('fault: kill -9 during a fleet-wide limit race', function () {
  let redis: RedisInstance;
  let node: ServerProcess | undefined;

  before(async function () {
    redis = await startTestRedis('fleet-crash');
  });

  after(async function () {
    await node?.terminate().catch(() => undefined);
    await redis?.stop();
  });

  it('keeps account, cards, idempotency and outbox consistent and within the limit', async function () {
    node = await startNodeProcess(redis.url);
    let client = new TaplineClient(await accessTo(node));
    const admin = new FleetClient(await accessTo(node));
    await client.registerTerminal('crash-pump', 'crash-station');
    await admin.createAccount({ fleetId: fleet_id, creditLimitMinor: 1_000_000_000, timeZone: 'Europe/Berlin' });
    await admin.setLimits({ fleetId: fleet_id, limits: { dailyMinor: BigInt(daily_limit_minor) }, operatorId: 'ops' });
    const cards: string[] = [];
    for (let i = 0; i < card_count; i++)
      cards.push(
        (await admin.issueCard({ fleetId: fleet_id, cardNo: String(i), limits: undefined, productGroups: undefined, operatorId: 'ops' }))
          .card!.cardId,
      );
    admin.close();

    const requests: AuthorizeRequest[] = Array.from({ length: requests_total }, (_, n) =>
      fleetPurchase('crash-pump', n + 1, cards[(n * 7) % card_count]!, [
        { code: 'diesel', group: 'fuel', amountMinor: 1 + ((n * 7_919) % 400) },
      ]),
    );
    const answers = new Map<number, AuthorizeResponse[]>();
    let next = 0;
    let killed = false;
    let unknown = 0;
    const worker = async (): Promise<void> => {
      while (next < requests_total && !killed) {
        const n = next++;
        try {
          const reply = await client.authorize(requests[n]!, 5_000);
          answers.set(n, [...(answers.get(n) ?? []), reply]);
        } catch {
          // Outcome unknown (the node died): retried below with the same key.
          unknown += 1;
        }
      }
    };
    const running = Promise.all(Array.from({ length: concurrency }, () => worker()));
    await waitFor(
      'load before the kill',
      () => answers.size >= 400,
      () => `${answers.size} answers`,
    );
    await node.kill9();
    killed = true;
    await running;
    client.close();
    assert.ok(unknown > 0, 'the kill left requests whose outcome the client did not learn');

    node = await startNodeProcess(redis.url);
    client = new TaplineClient(await accessTo(node));
    // Every request is sent (again): lost answers are learned, known ones must be replayed as they were.
    for (let start = 0; start < requests_total; start += concurrency) {
      await Promise.all(
        Array.from({ length: Math.min(concurrency, requests_total - start) }, async (_, k) => {
          const n = start + k;
          const reply = await client.authorize(requests[n]!, 10_000);
          answers.set(n, [...(answers.get(n) ?? []), reply]);
        }),
      );
    }
    client.close();

    const inspect = await connectInspector(redis.url);
    try {
      const outbox = await inspect.outbox();
      const docsByKey = new Map<string, number>();
      for (const doc of outbox)
        if (doc['type'] === 'transaction') docsByKey.set(String(doc['key']), (docsByKey.get(String(doc['key'])) ?? 0) + 1);
      let approvedTotal = 0;
      const approvedByCard = new Map<string, number>();
      for (let n = 0; n < requests_total; n++) {
        const [first, ...later] = answers.get(n) ?? [];
        assert.ok(first, `request ${n + 1} answered`);
        for (const reply of later)
          assert.equal(reply.transactionId, first.transactionId, `request ${n + 1} replayed with its first answer`);
        const key = `t:crash-pump:${n + 1}`;
        assert.equal(docsByKey.get(key), 1, `${key} is in the outbox exactly once`);
        assert.equal((await inspect.idempotency(key))?.id, first.transactionId, `${key}'s record is the answer seen`);
        if (first.outcome === Outcome.OUTCOME_APPROVED) {
          const amount = Number(first.approvedAmount?.amountMinor ?? 0n);
          approvedTotal += amount;
          const card = requests[n]!.cardId;
          approvedByCard.set(card, (approvedByCard.get(card) ?? 0) + amount);
        }
      }
      assert.ok(approvedTotal <= daily_limit_minor, `approved ${approvedTotal} within the limit ${daily_limit_minor}`);
      assert.ok(approvedTotal > daily_limit_minor - 400, `the limit was used up (${approvedTotal})`);
      const shard = shardOf('fleet', fleet_id, test_shard_count);
      const account = JSON.parse(String((await inspect.client.hGetAll(fleetKey(shard, fleet_id)))['d'])) as {
        balanceMinor: number;
        spent: { day_minor: number };
      };
      assert.equal(account.spent.day_minor, approvedTotal);
      assert.equal(account.balanceMinor, -approvedTotal);
      for (const cardId of cards) {
        const card = JSON.parse(String((await inspect.client.hGetAll(fleetCardKey(shard, cardId)))['d'])) as {
          spent: { lifetime_minor: number };
        };
        assert.equal(card.spent.lifetime_minor, approvedByCard.get(cardId) ?? 0, `card ${cardId} counted exactly its approvals`);
      }
    } finally {
      await inspect.close();
    }
  });
});
