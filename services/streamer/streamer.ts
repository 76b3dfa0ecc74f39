// The streamer: every outbox entry in Redis reaches ClickHouse, at least once, and is
// acknowledged and trimmed from Redis only after ClickHouse accepted it (invariant 6).
//
// The loop, one batch at a time:
//   1. On start, re-read this consumer's own pending entries (delivered before a crash and never
//      acknowledged): they are sent again. ClickHouse may already hold them; the *_dedup views
//      remove the copies.
//   2. Read new entries from all shards with one XREADGROUP, until batch_rows_max rows are in
//      hand or batch_wait_ms passed since the first; every claim interval, also take over entries
//      left pending by dead consumers (XAUTOCLAIM).
//   3. Insert the batch; on failure wait (exponential backoff up to a cap) and insert the same
//      batch again, for as long as it takes. Nothing is dropped; while it waits nothing new is
//      read, so memory stays bounded and the authorizer (which only XADDs) is never slowed.
//   4. XACK the batch's entries and trim the stream below its first entry not yet acknowledged
//      (XTRIM MINID, one script; retried the same way).
// With Redis replicas, step 3 begins by making sure the replicas have everything read (a fence
// write and WAIT): an entry read from a primary may belong to a commit whose replication fell
// short (its client was told UNAVAILABLE), and a failover may then undo it. When the replicas fall
// short the batch is dropped from memory, not inserted, and this consumer's pending entries are
// read again from whichever primary serves now: what a failover undid is no longer there.
//
// Memory bound: one read asks each stream for at most ceil(room / streams) entries (a stream per
// shard plus the audit streams), so the entries in hand never exceed 2 * batch_rows_max + streams; a batch sent is at most
// batch_rows_max rows, and entries read beyond it wait in memory for the next batch.

import type { Logger } from '../common/logger';
import { ClickHouseSink } from './clickhouse-sink';
import type { StreamerConfig } from './config';
import { ClickHouseError, OutboxError } from './errors';
import { StreamerMetrics } from './metrics';
import { OutboxReader } from './outbox-reader';
import { redisReplyCode } from '../common/redis-errors';
import { rowsOf, type OutboxEntry } from './rows';

export interface StreamerStats {
  batches: number;
  /** Outbox entries sent (a transaction's line items are extra ClickHouse rows, not counted here). */
  rows: number;
  /** Most entries in one batch (bounded by TAPLINE_STREAMER_BATCH_ROWS_MAX). */
  largest_batch_rows: number;
  insert_failures: number;
  ack_failures: number;
  claimed: number;
}

/** Entries per stream per XAUTOCLAIM: a sweep takes at most this times shard_count entries. */
const claim_count_per_stream = 100;

export class Streamer {
  readonly stats: StreamerStats = { batches: 0, rows: 0, largest_batch_rows: 0, insert_failures: 0, ack_failures: 0, claimed: 0 };
  private readonly held: OutboxEntry[] = [];
  /** "<shard>:<id>" of every entry held, so a claim sweep does not take an entry twice. */
  private readonly heldIds = new Set<string>();
  private readonly claimCursors = new Map<number, string>();
  private stopping = false;
  /** Set when a batch could not be shown replicated: what is in hand is dropped and read again. */
  private rereadPending = false;
  private stopDeadline = Number.POSITIVE_INFINITY;
  private wakeBackoff: (() => void) | undefined;
  private lagTimer: NodeJS.Timeout | undefined;
  private lagInFlight = false;
  private readonly done: Promise<void>;
  /** Settles when the loop ends: after stop(), or rejected on a programmer error. */
  readonly finished: Promise<void>;

  private constructor(
    private readonly config: StreamerConfig,
    private readonly logger: Logger,
    readonly metrics: StreamerMetrics,
    private readonly reader: OutboxReader,
    private readonly sink: ClickHouseSink,
  ) {
    this.done = this.run();
    this.finished = this.done;
    // stop() and main.ts observe failures through `finished`; this keeps an unobserved one from
    // becoming an unhandled rejection.
    this.done.catch(() => undefined);
  }

