// Prometheus metrics of the cluster layer, registered in the node's own registry (served on
// /metrics with the rest). What an operator watches during a rollout or an incident: how many
// shards and members this node sees, how shards moved, how many calls were forwarded and how
// long calls waited for a moving shard's owner.

import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export class ClusterMetrics {
  readonly shardsHeld: Gauge;
  readonly shardsTotal: Gauge;
  readonly members: Gauge;
  readonly shardMoves: Counter<'event'>;
  readonly forwarded: Counter<'result'>;
  readonly routeRetries: Counter;
  readonly routeWaitSeconds: Histogram;

  constructor(registry: Registry) {
    const registers = [registry];
    this.shardsHeld = new Gauge({ name: 'tapline_cluster_shards_held', help: 'Shards this node holds now.', registers });
    // The configured shard count, so "shards nobody holds" is max(total) - sum(held) in PromQL.
    this.shardsTotal = new Gauge({
      name: 'tapline_cluster_shards_total',
      help: 'Virtual shards of the cluster (TAPLINE_SHARD_COUNT).',
      registers,
    });
    this.members = new Gauge({ name: 'tapline_cluster_members', help: 'Live cluster members this node saw in its last round.', registers });
    this.shardMoves = new Counter({
      name: 'tapline_cluster_shard_moves_total',
      help: 'Shards taken, handed off, or lost (taken by another node) by this node.',
      labelNames: ['event'] as const,
      registers,
    });
    this.forwarded = new Counter({
      name: 'tapline_cluster_forwarded_total',
      help: 'Calls forwarded to their owner, by result: ok (any gRPC status relayed), retry (not owner or link broken), failed (deadline, queue full).',
      labelNames: ['result'] as const,
      registers,
    });
    this.routeRetries = new Counter({
      name: 'tapline_cluster_route_retries_total',
      help: 'Attempts repeated because the shard was moving.',
      registers,
    });
    this.routeWaitSeconds = new Histogram({
      name: 'tapline_cluster_route_wait_seconds',
      help: 'Time a call that needed routing (remote owner or moving shard) took until answered.',
      buckets: [0.001, 0.005, 0.02, 0.1, 0.5, 1, 2, 5, 10],
      registers,
    });
  }
}
