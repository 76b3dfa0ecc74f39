// The entity host: the plumbing every entity actor (card, fleet account, terminal) shares, held
// once so that a behaviour only loads what it needs, calls its pure `decide`, and hands the plan
// here. It keeps, per record the entity caches:
// - the state as decided (it may include decisions whose commit is still in flight), the version
//   that state will have once they land, and the last durable state (inquiries answer from it);
// - how many commits are in flight (an entity with none can be passivated);
// - whether the in-memory state can be trusted: any commit that does not land invalidates it,
//   because every later decision was chained on it; the next message reloads from Redis.
// It submits a plan to group commit, settles it (durable state, idempotency index, reply), maps a
// commit that did not land to a typed failure, retries a request whose commit conflicted (a
// bounded number of times), and lets a request whose key is still committing wait for its answer.
// An answer decided on memory without a write of its own (a repeat found unchanged) waits, the
// same way, for the commits in flight it was decided on (answerWhenDurable): it must not confirm
// a change that may still be lost.
//
// Recovery (after Redis failed or restarted, or a replay found only at commit): a commit that does
// not land makes every later commit of the entity that was chained on it conflict. Those
// conflicts are consequences, not two live decisions racing, so they are decided again without
// spending one of the request's conflict attempts (a separate, larger bound keeps it finite); the
// same for a request that waited on another request's key. And when the entity reloads after such
// a failure, the stored answers of the batch's requests unknown to the node's index are read
// first (one pipelined read), so replays are answered from their records instead of being
// decided again and found duplicate at commit, which would break the chain once more.
//
// Behaviours extend this class (fields live in one object: memory per active entity counts).

import {
  ContentionError,
  DeadlineExceededError,
  OverloadedError,
  ShardMovedError,
  StoreUnavailableError,
  UnavailableError,
  alreadyExists,
  asTaplineError,
  type Outcome,
  type TaplineError,
} from '../errors';
import { encodeIdempotencyRecord } from '../state/idempotency';
import type { IdempotencyIndex } from '../idempotency';
import type { IdempotencyRecord, TxnAnswer, TxnResult } from '../card/transaction';
import { answerFromRecord, decodeRecord as answerRecordOf } from '../card/transaction';
import { auditRecord, type StateChange } from '../outbox/builders';
import type { Acting } from '../principal';
import type { Claim, CommitEntry, CommitResult, EntityId, EntityWrite, Persistence, StoredRecord } from './persistence';
import type { EntityBehavior } from './actor-runtime';

/** One cached record of an entity: what the host needs to chain versions and answer inquiries. */
export interface Slot<S> {
  state: S | undefined;
  /** The version `state` has (or will have once the commits in flight land); 0 = does not exist. */
  version: number;
  /** The last state known durable. */
  durable: S | undefined;
}

export function emptySlot<S>(): Slot<S> {
  return { state: undefined, version: 0, durable: undefined };
}

/** Fills a slot from a stored record. */
export function loadSlot<S>(slot: Slot<S>, record: StoredRecord, decode: (data: string) => S): void {
  const state = record.data === undefined ? undefined : decode(record.data);
  slot.state = state;
  slot.version = record.version;
  slot.durable = state;
}

/** One record a plan writes: its new state, or undefined when the decision only read it (its version is checked). */
export interface SlotWrite {
  readonly slot: Slot<unknown>;
  readonly entity: EntityId;
  readonly after: unknown;
  readonly encoded?: string;
}

/** What a decision writes, in domain terms; the host turns it into one commit entry. */
export interface CommitPlan {
  /** Cached records of this entity (versions chained in memory). */
  readonly slots: readonly SlotWrite[];
  /** Other records, written at the version their facts were read at (refund ledger, a new card). */
  readonly writes?: readonly EntityWrite[];
  readonly idempotency?: { readonly key: string; readonly value: string };
  readonly claims?: readonly Claim[];
  readonly outbox?: string;
  readonly extraOutbox?: CommitEntry['extraOutbox'];
  readonly fenceOwnShardOnly?: boolean;
  readonly denylist?: CommitEntry['denylist'];
  readonly grantUsage?: CommitEntry['grantUsage'];
  /** An operator action: its audit record (who, with which role, what changed) is written in this commit. */
  readonly audit?: AuditStamp;
}

/** Who acted and when, for the audit record written with an operator's change. */
export interface AuditStamp {
  readonly actor: Acting;
  readonly at: number;
}

