// Redis adapter of the authorizer: loads entity records, runs the group-commit and key-claim
// scripts, claims shard epochs. Every Redis failure leaves here as a typed StoreUnavailableError
// (StoreTimeoutError when Redis did not answer in time, ReplicationShortError when a write was not
// replicated in time), with the underlying error as its cause. Which server a command goes to is
// services/common/redis-primaries.ts's concern: a key names its slot, the primaries layer its node.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { ReplicationShortError, StoreTimeoutError, StoreUnavailableError } from '../../../actors/errors';
import { redisReplyCode } from '../../common/redis-errors';
import {
  connectPrimaries,
  RedisCommandTimeout,
  ReplicationShort,
  type PrimaryNode,
  type RedisArg,
  type RedisPrimaries,
  type ReplicatedWrite,
} from '../../common/redis-primaries';
import type { RedisTarget } from '../../common/redis-target';
import type { StoredRecord } from '../../../actors/runtime/persistence';
import { incarnation_key, shardKeys } from './keys';

/** One call of a store script: a key of the shard (slot) it runs on, and its arguments. */
export interface ScriptCall {
  readonly shardKey: string;
  readonly args: readonly (string | Buffer)[];
}

export interface StoreOptions {
  readonly target: RedisTarget;
  /** Bound on one Redis command, after which its outcome is treated as unknown. */
  readonly command_timeout_ms: number;
  /** Longest wait between reconnect attempts while Redis is down. */
  readonly reconnect_backoff_max_ms: number;
}

/** A Lua script of this folder, sent by its SHA1 (and loaded again where Redis does not know it). */
export interface StoreScript {
  readonly source: string;
  readonly sha: string;
}

function scriptOf(source: string): StoreScript {
  return { source, sha: createHash('sha1').update(source).digest('hex') };
}

export function storeScript(file: string): StoreScript {
  return scriptOf(readFileSync(join(__dirname, file), 'utf8'));
}

const commit_script = storeScript('commit.lua');
const key_claims_script = storeScript('key-claims.lua');

/** Read again unchanged and written back (KEEPTTL), so the WAIT after it covers the value read. */
const touch_script = scriptOf("local v = redis.call('GET', KEYS[1]) if v then redis.call('SET', KEYS[1], v, 'KEEPTTL') end return v");

export class RedisStore {
  private constructor(private readonly primaries: RedisPrimaries) {}

  static async connect(options: StoreOptions, onError: (error: Error) => void): Promise<RedisStore> {
    try {
      return new RedisStore(
        await connectPrimaries(options.target, {
          command_timeout_ms: options.command_timeout_ms,
          reconnect_backoff_max_ms: options.reconnect_backoff_max_ms,
          onError,
        }),
      );
    } catch (error) {
      throw typed(error, 'CONNECT');
    }
  }

  async close(): Promise<void> {
    await this.primaries.close();
  }

  get ready(): boolean {
    return this.primaries.ready;
  }

  /** True on Redis Cluster: one script per shard, key records claimed beforehand (committer.ts). */
  get sharded(): boolean {
    return this.primaries.sharded;
  }

  async loadRecord(key: string): Promise<StoredRecord> {
    const [version, data] = await this.command<(string | null)[]>(key, ['HMGET', key, 'v', 'd']);
    return { version: version === null || version === undefined ? 0 : Number(version), data: data ?? undefined };
  }

  async getString(key: string): Promise<string | undefined> {
    const value = await this.command<string | null>(key, ['GET', key]);
    return value ?? undefined;
  }

  /**
   * A value, returned only once the replicas required have it: a record a client is answered from
   * (a receipt, an original to reverse) may have been written by a commit whose replication fell
   * short, and must not outlive a failover in the client's hands only.
   */
  async getReplicatedString(key: string): Promise<string | undefined> {
    if (this.primaries.wait_replicas === 0) return this.getString(key);
    const value = await this.script<string | null>(touch_script, [key], [], true);
    return value ?? undefined;
  }

  /**
   * Runs the commit script on a serialized batch (its ARGV, the body as a buffer) on the primary of
   * `shardKey`'s slot, acknowledged once the replicas required have it; returns its raw reply.
   */
  runCommit(shardKey: string, args: readonly (string | Buffer)[]): Promise<string[]> {
    return this.script<string[]>(commit_script, [shardKey], args, true);
  }

