// The one seed every property-based unit test runs with, so a failing run can be replayed exactly:
// FC_SEED=<seed> npx mocha dist/test/unit/<file>.test.js. Without FC_SEED a fresh seed is taken from
// the clock; each suite prints it once before its properties run, and a failure repeats it.

import fc from 'fast-check';

function seedFromEnvironment(): number {
  const text = process.env['FC_SEED'];
  if (text === undefined || text === '') return Date.now() % 2 ** 31;
  const seed = Number(text);
  if (!Number.isSafeInteger(seed)) throw new Error(`FC_SEED must be an integer, got ${JSON.stringify(text)}`);
  return seed;
}

export const fast_check_seed = seedFromEnvironment();

/** Prints the seed at the start of a suite (call from its before hook). */
export function announceSeed(suite: string): void {
  console.log(`      fast-check seed: ${fast_check_seed} (replay with FC_SEED=${fast_check_seed}) [${suite}]`);
}

/** fc.assert with the shared seed; a failure names the seed and how to replay it. */
export function assertProperty<Ts extends [unknown, ...unknown[]]>(property: fc.IProperty<Ts>, numRuns: number): void {
  try {
    fc.assert(property, { seed: fast_check_seed, numRuns });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new Error(`property failed with fast-check seed ${fast_check_seed} (replay with FC_SEED=${fast_check_seed}):\n${message}`, {
      cause: error,
    });
  }
}
