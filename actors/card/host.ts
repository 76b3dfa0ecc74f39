// The card's side of the entity host: the one card record an actor holds in memory (the actor is
// its own slot: fields live in one object, and memory per active card counts), how it is read
// back from Redis, and how the card's decisions become commits (its codec, the audit record of an
// operator's change, the auto-reload after a payment, the reversals in flight). The card actor
// (actor.ts) extends it and only sequences: load facts, decide, hand the plan over here.

import { notFound, type Outcome, type TaplineError } from '../errors';
import type { Acting } from '../principal';
import {
  EntityHost,
  loadSlot,
  stampOf,
  type CommitPlan,
  type MoneyMessage,
  type Reply,
  type Retriable,
  type Slot,
  type SlotWrite,
} from '../runtime/entity-host';
import type { EntityId } from '../runtime/persistence';
import { decodeCardState, encodeCardState } from '../state/card';
import { belowAutoReloadThreshold, decideHoldExpiries, type CardEnv, type MoneyDecision } from './decide';
import { cardEnv } from './facts';
import type { CardActorContext, CardMessage } from './messages';
import type { CardState } from './rules';
import { decodeRecord } from './transaction';

export type Money = Extract<CardMessage, { type: 'money' }>;
/** A message that is answered and may be decided again after a conflict. */
type Answered = Exclude<CardMessage, { type: 'balance' | 'invalidate' }>;
/** An operator's change of the card: answered once durable, audited with who acted. */
type Change<A> = Exclude<Answered, Money> & { readonly reply: Reply<A>; readonly acting?: Acting } & Retriable;

export abstract class CardHost extends EntityHost<CardMessage, CardActorContext> implements Slot<CardState> {
  state: CardState | undefined = undefined;
  version = 0;
  durable: CardState | undefined = undefined;
  /** Originals with a reversal decided but not yet committed by this actor. */
  protected reversalsInFlight: Set<string> | undefined;

  constructor(
    readonly cardId: string,
    shard: number,
    context: CardActorContext,
  ) {
    super(shard, context);
  }

  /** The card's context: the entity host's own (one field per active card, not two). */
  protected get context(): CardActorContext {
    return this.host;
  }

  /** Made when a read or commit needs it: an idle card keeps no object for it. */
  private get entity(): EntityId {
    return { kind: 'card', id: this.cardId };
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
  protected get needsReload(): boolean {
    return !this.loaded || (this.state === undefined && this.idleCommits);
  }

  protected async reload(): Promise<void> {
    loadSlot(this, await this.loadRecord(this.entity), decodeCardState);
    // An unissued card has no program to load.
    if (this.state !== undefined && this.state.status !== 'unissued') await this.context.programs.ensure(this.state.programId);
    this.loaded = true;
  }

  /**
   * After reading facts: reloads if a commit failed meanwhile, and answers from the index if
   * another request with the same key started while we awaited. True when the request goes on.
   */
  protected async readyAfterAwait(message: Money): Promise<boolean> {
    if (!this.loaded) await this.reload();
    if (this.answerFromIndex(message)) return false;
    if (this.state !== undefined && this.state.status !== 'unissued') return true;
    this.notFound(message.reply);
    return false;
  }

  protected env(): CardEnv {
    return cardEnv(this.context, this.state as CardState, this.shard);
  }

  protected override retryMessage(message: MoneyMessage, ownConflict: boolean): void {
    this.retry(message as Money, ownConflict);
  }

  protected override moneyMessageOf(message: CardMessage): MoneyMessage | undefined {
    return message.type === 'money' ? message : undefined;
  }

  /** Releases holds past their expiry, one commit each, before the command that found them. */
  protected releaseExpiredHolds(merchantId: string): void {
    const state = this.state as CardState;
    if (state.holds === undefined) return;
    for (const plan of decideHoldExpiries(state, merchantId, this.env())) {
      const listing = plan.listing === undefined ? {} : { denylist: plan.denylist, extraOutbox: [plan.listing] };
      const submitted = this.commit({ slots: [this.write(plan.after)], outbox: plan.document, ...listing }, () => undefined);
      if (!submitted) return;
    }
  }

  /** Commits a money decision (or answers its refusal); a payment that leaves the balance low triggers the auto-reload once durable. */
  protected commitDecision(message: Money, decision: MoneyDecision): void {
    if (decision.kind === 'rejected') return message.reply({ ok: false, error: decision.error });
    const changed = decision.after !== this.state;
    const slots = [this.write(changed ? decision.after : undefined)];
    // A first payment's top-up that just stored the mandate does not charge it at once.
    const reload = changed && message.request.autoReload === undefined && belowAutoReloadThreshold(decision.after);
    const afterCommit = reload ? () => this.context.onLowBalance?.(decision.after, decision.record.r.id) : undefined;
    this.reversalsInFlight ??= new Set();
    const audit = stampOf(message.request.acting, this.context.clock);
    this.commitMoneyDecision(slots, decision, message, decodeRecord, this.reversalsInFlight, afterCommit, audit);
  }

  /**
   * Commits an operator's change (the card's new state and what else the decision writes, with
   * the audit record of who acted), then answers `outcome` once it is durable.
   */
  protected commitChange<A>(
    message: Change<A>,
    after: CardState,
    plan: Omit<CommitPlan, 'slots' | 'audit'>,
    outcome: Outcome<A>,
    settled?: (committed: boolean) => void,
  ): void {
    const full = { ...plan, slots: [this.write(after)], audit: stampOf(message.acting, this.context.clock) };
    this.commitThenReply(full, message.reply, outcome, (ownConflict) => this.retry(message, ownConflict), settled);
  }

  /** This card's record in a commit: its new state (encoded by its codec), or a version check only. */
  private write(after: CardState | undefined): SlotWrite {
    return after === undefined
      ? { slot: this, entity: this.entity, after }
      : { slot: this, entity: this.entity, after, encoded: encodeCardState(after) };
  }

  protected retry(message: Answered, ownConflict: boolean): void {
    this.retryOrFail(message, (again) => this.context.retell(this.cardId, again), message.reply, ownConflict);
  }

  protected notFound(reply: Reply<never>): void {
    reply({ ok: false, error: notFound('card not found', { cardId: this.cardId }) });
  }
}
