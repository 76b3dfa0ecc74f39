// Proves that recovery traffic is served after Redis comes back: a real node process and a real
// Redis (AOF, fsync always). 200 clients keep retrying their request with the same key (a
// terminal's retry loop) on two hot cards while Redis hangs (SIGSTOP: the node gives up on the
// commits it sent, their outcome unknown to it), resumes long enough to apply what it had queued,
// and is killed (SIGKILL) and restarted. So when the node serves again, many retries are of requests
// Redis has a record of that the node does not know about, interleaved with requests never
// decided. Every retry must then be answered: the recorded ones replayed from their records, the
// others decided after a reload of their card; none shed as UNAVAILABLE because the card's state
// "kept changing" (a replay found at commit time used to make every decision chained after it
// conflict, and each of those conflicts burned an attempt as if two live decisions had raced).
// Money is exact afterwards: each card moved exactly the approvals its clients saw.

import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import type { RedisInstance } from '../../tools/devenv/redis';
import type { ServerProcess } from '../../tools/devenv/node-process';
import { TaplineClient, purchase } from '../../tools/client/tapline-client';
import type { AuthorizeRequest, AuthorizeResponse } from '../../gen/tapline/v1/authorization';
import { Outcome } from '../../gen/tapline/v1/types';
import { accessTo, startNodeProcess, startTestRedis, waitFor } from '../support/harness';
import { connectInspector } from '../support/redis-inspect';

const clients_count = 200;
const requests_per_client = 30;
const hot_cards = ['hot-0', 'hot-1'];
const initial_balance_minor = 100_000_000;
/** A client pauses this long between two tries of its request (a terminal's quick retry). */
const retry_pause_ms = 10;
/** The node gives a Redis command up after this long (its outcome is then unknown). */
const command_timeout_ms = 500;

interface Entry {
  readonly request: AuthorizeRequest;
  readonly cardId: string;
  readonly amountMinor: number;
  reply: AuthorizeResponse | undefined;
}

/** Failures the clients saw, by status and message. */
class Failures {
  readonly byReason = new Map<string, number>();
  count(error: grpc.ServiceError): void {
    const reason = `${grpc.status[error.code]}: ${error.details}`;
    this.byReason.set(reason, (this.byReason.get(reason) ?? 0) + 1);
  }
  get total(): number {
    let total = 0;
    for (const count of this.byReason.values()) total += count;
    return total;
  }
  describe(): string {
    return [...this.byReason.entries()].map(([reason, count]) => `${count} x ${reason}`).join('; ') || 'none';
  }
}

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('recovery traffic after Redis comes back is served (real node process, real Redis, SIGSTOP / SIGKILL)', function () {
  this.timeout(180_000);
  let redis: RedisInstance | undefined;
  let node: ServerProcess | undefined;

  afterEach(async function () {
    if (redis !== undefined) process.kill(redis.pid, 'SIGCONT');
    await node?.kill9();
    await redis?.stop();
    node = undefined;
    redis = undefined;
  });

  it('200 same-key retry loops on hot cards: once Redis is back every retry is answered, replays from their records', async function () {
    redis = await startTestRedis('redis-restart-retries');
    const instance = redis;
    node = await startNodeProcess(instance.url, {
      TAPLINE_REDIS_COMMAND_TIMEOUT_MS: String(command_timeout_ms),
      TAPLINE_REDIS_RECONNECT_BACKOFF_MAX_MS: '100',
      // The hot cards hold more than the four-eyes bound; a second approver is not what this test is about.
      TAPLINE_FOUR_EYES_AMOUNT_MINOR: String(initial_balance_minor),
    });
    const client = new TaplineClient(await accessTo(node));
    await client.registerTerminal('retry-pos', 'retry-merchant');
    for (const cardId of hot_cards) await client.issueCard(cardId, initial_balance_minor);
    const sequences: Entry[][] = Array.from({ length: clients_count }, (_, c) =>
      Array.from({ length: requests_per_client }, (_, j) => {
        const cardId = hot_cards[c % hot_cards.length] as string;
        const amountMinor = 1 + ((c * 7 + j) % 50);
        return {
          request: purchase('retry-pos', c * requests_per_client + j + 1, cardId, amountMinor),
          cardId,
          amountMinor,
          reply: undefined,
        };
      }),
    );
    const all = sequences.flat();
    const answered = (): number => all.filter((entry) => entry.reply !== undefined).length;

    let recovered = false;
    const afterRecovery = new Failures();
    const beforeRecovery = new Failures();
    const loops = sequences.map(async (sequence) => {
      for (const entry of sequence) {
        while (entry.reply === undefined) {
          try {
            entry.reply = await client.authorize(entry.request, 5_000);
          } catch (error) {
            (recovered ? afterRecovery : beforeRecovery).count(error as grpc.ServiceError);
            await pause(retry_pause_ms);
          }
        }
      }
    });

    await waitFor(
      'load before Redis hangs',
      () => answered() >= 1_500,
      () => `${answered()} answered`,
      60_000,
      5,
    );
    // Redis hangs: the commits on the wire stall and the node gives them up (outcome unknown).
    process.kill(instance.pid, 'SIGSTOP');
    await pause(command_timeout_ms * 4);
    // It resumes and applies what it had queued (the node no longer waits for those answers),
    // then it is killed and started again from its AOF.
    process.kill(instance.pid, 'SIGCONT');
    await pause(200);
    await instance.kill9();
    await instance.restart();
    await waitFor(
      'the node serves again after the Redis restart',
      async () => {
        try {
          await client.balance(hot_cards[0] as string);
          return true;
        } catch {
          return false;
        }
      },
      () => `redis ${instance.url}`,
      30_000,
    );
    recovered = true;
    await waitFor(
      'every request answered after recovery',
      () => answered() === all.length,
      () => `${all.length - answered()} without an answer; failures since recovery: ${afterRecovery.describe()}`,
      90_000,
    );
    await Promise.all(loops);
    client.close();
    process.stdout.write(`      (before recovery: ${beforeRecovery.describe()})\n      (after recovery: ${afterRecovery.describe()})\n`);
    assert.equal(afterRecovery.total, 0, `every retry once the node serves again is answered; seen: ${afterRecovery.describe()}`);
    const replayed = all.filter((entry) => entry.reply?.replayed === true).length;
    assert.ok(replayed > 0, 'some retries were of requests Redis had recorded while the node answered UNAVAILABLE: replayed');

    const inspect = await connectInspector(instance.url);
    try {
      for (const cardId of hot_cards) {
        const approved = all
          .filter((entry) => entry.cardId === cardId && entry.reply?.outcome === Outcome.OUTCOME_APPROVED)
          .reduce((sum, entry) => sum + entry.amountMinor, 0);
        const card = await inspect.card(cardId);
        assert.equal(initial_balance_minor - (card?.balanceMinor ?? 0), approved, `card ${cardId} moved exactly its approvals`);
      }
    } finally {
      await inspect.close();
    }
  });
});
