// Group commit. Entities hand their decisions here instead of writing themselves; everything
// submitted while earlier commits are in flight goes to Redis as one script call, and each entry
// is settled (committed, duplicate, conflict, fenced, failed) when that call returns. A hot card
// therefore costs one Redis round trip per batch, not per transaction, and with
// appendfsync always one fsync covers the whole batch. A batch that fills (batch_entries_max)
// leaves at once, up to in_flight_max scripts in flight; one that is not full leaves while fewer
// than two are (flush). Scripts are on the socket when the call returns (redis-write-now.ts).
//
// Ordering: batches are sent in submission order on one connection and Redis answers in order,
// so entries are settled in the order they were submitted. Entities rely on that to chain
// versions of consecutive decisions.
//
// On Redis Cluster (store.sharded) a script runs on one hash slot, that is one shard: a batch is
// committed as one script per shard it touches, and the key records of its request keys that live
// on other shards (keys.ts) are claimed first, one key-claims script per home shard. A batch's
// scripts are sent after the previous batch's; an entity's reads after its own writes wait until
// those writes are answered. Entries that write on several shards (a card replacement onto another
// shard) cannot commit there: the card refuses them before deciding (Persistence.crossShardCommits).

import type { Logger } from 'pino';
import type { CommitEntry, CommitResult, EntityId, EntityWrite, Persistence, StoredRecord } from '../../../actors/runtime/persistence';
import { homeShardOfRequestKey, shardOf } from '../../../actors/sharding/shard-key';
import type { Metrics } from '../../common/metrics';
import { StoredStateError } from '../../../actors/state/codec';
import {
  cardKey,
  denylistPrefix,
  grantUsageKey,
  fleetCardKey,
  fleetKey,
  idempotencyKey,
  recordKey,
  requestKeyRecordKey,
  reversalClaimKey,
  reviewKey,
  shardKeys,
  terminalKey,
  vehicleKey,
} from './keys';
import type { RedisStore } from './redis-store';

/** Who holds which shard at which epoch; the committer asks it for every batch. */
export interface EpochSource {
  /** TAPLINE_SHARD_COUNT: every write is checked to land on its entity's own shard. */
  readonly shardCount: number;
  /** The epoch this node holds for the shard, or undefined if it does not hold it. */
  epochOf(shard: number): string | undefined;
}

export function entityKey(shard: number, entity: EntityId): string {
  switch (entity.kind) {
    case 'card':
      return cardKey(shard, entity.id);
    case 'terminal':
      return terminalKey(shard, entity.id);
    case 'fleet':
      return fleetKey(shard, entity.id);
    case 'fleet_card':
      return fleetCardKey(shard, entity.id);
    case 'vehicle':
      return vehicleKey(shard, entity.id);
    case 'review':
      return reviewKey(shard, entity.id);
    default:
      return recordKey(shard, entity.kind, entity.id);
  }
}

export interface CommitterLimits {
  /** Entries in one script call. Bounds Redis' time inside one script (it blocks other clients). */
  readonly batch_entries_max: number;
  /** Script calls awaiting their reply at once. */
  readonly in_flight_max: number;
  /** Entries waiting for a batch before submit() refuses. */
  readonly pending_entries_max: number;
  /** Seconds idempotency records and claims are kept. */
  readonly idempotency_ttl_s: number;
  /** Listing changes kept per shard in its denylist log (a terminal further behind gets a snapshot); default 4,096. */
  readonly denylist_log_per_shard_max?: number;
}

/** Scripts in flight below which a batch goes out before it is full (flush). */
const partial_in_flight_max = 2;

/** TAPLINE_DENYLIST_LOG_PER_SHARD_MAX's default (services/authorizer/config.ts says why). */
export const denylist_log_per_shard_default = 4_096;

