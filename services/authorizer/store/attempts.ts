// Attempts at guessable credentials (merchant manager PINs), counted in Redis so every node shares
// one count and a restart forgets nothing (attempts.lua). One hash per subject on its own shard's
// hash tag, with a TTL: memory is bounded by the subjects tried within the TTL.

import { attemptsKey } from './keys';
import { storeScript, type RedisStore } from './redis-store';

const attempts_script = storeScript('attempts.lua');

/** An attempt taken: it may be checked, it may be checked and locks the subject, the subject is locked, or it is the last attempt again (not counted). */
export type AttemptTaken = 'allowed' | 'last' | 'locked' | 'repeated';

export interface AttemptLimits {
  /** Attempts in a row before the subject is locked. */
  readonly attempts_max: number;
  readonly lock_ms: number;
  /** A subject not tried for this long starts from zero (at least lock_ms). */
  readonly ttl_ms: number;
}

/**
 * A day: a guesser who waits for the count to expire gets attempts_max - 1 guesses a day without
 * being locked (four a day: years for a 4-digit PIN), while a manager's typos of last week are gone.
 */
export const attempts_kept_ms = 86_400_000;

/** The manager directory's AttemptCounter (usecases/managers.ts), on Redis. */
export class RedisAttemptCounter {
  constructor(
    private readonly store: RedisStore,
    private readonly limits: AttemptLimits,
  ) {
    if (limits.ttl_ms < limits.lock_ms) throw new Error('assertion: attempts must be kept at least as long as a lock');
  }

  /**
   * Takes one attempt of `subject`. With an `attemptId` (the request and the credential it
   * carries, hashed), the same attempt again (a retry) is not counted twice: 'repeated'.
   */
  async take(shard: number, subject: string, nowMs: number, attemptId = ''): Promise<AttemptTaken> {
    const { attempts_max, lock_ms, ttl_ms } = this.limits;
    const taken = await this.store.runScript<number>(
      attempts_script,
      [attemptsKey(shard, subject)],
      [String(nowMs), String(attempts_max), String(lock_ms), String(ttl_ms), attemptId],
    );
    return taken === 0 ? 'locked' : taken === 2 ? 'last' : taken === 3 ? 'repeated' : 'allowed';
  }

  async clear(shard: number, subject: string): Promise<void> {
    await this.store.deleteKey(attemptsKey(shard, subject));
  }
}
