// Cluster membership and shard ownership of one node. Every `tick_ms` it heartbeats its
// membership in Redis, reads the live members, computes the placement (rendezvous hashing,
// actors/sharding/allocation.ts: every node computes the same map, no leader), renews the leases
// of the shards it holds, hands off shards that now belong to another node (stop their actors,
// release the lease) and takes the shards that now belong to it (INCR of the shard's epoch, which
// fences any previous owner inside commit.lua, plus a lease). A shard still leased by another
// node is retried every `take_retry_ms` until that node releases it or its lease expires.
//
// A node that cannot renew a shard's lease (Redis unreachable, process paused) for longer than the
// lease drops that shard by itself; a node whose renew finds a shard taken by another drops that
// shard. Neither is needed for safety (commits are fenced by the epoch in Redis), only to stop
// serving reads from a stale copy and to forward instead. Leases are tracked per shard: on Redis
// Cluster a primary that cannot take writes (failing over, cut off from its replicas) costs the
// node the shards of that primary's slots only, not the shards of the other primaries.

import type { Logger } from 'pino';
import { changeFor, placementOf } from '../../../actors/sharding/allocation';
import type { ShardOwnership } from '../../../actors/sharding/shard-ownership';
import type { ClusterStore, Member } from '../store/cluster-store';
import type { Peers } from './peers';
import type { ClusterMetrics } from './metrics';

export interface ClusterLimits {
  /** Heartbeat, renewal and placement period. */
  readonly tick_ms: number;
  /** A member whose heartbeat is older than this is gone. */
  readonly member_ttl_ms: number;
  /** A shard lease not renewed for this long may be taken by the shard's new owner. */
  readonly lease_ms: number;
  /** Retry period for shards this node should own but another node still leases. */
  readonly take_retry_ms: number;
}

export interface ShardHost {
  /** Stops the actors of shards this node no longer holds, in one pass over the actors; returns how many. */
  stopShards(shards: ReadonlySet<number>): number;
}

export class ClusterCoordinator {
  private owners: (string | undefined)[] = [];
  private members = new Map<string, Member>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<boolean> | undefined;
  private stopped = false;
  /** Per shard: when the last round that confirmed its lease (a renewal or the take) was sent. */
  private readonly leaseConfirmedAtMs: number[];

  constructor(
    private readonly self: Member,
    private readonly store: ClusterStore,
    private readonly ownership: ShardOwnership,
    private readonly host: ShardHost,
    private readonly peers: Peers,
    private readonly limits: ClusterLimits,
    private readonly logger: Logger,
    private readonly clock: () => number,
    private readonly metrics?: ClusterMetrics,
  ) {
    this.leaseConfirmedAtMs = new Array<number>(ownership.shardCount).fill(Number.NEGATIVE_INFINITY);
  }

  /** Joins and runs the first round (takes the free shards it owns) before the node serves. */
  async start(): Promise<void> {
    await this.tick();
    this.schedule();
  }

  ownerOf(shard: number): Member | undefined {
    const nodeId = this.owners[shard];
    return nodeId === undefined ? undefined : this.members.get(nodeId);
  }

  /** True when this node holds the shard right now. */
  holds(shard: number): boolean {
    return this.ownership.holds(shard);
  }

  /**
   * True while the last round that confirmed this shard's lease was sent less than a lease ago.
   * Past that, another node may already own the shard (this one was paused, or cut off from that
   * shard's Redis primary), so it must not answer from memory until a round confirms or drops it.
   */
  leaseFresh(shard: number): boolean {
    return this.clock() - (this.leaseConfirmedAtMs[shard] ?? Number.NEGATIVE_INFINITY) < this.limits.lease_ms;
  }

  get heldCount(): number {
    return this.ownership.heldCount;
  }

  get memberIds(): string[] {
    return [...this.members.keys()];
  }

  /** True when other live members exist (a graceful leave hands shards to them). */
  get hasPeers(): boolean {
    return [...this.members.keys()].some((id) => id !== this.self.nodeId);
  }

  /**
   * Graceful leave: stop ticking, leave the membership (others recompute the placement), drop
   * every shard here and release its lease so the new owners take it on their next round.
   */
  async leave(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
    try {
      await this.store.leave(this.self.nodeId);
    } catch (error) {
      this.logger.warn({ err: error }, 'could not leave the membership; peers will see it expire');
    }
    // From now on this node routes as a non-member: calls still arriving go to the shards' next
    // owners (computed without this node), never back to itself.
    this.members.delete(this.self.nodeId);
    this.owners = placementOf(this.ownership.shardCount, [...this.members.keys()]);
    const held = this.heldEpochs();
    this.drop(held.keys());
    try {
      await this.store.release(this.self.nodeId, held);
    } catch (error) {
      this.logger.warn({ err: error }, 'could not release shard leases; they expire by themselves');
    }
    this.logger.info({ shards: held.size }, 'left the cluster');
  }

  /** Stops ticking without leaving (the process is dying, or a test simulates a paused node). */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /** Ticks again after stop() (a paused node waking up). */
  resume(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule(0);
  }

