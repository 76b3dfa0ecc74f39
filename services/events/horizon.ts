// The outbox horizon: a Redis time below which every outbox document is already in ClickHouse.
//
// The streamer deletes an outbox entry only after ClickHouse accepted its rows (XACK + XDEL in one
// transaction, services/streamer/outbox-reader.ts). So an entry still in a shard's stream may not
// be in ClickHouse yet, and an entry gone from it is. Stream ids start with the Redis time of the
// XADD and only grow within a stream. Hence, with T = Redis TIME read first:
//
//   horizon = min(T, the time part of the oldest entry id of every shard's outbox)
//
// and every document committed before the horizon is in ClickHouse: one still in its stream would
// make its shard's oldest id at most its own time, below the horizon; one committed after T was
// read has an id of at least T. Readers of ClickHouse that need "everything up to a point" (the
// event relay, the settlement scheduler) read only below the horizon, and need no overlap window,
// no clock agreement between nodes and no second consumer group on the outbox.

import { shardKeys } from '../authorizer/store/keys';
import { ConfigError } from '../common/process';
import type { RedisCommands } from '../common/redis-lease';

/** The outbox stream keys of every shard (as the authorizer and the streamer name them). */
export function outboxKeys(shard_count: number): string[] {
  return Array.from({ length: shard_count }, (_, shard) => shardKeys(shard).outbox);
}

// A shard count smaller than the authorizer's would leave streams unread and put the horizon too
// high (documents not yet in ClickHouse would count as there). The first stream past the count must
// not exist; if it does, the reader refuses to go on (a ConfigError, logged on every attempt).
function shardCountError(shard_count: number): ConfigError {
  return new ConfigError(
    `an outbox stream exists for shard ${shard_count}: TAPLINE_SHARD_COUNT (${shard_count}) is below the authorizer's`,
  );
}

/** Milliseconds of a stream id "<ms>-<seq>". */
export function streamIdMs(id: string): number {
  const ms = Number(id.slice(0, id.indexOf('-')));
  if (!Number.isSafeInteger(ms) || ms < 0) throw new Error(`assertion: not a stream id: ${id}`);
  return ms;
}

/** Reads the horizon: one TIME, then one XRANGE ... COUNT 1 per shard, concurrently (after the shard count check). */
export async function outboxHorizonMs(redis: RedisCommands, keys: readonly string[]): Promise<number> {
  if (Number(await redis.sendCommand(['EXISTS', shardKeys(keys.length).outbox])) === 1) throw shardCountError(keys.length);
  const [seconds, micros] = (await redis.sendCommand(['TIME'])) as [string, string];
  let horizon_ms = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
  const firsts = await Promise.all(
    keys.map((key) => redis.sendCommand(['XRANGE', key, '-', '+', 'COUNT', '1']) as Promise<[string, unknown][]>),
  );
  for (const first of firsts) {
    const id = first[0]?.[0];
    if (id !== undefined) horizon_ms = Math.min(horizon_ms, streamIdMs(id));
  }
  return horizon_ms;
}
