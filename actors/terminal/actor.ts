// The terminal actor: one per terminal, a thin shell over the entity host. It checks every money
// request of its terminal (registered, enabled, belongs to a merchant) before the request goes to
// the card, and it is the only writer of the terminal's registration and enabled flag. Checks
// read memory only; changes go through group commit like card decisions and are answered once
// durable.

import { failedPrecondition, notFound, rejected, type TaplineError } from '../errors';
import type { Acting } from '../principal';
import { EntityHost, loadSlot, stampOf, type CommitPlan, type HostContext, type Reply, type Slot } from '../runtime/entity-host';
import type { EntityId, GrantUsageChange, StoredRecord } from '../runtime/persistence';
import { terminalEnabledChanged, terminalOffline, terminalRegistered } from '../outbox/builders';
import {
  decodeOfflineBatch,
  decodeTerminalState,
  encodeCompletedOfflineBatch,
  encodeOfflineBatch,
  encodeTerminalState,
} from '../state/terminal';
import {
  checkCanTransact,
  decideTerminal,
  type CashierCredential,
  type TerminalCheck,
  type TerminalCommand,
  type TerminalState,
} from './rules';
import { acknowledgeDenylist, configureOffline, decideGrant, legacyCardUsage, sameSettings, type TerminalOffline } from '../offline/grant';
import { batchDigest, batchSigned } from '../offline/signature';
import { completeBatch, decideAccept, unknownCardDocument, type AcceptEnv } from '../offline/uploads';
import { missingEntries, pending_batches_max } from '../offline/batch';
import { offlineBatchId, type OfflineBatchRecord } from '../offline/records';
import { versionSum } from '../offline/denylist';
import type { OfflineAnswer, OfflineCommand } from './offline-messages';

export type TerminalMessage =
  | {
      readonly type: 'check';
      readonly cashier?: CashierCredential;
      readonly then: (check: TerminalCheck) => void;
      readonly fail: (error: TaplineError) => void;
    }
  /** The terminal's durable state, as an operator or the terminal itself reads it. */
  | { readonly type: 'read'; readonly reply: Reply<TerminalState> }
  | {
      readonly type: 'change';
      readonly command: TerminalCommand;
      readonly operatorId: string;
      readonly reply: Reply<TerminalAnswer>;
      readonly attempt: number;
      readonly acting?: Acting;
    }
  /** Offline selling (offline-messages.ts): settings, grants, acknowledgements, uploads. */
  | { readonly type: 'offline'; readonly command: OfflineCommand; readonly reply: Reply<OfflineAnswer>; readonly attempt: number };

/** The stored form of a record that does not exist. */
const absent_record: StoredRecord = Object.freeze({ version: 0, data: undefined });

/** Entry numbers an answer lists as missing, at most (the state keeps them as ranges). */
export const missing_listed_max = 1_000;

export interface TerminalAnswer {
  readonly state: TerminalState;
  readonly unchanged: boolean;
}

export interface TerminalActorContext extends Pick<HostContext, 'persistence' | 'conflict_attempts_max'> {
  /**
   * Publishes the terminal's durable state (undefined: forget it) to the region's read-only
   * directory, so money requests can be checked without a hop through this actor. Only this
   * actor publishes its terminal, so the directory never holds a state that was not committed.
   */
  readonly publish: (terminalId: string, state: TerminalState | undefined) => void;
  readonly clock: () => number;
  readonly retell: (terminalId: string, message: TerminalMessage) => boolean;
  /** Ids of the documents the terminal writes for offline sales of unknown cards. */
  readonly nextTransactionId: () => string;
  /** What judging an offline batch needs besides the terminal (shard count, counter signatures, resume window). */
  readonly offline: Omit<AcceptEnv, 'nowMs'>;
}

