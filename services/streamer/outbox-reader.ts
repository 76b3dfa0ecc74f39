// The Redis side of the streamer: the consumer group over every shard's outbox stream.
//
//   XGROUP CREATE <outbox> tapline-streamer 0 MKSTREAM   once per shard (0: entries written before
//                                                        the group existed are streamed too)
//   XREADGROUP ... STREAMS <all outboxes> > > ...        new entries, one command for all shards
//   XREADGROUP ... STREAMS <all outboxes> <cursor> ...   this consumer's own pending entries
//   XAUTOCLAIM <outbox> ... <claim_idle_ms>              entries a dead consumer left pending
//   EVAL acknowledge_script <outbox> <ids>               after ClickHouse accepted the rows: XACK,
//                                                        then XTRIM MINID below the first entry not
//                                                        yet acknowledged
//   EVAL forget_consumers_script <outbox>                consumers long gone with nothing pending
//
// Acknowledging and trimming run in one script so an entry is never acknowledged and left in the
// stream (it would never be delivered again nor trimmed) or removed while still pending. Only one
// consumer group reads these streams, so everything before the group's first entry still pending
// (or, with none pending, up to the last one delivered) is in ClickHouse: one XTRIM MINID removes
// it, whole listpack nodes at a time, instead of one XDEL per entry that leaves a deleted entry's
// bytes in its node until the node empties. Acknowledged entries past an older pending one (a
// dead consumer's, until it is claimed) are deleted one by one, so the stream's length stays what
// has not reached ClickHouse.

import { audit_outbox_keys, shardKeys, replicationFenceKey } from '../authorizer/store/keys';
import { OutboxError } from './errors';
import { redisReplyCode } from '../common/redis-errors';
import { connectPrimaries, type RedisPrimaries } from '../common/redis-primaries';
import type { RedisTarget } from '../common/redis-target';
import type { OutboxEntry } from './rows';

export const consumer_group = 'tapline-streamer';

/** Ids per acknowledge script: keeps one script short for Redis and the argument list small. */
export const ack_ids_per_command_max = 1_000;

/**
 * On Redis Cluster one XREADGROUP reads one stream (one slot) and cannot block on all of them:
 * the streams are read without blocking, and a read that found nothing anywhere waits this long
 * (at most its block time) before the next. It adds at most this much to the lag.
 */
const cluster_poll_pause_ms = 100;

/**
 * Removes, from one stream's group, every consumer other than the caller that has nothing pending
 * and has not read for at least ARGV[3] ms. Check and delete run in one script, so a consumer
 * cannot read an entry between them (deleting a consumer drops its pending entries from the PEL,
 * which is why one with anything pending is never touched). Returns the names removed.
 */
const forget_consumers_script = `
local removed = {}
local consumers = redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])
for _, consumer in ipairs(consumers) do
  local fields = {}
  for i = 1, #consumer, 2 do fields[consumer[i]] = consumer[i + 1] end
  if fields['name'] ~= ARGV[2] and tonumber(fields['pending']) == 0 and tonumber(fields['idle']) >= tonumber(ARGV[3]) then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], fields['name'])
    removed[#removed + 1] = fields['name']
  end
end
return removed`;

/**
 * Acknowledges ARGV[2..] in group ARGV[1] of stream KEYS[1], then trims the stream below its first
 * entry not yet acknowledged: the group's smallest pending id, or with none pending the id after
 * its last delivered one. Acknowledged ids at or past that bound (an older entry is still pending)
 * are deleted. Returns the entries removed.
 */
const acknowledge_script = `
local key, group = KEYS[1], ARGV[1]
local ids = {}
for i = 2, #ARGV do ids[#ids + 1] = ARGV[i] end
redis.call('XACK', key, group, unpack(ids))
local bound
local pending = redis.call('XPENDING', key, group)
if tonumber(pending[1]) > 0 then
  bound = pending[2]
else
  for _, info in ipairs(redis.call('XINFO', 'GROUPS', key)) do
    local fields = {}
    for i = 1, #info, 2 do fields[info[i]] = info[i + 1] end
    if fields['name'] == group then
      local ms, seq = string.match(fields['last-delivered-id'], '^(%d+)-(%d+)$')
      bound = ms .. '-' .. string.format('%d', tonumber(seq) + 1)
    end
  end
end
if not bound then return 0 end
local removed = redis.call('XTRIM', key, 'MINID', bound)
local bound_ms, bound_seq = string.match(bound, '^(%d+)-(%d+)$')
bound_ms, bound_seq = tonumber(bound_ms), tonumber(bound_seq)
local later = {}
for _, id in ipairs(ids) do
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  ms, seq = tonumber(ms), tonumber(seq)
  if ms > bound_ms or (ms == bound_ms and seq >= bound_seq) then later[#later + 1] = id end
end
if #later > 0 then removed = removed + redis.call('XDEL', key, unpack(later)) end
return removed`;

