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

/** What a lease renewal found (ClusterStore.renew). */
export interface RenewOutcome {
  readonly lost: readonly number[];
  readonly unreachable: readonly number[];
  readonly error?: Error;
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

  /**
   * Takes shards whose lease is free (or this node's own); `taken` holds the epochs of those taken
   * (replicated). On Redis Cluster a slot whose primary fails leaves its shard untaken (the first
   * failure as `error`) and the others are taken all the same; outside a cluster a failure throws.
   */
  async take(nodeId: string, shards: readonly number[], lease_ms: number): Promise<{ taken: Map<number, string>; error?: Error }> {
    const taken = new Map<number, string>();
    let failure: Error | undefined;
    await this.perSlot(shards, async (group) => {
      const args = ['take', nodeId, String(lease_ms)];
      for (const shard of group) args.push(shardKeys(shard).epoch, shardLeaseKey(shard));
      try {
        const epochs = await this.run<string[]>([shardKeys(group[0] as number).epoch], args, true);
        group.forEach((shard, index) => {
          const epoch = epochs[index];
          if (epoch !== undefined && epoch !== '') taken.set(shard, epoch);
        });
      } catch (error) {
        if (!this.primaries.sharded) throw error;
        failure ??= error as Error;
      }
    });
    return failure === undefined ? { taken } : { taken, error: failure };
  }

  /**
   * Extends the leases of held shards. `lost`: shards found taken by a new owner (fenced).
   * `unreachable`: shards whose renewal failed, with the first failure as `error`. Outside a cluster
   * one script renews every shard, so a failure leaves them all unreachable; on Redis Cluster each
   * shard is renewed on its own slot's primary, so a primary that cannot take writes (failing over,
   * or cut off from its replicas) costs only the shards it serves.
   */
  async renew(nodeId: string, held: ReadonlyMap<number, string>, lease_ms: number): Promise<RenewOutcome> {
    const outcome: { lost: number[]; unreachable: number[]; error?: Error } = { lost: [], unreachable: [] };
    await this.perSlot([...held.keys()], async (group) => {
      const args = ['renew', nodeId, String(lease_ms)];
      for (const shard of group) args.push(shardKeys(shard).epoch, shardLeaseKey(shard), held.get(shard) as string);
      try {
        const answers = await this.run<string[]>([shardKeys(group[0] as number).epoch], args);
        group.forEach((shard, index) => {
          if (answers[index] !== '1') outcome.lost.push(shard);
        });
      } catch (error) {
        outcome.unreachable.push(...group);
        outcome.error ??= error as Error;
      }
    });
    return outcome;
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