export class TerminalBehavior extends EntityHost<TerminalMessage> implements Slot<TerminalState> {
  state: TerminalState | undefined = undefined;
  version = 0;
  durable: TerminalState | undefined = undefined;
  private readonly entity: EntityId;
  /**
   * The records of batches this actor accepted (committed) and has not completed yet, with the
   * version they were written at: the completion decides on them without reading back and decoding
   * the record it wrote itself (the terminal's actor is its batches' one fenced writer). At most
   * pending_batches_max; a completion that does not commit drops its entry, so a retry reads Redis.
   */
  private readonly accepted = new Map<number, { readonly stored: StoredRecord; readonly record: OfflineBatchRecord }>();
  /**
   * What each card spent under the terminal's current grant, as decided (commits in flight
   * included, like `state`): kept beside the terminal in Redis (GrantUsageChange), read with it,
   * and changed in place by each accepted batch, never copied. Any commit that does not land makes
   * the actor reload, and this with it.
   */
  private cardUsage = new Map<string, number>();

  constructor(
    readonly terminalId: string,
    shard: number,
    private readonly context: TerminalActorContext & HostContext,
  ) {
    super(shard, context);
    this.entity = { kind: 'terminal', id: terminalId };
  }

  /**
   * The actor holds no terminal: none exists (as last read), or it could not be read, and nothing
   * of it is in flight (shard-region.ts stops such an actor at once; the next message reads again).
   */
  get absent(): boolean {
    return this.state === undefined && this.idleCommits;
  }

  protected needsAwait(message: TerminalMessage): boolean {
    // An upload and a completion read their batch's record first.
    return !this.loaded || (message.type === 'offline' && (message.command.kind === 'accept' || message.command.kind === 'complete'));
  }

  protected async handleAwaiting(message: TerminalMessage): Promise<void> {
    if (!this.loaded) await this.reload();
    if (message.type === 'offline' && (message.command.kind === 'accept' || message.command.kind === 'complete'))
      await this.offlineBatch(message);
    else this.handle(message);
  }

  protected handle(message: TerminalMessage): void {
    if (message.type === 'check') message.then(checkCanTransact(this.durable, message.cashier));
    else if (message.type === 'read') this.read(message.reply);
    else if (message.type === 'change') this.change(message);
    else this.offline(message);
  }

  protected failMessage(message: TerminalMessage, error: TaplineError): void {
    if (message.type === 'check') message.fail(error);
    else message.reply({ ok: false, error });
  }

  private read(reply: Reply<TerminalState>): void {
    if (this.durable === undefined)
      reply({ ok: false, error: rejected('not_found', 'terminal not registered', { terminalId: this.terminalId }) });
    else reply({ ok: true, value: this.durable });
  }

  private async reload(): Promise<void> {
    const [record, usage] = await Promise.all([
      this.loadRecord(this.entity),
      this.context.persistence.loadGrantUsage(this.shard, this.terminalId, { afterPendingWrites: !this.idleCommits }),
    ]);
    loadSlot(this, record, decodeTerminalState);
    // A terminal read from layout 3 still holds its cards in its state (its next upload moves them).
    const legacy = legacyCardUsage(this.state?.offline);
    this.cardUsage = legacy.size > 0 ? new Map(legacy) : usage;
    this.loaded = true;
    this.context.publish(this.terminalId, this.durable);
  }

  protected retry(message: Extract<TerminalMessage, { type: 'change' | 'offline' }>, ownConflict: boolean): void {
    this.retryOrFail(message, (again) => this.context.retell(this.terminalId, again), message.reply, ownConflict);
  }

  /** The actor is being passivated: the directory must not outlive it. */
  passivated(): void {
    this.context.publish(this.terminalId, undefined);
  }