  /** Connects to Redis, creates the consumer groups and starts streaming. Migrations run first, elsewhere. */
  static async start(config: StreamerConfig, logger: Logger, metrics = new StreamerMetrics(false)): Promise<Streamer> {
    const reader = await OutboxReader.connect(
      {
        target: config.redis,
        shard_count: config.TAPLINE_SHARD_COUNT,
        consumer: config.TAPLINE_NODE_ID,
        command_timeout_ms: config.TAPLINE_REDIS_COMMAND_TIMEOUT_MS,
      },
      (error) => logger.warn({ err: error.message }, 'redis connection error'),
    );
    try {
      await reader.ensureGroups();
    } catch (error) {
      await reader.close();
      throw error;
    }
    const sink = new ClickHouseSink({
      url: config.TAPLINE_CLICKHOUSE_URL,
      database: config.TAPLINE_CLICKHOUSE_DATABASE,
      insert_timeout_ms: config.TAPLINE_STREAMER_INSERT_TIMEOUT_MS,
      ...(config.TAPLINE_CLICKHOUSE_CLUSTER === undefined ? {} : { cluster: { insert_quorum: config.TAPLINE_CLICKHOUSE_INSERT_QUORUM } }),
    });
    return new Streamer(config, logger, metrics, reader, sink);
  }

  /** Backlog and age of the oldest entry, as the lag gauges show them. */
  lag(): ReturnType<OutboxReader['lag']> {
    return this.reader.lag(Date.now());
  }

  pendingCount(): Promise<number> {
    return this.reader.pendingCount();
  }

  /**
   * Stops reading, sends and acknowledges what is in hand (retrying until grace_ms has passed),
   * then closes. Entries not acknowledged by then stay pending in Redis for the next start.
   */
  async stop(grace_ms: number = this.config.TAPLINE_SHUTDOWN_GRACE_MS): Promise<{ unacknowledged: number }> {
    if (!this.stopping) {
      this.stopping = true;
      this.stopDeadline = Date.now() + grace_ms;
      // A retry waiting out its backoff tries once more now, then waits no later than the deadline.
      this.wakeBackoff?.();
    }
    await this.done;
    return { unacknowledged: this.held.length };
  }

  private async run(): Promise<void> {
    this.lagTimer = setInterval(() => void this.sampleLag(), this.config.TAPLINE_STREAMER_LAG_SAMPLE_MS);
    try {
      await this.recoverPending();
      let next_claim_ms = Date.now() + this.config.TAPLINE_STREAMER_CLAIM_INTERVAL_MS;
      while (!this.stopping) {
        const batch_deadline_ms = Date.now() + this.config.TAPLINE_STREAMER_BATCH_WAIT_MS;
        while (!this.stopping && this.held.length < this.config.TAPLINE_STREAMER_BATCH_ROWS_MAX) {
          const now = Date.now();
          if (this.held.length > 0 && now >= batch_deadline_ms) break;
          if (now >= next_claim_ms) {
            next_claim_ms = now + this.config.TAPLINE_STREAMER_CLAIM_INTERVAL_MS;
            await this.claimIdle();
            continue;
          }
          const block_ms =
            this.held.length === 0
              ? Math.min(this.config.TAPLINE_STREAMER_READ_BLOCK_MS, next_claim_ms - now)
              : Math.min(this.config.TAPLINE_STREAMER_READ_BLOCK_MS, batch_deadline_ms - now);
          const before = this.held.length;
          await this.readNew(Math.max(1, block_ms));
          // A read that brought less than a tenth of a batch: wait a little before the next, so
          // under steady load each read over all shards carries many entries instead of a few
          // (every read costs Redis a look at every shard's stream). Bounded by the batch window.
          const brought = this.held.length - before;
          if (brought > 0 && brought < this.config.TAPLINE_STREAMER_BATCH_ROWS_MAX / 10) {
            const pause = Math.min(this.config.TAPLINE_STREAMER_READ_PAUSE_MS, batch_deadline_ms - Date.now());
            if (pause > 0) await new Promise((resolve) => setTimeout(resolve, pause));
          }
        }
        await this.sendHeld(false);
        if (this.rereadPending) await this.dropAndRereadPending();
      }
      // Shutdown: everything in hand goes out (bounded by the stop deadline).
      await this.sendHeld(true);
    } catch (error) {
      this.logger.error({ err: error }, 'streamer loop failed');
      throw error;
    } finally {
      clearInterval(this.lagTimer);
      await this.sink.close().catch(() => undefined);
      await this.reader.close().catch(() => undefined);
    }
  }