// The results without data are shared (one per batch entry would be garbage on the hot path).
const committed_result: CommitResult = Object.freeze({ status: 'committed' });
const conflict_result: CommitResult = Object.freeze({ status: 'conflict' });
const fenced_result: CommitResult = Object.freeze({ status: 'fenced' });
const expired_result: CommitResult = Object.freeze({ status: 'expired' });
const reused_result: CommitResult = Object.freeze({ status: 'reused' });

/** A batch's script arguments and the entries they carry, in order. */
interface Payload {
  readonly args: (string | Buffer)[];
  readonly entries: CommitEntry[];
  /** A key of the slot the script runs on (any shard's epoch key outside a cluster). */
  readonly routingKey: string;
}

/** A key record to claim on a home shard before an entry commits (Redis Cluster). */
interface KeyRecordClaim {
  readonly entry: CommitEntry;
  /** The request's own key (its answer is a duplicate or reused) or a tombstone's (a conflict). */
  readonly request: boolean;
  readonly keyRecord: string;
  readonly record: string;
}

/** A read waiting until every entry submitted before it has been sent. */
interface ReadBarrier {
  /** Entries submitted when the read was asked for. */
  readonly submitted: number;
  readonly release: () => void;
}

export class Committer implements Persistence {
  private pending: CommitEntry[] = [];
  private inFlight = 0;
  private flushScheduled = false;
  private idleWaiters: (() => void)[] = [];
  /** Entries accepted by submit() and entries taken off the pending queue (sent or settled), ever. */
  private submitted = 0;
  private taken = 0;
  /** Reads in the order they were asked for, each waiting for the entries submitted before it. */
  private readBarriers: ReadBarrier[] = [];
  /** Redis Cluster: resolves once the last batch's scripts were sent (the next batch's go after them). */
  private lastBatchSent: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: RedisStore,
    private readonly epochs: EpochSource,
    private readonly limits: CommitterLimits,
    private readonly logger: Logger,
    private readonly metrics: Metrics,
  ) {}

  /** Queues an entry for the next batch; false when the pending queue is full. */
  submit(entry: CommitEntry): boolean {
    if (this.pending.length >= this.limits.pending_entries_max) return false;
    this.pending.push(entry);
    this.submitted += 1;
    // A full batch goes to Redis as soon as the decision that filled it has returned, not at the
    // end of the event-loop turn: in a burst (an offline upload tells hundreds of cards at once,
    // one actor turn each) Redis then writes the first batches while the node still decides the
    // rest, instead of the node waiting idle for all of them at the end. A microtask, not a send
    // from here: serializing can settle entries (expired, fenced), and a settle must never run
    // inside the commit call of the actor that submitted.
    if (this.pending.length === this.limits.batch_entries_max) queueMicrotask(() => this.flushFull());
    this.scheduleFlush();
    return true;
  }

  get pendingCount(): number {
    return this.pending.length + this.inFlight;
  }

  /**
   * Reads an entity. With `afterPendingWrites` (an entity that has commits of its own in flight)
   * the read waits until every entry submitted before it has been sent: one connection answers in
   * order, so the entity reads its own writes. It waits for its turn like any batch, so
   * in_flight_max holds: a storm of reloads cannot put more scripts on Redis at once. An entity
   * with nothing in flight (a first activation) reads at once, never behind other entities'
   * backlog.
   */
  async loadEntity(shard: number, entity: EntityId, options?: { readonly afterPendingWrites?: boolean }): Promise<StoredRecord> {
    const submitted = this.submitted;
    if (options?.afterPendingWrites === true && this.taken < submitted)
      await new Promise<void>((release) => this.readBarriers.push({ submitted, release }));
    return this.store.loadRecord(entityKey(shard, entity));
  }

  get crossShardCommits(): boolean {
    return !this.store.sharded;
  }

  /**
   * The record of a request key (keys.ts): under the key on its home shard, where it is the record
   * or a key record naming the record's key; on Redis Cluster an entity of `shard` whose home
   * shard is another slot first looks on its own shard. Returned only once the replicas required
   * have it.
   */
  async loadIdempotencyRecord(shard: number, key: string): Promise<string | undefined> {
    const home = homeShardOfRequestKey(key, this.epochs.shardCount);
    const own = idempotencyKey(shard, key);
    if (this.store.sharded && home !== shard) {
      const value = await this.store.getReplicatedString(own);
      if (value !== undefined) return value;
    }
    const value = await this.store.getReplicatedString(requestKeyRecordKey(home, key));
    if (value === undefined || !isKeyRecord(value)) return value;
    return value === own && this.store.sharded && home !== shard ? undefined : this.store.getReplicatedString(value);
  }

  loadReversalClaim(shard: number, originalKey: string): Promise<string | undefined> {
    return this.store.getString(reversalClaimKey(shard, originalKey));
  }

  /** A terminal's per-card grant usage (keys.ts offline_usage), after the terminal's own pending writes. */
  async loadGrantUsage(
    shard: number,
    terminalId: string,
    options?: { readonly afterPendingWrites?: boolean },
  ): Promise<Map<string, number>> {
    const submitted = this.submitted;
    if (options?.afterPendingWrites === true && this.taken < submitted)
      await new Promise<void>((release) => this.readBarriers.push({ submitted, release }));
    return unpackUsage(await this.store.hashAll(grantUsageKey(shard, terminalId)));
  }

  /** A card's listing history (keys.ts deny:hist); like loadEntity, after the card's own pending writes when asked. */
  async loadDenylistHistory(
    shard: number,
    cardId: string,
    options?: { readonly afterPendingWrites?: boolean },
  ): Promise<string | undefined> {
    const submitted = this.submitted;
    if (options?.afterPendingWrites === true && this.taken < submitted)
      await new Promise<void>((release) => this.readBarriers.push({ submitted, release }));
    return this.store.hashField(`${denylistPrefix(shard)}hist`, cardId);
  }

  /** Resolves when nothing is pending or in flight (graceful shutdown). */
  whenIdle(): Promise<void> {
    if (this.pending.length === 0 && this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  /** Sends the full batches waiting, within in_flight_max; the rest waits for the turn's flush. */
  private flushFull(): void {
    while (this.pending.length >= this.limits.batch_entries_max && this.inFlight < this.limits.in_flight_max) this.sendBatch();
  }

  /**
   * Sends the full batches waiting, then what is left as one partial batch, but only while fewer
   * than partial_in_flight_max scripts are in flight: under a light load entries keep gathering
   * behind two scripts, as they always did, instead of leaving a few at a time through every slot
   * (each script costs Redis and the node the same again); a burst fills the deeper pipeline with
   * full scripts.
   */
  private flush(): void {
    this.flushFull();
    if (this.pending.length > 0 && this.inFlight < Math.min(partial_in_flight_max, this.limits.in_flight_max)) this.sendBatch();
  }

  private sendBatch(): void {
    const batch =
      this.pending.length <= this.limits.batch_entries_max ? this.pending : this.pending.slice(0, this.limits.batch_entries_max);
    this.pending = batch === this.pending ? [] : this.pending.slice(batch.length);
    if (this.store.sharded) this.sendPerShard(batch);
    else this.sendAsOne(batch);
  }

  /** One server: the whole batch in one script, key records checked inside it. */
  private sendAsOne(batch: CommitEntry[]): void {
    this.taken += batch.length;
    const payload = this.serialize(batch, undefined);
    if (payload === undefined) {
      this.releaseReads();
      this.afterBatch();
      return;
    }
    this.inFlight += 1;
    void this.runPayload(payload).finally(() => {
      this.inFlight -= 1;
      this.afterBatch();
    });
    // The script call is on the connection now: reads asked for after these entries go behind it.
    this.releaseReads();
  }

  /**
   * Redis Cluster: claims the batch's key records on their home shards, then sends one script per
   * shard, after the previous batch's scripts, with one WAIT per primary after its scripts. Reads
   * waiting on these entries go once all are answered.
   */
  private sendPerShard(batch: CommitEntry[]): void {
    this.inFlight += 1;
    const previous = this.lastBatchSent;
    const sent = Promise.all([this.claimKeyRecords(batch), previous]).then(([entries]) => {
      const byShard = new Map<number, CommitEntry[]>();
      for (const entry of entries) {
        const group = byShard.get(entry.shard);
        if (group === undefined) byShard.set(entry.shard, [entry]);
        else group.push(entry);
      }
      const payloads: Payload[] = [];
      for (const [shard, group] of byShard) {
        const payload = this.serialize(group, shard);
        if (payload !== undefined) payloads.push(payload);
      }
      return [this.runPayloads(payloads)];
    });
    this.lastBatchSent = sent.then(
      () => undefined,
      () => undefined,
    );
    sent
      .then((replies) => Promise.all(replies))
      .catch((error: unknown) => this.logger.error({ err: error }, 'assertion: a per-shard commit failed outside its settlement'))
      .finally(() => {
        this.taken += batch.length;
        this.releaseReads();
        this.inFlight -= 1;
        this.afterBatch();
      });
  }

  /** Runs one script and settles its entries; never rejects. */
  private runPayload(payload: Payload): Promise<void> {
    this.metrics.commitBatchEntries.observe(payload.entries.length);
    const startedAt = process.hrtime.bigint();
    return this.store.runCommit(payload.routingKey, payload.args).then(
      (reply) => this.payloadAnswered(payload, { status: 'fulfilled', value: reply }, startedAt),
      (error: unknown) => this.payloadAnswered(payload, { status: 'rejected', reason: error }, startedAt),
    );
  }

  /** Redis Cluster: runs the scripts of several shards together (one WAIT per primary) and settles their entries; never rejects. */
  private async runPayloads(payloads: readonly Payload[]): Promise<void> {
    if (payloads.length === 0) return;
    for (const payload of payloads) this.metrics.commitBatchEntries.observe(payload.entries.length);
    const startedAt = process.hrtime.bigint();
    const outcomes = await this.store.runCommits(payloads.map((payload) => ({ shardKey: payload.routingKey, args: payload.args })));
    payloads.forEach((payload, index) => this.payloadAnswered(payload, outcomes[index] as PromiseSettledResult<string[]>, startedAt));
  }

  private payloadAnswered(payload: Payload, outcome: PromiseSettledResult<string[]>, startedAt: bigint): void {
    if (outcome.status === 'fulfilled') {
      this.metrics.commitSeconds.observe(Number(process.hrtime.bigint() - startedAt) / 1e9);
      this.settleBatch(payload.entries, outcome.value);
      return;
    }
    const error = outcome.reason as Error;
    this.metrics.commitFailures.inc();
    this.logger.warn({ err: error, entries: payload.entries.length }, 'commit failed; outcome unknown, callers retry');
    for (const entry of payload.entries) settleSafely(entry, { status: 'failed', error }, this.logger);
  }

  /**
   * Redis Cluster: claims, one script per home shard (one WAIT per primary after them), the key
   * records of request keys whose home shard is not the entry's own. Entries whose claim found another shard's record are settled here:
   * a duplicate (that record exists), reused (it does not), or a conflict (a tombstone's key).
   * Resolves with the entries that go on to commit, in order; never rejects.
   */
  private async claimKeyRecords(batch: readonly CommitEntry[]): Promise<CommitEntry[]> {
    const byHome = new Map<number, KeyRecordClaim[]>();
    const nowMs = Date.now();
    for (const entry of batch)
      for (const claim of this.remoteClaims(entry, nowMs)) {
        const home = claim.home;
        const group = byHome.get(home);
        if (group === undefined) byHome.set(home, [claim.claim]);
        else group.push(claim.claim);
      }
    if (byHome.size === 0) return [...batch];
    const outcomes = new Map<CommitEntry, CommitResult>();
    const homes = [...byHome];
    const replies = await this.store.runKeyClaims(
      homes.map(([home, claims]) => {
        const args = [String(this.limits.idempotency_ttl_s)];
        for (const claim of claims) args.push(claim.keyRecord, claim.record);
        return { shardKey: shardKeys(home).epoch, args };
      }),
    );
    await Promise.all(
      homes.map(async ([, claims], at) => {
        const reply = replies[at] as PromiseSettledResult<string[]>;
        if (reply.status === 'rejected') {
          for (const claim of claims) outcomes.set(claim.entry, { status: 'failed', error: reply.reason as Error });
          return;
        }
        await Promise.all(claims.map(async (claim, index) => this.claimAnswered(claim, reply.value[index] ?? '', outcomes)));
      }),
    );
    const remaining: CommitEntry[] = [];
    for (const entry of batch) {
      const outcome = outcomes.get(entry);
      if (outcome === undefined) remaining.push(entry);
      else settleSafely(entry, outcome, this.logger);
    }
    return remaining;
  }

  /** What a claim's answer means for its entry (nothing when the claim held). */
  private async claimAnswered(claim: KeyRecordClaim, answer: string, outcomes: Map<CommitEntry, CommitResult>): Promise<void> {
    if (answer === '' || outcomes.has(claim.entry)) return;
    if (!claim.request) {
      outcomes.set(claim.entry, conflict_result);
      return;
    }
    try {
      // The answer is a key record naming another shard's record, or the record itself (answered
      // by an entity of the home shard), read again once the replicas required have it.
      const existing = await this.store.getReplicatedString(isKeyRecord(answer) ? answer : claim.keyRecord);
      outcomes.set(claim.entry, existing === undefined || isKeyRecord(existing) ? reused_result : { status: 'duplicate', existing });
    } catch (error) {
      outcomes.set(claim.entry, { status: 'failed', error: error as Error });
    }
  }

  /**
   * Key records of an entry's request key and tombstones that live on another shard than the
   * entry's. None for an entry past its deadline: serialize() settles it expired, and its key
   * must not be taken by a request that writes nothing.
   */
  private remoteClaims(entry: CommitEntry, nowMs: number): { home: number; claim: KeyRecordClaim }[] {
    const claims: { home: number; claim: KeyRecordClaim }[] = [];
    if (entry.deadlineMs !== undefined && entry.deadlineMs <= nowMs) return claims;
    const add = (key: string, request: boolean): void => {
      const home = homeShardOfRequestKey(key, this.epochs.shardCount);
      if (home === entry.shard) return;
      claims.push({ home, claim: { entry, request, keyRecord: requestKeyRecordKey(home, key), record: idempotencyKey(entry.shard, key) } });
    };
    if (entry.idempotency !== undefined) add(entry.idempotency.key, true);
    for (const claim of entry.claims ?? []) if (claim.kind === 'idempotency') add(claim.key, false);
    return claims;
  }

  /** Lets the reads go whose earlier entries are all sent (the script call is queued on the connection before them). */
  private releaseReads(): void {
    let released = 0;
    while (released < this.readBarriers.length && (this.readBarriers[released] as ReadBarrier).submitted <= this.taken) released += 1;
    if (released === 0) return;
    const ready = this.readBarriers.slice(0, released);
    this.readBarriers = this.readBarriers.slice(released);
    for (const barrier of ready) barrier.release();
  }

  private afterBatch(): void {
    if (this.pending.length > 0) this.flush();
    else if (this.inFlight === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }

  /**
   * Builds the script arguments: the shards' epochs, then every entry's fields in one body, each
   * field ended by a NUL (commit.lua). Entries of shards this node no longer holds are settled
   * fenced; an entry with a NUL in a field would break the framing and fails alone. `onlyShard`
   * (Redis Cluster) is the one shard the script may touch: key records of other shards were
   * claimed beforehand, and an entry that writes on another shard is an assertion failure.
   */
  private serialize(batch: CommitEntry[], onlyShard: number | undefined): Payload | undefined {
    const shardIndex = new Map<number, number>();
    const shardArgs: string[] = [];
    const fields: string[] = [];
    const entries: CommitEntry[] = [];
    const nowMs = Date.now();
    for (const entry of batch) {
      if (entry.deadlineMs !== undefined && entry.deadlineMs <= nowMs) {
        this.metrics.commitExpired.inc();
        settleSafely(entry, expired_result, this.logger);
        continue;
      }
      const epoch = this.epochs.epochOf(entry.shard);
      if (epoch === undefined) {
        settleSafely(entry, fenced_result, this.logger);
        continue;
      }
      let index = shardIndex.get(entry.shard);
      if (index === undefined) {
        index = shardIndex.size + 1;
        shardIndex.set(entry.shard, index);
        shardArgs.push(shardKeys(entry.shard).epoch, epoch);
      }
      const misplaced = misplacedWrite(entry, this.epochs.shardCount);
      if (misplaced !== undefined) {
        // A programmer error that would fork the entity: a second copy under another shard's key,
        // fenced by another epoch, so two writers could both succeed (invariant 3).
        this.failAssertion(entry, `${misplaced.entity.kind} written on shard ${misplaced.shard ?? entry.shard}, not its own`);
        continue;
      }
      if (entry.fenceOwnShardOnly === true && !onlyCreatesElsewhere(entry)) {
        // A programmer error: fail this entry loudly, not the batch it shares.
        this.failAssertion(entry, 'an entry fenced by its own shard only may only create entities on other shards');
        continue;
      }
      if (onlyShard !== undefined && touchesOtherShards(entry)) {
        this.failAssertion(entry, 'an entry that writes on several shards cannot commit on Redis Cluster');
        continue;
      }
      const fencing =
        entry.fenceOwnShardOnly === true
          ? String(index)
          : entry.writes.length > 1 || entry.extraOutbox !== undefined
            ? this.fencingOf(entry, index, shardIndex, shardArgs)
            : String(index);
      if (fencing === undefined) {
        settleSafely(entry, fenced_result, this.logger);
        continue;
      }
      const first = fields.length;
      appendEntryFields(
        fields,
        entry,
        fencing,
        this.epochs.shardCount,
        onlyShard !== undefined,
        this.limits.denylist_log_per_shard_max ?? denylist_log_per_shard_default,
      );
      if (!separable(fields, first)) {
        fields.length = first;
        this.failAssertion(entry, 'a commit field contains a NUL character');
        continue;
      }
      entries.push(entry);
    }
    if (entries.length === 0) return undefined;
    // The empty last field makes join() end the body with a NUL too: every field is terminated.
    fields.push('');
    const body = Buffer.from(fields.join('\0'), 'utf8');
    return {
      args: [String(this.limits.idempotency_ttl_s), onlyShard === undefined ? '0' : '1', String(shardIndex.size), ...shardArgs, body],
      entries,
      routingKey: shardArgs[0] as string,
    };
  }

  private failAssertion(entry: CommitEntry, message: string): void {
    const error = new Error(`assertion: ${message}`);
    this.logger.error({ err: error, shard: entry.shard }, 'assertion failed');
    settleSafely(entry, { status: 'failed', error }, this.logger);
  }

  /**
   * The fencing argument of an entry that writes on other shards too: "i,j,...", one index per
   * shard it touches, each checked by the script; undefined when this node does not hold one.
   */
  private fencingOf(entry: CommitEntry, index: number, shardIndex: Map<number, number>, shardArgs: string[]): string | undefined {
    const shards = new Set<number>([entry.shard]);
    for (const write of entry.writes) if (write.shard !== undefined) shards.add(write.shard);
    for (const extra of entry.extraOutbox ?? []) shards.add(extra.shard);
    if (shards.size === 1) return String(index);
    const indexes: number[] = [];
    for (const shard of shards) {
      let other = shardIndex.get(shard);
      if (other === undefined) {
        const epoch = this.epochs.epochOf(shard);
        if (epoch === undefined) return undefined;
        other = shardIndex.size + 1;
        shardIndex.set(shard, other);
        shardArgs.push(shardKeys(shard).epoch, epoch);
      }
      indexes.push(other);
    }
    return indexes.join(',');
  }

  private resultOf(status: string | undefined, existing: string | undefined): CommitResult {
    switch (status) {
      case 'K':
        return committed_result;
      case 'D':
        return { status: 'duplicate', existing: existing ?? '' };
      case 'R':
        return reused_result;
      case 'C':
        this.metrics.commitConflicts.inc();
        return conflict_result;
      default:
        this.metrics.commitFenced.inc();
        return fenced_result;
    }
  }

  private settleBatch(entries: CommitEntry[], reply: string[]): void {
    const statuses = reply[0] ?? '';
    if (statuses.length !== entries.length) {
      const error = new Error(`assertion: commit script answered ${statuses.length} statuses for ${entries.length} entries`);
      for (const entry of entries) settleSafely(entry, { status: 'failed', error }, this.logger);
      return;
    }
    const duplicates = new Map<number, string>();
    for (let i = 1; i + 1 < reply.length; i += 2) duplicates.set(Number(reply[i]) - 1, reply[i + 1] as string);
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i] as CommitEntry;
      settleSafely(entry, this.resultOf(statuses[i], duplicates.get(i)), this.logger);
    }
  }
}

