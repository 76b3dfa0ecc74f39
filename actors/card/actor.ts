// The card actor: holds one card's state in memory, runs the pure rules on each command in
// order, and hands every decision to group commit. The reply leaves only when the decision is
// durable (persist before reply). Decisions chain on the in-memory state while earlier ones are
// still being committed; each carries the version it was decided on, so if one does not land
// the ones after it are refused by Redis too, the actor reloads and decides them again.

import { TaplineError, alreadyExists, invalidArgument, notFound, resourceExhausted, shardMoved, unavailable, type Outcome } from '../errors';
import type { IdempotencyIndex } from '../idempotency';
import type { EntityBehavior } from '../runtime/actor-runtime';
import type { Claim, CommitEntry, CommitResult, EntityId, Persistence } from '../runtime/persistence';
import { apply, decide, availableMinor, type CardCommand, type CardDecision, type CardState, type CardStatus } from './rules';
import {
  answerFromRecord,
  decodeRecord,
  encodeRecord,
  storedTransaction,
  tombstone_fingerprint,
  type IdempotencyRecord,
  type MoneyRequest,
  type ReverseOutcome,
  type TxnAnswer,
  type TxnResult,
} from './transaction';

export type Reply<T> = (outcome: Outcome<T>) => void;

export type CardMessage =
  | { readonly type: 'money'; readonly request: MoneyRequest; readonly merchantId: string; readonly reply: Reply<TxnAnswer>; readonly attempt: number }
  | { readonly type: 'balance'; readonly reply: Reply<CardState> }
  | { readonly type: 'issue'; readonly command: Extract<CardCommand, { type: 'issue' }>; readonly operatorId: string; readonly reply: Reply<IssueAnswer>; readonly attempt: number }
  | { readonly type: 'set_status'; readonly status: CardStatus; readonly reason: string; readonly operatorId: string; readonly reply: Reply<CardState>; readonly attempt: number };

export interface IssueAnswer {
  readonly state: CardState;
  readonly alreadyExisted: boolean;
}

export interface CardActorContext {
  readonly persistence: Persistence;
  readonly idempotency: IdempotencyIndex;
  readonly clock: () => number;
  readonly nextTransactionId: () => string;
  /** Re-delivers a message to this card (after a conflict); false when its mailbox is full. */
  readonly retell: (message: CardMessage) => boolean;
  readonly onDecision?: (result: TxnResult) => void;
  /** Attempts at one request when commits keep conflicting, before UNAVAILABLE. */
  readonly conflict_attempts_max: number;
}

export class CardBehavior implements EntityBehavior<CardMessage> {
  private loaded = false;
  private state: CardState | undefined;
  private version = 0;
  /** The state as last confirmed durable; balance inquiries read this one. */
  private durable: CardState | undefined;
  private uncommitted = 0;
  /** Originals with a reversal decided but not yet committed by this actor. */
  private reversalsInFlight: Set<string> | undefined;
  private readonly entity: EntityId;

  constructor(
    readonly cardId: string,
    private readonly shard: number,
    private readonly context: CardActorContext,
  ) {
    this.entity = { kind: 'card', id: cardId };
  }

  /** True when nothing of this card awaits a commit: it can be passivated. */
  get quiescent(): boolean {
    return this.uncommitted === 0;
  }

  async receive(batch: CardMessage[]): Promise<void> {
    for (const message of batch) {
      // A failure (Redis down while reloading, a bug) fails this message only: earlier ones
      // are already answered or handed to the committer and must not be answered twice.
      try {
        if (!this.loaded) await this.reload();
        if (message.type === 'money' && message.request.kind === 'reverse') await this.handleReverse(message);
        else this.handle(message);
      } catch (error) {
        this.fail([message], error);
      }
    }
  }

  fail(batch: CardMessage[], error: unknown): void {
    const failure = error instanceof TaplineError ? error : new TaplineError('internal', 'card actor failed', { cause: String(error) });
    this.loaded = false;
    for (const message of batch) message.reply({ ok: false, error: failure });
  }

  private async reload(): Promise<void> {
    const record = await this.context.persistence.loadEntity(this.shard, this.entity);
    this.state = record.data === undefined ? undefined : (JSON.parse(record.data) as CardState);
    this.version = record.version;
    this.durable = this.state;
    this.loaded = true;
  }