/** The audit stamp of a message that carries who acted (operator changes), else undefined. */
export function stampOf(acting: Acting | undefined, clock: () => number): AuditStamp | undefined {
  return acting === undefined ? undefined : { actor: acting, at: clock() };
}

export type Reply<T> = (outcome: Outcome<T>) => void;

/** A money request's message: what the host needs to answer it. */
export interface MoneyMessage extends Retriable {
  readonly request: { readonly key: string; readonly fingerprint: string };
  readonly reply: Reply<TxnAnswer>;
  /** The caller's deadline (epoch ms), carried into the commit entry. */
  readonly deadlineMs?: number | undefined;
}

/** How an entity actor (card or fleet account) is told a money request of kind `R`. */
export interface MoneyRequestMessage<R> {
  readonly type: 'money';
  readonly request: R;
  readonly merchantId: string;
  readonly reply: Reply<TxnAnswer>;
  readonly attempt: number;
  /** The caller's deadline (epoch ms): a decision still waiting to be written past it is dropped. */
  readonly deadlineMs?: number | undefined;
}

/** The parts of a money decision the host commits (card and fleet plans have these). */
export interface MoneyPlanLike {
  readonly record: IdempotencyRecord;
  /** The transaction document: the outbox entry (the idempotency record is `record`, encoded compactly). */
  readonly stored: string;
  readonly writes?: readonly EntityWrite[];
  readonly claims?: readonly Claim[];
  readonly extraOutbox?: CommitEntry['extraOutbox'];
  readonly reversing?: string;
  readonly denylist?: CommitEntry['denylist'];
}

/** A message that can be handed to its entity again after a conflict. */
export interface Retriable {
  /** Conflicts of the request's own commits so far (bounded by conflict_attempts_max). */
  readonly attempt: number;
  /** Times it was decided again without a conflict of its own (a wait ended, its chain broke). */
  readonly redecided?: number;
}

/**
 * Re-decisions of one request that are not its own conflicts (an earlier commit it was chained on
 * did not land, or the request it waited on did not): each needs another request's commit to fail
 * first, so a request sees a handful at most; the bound only guarantees that none loops forever.
 */
export const redecisions_max = 64;

/** Stored answers read at once when an entity recovers (bounds one pipelined read). */
export const recovery_answers_read_max = 512;

/**
 * What a behaviour reads the facts of a decision through (the facts module beside each actor):
 * its host's store and index, every read ordered after the entity's own pending writes so that a
 * fact never predates a decision the entity already made.
 */
export interface EntityReads {
  readonly shard: number;
  readonly persistence: Persistence;
  /** A record on the entity's shard (or on `shard`). */
  loadRecord(entity: EntityId, shard?: number): Promise<StoredRecord>;
  /** An idempotency key's answer as the node's index holds it (settled), else undefined. */
  knownAnswer(key: string): IdempotencyRecord | undefined;
  /** An idempotency key's answer as stored in Redis, decoded by the behaviour's codec (decodeAnswer). */
  storedAnswer(key: string): Promise<IdempotencyRecord | undefined>;
  /** True while commits of the entity are in flight (a read then waits for them). */
  pendingWrites(): boolean;
}

export interface HostContext {
  readonly persistence: Persistence;
  readonly idempotency: IdempotencyIndex;
  /** Attempts at one request when commits keep conflicting, before UNAVAILABLE. */
  readonly conflict_attempts_max: number;
  /** Requests waiting for the answer of one idempotency key still committing, before RESOURCE_EXHAUSTED. */
  readonly key_waiters_max: number;
  readonly onDecision?: (result: TxnResult) => void;
}

export abstract class EntityHost<M, X extends HostContext = HostContext> implements EntityBehavior<M> {
  /** False when the in-memory state may be stale: the next message reloads it first. */
  protected loaded = false;
  private uncommitted = 0;
  /**
   * Counts the entity's commits that did not land. A commit submitted at generation g that
   * conflicts once the generation moved on was chained on one of them: a consequence, not a race.
   */
  private generation = 0;
  /** Answers waiting for the commits in flight when they were decided (answerWhenDurable); usually none. */
  private durableWaits: DurableWait[] | undefined = undefined;

  protected constructor(
    readonly shard: number,
    protected readonly host: X,
  ) {}

