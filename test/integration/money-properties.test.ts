// Property-based money test against the real node (gRPC, group commit, Redis). fast-check draws
// random sequences of purchases, top-ups, reversals (of earlier requests, including ones never
// sent), and retries of earlier requests, over a few cards. Each sequence is sent in waves of
// concurrent requests. Checks after every wave and at the end:
//  - a retry returns exactly the original answer (same transaction, same outcome);
//  - no card balance is ever seen below zero;
//  - each card's balance in Redis = initial + approved top-ups - approved purchases + reversed;
//  - the outbox holds exactly one entry per request key.
// The seed is printed; replay with FC_SEED=<seed>.

import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { RedisInstance } from '../../tools/devenv/redis';
import type { AuthorizerNode } from '../../services/authorizer/node';
import { TaplineClient, purchase } from '../../tools/client/tapline-client';
import { DeclineReason, Outcome } from '../../gen/tapline/v1/types';
import { ReverseResult } from '../../gen/tapline/v1/authorization';
import { startInProcessNode, startTestRedis, accessTo } from '../support/harness';
import { connectInspector, type Inspector } from '../support/redis-inspect';

const seed = Number(process.env['FC_SEED'] ?? Date.now() % 2 ** 31);
const initial_minor = 1_000;

type Op =
  | { kind: 'purchase'; card: number; amount: number }
  | { kind: 'top_up'; card: number; amount: number }
  | { kind: 'reverse'; card: number; target: number }
  | { kind: 'retry'; target: number };

const opArbitrary: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({ kind: fc.constant('purchase' as const), card: fc.nat(2), amount: fc.integer({ min: 1, max: 600 }) }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('top_up' as const), card: fc.nat(2), amount: fc.integer({ min: 1, max: 500 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('reverse' as const), card: fc.nat(2), target: fc.nat(40) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('retry' as const), target: fc.nat(40) }) },
);

