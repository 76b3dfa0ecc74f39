// Benchmark phases for the reporting path: what running the streamer costs the
// authorization path, and how long an approval takes to become queryable in ClickHouse.
//
// `streamerCost`: alternating rounds of unary closed-loop load without the streamer (paused with
// SIGSTOP, the outbox grows) and with it (SIGCONT; first the backlog is drained and ClickHouse's
// merges of it are let finish, then measured). The pause is this method's own artifact: a
// streamer that never stops has no backlog to catch up, so the merges of a few seconds' catch-up
// landing in the measured window would charge the steady state with work it does not have.
// `clickhouseLag`: open-loop load for a while; every 20th approval's transaction id and reply time
// are kept, ClickHouse is polled every 100 ms for them; lag = first seen - reply received.

import { createClient } from 'redis';
import { queryClickHouse } from '../tools/devenv/clickhouse';
import { outboxBacklog } from '../tools/devenv/outbox';
import type { ServerProcess } from '../tools/devenv/node-process';
import { shardKeys } from '../services/authorizer/store/keys';
import { stringLiteral } from '../services/streamer/sql';
import { Outcome } from '../gen/tapline/v1/types';
import { closedLoopUnary, delay, round, type PhaseResult, type RequestFactory, type UnaryTarget } from './driver';

const drain_timeout_ms = 60_000;
/** Longest wait for ClickHouse's merges of a drained backlog before a measured round. */
const merges_timeout_ms = 15_000;
const poll_interval_ms = 100;
const lag_sample_every = 20;
/** After the load stops, sampled approvals not queryable within this long count as never seen. */
const lag_wait_after_ms = 30_000;

/**
 * Empties the outbox streams of the benchmark's private Redis. The phases before the streaming
 * ones leave hundreds of thousands of entries; draining them would measure catch-up, not the
 * steady state these phases are about, and would not fit the benchmark's time budget.
 */
export async function discardOutbox(redisUrl: string, shardCount: number): Promise<number> {
  const client = createClient({ url: redisUrl });
  await client.connect();
  try {
    const removed = await Promise.all(
      Array.from({ length: shardCount }, (_, shard) => client.sendCommand<number>(['XTRIM', shardKeys(shard).outbox, 'MAXLEN', '0'])),
    );
    return removed.reduce((sum, count) => sum + count, 0);
  } finally {
    await client.close();
  }
}

/** Waits until the streamer emptied the outbox; returns the entries left if it did not in time. */
export async function waitForDrain(redisUrl: string, shardCount: number): Promise<number> {
  const deadline = Date.now() + drain_timeout_ms;
  for (;;) {
    const backlog = await outboxBacklog(redisUrl, shardCount);
    if (backlog === 0 || Date.now() > deadline) return backlog;
    await delay(poll_interval_ms);
  }
}

/** Waits (bounded) until ClickHouse runs no merge; returns how many ms that took. */
export async function waitForMerges(clickhouseUrl: string, timeoutMs = merges_timeout_ms): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    const running = Number((await queryClickHouse(clickhouseUrl, 'SELECT count() FROM system.merges')).trim());
    if (running === 0) break;
    await delay(poll_interval_ms);
  }
  return Date.now() - started;
}

export async function streamerCost(
  streamer: ServerProcess,
  redisUrl: string,
  clickhouseUrl: string,
  shardCount: number,
  targets: UnaryTarget[],
  next: RequestFactory,
  concurrency: number,
  measureSeconds: number,
  rounds: number,
  log: (name: string, result: PhaseResult) => void,
): Promise<{ with: PhaseResult[]; without: PhaseResult[]; undrained: number[]; merge_wait_ms: number[] }> {
  const rows = { with: [] as PhaseResult[], without: [] as PhaseResult[], undrained: [] as number[], merge_wait_ms: [] as number[] };
  for (let r = 1; r <= rounds; r++) {
    process.kill(streamer.pid, 'SIGSTOP');
    try {
      const without = await closedLoopUnary(targets, next, concurrency, 1, measureSeconds);
      log(`round ${r}: authorize unary, streamer paused`, without);
      rows.without.push(without);
    } finally {
      process.kill(streamer.pid, 'SIGCONT');
    }
    rows.undrained.push(await waitForDrain(redisUrl, shardCount));
    rows.merge_wait_ms.push(await waitForMerges(clickhouseUrl));
    const withStreamer = await closedLoopUnary(targets, next, concurrency, 1, measureSeconds);
    log(`round ${r}: authorize unary, streamer running`, withStreamer);
    rows.with.push(withStreamer);
  }
  return rows;
}