  /** True when handling the message may wait on Redis (a load first, or facts to read). */
  protected abstract needsAwait(message: M): boolean;
  /** Handles a message that needs nothing from Redis. */
  protected abstract handle(message: M): void;
  /** Handles a message that may wait on Redis (loads what it needs, then decides). */
  protected abstract handleAwaiting(message: M): Promise<void>;
  /** Answers one message with a failure. */
  protected abstract failMessage(message: M, error: TaplineError): void;
  /**
   * Tells a message to this entity again, to be decided anew (retryOrFail with the entity's own
   * mailbox): its commit conflicted (`ownConflict`), or the state its answer stood on was lost.
   * Each behaviour takes the messages it ever retries.
   */
  protected abstract retry(message: M, ownConflict: boolean): void;

  /** The money request a message carries (its key is answered from Redis on recovery); none by default. */
  protected moneyMessageOf(_message: M): MoneyMessage | undefined {
    return undefined;
  }

  /** Reads a stored transaction document back as the answer it records. */
  protected decodeAnswer(value: string): IdempotencyRecord {
    return answerRecordOf(value);
  }

  /**
   * Processes a batch in order. The common case (a loaded entity, a command decided on memory)
   * runs synchronously, with no promise per batch; from the first message that needs Redis the
   * rest of the batch is awaited. A failure fails its own message only: earlier ones are already
   * answered or committing and must not be answered twice.
   */
  receive(batch: M[]): void | Promise<void> {
    for (let index = 0; index < batch.length; index++) {
      const message = batch[index] as M;
      if (this.needsAwait(message)) return this.receiveAwaiting(batch, index);
      try {
        this.handle(message);
      } catch (error) {
        this.fail([message], error);
      }
    }
    return undefined;
  }

  /** Answers every message of the batch with the failure (receive threw) and distrusts memory. */
  fail(batch: M[], error: unknown): void {
    const failure = asTaplineError(error, 'entity actor failed');
    this.loaded = false;
    for (const message of batch) this.failMessage(message, failure);
  }

  private async receiveAwaiting(batch: M[], from: number): Promise<void> {
    if (!this.loaded && this.generation > 0) await this.readStoredAnswers(batch, from);
    for (let index = from; index < batch.length; index++) {
      const message = batch[index] as M;
      try {
        await this.handleAwaiting(message);
      } catch (error) {
        this.fail([message], error);
      }
    }
  }

  /**
   * Before an entity that lost a commit decides again: the stored answers of the batch's money
   * requests whose keys the node's index does not know, read in one pipelined round and put in
   * the index, so those requests are answered from their records (a retry of a request whose
   * commit landed though the node never learned it). Best effort: a request not found, or a read
   * that fails, is decided as usual and its commit still finds any record (duplicate).
   */
  private async readStoredAnswers(batch: M[], from: number): Promise<void> {
    const index = this.host.idempotency;
    const keys = new Set<string>();
    for (let i = from; i < batch.length && keys.size < recovery_answers_read_max; i++) {
      const money = this.moneyMessageOf(batch[i] as M);
      if (money !== undefined && index.lookup(money.request.key) === undefined) keys.add(money.request.key);
    }
    if (keys.size === 0) return;
    const persistence = this.host.persistence;
    await Promise.all(
      [...keys].map(async (key) => {
        try {
          const value = await persistence.loadIdempotencyRecord(this.shard, key);
          if (value !== undefined) index.remember(key, this.decodeAnswer(value), value);
        } catch {
          // Only an optimization: the request is decided and its commit finds the record.
        }
      }),
    );
  }

  /** The in-memory state cannot be trusted any more: a commit did not land. */
  private distrust(): void {
    this.loaded = false;
    this.generation += 1;
  }

  /** True when the generation moved on since `generation`: a commit submitted then was chained on a lost one. */
  private chainedOnLost(generation: number): boolean {
    return generation !== this.generation;
  }

  /** True when nothing of the entity awaits a commit: it can be passivated. */
  get quiescent(): boolean {
    return this.uncommitted === 0;
  }

  /** Nothing the entity committed is in flight. */
  protected get idleCommits(): boolean {
    return this.uncommitted === 0;
  }

  protected loadRecord(entity: EntityId, shard = this.shard): Promise<StoredRecord> {
    return this.host.persistence.loadEntity(shard, entity, { afterPendingWrites: !this.idleCommits });
  }