  private handle(message: CardMessage): void {
    switch (message.type) {
      case 'balance':
        if (this.durable === undefined) message.reply({ ok: false, error: notFound('card not found', { cardId: this.cardId }) });
        else message.reply({ ok: true, value: this.durable });
        return;
      case 'issue':
        this.handleAdmin(message, message.command);
        return;
      case 'set_status':
        this.handleAdmin(message, { type: 'set_status', status: message.status });
        return;
      case 'money':
        this.handleMoney(message);
        return;
    }
  }

  /** Answers from the index when the key is known; returns true if the message was answered. */
  private answeredByIndex(message: Extract<CardMessage, { type: 'money' }>): boolean {
    const { request } = message;
    const known = this.context.idempotency.lookup(request.key);
    if (known === undefined) return false;
    if (known.state === 'done') {
      replyFromRecord(message, known.record);
      return true;
    }
    if (known.pending.fingerprint !== request.fingerprint) {
      message.reply({ ok: false, error: reusedKey(request) });
      return true;
    }
    known.pending.waiters.push((record) => {
      if (record) replyFromRecord(message, record);
      else this.retellOrFail(message);
    });
    return true;
  }

  private handleMoney(message: Extract<CardMessage, { type: 'money' }>): void {
    if (this.answeredByIndex(message)) return;
    const { request } = message;
    if (this.state === undefined) {
      message.reply({ ok: false, error: notFound('card not found', { cardId: this.cardId }) });
      return;
    }
    const command: CardCommand = request.kind === 'purchase'
      ? { type: 'purchase', amountMinor: request.amountMinor, currency: request.currency }
      : { type: 'top_up', amountMinor: request.amountMinor, currency: request.currency };
    this.commitMoney(message, decide(this.state, command), {});
  }

  private async handleReverse(message: Extract<CardMessage, { type: 'money' }>): Promise<void> {
    if (this.answeredByIndex(message)) return;
    const { request } = message;
    if (this.state === undefined) {
      message.reply({ ok: false, error: notFound('card not found', { cardId: this.cardId }) });
      return;
    }
    const originalKey = request.originalKey;
    const known = this.context.idempotency.lookup(originalKey);
    if (known?.state === 'pending') {
      // The original is still being committed: decide once it has settled.
      known.pending.waiters.push(() => this.retellOrFail(message));
      return;
    }
    const original = known?.state === 'done' ? known.record : await this.readRecord(originalKey);
    if (!this.loaded) await this.reload();
    if (original !== undefined && original.f !== tombstone_fingerprint && original.r.cardId !== this.cardId) {
      message.reply({ ok: false, error: invalidArgument('original transaction belongs to another card', { originalKey }) });
      return;
    }
    if (original !== undefined && original.r.kind !== 'purchase') {
      message.reply({ ok: false, error: invalidArgument('only purchases can be reversed', { originalKey, kind: original.r.kind }) });
      return;
    }
    if (original === undefined || original.r.outcome !== 'approved') {
      if (this.answeredByIndex(message)) return;
      this.commitReversal(message, 'nothing_to_reverse', 0, original === undefined);
      return;
    }
    const alreadyReversed = this.reversalsInFlight?.has(originalKey) === true || (await this.context.persistence.loadReversalClaim(originalKey)) !== undefined;
    if (!this.loaded) await this.reload();
    // Another card actor of this node may have started the same key while we awaited reads.
    if (this.answeredByIndex(message)) return;
    if (alreadyReversed) this.commitReversal(message, 'already_reversed', 0, false);
    else this.commitReversal(message, 'reversed', original.r.amountMinor, false);
  }

  private async readRecord(key: string): Promise<IdempotencyRecord | undefined> {
    const value = await this.context.persistence.loadIdempotencyRecord(key);
    return value === undefined ? undefined : decodeRecord(value);
  }

