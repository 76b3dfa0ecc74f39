// The card actor: a thin shell over the entity host. It holds one card's state in memory, loads
// what a command needs from Redis (the card itself, and for reversals, refunds and replacements
// the facts about their original or the new card), calls the card's pure decisions (decide.ts)
// in order, and hands each plan to group commit through the host. The reply leaves only when the
// decision is durable (persist before reply). Decisions chain on the in-memory state while
// earlier ones are still committing; each carries the version it was decided on, so if one does
// not land the ones after it are refused by Redis too, the actor reloads and decides them again.

import { notFound, type TaplineError } from '../errors';
import { EntityHost, loadSlot, type MoneyMessage, type Reply, type Slot, type SlotWrite } from '../runtime/entity-host';
import type { EntityId } from '../runtime/persistence';
import {
  decideAdmin,
  decideHoldExpiries,
  decideMoney,
  decideRefundRequest,
  decideReplacement,
  decideReversal,
  refundLedgerEntity,
  refundNeedsLedger,
  releasesExpiredHolds,
  reversalNeedsLedger,
  belowAutoReloadThreshold,
  type CardEnv,
  type MoneyDecision,
} from './decide';
import { decodeCardState, encodeCardState } from '../state/card';
import type { CardState } from './rules';
import { decodeRecord } from './transaction';
import type { CardActorContext, CardMessage } from './messages';

export type { Reply } from '../runtime/entity-host';
export type { AdminAnswer, ReplaceAnswer } from './decide';
export type { CardActorContext, CardMessage } from './messages';

type Money = Extract<CardMessage, { type: 'money' }>;

export class CardBehavior extends EntityHost<CardMessage> implements Slot<CardState> {
  state: CardState | undefined = undefined;
  version = 0;
  durable: CardState | undefined = undefined;
  /** Originals with a reversal decided but not yet committed by this actor. */
  private reversalsInFlight: Set<string> | undefined;
  private readonly entity: EntityId;

  constructor(
    readonly cardId: string,
    shard: number,
    private readonly context: CardActorContext,
  ) {
    super(shard, context);
    this.entity = { kind: 'card', id: cardId };
  }

  /**
   * The actor holds no card: none exists (as last read), or it could not be read, and nothing of
   * it is in flight (shard-region.ts stops such an actor at once; the next message reads again).
   */
  get absent(): boolean {
    return this.state === undefined && this.idleCommits;
  }

  protected failMessage(message: CardMessage, error: TaplineError): void {
    if (message.type !== 'invalidate') message.reply({ ok: false, error });
  }

  /**
   * "Not found" is never trusted from memory: in a cluster the card may have been created since by
   * another node's replacement (docs/CLUSTER.md); rereading costs one Redis read per request for
   * an unknown card, never one on the path of an existing card.
   */
  private get needsReload(): boolean {
    return !this.loaded || (this.state === undefined && this.idleCommits);
  }

  protected needsAwait(message: CardMessage): boolean {
    if (this.needsReload) return true;
    if (message.type === 'money') return message.request.kind === 'reverse' || message.request.kind === 'refund';
    return message.type === 'replace';
  }

  protected async handleAwaiting(message: CardMessage): Promise<void> {
    if (this.needsReload) await this.reload();
    if (message.type === 'money' && (message.request.kind === 'reverse' || message.request.kind === 'refund'))
      await this.decideOnOriginal(message);
    else if (message.type === 'replace') await this.replace(message);
    else this.handle(message);
  }

  private async reload(): Promise<void> {
    loadSlot(this, await this.loadRecord(this.entity), decodeCardState);
    if (this.state !== undefined) await this.context.programs.ensure(this.state.programId);
    this.loaded = true;
  }

  protected handle(message: CardMessage): void {
    switch (message.type) {
      case 'balance':
        if (this.durable === undefined) message.reply({ ok: false, error: notFound('card not found', { cardId: this.cardId }) });
        else message.reply({ ok: true, value: this.durable });
        return;
      case 'admin':
        this.admin(message);
        return;
      case 'invalidate':
        // Only a card with nothing in flight can have been written by someone else (it did not exist).
        if (this.idleCommits) this.loaded = false;
        return;
      case 'replace':
        return;
      case 'money':
        if (this.answerFromIndex(message)) return;
        if (this.state === undefined) return this.notFound(message.reply);
        if (releasesExpiredHolds(message.request)) this.releaseExpiredHolds(message.merchantId);
        this.commitDecision(message, decideMoney(this.state, message.request, message.merchantId, this.env()));
    }
  }

  private env(): CardEnv {
    const state = this.state as CardState;
    return {
      nowMs: this.context.clock(),
      nextId: this.context.nextTransactionId,
      program: this.context.programs.get(state.programId),
      shard: this.shard,
    };
  }

  protected override retryMessage(message: MoneyMessage): void {
    this.retry(message as Money);
  }

  /** Releases holds past their expiry, one commit each, before the command that found them. */
  private releaseExpiredHolds(merchantId: string): void {
    const state = this.state as CardState;
    if (state.holds === undefined) return;
    for (const plan of decideHoldExpiries(state, merchantId, this.env())) {
      const submitted = this.commit({ slots: [this.write(plan.after)], outbox: plan.document }, () => undefined);
      if (!submitted) return;
    }
  }