  /**
   * Submits a plan to group commit. On submission the cached slots take their new states and
   * versions (later decisions chain on them); `settle` runs once the entry's fate is known, after
   * the slots' durable states were updated (committed) or the entity was invalidated (anything
   * else). `ownConflict` is false for a conflict caused by an earlier commit of this entity that
   * did not land (retry it without counting an attempt). False, with nothing changed, when the
   * commit queue is full.
   */
  protected commit(plan: CommitPlan, settle: (outcome: CommitResult, ownConflict: boolean) => void): boolean {
    const generation = this.generation;
    const writes: EntityWrite[] = plan.slots.map(writeOf);
    if (plan.writes !== undefined) for (const write of plan.writes) writes.push(write);
    const entry: CommitEntry = {
      shard: this.shard,
      writes,
      idempotency: plan.idempotency,
      claims: plan.claims !== undefined && plan.claims.length > 0 ? plan.claims : undefined,
      outbox: plan.outbox,
      extraOutbox: withAudit(plan.extraOutbox, plan.audit, plan.slots, plan.writes, this.shard),
      denylist: plan.denylist,
      grantUsage: plan.grantUsage,
      fenceOwnShardOnly: plan.fenceOwnShardOnly,
      settle: (outcome) => {
        this.uncommitted -= 1;
        const ownConflict = !this.chainedOnLost(generation);
        if (outcome.status === 'committed') {
          for (const write of plan.slots) if (write.after !== undefined) write.slot.durable = write.after;
        } else {
          // Whatever was decided after this entry was built on it: reload before deciding again.
          this.distrust();
        }
        settle(outcome, ownConflict);
        this.releaseDurableWaits(outcome.status === 'committed');
      },
    };
    if (!this.host.persistence.submit(entry)) return false;
    this.uncommitted += 1;
    applySlots(plan.slots);
    return true;
  }

  /**
   * Commits a money decision of this entity under its request's idempotency key: its cached
   * records (`slots`), its answer as idempotency record, the transaction document as outbox entry, and
   * whatever else the plan writes. The key is pending in the node's index until the entry settles;
   * the reply leaves once it is durable. A duplicate key answers from the stored record; a conflict
   * hands the message back to retryMessage. While it commits, the original a reversal undoes stays
   * in `reversals` (a second reversal must not decide on the stale "not reversed").
   *
   * This runs for every authorization: it builds the one commit entry directly, with a single
   * settle closure, and nothing else per request.
   */
  protected commitMoneyDecision<M extends MoneyMessage>(
    slots: readonly SlotWrite[],
    plan: MoneyPlanLike,
    message: M,
    decodeRecord: (value: string) => IdempotencyRecord,
    reversals?: Set<string>,
    onCommitted?: () => void,
    audit?: AuditStamp,
  ): void {
    const { request } = message;
    const index = this.host.idempotency;
    const extra = plan.writes?.length ?? 0;
    const writes = new Array<EntityWrite>(slots.length + extra);
    for (let i = 0; i < slots.length; i++) writes[i] = writeOf(slots[i] as SlotWrite);
    for (let i = 0; i < extra; i++) writes[slots.length + i] = (plan.writes as readonly EntityWrite[])[i] as EntityWrite;
    if (plan.reversing !== undefined) reversals?.add(plan.reversing);
    const generation = this.generation;
    // The record keeps only what a retry and a later reversal, refund or receipt read (compact
    // layout); the full document goes to the outbox, streamed to reporting and then trimmed.
    const encoded = encodeIdempotencyRecord(plan.record);
    const entry: CommitEntry = {
      shard: this.shard,
      writes,
      idempotency: { key: request.key, value: encoded },
      claims: plan.claims,
      outbox: plan.stored,
      extraOutbox: audit === undefined ? plan.extraOutbox : withAudit(plan.extraOutbox, audit, slots, plan.writes, this.shard),
      denylist: plan.denylist,
      deadlineMs: message.deadlineMs,
      settle: (outcome) => {
        this.uncommitted -= 1;
        if (plan.reversing !== undefined) reversals?.delete(plan.reversing);
        if (outcome.status === 'committed') {
          for (const write of slots) if (write.after !== undefined) write.slot.durable = write.after;
          index.complete(request.key, plan.record, encoded);
          this.host.onDecision?.(plan.record.r);
          message.reply({ ok: true, value: { result: plan.record.r, replayed: false } });
          onCommitted?.();
          this.releaseDurableWaits(true);
          return;
        }
        const ownConflict = !this.chainedOnLost(generation);
        // Whatever was decided after this entry was built on it: reload before deciding again.
        this.distrust();
        if (outcome.status === 'duplicate') {
          const stored = decodeRecord(outcome.existing);
          index.complete(request.key, stored, outcome.existing);
          replyFromRecord(message.reply, stored, request);
        } else {
          index.abandon(request.key);
          if (outcome.status === 'conflict') this.retryMessage(message, ownConflict);
          else message.reply({ ok: false, error: this.failureOf(outcome) });
        }
        this.releaseDurableWaits(false);
      },
    };
    index.begin(request.key, request.fingerprint);
    if (!this.host.persistence.submit(entry)) {
      index.abandon(request.key);
      if (plan.reversing !== undefined) reversals?.delete(plan.reversing);
      message.reply({ ok: false, error: this.commitQueueFull() });
      return;
    }
    this.uncommitted += 1;
    applySlots(slots);
  }