  private schedule(delay_ms = this.limits.tick_ms): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      const round = this.tick().catch((error: unknown) => {
        this.logger.error({ err: error }, 'cluster round failed');
        return false;
      });
      this.running = round;
      void round.then((more) => this.schedule(more ? this.limits.take_retry_ms : this.limits.tick_ms));
    }, delay_ms);
    this.timer.unref();
  }

  /** One round; true when shards this node should own are still leased elsewhere. */
  private async tick(): Promise<boolean> {
    const sentMs = this.clock();
    let members: Member[];
    try {
      members = await this.store.heartbeat(this.self, this.limits.member_ttl_ms);
    } catch (error) {
      this.logger.warn({ err: error }, 'heartbeat failed');
      this.selfFenceIfExpired();
      return false;
    }
    if (this.stopped) return false;
    this.members = new Map(members.map((m) => [m.nodeId, m]));
    this.metrics?.members.set(this.members.size);
    this.owners = placementOf(this.ownership.shardCount, [...this.members.keys()]);
    this.peers.update(members, this.self.nodeId);

    if (!(await this.renewLeases(sentMs))) return false;
    const change = changeFor(this.self.nodeId, this.owners, (shard) => this.ownership.holds(shard));
    if (change.release.length > 0) await this.handOff(change.release);
    if (change.take.length === 0) return false;
    const { taken, error } = await this.store.take(this.self.nodeId, change.take, this.limits.lease_ms);
    if (error !== undefined) this.logger.warn({ err: error, taken: taken.size }, 'some shards could not be taken; retried');
    for (const [shard, epoch] of taken) {
      this.ownership.hold(shard, epoch);
      this.leaseConfirmedAtMs[shard] = sentMs;
    }
    this.metrics?.shardMoves.inc({ event: 'taken' }, taken.size);
    this.metrics?.shardsHeld.set(this.ownership.heldCount);
    if (taken.size > 0) this.logger.info({ taken: taken.size, members: this.members.size }, 'took shards');
    return taken.size < change.take.length;
  }

  /**
   * Renews the leases of the shards held; drops those taken by another node, and those whose lease
   * could not be renewed for a lease time (the others go on being served). False when no lease
   * could be renewed (Redis unreachable): the round ends there.
   */
  private async renewLeases(sentMs: number): Promise<boolean> {
    const held = this.heldEpochs();
    const { lost, unreachable, error } = await this.store.renew(this.self.nodeId, held, this.limits.lease_ms);
    const failed = new Set(unreachable);
    for (const shard of held.keys()) if (!failed.has(shard)) this.leaseConfirmedAtMs[shard] = sentMs;
    for (const shard of lost) {
      if (this.ownership.epochOf(shard) !== held.get(shard)) continue;
      this.logger.warn({ shard }, 'shard taken by another node; dropping it');
      this.drop([shard]);
      this.metrics?.shardMoves.inc({ event: 'lost' });
    }
    if (failed.size === 0) return true;
    this.logger.warn({ err: error, shards: failed.size }, 'lease renewal failed');
    this.selfFenceIfExpired();
    return failed.size < held.size;
  }

  /** Hand-off: stop the shards' actors here (queued calls retry on the new owner), release leases. */
  private async handOff(shards: readonly number[]): Promise<void> {
    const released = new Map<number, string>();
    for (const shard of shards) {
      const epoch = this.ownership.epochOf(shard);
      if (epoch !== undefined) released.set(shard, epoch);
    }
    this.drop(shards);
    // Commits of these shards already sent carry the old epoch: they land before the new owner's
    // INCR or are refused after it; either way the new owner reads Redis after its INCR.
    await this.store.release(this.self.nodeId, released);
    this.metrics?.shardMoves.inc({ event: 'handed_off' }, released.size);
    this.metrics?.shardsHeld.set(this.ownership.heldCount);
    this.logger.info({ released: released.size, members: this.members.size }, 'handed off shards');
  }

  /** Releases the shards and stops their actors (one pass over the actors, however many shards). */
  private drop(shards: Iterable<number>): void {
    const dropped = new Set(shards);
    for (const shard of dropped) this.ownership.release(shard);
    this.host.stopShards(dropped);
    this.metrics?.shardsHeld.set(this.ownership.heldCount);
  }

  /** Drops the shards whose lease was last confirmed a lease time ago or more. */
  private selfFenceIfExpired(): void {
    const expired: number[] = [];
    for (let shard = 0; shard < this.ownership.shardCount; shard++)
      if (this.ownership.holds(shard) && !this.leaseFresh(shard)) expired.push(shard);
    if (expired.length === 0) return;
    this.drop(expired);
    this.logger.warn({ shards: expired.length }, 'leases could not be renewed in time; dropped those shards');
  }

  private heldEpochs(): Map<number, string> {
    const held = new Map<number, string>();
    for (let shard = 0; shard < this.ownership.shardCount; shard++) {
      const epoch = this.ownership.epochOf(shard);
      if (epoch !== undefined) held.set(shard, epoch);
    }
    return held;
  }
}