  /** A reversal or a refund: decided on facts about its original, read before deciding. */
  private async decideOnOriginal(message: Money): Promise<void> {
    if (this.answerFromIndex(message)) return;
    if (this.state === undefined) return this.notFound(message.reply);
    const { request, merchantId } = message;
    const key = request.originalKey;
    const waiters = this.pendingKey(key);
    // The original is still being committed: decide once it has settled.
    if (waiters !== undefined) return this.waitForKey(waiters, message.reply, () => this.retry(message));
    const original = this.knownRecord(key) ?? (await this.readStoredRecord(key, decodeRecord));
    const reverse = request.kind === 'reverse';
    const withLedger = reverse ? reversalNeedsLedger(original) : refundNeedsLedger(original);
    const alreadyReversed = reverse && (withLedger || original?.r.kind === 'pre_authorization') && (await this.reversed(key));
    const ledger = withLedger ? await this.loadRecord(refundLedgerEntity(key)) : undefined;
    if (!(await this.readyAfterAwait(message))) return;
    const state = this.state;
    const env = this.env();
    this.commitDecision(
      message,
      reverse
        ? decideReversal(state, request, merchantId, { original, alreadyReversed, ledger }, env)
        : decideRefundRequest(state, request, merchantId, { original, ledger }, env),
    );
  }

  private async reversed(originalKey: string): Promise<boolean> {
    if (this.reversalsInFlight?.has(originalKey) === true) return true;
    return (await this.context.persistence.loadReversalClaim(originalKey)) !== undefined;
  }

  /**
   * After reading facts: reloads if a commit failed meanwhile, and answers from the index if
   * another request with the same key started while we awaited. True when the request goes on.
   */
  private async readyAfterAwait(message: Money): Promise<boolean> {
    if (!this.loaded) await this.reload();
    if (this.answerFromIndex(message)) return false;
    if (this.state !== undefined) return true;
    this.notFound(message.reply);
    return false;
  }

  private async replace(message: Extract<CardMessage, { type: 'replace' }>): Promise<void> {
    if (this.state === undefined) return this.notFound(message.reply);
    if (this.state.status !== 'replaced') this.releaseExpiredHolds('');
    const { replacementId, replacementShard } = message.command;
    const existing = await this.loadRecord({ kind: 'card', id: replacementId }, replacementShard);
    const holder = this.state.profile?.named === true ? await this.loadRecord({ kind: 'holder', id: this.cardId }) : undefined;
    if (!this.loaded) await this.reload();
    if (this.state === undefined) return this.notFound(message.reply);
    const decision = decideReplacement(this.state, message.command, { existing, holder }, this.env(), decodeCardState);
    if (decision.kind === 'rejected') return message.reply({ ok: false, error: decision.error });
    if (decision.kind === 'answer') return message.reply({ ok: true, value: decision.answer });
    const plan = {
      slots: [this.write(decision.after)],
      writes: decision.writes,
      outbox: decision.outbox,
      extraOutbox: decision.extraOutbox,
      // The new card's shard may belong to another node: its writes only create (version 0).
      fenceOwnShardOnly: true,
    };
    this.commitAndAnswer(
      plan,
      message.reply,
      decision.answer,
      () => this.retry(message),
      (committed) => {
        if (committed) this.context.invalidate?.(replacementId);
      },
    );
  }

  private commitDecision(message: Money, decision: MoneyDecision): void {
    if (decision.kind === 'rejected') return message.reply({ ok: false, error: decision.error });
    const changed = decision.after !== this.state;
    const slots = [this.write(changed ? decision.after : undefined)];
    const reload = changed && belowAutoReloadThreshold(decision.after);
    const afterCommit = reload ? () => this.context.onLowBalance?.(decision.after, decision.record.r.id) : undefined;
    this.reversalsInFlight ??= new Set();
    this.commitMoneyDecision(slots, decision, message, decodeRecord, this.reversalsInFlight, afterCommit);
  }

  private admin(message: Extract<CardMessage, { type: 'admin' }>): void {
    const decision = decideAdmin(this.state, message.command, { nowMs: this.context.clock() });
    if (decision.kind === 'rejected') return message.reply({ ok: false, error: decision.error });
    if (decision.kind === 'unchanged') return message.reply({ ok: true, value: decision.answer });
    const plan = { slots: [this.write(decision.after)], writes: decision.writes, outbox: decision.document };
    this.commitAndAnswer(plan, message.reply, decision.answer, () => this.retry(message));
  }

  /** This card's record in a commit: its new state (encoded by its codec), or a version check only. */
  private write(after: CardState | undefined): SlotWrite {
    return after === undefined
      ? { slot: this, entity: this.entity, after }
      : { slot: this, entity: this.entity, after, encoded: encodeCardState(after) };
  }

  private retry(message: Exclude<CardMessage, { type: 'balance' | 'invalidate' }>): void {
    this.retryOrFail(message, (again) => this.context.retell(this.cardId, again), message.reply);
  }

  private notFound(reply: Reply<never>): void {
    reply({ ok: false, error: notFound('card not found', { cardId: this.cardId }) });
  }
}