  private change(message: Extract<TerminalMessage, { type: 'change' }>): void {
    const decision = decideTerminal(this.state, message.command);
    // A refusal or a repeat decided on the in-memory state writes nothing; it is answered once that
    // state is durable (decided again if it is lost).
    if (decision.kind === 'rejected')
      return this.answerRefusal(message, rejected(decision.code, decision.message, { terminalId: this.terminalId }));
    if (decision.kind === 'unchanged') return this.answerRepeat(message, { state: this.state as TerminalState, unchanged: true });
    const after = decision.state;
    const event = {
      terminal: this.terminalId,
      merchant: after.merchantId,
      enabled: after.enabled,
      operator: message.operatorId,
      at: this.context.clock(),
    };
    // Parameters and cashiers change no transaction fact: their audit record is their trace.
    const type = message.command.type;
    const outbox = type === 'register' ? terminalRegistered(event) : type === 'set_enabled' ? terminalEnabledChanged(event) : undefined;
    const submitted = this.commit(
      {
        slots: [{ slot: this, entity: this.entity, after, encoded: encodeTerminalState(after) }],
        outbox,
        audit: stampOf(message.acting, this.context.clock),
      },
      (outcome, ownConflict) => {
        if (outcome.status === 'committed') {
          this.context.publish(this.terminalId, after);
          message.reply({ ok: true, value: { state: after, unchanged: false } });
          return;
        }
        this.context.publish(this.terminalId, undefined);
        if (outcome.status === 'conflict') this.retry(message, ownConflict);
        else message.reply({ ok: false, error: this.failureOf(outcome) });
      },
    );
    if (!submitted) message.reply({ ok: false, error: this.commitQueueFull() });
  }

  // -------------------------------------------------------------------------------------------
  // Offline selling (actors/offline): the decisions are pure; this commits them and answers.

  private offline(message: Extract<TerminalMessage, { type: 'offline' }>): void {
    const state = this.state;
    if (state === undefined)
      return message.reply({ ok: false, error: notFound('terminal not registered', { terminalId: this.terminalId }) });
    const { command } = message;
    const nowMs = this.context.clock();
    switch (command.kind) {
      case 'inspect':
        return message.reply({ ok: true, value: { kind: 'state', state, version: this.version } });
      case 'configure': {
        if (sameSettings(state.offline, command.settings))
          return message.reply({ ok: true, value: { kind: 'state', state, version: this.version } });
        const offline = configureOffline(state.offline, command.settings);
        const document = this.offlineDocument(state, 'settings', offline.version, nowMs, { operator: command.acting.subject });
        this.commitOffline(message, { ...state, offline }, document, { audit: stampOf(command.acting, () => nowMs) });
        return;
      }
      case 'grant': {
        if (!state.enabled)
          return message.reply({ ok: false, error: failedPrecondition('terminal disabled', { terminalId: this.terminalId }) });
        const decision = decideGrant(state.offline, this.version, command.request, nowMs);
        if (decision.kind === 'rejected') return message.reply({ ok: false, error: decision.error });
        if (decision.kind === 'stale') return message.reply({ ok: true, value: { kind: 'stale' } });
        const document = this.offlineDocument(state, 'grant', decision.grant.number, nowMs);
        // A new grant counts its cards from zero: the previous grant's counters go in its commit.
        const reset: GrantUsageChange = { terminalId: this.terminalId, reset: true, batch: 0, add: new Map() };
        if (this.commitOffline(message, { ...state, offline: decision.after }, document, { grantUsage: reset })) this.cardUsage = new Map();
        return;
      }
      case 'ack': {
        if (state.offline === undefined)
          return message.reply({ ok: false, error: failedPrecondition('terminal is not set up to sell offline') });
        const offline = acknowledgeDenylist(state.offline, command.versions, command.lastEntry, command.behind, nowMs);
        const document = this.offlineDocument(state, 'ack', versionSum(command.versions), nowMs, { behind: command.behind });
        this.commitOffline(message, { ...state, offline }, document);
        return;
      }
      default:
        throw new Error(`assertion: ${command.kind} is handled after its batch record is read`);
    }
  }

  /** Commits the terminal's new state with its document; answers the state once durable. */
  private commitOffline(
    message: Extract<TerminalMessage, { type: 'offline' }>,
    after: TerminalState,
    document: string,
    extra?: Partial<CommitPlan>,
  ): boolean {
    const plan: CommitPlan = {
      ...extra,
      slots: [{ slot: this, entity: this.entity, after, encoded: encodeTerminalState(after) }],
      outbox: document,
    };
    return this.commitThenReply(
      plan,
      message.reply,
      { ok: true, value: { kind: 'state', state: after, version: this.version } },
      (ownConflict) => this.retry(message, ownConflict),
      (committed) => this.context.publish(this.terminalId, committed ? after : undefined),
    );
  }

