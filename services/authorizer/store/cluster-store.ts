// Redis adapter of cluster membership and shard leases (cluster.lua). It uses its own connection
// so that heartbeats and lease renewals never queue behind a large commit batch. On Redis Cluster
// the lease operations run once per shard (a script touches one slot); membership keys share
// the {cluster} slot. A take is acknowledged only once the replicas required have it: an epoch a
// failover could lose might be handed out again, to another node (two writers at one epoch).

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { StoreTimeoutError, StoreUnavailableError } from '../../../actors/errors';
import { redisReplyCode } from '../../common/redis-errors';
import { connectPrimaries, RedisCommandTimeout, type RedisPrimaries } from '../../common/redis-primaries';
import type { RedisTarget } from '../../common/redis-target';
import { member_addresses_key, members_key, shardKeys, shardLeaseKey } from './keys';

const cluster_script = readFileSync(join(__dirname, 'cluster.lua'), 'utf8');
const cluster_script_sha = createHash('sha1').update(cluster_script).digest('hex');

export interface Member {
  readonly nodeId: string;
  /** Advertised internal address (host:port) peers forward to. */
  readonly address: string;
}

export interface ClusterStoreOptions {
  readonly target: RedisTarget;
  readonly command_timeout_ms: number;
  readonly reconnect_backoff_max_ms: number;
}

export class ClusterStore {
  private constructor(private readonly primaries: RedisPrimaries) {}

  static async connect(options: ClusterStoreOptions, onError: (error: Error) => void): Promise<ClusterStore> {
    try {
      return new ClusterStore(
        await connectPrimaries(options.target, {
          command_timeout_ms: options.command_timeout_ms,
          reconnect_backoff_max_ms: options.reconnect_backoff_max_ms,
          onError,
        }),
      );
    } catch (error) {
      throw new StoreUnavailableError('redis (cluster) connect failed', {}, { cause: error });
    }
  }

  async close(): Promise<void> {
    await this.primaries.close();
  }

  /** Registers or refreshes this node's membership; returns the live members (itself included). */
  async heartbeat(self: Member, ttl_ms: number): Promise<Member[]> {
    const flat = await this.run<string[]>([members_key, member_addresses_key], ['heartbeat', self.nodeId, self.address, String(ttl_ms)]);
    const members: Member[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) members.push({ nodeId: flat[i] as string, address: flat[i + 1] as string });
    return members;
  }

  async leave(nodeId: string): Promise<void> {
    await this.run([members_key, member_addresses_key], ['leave', nodeId]);
  }

  /** Takes shards whose lease is free (or this node's own); returns the epochs of those taken (replicated). */
  async take(nodeId: string, shards: readonly number[], lease_ms: number): Promise<Map<number, string>> {
    const taken = new Map<number, string>();
    await this.perSlot(shards, async (group) => {
      const args = ['take', nodeId, String(lease_ms)];
      for (const shard of group) args.push(shardKeys(shard).epoch, shardLeaseKey(shard));
      const epochs = await this.run<string[]>([shardKeys(group[0] as number).epoch], args, true);
      group.forEach((shard, index) => {
        const epoch = epochs[index];
        if (epoch !== undefined && epoch !== '') taken.set(shard, epoch);
      });
    });
    return taken;
  }

  /** Extends the leases of held shards; returns the shards found lost (fenced by a new owner). */
  async renew(nodeId: string, held: ReadonlyMap<number, string>, lease_ms: number): Promise<number[]> {
    const lost: number[] = [];
    await this.perSlot([...held.keys()], async (group) => {
      const args = ['renew', nodeId, String(lease_ms)];
      for (const shard of group) args.push(shardKeys(shard).epoch, shardLeaseKey(shard), held.get(shard) as string);
      const answers = await this.run<string[]>([shardKeys(group[0] as number).epoch], args);
      group.forEach((shard, index) => {
        if (answers[index] !== '1') lost.push(shard);
      });
    });
    return lost;
  }

  /** Deletes this node's leases of the given shards (graceful hand-off). */
  async release(nodeId: string, held: ReadonlyMap<number, string>): Promise<void> {
    await this.perSlot([...held.keys()], async (group) => {
      const args = ['release', nodeId];
      for (const shard of group) args.push(shardKeys(shard).epoch, shardLeaseKey(shard), held.get(shard) as string);
      await this.run([shardKeys(group[0] as number).epoch], args);
    });
  }

  /** Runs `work` for all the shards at once, or once per shard on Redis Cluster (concurrently). */
  private async perSlot(shards: readonly number[], work: (group: readonly number[]) => Promise<void>): Promise<void> {
    if (shards.length === 0) return;
    if (!this.primaries.sharded) return work(shards);
    await Promise.all(shards.map((shard) => work([shard])));
  }

  private async run<T>(keys: readonly string[], args: string[], replicated = false): Promise<T> {
    const call = (): Promise<T> => {
      const command = ['EVALSHA', cluster_script_sha, String(keys.length), ...keys, ...args];
      return replicated ? this.primaries.sendReplicated<T>(keys[0] as string, command) : this.primaries.send<T>(keys[0] as string, command);
    };
    try {
      try {
        return await call();
      } catch (error) {
        if (redisReplyCode(error) !== 'NOSCRIPT') throw error;
        await this.primaries.send(keys[0] as string, ['SCRIPT', 'LOAD', cluster_script]);
        return await call();
      }
    } catch (error) {
      if (error instanceof RedisCommandTimeout)
        throw new StoreTimeoutError(`redis cluster ${args[0]} timed out`, { command: args[0] }, { cause: error });
      throw new StoreUnavailableError(`redis cluster ${args[0]} failed`, { command: args[0] }, { cause: error });
    }
  }
}
