// RED metrics of a gRPC server in the names every gRPC dashboard and alert already knows
// (go-grpc-prometheus / grpc-ecosystem): grpc_server_started_total, grpc_server_handled_total with
// the status code's name, grpc_server_handling_seconds and the stream message counters, labelled
// by grpc_service, grpc_method and grpc_type. One server interceptor measures every service, so
// no handler counts for itself and a new RPC is measured without code.
//
// Label values come only from the server's own handler table: grpc-js answers UNIMPLEMENTED for a
// path it has no handler for before any interceptor runs, so a client cannot mint new series.
//
// The interceptor runs once per call on the authorization path, so it allocates only the per-call
// closures grpc-js' interceptor API requires: each method's counts live in plain numbers and typed
// arrays and reach Prometheus when it scrapes (the same approach as metrics.ts' PendingCount).

import { performance } from 'node:perf_hooks';
import * as grpc from '@grpc/grpc-js';
import type { Registry } from 'prom-client';

/** gRPC status codes by number, as the grpc_code label spells them. */
export const grpc_code_names = [
  'OK',
  'CANCELLED',
  'UNKNOWN',
  'INVALID_ARGUMENT',
  'DEADLINE_EXCEEDED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION',
  'ABORTED',
  'OUT_OF_RANGE',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
  'UNAUTHENTICATED',
] as const;

/**
 * Upper bounds of grpc_server_handling_seconds. Unary calls answer in milliseconds when healthy
 * and are bounded by their deadlines (the clients' are at most 30 s), so the buckets are dense
 * from 0.5 ms to 100 ms, where the p99 alert looks, and end at 30 s; a long-lived AuthorizeStream
 * lands in +Inf, which is what its duration is worth to a latency panel.
 */
export const handling_seconds_buckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export type GrpcType = 'unary' | 'client_stream' | 'server_stream' | 'bidi_stream';

function grpcType(requestStream: boolean, responseStream: boolean): GrpcType {
  if (requestStream) return responseStream ? 'bidi_stream' : 'client_stream';
  return responseStream ? 'server_stream' : 'unary';
}

/** The counts of one method; labels are fixed when the method is first registered. */
class MethodCounts {
  started = 0;
  received = 0;
  sent = 0;
  readonly handled = new Float64Array(grpc_code_names.length);
  readonly buckets = new Float64Array(handling_seconds_buckets.length);
  seconds_sum = 0;
  seconds_count = 0;

  constructor(readonly labels: { readonly grpc_service: string; readonly grpc_method: string; readonly grpc_type: GrpcType }) {}

  observe(seconds: number): void {
    this.seconds_sum += seconds;
    this.seconds_count += 1;
    for (let i = 0; i < handling_seconds_buckets.length; i++) {
      if (seconds <= (handling_seconds_buckets[i] as number)) {
        this.buckets[i] = (this.buckets[i] as number) + 1;
        return;
      }
    }
  }
}

interface MetricValue {
  readonly labels: Record<string, string | number>;
  readonly value: number;
  readonly metricName?: string;
}

/** A metric prom-client's Registry can serve: it reads name, help, type and get(). */
class CollectedMetric {
  readonly aggregator = 'sum';

  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'counter' | 'histogram',
    private readonly values: () => MetricValue[],
  ) {}

  get(): Promise<{ name: string; help: string; type: string; values: MetricValue[]; aggregator: string }> {
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, values: this.values(), aggregator: this.aggregator });
  }
}

export class GrpcServerMetrics {
  private readonly byPath = new Map<string, MethodCounts>();

