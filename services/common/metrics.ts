// Prometheus metrics of one process. A registry per process object (not the global one) so tests
// can run several nodes in one process without name clashes.

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, type LabelValues } from 'prom-client';
import { GrpcServerMetrics } from './grpc-metrics';

/** The authorizer's default TAPLINE_COMMIT_BATCH_MAX, for registries made without a configuration. */
export const default_commit_batch_entries_max = 500;

/**
 * Upper bounds for entries per commit: powers of two up to the batch maximum, then the maximum
 * itself, so a node committing full batches (saturated) shows as such instead of as "> last bucket".
 */
export function commitBatchBuckets(batch_entries_max: number): number[] {
  const buckets: number[] = [];
  for (let bound = 1; bound < batch_entries_max; bound *= 2) buckets.push(bound);
  buckets.push(batch_entries_max);
  return buckets;
}

/** Something counted once per request. */
export interface CountingChild {
  inc(): void;
}

/**
 * A labelled counter child for the per-request path: inc() adds to a plain number, and the sum
 * reaches prom-client when the counter is collected (a scrape, or get()). prom-client's own
 * child hashes its labels into a new string on every inc(); per request that was garbage the
 * authorization path does not need.
 */
class PendingCount implements CountingChild {
  pending = 0;

  inc(): void {
    this.pending += 1;
  }
}

export class Metrics {
  readonly registry = new Registry();
  private readonly pendingCounts: {
    readonly counter: Counter<string>;
    readonly labels: LabelValues<string>;
    readonly count: PendingCount;
  }[] = [];

  /**
   * AuthorizeStream items answered, by status code name: the gRPC interceptor counts a stream as
   * one call (grpc_server_handled_total), a gateway's items are counted here.
   */
  readonly streamItems: Counter<'grpc_code'> = new Counter({
    name: 'tapline_stream_items_total',
    help: 'AuthorizeStream items answered, by gRPC status code name.',
    labelNames: ['grpc_code'] as const,
    registers: [this.registry],
    collect: () => this.flushPending(this.streamItems),
  });

  readonly decisions: Counter<'kind' | 'outcome' | 'reason'> = new Counter({
    name: 'tapline_decisions_total',
    help: 'Money decisions persisted, by kind, outcome and decline reason.',
    labelNames: ['kind', 'outcome', 'reason'] as const,
    registers: [this.registry],
    collect: () => this.flushPending(this.decisions),
  });

  readonly rejectedFull = new Counter({
    name: 'tapline_resource_exhausted_total',
    help: 'Requests refused because a bounded queue was full, by queue.',
    labelNames: ['queue'] as const,
    registers: [this.registry],
  });

  /** RED metrics of the gRPC server (grpc_server_*), filled by its interceptor. */
  readonly grpc = new GrpcServerMetrics(this.registry);

  readonly commitBatchEntries: Histogram;

  readonly commitSeconds = new Histogram({
    name: 'tapline_commit_seconds',
    help: 'Round trip of one group-commit script call.',
    // Up to the Redis command timeout (5 s by default): a commit slower than that has failed.
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });

  readonly commitFailures = new Counter({
    name: 'tapline_commit_failures_total',
    help: 'Group-commit script calls that failed (Redis error or time-out); their entries are failed and retried by clients.',
    registers: [this.registry],
  });

  readonly redisErrors = new Counter({
    name: 'tapline_redis_errors_total',
    help: 'Errors reported by a Redis connection (refused, reset, timed out), by client: store (commits, loads) or cluster (leases, membership).',
    labelNames: ['client'] as const,
    registers: [this.registry],
  });

  readonly commitConflicts = new Counter({
    name: 'tapline_commit_conflicts_total',
    help: 'Entries refused by a version or claim check (the entity reloads and decides again).',
    registers: [this.registry],
  });

  readonly commitFenced = new Counter({
    name: 'tapline_commit_fenced_total',
    help: 'Entries refused because this node no longer holds the shard epoch.',
    registers: [this.registry],
  });
  readonly commitExpired = new Counter({
    name: 'tapline_commit_expired_total',
    help: "Entries not sent because their request's deadline passed while they waited for a batch (nothing written).",
    registers: [this.registry],
  });

