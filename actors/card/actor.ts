// The card actor: holds one card's state in memory, runs the pure rules on each command in
// order, and hands every decision to group commit. The reply leaves only when the decision is
// durable (persist before reply). Decisions chain on the in-memory state while earlier ones are
// still being committed; each carries the version it was decided on, so if one does not land
// the ones after it are refused by Redis too, the actor reloads and decides them again.

import {
  TaplineError,
  alreadyExists,
  invalidArgument,
  notFound,
  resourceExhausted,
  shardMoved,
  unavailable,
  type Outcome,
} from '../errors';
import type { IdempotencyIndex } from '../idempotency';
import type { EntityBehavior } from '../runtime/actor-runtime';
import type { Claim, CommitEntry, CommitResult, EntityId, EntityWrite, Persistence } from '../runtime/persistence';
import { decideRefund, empty_refund_ledger, reversibleMinor, type RefundLedger } from './refunds';
import {
  apply,
  decide,
  availableMinor,
  balanceDeltaMinor,
  heldDeltaMinor,
  type AutoReload,
  type CardCommand,
  type CardDecision,
  type CardEvent,
  type CardState,
  type CardStatus,
} from './rules';
import type { ProgramSource } from '../program/registry';
import { decideCompletion, decideIncremental, decidePreAuthorization, decideRelease, expiredHoldKeys, openHold } from './holds';
import { decideTransition, type TransitionRequest } from './lifecycle';
import { decideCashOut, decideReplace, replacementState } from './closing';
import { checkPin, decideSetPin, withPinFailures } from './pin';
import {
  answerFromRecord,
  decodeRecord,
  encodeRecord,
  storedTransaction,
  tombstone_fingerprint,
  type IdempotencyRecord,
  type MoneyRequest,
  type ReverseOutcome,
  type DocumentExtras,
  type HoldFields,
  type TxnAnswer,
  type TxnResult,
  type ProgramFigures,
} from './transaction';
import { afterRuleDecline, decideRuledPurchase, gateHold, recordSpending, resolveCardReview, reversePoints } from './program-rules';
import type { ProgramRequest, ProgramRules } from '../rules/program';

export type Reply<T> = (outcome: Outcome<T>) => void;

export type CardMessage =
  | {
      readonly type: 'money';
      readonly request: MoneyRequest;
      readonly merchantId: string;
      readonly reply: Reply<TxnAnswer>;
      readonly attempt: number;
    }
  | { readonly type: 'balance'; readonly reply: Reply<CardState> }
  | {
      readonly type: 'issue';
      readonly command: Extract<CardCommand, { type: 'issue' }>;
      readonly operatorId: string;
      readonly reply: Reply<IssueAnswer>;
      readonly attempt: number;
      readonly holder?: string;
    }
  | {
      readonly type: 'set_status';
      readonly status: CardStatus;
      readonly reason: string;
      readonly operatorId: string;
      readonly reply: Reply<CardState>;
      readonly attempt: number;
    }
  | {
      readonly type: 'transition';
      readonly transition: TransitionRequest;
      readonly reason: string;
      readonly reply: Reply<TransitionAnswer>;
      readonly attempt: number;
    }
  | {
      readonly type: 'replace';
      readonly replacementId: string;
      readonly replacementShard: number;
      readonly reason: string;
      readonly operatorId: string;
      readonly reply: Reply<ReplaceAnswer>;
      readonly attempt: number;
    }
  | {
      readonly type: 'auto_reload';
      readonly autoReload: AutoReload | undefined;
      readonly operatorId: string;
      readonly reply: Reply<CardState>;
      readonly attempt: number;
    }
  | {
      readonly type: 'tab_limit';
      readonly limitMinor: number;
      readonly operatorId: string;
      readonly reply: Reply<CardState>;
      readonly attempt: number;
    }
  | {
      readonly type: 'set_pin';
      readonly newHash: string;
      readonly oldHash: string | undefined;
      readonly reset: boolean;
      readonly operatorId: string;
      readonly reply: Reply<CardState>;
      readonly attempt: number;
    }
  /** An operator cleared a flagged approval of this card. */
  | {
      readonly type: 'resolve_review';
      readonly transactionId: string;
      readonly note: string;
      readonly operatorId: string;
      readonly reply: Reply<CardState>;
      readonly attempt: number;
    }
  /** Another actor wrote this card (a replacement created it): forget the cached state. */
  | { readonly type: 'invalidate' };