  constructor(registry: Registry) {
    const all = (): MethodCounts[] => [...this.byPath.values()];
    const metrics = [
      new CollectedMetric('grpc_server_started_total', 'RPCs started on the server.', 'counter', () =>
        all().map((m) => ({ labels: m.labels, value: m.started })),
      ),
      new CollectedMetric('grpc_server_handled_total', 'RPCs completed on the server, by status code name.', 'counter', () =>
        all().flatMap((m) =>
          grpc_code_names.flatMap((code, index) =>
            // Every OK series exists from the start (rates need a first sample); other codes once seen.
            m.handled[index] === 0 && index !== 0 ? [] : [{ labels: { ...m.labels, grpc_code: code }, value: m.handled[index] as number }],
          ),
        ),
      ),
      new CollectedMetric(
        'grpc_server_handling_seconds',
        'Time from the call reaching the server to its status being sent (the whole stream for streams).',
        'histogram',
        () => all().flatMap(histogramValues),
      ),
      new CollectedMetric(
        'grpc_server_msg_received_total',
        'Messages received from clients (one per unary call; each stream frame).',
        'counter',
        () => all().map((m) => ({ labels: m.labels, value: m.received })),
      ),
      new CollectedMetric(
        'grpc_server_msg_sent_total',
        'Messages sent to clients (one per successful unary call; each stream frame).',
        'counter',
        () => all().map((m) => ({ labels: m.labels, value: m.sent })),
      ),
    ];
    for (const metric of metrics) registry.registerMetric(metric as never);
  }

  /** Registers a service's methods up front, so their series exist (at zero) before any call. */
  addService(service: grpc.ServiceDefinition): void {
    for (const method of Object.values(service)) this.countsOf(method.path, method.requestStream, method.responseStream);
  }

  /** The interceptor to pass in the grpc.Server options (`interceptors`). */
  readonly interceptor: grpc.ServerInterceptor = (method, call) => {
    const counts = this.countsOf(method.path, method.requestStream, method.responseStream);
    const started_ms = performance.now();
    let finished = false;
    const finish = (code: number): void => {
      if (finished) return;
      finished = true;
      counts.handled[code] = (counts.handled[code] ?? 0) + 1;
      counts.observe((performance.now() - started_ms) / 1000);
    };
    counts.started += 1;
    return new grpc.ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMessage: (message, nextMessage) => {
            counts.received += 1;
            nextMessage(message);
          },
          // grpc-js calls onCancel after every call; it decides only for calls that ended without
          // a status from the handler (client cancelled, deadline passed, transport closed).
          onCancel: () => finish(deadlinePassed(call.getDeadline()) ? grpc.status.DEADLINE_EXCEEDED : grpc.status.CANCELLED),
        }),
      sendMessage: (message, next) => {
        counts.sent += 1;
        next(message);
      },
      sendStatus: (status, next) => {
        const code: number = status.code;
        finish(code >= 0 && code < grpc_code_names.length ? code : grpc.status.UNKNOWN);
        next(status);
      },
    });
  };

  private countsOf(path: string, requestStream: boolean, responseStream: boolean): MethodCounts {
    let counts = this.byPath.get(path);
    if (counts === undefined) {
      // Paths are "/<package>.<Service>/<Method>" from the server's handler table.
      const slash = path.lastIndexOf('/');
      counts = new MethodCounts({
        grpc_service: path.slice(1, slash),
        grpc_method: path.slice(slash + 1),
        grpc_type: grpcType(requestStream, responseStream),
      });
      this.byPath.set(path, counts);
    }
    return counts;
  }
}

function deadlinePassed(deadline: grpc.Deadline): boolean {
  const at = deadline instanceof Date ? deadline.getTime() : deadline;
  return Number.isFinite(at) && Date.now() >= at;
}

function histogramValues(m: MethodCounts): MetricValue[] {
  const values: MetricValue[] = [];
  let cumulative = 0;
  handling_seconds_buckets.forEach((bound, index) => {
    cumulative += m.buckets[index] as number;
    values.push({ metricName: 'grpc_server_handling_seconds_bucket', labels: { ...m.labels, le: bound }, value: cumulative });
  });
  values.push({ metricName: 'grpc_server_handling_seconds_bucket', labels: { ...m.labels, le: '+Inf' }, value: m.seconds_count });
  values.push({ metricName: 'grpc_server_handling_seconds_sum', labels: m.labels, value: m.seconds_sum });
  values.push({ metricName: 'grpc_server_handling_seconds_count', labels: m.labels, value: m.seconds_count });
  return values;
}