  private commitReversal(message: Extract<CardMessage, { type: 'money' }>, outcome: ReverseOutcome, amountMinor: number, tombstone: boolean): void {
    const state = this.state as CardState;
    const { request } = message;
    const decision: CardDecision = outcome === 'reversed'
      ? decide(state, { type: 'reverse', amountMinor })
      : { kind: 'unchanged' };
    const claims: Claim[] = [];
    const id = this.context.nextTransactionId();
    // Only a reversal that moves money claims the original; a declined one leaves it reversible.
    const reversing = outcome === 'reversed' && decision.kind === 'approved';
    if (reversing) claims.push({ kind: 'reversal', key: request.originalKey, value: id });
    if (tombstone) {
      // The original never reached us: make sure it is declined if it arrives after this.
      const tombstoneResult: TxnResult = {
        id: `${id}.t`, kind: 'purchase', outcome: 'declined', reason: 'reversed_before_authorization', rule: 'reversal',
        cardId: this.cardId, amountMinor: 0, currency: state.currency, balanceAfterMinor: availableMinor(state), atMs: this.context.clock(),
      };
      const tombstoneRequest: MoneyRequest = { ...request, kind: 'purchase', key: request.originalKey, amountMinor: 0, originalKey: '' };
      const tombstone = storedTransaction(tombstoneRequest, { merchantId: message.merchantId, programId: state.programId }, tombstoneResult, tombstone_fingerprint);
      claims.push({ kind: 'idempotency', key: request.originalKey, value: encodeRecord(tombstone) });
    }
    this.commitMoney(message, decision, { id, claims, ...(decision.kind === 'declined' ? {} : { reverse: outcome }), amountMinor });
  }

  private commitMoney(
    message: Extract<CardMessage, { type: 'money' }>,
    decision: CardDecision,
    extra: { id?: string; claims?: CommitEntry['claims']; reverse?: ReverseOutcome; amountMinor?: number },
  ): void {
    const { request } = message;
    if (decision.kind === 'rejected') {
      message.reply({ ok: false, error: new TaplineError(decision.code, decision.message, { cardId: this.cardId }) });
      return;
    }
    const before = this.state as CardState;
    const after = decision.kind === 'approved' ? apply(before, decision.event) : before;
    const approved = decision.kind !== 'declined';
    const result: TxnResult = {
      id: extra.id ?? this.context.nextTransactionId(),
      kind: request.kind,
      outcome: approved ? 'approved' : 'declined',
      reason: decision.kind === 'declined' ? decision.reason : undefined,
      rule: decision.kind === 'declined' ? decision.rule : undefined,
      cardId: this.cardId,
      amountMinor: approved ? (extra.amountMinor ?? request.amountMinor) : 0,
      currency: before.currency,
      balanceAfterMinor: availableMinor(after),
      atMs: this.context.clock(),
      reverse: extra.reverse,
    };
    const record: IdempotencyRecord = { f: request.fingerprint, r: result };
    // One document is both the idempotency record and the outbox entry.
    const stored = encodeRecord(storedTransaction(request, { merchantId: message.merchantId, programId: before.programId }, result));
    const changed = after !== before;
    const entry: CommitEntry = {
      shard: this.shard,
      writes: [{ entity: this.entity, expectVersion: this.version, data: changed ? JSON.stringify(after) : undefined }],
      idempotency: { key: request.key, value: stored },
      ...(extra.claims && extra.claims.length > 0 ? { claims: extra.claims } : {}),
      outbox: stored,
      settle: (outcome) => this.settleMoney(message, record, changed ? after : undefined, outcome),
    };
    this.context.idempotency.begin(request.key, request.fingerprint);
    if (!this.context.persistence.submit(entry)) {
      this.context.idempotency.abandon(request.key);
      message.reply({ ok: false, error: resourceExhausted('commit queue full', { cardId: this.cardId }) });
      return;
    }
    this.uncommitted += 1;
    if (extra.reverse === 'reversed') (this.reversalsInFlight ??= new Set()).add(request.originalKey);
    if (changed) {
      this.state = after;
      this.version += 1;
    }
  }