export interface ReplaceAnswer {
  readonly old: CardState;
  readonly replacement: CardState;
  readonly alreadyReplaced: boolean;
}
export interface TransitionAnswer {
  readonly state: CardState;
  readonly previous: CardStatus;
}

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
  /** Queues a message for a card's actor again (its own, after a conflict or a wait). */
  readonly retell: (cardId: string, message: CardMessage) => boolean;
  readonly onDecision?: (result: TxnResult) => void;
  readonly programs: ProgramSource;
  /** A payment left the available balance below the card's auto-reload threshold (after commit). */
  readonly onLowBalance?: (state: CardState, triggerId: string) => void;
  /** Tells an active actor of another card to reload (its card was written by this one). */
  readonly invalidate?: (cardId: string) => void;
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

  /**
   * Processes a batch in order. The common case (a loaded card, a purchase or top-up) runs
   * synchronously, with no promise per batch; from the first message that needs Redis (a reload,
   * a reversal or refund reading its original, a replacement) the rest of the batch is awaited.
   */
  receive(batch: CardMessage[]): void | Promise<void> {
    for (let index = 0; index < batch.length; index++) {
      const message = batch[index] as CardMessage;
      if (this.needsAwait(message)) return this.receiveAwaiting(batch, index);
      // A failure (a bug) fails this message only: earlier ones are already answered or handed
      // to the committer and must not be answered twice.
      try {
        this.handle(message);
      } catch (error) {
        this.fail([message], error);
      }
    }
    return undefined;
  }

  /**
   * True when the state must be read from Redis first. "Not found" is never trusted from memory:
   * in a cluster the card may have been created since by another node's replacement
   * (docs/CLUSTER.md); rereading costs one Redis read per request for an unknown card, never one
   * on the path of an existing card.
   */
  private get needsReload(): boolean {
    return !this.loaded || (this.state === undefined && this.uncommitted === 0);
  }

  /** True when handling the message may wait on Redis. */
  private needsAwait(message: CardMessage): boolean {
    if (this.needsReload) return true;
    if (message.type === 'money') return message.request.kind === 'reverse' || message.request.kind === 'refund';
    return message.type === 'replace';
  }

  private async receiveAwaiting(batch: CardMessage[], from: number): Promise<void> {
    for (let index = from; index < batch.length; index++) {
      const message = batch[index] as CardMessage;
      // A failure (Redis down while reloading, a bug) fails this message only.
      try {
        if (this.needsReload) await this.reload();
        if (message.type === 'money' && message.request.kind === 'reverse') await this.handleReverse(message);
        else if (message.type === 'money' && message.request.kind === 'refund') await this.handleRefund(message);
        else if (message.type === 'replace') await this.handleReplace(message);
        else this.handle(message);
      } catch (error) {
        this.fail([message], error);
      }
    }
  }

  fail(batch: CardMessage[], error: unknown): void {
    const failure = error instanceof TaplineError ? error : new TaplineError('internal', 'card actor failed', { cause: String(error) });
    this.loaded = false;
    for (const message of batch) if (message.type !== 'invalidate') message.reply({ ok: false, error: failure });
  }

  private async reload(): Promise<void> {
    const record = await this.context.persistence.loadEntity(this.shard, this.entity);
    this.state = record.data === undefined ? undefined : (JSON.parse(record.data) as CardState);
    this.version = record.version;
    this.durable = this.state;
    if (this.state !== undefined) await this.context.programs.ensure(this.state.programId);
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
      case 'transition':
        this.handleAdmin(message, { type: 'set_status', status: 'active' });
        return;
      case 'invalidate':
        // Only a card with nothing in flight can have been written by someone else (it did not exist).
        if (this.uncommitted === 0) this.loaded = false;
        return;
      case 'replace':
        return;
      case 'auto_reload':
        this.handleAdmin(message, { type: 'set_auto_reload', autoReload: message.autoReload });
        return;
      case 'set_pin':
        this.handleAdmin(message, { type: 'set_status', status: 'active' });
        return;
      case 'tab_limit':
        this.handleAdmin(message, { type: 'set_tab_limit', limitMinor: message.limitMinor });
        return;
      case 'resolve_review':
        this.handleAdmin(message, { type: 'set_status', status: 'active' });
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
    if (request.kind === 'purchase') {
      // A program with rules takes the ruled path; without, one property read more.
      const rules = this.context.programs.get(this.state.programId).rules;
      if (rules !== undefined) {
        this.handleRuledPurchase(message, rules);
        return;
      }
      if (request.redeemPoints !== undefined) {
        this.commitMoney(message, { kind: 'declined', reason: 'points_insufficient', rule: 'loyalty:no_program_rules' }, {});
        return;
      }
    }
    if (request.kind === 'purchase' || request.kind === 'top_up') {
      let base: CardState | undefined;
      if (request.kind === 'purchase' && this.state.profile !== undefined) {
        // PIN where the program demands it (cards issued by the v1 AdminService have no
        // profile and no PIN, and skip this).
        const pin = this.pinGate(message);
        if (pin.handled) return;
        base = pin.base;
      }
      if (base !== undefined) {
        this.commitMoney(
          message,
          decide(base, { type: 'purchase', amountMinor: request.amountMinor, currency: request.currency, nowMs: this.context.clock() }),
          { base },
        );
        return;
      }
      // Cards issued without an expiry (no profile) never read the clock here.
      const command: CardCommand =
        request.kind === 'purchase'
          ? {
              type: 'purchase',
              amountMinor: request.amountMinor,
              currency: request.currency,
              nowMs: this.state.profile === undefined ? undefined : this.context.clock(),
            }
          : this.topUpCommand(request);
      if (this.state.holds !== undefined) this.releaseExpiredHolds(message.merchantId);
      this.commitMoney(message, decide(this.state, command), {});
      return;
    }
    this.handleHold(message);
  }

  /** What the program rules see of a request. */
  private ruleRequest(message: Extract<CardMessage, { type: 'money' }>, atMs: number): ProgramRequest {
    return { atMs, amount_minor: message.request.amountMinor, merchantId: message.merchantId, terminalId: message.request.terminalId };
  }

  /**
   * A purchase of a card whose program has rules (actors/card/program-rules.ts). The PIN
   * comes first (a wrong PIN also counts towards the temporary block); the rule state the decision
   * leaves is written with it in the same commit.
   */
  private handleRuledPurchase(message: Extract<CardMessage, { type: 'money' }>, rules: ProgramRules): void {
    const { request } = message;
    if ((this.state as CardState).holds !== undefined) this.releaseExpiredHolds(message.merchantId);
    const atMs = this.context.clock();
    const pin = this.pinGate(message, rules, atMs);
    if (pin.handled) return;
    const id = this.context.nextTransactionId();
    const ruled = decideRuledPurchase(pin.base ?? (this.state as CardState), rules, {
      atMs,
      amountMinor: request.amountMinor,
      currency: request.currency,
      merchantId: message.merchantId,
      terminalId: request.terminalId,
      lines: request.lines,
      redeemPoints: request.redeemPoints ?? 0,
      transactionId: id,
    });
    this.commitMoney(message, ruled.decision, {
      id,
      base: ruled.base,
      amountMinor: ruled.debitMinor,
      ...(ruled.figures === undefined ? {} : { program: ruled.figures }),
    });
  }

  /**
   * The PIN check of a spending request: a decline is committed here (with the wrong-attempt count
   * it raised, and a card_pin_changed "locked" document when it locked the PIN); a right PIN after
   * wrong ones gives the reset state the decision must apply to.
   */
  private pinGate(
    message: Extract<CardMessage, { type: 'money' }>,
    rules?: ProgramRules,
    atMs?: number,
  ): { handled: boolean; base?: CardState } {
    const state = this.state as CardState;
    if (state.profile === undefined) return { handled: false };
    const check = checkPin(state, this.context.programs.get(state.programId), message.request.pinHash);
    let base = check.failuresAfter === undefined ? undefined : withPinFailures(state, check.failuresAfter);
    if (check.decline === undefined) return base === undefined ? { handled: false } : { handled: false, base };
    if (rules !== undefined && check.decline.kind === 'declined') {
      // PIN failures count towards the program's temporary block.
      const request = {
        atMs: atMs ?? this.context.clock(),
        amount_minor: message.request.amountMinor,
        merchantId: message.merchantId,
        terminalId: message.request.terminalId,
      };
      const counted = afterRuleDecline(base ?? state, rules, request, check.decline.reason);
      if (counted !== state) base = counted;
    }
    const locked =
      check.locked === true
        ? [
            {
              shard: this.shard,
              document: JSON.stringify({
                type: 'card_pin_changed',
                card: this.cardId,
                program: state.programId,
                event: 'locked',
                operator: '',
                reason: 'pin_attempts',
                at: this.context.clock(),
              }),
            },
          ]
        : undefined;
    this.commitMoney(message, check.decline, {
      ...(base === undefined ? {} : { base }),
      ...(locked === undefined ? {} : { extraOutbox: locked }),
    });
    return { handled: true };
  }

  /** A top-up with the card's program limits (stored-value regulation). */
  private topUpCommand(request: MoneyRequest): CardCommand {
    const program = this.context.programs.get((this.state as CardState).programId);
    return {
      type: 'top_up',
      amountMinor: request.amountMinor,
      currency: request.currency,
      maxBalanceMinor: program.maxBalanceMinor,
      maxTopUpMinor: program.maxTopUpMinor,
    };
  }

  /** Pre-authorization, incremental, completion and void: decided on the holds in the card's state. */
  private handleHold(message: Extract<CardMessage, { type: 'money' }>): void {
    const { request } = message;
    this.releaseExpiredHolds(message.merchantId);
    const state = this.state as CardState;
    const nowMs = this.context.clock();
    const program = this.context.programs.get(state.programId);
    let decision: CardDecision;
    switch (request.kind) {
      case 'pre_authorization': {
        const pin = this.pinGate(message, program.rules, nowMs);
        if (pin.handled) return;
        const start = pin.base ?? state;
        // The program's gate (temporary block, hard risk, merchant / terminal) before the hold.
        const ruled = program.rules === undefined ? undefined : gateHold(start, program.rules, this.ruleRequest(message, nowMs));
        if (ruled?.decline !== undefined) {
          this.commitMoney(message, ruled.decline, { base: ruled.base, amountMinor: 0 });
          return;
        }
        // A hold under this key already exists only when this is a retry whose answer left the
        // index: the commit finds the stored record and answers with it (this decline is never written).
        decision =
          openHold(start, request.key) !== undefined
            ? { kind: 'declined', reason: 'hold_not_found', rule: 'hold_exists' }
            : decidePreAuthorization(start, request.key, request.amountMinor, request.currency, nowMs, program);
        // An insufficient-funds decline of a hold counts towards the temporary block.
        const base =
          program.rules !== undefined && decision.kind === 'declined'
            ? afterRuleDecline(start, program.rules, this.ruleRequest(message, nowMs), decision.reason)
            : pin.base;
        if (base !== undefined) {
          this.commitMoney(message, decision, {
            base,
            amountMinor: decision.kind === 'approved' ? movedMinor(decision.event, request.amountMinor) : 0,
          });
          return;
        }
        break;
      }
      case 'incremental':
        decision = decideIncremental(state, request.originalKey, request.amountMinor, request.currency, nowMs, program);
        break;
      case 'completion':
        decision = decideCompletion(state, request.originalKey, request.amountMinor, request.currency, nowMs, program);
        // A completion is spending: it enters the velocity history (it is never declined
        // by velocity: the merchant delivered against an approved hold).
        if (program.rules !== undefined && decision.kind === 'approved' && decision.event.type === 'hold_completed') {
          const request5 = { ...this.ruleRequest(message, nowMs), amount_minor: decision.event.debitedMinor };
          this.commitMoney(message, decision, {
            base: recordSpending(state, program.rules, request5),
            amountMinor: decision.event.debitedMinor,
          });
          return;
        }
        break;
      case 'cash_out':
        decision = decideCashOut(state, nowMs);
        break;
      case 'tab_settlement':
        decision = decide(state, { type: 'settle_tab', amountMinor: request.amountMinor, currency: request.currency });
        break;
      default:
        decision = decideRelease(state, request.originalKey);
    }
    this.commitMoney(message, decision, {
      amountMinor: decision.kind === 'approved' ? movedMinor(decision.event, request.amountMinor) : 0,
    });
  }

  /**
   * Holds past their expiry are released lazily, when the card is next used (loaded or active):
   * one hold_expiry document each, committed before the command that found them. Decisions
   * never count an expired hold (holds.ts), so the release only settles the books.
   */
  private releaseExpiredHolds(merchantId: string): void {
    const state = this.state;
    if (state?.holds === undefined) return;
    const nowMs = this.context.clock();
    for (const key of expiredHoldKeys(state, nowMs)) {
      const current = this.state as CardState;
      const decision = decideRelease(current, key);
      if (decision.kind !== 'approved') continue;
      const after = apply(current, decision.event);
      const id = this.context.nextTransactionId();
      const request: MoneyRequest = {
        kind: 'hold_expiry',
        key: '',
        fingerprint: '',
        cardId: this.cardId,
        terminalId: '',
        amountMinor: 0,
        currency: current.currency,
        source: '',
        operatorId: '',
        originalKey: key,
      };
      const result: TxnResult = {
        id,
        kind: 'hold_expiry',
        outcome: 'approved',
        cardId: this.cardId,
        amountMinor: heldDeltaMinor(decision.event) * -1,
        currency: current.currency,
        balanceAfterMinor: availableMinor(after),
        atMs: nowMs,
      };
      const document = encodeRecord(
        storedTransaction(request, { merchantId, programId: current.programId }, result, '', holdFields(decision.event, key, after)),
      );
      const submitted = this.context.persistence.submit({
        shard: this.shard,
        writes: [{ entity: this.entity, expectVersion: this.version, data: JSON.stringify(after) }],
        outbox: document,
        settle: (outcome) => {
          this.uncommitted -= 1;
          if (outcome.status === 'committed') this.durable = after;
          else this.loaded = false;
        },
      });
      if (!submitted) return;
      this.uncommitted += 1;
      this.state = after;
      this.version += 1;
    }
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
    if (original !== undefined && !reversible_kinds.has(original.r.kind)) {
      message.reply({
        ok: false,
        error: invalidArgument('only purchases, pre-authorizations and completions can be reversed', {
          originalKey,
          kind: original.r.kind,
        }),
      });
      return;
    }
    if (original === undefined || original.r.outcome !== 'approved') {
      if (this.answeredByIndex(message)) return;
      this.commitReversal(message, 'nothing_to_reverse', 0, original === undefined);
      return;
    }
    const alreadyReversed =
      this.reversalsInFlight?.has(originalKey) === true || (await this.context.persistence.loadReversalClaim(originalKey)) !== undefined;
    if (!this.loaded) await this.reload();
    // Another card actor of this node may have started the same key while we awaited reads.
    if (this.answeredByIndex(message)) return;
    if (alreadyReversed) this.commitReversal(message, 'already_reversed', 0, false);
    else if (original.r.kind !== 'pre_authorization') await this.reverseDebit(message, original.r.amountMinor, original.r.program);
    else if (this.state !== undefined && openHold(this.state, originalKey) !== undefined) this.commitHoldReversal(message);
    // The hold was already completed, voided or expired: nothing of the pre-authorization is left to undo.
    else this.commitReversal(message, 'nothing_to_reverse', 0, false);
  }

  /**
   * Reversal of a purchase or completion: gives back what was debited less what was refunded
   * against it since, and marks the refund ledger reversed in the same entry (its version
   * serializes this reversal against any refund of the same original).
   */
  private async reverseDebit(
    message: Extract<CardMessage, { type: 'money' }>,
    originalMinor: number,
    figures?: ProgramFigures,
  ): Promise<void> {
    const { request } = message;
    const stored = await this.context.persistence.loadEntity(this.shard, refundLedgerEntity(request.originalKey));
    if (!this.loaded) await this.reload();
    if (this.answeredByIndex(message)) return;
    const ledger = stored.data === undefined ? empty_refund_ledger : (JSON.parse(stored.data) as RefundLedger);
    const amountMinor = reversibleMinor(originalMinor, ledger);
    if (amountMinor === 0) {
      // Everything was refunded already: nothing is left to give back.
      this.commitReversal(message, 'nothing_to_reverse', 0, false);
      return;
    }
    const marked: RefundLedger = { refundedMinor: ledger.refundedMinor, reversed: true };
    this.commitReversal(
      message,
      'reversed',
      amountMinor,
      false,
      { entity: refundLedgerEntity(request.originalKey), expectVersion: stored.version, data: JSON.stringify(marked) },
      figures,
    );
  }

  /**
   * A refund (returned goods) against a purchase or completion of this card: never more in total
   * than was spent on it, never after it was reversed. The manager's credential was checked at
   * the region (ShardRegion.money's gate) before the request got here.
   */
  private async handleRefund(message: Extract<CardMessage, { type: 'money' }>): Promise<void> {
    if (this.answeredByIndex(message)) return;
    const { request } = message;
    if (this.state === undefined) {
      message.reply({ ok: false, error: notFound('card not found', { cardId: this.cardId }) });
      return;
    }
    const originalKey = request.originalKey;
    const known = this.context.idempotency.lookup(originalKey);
    if (known?.state === 'pending') {
      known.pending.waiters.push(() => this.retellOrFail(message));
      return;
    }
    const original = known?.state === 'done' ? known.record : await this.readRecord(originalKey);
    if (original === undefined || original.f === tombstone_fingerprint) {
      message.reply({ ok: false, error: notFound('original transaction not found', { originalKey }) });
      return;
    }
    if (original.r.cardId !== this.cardId) {
      message.reply({ ok: false, error: invalidArgument('original transaction belongs to another card', { originalKey }) });
      return;
    }
    if (original.r.kind !== 'purchase' && original.r.kind !== 'completion') {
      message.reply({
        ok: false,
        error: invalidArgument('only purchases and completions can be refunded', { originalKey, kind: original.r.kind }),
      });
      return;
    }
    const stored = await this.context.persistence.loadEntity(this.shard, refundLedgerEntity(originalKey));
    if (!this.loaded) await this.reload();
    if (this.answeredByIndex(message)) return;
    const state = this.state as CardState | undefined;
    if (state === undefined) {
      message.reply({ ok: false, error: notFound('card not found', { cardId: this.cardId }) });
      return;
    }
    const ledger = stored.data === undefined ? empty_refund_ledger : (JSON.parse(stored.data) as RefundLedger);
    const decision: CardDecision =
      original.r.outcome !== 'approved'
        ? { kind: 'declined', reason: 'original_not_refundable', rule: 'declined' }
        : decideRefund(state, request.amountMinor, request.currency, original.r.amountMinor, ledger);
    const writes: EntityWrite[] =
      decision.kind === 'approved'
        ? [
            {
              entity: refundLedgerEntity(originalKey),
              expectVersion: stored.version,
              data: JSON.stringify({ refundedMinor: ledger.refundedMinor + request.amountMinor, reversed: false }),
            },
          ]
        : [];
    this.commitMoney(message, decision, { writes });
  }

  /**
   * Replaces this card by a new one, in one commit entry fenced by both cards' shards: this card
   * becomes `replaced` with nothing on it, the new card is created (it must not exist: expected
   * version 0) with this card's balance, deposit, program, expiry and holder, and the documents
   * transfer_out (this card), card_replaced, card_issued and transfer_in (new card) are appended.
   */
  private async handleReplace(message: Extract<CardMessage, { type: 'replace' }>): Promise<void> {
    const state = this.state;
    if (state === undefined) {
      message.reply({ ok: false, error: notFound('card not found', { cardId: this.cardId }) });
      return;
    }
    if (state.status === 'replaced') {
      // A retry of the same replacement answers it again; another one is refused.
      if (state.profile?.replacedBy === message.replacementId) {
        const stored = await this.context.persistence.loadEntity(message.replacementShard, { kind: 'card', id: message.replacementId });
        if (stored.data !== undefined) {
          message.reply({ ok: true, value: { old: state, replacement: JSON.parse(stored.data) as CardState, alreadyReplaced: true } });
          return;
        }
      }
      message.reply({ ok: false, error: new TaplineError('failed_precondition', 'card was already replaced', { cardId: this.cardId }) });
      return;
    }
    this.releaseExpiredHolds('');
    const nowMs = this.context.clock();
    const decision = decideReplace(this.state as CardState, message.replacementId, nowMs);
    if (decision.kind === 'rejected') {
      message.reply({ ok: false, error: new TaplineError(decision.code, decision.message, { cardId: this.cardId }) });
      return;
    }
    if (decision.kind !== 'approved') throw new Error('assertion: a replacement is approved or rejected');
    const versionBefore = this.version;
    const existing = await this.context.persistence.loadEntity(message.replacementShard, { kind: 'card', id: message.replacementId });
    const holder =
      state.profile?.named === true
        ? await this.context.persistence.loadEntity(this.shard, { kind: 'holder', id: this.cardId })
        : undefined;
    if (!this.loaded || this.version !== versionBefore) {
      // The card changed while we read: decide again on the new state.
      this.retellOrFail(message);
      return;
    }
    if (existing.data !== undefined) {
      message.reply({
        ok: false,
        error: new TaplineError('already_exists', 'the replacement card already exists', { cardId: message.replacementId }),
      });
      return;
    }
    const before = this.state as CardState;
    const after = apply(before, decision.event);
    const replacement = replacementState(before, message.replacementId, nowMs);
    const documents = this.replacementDocuments(before, replacement, message, nowMs);
    const writes: EntityWrite[] = [
      { entity: this.entity, expectVersion: this.version, data: JSON.stringify(after) },
      {
        entity: { kind: 'card', id: message.replacementId },
        expectVersion: 0,
        data: JSON.stringify(replacement),
        shard: message.replacementShard,
      },
    ];
    if (holder?.data !== undefined)
      writes.push({
        entity: { kind: 'holder', id: message.replacementId },
        expectVersion: 0,
        data: holder.data,
        shard: message.replacementShard,
      });
    const entry: CommitEntry = {
      shard: this.shard,
      writes,
      // The new card's shard may belong to another node: its writes only create (version 0).
      fenceOwnShardOnly: true,
      outbox: documents.transferOut,
      extraOutbox: [
        { shard: this.shard, document: documents.replaced },
        { shard: message.replacementShard, document: documents.issued },
        { shard: message.replacementShard, document: documents.transferIn },
      ],
      settle: (outcome) => {
        this.uncommitted -= 1;
        if (outcome.status === 'committed') {
          this.durable = after;
          this.context.invalidate?.(message.replacementId);
          message.reply({ ok: true, value: { old: after, replacement, alreadyReplaced: false } });
          return;
        }
        this.loaded = false;
        if (outcome.status === 'conflict') this.retellOrFail(message);
        else message.reply({ ok: false, error: settledFailure(outcome) });
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

  private replacementDocuments(
    old: CardState,
    replacement: CardState,
    message: Extract<CardMessage, { type: 'replace' }>,
    atMs: number,
  ): Record<'transferOut' | 'replaced' | 'issued' | 'transferIn', string> {
    const depositMinor = old.profile?.depositMinor ?? 0;
    const transfer = (kind: 'transfer_out' | 'transfer_in', card: CardState, sign: number): string => {
      const request: MoneyRequest = {
        kind,
        key: '',
        fingerprint: '',
        cardId: card.cardId,
        terminalId: '',
        amountMinor: old.balanceMinor,
        currency: old.currency,
        source: '',
        operatorId: message.operatorId,
        originalKey: sign < 0 ? replacement.cardId : old.cardId,
      };
      const result: TxnResult = {
        id: this.context.nextTransactionId(),
        kind,
        outcome: 'approved',
        cardId: card.cardId,
        amountMinor: old.balanceMinor,
        currency: old.currency,
        balanceAfterMinor: sign < 0 ? 0 : replacement.balanceMinor,
        atMs,
      };
      return encodeRecord(
        storedTransaction(request, { merchantId: '', programId: old.programId }, result, '', {
          balance_delta: sign * old.balanceMinor,
          deposit_delta: sign * depositMinor,
        }),
      );
    };
    const profile = replacement.profile;
    return {
      transferOut: transfer('transfer_out', old, -1),
      transferIn: transfer('transfer_in', replacement, 1),
      replaced: JSON.stringify({
        type: 'card_replaced',
        card: old.cardId,
        replacement: replacement.cardId,
        program: old.programId,
        amount: old.balanceMinor,
        deposit: depositMinor,
        operator: message.operatorId,
        reason: message.reason,
        at: atMs,
      }),
      // The new card is issued empty; its money arrives by transfer_in (per-card reconciliation).
      issued: JSON.stringify({
        type: 'card_issued',
        card: replacement.cardId,
        program: replacement.programId,
        currency: replacement.currency,
        status: 'active',
        amount: 0,
        deposit: 0,
        named: profile?.named ?? false,
        expires_at: profile?.expiresAtMs ?? 0,
        issuance: '',
        operator: message.operatorId,
        reason: `replaces ${old.cardId}`,
        at: atMs,
      }),
    };
  }

  /** Reversal of a pre-authorization whose hold is open: the hold is released. */
  private commitHoldReversal(message: Extract<CardMessage, { type: 'money' }>): void {
    const { request } = message;
    const decision = decideRelease(this.state as CardState, request.originalKey);
    const id = this.context.nextTransactionId();
    const amountMinor = decision.kind === 'approved' ? movedMinor(decision.event, 0) : 0;
    this.commitMoney(message, decision, {
      id,
      claims: [{ kind: 'reversal', key: request.originalKey, value: id }],
      reverse: 'reversed',
      amountMinor,
    });
  }

  private async readRecord(key: string): Promise<IdempotencyRecord | undefined> {
    const value = await this.context.persistence.loadIdempotencyRecord(key);
    return value === undefined ? undefined : decodeRecord(value);
  }

  private commitReversal(
    message: Extract<CardMessage, { type: 'money' }>,
    outcome: ReverseOutcome,
    amountMinor: number,
    tombstone: boolean,
    ledgerWrite?: EntityWrite,
    figures?: ProgramFigures,
  ): void {
    const state = this.state as CardState;
    const { request } = message;
    const decision: CardDecision = outcome === 'reversed' ? decide(state, { type: 'reverse', amountMinor }) : { kind: 'unchanged' };
    const claims: Claim[] = [];
    const id = this.context.nextTransactionId();
    // Only a reversal that moves money claims the original; a declined one leaves it reversible.
    const reversing = outcome === 'reversed' && decision.kind === 'approved';
    if (reversing) claims.push({ kind: 'reversal', key: request.originalKey, value: id });
    if (tombstone) {
      // The original never reached us: make sure it is declined if it arrives after this.
      const tombstoneResult: TxnResult = {
        id: `${id}.t`,
        kind: 'purchase',
        outcome: 'declined',
        reason: 'reversed_before_authorization',
        rule: 'reversal',
        cardId: this.cardId,
        amountMinor: 0,
        currency: state.currency,
        balanceAfterMinor: availableMinor(state),
        atMs: this.context.clock(),
      };
      const tombstoneRequest: MoneyRequest = { ...request, kind: 'purchase', key: request.originalKey, amountMinor: 0, originalKey: '' };
      const tombstone = storedTransaction(
        tombstoneRequest,
        { merchantId: message.merchantId, programId: state.programId },
        tombstoneResult,
        tombstone_fingerprint,
      );
      claims.push({ kind: 'idempotency', key: request.originalKey, value: encodeRecord(tombstone) });
    }
    const writes = reversing && ledgerWrite !== undefined ? [ledgerWrite] : [];
    // Reversing a purchase decided under program rules takes back its points (earned
    // points out, redeemed points back; never below zero), as the fleet reversal does.
    const base = reversing && figures !== undefined ? reversePoints(state, figures) : undefined;
    this.commitMoney(message, decision, {
      id,
      claims,
      ...(decision.kind === 'declined' ? {} : { reverse: outcome }),
      amountMinor,
      writes,
      ...(base === undefined ? {} : { base }),
    });
  }

  private commitMoney(
    message: Extract<CardMessage, { type: 'money' }>,
    decision: CardDecision,
    extra: {
      id?: string;
      claims?: CommitEntry['claims'];
      reverse?: ReverseOutcome;
      amountMinor?: number;
      writes?: readonly EntityWrite[];
      /** The state the decision applies to when it differs from the current one (PIN attempt count). */
      base?: CardState;
      /** Loyalty and risk figures of a purchase under program rules. */
      program?: ProgramFigures;
      extraOutbox?: CommitEntry['extraOutbox'];
    },
  ): void {
    const { request } = message;
    if (decision.kind === 'rejected') {
      message.reply({ ok: false, error: new TaplineError(decision.code, decision.message, { cardId: this.cardId }) });
      return;
    }
    const before = this.state as CardState;
    const start = extra.base ?? before;
    const after = decision.kind === 'approved' ? apply(start, decision.event) : start;
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
      // Receipt data of cards issued through CardService.
      spentMinor:
        after.profile !== undefined && (request.kind === 'purchase' || request.kind === 'completion') ? (after.spentMinor ?? 0) : undefined,
    };
    // Documents of the v1 kinds keep their v1 shape (deltas derived by the reader); the others
    // say their deltas (docs/OUTBOX.md).
    const holdKey = request.originalKey === '' ? request.key : request.originalKey;
    const event = decision.kind === 'approved' ? decision.event : undefined;
    const hold =
      hold_kinds.has(request.kind) || (event !== undefined && event.type === 'hold_released')
        ? holdFields(event, holdKey, after)
        : undefined;
    const fullResult: TxnResult =
      hold !== undefined
        ? { ...result, holdMinor: hold.hold_amount, holdExpiresAtMs: hold.hold_expires_at, ledgerAfterMinor: hold.ledger_after }
        : request.kind === 'tab_settlement'
          ? { ...result, ledgerAfterMinor: after.balanceMinor }
          : extra.program !== undefined
            ? { ...result, program: extra.program }
            : result;
    const extras =
      extra.program !== undefined
        ? programFields(extra.program, result.amountMinor)
        : request.kind === 'refund'
          ? { balance_delta: result.amountMinor }
          : request.kind === 'tab_settlement'
            ? { balance_delta: result.amountMinor, account_balance_after: after.balanceMinor }
            : request.kind === 'cash_out'
              ? cashOutFields(event)
              : hold;
    const record: IdempotencyRecord = { f: request.fingerprint, r: fullResult };
    // One document is both the idempotency record and the outbox entry.
    const stored = encodeRecord(
      storedTransaction(request, { merchantId: message.merchantId, programId: before.programId }, fullResult, request.fingerprint, extras),
    );
    const changed = after !== before;
    const entry: CommitEntry = {
      shard: this.shard,
      writes:
        extra.writes === undefined || extra.writes.length === 0
          ? [{ entity: this.entity, expectVersion: this.version, data: changed ? JSON.stringify(after) : undefined }]
          : [{ entity: this.entity, expectVersion: this.version, data: changed ? JSON.stringify(after) : undefined }, ...extra.writes],
      idempotency: { key: request.key, value: stored },
      ...(extra.claims && extra.claims.length > 0 ? { claims: extra.claims } : {}),
      outbox: stored,
      settle: (outcome) => this.settleMoney(message, record, changed ? after : undefined, outcome),
    };
    // Only a PIN lockout adds documents; a plain purchase builds no extra object.
    if (extra.extraOutbox !== undefined) (entry as { extraOutbox?: CommitEntry['extraOutbox'] }).extraOutbox = extra.extraOutbox;
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

  private settleMoney(
    message: Extract<CardMessage, { type: 'money' }>,
    record: IdempotencyRecord,
    written: CardState | undefined,
    outcome: CommitResult,
  ): void {
    const { request } = message;
    this.uncommitted -= 1;
    if (request.kind === 'reverse') this.reversalsInFlight?.delete(request.originalKey);
    switch (outcome.status) {
      case 'committed':
        if (written) this.durable = written;
        this.context.idempotency.complete(request.key, record);
        this.context.onDecision?.(record.r);
        message.reply({ ok: true, value: { result: record.r, replayed: false } });
        // One property read for cards without a mandate.
        if (written?.profile?.autoReload !== undefined) this.checkAutoReload(written, record.r.id);
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

  private checkAutoReload(state: CardState, triggerId: string): void {
    const autoReload = state.profile?.autoReload;
    if (autoReload === undefined || state.status !== 'active') return;
    if (availableMinor(state) < autoReload.thresholdMinor) this.context.onLowBalance?.(state, triggerId);
  }

  private handleAdmin(
    message: Extract<
      CardMessage,
      { type: 'issue' | 'set_status' | 'transition' | 'auto_reload' | 'set_pin' | 'tab_limit' | 'resolve_review' }
    >,
    command: CardCommand,
  ): void {
    const before = this.state;
    const decision =
      message.type === 'transition'
        ? decideTransition(before, message.transition)
        : message.type === 'set_pin'
          ? decideSetPin(before, message.newHash, message.oldHash, message.reset).decision
          : message.type === 'resolve_review'
            ? decideResolveReview(before, message.transactionId)
            : decide(before, command);
    if (decision.kind === 'rejected') {
      message.reply({ ok: false, error: new TaplineError(decision.code, decision.message, { cardId: this.cardId }) });
      return;
    }
    if (decision.kind !== 'approved') {
      this.replyAdmin(message, before as CardState, before, true);
      return;
    }
    const after = apply(before, decision.event);
    const audit = adminAudit(message, before, after, this.context.clock());
    const writes: CommitEntry['writes'] =
      message.type === 'issue' && message.holder !== undefined
        ? // A named card's holder goes to its own key in the same atomic entry: personal data is
          // neither rewritten with every purchase nor part of any document.
          [
            { entity: this.entity, expectVersion: this.version, data: JSON.stringify(after) },
            { entity: { kind: 'holder', id: this.cardId }, expectVersion: 0, data: message.holder },
          ]
        : [{ entity: this.entity, expectVersion: this.version, data: JSON.stringify(after) }];
    const entry: CommitEntry = {
      shard: this.shard,
      writes,
      outbox: JSON.stringify(audit),
      settle: (outcome) => {
        this.uncommitted -= 1;
        if (outcome.status === 'committed') {
          this.durable = after;
          this.replyAdmin(message, after, before, false);
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

  private replyAdmin(
    message: Extract<
      CardMessage,
      { type: 'issue' | 'set_status' | 'transition' | 'auto_reload' | 'set_pin' | 'tab_limit' | 'resolve_review' }
    >,
    state: CardState,
    before: CardState | undefined,
    unchanged: boolean,
  ): void {
    if (message.type === 'issue') message.reply({ ok: true, value: { state, alreadyExisted: unchanged } });
    else if (message.type === 'transition') message.reply({ ok: true, value: { state, previous: before?.status ?? state.status } });
    else message.reply({ ok: true, value: state });
  }

  private retellOrFail(message: CardMessage): void {
    if (message.type === 'invalidate') return;
    if (message.type === 'balance') {
      if (!this.context.retell(this.cardId, message)) message.reply({ ok: false, error: resourceExhausted('card mailbox full') });
      return;
    }
    if (message.attempt + 1 >= this.context.conflict_attempts_max) {
      message.reply({ ok: false, error: unavailable('card state kept changing under this request; retry', { cardId: this.cardId }) });
      return;
    }
    const again = { ...message, attempt: message.attempt + 1 } as CardMessage;
    if (!this.context.retell(this.cardId, again))
      message.reply({ ok: false, error: resourceExhausted('card mailbox full', { cardId: this.cardId }) });
  }
}

/** An open review entry resolved; NOT_FOUND when the card has no such open entry. */
function decideResolveReview(state: CardState | undefined, transactionId: string): CardDecision {
  if (state === undefined) return { kind: 'rejected', code: 'not_found', message: 'card not found' };
  const rules = resolveCardReview(state, transactionId);
  if (rules === undefined) return { kind: 'rejected', code: 'not_found', message: 'no open review of this transaction on this card' };
  return { kind: 'approved', event: { type: 'rules_changed', rules } };
}

function refundLedgerEntity(originalKey: string): EntityId {
  return { kind: 'refunded', id: originalKey };
}

/** The deltas and payout of a return (docs/OUTBOX.md `cash_out`). */
function cashOutFields(event: CardEvent | undefined): DocumentExtras {
  if (event?.type !== 'cashed_out') return { balance_delta: 0, deposit_delta: 0, payout: 0 };
  return { balance_delta: -event.balanceMinor, deposit_delta: -event.depositMinor, payout: event.balanceMinor + event.depositMinor };
}

/** The document fields of a purchase under program rules (docs/OUTBOX.md). */
function programFields(figures: ProgramFigures, debitedMinor: number): DocumentExtras {
  return {
    balance_delta: -debitedMinor,
    discount: figures.discountMinor,
    points_earned: figures.pointsEarned,
    points_redeemed: figures.pointsRedeemed,
    flags: figures.flags,
  };
}

/** Kinds whose documents carry the hold fields. */
const hold_kinds: ReadonlySet<string> = new Set(['pre_authorization', 'incremental', 'completion', 'void', 'hold_expiry']);

/** Kinds whose approval a reversal can undo. */
const reversible_kinds: ReadonlySet<string> = new Set(['purchase', 'pre_authorization', 'completion']);

/** The amount a hold event moved (what the reply shows as approved / released). */
function movedMinor(event: CardEvent, requestedMinor: number): number {
  switch (event.type) {
    case 'hold_placed':
    case 'hold_increased':
      return event.amountMinor;
    case 'hold_completed':
      return event.debitedMinor;
    case 'hold_released':
      return event.amountMinor;
    case 'cashed_out':
      return event.balanceMinor + event.depositMinor;
    default:
      return requestedMinor;
  }
}

/** The optional document fields of a transaction about a hold. */
function holdFields(event: CardEvent | undefined, holdKey: string, after: CardState): HoldFields {
  const open = after.holds?.[holdKey];
  return {
    balance_delta: event === undefined ? 0 : balanceDeltaMinor(event),
    held_delta: event === undefined ? 0 : heldDeltaMinor(event),
    hold: holdKey,
    hold_amount: open?.amountMinor ?? (event === undefined ? 0 : -heldDeltaMinor(event)),
    hold_expires_at: open?.expiresAtMs ?? 0,
    ledger_after: after.balanceMinor,
  };
}

/** The lifecycle / audit document of an admin change (docs/OUTBOX.md). */
function adminAudit(
  message: Extract<
    CardMessage,
    { type: 'issue' | 'set_status' | 'transition' | 'auto_reload' | 'set_pin' | 'tab_limit' | 'resolve_review' }
  >,
  before: CardState | undefined,
  after: CardState,
  atMs: number,
): Record<string, unknown> {
  if (message.type === 'resolve_review') {
    return {
      type: 'operator_action',
      action: 'review_resolved',
      subject: message.transactionId,
      detail: JSON.stringify({ card: after.cardId, program: after.programId, note: message.note }),
      operator: message.operatorId,
      reason: '',
      at: atMs,
    };
  }
  if (message.type === 'tab_limit') {
    return {
      type: 'operator_action',
      action: 'tab_limit_set',
      subject: after.cardId,
      detail: JSON.stringify({ limit: message.limitMinor }),
      operator: message.operatorId,
      reason: '',
      at: atMs,
    };
  }
  if (message.type === 'set_pin') {
    const event =
      before?.profile === undefined || before.profile.pinHash === ''
        ? 'set'
        : message.reset && before.profile.pinFailures > 0
          ? 'unlocked'
          : 'changed';
    return {
      type: 'card_pin_changed',
      card: after.cardId,
      program: after.programId,
      event,
      operator: message.operatorId,
      reason: message.reset ? 'reset' : '',
      at: atMs,
    };
  }
  if (message.type === 'auto_reload') {
    // The mandate reference stays out of the document; threshold and amount are the audit.
    const detail =
      message.autoReload === undefined ? {} : { threshold: message.autoReload.thresholdMinor, amount: message.autoReload.amountMinor };
    return {
      type: 'operator_action',
      action: message.autoReload === undefined ? 'auto_reload_removed' : 'auto_reload_set',
      subject: after.cardId,
      detail: JSON.stringify(detail),
      operator: message.operatorId,
      reason: '',
      at: atMs,
    };
  }
  if (message.type === 'issue') {
    const profile = after.profile;
    return {
      type: 'card_issued',
      card: after.cardId,
      program: after.programId,
      currency: after.currency,
      status: after.status,
      amount: after.balanceMinor,
      operator: message.operatorId,
      reason: '',
      at: atMs,
      ...(profile === undefined
        ? {}
        : { deposit: profile.depositMinor, named: profile.named, expires_at: profile.expiresAtMs, issuance: profile.issuance }),
    };
  }
  const base = {
    type: 'card_status_changed',
    card: after.cardId,
    program: after.programId,
    currency: after.currency,
    status: after.status,
    amount: 0,
    reason: message.reason,
    at: atMs,
  };
  if (message.type === 'set_status') return { ...base, operator: message.operatorId, previous: before?.status ?? '' };
  return {
    ...base,
    operator: message.transition.operatorId,
    previous: before?.status ?? '',
    action: message.transition.action,
    approver: message.transition.approverId,
  };
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