export interface ReaderOptions {
  readonly target: RedisTarget;
  readonly shard_count: number;
  readonly consumer: string;
  /** Bound on a non-blocking command; a blocking read gets its BLOCK time on top. */
  readonly command_timeout_ms: number;
}

export interface Lag {
  /** Entries in all outbox streams: not yet streamed, or streamed and not yet acknowledged. */
  readonly backlog_entries: number;
  /** Age of the oldest such entry (from its stream id), 0 when there is none. */
  readonly oldest_entry_age_ms: number;
}

/** A raw stream entry as RESP2 gives it: [id, [field, value, ...]] (fields null if deleted). */
type RawEntry = [string, string[] | null];

export class OutboxReader {
  private readonly keys: string[];
  private readonly shardOfKey = new Map<string, number>();

  private constructor(
    private readonly options: ReaderOptions,
    /** Used only for blocking XREADGROUP, so a block never delays acks or lag samples. */
    private readonly blocking: RedisPrimaries,
    private readonly commands: RedisPrimaries,
  ) {
    // The shards' streams, then the audit streams of state kept outside shards (approvals,
    // settlement) as pseudo-shards shard_count, shard_count + 1, ... (keys.ts audit_outbox_keys).
    this.keys = [...Array.from({ length: options.shard_count }, (_, shard) => shardKeys(shard).outbox), ...audit_outbox_keys];
    this.keys.forEach((key, shard) => this.shardOfKey.set(key, shard));
  }

  /** Streams read: one per shard plus the audit streams. */
  get streamCount(): number {
    return this.keys.length;
  }

  static async connect(options: ReaderOptions, onError: (error: Error) => void): Promise<OutboxReader> {
    const open = (): Promise<RedisPrimaries> =>
      connectPrimaries(options.target, {
        command_timeout_ms: options.command_timeout_ms,
        reconnect_backoff_max_ms: 2_000,
        onError,
      }).catch((error: unknown) => {
        throw new OutboxError('redis connect failed', error);
      });
    const blocking = await open();
    const commands = await open().catch(async (error: unknown) => {
      await blocking.close();
      throw error;
    });
    return new OutboxReader(options, blocking, commands);
  }

  async close(): Promise<void> {
    await this.blocking.close();
    await this.commands.close();
  }

  /** Creates the consumer group on every shard's stream (and the stream if missing). */
  async ensureGroups(): Promise<void> {
    await Promise.all(
      this.keys.map(async (key) => {
        try {
          await this.command(key, ['XGROUP', 'CREATE', key, consumer_group, '0', 'MKSTREAM']);
        } catch (error) {
          if (redisReplyCode(error) === 'BUSYGROUP') return;
          throw error;
        }
      }),
    );
  }

  /** New entries for this consumer, at most count_per_stream per shard, blocking up to block_ms. */
  async readNew(count_per_stream: number, block_ms: number): Promise<OutboxEntry[]> {
    if (this.commands.sharded) {
      const entries = await this.readEach(this.keys, () => '>', count_per_stream);
      if (entries.length === 0) await new Promise((resolve) => setTimeout(resolve, Math.min(block_ms, cluster_poll_pause_ms)));
      return entries;
    }
    const args = [
      'XREADGROUP',
      'GROUP',
      consumer_group,
      this.options.consumer,
      'COUNT',
      String(count_per_stream),
      'BLOCK',
      String(block_ms),
      'STREAMS',
      ...this.keys,
      ...this.keys.map(() => '>'),
    ];
    return this.parseRead(await this.bounded(this.blocking.send(this.keys[0] as string, args, block_ms), 'XREADGROUP'));
  }