  private settleMoney(message: Extract<CardMessage, { type: 'money' }>, record: IdempotencyRecord, written: CardState | undefined, outcome: CommitResult): void {
    const { request } = message;
    this.uncommitted -= 1;
    if (request.kind === 'reverse') this.reversalsInFlight?.delete(request.originalKey);
    switch (outcome.status) {
      case 'committed':
        if (written) this.durable = written;
        this.context.idempotency.complete(request.key, record);
        this.context.onDecision?.(record.r);
        message.reply({ ok: true, value: { result: record.r, replayed: false } });
        return;
      case 'duplicate': {
        this.loaded = false;
        const stored = decodeRecord(outcome.existing);
        this.context.idempotency.complete(request.key, stored);
        replyFromRecord(message, stored);
        return;
      }
      case 'conflict':
        this.loaded = false;
        this.context.idempotency.abandon(request.key);
        this.retellOrFail(message);
        return;
      default:
        this.loaded = false;
        this.context.idempotency.abandon(request.key);
        message.reply({ ok: false, error: settledFailure(outcome) });
    }
  }

  private handleAdmin(
    message: Extract<CardMessage, { type: 'issue' | 'set_status' }>,
    command: CardCommand,
  ): void {
    const before = this.state;
    const decision = decide(before, command);
    if (decision.kind === 'rejected') {
      message.reply({ ok: false, error: new TaplineError(decision.code, decision.message, { cardId: this.cardId }) });
      return;
    }
    if (decision.kind !== 'approved') {
      this.replyAdmin(message, before as CardState, true);
      return;
    }
    const after = apply(before, decision.event);
    const audit = {
      type: message.type === 'issue' ? 'card_issued' : 'card_status_changed',
      card: this.cardId,
      program: after.programId,
      currency: after.currency,
      status: after.status,
      amount: message.type === 'issue' ? after.balanceMinor : 0,
      operator: message.operatorId,
      reason: message.type === 'set_status' ? message.reason : '',
      at: this.context.clock(),
    };
    const entry: CommitEntry = {
      shard: this.shard,
      writes: [{ entity: this.entity, expectVersion: this.version, data: JSON.stringify(after) }],
      outbox: JSON.stringify(audit),
      settle: (outcome) => {
        this.uncommitted -= 1;
        if (outcome.status === 'committed') {
          this.durable = after;
          this.replyAdmin(message, after, false);
        } else {
          this.loaded = false;
          if (outcome.status === 'conflict') this.retellOrFail(message);
          else message.reply({ ok: false, error: settledFailure(outcome) });
        }
      },
    };
    if (!this.context.persistence.submit(entry)) {
      message.reply({ ok: false, error: resourceExhausted('commit queue full', { cardId: this.cardId }) });
      return;
    }
    this.uncommitted += 1;
    this.state = after;
    this.version += 1;
  }

  private replyAdmin(message: Extract<CardMessage, { type: 'issue' | 'set_status' }>, state: CardState, unchanged: boolean): void {
    if (message.type === 'issue') message.reply({ ok: true, value: { state, alreadyExisted: unchanged } });
    else message.reply({ ok: true, value: state });
  }

  private retellOrFail(message: CardMessage): void {
    if (message.type === 'balance') {
      if (!this.context.retell(message)) message.reply({ ok: false, error: resourceExhausted('card mailbox full') });
      return;
    }
    if (message.attempt + 1 >= this.context.conflict_attempts_max) {
      message.reply({ ok: false, error: unavailable('card state kept changing under this request; retry', { cardId: this.cardId }) });
      return;
    }
    const again = { ...message, attempt: message.attempt + 1 } as CardMessage;
    if (!this.context.retell(again)) message.reply({ ok: false, error: resourceExhausted('card mailbox full', { cardId: this.cardId }) });
  }
}

function replyFromRecord(message: Extract<CardMessage, { type: 'money' }>, record: IdempotencyRecord): void {
  const answer = answerFromRecord(record, message.request.fingerprint);
  if (answer) message.reply({ ok: true, value: answer });
  else message.reply({ ok: false, error: reusedKey(message.request) });
}

function reusedKey(request: MoneyRequest): TaplineError {
  return alreadyExists('idempotency key was already used for a different request', { key: request.key });
}

function settledFailure(outcome: CommitResult): TaplineError {
  if (outcome.status === 'fenced') return shardMoved('shard moved to another node; retry with the same key');
  if (outcome.status === 'failed') return unavailable('could not persist; retry with the same key', { cause: outcome.error.message });
  return unavailable('could not persist; retry with the same key');
}