  private offlineDocument(
    state: TerminalState,
    event: 'settings' | 'grant' | 'ack' | 'batch',
    version: number,
    at: number,
    extra: { readonly behind?: number; readonly entries?: number; readonly missing?: number; readonly operator?: string } = {},
  ): string {
    return terminalOffline({ terminal: this.terminalId, merchant: state.merchantId, event, version, at, ...extra });
  }

  /** An upload (accept) or the end of its merge (complete): both decided on the batch's record. */
  private async offlineBatch(message: Extract<TerminalMessage, { type: 'offline' }>): Promise<void> {
    const { command } = message;
    if (command.kind !== 'accept' && command.kind !== 'complete') throw new Error('assertion: not a batch command');
    const entity: EntityId = { kind: 'offline_batch', id: offlineBatchId(this.terminalId, command.batch) };
    const known = command.kind === 'complete' ? this.accepted.get(command.batch) : undefined;
    const stored = known?.stored ?? (this.neverAccepted(command) ? absent_record : await this.loadRecord(entity));
    if (!this.loaded) await this.reload();
    const state = this.state;
    if (state === undefined)
      return message.reply({ ok: false, error: notFound('terminal not registered', { terminalId: this.terminalId }) });
    const record = known?.record ?? (stored.data === undefined ? undefined : decodeOfflineBatch(stored.data));
    if (command.kind === 'accept') return this.accept(message, command, state, entity, stored, record);
    if (record === undefined)
      return message.reply({ ok: false, error: failedPrecondition('no such offline batch was accepted', { batch: command.batch }) });
    this.complete(message, command, state, { entity, stored, accepted: known?.stored.data }, record);
  }

  /**
   * True when the batch's record cannot exist: its number is above the highest this terminal ever
   * accepted (batchHigh is written in the same commit as every batch record, and the state in
   * memory includes the accepts still committing). The upload then skips reading the record, one
   * Redis round trip per batch; the record is still written expecting version 0, so a record that
   * did exist would make the commit conflict and the retry read it.
   */
  private neverAccepted(command: OfflineCommand): boolean {
    const offline = this.state?.offline;
    return this.loaded && command.kind === 'accept' && offline !== undefined && command.batch > offline.batchHigh;
  }

  private accept(
    message: Extract<TerminalMessage, { type: 'offline' }>,
    command: Extract<OfflineCommand, { kind: 'accept' }>,
    state: TerminalState,
    entity: EntityId,
    stored: StoredRecord,
    record: OfflineBatchRecord | undefined,
  ): void {
    const offline = state.offline;
    const proof = {
      digest: batchDigest(command.bytes),
      signed: offline !== undefined && batchSigned(offline.publicKey, command.bytes, command.signature),
    };
    const env = { ...this.context.offline, nowMs: this.context.clock() };
    const decision = decideAccept(offline, this.cardUsage, record, command.input, proof, env);
    if (decision.kind === 'rejected') return message.reply({ ok: false, error: decision.error });
    const missing = missingEntries(
      (decision.kind === 'accept' ? decision.after : (offline as TerminalOffline)).entries,
      missing_listed_max,
    );
    const answer: OfflineAnswer = {
      kind: 'batch',
      record: decision.record,
      merchantId: state.merchantId,
      missing,
      replayed: decision.kind === 'replay',
    };
    if (decision.kind === 'replay') return message.reply({ ok: true, value: answer });
    const after: TerminalState = { ...state, offline: decision.after };
    const data = encodeOfflineBatch(decision.record);
    const grantUsage = this.usageAdded(offline as TerminalOffline, command.batch, decision.cardsAdded);
    const plan: CommitPlan = {
      slots: [{ slot: this, entity: this.entity, after, encoded: encodeTerminalState(after) }],
      writes: [{ entity, expectVersion: stored.version, data }],
      ...(grantUsage === undefined ? {} : { grantUsage }),
    };
    const submitted = this.commitThenReply(
      plan,
      message.reply,
      { ok: true, value: answer },
      (ownConflict) => this.retry(message, ownConflict),
      (committed) => {
        if (committed) this.rememberAccepted(command.batch, { version: stored.version + 1, data }, decision.record);
        this.context.publish(this.terminalId, committed ? after : undefined);
      },
    );
    if (submitted)
      for (const [cardId, amountMinor] of decision.cardsAdded) this.cardUsage.set(cardId, (this.cardUsage.get(cardId) ?? 0) + amountMinor);
  }

