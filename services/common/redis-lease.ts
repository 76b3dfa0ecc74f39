// A lease in Redis: at most one holder of a named job at a time across every process that runs it
// (the event relay, the settlement scheduler). Whoever holds the key's token holds the job until
// the key's TTL runs out; the holder renews it well before that. A holder that pauses longer than
// the TTL loses the job to another process, so every write the job makes is fenced: it runs in a
// Lua script that first checks the lease key still holds this holder's token (`fencedEval`), and
// is refused otherwise. A stale holder therefore never overwrites its successor's progress.
//
//   <key>   string  "<holder>/<random>" with PX ttl_ms
//
// The random part tells two incarnations of one holder name apart (a restarted pod keeps its name).

import { randomUUID } from 'node:crypto';

/** What the lease needs of a Redis connection (node-redis' sendCommand). */
export interface RedisCommands {
  sendCommand(args: string[]): Promise<unknown>;
}

// KEYS[1] lease; ARGV token, ttl_ms. Takes a free lease or renews our own; answers 1 when held.
const hold_script = `
local current = redis.call('GET', KEYS[1])
if current == false then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
if current == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0`;

// KEYS[1] lease; ARGV token. Gives the lease up only if it is still ours.
const release_script = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/** The prologue of a fenced script: KEYS[1] is the lease, ARGV[1] the token; anything else answers 'fenced'. */
export const fence_prologue = `if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 'fenced' end\n`;

export class RedisLease {
  readonly token: string;

  constructor(
    private readonly redis: RedisCommands,
    readonly key: string,
    holder: string,
    /** How long the lease lasts without renewal: a crashed holder's job waits this long for another. */
    readonly ttl_ms: number,
  ) {
    this.token = `${holder}/${randomUUID()}`;
  }

  /** Takes the lease if it is free or renews it if it is ours; true when this holder has it now. */
  async hold(): Promise<boolean> {
    return Number(await this.redis.sendCommand(['EVAL', hold_script, '1', this.key, this.token, String(this.ttl_ms)])) === 1;
  }

  /** Lets another holder take the job at once (on shutdown) instead of after the TTL. */
  async release(): Promise<void> {
    await this.redis.sendCommand(['EVAL', release_script, '1', this.key, this.token]);
  }

  /**
   * Runs `body` (Lua) only while this holder has the lease: the script gets the lease as KEYS[1]
   * and the token as ARGV[1] before the caller's keys and arguments, and answers 'fenced' when the
   * lease is another's. `body` sees its own keys from KEYS[2] and arguments from ARGV[2].
   */
  async fencedEval(body: string, keys: readonly string[], args: readonly string[]): Promise<unknown> {
    return this.redis.sendCommand(['EVAL', fence_prologue + body, String(keys.length + 1), this.key, ...keys, this.token, ...args]);
  }
}