  /**
   * Redis Cluster: commit scripts of several shards (each on its slot's primary), with one WAIT per
   * primary after its scripts. Per call its raw reply or its typed failure, in the given order.
   */
  runCommits(calls: readonly ScriptCall[]): Promise<PromiseSettledResult<string[]>[]> {
    return this.scripts<string[]>(commit_script, calls);
  }

  /**
   * Claims key records, one key-claims.lua call per home shard, with one WAIT per primary; per call
   * (per pair: "" or the record key found instead) or its typed failure, in the given order.
   */
  runKeyClaims(calls: readonly ScriptCall[]): Promise<PromiseSettledResult<string[]>[]> {
    return this.scripts<string[]>(key_claims_script, calls);
  }

  /**
   * Runs one of the store's scripts (store/attempts.ts) on the primary of its keys' slot (they must
   * share one: on Redis Cluster a script touches one slot), acknowledged once the replicas required
   * have what it wrote; returns its raw reply.
   */
  runScript<T>(script: StoreScript, keys: readonly [string, ...string[]], args: readonly (string | Buffer)[]): Promise<T> {
    return this.script<T>(script, keys, args, true);
  }

  async deleteKey(key: string): Promise<void> {
    await this.replicated(key, ['DEL', key]);
  }

  /** Takes the given shards: increments each epoch (replicated) and returns the values now held. */
  async takeShards(shards: readonly number[]): Promise<Map<number, string>> {
    const epochs = await Promise.all(
      shards.map((shard) => this.replicated<number>(shardKeys(shard).epoch, ['INCR', shardKeys(shard).epoch])),
    );
    return new Map(shards.map((shard, index) => [shard, String(epochs[index])]));
  }

  /**
   * One SCAN page (cursor, keys); "0" as the next cursor ends the scan. On Redis Cluster the scan
   * walks each primary in turn and the cursor is "<primary id>:<SCAN cursor>"; a cursor of a primary
   * that no longer serves the same slots (a failover, a slot move) cannot be resumed.
   */
  async scanPage(cursor: string, pattern: string, count: number): Promise<[string, string[]]> {
    const scan = (node: PrimaryNode, at: string): Promise<[string, string[]]> =>
      this.guard(node.send<[string, string[]]>(['SCAN', at, 'MATCH', pattern, 'COUNT', String(count)]), 'SCAN');
    if (!this.primaries.sharded) {
      const [node] = await this.guard(this.primaries.primaries(), 'SCAN');
      return scan(node as PrimaryNode, cursor);
    }
    const nodes = await this.guard(this.primaries.primaries(), 'SCAN');
    const [id, at] = cursor === '0' ? [nodes[0]?.id ?? '', '0'] : splitCursor(cursor);
    const index = nodes.findIndex((node) => node.id === id);
    if (index < 0) throw new StoreUnavailableError('the Redis primaries changed during the scan; start it again', { cursor });
    const [next, keys] = await scan(nodes[index] as PrimaryNode, at);
    if (next !== '0') return [`${id}:${next}`, keys];
    const following = nodes[index + 1];
    return [following === undefined ? '0' : `${following.id}:0`, keys];
  }

  /** One field of many hashes, sent together (each to its slot's primary, pipelined). */
  async hashFieldOfMany(keys: readonly string[], field: string): Promise<(string | null)[]> {
    return Promise.all(keys.map((key) => this.command<string | null>(key, ['HGET', key, field])));
  }

  async hashField(key: string, field: string): Promise<string | undefined> {
    const value = await this.command<string | null>(key, ['HGET', key, field]);
    return value ?? undefined;
  }

  /**
   * Read commands for the store's other adapters (denylist.ts), with this client's time-out and
   * typed failures, sent to the primary of their first key's slot (args[1]). Commands sent together
   * are pipelined.
   */
  async read<T>(args: [string, string, ...string[]]): Promise<T> {
    return this.command<T>(args[1], args);
  }

  /**
   * Runs a small script (EVAL; the operator-path scripts are rare enough not to need EVALSHA) on
   * the slot of its keys (one hash tag), answered once the replicas required have it.
   */
  async evalScript<T>(script: string, keys: readonly [string, ...string[]], args: readonly (string | Buffer)[]): Promise<T> {
    return this.replicated<T>(keys[0], ['EVAL', script, String(keys.length), ...keys, ...args]);
  }

  /** Every field of a hash (empty when the key does not exist). */
  async hashAll(key: string): Promise<Record<string, string>> {
    const reply = await this.command<string[] | Record<string, string>>(key, ['HGETALL', key]);
    if (!Array.isArray(reply)) return reply;
    const fields: Record<string, string> = {};
    for (let i = 0; i + 1 < reply.length; i += 2) fields[reply[i] as string] = reply[i + 1] as string;
    return fields;
  }