  /**
   * This consumer's pending entries after the given per-shard cursors (ids; "0" to start). Only
   * shards present in `cursors` are read.
   */
  async readPending(cursors: ReadonlyMap<number, string>, count_per_stream: number): Promise<OutboxEntry[]> {
    if (cursors.size === 0) return [];
    const shards = [...cursors.keys()];
    const keys = shards.map((shard) => this.keyOf(shard));
    if (this.commands.sharded) return this.readEach(keys, (index) => cursors.get(shards[index] as number) as string, count_per_stream);
    const args = [
      'XREADGROUP',
      'GROUP',
      consumer_group,
      this.options.consumer,
      'COUNT',
      String(count_per_stream),
      'STREAMS',
      ...keys,
      ...shards.map((shard) => cursors.get(shard) as string),
    ];
    return this.parseRead(await this.command(keys[0] as string, args));
  }

  /** One non-blocking XREADGROUP per stream (Redis Cluster), all sent together. */
  private async readEach(keys: readonly string[], cursorOf: (index: number) => string, count_per_stream: number): Promise<OutboxEntry[]> {
    const replies = await Promise.all(
      keys.map((key, index) =>
        this.command(key, [
          'XREADGROUP',
          'GROUP',
          consumer_group,
          this.options.consumer,
          'COUNT',
          String(count_per_stream),
          'STREAMS',
          key,
          cursorOf(index),
        ]),
      ),
    );
    return replies.flatMap((reply) => this.parseRead(reply));
  }

  /**
   * Resolves once everything written before now on the primaries of these entries' shards is on
   * the replicas the deployment requires (a fence write and WAIT per primary; per shard on Redis
   * Cluster). An entry streamed before that could belong to a commit its client was told had
   * failed, and which a failover then undid. OutboxError when the replicas fall short.
   */
  async ensureReplicated(entries: readonly OutboxEntry[]): Promise<void> {
    if (this.commands.wait_replicas === 0 || entries.length === 0) return;
    const shards = this.commands.sharded ? [...new Set(entries.map((entry) => entry.shard))] : [(entries[0] as OutboxEntry).shard];
    await Promise.all(
      shards.map((shard) =>
        this.bounded(this.commands.sendReplicated(this.fenceKey(shard), ['SET', this.fenceKey(shard), this.options.consumer]), 'SET fence'),
      ),
    );
  }

  /**
   * The fence of a stream's primary: its shard's, or for an audit stream (a pseudo-shard) a key of
   * that stream's own hash tag, so the fence is written on the primary that holds the stream.
   */
  private fenceKey(shard: number): string {
    if (shard < this.options.shard_count) return replicationFenceKey(shard);
    return (this.keys[shard] ?? '').replace(/:outbox$/, ':fence');
  }

  /**
   * Takes over entries pending longer than min_idle_ms at any consumer (a dead one, or this one
   * after a read whose reply was lost), at most count_per_stream per shard, continuing from the
   * per-shard cursors, which are advanced in place.
   */
  async claimIdle(min_idle_ms: number, count_per_stream: number, cursors: Map<number, string>): Promise<OutboxEntry[]> {
    const replies = await Promise.all(
      this.keys.map((key, shard) =>
        this.command(key, [
          'XAUTOCLAIM',
          key,
          consumer_group,
          this.options.consumer,
          String(min_idle_ms),
          cursors.get(shard) ?? '0-0',
          'COUNT',
          String(count_per_stream),
        ]),
      ),
    );
    const entries: OutboxEntry[] = [];
    replies.forEach((reply, shard) => {
      const [next, claimed] = reply as [string, RawEntry[]];
      cursors.set(shard, next);
      for (const raw of claimed) if (raw !== null) entries.push(entryOf(shard, raw));
    });
    return entries;
  }

  /**
   * Removes consumers (other than this one) that have nothing pending and have not read for
   * min_idle_ms, on every shard's stream; returns how many consumer entries were removed.
   */
  async forgetIdleConsumers(min_idle_ms: number): Promise<number> {
    const replies = await Promise.all(
      this.keys.map((key) =>
        this.command(key, ['EVAL', forget_consumers_script, '1', key, consumer_group, this.options.consumer, String(min_idle_ms)]),
      ),
    );
    return replies.reduce<number>((sum, reply) => sum + (reply as string[]).length, 0);
  }

