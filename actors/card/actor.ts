// The card actor: a thin shell over the entity host. It holds one card's state in memory, loads
// what a command needs from Redis (the card itself, and for reversals, refunds and replacements
// the facts about their original or the new card), calls the card's pure decisions (decide.ts)
// in order, and hands each plan to group commit through the host. The reply leaves only when the
// decision is durable (persist before reply). Decisions chain on the in-memory state while
// earlier ones are still committing; each carries the version it was decided on, so if one does
// not land the ones after it are refused by Redis too, the actor reloads and decides them again.

import { alreadyExists, failedPrecondition, notFound, type TaplineError } from '../errors';
import { EntityHost, loadSlot, stampOf, type MoneyMessage, type Reply, type Slot, type SlotWrite } from '../runtime/entity-host';
import type { EntityId } from '../runtime/persistence';
import {
  decideAdmin,
  decideHoldExpiries,
  decideMoney,
  decideOfflineSale,
  decideRefundRequest,
  decideReplacement,
  decideReversal,
  refundLedgerEntity,
  refundNeedsLedger,
  releasesExpiredHolds,
  reversalNeedsLedger,
  belowAutoReloadThreshold,
  isReversalKind,
  spentKeyEntity,
  type CardEnv,
  type MoneyDecision,
} from './decide';
import { default_pin_attempts_max } from '../program/config';
import { decodeCardState, encodeCardState } from '../state/card';
import { decideCancelIssuance } from './issuance-cancel';
import type { CardState } from './rules';
import { decodeRecord, type MoneyRequest } from './transaction';
import type { CardActorContext, CardMessage } from './messages';
import { parseListingHistory, type ListingTransition } from '../offline/denylist';

export type { Reply } from '../runtime/entity-host';
export type { AdminAnswer, ReplaceAnswer } from './decide';
export type { CardActorContext, CardMessage } from './messages';

type Money = Extract<CardMessage, { type: 'money' }>;
type Admin = Extract<CardMessage, { type: 'admin' }>;