  /** The first `count` members of a sorted set, lowest score first. */
  async sortedFirst(key: string, count: number): Promise<string[]> {
    return this.command<string[]>(key, ['ZRANGE', key, '0', String(count - 1)]);
  }

  /** A number no node start had before: replicated before it is used, so a failover cannot hand it out twice. */
  async nextIncarnation(): Promise<number> {
    return this.replicated<number>(incarnation_key, ['INCR', incarnation_key]);
  }

  private command<T>(key: string, args: [string, ...RedisArg[]]): Promise<T> {
    return this.guard(this.primaries.send<T>(key, args), args[0]);
  }

  private replicated<T>(key: string, args: [string, ...RedisArg[]]): Promise<T> {
    return this.guard(this.primaries.sendReplicated<T>(key, args), args[0]);
  }

  /**
   * EVALSHA on the slot of `keys` (KEYS; the first routes the call); after NOSCRIPT (nothing ran)
   * the script is loaded on that primary and sent again.
   */
  private async script<T>(
    script: StoreScript,
    keys: readonly [string, ...string[]],
    args: readonly RedisArg[],
    replicated: boolean,
  ): Promise<T> {
    const [route] = keys;
    const call = (): Promise<T> => {
      const command: [string, ...RedisArg[]] = ['EVALSHA', script.sha, String(keys.length), ...keys, ...args];
      return replicated ? this.replicated<T>(route, command) : this.command<T>(route, command);
    };
    try {
      return await call();
    } catch (error) {
      // After a restart or a failover the node's script cache is empty.
      if (redisReplyCode(error) !== 'NOSCRIPT') throw error;
      await this.command(route, ['SCRIPT', 'LOAD', script.source]);
      return call();
    }
  }

  /**
   * Several calls of one script, replicated with one WAIT per primary (sendReplicatedMany). Calls
   * refused NOSCRIPT (nothing ran) are sent again, in one more round, once the script is loaded on
   * their primaries.
   */
  private async scripts<T>(script: StoreScript, calls: readonly ScriptCall[]): Promise<PromiseSettledResult<T>[]> {
    const writes = (indexes: readonly number[]): ReplicatedWrite[] =>
      indexes.map((index) => {
        const call = calls[index] as ScriptCall;
        return { key: call.shardKey, args: ['EVALSHA', script.sha, '1', call.shardKey, ...call.args] };
      });
    const all = calls.map((_, index) => index);
    const results = await this.primaries.sendReplicatedMany<T>(writes(all));
    const missing = all.filter((index) => {
      const outcome = results[index] as PromiseSettledResult<T>;
      return outcome.status === 'rejected' && redisReplyCode(outcome.reason) === 'NOSCRIPT';
    });
    if (missing.length > 0) {
      const keys = [...new Set(missing.map((index) => (calls[index] as ScriptCall).shardKey))];
      await Promise.allSettled(keys.map((key) => this.primaries.send(key, ['SCRIPT', 'LOAD', script.source])));
      const again = await this.primaries.sendReplicatedMany<T>(writes(missing));
      missing.forEach((index, at) => (results[index] = again[at] as PromiseSettledResult<T>));
    }
    return results.map((outcome) =>
      outcome.status === 'fulfilled' ? outcome : { status: 'rejected', reason: typed(outcome.reason, 'EVALSHA') },
    );
  }

  private async guard<T>(work: Promise<T>, command: string): Promise<T> {
    try {
      return await work;
    } catch (error) {
      throw typed(error, command);
    }
  }
}

/** The typed store error of a failure of the primaries layer, with it as the cause. */
function typed(error: unknown, command: string): StoreUnavailableError {
  if (error instanceof StoreUnavailableError) return error;
  if (error instanceof RedisCommandTimeout) return new StoreTimeoutError(`redis ${command} timed out`, { command }, { cause: error });
  if (error instanceof ReplicationShort)
    return new ReplicationShortError(
      `redis ${command} was not replicated in time`,
      { command, acknowledged: error.acknowledged, required: error.required },
      { cause: error },
    );
  return new StoreUnavailableError(`redis ${command} failed`, { command }, { cause: error });
}

function splitCursor(cursor: string): [string, string] {
  const at = cursor.indexOf(':');
  return [cursor.slice(0, at), cursor.slice(at + 1)];
}