  /** Step 1: this consumer's own pending entries, shard by shard from the start of its list. */
  private async recoverPending(): Promise<void> {
    const cursors = new Map<number, string>(Array.from({ length: this.reader.streamCount }, (_, shard) => [shard, '0']));
    let recovered = 0;
    while (cursors.size > 0 && !this.pastStopDeadline()) {
      const count = this.readCount();
      let entries: OutboxEntry[];
      try {
        entries = await this.reader.readPending(cursors, count);
      } catch (error) {
        await this.failed('read', error, 0);
        continue;
      }
      const seen = new Set<number>();
      for (const entry of entries) {
        cursors.set(entry.shard, entry.streamId);
        seen.add(entry.shard);
      }
      // A shard that returned fewer than asked has no more pending entries for this consumer.
      const perShard = new Map<number, number>();
      for (const entry of entries) perShard.set(entry.shard, (perShard.get(entry.shard) ?? 0) + 1);
      for (const shard of [...cursors.keys()]) if ((perShard.get(shard) ?? 0) < count) cursors.delete(shard);
      this.hold(entries);
      recovered += entries.length;
      while (this.held.length >= this.config.TAPLINE_STREAMER_BATCH_ROWS_MAX && !this.pastStopDeadline() && !this.rereadPending)
        await this.sendBatch();
      if (this.rereadPending) return;
    }
    if (recovered > 0) this.logger.info({ entries: recovered }, 're-reading pending entries from before a restart');
  }

  private async readNew(block_ms: number): Promise<void> {
    try {
      this.hold(await this.reader.readNew(this.readCount(), block_ms));
    } catch (error) {
      // A stream deleted and written again has lost its consumer group: create it again (from
      // the stream's start, so nothing written since is skipped).
      if (redisReplyCode(error) === 'NOGROUP') {
        await this.reader.ensureGroups().catch(() => undefined);
      }
      await this.failed('read', error, 0);
    }
  }

  private async claimIdle(): Promise<void> {
    try {
      const claimed = (
        await this.reader.claimIdle(this.config.TAPLINE_STREAMER_CLAIM_IDLE_MS, claim_count_per_stream, this.claimCursors)
      ).filter((entry) => !this.heldIds.has(`${entry.shard}:${entry.streamId}`));
      if (claimed.length > 0) {
        this.stats.claimed += claimed.length;
        this.metrics.claimedEntries.inc(claimed.length);
        this.logger.info({ entries: claimed.length }, 'took over entries left pending by another consumer');
        this.hold(claimed);
      }
      const forgotten = await this.reader.forgetIdleConsumers(this.config.TAPLINE_STREAMER_CONSUMER_FORGET_MS);
      if (forgotten > 0) this.logger.info({ consumers_removed: forgotten }, 'removed consumers that left the group with nothing pending');
    } catch (error) {
      await this.failed('claim', error, 0);
    }
  }

  /** Entries to ask of each stream so the entries in hand stay within the memory bound. */
  private readCount(): number {
    const room = Math.max(1, this.config.TAPLINE_STREAMER_BATCH_ROWS_MAX - this.held.length);
    return Math.max(1, Math.ceil(room / this.reader.streamCount));
  }

  private hold(entries: readonly OutboxEntry[]): void {
    for (const entry of entries) {
      this.held.push(entry);
      this.heldIds.add(`${entry.shard}:${entry.streamId}`);
    }
  }

