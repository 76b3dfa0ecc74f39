// Prometheus metrics of a streamer process, on a registry of its own (tests run several
// streamers in one process).

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class StreamerMetrics {
  readonly registry = new Registry();

  readonly backlogEntries = new Gauge({
    name: 'tapline_streamer_backlog_entries',
    help: 'Entries in the outbox streams not yet streamed and acknowledged (all shards).',
    registers: [this.registry],
  });

  readonly oldestEntryAgeSeconds = new Gauge({
    name: 'tapline_streamer_oldest_entry_age_seconds',
    help: 'Age of the oldest outbox entry not yet streamed and acknowledged; 0 when none.',
    registers: [this.registry],
  });

  readonly rows = new Counter({
    name: 'tapline_streamer_rows_total',
    help: 'Rows accepted by ClickHouse, by table (re-sent rows count again).',
    labelNames: ['table'] as const,
    registers: [this.registry],
  });

  readonly batchRows = new Histogram({
    name: 'tapline_streamer_batch_rows',
    help: 'Rows per batch sent to ClickHouse.',
    buckets: [1, 10, 50, 100, 500, 1000, 2000, 5000, 10000],
    registers: [this.registry],
  });

  readonly failures = new Counter({
    name: 'tapline_streamer_failures_total',
    help: 'Failed attempts that were retried, by step (insert, ack, read, claim, lag).',
    labelNames: ['step'] as const,
    registers: [this.registry],
  });

  readonly claimedEntries = new Counter({
    name: 'tapline_streamer_claimed_entries_total',
    help: 'Entries taken over from consumers that held them longer than the claim idle time.',
    registers: [this.registry],
  });

  constructor(collectDefaults: boolean) {
    if (collectDefaults) collectDefaultMetrics({ register: this.registry });
  }
}