  readonly activeEntities = new Gauge({
    name: 'tapline_active_entities',
    help: 'Entity actors in memory, by kind.',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  readonly inFlight = new Gauge({
    name: 'tapline_in_flight_requests',
    help: 'Requests accepted and not yet answered.',
    registers: [this.registry],
  });

  // Offline selling (docs/OFFLINE.md).
  readonly offlineEntries = new Counter({
    name: 'tapline_offline_entries_total',
    help: 'Offline entries merged, by result: issuer (charged), merchant (not charged), voided, nothing_to_void, already_voided, unknown_card.',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  readonly offlineBatches = new Counter({
    name: 'tapline_offline_batches_total',
    help: 'Offline batches answered, by how: merged (first upload, or one a crash interrupted) or replayed (answered from its record).',
    labelNames: ['how'] as const,
    registers: [this.registry],
  });

  readonly offlineUploadPhase = new Histogram({
    name: 'tapline_offline_upload_phase_seconds',
    help: "Time an upload spent in each phase: accept (the terminal's actor judged and recorded the batch), merge (every entry reached its card and was written), complete (the results recorded). A replayed batch has its accept phase only.",
    labelNames: ['phase'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  readonly denylistBehind = new Histogram({
    name: 'tapline_denylist_behind_changes',
    help: 'Denylist changes a terminal lacked when it acknowledged its denylist (0: current).',
    buckets: [0, 1, 10, 100, 1_000, 10_000, 100_000],
    registers: [this.registry],
  });

  readonly denylistStaleness = new Histogram({
    name: 'tapline_denylist_staleness_seconds',
    help: "Age of a terminal's acknowledged denylist when it syncs for a grant: how long it sold on that list (never acknowledged: not observed).",
    buckets: [1, 10, 60, 300, 900, 3_600, 4 * 3_600, 24 * 3_600, 7 * 24 * 3_600],
    registers: [this.registry],
  });

  private denylistAgeSource: (() => Iterable<readonly [string, number]>) | undefined;

  readonly denylistAge = new Gauge({
    name: 'tapline_offline_denylist_age_seconds',
    help: 'Per terminal that may sell offline now (its grant is valid, its shard held here): seconds since it acknowledged the denylist it holds (never: since its grant).',
    labelNames: ['terminal'] as const,
    registers: [this.registry],
    collect: () => this.collectDenylistAges(),
  });

  /** Where the per-terminal denylist ages come from at each scrape (the node's DenylistAges). */
  watchDenylistAges(source: () => Iterable<readonly [string, number]>): void {
    this.denylistAgeSource = source;
  }

  private collectDenylistAges(): void {
    // Terminals no longer reported (grant over, shard moved) leave the metric with the reset.
    this.denylistAge.reset();
    for (const [terminal, seconds] of this.denylistAgeSource?.() ?? []) this.denylistAge.set({ terminal }, seconds);
  }

  private certificateSource: (() => Iterable<readonly [string, number | undefined]>) | undefined;

  readonly certificateNotAfter = new Gauge({
    name: 'tapline_tls_certificate_not_after_seconds',
    help: 'When the TLS certificate a door presents, or the earliest CA of a bundle it trusts, stops being valid (Unix seconds), read from the files as they are now (they are reread when rotated).',
    labelNames: ['file'] as const,
    registers: [this.registry],
    collect: () => this.collectCertificates(),
  });

  /** Where the certificate files' ends of validity come from at each scrape: [file role, ms]. */
  watchCertificates(source: () => Iterable<readonly [string, number | undefined]>): void {
    this.certificateSource = source;
  }

  private collectCertificates(): void {
    this.certificateNotAfter.reset();
    for (const [file, not_after_ms] of this.certificateSource?.() ?? [])
      if (not_after_ms !== undefined) this.certificateNotAfter.set({ file }, Math.floor(not_after_ms / 1000));
  }

  private readonly streamPendingSources: (() => number)[] = [];

  /** Read when scraped: what the node's stream back-pressure holds (grpc/result-stream.ts). */
  readonly streamPendingItems: Gauge = new Gauge({
    name: 'tapline_stream_pending_items',
    help: 'Stream items (AuthorizeStream, Forward) read and not yet written back: running, or answered and waiting for the client to read.',
    registers: [this.registry],
    collect: () => this.streamPendingItems.set(this.streamPendingSources.reduce((sum, source) => sum + source(), 0)),
  });

  /** Adds a server's stream budgets to tapline_stream_pending_items. */
  countStreamPending(source: () => number): void {
    this.streamPendingSources.push(source);
  }

  private readonly decisionCounters = new Map<string, CountingChild>();

  /** Counts a decision; children are cached per label set because this runs once per transaction. */
  countDecision(kind: string, outcome: string, reason: string): void {
    const key = `${kind}|${outcome}|${reason}`;
    let counter = this.decisionCounters.get(key);
    if (counter === undefined) {
      counter = this.countingChild(this.decisions, { kind, outcome, reason });
      this.decisionCounters.set(key, counter);
    }
    counter.inc();
  }

  /** The child of `counter` with these labels for the per-request path (see PendingCount); one per label set. */
  countingChild<T extends string>(counter: Counter<T>, labels: LabelValues<T>): CountingChild {
    const existing = this.pendingCounts.find((p) => p.counter === counter && sameLabels(p.labels, labels));
    if (existing !== undefined) return existing.count;
    const count = new PendingCount();
    this.pendingCounts.push({ counter, labels, count });
    return count;
  }

  private flushPending(counter: Counter<string>): void {
    for (const pending of this.pendingCounts) {
      if (pending.counter !== counter || pending.count.pending === 0) continue;
      counter.inc(pending.labels, pending.count.pending);
      pending.count.pending = 0;
    }
  }

  /** `collectDefaults`: process, heap, event-loop lag and GC pause metrics (prom-client's defaults). */
  constructor(collectDefaults = false, commit_batch_entries_max = default_commit_batch_entries_max) {
    this.commitBatchEntries = new Histogram({
      name: 'tapline_commit_batch_entries',
      help: 'Entries per group-commit script call.',
      buckets: commitBatchBuckets(commit_batch_entries_max),
      registers: [this.registry],
    });
    if (collectDefaults) collectDefaultMetrics({ register: this.registry });
  }
}

function sameLabels(a: LabelValues<string>, b: LabelValues<string>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => a[key] === b[key]);
}
