// The shards this node holds and the fencing epoch it holds each at. Every commit carries the
// epoch; Redis refuses writes of a shard whose epoch moved on (a newer owner took it).

export class ShardOwnership {
  private readonly epochs = new Map<number, string>();

  constructor(readonly shardCount: number) {}

  hold(shard: number, epoch: string): void {
    this.epochs.set(shard, epoch);
  }

  release(shard: number): void {
    this.epochs.delete(shard);
  }

  epochOf(shard: number): string | undefined {
    return this.epochs.get(shard);
  }

  holds(shard: number): boolean {
    return this.epochs.has(shard);
  }

  get heldCount(): number {
    return this.epochs.size;
  }
}