/** Money requests decided on facts read from Redis first: their original (reversals, offline voids, refunds) or their key's records. */
function needsFacts(request: MoneyRequest): boolean {
  return isReversalKind(request.kind) || request.kind === 'refund' || request.recordSpent === true;
}

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
    // An offline sale reads the card's listing history, which only a card listed once has.
    if (message.type === 'money')
      return needsFacts(message.request) || (message.request.kind === 'offline_purchase' && this.state?.denylistHistory === true);
    return message.type === 'replace' || message.type === 'cancel_issuance' || this.reissuesNamed(message);
  }

  protected async handleAwaiting(message: CardMessage): Promise<void> {
    if (this.needsReload) await this.reload();
    if (message.type === 'money' && message.request.recordSpent === true) await this.decideOnce(message);
    else if (message.type === 'money' && message.request.kind === 'offline_purchase') await this.decideOfflineSale(message);
    else if (message.type === 'money' && needsFacts(message.request)) await this.decideOnOriginal(message);
    else if (message.type === 'replace') await this.replace(message);
    else if (message.type === 'cancel_issuance') await this.cancelIssuance(message);
    else if (this.reissuesNamed(message)) await this.reissueNamed(message as Admin);
    else this.handle(message);
  }

  private async reload(): Promise<void> {
    loadSlot(this, await this.loadRecord(this.entity), decodeCardState);
    // An unissued card has no program to load.
    if (this.state !== undefined && this.state.status !== 'unissued') await this.context.programs.ensure(this.state.programId);
    this.loaded = true;
  }

  protected handle(message: CardMessage): void {
    switch (message.type) {
      case 'balance':
        if (this.durable === undefined || this.durable.status === 'unissued')
          message.reply({ ok: false, error: notFound('card not found', { cardId: this.cardId }) });
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
      case 'cancel_issuance':
        return;
      case 'money':
        this.decideNow(message);
    }
  }

  /** A money request decided on memory (no facts to read first). */
  private decideNow(message: Money): void {
    if (this.answerFromIndex(message)) return;
    if (this.state === undefined || this.state.status === 'unissued') return this.notFound(message.reply);
    // An offline sale of a card never listed: it was on no denylist a terminal held.
    if (message.request.kind === 'offline_purchase')
      return this.commitDecision(message, decideOfflineSale(this.state, message.request, message.merchantId, [], this.env()));
    if (releasesExpiredHolds(message.request)) this.releaseExpiredHolds(message.merchantId);
    this.commitDecision(message, decideMoney(this.state, message.request, message.merchantId, this.env()));
  }

  /**
   * A request whose key must stay spent (a PSP callback): answered from its stored record when
   * Redis still has one (a node that restarted may not know it), refused when only the spent
   * record is left (the idempotency record expired), else decided; its commit writes the spent
   * record (decide.ts), which must not exist yet.
   */
  private async decideOnce(message: Money): Promise<void> {
    if (this.answerFromIndex(message)) return;
    if (this.state === undefined || this.state.status === 'unissued') return this.notFound(message.reply);
    const { key } = message.request;
    const stored = await this.context.persistence.loadIdempotencyRecord(this.shard, key);
    if (stored !== undefined) return this.answerFromStored(message, stored);
    const spent = await this.loadRecord(spentKeyEntity(this.cardId, key));
    if (!(await this.readyAfterAwait(message))) return;
    if (spent.data !== undefined)
      return message.reply({ ok: false, error: alreadyExists('this key was applied already; its answer is no longer kept', { key }) });
    this.decideNow(message);
  }

  private env(): CardEnv {
    const state = this.state as CardState;
    return {
      nowMs: this.context.clock(),
      nextId: this.context.nextTransactionId,
      program: this.context.programs.get(state.programId),
      shard: this.shard,
      verifyCryptogram: this.context.verifyCryptogram,
    };
  }

  protected override retryMessage(message: MoneyMessage, ownConflict: boolean): void {
    this.retry(message as Money, ownConflict);
  }

  protected override moneyMessageOf(message: CardMessage): MoneyMessage | undefined {
    return message.type === 'money' ? message : undefined;
  }

  /** Releases holds past their expiry, one commit each, before the command that found them. */
  private releaseExpiredHolds(merchantId: string): void {
    const state = this.state as CardState;
    if (state.holds === undefined) return;
    for (const plan of decideHoldExpiries(state, merchantId, this.env())) {
      const listing = plan.listing === undefined ? {} : { denylist: plan.denylist, extraOutbox: [plan.listing] };
      const submitted = this.commit({ slots: [this.write(plan.after)], outbox: plan.document, ...listing }, () => undefined);
      if (!submitted) return;
    }
  }

  /** A reversal or a refund: decided on facts about its original, read before deciding. */
  private async decideOnOriginal(message: Money): Promise<void> {
    if (this.answerFromIndex(message)) return;
    if (this.state === undefined || this.state.status === 'unissued') return this.notFound(message.reply);
    const { request, merchantId } = message;
    const key = request.originalKey;
    const waiters = this.pendingKey(key);
    // The original is still being committed: decide once it has settled.
    if (waiters !== undefined) return this.waitForKey(waiters, message.reply, () => this.retry(message, false));
    const original = this.knownRecord(key) ?? (await this.readStoredRecord(key, decodeRecord));
    const reverse = isReversalKind(request.kind);
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

  /**
   * An offline sale: decided on the card's listing history, read only for a card that was ever
   * listed (a card never listed was on no denylist a terminal held).
   */
  private async decideOfflineSale(message: Money): Promise<void> {
    if (this.answerFromIndex(message)) return;
    if (this.state === undefined || this.state.status === 'unissued') return this.notFound(message.reply);
    let history: ListingTransition[] = [];
    if (this.state.denylistHistory === true) {
      const stored = await this.context.persistence.loadDenylistHistory(this.shard, this.cardId, { afterPendingWrites: !this.idleCommits });
      if (!(await this.readyAfterAwait(message))) return;
      history = parseListingHistory(stored);
    }
    const state = this.state;
    this.commitDecision(message, decideOfflineSale(state, message.request, message.merchantId, history, this.env()));
  }

  private async reversed(originalKey: string): Promise<boolean> {
    if (this.reversalsInFlight?.has(originalKey) === true) return true;
    return (await this.context.persistence.loadReversalClaim(this.shard, originalKey)) !== undefined;
  }

  /**
   * After reading facts: reloads if a commit failed meanwhile, and answers from the index if
   * another request with the same key started while we awaited. True when the request goes on.
   */
  private async readyAfterAwait(message: Money): Promise<boolean> {
    if (!this.loaded) await this.reload();
    if (this.answerFromIndex(message)) return false;
    if (this.state !== undefined && this.state.status !== 'unissued') return true;
    this.notFound(message.reply);
    return false;
  }

  private async replace(message: Extract<CardMessage, { type: 'replace' }>): Promise<void> {
    if (this.state === undefined || this.state.status === 'unissued') return this.notFound(message.reply);
    if (this.state.status !== 'replaced') this.releaseExpiredHolds('');
    const { replacementId, replacementShard } = message.command;
    // One commit writes both cards; on Redis Cluster it may write one shard (one hash slot) only.
    if (replacementShard !== this.shard && !this.context.persistence.crossShardCommits)
      return message.reply({
        ok: false,
        error: failedPrecondition('this deployment (Redis Cluster) cannot replace a card by one on another shard', { replacementId }),
      });
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
      denylist: decision.denylist,
      audit: stampOf(message.acting, this.context.clock),
    };
    this.commitAndAnswer(
      plan,
      message.reply,
      decision.answer,
      (ownConflict) => this.retry(message, ownConflict),
      (committed) => {
        if (committed) this.context.invalidate?.(replacementId);
      },
    );
  }

  /** Cancels the card's issuance: reads a named card's holder record (blanked in the same commit), then decides. */
  private async cancelIssuance(message: Extract<CardMessage, { type: 'cancel_issuance' }>): Promise<void> {
    const named = this.state?.profile?.named === true;
    const holder = named ? await this.loadRecord({ kind: 'holder', id: this.cardId }) : undefined;
    if (!this.loaded) await this.reload();
    if (named !== (this.state?.profile?.named === true)) return this.retry(message, false);
    const decision = decideCancelIssuance(this.state, message.command, { holder }, this.context.clock());
    if (decision.kind === 'rejected') return message.reply({ ok: false, error: decision.error });
    if (decision.kind === 'answer') return message.reply({ ok: true, value: decision.answer });
    const plan = {
      slots: [this.write(decision.after)],
      writes: decision.writes,
      outbox: decision.document,
      audit: stampOf(message.acting, this.context.clock),
    };
    this.commitAndAnswer(plan, message.reply, decision.answer, (ownConflict) => this.retry(message, ownConflict));
  }

  /** An issue of a named card on an unissued card: its holder record exists (blanked), at a version to write over. */
  private reissuesNamed(message: CardMessage): boolean {
    return (
      message.type === 'admin' &&
      message.command.type === 'issue' &&
      message.command.holder !== undefined &&
      this.state?.status === 'unissued'
    );
  }

  private async reissueNamed(message: Admin): Promise<void> {
    const holder = await this.loadRecord({ kind: 'holder', id: this.cardId });
    if (!this.loaded) await this.reload();
    if (message.command.type !== 'issue') return;
    this.admin({ ...message, command: { ...message.command, holderVersion: holder.version } });
  }

  private commitDecision(message: Money, decision: MoneyDecision): void {
    if (decision.kind === 'rejected') return message.reply({ ok: false, error: decision.error });
    const changed = decision.after !== this.state;
    const slots = [this.write(changed ? decision.after : undefined)];
    const reload = changed && belowAutoReloadThreshold(decision.after);
    const afterCommit = reload ? () => this.context.onLowBalance?.(decision.after, decision.record.r.id) : undefined;
    this.reversalsInFlight ??= new Set();
    const audit = stampOf(message.request.acting, this.context.clock);
    this.commitMoneyDecision(slots, decision, message, decodeRecord, this.reversalsInFlight, afterCommit, audit);
  }

  private admin(message: Admin): void {
    // Only a PIN change needs the program (its wrong-attempt limit); an unissued card has none.
    const pinAttemptsMax =
      message.command.type === 'set_pin' && this.state !== undefined && this.state.status !== 'unissued'
        ? this.context.programs.get(this.state.programId).pinAttemptsMax
        : default_pin_attempts_max;
    // A status change may list the card, or take it off the denylist: its program's offline policy
    // (cached since the card was loaded).
    const offline =
      this.state === undefined || this.state.status === 'unissued' ? undefined : this.context.programs.get(this.state.programId).offline;
    const env = { nowMs: this.context.clock(), pinAttemptsMax, offline, shard: this.shard };
    const decision = decideAdmin(this.state, message.command, env);
    if (decision.kind === 'rejected') return message.reply({ ok: false, error: decision.error });
    if (decision.kind === 'unchanged') return message.reply({ ok: true, value: decision.answer });
    const audit = stampOf(message.acting, this.context.clock);
    if (decision.kind === 'refused_after') {
      // A refusal that still changes the card (a wrong PIN attempt counted): written, and audited,
      // before the refusal is answered.
      const counted = {
        slots: [this.write(decision.after)],
        audit,
        ...(decision.document === undefined ? {} : { outbox: decision.document }),
      };
      return this.commitThenReply(counted, message.reply, { ok: false, error: decision.error }, (ownConflict) =>
        this.retry(message, ownConflict),
      );
    }
    const plan = {
      slots: [this.write(decision.after)],
      writes: decision.writes,
      outbox: decision.document,
      denylist: decision.denylist,
      extraOutbox: decision.extraOutbox,
      audit,
    };
    this.commitAndAnswer(plan, message.reply, decision.answer, (ownConflict) => this.retry(message, ownConflict));
  }

  /** This card's record in a commit: its new state (encoded by its codec), or a version check only. */
  private write(after: CardState | undefined): SlotWrite {
    return after === undefined
      ? { slot: this, entity: this.entity, after }
      : { slot: this, entity: this.entity, after, encoded: encodeCardState(after) };
  }

  private retry(message: Exclude<CardMessage, { type: 'balance' | 'invalidate' }>, ownConflict: boolean): void {
    this.retryOrFail(message, (again) => this.context.retell(this.cardId, again), message.reply, ownConflict);
  }

  private notFound(reply: Reply<never>): void {
    reply({ ok: false, error: notFound('card not found', { cardId: this.cardId }) });
  }
}