  /** Acknowledges the entries and trims what is acknowledged, all shards concurrently, one script per chunk. */
  async acknowledge(entries: readonly OutboxEntry[]): Promise<void> {
    const idsByShard = new Map<number, string[]>();
    for (const entry of entries) {
      const ids = idsByShard.get(entry.shard) ?? [];
      ids.push(entry.streamId);
      idsByShard.set(entry.shard, ids);
    }
    const chunks: [string, string[]][] = [];
    for (const [shard, ids] of idsByShard) {
      for (let start = 0; start < ids.length; start += ack_ids_per_command_max) {
        chunks.push([this.keyOf(shard), ids.slice(start, start + ack_ids_per_command_max)]);
      }
    }
    await Promise.all(
      chunks.map(([key, ids]) =>
        this.bounded(this.commands.send(key, ['EVAL', acknowledge_script, '1', key, consumer_group, ...ids]), 'acknowledge and trim'),
      ),
    );
  }

  /** Backlog length and age of the oldest entry over all shards (pipelined XLEN + XRANGE). */
  async lag(now_ms: number): Promise<Lag> {
    const samples = await Promise.all(
      this.keys.map(async (key) => {
        const [length, first] = await Promise.all([
          this.command(key, ['XLEN', key]) as Promise<number>,
          this.command(key, ['XRANGE', key, '-', '+', 'COUNT', '1']) as Promise<RawEntry[]>,
        ]);
        const id = first[0]?.[0];
        return { length: Number(length), first_ms: id === undefined ? undefined : Number(id.split('-')[0]) };
      }),
    );
    let backlog_entries = 0;
    let oldest_ms: number | undefined;
    for (const sample of samples) {
      backlog_entries += sample.length;
      if (sample.first_ms !== undefined && (oldest_ms === undefined || sample.first_ms < oldest_ms)) oldest_ms = sample.first_ms;
    }
    return { backlog_entries, oldest_entry_age_ms: oldest_ms === undefined ? 0 : Math.max(0, now_ms - oldest_ms) };
  }

  /** Entries pending in the group (delivered, not acknowledged), over all shards. */
  async pendingCount(): Promise<number> {
    const replies = await Promise.all(this.keys.map((key) => this.command(key, ['XPENDING', key, consumer_group])));
    return replies.reduce<number>((sum, reply) => sum + Number((reply as [number])[0]), 0);
  }

  private keyOf(shard: number): string {
    return this.keys[shard] as string;
  }

  private parseRead(reply: unknown): OutboxEntry[] {
    if (reply === null || reply === undefined) return [];
    const entries: OutboxEntry[] = [];
    // node-redis 6 answers a multi-key XREADGROUP as an object keyed by stream (RESP2 gives
    // [key, entries] pairs); both shapes are accepted.
    const streams = Array.isArray(reply) ? (reply as [string, RawEntry[]][]) : Object.entries(reply as Record<string, RawEntry[]>);
    for (const [key, raws] of streams) {
      const shard = this.shardOfKey.get(key);
      if (shard === undefined) throw new OutboxError('XREADGROUP answered for an unknown key', 'unexpected reply', { key });
      for (const raw of raws) entries.push(entryOf(shard, raw));
    }
    return entries;
  }

  private command(key: string, args: string[]): Promise<unknown> {
    return this.bounded(this.commands.send(key, args), args[0] as string);
  }

  /** Every failure leaves as an OutboxError (the primaries layer bounds each command's time). */
  private async bounded<T>(work: Promise<T>, name: string): Promise<T> {
    try {
      return await work;
    } catch (error) {
      if (error instanceof OutboxError) throw error;
      throw new OutboxError(`redis ${name} failed`, error);
    }
  }
}

function entryOf(shard: number, [streamId, fields]: RawEntry): OutboxEntry {
  let document: string | undefined;
  if (fields !== null) {
    for (let index = 0; index + 1 < fields.length; index += 2) {
      if (fields[index] === 'd') document = fields[index + 1];
    }
  }
  return { shard, streamId, document };
}
