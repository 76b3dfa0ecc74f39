// Prometheus metrics of a reports process, on a registry of its own (tests run several servers in
// one process). Labels come from fixed tables only: the route's name from the route table in
// server.ts (or "unknown" / "settlement" / "healthz" / "metrics"), the HTTP status the server
// chose, and the query outcome; never a path, parameter or id from the request.

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

  constructor(collectDefaults: boolean) {
    if (collectDefaults) collectDefaultMetrics({ register: this.registry });
  }
}
