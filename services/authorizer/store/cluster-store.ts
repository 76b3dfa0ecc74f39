// Redis adapter of cluster membership and shard leases (cluster.lua). It uses its own connection
// so that heartbeats and lease renewals never queue behind a large commit batch.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createClient } from 'redis';
import { StoreTimeoutError, StoreUnavailableError } from '../../../actors/errors';
import { redisReplyCode } from '../../common/redis-errors';
import { shardKeys, shardLeaseKey } from './keys';

const cluster_script = readFileSync(join(__dirname, 'cluster.lua'), 'utf8');

export interface Member {
  readonly nodeId: string;
  /** Advertised internal address (host:port) peers forward to. */
  readonly address: string;
}

export interface ClusterStoreOptions {
  readonly url: string;
  readonly command_timeout_ms: number;
  readonly reconnect_backoff_max_ms: number;
}

interface Connection {
  sendCommand(args: string[]): Promise<unknown>;
  readonly isOpen: boolean;
  close(): Promise<unknown>;
}

export class ClusterStore {
  private sha: string | undefined;

  private constructor(
    private readonly client: Connection,
    private readonly options: ClusterStoreOptions,
  ) {}

  static async connect(options: ClusterStoreOptions, onError: (error: Error) => void): Promise<ClusterStore> {
    const client = createClient({
      url: options.url,
      disableOfflineQueue: true,
      socket: {
        connectTimeout: options.command_timeout_ms,
        reconnectStrategy: (retries: number) => Math.min(50 * 2 ** Math.min(retries, 8), options.reconnect_backoff_max_ms),
      },
    });
    client.on('error', onError);
    await client.connect();
    return new ClusterStore(client, options);
  }

  async close(): Promise<void> {
    if (this.client.isOpen) await this.client.close();
  }

  /** Registers or refreshes this node's membership; returns the live members (itself included). */
  async heartbeat(self: Member, ttl_ms: number): Promise<Member[]> {
    const flat = await this.run<string[]>(['heartbeat', self.nodeId, self.address, String(ttl_ms)]);
    const members: Member[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) members.push({ nodeId: flat[i] as string, address: flat[i + 1] as string });
    return members;
  }

  async leave(nodeId: string): Promise<void> {
    await this.run(['leave', nodeId]);
  }

  /** Takes shards whose lease is free (or this node's own); returns the epochs of those taken. */
  async take(nodeId: string, shards: readonly number[], lease_ms: number): Promise<Map<number, string>> {
    if (shards.length === 0) return new Map();
    const args = ['take', nodeId, String(lease_ms)];
    for (const shard of shards) args.push(shardKeys(shard).epoch, shardLeaseKey(shard));
    const epochs = await this.run<string[]>(args);
    const taken = new Map<number, string>();
    shards.forEach((shard, index) => {
      const epoch = epochs[index];
      if (epoch !== undefined && epoch !== '') taken.set(shard, epoch);
    });
    return taken;
  }

  /** Extends the leases of held shards; returns the shards found lost (fenced by a new owner). */
  async renew(nodeId: string, held: ReadonlyMap<number, string>, lease_ms: number): Promise<number[]> {
    if (held.size === 0) return [];
    const args = ['renew', nodeId, String(lease_ms)];
    const shards = [...held.keys()];
    for (const shard of shards) args.push(shardKeys(shard).epoch, shardLeaseKey(shard), held.get(shard) as string);
    const answers = await this.run<string[]>(args);
    return shards.filter((_, index) => answers[index] !== '1');
  }

  /** Deletes this node's leases of the given shards (graceful hand-off). */
  async release(nodeId: string, held: ReadonlyMap<number, string>): Promise<void> {
    if (held.size === 0) return;
    const args = ['release', nodeId];
    for (const [shard, epoch] of held) args.push(shardKeys(shard).epoch, shardLeaseKey(shard), epoch);
    await this.run(args);
  }

  private async run<T>(args: string[]): Promise<T> {
    this.sha ??= String(await this.command(['SCRIPT', 'LOAD', cluster_script]));
    try {
      return await this.command<T>(['EVALSHA', this.sha, '0', ...args]);
    } catch (error) {
      if (redisReplyCode(error) === 'NOSCRIPT') {
        this.sha = String(await this.command(['SCRIPT', 'LOAD', cluster_script]));
        return this.command<T>(['EVALSHA', this.sha, '0', ...args]);
      }
      throw error;
    }
  }

  private async command<T>(args: string[]): Promise<T> {
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
