// Redis adapter of the authorizer: loads entity records, runs the group-commit script, claims
// shard epochs. Every Redis failure leaves here as a typed StoreUnavailableError (StoreTimeoutError
// when Redis did not answer in time), with the client's error as its cause.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { createClient } from 'redis';
import { StoreTimeoutError, StoreUnavailableError } from '../../../actors/errors';
import { redisReplyCode } from '../../common/redis-errors';
import type { StoredRecord } from '../../../actors/runtime/persistence';
import { incarnation_key, shardKeys } from './keys';

/** The part of the node-redis client this adapter uses. */
interface RedisConnection {
  sendCommand(args: (string | Buffer)[]): Promise<unknown>;
  readonly isOpen: boolean;
  readonly isReady: boolean;
  close(): Promise<unknown>;
}

export interface StoreOptions {
  readonly url: string;
  /** Bound on one Redis command, after which its outcome is treated as unknown. */
  readonly command_timeout_ms: number;
  /** Longest wait between reconnect attempts while Redis is down. */
  readonly reconnect_backoff_max_ms: number;
}

/** A Lua script of this folder, sent by its SHA1 (and loaded again when Redis lost it). */
export interface StoreScript {
  readonly source: string;
  readonly sha: string;
}

export function storeScript(file: string): StoreScript {
  const source = readFileSync(join(__dirname, file), 'utf8');
  return { source, sha: createHash('sha1').update(source).digest('hex') };
}

const commit_script = storeScript('commit.lua');

export class RedisStore {
  private readonly client: RedisConnection;

  private constructor(
    client: RedisConnection,
    private readonly options: StoreOptions,
  ) {
    this.client = client;
  }

  static async connect(options: StoreOptions, onError: (error: Error) => void): Promise<RedisStore> {
    const client = createClient({
      url: options.url,
      // Commands issued while disconnected fail at once instead of waiting in a queue: a
      // commit that waited could run long after its caller was told it failed.
      disableOfflineQueue: true,
      socket: {
        connectTimeout: options.command_timeout_ms,
        reconnectStrategy: (retries: number) => Math.min(50 * 2 ** Math.min(retries, 8), options.reconnect_backoff_max_ms),
      },
    });
    client.on('error', onError);
    await client.connect();
    return new RedisStore(client, options);
  }

  async close(): Promise<void> {
    if (this.client.isOpen) await this.client.close();
  }

  get ready(): boolean {
    return this.client.isReady;
  }

  async loadRecord(key: string): Promise<StoredRecord> {
    const [version, data] = await this.command<(string | null)[]>(['HMGET', key, 'v', 'd']);
    return { version: version === null || version === undefined ? 0 : Number(version), data: data ?? undefined };
  }

  async getString(key: string): Promise<string | undefined> {
    const value = await this.command<string | null>(['GET', key]);
    return value ?? undefined;
  }

  /** Runs the commit script on a serialized batch (its ARGV, the body as a buffer); returns its raw reply. */
  async runCommit(args: readonly (string | Buffer)[]): Promise<string[]> {
    return this.runScript<string[]>(commit_script, [], args);
  }

  /** Runs one of the store's scripts with its keys and arguments; returns its raw reply. */
  async runScript<T>(script: StoreScript, keys: readonly string[], args: readonly (string | Buffer)[]): Promise<T> {
    const call: [string, ...(string | Buffer)[]] = ['EVALSHA', script.sha, String(keys.length), ...keys, ...args];
    try {
      return await this.command<T>(call);
    } catch (error) {
      // After a Redis restart the script cache is empty. NOSCRIPT means nothing ran, so
      // loading the script and sending the call again is safe.
      if (redisReplyCode(error) === 'NOSCRIPT') {
        await this.command(['SCRIPT', 'LOAD', script.source]);
        return this.command<T>(call);
      }
      throw error;
    }
  }

  async deleteKey(key: string): Promise<void> {
    await this.command(['DEL', key]);
  }

  /** Takes the given shards: increments each epoch and returns the values now held. */
  async takeShards(shards: readonly number[]): Promise<Map<number, string>> {
    const epochs = await Promise.all(shards.map((shard) => this.command<number>(['INCR', shardKeys(shard).epoch])));
    return new Map(shards.map((shard, index) => [shard, String(epochs[index])]));
  }

  /** One SCAN page (cursor, keys); "0" as the next cursor ends the scan. */
  async scanPage(cursor: string, pattern: string, count: number): Promise<[string, string[]]> {
    return this.command<[string, string[]]>(['SCAN', cursor, 'MATCH', pattern, 'COUNT', String(count)]);
  }

  /** One field of many hashes, sent together (node-redis pipelines concurrent commands). */
  async hashFieldOfMany(keys: readonly string[], field: string): Promise<(string | null)[]> {
    return Promise.all(keys.map((key) => this.command<string | null>(['HGET', key, field])));
  }

  async hashField(key: string, field: string): Promise<string | undefined> {
    const value = await this.command<string | null>(['HGET', key, field]);
    return value ?? undefined;
  }

  /**
   * Read commands for the store's other adapters (denylist.ts), with this client's time-out and
   * typed failures. Commands sent together are pipelined by node-redis.
   */
  async read<T>(args: [string, ...string[]]): Promise<T> {
    return this.command<T>(args);
  }

  async nextIncarnation(): Promise<number> {
    return this.command<number>(['INCR', incarnation_key]);
  }

  private async command<T>(args: [string, ...(string | Buffer)[]]): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new StoreTimeoutError(`redis ${args[0]} timed out`, { command: args[0] })),
        this.options.command_timeout_ms,
      );
    });
    try {
      return (await Promise.race([this.client.sendCommand(args), timeout])) as T;
    } catch (error) {
      if (error instanceof StoreUnavailableError) throw error;
      throw new StoreUnavailableError(`redis ${args[0]} failed`, { command: args[0] }, { cause: error });
    } finally {
      clearTimeout(timer);
    }
  }
}