/** A settle callback that throws is a programmer error; it must not stop the rest of the batch. */
function settleSafely(entry: CommitEntry, result: CommitResult, logger: Logger): void {
  try {
    entry.settle(result);
  } catch (error) {
    logger.error({ err: error, status: result.status }, 'assertion: commit settle callback threw');
  }
}

/**
 * The first write of the entry that is not on its entity's shard (actors/sharding/shard-key.ts);
 * undefined when all are. A refund ledger record has no shard of its own id: its card places it.
 */
function misplacedWrite(entry: CommitEntry, shardCount: number): EntityWrite | undefined {
  for (const write of entry.writes) {
    const { kind, id } = write.entity;
    if (kind !== 'refunded' && shardOf(kind, id, shardCount) !== (write.shard ?? entry.shard)) return write;
  }
  return undefined;
}

/** True when every write of the entry on another shard creates its entity (expected version 0). */
function onlyCreatesElsewhere(entry: CommitEntry): boolean {
  return entry.writes.every((write) => write.shard === undefined || write.shard === entry.shard || write.expectVersion === 0);
}

/** True when the entry writes an entity or a document on another shard than its own. */
function touchesOtherShards(entry: CommitEntry): boolean {
  return (
    entry.writes.some((write) => write.shard !== undefined && write.shard !== entry.shard) ||
    (entry.extraOutbox ?? []).some((extra) => extra.shard !== entry.shard)
  );
}