  /**
   * Decides a money message again (the behaviour re-tells it to itself, bounded): after a conflict
   * of its own commit (`ownConflict`), or without one (it waited on a key that did not land, or
   * the commit it was chained on did not).
   */
  protected retryMessage(message: MoneyMessage, _ownConflict: boolean): void {
    throw new Error(`assertion: ${this.constructor.name} takes no money requests to retry (${message.request.key})`);
  }

  /**
   * Commits a change that answers a fixed value once durable (operator changes); a conflict decides
   * the request again (`ownConflict` as for commit). `settled` learns whether it landed (e.g. to
   * publish or forget a state).
   */
  protected commitAndAnswer<A>(
    plan: CommitPlan,
    reply: Reply<A>,
    answer: A,
    retry: (ownConflict: boolean) => void,
    settled?: (committed: boolean) => void,
  ): void {
    this.commitThenReply(plan, reply, { ok: true, value: answer }, retry, settled);
  }

  /**
   * Commits a change, then answers `outcome` once it is durable: an answer, or a refusal that still
   * changes the entity (a wrong old PIN is counted before PERMISSION_DENIED is answered). False
   * when the commit queue refused the plan (answered so): nothing of it is in flight.
   */
  protected commitThenReply<A>(
    plan: CommitPlan,
    reply: Reply<A>,
    outcome: Outcome<A>,
    retry: (ownConflict: boolean) => void,
    settled?: (committed: boolean) => void,
  ): boolean {
    const submitted = this.commit(plan, (result, ownConflict) => {
      settled?.(result.status === 'committed');
      if (result.status === 'committed') reply(outcome);
      else if (result.status === 'conflict') retry(ownConflict);
      else reply({ ok: false, error: this.failureOf(result) });
    });
    if (!submitted) reply({ ok: false, error: this.commitQueueFull() });
    return submitted;
  }

  /**
   * Answers `outcome`, decided on the in-memory state without a write of its own (a repeat found
   * unchanged, an answer read off the state), once that state is durable: at once when nothing
   * of the entity is in flight, else once every commit in flight now has landed. If one of them
   * does not land, the state the outcome was decided on may be lost (memory is distrusted and
   * reloaded), so the outcome is dropped and `redecide` runs instead (the behaviour hands the
   * message back to itself, e.g. retry with ownConflict false). The waits are bounded like the
   * waiters of a key (key_waiters_max); past it the caller is told to retry later.
   */
  protected answerWhenDurable<A>(reply: Reply<A>, outcome: Outcome<A>, redecide: () => void): void {
    if (this.uncommitted === 0) return reply(outcome);
    const waits = (this.durableWaits ??= []);
    if (waits.length >= this.host.key_waiters_max) {
      reply({ ok: false, error: new OverloadedError('too many answers wait for the same entity to be written') });
      return;
    }
    waits.push({ remaining: this.uncommitted, lost: false, then: (landed) => (landed ? reply(outcome) : redecide()) });
  }

  /**
   * Answers a change found already made (a repeat), decided on the in-memory state: once what it
   * repeats is durable; if that commit does not land, the change is decided again on the reloaded
   * state (retry), never confirmed from the lost one.
   */
  protected answerRepeat<A>(message: M & { readonly reply: Reply<A> }, answer: A): void {
    this.answerWhenDurable(message.reply, { ok: true, value: answer }, () => this.retry(message, false));
  }

