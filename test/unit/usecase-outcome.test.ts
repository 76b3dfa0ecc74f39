// Proves the two helpers the use cases compose region calls with
// (services/authorizer/usecases/outcome.ts): outcomeOf settles with the region's answer (value or
// typed error), and forEachBounded, which runs the per-card calls of a bulk issuance or a refund
// run, never has more than its bound in flight, visits every item once, and after the first
// failure starts no further item and rejects with that failure.

import assert from 'node:assert/strict';
import { notFound } from '../../actors/errors';
import { forEachBounded, outcomeOf } from '../../services/authorizer/usecases/outcome';

/** Resolves after the current microtasks and one macrotask: lets started work pile up. */
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('use-case outcome helpers', () => {
  it('outcomeOf resolves with an Outcome value and rejects with its typed error', async () => {
    assert.equal(await outcomeOf<number>((reply) => reply({ ok: true, value: 42 })), 42);
    const missing = notFound('no such card');
    await assert.rejects(
      outcomeOf<number>((reply) => setImmediate(() => reply({ ok: false, error: missing }))),
      (error) => error === missing,
    );
  });

  it('forEachBounded visits every item once with at most the bound in flight', async () => {
    const items = Array.from({ length: 50 }, (_, i) => i);
    const seen: number[] = [];
    let inFlight = 0;
    let peak = 0;
    await forEachBounded(items, 7, async (item) => {
      inFlight += 1;
      peak = Math.max(peak, inFlight);
      await turn();
      seen.push(item);
      inFlight -= 1;
    });
    assert.deepEqual(
      [...seen].sort((a, b) => a - b),
      items,
    );
    assert.equal(peak, 7, 'the bound is used and never passed');
  });

  it('forEachBounded stops handing out items after the first failure and rejects with it', async () => {
    const items = Array.from({ length: 100 }, (_, i) => i);
    const started: number[] = [];
    const failure = new Error('item 10 failed');
    await assert.rejects(
      forEachBounded(items, 4, async (item) => {
        started.push(item);
        await turn();
        if (item === 10) throw failure;
      }),
      (error) => error === failure,
    );
    // Let the workers still holding an item finish: none may pick up another.
    for (let i = 0; i < 5; i++) await turn();
    assert.ok(
      started.length <= 10 + 4,
      `at most the bound of items start after the failing one; started ${started.length}: ${started.join(',')}`,
    );
    assert.ok(!started.includes(20), 'items far past the failure never start');
  });

  it('forEachBounded with no items resolves at once', async () => {
    let calls = 0;
    await forEachBounded([], 8, () => {
      calls += 1;
      return Promise.resolve();
    });
    assert.equal(calls, 0);
  });
});