  /**
   * The counters an accepted batch adds beside the terminal: its cards' sales, and, for a terminal
   * read from layout 3, every card its state still held (the state is written without them now).
   */
  private usageAdded(before: TerminalOffline, batch: number, added: ReadonlyMap<string, number>): GrantUsageChange | undefined {
    const legacy = legacyCardUsage(before);
    if (legacy.size === 0) return added.size === 0 ? undefined : { terminalId: this.terminalId, reset: false, batch, add: added };
    const add = new Map(legacy);
    for (const [cardId, amountMinor] of added) add.set(cardId, (add.get(cardId) ?? 0) + amountMinor);
    return { terminalId: this.terminalId, reset: false, batch, add };
  }

  /** A batch just accepted, kept for its completion (the oldest is dropped past pending_batches_max). */
  private rememberAccepted(batch: number, stored: StoredRecord, record: OfflineBatchRecord): void {
    this.accepted.delete(batch);
    this.accepted.set(batch, { stored, record });
    if (this.accepted.size > pending_batches_max) this.accepted.delete(this.accepted.keys().next().value as number);
  }

  private complete(
    message: Extract<TerminalMessage, { type: 'offline' }>,
    command: Extract<OfflineCommand, { kind: 'complete' }>,
    state: TerminalState,
    /** The batch's record as read, and its stored form when this actor accepted it (not read back). */
    where: { readonly entity: EntityId; readonly stored: StoredRecord; readonly accepted: string | undefined },
    record: OfflineBatchRecord,
  ): void {
    const { entity, stored, accepted } = where;
    const offline = state.offline as TerminalOffline;
    const missing = missingEntries(offline.entries, missing_listed_max);
    const answer = (done: OfflineBatchRecord): OfflineAnswer => ({
      kind: 'batch',
      record: done,
      merchantId: state.merchantId,
      missing,
      replayed: false,
    });
    // Whatever this completion's fate, the batch's record is read from Redis next time.
    this.accepted.delete(command.batch);
    // Completed meanwhile by another upload of the same batch: its results stand.
    if (record.results !== undefined) return message.reply({ ok: true, value: answer(record) });
    const nowMs = this.context.clock();
    const done = completeBatch(offline, record, command.batch, command.results, nowMs);
    const after: TerminalState = { ...state, offline: done.after };
    const unknown = command.unknownCards.map((entry) => ({
      shard: this.shard,
      document: unknownCardDocument(
        entry,
        { terminalId: this.terminalId, merchantId: state.merchantId, key: entry.key },
        this.context.nextTransactionId(),
        nowMs,
      ),
    }));
    const document = this.offlineDocument(state, 'batch', command.batch, nowMs, {
      entries: record.entries.length,
      missing: missing.length,
    });
    const plan: CommitPlan = {
      slots: [{ slot: this, entity: this.entity, after, encoded: encodeTerminalState(after) }],
      writes: [
        {
          entity,
          expectVersion: stored.version,
          // The accepted entries are not encoded again: the results are appended to their stored form.
          data: accepted === undefined ? encodeOfflineBatch(done.record) : encodeCompletedOfflineBatch(accepted, command.results, nowMs),
        },
      ],
      outbox: document,
      ...(unknown.length === 0 ? {} : { extraOutbox: unknown }),
    };
    this.commitThenReply(
      plan,
      message.reply,
      { ok: true, value: answer(done.record) },
      (ownConflict) => this.retry(message, ownConflict),
      (committed) => this.context.publish(this.terminalId, committed ? after : undefined),
    );
  }
}