/**
 * Where the record of a request key is written (keys.ts): on the key's home shard, one key that is
 * found from any entity, unless the script may not touch that shard (Redis Cluster, the home shard
 * is another slot): then on the entry's own shard, its key record claimed on the home shard before.
 */
function recordKeyOf(key: string, shard: number, shardCount: number, claimedBefore: boolean): string {
  const home = homeShardOfRequestKey(key, shardCount);
  return claimedBefore && home !== shard ? idempotencyKey(shard, key) : requestKeyRecordKey(home, key);
}

/** Appends one entry's fields in the order commit.lua reads them. */
function appendEntryFields(
  fields: string[],
  entry: CommitEntry,
  fencing: string,
  shardCount: number,
  claimedBefore: boolean,
  denylistLogMax: number,
): void {
  fields.push(fencing, String(entry.writes.length));
  for (const write of entry.writes)
    fields.push(entityKey(write.shard ?? entry.shard, write.entity), String(write.expectVersion), write.data ?? '');
  if (entry.idempotency) {
    const key = entry.idempotency.key;
    fields.push(recordKeyOf(key, entry.shard, shardCount, claimedBefore), entry.idempotency.value);
  } else fields.push('', '');
  const claims = entry.claims ?? [];
  fields.push(String(claims.length));
  for (const claim of claims) {
    if (claim.kind === 'reversal') fields.push(reversalClaimKey(entry.shard, claim.key), claim.value);
    else fields.push(recordKeyOf(claim.key, entry.shard, shardCount, claimedBefore), claim.value);
  }
  // The outbox entry is usually the idempotency document itself: send it once.
  if (entry.outbox !== undefined) fields.push(shardKeys(entry.shard).outbox, entry.outbox === entry.idempotency?.value ? '' : entry.outbox);
  else fields.push('', '');
  if (entry.extraOutbox === undefined) fields.push('0');
  else {
    fields.push(String(entry.extraOutbox.length));
    for (const extra of entry.extraOutbox) fields.push(shardKeys(extra.shard).outbox, extra.document);
  }
  // One field: "<prefix> <card> <reason> <log max>" (ids and reasons hold no space), or "".
  const change = entry.denylist;
  fields.push(change === undefined ? '' : `${denylistPrefix(entry.shard)} ${change.card} ${change.reason} ${denylistLogMax}`);
  // The grant usage's key, or "" (then nothing more): reset ("1" or ""), then the batch's field
  // ("#<batch>") and its cards' sales packed in one value, or "" when it adds none.
  const usage = entry.grantUsage;
  if (usage === undefined) fields.push('');
  else if (usage.add.size === 0) fields.push(grantUsageKey(entry.shard, usage.terminalId), usage.reset ? '1' : '', '');
  else fields.push(grantUsageKey(entry.shard, usage.terminalId), usage.reset ? '1' : '', `#${usage.batch}`, packUsage(usage.add));
}