  /** Sends what is in hand: one batch normally, all of it on shutdown. */
  private async sendHeld(all: boolean): Promise<void> {
    do {
      if (this.held.length === 0 || this.pastStopDeadline() || this.rereadPending) return;
      await this.sendBatch();
    } while (all);
  }

  /** Forgets every entry in hand (none was inserted) and reads this consumer's pending entries again. */
  private async dropAndRereadPending(): Promise<void> {
    this.rereadPending = false;
    this.held.splice(0);
    this.heldIds.clear();
    await this.recoverPending();
  }

  /** Steps 3 and 4 for the oldest batch_rows_max entries in hand. */
  private async sendBatch(): Promise<void> {
    if (this.rereadPending) return;
    const entries = this.held.slice(0, this.config.TAPLINE_STREAMER_BATCH_ROWS_MAX);
    const rows = entries.flatMap(rowsOf);
    const started_ms = Date.now();
    try {
      await this.reader.ensureReplicated(entries);
    } catch (error) {
      this.rereadPending = true;
      await this.failed('replicate', error, 0);
      return;
    }
    for (let attempt = 0; ; attempt += 1) {
      if (this.pastStopDeadline()) return;
      try {
        await this.sink.insert(rows);
        break;
      } catch (error) {
        this.stats.insert_failures += 1;
        await this.failed('insert', error, attempt);
      }
    }
    for (let attempt = 0; ; attempt += 1) {
      if (this.pastStopDeadline()) return;
      try {
        await this.reader.acknowledge(entries);
        break;
      } catch (error) {
        this.stats.ack_failures += 1;
        await this.failed('ack', error, attempt);
      }
    }
    this.held.splice(0, entries.length);
    for (const entry of entries) this.heldIds.delete(`${entry.shard}:${entry.streamId}`);
    this.stats.batches += 1;
    this.stats.rows += entries.length;
    this.stats.largest_batch_rows = Math.max(this.stats.largest_batch_rows, entries.length);
    this.metrics.batchRows.observe(rows.length);
    const byTable = new Map<string, number>();
    for (const row of rows) byTable.set(row.table, (byTable.get(row.table) ?? 0) + 1);
    for (const [table, count] of byTable) this.metrics.rows.inc({ table }, count);
    this.logger.debug({ rows: rows.length, tables: Object.fromEntries(byTable), took_ms: Date.now() - started_ms }, 'batch streamed');
  }

  /** Counts and logs a failed step, then waits its backoff (cut short by a stop deadline). */
  private async failed(step: 'insert' | 'ack' | 'read' | 'claim' | 'replicate', error: unknown, attempt: number): Promise<void> {
    // Only infrastructure failures are retried; anything else is a bug and stops the loop loudly.
    if (!(error instanceof ClickHouseError || error instanceof OutboxError)) throw error;
    this.metrics.failures.inc({ step });
    const wait_ms = Math.min(
      this.config.TAPLINE_STREAMER_BACKOFF_MAX_MS,
      this.config.TAPLINE_STREAMER_BACKOFF_INITIAL_MS * 2 ** Math.min(attempt, 30),
    );
    this.logger.warn({ step, attempt, wait_ms, err: error }, `${step} failed; retrying`);
    const until_ms = Math.min(Date.now() + wait_ms, this.stopDeadline);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, Math.max(0, until_ms - Date.now()));
      this.wakeBackoff = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.wakeBackoff = undefined;
  }

  private pastStopDeadline(): boolean {
    return this.stopping && Date.now() >= this.stopDeadline;
  }

  private async sampleLag(): Promise<void> {
    if (this.lagInFlight) return;
    this.lagInFlight = true;
    try {
      const lag = await this.reader.lag(Date.now());
      this.metrics.backlogEntries.set(lag.backlog_entries);
      this.metrics.oldestEntryAgeSeconds.set(lag.oldest_entry_age_ms / 1000);
    } catch (error) {
      this.metrics.failures.inc({ step: 'lag' });
      this.logger.debug({ err: error }, 'lag sample failed');
    } finally {
      this.lagInFlight = false;
    }
  }
}
