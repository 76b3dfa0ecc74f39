// The local load driver (k6 cannot be installed on these machines). Closed-loop phases keep a
// fixed number of requests outstanding and measure throughput; open-loop phases send at a fixed
// rate and measure latency at that load. Latencies are recorded per request in microseconds.

import * as grpc from '@grpc/grpc-js';
import { AuthorizationServiceClient, type AuthorizeRequest, type AuthorizeStreamResponse } from '../gen/tapline/v1/authorization';
import { Outcome } from '../gen/tapline/v1/types';
import { H2UnaryClient, type H2Tls, type UnaryDone } from './h2-unary';

/** Something that sends one unary Authorize and calls back with (grpc error code, response). */
export interface UnaryTarget {
  authorize(request: AuthorizeRequest, done: UnaryDone): void;
  close(): void;
}

/** Unary targets over the lean HTTP/2 client: the driver then costs far less than the server. */
export function unaryTargets(address: string, connections: number, tls?: H2Tls): UnaryTarget[] {
  return Array.from({ length: connections }, () => new H2UnaryClient(address, tls));
}

export interface PhaseResult {
  readonly requests: number;
  readonly errors: number;
  readonly approved: number;
  readonly declined: number;
  readonly seconds: number;
  readonly rps: number;
  readonly p50_ms: number;
  readonly p99_ms: number;
}

/** Makes the i-th request of a phase; must give every request its own idempotency key. */
export type RequestFactory = (i: number) => AuthorizeRequest;

/** grpc-js clients (used for AuthorizeStream, where the client's per-item cost is small); plaintext without credentials. */
export function clients(
  address: string,
  channels: number,
  credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure(),
  options: grpc.ChannelOptions = {},
): AuthorizationServiceClient[] {
  return Array.from(
    { length: channels },
    (_, i) =>
      new AuthorizationServiceClient(address, credentials, {
        ...options,
        // Distinct channel options keep grpc-js from sharing one subchannel (one TCP connection).
        'grpc.channel_id': i,
        'grpc.max_receive_message_length': 64 * 1024 * 1024,
      }),
  );
}

class Recorder {
  private readonly latencies_us: number[] = [];
  errors = 0;
  approved = 0;
  declined = 0;
  readonly errorCodes = new Map<number, number>();

  record(startedAt: bigint, outcome: Outcome | undefined, errorCode?: number): void {
    this.latencies_us.push(Number(process.hrtime.bigint() - startedAt) / 1000);
    if (errorCode !== undefined) {
      this.errors += 1;
      this.errorCodes.set(errorCode, (this.errorCodes.get(errorCode) ?? 0) + 1);
    } else if (outcome === Outcome.OUTCOME_APPROVED) this.approved += 1;
    else this.declined += 1;
  }

  result(seconds: number): PhaseResult {
    const sorted = Float64Array.from(this.latencies_us).sort();
    const at = (q: number): number =>
      sorted.length === 0 ? 0 : (sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number) / 1000;
    return {
      requests: sorted.length,
      errors: this.errors,
      approved: this.approved,
      declined: this.declined,
      seconds: round(seconds),
      rps: round(sorted.length / seconds),
      p50_ms: round(at(0.5)),
      p99_ms: round(at(0.99)),
    };
  }
}

/** The median of numbers (the lower middle one of an even count). */
export function medianOf(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)] as number;
}

/** The median round by `key` (throughput unless told), the lower middle one of an even count. */
export function medianRound(results: readonly PhaseResult[], key: (r: PhaseResult) => number = (r) => r.rps): PhaseResult {
  const sorted = [...results].sort((a, b) => key(a) - key(b));
  return sorted[Math.floor((sorted.length - 1) / 2)] as PhaseResult;
}

/**
 * The median of the rounds' own ratios numerator[i] / denominator[i]: each pairs two windows
 * measured seconds apart, so the machine's drift between rounds cancels out.
 */
export function pairedRatio(
  numerators: readonly PhaseResult[],
  denominators: readonly PhaseResult[],
  value: (r: PhaseResult) => number,
): number {
  return round(medianOf(numerators.map((r, i) => value(r) / Math.max(value(denominators[i] as PhaseResult), 0.001))));
}

export function round(value: number, digits = 3): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

function sendUnary(target: UnaryTarget, request: AuthorizeRequest, recorder: Recorder | undefined, done: () => void): void {
  const startedAt = process.hrtime.bigint();
  target.authorize(request, (errorCode, response) => {
    recorder?.record(startedAt, response?.outcome, errorCode);
    done();
  });
}

/**
 * Closed loop: `concurrency` requests outstanding for warmup + measure seconds; only requests
 * completing in the measure window count.
 */