describe('money properties over random operation sequences (real node, real Redis)', function () {
  this.timeout(180_000);
  let redis: RedisInstance;
  let node: AuthorizerNode;
  let client: TaplineClient;
  let inspect: Inspector;
  let run = 0;

  before(async function () {
    process.stdout.write(`      fast-check seed: ${seed} (replay with FC_SEED=${seed})\n`);
    redis = await startTestRedis('money-properties');
    node = await startInProcessNode(redis.url);
    client = new TaplineClient(await accessTo(node));
    inspect = await connectInspector(redis.url);
    await client.registerTerminal('prop-pos', 'prop-merchant');
  });

  after(async function () {
    client?.close();
    await inspect?.close();
    await node?.shutdown();
    await redis?.stop();
  });

  it('keeps balances exact, never negative, equal to the sum of movements; retries are exact', async function () {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(opArbitrary, { minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 6 }), async (waves) => {
        run += 1;
        const cards = [0, 1, 2].map((i) => `prop-${run}-${i}`);
        for (const id of cards) await client.issueCard(id, initial_minor);
        // Every request this run has sent, by its position; the answer the client saw first.
        const sent: {
          txn: number;
          card: string;
          kind: 'purchase' | 'top_up' | 'reverse';
          amount: number;
          send: () => Promise<{ id: string; outcome: string; amount: number }>;
        }[] = [];
        const firstAnswer = new Map<number, { id: string; outcome: string; amount: number }>();
        let txn = run * 1_000;

        const makeSend = (
          op: Exclude<Op, { kind: 'retry' }>,
          own: number,
        ): (() => Promise<{ id: string; outcome: string; amount: number }>) => {
          const card = cards[op.card] as string;
          if (op.kind === 'purchase') {
            return async () => {
              const r = await client.authorize(purchase('prop-pos', own, card, op.amount));
              // A purchase whose reversal overtook it is declined from the reversal's tombstone.
              const tombstoned = r.declineReason === DeclineReason.DECLINE_REASON_REVERSED_BEFORE_AUTHORIZATION;
              return {
                id: r.transactionId,
                outcome: r.outcome === Outcome.OUTCOME_APPROVED ? 'approved' : tombstoned ? 'tombstoned' : 'declined',
                amount: Number(r.approvedAmount?.amountMinor),
              };
            };
          }
          if (op.kind === 'top_up') {
            return async () => {
              const r = await client.topUp(card, op.amount, { terminalId: 'prop-pos', txn: own });
              const tombstoned = r.declineReason === DeclineReason.DECLINE_REASON_REVERSED_BEFORE_AUTHORIZATION;
              return {
                id: r.transactionId,
                outcome: r.outcome === Outcome.OUTCOME_APPROVED ? 'approved' : tombstoned ? 'tombstoned' : 'declined',
                amount: op.amount,
              };
            };
          }
          // Reverse the target-th request of this run if it exists, else a number never sent.
          const target = sent[op.target];
          const originalTxn = target ? target.txn : run * 1_000 + 900 + op.target;
          return async () => {
            const r = await client.reverse('prop-pos', own, card, { terminalId: 'prop-pos', txn: originalTxn });
            // A reversal whose own key a later reversal tombstoned gets the tombstone's answer.
            const tombstoned = r.result === ReverseResult.REVERSE_RESULT_REVERSED_BEFORE_ARRIVAL;
            return {
              id: r.transactionId,
              outcome: tombstoned ? 'tombstoned' : ReverseResult[r.result],
              amount: Number(r.reversedAmount?.amountMinor),
            };
          };
        };

        for (const wave of waves) {
          const work: Promise<void>[] = [];
          for (const op of wave) {
            if (op.kind === 'retry') {
              const target = sent[op.target];
              if (!target) continue;
              const index = sent.indexOf(target);
              work.push(
                target.send().then(
                  (answer) => {
                    const first = firstAnswer.get(index);
                    if (first) assert.deepEqual(answer, first, `retry of request ${index} returns the original answer`);
                  },
                  (error: { code?: number }) => {
                    // A refused reversal (another card's transaction) is refused again on retry.
                    if (target.kind !== 'reverse' || error.code !== 3) throw error;
                    const first = firstAnswer.get(index);
                    if (first) assert.equal(first.outcome, 'refused', `retry of request ${index} refused like the original`);
                  },
                ),
              );
              continue;
            }
            const own = ++txn;
            const entry = {
              txn: own,
              card: cards[op.card] as string,
              kind: op.kind,
              amount: op.kind === 'reverse' ? 0 : op.amount,
              send: makeSend(op, own),
            };
            sent.push(entry);
            const index = sent.length - 1;
            work.push(
              entry.send().then(
                (answer) => {
                  if (!firstAnswer.has(index)) firstAnswer.set(index, answer);
                },
                (error: { code?: number }) => {
                  // A reversal naming another card's transaction is refused (INVALID_ARGUMENT) and changes nothing.
                  if (op.kind !== 'reverse' || error.code !== 3) throw error;
                  firstAnswer.set(index, { id: '', outcome: 'refused', amount: 0 });
                },
              ),
            );
          }
          await Promise.all(work);
          for (const id of cards) {
            const balance = await client.balance(id);
            assert.ok((balance.balance?.amountMinor ?? -1n) >= 0n, `balance of ${id} never negative`);
          }
        }

        // Ledger check: every card's balance equals initial + its approved movements.
        for (const id of cards) {
          let expected = initial_minor;
          sent.forEach((entry, index) => {
            const answer = firstAnswer.get(index);
            if (entry.card !== id || answer === undefined) return;
            if (entry.kind === 'purchase' && answer.outcome === 'approved') expected -= answer.amount;
            if (entry.kind === 'top_up' && answer.outcome === 'approved') expected += answer.amount;
            if (entry.kind === 'reverse' && answer.outcome === 'REVERSE_RESULT_REVERSED') expected += answer.amount;
          });
          assert.equal((await inspect.card(id))?.balanceMinor, expected, `balance of ${id} is the sum of its movements`);
        }
        const keys = new Map<string, number>();
        const reversedOriginals = new Set<string>();
        for (const record of await inspect.outbox()) {
          if (record['type'] !== 'transaction' || !String(record['card']).startsWith(`prop-${run}-`)) continue;
          keys.set(String(record['key']), (keys.get(String(record['key'])) ?? 0) + 1);
          if (record['kind'] === 'reverse') reversedOriginals.add(String(record['original']));
        }
        for (const [key, count] of keys) assert.equal(count, 1, `outbox holds ${key} once`);
        const keyOf = (index: number): string => `t:prop-pos:${(sent[index] as { txn: number }).txn}`;
        // A tombstoned purchase has no entry of its own: the reversal that overtook it has one.
        sent.forEach((_, index) => {
          if (firstAnswer.get(index)?.outcome === 'tombstoned')
            assert.ok(reversedOriginals.has(keyOf(index)), `a reversal entry names ${keyOf(index)}`);
        });
        const answeredKeys = sent
          .filter((_, index) => !['refused', 'tombstoned'].includes(firstAnswer.get(index)?.outcome ?? ''))
          .map((entry) => `t:prop-pos:${entry.txn}`);
        const missing = answeredKeys.filter((key) => !keys.has(key));
        assert.deepEqual(
          missing,
          [],
          `every answered request has its outbox entry (missing: ${missing.map((k) => JSON.stringify(sent.find((e) => `t:prop-pos:${e.txn}` === k))).join(', ')})`,
        );
        assert.equal(keys.size, answeredKeys.length, 'one outbox entry per answered request');
      }),
      { seed, numRuns: 25, endOnFailure: true },
    );
  });
});
