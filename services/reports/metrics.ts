// Prometheus metrics of a reports process, on a registry of its own (tests run several servers in
// one process). Labels come from fixed tables only: the route's name from the route table in
// server.ts (or "unknown" / "settlement" / "healthz" / "metrics"), the HTTP status the server
// chose, and the query outcome; never a path, parameter or id from the request. The back office
// (notices and webhooks) adds its relay's progress, its delivery queue and its attempts by channel.

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class ReportsMetrics {
  readonly registry = new Registry();

  readonly requests = new Counter({
    name: 'tapline_reports_requests_total',
    help: 'HTTP requests answered, by route name and status code.',
    labelNames: ['route', 'status'] as const,
    registers: [this.registry],
  });

  readonly requestSeconds = new Histogram({
    name: 'tapline_reports_request_seconds',
    help: 'Time from a request arriving to its answer being sent, by route name.',
    labelNames: ['route'] as const,
    // Reports read FINAL views: tens of milliseconds to the 30 s query timeout (60 s request timeout).
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });

  readonly clickhouseQuerySeconds = new Histogram({
    name: 'tapline_reports_clickhouse_query_seconds',
    help: 'Round trip of one ClickHouse query, by outcome (ok, error).',
    labelNames: ['outcome'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });

  readonly inFlight = new Gauge({
    name: 'tapline_reports_in_flight',
    help: 'Reports and settlement requests being computed now (bounded by reports_in_flight_max).',
    registers: [this.registry],
  });

  readonly deliveryAttempts = new Counter({
    name: 'tapline_events_delivery_attempts_total',
    help: 'Attempts to deliver a notice or webhook, by channel and result (sent; retry: tried again later; failed: given up).',
    labelNames: ['channel', 'result'] as const,
    registers: [this.registry],
  });

  constructor(collectDefaults: boolean) {
    if (collectDefaults) collectDefaultMetrics({ register: this.registry });
  }

  /** Gauges read from the back office at each scrape (registered once, when the event relay runs). */
  watchBackOffice(view: BackOfficeView): void {
    new Gauge({
      name: 'tapline_events_relay_lag_seconds',
      help: 'On the relay lease holder: commit time between the outbox horizon and the relay cursor (events not yet planned); 0 elsewhere.',
      registers: [this.registry],
      collect() {
        this.set(view.relayLagMs() / 1000);
      },
    });
    new Gauge({
      name: 'tapline_events_relay_last_step_timestamp_seconds',
      help: 'When this process last completed a relay step holding the lease (unix seconds; 0 = never). The newest across replicas is the relay.',
      registers: [this.registry],
      collect() {
        this.set(view.relayLastStepAtMs() / 1000);
      },
    });
    new Gauge({
      name: 'tapline_events_deliveries_pending',
      help: 'Deliveries waiting to be sent or retried (the due set in Redis; the same value on every replica).',
      registers: [this.registry],
      async collect() {
        // A Redis failure leaves the last value: the scrape of every other metric must not fail.
        const pending = await view.pendingDeliveries().catch(() => undefined);
        if (pending !== undefined) this.set(pending);
      },
    });
  }
}

/** What the back office's gauges read (services/reports/back-office.ts). */
export interface BackOfficeView {
  relayLagMs(): number;
  relayLastStepAtMs(): number;
  pendingDeliveries(): Promise<number>;
}