/** A batch's usage as its field's value (keys.ts offline_usage): "<card> <minor> <card> <minor> ...". */
export function packUsage(add: ReadonlyMap<string, number>): string {
  let packed = '';
  for (const [cardId, amountMinor] of add) packed += packed === '' ? `${cardId} ${amountMinor}` : ` ${cardId} ${amountMinor}`;
  return packed;
}

/**
 * A grant's per-card usage from its hash (keys.ts offline_usage): the sum of its batches' fields
 * ("#<batch>", packed), and of the per-card counters a build before them kept (a card id as the
 * field, its minor units as the value), which a hash written across an upgrade may still hold.
 */
export function unpackUsage(fields: Readonly<Record<string, string>>): Map<string, number> {
  const usage = new Map<string, number>();
  const add = (cardId: string, value: string | undefined): void => {
    const minor = Number(value);
    if (cardId === '' || value === undefined || !/^[0-9]+$/.test(value) || !Number.isSafeInteger(minor))
      throw new StoredStateError('offline grant usage', 'a card counter is not a count of minor units');
    usage.set(cardId, (usage.get(cardId) ?? 0) + minor);
  };
  for (const [field, value] of Object.entries(fields)) {
    if (!field.startsWith('#')) {
      add(field, value);
      continue;
    }
    const parts = value.split(' ');
    if (parts.length % 2 !== 0) throw new StoredStateError('offline grant usage', `batch ${field} is not card and amount pairs`);
    for (let i = 0; i < parts.length; i += 2) add(parts[i] as string, parts[i + 1]);
  }
  return usage;
}

/** True when a value under a request key's key is a key record (a record's key), not a record (JSON). */
function isKeyRecord(value: string): boolean {
  return value.startsWith('tl:{');
}

/** True when no field from `first` on contains a NUL (the body's field terminator). */
function separable(fields: readonly string[], first: number): boolean {
  for (let i = first; i < fields.length; i++) if ((fields[i] as string).includes('\0')) return false;
  return true;
}
