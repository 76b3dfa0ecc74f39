// The shard region answers through reply callbacks (an Outcome, exactly once); use cases compose
// several such calls and read better as promises. This is the one adapter between the two.

import type { Outcome } from '../../../actors/errors';

/** Starts a region call and settles with its answer: resolved with the value, rejected with its typed error. */
export function outcomeOf<V>(start: (reply: (outcome: Outcome<V>) => void) => void): Promise<V> {
  return new Promise<V>((resolve, reject) => {
    start((outcome) => (outcome.ok ? resolve(outcome.value) : reject(outcome.error)));
  });
}

/**
 * Runs `work` over `items` with at most `concurrency` in flight, in order of the items. The first
 * failure rejects the whole run and stops handing out further items (those in flight finish).
 */
export async function forEachBounded<T>(items: readonly T[], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (!failed && next < items.length) {
      const item = items[next++] as T;
      try {
        await work(item);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}