  /**
   * Answers a refusal decided on the in-memory state (ALREADY_EXISTS for a create with other
   * fields, a status change the state forbids): like a repeat, once the state it was decided on is
   * durable, decided again if that is lost; a refusal must not stand on a change that never lands.
   */
  protected answerRefusal<A>(message: M & { readonly reply: Reply<A> }, error: TaplineError): void {
    this.answerWhenDurable(message.reply, { ok: false, error }, () => this.retry(message, false));
  }

  /**
   * One commit settled (after its own answer left). Commits settle in submission order, so a wait
   * made while `remaining` commits were in flight is released by the next `remaining` settles:
   * answered if all of them landed, decided again otherwise.
   */
  private releaseDurableWaits(committed: boolean): void {
    const waits = this.durableWaits;
    if (waits === undefined) return;
    const released: DurableWait[] = [];
    let kept = 0;
    for (const wait of waits) {
      wait.remaining -= 1;
      if (!committed) wait.lost = true;
      if (wait.remaining === 0) released.push(wait);
      else waits[kept++] = wait;
    }
    waits.length = kept;
    if (kept === 0) this.durableWaits = undefined;
    for (const wait of released) wait.then(!wait.lost);
  }

  /**
   * Answers a money request from the node's index when its key is known: the stored answer, a
   * reused-key refusal, or (key still committing) a wait for the first request's answer, after
   * which `retry` decides it again if the first one did not land. True when the request was taken.
   */
  protected answerFromIndex(message: MoneyMessage): boolean {
    const { request, reply } = message;
    const known = this.host.idempotency.lookup(request.key);
    if (known === undefined) return false;
    if (known.state === 'done') {
      replyFromRecord(reply, known.record, request);
      return true;
    }
    if (known.pending.fingerprint !== request.fingerprint) {
      reply({ ok: false, error: reusedKey(request.key) });
      return true;
    }
    this.waitForKey(known.pending.waiters, reply, (record) => {
      if (record) replyFromRecord(reply, record, request);
      // The request it waited on did not land: this one never ran, it is decided again.
      else this.retryMessage(message, false);
    });
    return true;
  }

  /** Answers a money request from its idempotency record as read from Redis, and remembers it. */
  protected answerFromStored(message: MoneyMessage, value: string): void {
    const record = this.decodeAnswer(value);
    this.host.idempotency.remember(message.request.key, record, value);
    replyFromRecord(message.reply, record, message.request);
  }

  /** The state of another key this request depends on (a reversal's original), for the behaviour to wait on. */
  protected pendingKey(key: string): ((record: IdempotencyRecord | undefined) => void)[] | undefined {
    const known = this.host.idempotency.lookup(key);
    return known?.state === 'pending' ? known.pending.waiters : undefined;
  }

  /** The stored record of an idempotency key (read from Redis), decoded; undefined when there is none. */
  protected async readStoredRecord(key: string, decode: (value: string) => IdempotencyRecord): Promise<IdempotencyRecord | undefined> {
    const value = await this.host.persistence.loadIdempotencyRecord(this.shard, key);
    return value === undefined ? undefined : decode(value);
  }

  protected knownRecord(key: string): IdempotencyRecord | undefined {
    const known = this.host.idempotency.lookup(key);
    return known?.state === 'done' ? known.record : undefined;
  }

  /** The reads a facts module makes for this entity (built per message that awaits facts, never kept). */
  protected reads(): EntityReads {
    return {
      shard: this.shard,
      persistence: this.host.persistence,
      loadRecord: (entity, shard) => this.loadRecord(entity, shard),
      knownAnswer: (key) => this.knownRecord(key),
      storedAnswer: (key) => this.readStoredRecord(key, (value) => this.decodeAnswer(value)),
      pendingWrites: () => !this.idleCommits,
    };
  }

  /** Joins the waiters of a key still committing; the list is bounded (a retry storm of one key). */
  protected waitForKey<T>(
    waiters: ((record: IdempotencyRecord | undefined) => void)[],
    reply: Reply<T>,
    then: (record: IdempotencyRecord | undefined) => void,
  ): void {
    if (waiters.length >= this.host.key_waiters_max) {
      reply({ ok: false, error: new OverloadedError('too many requests wait for the same idempotency key') });
      return;
    }
    waiters.push(then);
  }

