// The outbox horizon: a Redis time below which every outbox document is already in ClickHouse.
//
// The streamer deletes an outbox entry only after ClickHouse accepted its rows (XACK + XDEL in one
// transaction, services/streamer/outbox-reader.ts). So an entry still in a shard's stream may not
// be in ClickHouse yet, and an entry gone from it is. Stream ids start with the Redis time of the
// XADD and only grow within a stream. Hence, with T(s) the TIME of the server holding shard s's
// stream, read in the same script as that stream's oldest entry:
//
//   horizon = min over every shard s of min(T(s), the time part of the oldest entry id of s's outbox)
//
// and every document committed before the horizon is in ClickHouse: one still in its stream would
// make its shard's oldest id at most its own time, below the horizon; one committed after its
// shard's script has an id of at least that server's T(s). Each shard is read with its own
// server's clock: on a Redis Cluster the primaries' clocks differ, and a document committed on a
// primary whose clock is behind another's must still fall above the horizon. Readers of ClickHouse that need "everything up to a point" (the
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

// KEYS[1] a shard's outbox stream. Its server's time (ms) and the id of its oldest entry (or "").
const shard_horizon_script = `
local now = redis.call('TIME')
local first = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)[1]
return { tostring(tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)), first and first[1] or '' }`;

/** Reads the horizon: one read-only script per shard (its server's TIME and oldest entry), concurrently, after the shard count check. */
export async function outboxHorizonMs(redis: RedisCommands, keys: readonly string[]): Promise<number> {
  if (Number(await redis.sendCommand(['EXISTS', shardKeys(keys.length).outbox])) === 1) throw shardCountError(keys.length);
  const shards = await Promise.all(
    keys.map((key) => redis.sendCommand(['EVAL_RO', shard_horizon_script, '1', key]) as Promise<[string, string]>),
  );
  let horizon_ms = Number.POSITIVE_INFINITY;
  for (const [now_ms, first] of shards) {
    horizon_ms = Math.min(horizon_ms, Number(now_ms));
    if (first !== '') horizon_ms = Math.min(horizon_ms, streamIdMs(first));
  }
  if (!Number.isSafeInteger(horizon_ms)) throw new Error('assertion: no outbox stream to read the horizon from');
  return horizon_ms;
}