export async function closedLoopUnary(
  targets: UnaryTarget[],
  next: RequestFactory,
  concurrency: number,
  warmupSeconds: number,
  measureSeconds: number,
): Promise<PhaseResult> {
  let i = 0;
  let recorder: Recorder | undefined;
  let stopped = false;
  let outstanding = 0;
  let finish: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const launch = (): void => {
    if (stopped) {
      if (outstanding === 0) finish();
      return;
    }
    const n = i++;
    outstanding += 1;
    sendUnary(targets[n % targets.length] as UnaryTarget, next(n), recorder, () => {
      outstanding -= 1;
      launch();
    });
  };
  for (let c = 0; c < concurrency; c++) launch();
  return measureWindow(
    warmupSeconds,
    measureSeconds,
    (next) => {
      recorder = next;
      if (next === undefined) stopped = true;
    },
    finished,
  );
}

/**
 * Runs the measure window of a closed-loop phase: after the warm-up, installs a fresh recorder
 * for `measureSeconds`, then removes it, stops the load and waits for what is outstanding.
 */
async function measureWindow(
  warmupSeconds: number,
  measureSeconds: number,
  setRecorder: (recorder: Recorder | undefined) => void,
  drained: Promise<unknown>,
): Promise<PhaseResult> {
  await delay(warmupSeconds * 1000);
  const recorder = new Recorder();
  setRecorder(recorder);
  const started = process.hrtime.bigint();
  await delay(measureSeconds * 1000);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  setRecorder(undefined);
  await drained;
  return recorder.result(seconds);
}

/** Open loop: sends `rate` requests per second regardless of replies; latency at that load. */
export async function openLoopUnary(
  targets: UnaryTarget[],
  next: RequestFactory,
  rate: number,
  warmupSeconds: number,
  measureSeconds: number,
): Promise<PhaseResult> {
  let i = 0;
  let outstanding = 0;
  let recorder: Recorder | undefined;
  const tick_ms = 2;
  const startedAll = process.hrtime.bigint();
  const totalSeconds = warmupSeconds + measureSeconds;
  let measureStarted = 0n;
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const elapsed = Number(process.hrtime.bigint() - startedAll) / 1e9;
      if (recorder === undefined && elapsed >= warmupSeconds) {
        recorder = new Recorder();
        measureStarted = process.hrtime.bigint();
      }
      if (elapsed >= totalSeconds) {
        clearInterval(timer);
        resolve();
        return;
      }
      const due = Math.floor(elapsed * rate);
      while (i < due) {
        const n = i++;
        outstanding += 1;
        const target = recorder;
        sendUnary(targets[n % targets.length] as UnaryTarget, next(n), target, () => {
          outstanding -= 1;
        });
      }
    }, tick_ms);
  });
  const seconds = Number(process.hrtime.bigint() - measureStarted) / 1e9;
  const measured = recorder as Recorder;
  while (outstanding > 0) await delay(10);
  return measured.result(seconds);
}

/**
 * Gateway streams: each stream keeps up to `window` items outstanding, sent in frames of
 * `frame` items. Throughput counts items answered in the measure window.
 */
export async function closedLoopStream(
  targets: AuthorizationServiceClient[],
  next: RequestFactory,
  streams: number,
  frame: number,
  window: number,
  warmupSeconds: number,
  measureSeconds: number,
): Promise<PhaseResult> {
  let i = 0;
  let recorder: Recorder | undefined;
  let stopped = false;
  const ended: Promise<void>[] = [];
  for (let s = 0; s < streams; s++) {
    const call = (targets[s % targets.length] as AuthorizationServiceClient).authorizeStream();
    const started = new Map<string, bigint>();
    let outstanding = 0;
    const refill = (): void => {
      while (!stopped && outstanding + frame <= window) {
        const items = [];
        for (let k = 0; k < frame; k++) {
          const n = i++;
          const correlationId = String(n);
          started.set(correlationId, process.hrtime.bigint());
          items.push({ correlationId, request: next(n) });
        }
        outstanding += frame;
        call.write({ items });
      }
      if (stopped && outstanding === 0) call.end();
    };
    call.on('data', (response: AuthorizeStreamResponse) => {
      for (const result of response.results) {
        const startedAt = started.get(result.correlationId);
        started.delete(result.correlationId);
        outstanding -= 1;
        if (startedAt !== undefined)
          recorder?.record(startedAt, result.reply?.outcome, result.statusCode === 0 ? undefined : result.statusCode);
      }
      refill();
    });
    ended.push(
      new Promise<void>((resolve) => {
        call.on('end', resolve);
        call.on('error', () => resolve());
      }),
    );
    refill();
  }
  return measureWindow(
    warmupSeconds,
    measureSeconds,
    (next) => {
      recorder = next;
      if (next === undefined) stopped = true;
    },
    Promise.all(ended),
  );
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