  /**
   * Hands a message back to this entity to be decided again: after a conflict of its own commit
   * at most conflict_attempts_max times in all, otherwise (`ownConflict` false) at most
   * redecisions_max times; past either the caller retries (same key) later.
   */
  protected retryOrFail<R extends Retriable>(message: R, retell: (again: R) => boolean, reply: Reply<never>, ownConflict = true): void {
    const attempt = ownConflict ? message.attempt + 1 : message.attempt;
    const redecided = (message.redecided ?? 0) + (ownConflict ? 0 : 1);
    if (attempt >= this.host.conflict_attempts_max || redecided > redecisions_max) {
      reply({ ok: false, error: new ContentionError('entity state kept changing under this request; retry with the same key') });
      return;
    }
    if (!retell({ ...message, attempt, redecided })) reply({ ok: false, error: new OverloadedError('entity mailbox full') });
  }

  /** The failure a caller gets for a commit that did not land (other than a conflict or duplicate). */
  protected failureOf(outcome: CommitResult): TaplineError {
    switch (outcome.status) {
      case 'fenced':
        return new ShardMovedError('shard moved to another node; retry with the same key', { shard: this.shard });
      case 'failed':
        return new StoreUnavailableError('could not persist; retry with the same key', { shard: this.shard }, { cause: outcome.error });
      case 'expired':
        return new DeadlineExceededError('the deadline passed before the decision was written; nothing was written', { shard: this.shard });
      default:
        return new UnavailableError('could not persist; retry with the same key', { shard: this.shard, status: outcome.status });
    }
  }

  protected commitQueueFull(): TaplineError {
    return new OverloadedError('commit queue full', { shard: this.shard });
  }
}

/** An answer waiting until the commits it was decided on are durable (answerWhenDurable). */
interface DurableWait {
  /** Commits in flight when it was decided that have not settled yet. */
  remaining: number;
  /** One of them did not land. */
  lost: boolean;
  readonly then: (landed: boolean) => void;
}

export function replyFromRecord(
  reply: Reply<TxnAnswer>,
  record: IdempotencyRecord,
  request: { readonly key: string; readonly fingerprint: string },
): void {
  const answer = answerFromRecord(record, request.fingerprint);
  if (answer) reply({ ok: true, value: answer });
  else reply({ ok: false, error: reusedKey(request.key) });
}

export function reusedKey(key: string): TaplineError {
  return alreadyExists('idempotency key was already used for a different request', { key });
}

/** Holder records are personal data: an audit record notes that one was written, never what it holds. */
const personal_kinds: ReadonlySet<string> = new Set(['holder']);

/**
 * The plan's extra outbox documents, plus the audit record of an operator action: every record it
 * writes, with the cached state before and the state after (records written without a cached
 * state are new, or noted as written).
 */
function withAudit(
  extra: CommitEntry['extraOutbox'],
  audit: AuditStamp | undefined,
  slots: readonly SlotWrite[],
  writes: readonly EntityWrite[] | undefined,
  shard: number,
): CommitEntry['extraOutbox'] {
  if (audit === undefined) return extra;
  const changes: StateChange[] = [];
  for (const write of slots)
    if (write.after !== undefined)
      changes.push({ entity: `${write.entity.kind}:${write.entity.id}`, before: write.slot.state, after: write.after });
  for (const write of writes ?? []) {
    if (write.data === undefined) continue;
    const entity = `${write.entity.kind}:${write.entity.id}`;
    if (personal_kinds.has(write.entity.kind)) changes.push({ entity, before: undefined, after: { record: '[personal data written]' } });
    else
      changes.push({ entity, before: write.expectVersion === 0 ? undefined : { version: write.expectVersion }, after: parsed(write.data) });
  }
  const document = auditRecord({ actor: audit.actor, changes, at: audit.at });
  return [...(extra ?? []), { shard, document }];
}

function parsed(data: string): unknown {
  try {
    return JSON.parse(data) as unknown;
  } catch {
    return { data: '[not JSON]' };
  }
}

/** A slot's write in a commit entry: its new state (encoded), or a version check only. */
function writeOf(write: SlotWrite): EntityWrite {
  const data = write.after === undefined ? undefined : (write.encoded ?? JSON.stringify(write.after));
  return { entity: write.entity, expectVersion: write.slot.version, data };
}

/** After submission: later decisions chain on the new states and versions. */
function applySlots(slots: readonly SlotWrite[]): void {
  for (const write of slots) {
    if (write.after === undefined) continue;
    write.slot.state = write.after;
    write.slot.version += 1;
  }
}