export async function clickhouseLag(
  clickhouseUrl: string,
  targets: UnaryTarget[],
  next: RequestFactory,
  rate: number,
  seconds: number,
): Promise<{ p50: number; p99: number; max: number; samples: number; never_seen: number }> {
  const waiting = new Map<string, number>();
  const lags: number[] = [];
  let sent = 0;
  let approved = 0;
  let stop = false;
  let deadline = Number.POSITIVE_INFINITY;
  const poller = (async () => {
    while (!stop || waiting.size > 0) {
      await delay(poll_interval_ms);
      if (waiting.size === 0) continue;
      const ids = [...waiting.keys()].slice(0, 500);
      const found = await queryClickHouse(
        clickhouseUrl,
        `SELECT id FROM tapline.transactions WHERE id IN (${ids.map(stringLiteral).join(',')}) FORMAT TSV`,
      );
      const now = Date.now();
      for (const id of found.split('\n')) {
        const repliedAt = waiting.get(id);
        if (repliedAt === undefined) continue;
        lags.push(now - repliedAt);
        waiting.delete(id);
      }
      if (stop && Date.now() > deadline) break;
    }
  })();
  const started = Date.now();
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const elapsed = (Date.now() - started) / 1000;
      if (elapsed >= seconds) {
        clearInterval(timer);
        resolve();
        return;
      }
      for (const due = Math.floor(elapsed * rate); sent < due; sent++) {
        (targets[sent % targets.length] as UnaryTarget).authorize(next(sent), (error, response) => {
          if (error !== undefined || response?.outcome !== Outcome.OUTCOME_APPROVED) return;
          approved += 1;
          if (approved % lag_sample_every === 0) waiting.set(response.transactionId, Date.now());
        });
      }
    }, 2);
  });
  deadline = Date.now() + lag_wait_after_ms;
  stop = true;
  await poller;
  lags.sort((a, b) => a - b);
  const at = (q: number): number => lags[Math.min(lags.length - 1, Math.floor(q * lags.length))] ?? 0;
  return {
    p50: round(at(0.5), 0),
    p99: round(at(0.99), 0),
    max: round(lags[lags.length - 1] ?? 0, 0),
    samples: lags.length,
    never_seen: waiting.size,
  };
}

/** Redis's `used_memory`, in bytes. */
async function usedMemory(client: { sendCommand<T>(args: string[]): Promise<T> }): Promise<number> {
  const info = await client.sendCommand<string>(['INFO', 'memory']);
  const line = info.split('\r\n').find((l) => l.startsWith('used_memory:'));
  if (line === undefined) throw new Error('INFO memory has no used_memory line');
  return Number(line.slice('used_memory:'.length));
}

/**
 * Redis memory that authorizations leave behind once the streamer has caught up: `used_memory`
 * after the outbox drained, a closed-loop run of fresh authorizations (every request its own
 * idempotency key, on cards that already exist), the outbox drained again; the growth divided by
 * the authorizations sent. What remains is what Redis keeps per authorization for its retention
 * window (idempotency record, request record, anything not trimmed once streamed).
 */
export async function redisBytesPerAuthorization(
  redisUrl: string,
  shardCount: number,
  targets: UnaryTarget[],
  next: RequestFactory,
  concurrency: number,
  seconds: number,
): Promise<{ bytes_per_authorization: number; authorizations: number; used_memory_growth: number; undrained: number }> {
  const client = createClient({ url: redisUrl });
  await client.connect();
  try {
    await waitForDrain(redisUrl, shardCount);
    const before = await usedMemory(client);
    let sent = 0;
    const counted: RequestFactory = (i) => {
      sent += 1;
      return next(i);
    };
    await closedLoopUnary(targets, counted, concurrency, 0, seconds);
    const undrained = await waitForDrain(redisUrl, shardCount);
    const growth = (await usedMemory(client)) - before;
    return {
      bytes_per_authorization: round(growth / Math.max(sent, 1), 1),
      authorizations: sent,
      used_memory_growth: growth,
      undrained,
    };
  } finally {
    await client.close();
  }
}
