// The shard region: "who runs card X" on this node. It places every entity on its shard (the
// shard key module, shard-key.ts), activates the entity's actor on first use (the actor loads itself from Redis), and passivates
// actors that have been idle, so memory stays bounded however many cards exist; the actor of an
// entity that does not exist goes as soon as it has answered, so unknown ids cost nothing kept.

import type { Acting } from '../principal';
import {
  TaplineError,
  asTaplineError,
  notFound,
  rejected,
  resourceExhausted,
  shardMoved,
  unavailable,
  type RejectedError,
} from '../errors';
import { decodeCardState } from '../state/card';
import type { ActorLimits, ActorRuntime, EntityActor, EntityBehavior, IdleListener } from '../runtime/actor-runtime';
import { CardBehavior, type CardActorContext, type CardMessage, type Reply } from '../card/actor';
import type { AdminAnswer, CardAdminCommand, ReplaceAnswer } from '../card/decide';
import type { AutoReload, CardCommand, CardState, CardStatus } from '../card/rules';
import type { SettableStatus, TransitionRequest } from '../card/lifecycle';
import type { CancelIssuanceAnswer, CancelIssuanceCommand } from '../card/issuance-cancel';
import { answerFromRecord, decodeRecord, type IdempotencyRecord, type MoneyRequest, type TxnAnswer } from '../card/transaction';
import { TerminalBehavior, type TerminalActorContext, type TerminalAnswer, type TerminalMessage } from '../terminal/actor';
import { checkCanTransact, type TerminalCheck, type TerminalCommand, type TerminalState } from '../terminal/rules';
import type { OfflineAnswer, OfflineCommand } from '../terminal/offline-messages';
import { FleetBehavior, type FleetActorContext, type FleetMessage } from '../fleet/actor';
import { decodeFleetRecord, isFleetMoneyRequest } from '../fleet/transaction';
import type { PriceListSource } from '../fleet/price-lists';
import { shardOf, type PlacedKind } from './shard-key';
import type { ShardOwnership } from './shard-ownership';
import type { HostContext } from '../runtime/entity-host';
import type { TerminalCache } from './terminal-cache';

/** What the region needs from a behaviour besides receiving messages. */
export interface PassivatableBehavior<C> extends EntityBehavior<C> {
  /** The entity's shard (placed once, at activation). */
  readonly shard: number;
  /** True when nothing of the entity awaits a commit. */
  readonly quiescent: boolean;
  /** Called when the region stops the entity's actor. */
  passivated?(): void;
  /**
   * True when the entity does not exist (as last read from Redis) and nothing of it is in flight:
   * its actor holds nothing worth keeping and is stopped as soon as it is idle, instead of after
   * the passivation time. A lookup of an unknown id then leaves nothing behind.
   */
  readonly absent?: boolean;
}

export interface EntityType<C> {
  readonly kind: PlacedKind;
  /** Behaviours reach their own entity again through a retell(id, message) shared by the pool (no closure per entity). */
  create(id: string, shard: number): PassivatableBehavior<C>;
}

export interface RegionLimits extends ActorLimits {
  /** Entity actors kept in memory before new activations are refused. */
  readonly active_entities_max: number;
  /** An actor unused this long is stopped; its next message reloads it from Redis. */
  readonly passivate_after_ms: number;
}

/** An active entity: its actor, which holds its behaviour and when it was last used. */
type Activation<C> = EntityActor<C, PassivatableBehavior<C>>;

export class EntityPool<C> implements IdleListener {
  private readonly active = new Map<string, Activation<C>>();
  /** Actors of absent entities that went idle this turn, stopped together on the next. */
  private absentIdle: string[] = [];

  constructor(
    private readonly type: EntityType<C>,
    private readonly runtime: ActorRuntime,
    private readonly ownership: ShardOwnership,
    private readonly limits: RegionLimits,
    private readonly clock: () => number,
  ) {}

  /** Delivers a message to the entity, activating it if needed; an error when it cannot. */
  tell(id: string, message: C): TaplineError | undefined {
    let activation = this.active.get(id);
    const shard = activation?.behavior.shard ?? shardOf(this.type.kind, id, this.ownership.shardCount);
    if (!this.ownership.holds(shard)) return shardMoved('shard not held by this node; retry', { shard });
    if (activation === undefined) {
      if (this.active.size >= this.limits.active_entities_max) {
        return resourceExhausted('too many active entities', { kind: this.type.kind });
      }
      activation = this.activate(id, shard);
    }
    activation.lastUsedMs = this.clock();
    if (!activation.tell(message)) return resourceExhausted('entity mailbox full', { kind: this.type.kind, id });
    return undefined;
  }

  isActive(id: string): boolean {
    return this.active.has(id);
  }

  /** Delivers a message only to an actor that is already active (no activation). */
  tellIfActive(id: string, message: C): void {
    this.active.get(id)?.tell(message);
  }

  get size(): number {
    return this.active.size;
  }

  /** An actor worked through its queue: if its entity does not exist, it goes (on the next turn). */
  actorIdle(id: string): void {
    if (this.active.get(id)?.behavior.absent !== true) return;
    this.absentIdle.push(id);
    if (this.absentIdle.length === 1) setImmediate(() => this.stopAbsent());
  }

  /** Stops the actors of absent entities still idle and absent (a message may have come since). */
  private stopAbsent(): void {
    const ids = this.absentIdle;
    this.absentIdle = [];
    for (const id of ids) {
      const activation = this.active.get(id);
      if (activation === undefined || activation.behavior.absent !== true || !activation.idle || !activation.behavior.quiescent) continue;
      this.active.delete(id);
      activation.stop();
      activation.behavior.passivated?.();
    }
  }

  /** Stops actors idle for passivate_after_ms with nothing in flight; returns how many. */
  passivateIdle(): number {
    const cutoff = this.clock() - this.limits.passivate_after_ms;
    let stopped = 0;
    for (const [id, activation] of this.active) {
      if (activation.lastUsedMs <= cutoff && activation.idle && activation.behavior.quiescent) {
        this.active.delete(id);
        activation.stop();
        activation.behavior.passivated?.();
        stopped += 1;
      }
    }
    return stopped;
  }

  /**
   * Stops the actors of the given shards (handed off or fenced) in one pass over the active ones;
   * queued commands are answered as moved.
   */
  stopShards(shards: ReadonlySet<number>): number {
    let stopped = 0;
    for (const [id, activation] of this.active) {
      if (!shards.has(activation.behavior.shard)) continue;
      this.active.delete(id);
      const queued = activation.stop();
      if (queued.length > 0)
        activation.behavior.fail(queued, shardMoved('shard moved to another node; retry', { shard: activation.behavior.shard }));
      activation.behavior.passivated?.();
      stopped += 1;
    }
    return stopped;
  }

  /** Stops every actor (shutdown); commands still queued are answered UNAVAILABLE. */
  stopAll(): void {
    for (const activation of this.active.values()) {
      const queued = activation.stop();
      if (queued.length > 0) activation.behavior.fail(queued, unavailable('node stopping; retry on another node'));
      activation.behavior.passivated?.();
    }
    this.active.clear();
  }

  private activate(id: string, shard: number): Activation<C> {
    const behavior = this.type.create(id, shard);
    // The nact name only needs to be unique (the runtime appends a counter); the id is not
    // repeated in it, which keeps a few dozen bytes per active entity.
    const activation = this.runtime.spawn<C, PassivatableBehavior<C>>(this.type.kind, behavior, this.limits, { listener: this, key: id });
    activation.lastUsedMs = this.clock();
    this.active.set(id, activation);
    return activation;
  }
}

// ---------------------------------------------------------------------------------------------
// The region: the node's entry point into the actors. Money requests go to the terminal first
// (may this terminal transact?) and from there to the card, which decides and commits.

/** Resolves to an error to answer instead of running the request, or undefined to go on. */
export type MerchantGate = (merchantId: string) => Promise<TaplineError | undefined>;

export interface RegionContext {
  readonly card: Omit<CardActorContext, 'retell'>;
  readonly terminal: Omit<TerminalActorContext, 'retell' | 'publish'>;
  /** Terminals of shards held by other nodes (cluster); without it every terminal is local. */
  readonly remoteTerminals?: TerminalCache;
  /** Told every durable terminal state its actor publishes (undefined: passivated or unknown). */
  readonly onTerminalPublished?: (terminalId: string, state: TerminalState | undefined) => void;
  /** Shared SPOT price lists fleet accounts follow; without it a followed list prices nothing. */
  readonly priceLists?: PriceListSource;
}

export class ShardRegion {
  readonly cards: EntityPool<CardMessage>;
  readonly terminals: EntityPool<TerminalMessage>;
  /** Fleet accounts, keyed (and sharded) by fleet id; they decide their cards' authorizations. */
  readonly fleets: EntityPool<FleetMessage>;
  private readonly shardCount: number;
  /** Durable terminal states published by their actors; read-only here. */
  private readonly terminalDirectory = new Map<string, TerminalState>();

  private readonly remoteTerminals: TerminalCache | undefined;
  private readonly cardPersistence: RegionContext['card']['persistence'];
  private readonly answers: Pick<RegionContext['card'], 'idempotency' | 'key_waiters_max'>;

  constructor(
    runtime: ActorRuntime,
    private readonly ownership: ShardOwnership,
    limits: RegionLimits,
    context: RegionContext,
    clock: () => number,
  ) {
    this.remoteTerminals = context.remoteTerminals;
    const onPublished = context.onTerminalPublished;
    this.cardPersistence = context.card.persistence;
    this.answers = context.card;
    const publish = (terminalId: string, state: TerminalState | undefined): void => {
      if (state === undefined) this.terminalDirectory.delete(terminalId);
      else this.terminalDirectory.set(terminalId, state);
      onPublished?.(terminalId, state);
    };
    this.shardCount = ownership.shardCount;
    const invalidate = (cardId: string): void => this.cards.tellIfActive(cardId, { type: 'invalidate' });
    // One context object per entity kind, shared by all its actors (memory per active entity).
    const cardContext: CardActorContext = {
      ...context.card,
      retell: (id, message) => this.cards.tell(id, message) === undefined,
      invalidate,
    };
    const terminalContext: TerminalActorContext & HostContext = {
      ...context.terminal,
      idempotency: context.card.idempotency,
      key_waiters_max: context.card.key_waiters_max,
      retell: (id, message) => this.terminals.tell(id, message) === undefined,
      publish,
    };
    const fleetContext: FleetActorContext = {
      ...context.card,
      ...(context.priceLists !== undefined ? { priceLists: context.priceLists } : {}),
      retell: (id, message) => this.fleets.tell(id, message) === undefined,
    };
    this.cards = new EntityPool<CardMessage>(
      { kind: 'card', create: (id, shard) => new CardBehavior(id, shard, cardContext) },
      runtime,
      ownership,
      limits,
      clock,
    );
    this.terminals = new EntityPool<TerminalMessage>(
      { kind: 'terminal', create: (id, shard) => new TerminalBehavior(id, shard, terminalContext) },
      runtime,
      ownership,
      limits,
      clock,
    );
    this.fleets = new EntityPool<FleetMessage>(
      { kind: 'fleet', create: (id, shard) => new FleetBehavior(id, shard, fleetContext) },
      runtime,
      ownership,
      limits,
      clock,
    );
  }

  /** Delivers a message to a fleet account's actor; `fail` answers it if it cannot be delivered. */
  tellFleet(fleetId: string, message: FleetMessage): void {
    const refused = this.fleets.tell(fleetId, message);
    if (refused) message.reply({ ok: false, error: refused });
  }

  /**
   * Runs a money request: terminal check, then the card's decision. `reply` is called once.
   * `deadlineMs` (epoch ms) is the caller's: a decision still waiting to be written past it is
   * dropped, and the caller's retry with the same key decides again.
   */
  money(request: MoneyRequest, reply: Reply<TxnAnswer>, gate?: MerchantGate, deadlineMs?: number): void {
    const toCard = (merchantId: string): void => {
      if (gate !== undefined) {
        // A check that needs the terminal's merchant (a refund's manager credential).
        gate(merchantId).then(
          (refusal) => {
            if (refusal !== undefined) reply({ ok: false, error: refusal });
            else this.toCard(request, merchantId, reply, deadlineMs);
          },
          (error: unknown) =>
            reply({
              ok: false,
              error: error instanceof TaplineError ? error : unavailable('merchant check failed; retry', {}, { cause: error }),
            }),
        );
        return;
      }
      this.toCard(request, merchantId, reply, deadlineMs);
    };
    if (request.terminalId === '') {
      toCard('');
      return;
    }
    const published = this.terminalDirectory.get(request.terminalId);
    if (published !== undefined) {
      // The common case: the terminal's actor is active and published its durable state.
      const check = checkCanTransact(published, request.cashier);
      if (check.ok) toCard(check.merchantId);
      else reply({ ok: false, error: terminalRefusal(check, request.terminalId) });
      return;
    }
    if (this.remoteTerminals !== undefined && !this.ownership.holds(shardOf('terminal', request.terminalId, this.ownership.shardCount))) {
      // The terminal lives on another node: its durable state, read through a bounded-staleness cache.
      this.remoteTerminals.get(
        request.terminalId,
        (state) => {
          const check = checkCanTransact(state, request.cashier);
          if (check.ok) toCard(check.merchantId);
          else reply({ ok: false, error: terminalRefusal(check, request.terminalId) });
        },
        (error) => reply({ ok: false, error }),
      );
      return;
    }
    const refused = this.terminals.tell(request.terminalId, {
      type: 'check',
      cashier: request.cashier,
      then: (check) => {
        if (check.ok) toCard(check.merchantId);
        else reply({ ok: false, error: terminalRefusal(check, request.terminalId) });
      },
      fail: (error) => reply({ ok: false, error }),
    });
    if (refused) reply({ ok: false, error: refused });
  }

  /**
   * The answer already given to a money request's key, if it was answered (the node's index, else
   * the record in Redis on the shard of the entity that decides it: the card, or a fleet card's
   * account), read without running anything. `undefined`: no answer for this request, because the
   * key is unknown, was answered for a different request (another fingerprint), or its entity's
   * shard is not held here. A key still committing on this node is waited for (bounded).
   */
  storedMoneyAnswer(request: MoneyRequest, reply: Reply<TxnAnswer | undefined>): void {
    const known = this.answers.idempotency.lookup(request.key);
    const answerOf = (record: IdempotencyRecord | undefined): TxnAnswer | undefined =>
      record === undefined ? undefined : answerFromRecord(record, request.fingerprint);
    if (known?.state === 'done') return reply({ ok: true, value: answerOf(known.record) });
    if (known?.state === 'pending') {
      const waiters = known.pending.waiters;
      if (known.pending.fingerprint !== request.fingerprint || waiters.length >= this.answers.key_waiters_max)
        return reply({ ok: true, value: undefined });
      waiters.push((record) => reply({ ok: true, value: answerOf(record) }));
      return;
    }
    const fleet = isFleetMoneyRequest(request);
    const shard = fleet ? shardOf('fleet', request.fleet.fleetId, this.shardCount) : shardOf('card', request.cardId, this.shardCount);
    if (!this.ownership.holds(shard)) return reply({ ok: true, value: undefined });
    this.cardPersistence.loadIdempotencyRecord(shard, request.key).then(
      (value) => {
        let record: IdempotencyRecord | undefined;
        try {
          record = value === undefined ? undefined : fleet ? decodeFleetRecord(value) : decodeRecord(value);
        } catch (error) {
          reply({ ok: false, error: asTaplineError(error, 'stored answer could not be read') });
          return;
        }
        if (record !== undefined) this.answers.idempotency.remember(request.key, record, value);
        reply({ ok: true, value: answerOf(record) });
      },
      (error: unknown) => reply({ ok: false, error: unavailable('could not read the stored answer; retry', {}, { cause: error }) }),
    );
  }

  /**
   * A money request of a terminal whose merchant is already known, straight to its card, without
   * the terminal check: an offline sale happened, so it is merged even if its terminal was
   * disabled since (its batch was accepted by the terminal's actor).
   */
  moneyAtMerchant(request: MoneyRequest, merchantId: string, reply: Reply<TxnAnswer>): void {
    this.toCard(request, merchantId, reply, undefined);
  }

  private toCard(request: MoneyRequest, merchantId: string, reply: Reply<TxnAnswer>, deadlineMs: number | undefined): void {
    if (isFleetMoneyRequest(request)) {
      // A fleet card's authorization is decided by its account's actor (same shard).
      this.tellFleet(request.fleet.fleetId, { type: 'money', request, merchantId, reply, attempt: 0, deadlineMs });
      return;
    }
    const message: CardMessage = { type: 'money', request, merchantId, reply, attempt: 0, deadlineMs };
    const refused = this.cards.tell(request.cardId, message);
    if (refused) reply({ ok: false, error: refused });
  }

  /**
   * A card's durable state. An active card answers from memory; for any other the stored record
   * is read without activating an actor: nothing of an inactive card is in flight on this node, so
   * its record is its durable state, and an inquiry (a balance check, a scan of ids that do not
   * exist) leaves nothing behind.
   */
  balance(cardId: string, reply: Reply<CardState>): void {
    if (this.cards.isActive(cardId)) {
      const refused = this.cards.tell(cardId, { type: 'balance', reply });
      if (refused) reply({ ok: false, error: refused });
      return;
    }
    const shard = shardOf('card', cardId, this.shardCount);
    if (!this.ownership.holds(shard)) {
      reply({ ok: false, error: shardMoved('shard not held by this node; retry', { shard }) });
      return;
    }
    this.cardPersistence.loadEntity(shard, { kind: 'card', id: cardId }).then(
      (record) => {
        let state: CardState | undefined;
        try {
          state = record.data === undefined ? undefined : decodeCardState(record.data);
        } catch (error) {
          reply({ ok: false, error: asTaplineError(error, 'stored card could not be read') });
          return;
        }
        if (state === undefined) reply({ ok: false, error: notFound('card not found', { cardId }) });
        else reply({ ok: true, value: state });
      },
      (error: unknown) => reply({ ok: false, error: asTaplineError(error, 'card could not be read') }),
    );
  }

  /** Runs an operator change of a card; `answer` shapes the reply of each entry point. */
  private cardAdmin<A>(
    cardId: string,
    command: CardAdminCommand,
    acting: Acting,
    reply: Reply<A>,
    answer: (admin: AdminAnswer) => A,
  ): void {
    const message: CardMessage = {
      type: 'admin',
      command,
      reply: (outcome) => reply(outcome.ok ? { ok: true, value: answer(outcome.value) } : outcome),
      attempt: 0,
      acting,
    };
    const refused = this.cards.tell(cardId, message);
    if (refused) reply({ ok: false, error: refused });
  }

  // Operator changes take who acted (`acting`: the authenticated operator, its role and scope);
  // their audit record is written in the same commit as the change. The commands' operatorId is
  // its subject, never a request field.

  issueCard(
    command: { cardId: string; currency: string; initialBalanceMinor: number; programId: string; nowMs: number },
    acting: Acting,
    reply: Reply<IssueAnswer>,
  ): void {
    const admin: CardAdminCommand = { type: 'issue', command: { type: 'issue', ...command }, operatorId: acting.subject };
    this.cardAdmin(command.cardId, admin, acting, reply, issueAnswer);
  }

  /** Sets a status through the card's transition table (actors/card/lifecycle.ts). */
  setCardStatus(cardId: string, status: SettableStatus, reason: string, acting: Acting, reply: Reply<CardState>): void {
    this.cardAdmin(cardId, { type: 'set_status', status, reason, operatorId: acting.subject }, acting, reply, stateOf);
  }

  /** A terminal's durable state, read from its actor (NOT_FOUND when unregistered). */
  readTerminal(terminalId: string, reply: Reply<TerminalState>): void {
    const refused = this.terminals.tell(terminalId, { type: 'read', reply });
    if (refused) reply({ ok: false, error: refused });
  }

  changeTerminal(terminalId: string, command: TerminalCommand, acting: Acting, reply: Reply<TerminalAnswer>): void {
    const refused = this.terminals.tell(terminalId, { type: 'change', command, operatorId: acting.subject, acting, reply, attempt: 0 });
    if (refused) reply({ ok: false, error: refused });
  }

  /** An offline command of a terminal (its actor decides: actors/terminal/offline-messages.ts). */
  terminalOffline(terminalId: string, command: OfflineCommand, reply: Reply<OfflineAnswer>): void {
    const refused = this.terminals.tell(terminalId, { type: 'offline', command, reply, attempt: 0 });
    if (refused) reply({ ok: false, error: refused });
  }

  // Card lifecycle (CardService).

  /** Issues a card with its profile; a named card's holder (JSON) is written with it. */
  issueProfiledCard(
    command: Extract<CardCommand, { type: 'issue' }>,
    holder: string | undefined,
    acting: Acting,
    reply: Reply<IssueAnswer>,
  ): void {
    const admin: CardAdminCommand = { type: 'issue', command, operatorId: acting.subject, ...(holder === undefined ? {} : { holder }) };
    this.cardAdmin(command.cardId, admin, acting, reply, issueAnswer);
  }

  /** The shard a card lives on (a fleet card: its account's). */
  shardOfCard(cardId: string): number {
    return shardOf('card', cardId, this.shardCount);
  }

  /** Replaces `cardId` by the new card `replacementId` (which must not exist). */
  replaceCard(cardId: string, replacementId: string, reason: string, acting: Acting, reply: Reply<ReplaceAnswer>): void {
    const command = {
      replacementId,
      replacementShard: shardOf('card', replacementId, this.shardCount),
      reason,
      operatorId: acting.subject,
    };
    const refused = this.cards.tell(cardId, { type: 'replace', command, reply, attempt: 0, acting });
    if (refused) reply({ ok: false, error: refused });
  }

  setAutoReload(cardId: string, autoReload: AutoReload | undefined, acting: Acting, reply: Reply<CardState>): void {
    this.cardAdmin(cardId, { type: 'auto_reload', autoReload, operatorId: acting.subject }, acting, reply, stateOf);
  }

  /** Enrols a card for authentication under a key with the chip's counter, or ('' key) stops it (audited). */
  setCardAuth(cardId: string, keyId: string, counter: number, acting: Acting, reply: Reply<CardState>): void {
    this.cardAdmin(cardId, { type: 'set_auth', keyId, counter, operatorId: acting.subject }, acting, reply, stateOf);
  }

  /** Lists a bank card's token on the card (`link`) or takes it off (audited). */
  linkCardToken(cardId: string, token: string, link: boolean, acting: Acting, reply: Reply<CardState>): void {
    this.cardAdmin(cardId, { type: 'link_token', token, link, operatorId: acting.subject }, acting, reply, stateOf);
  }

  setPin(cardId: string, newHash: string, oldHash: string | undefined, reset: boolean, acting: Acting, reply: Reply<CardState>): void {
    this.cardAdmin(cardId, { type: 'set_pin', newHash, oldHash, reset, operatorId: acting.subject }, acting, reply, stateOf);
  }

  /** Checks a card's PIN (its keyed hash): a wrong one is counted on the card before the refusal. */
  verifyPin(cardId: string, hash: string, acting: Acting, reply: Reply<CardState>): void {
    this.cardAdmin(cardId, { type: 'verify_pin', hash, operatorId: acting.subject }, acting, reply, stateOf);
  }

  /** Resolves an open review entry of a plain card (audited). */
  resolveCardReview(cardId: string, transactionId: string, note: string, acting: Acting, reply: Reply<CardState>): void {
    this.cardAdmin(cardId, { type: 'resolve_review', transactionId, note, operatorId: acting.subject }, acting, reply, stateOf);
  }

  setTabLimit(cardId: string, limitMinor: number, acting: Acting, reply: Reply<CardState>): void {
    this.cardAdmin(cardId, { type: 'tab_limit', limitMinor, operatorId: acting.subject }, acting, reply, stateOf);
  }

  /** Cancels a card's issuance: the card goes back to stock (actors/card/issuance-cancel.ts). */
  cancelIssuance(cardId: string, reason: string, acting: Acting, reply: Reply<CancelIssuanceAnswer>): void {
    const command: CancelIssuanceCommand = { reason, operatorId: acting.subject };
    const refused = this.cards.tell(cardId, { type: 'cancel_issuance', command, reply, attempt: 0, acting });
    if (refused) reply({ ok: false, error: refused });
  }

  /** A lifecycle transition; an unblock carries its approver (the second principal of four eyes). */
  changeCardState(
    cardId: string,
    action: TransitionRequest['action'],
    reason: string,
    acting: Acting,
    reply: Reply<TransitionAnswer>,
  ): void {
    const transition: TransitionRequest = { action, operatorId: acting.subject, approverId: acting.approver ?? '' };
    this.cardAdmin(cardId, { type: 'transition', transition, reason, operatorId: acting.subject }, acting, reply, (answer) => ({
      state: answer.state,
      previous: answer.previous,
    }));
  }

  passivateIdle(): number {
    return this.cards.passivateIdle() + this.terminals.passivateIdle() + this.fleets.passivateIdle();
  }

  /** Drops the actors of shards this node no longer holds (cluster hand-off or fencing). */
  stopShards(shards: ReadonlySet<number>): number {
    return this.cards.stopShards(shards) + this.terminals.stopShards(shards) + this.fleets.stopShards(shards);
  }

  stopAll(): void {
    this.cards.stopAll();
    this.terminals.stopAll();
    this.fleets.stopAll();
  }
}

export interface IssueAnswer {
  readonly state: CardState;
  readonly alreadyExisted: boolean;
}

export interface TransitionAnswer {
  readonly state: CardState;
  readonly previous: CardStatus;
}

const issueAnswer = (answer: AdminAnswer): IssueAnswer => ({ state: answer.state, alreadyExisted: answer.unchanged });
const stateOf = (answer: AdminAnswer): CardState => answer.state;

/** A terminal's refusal of a money request; a refused cashier is named in it (their attempts are counted). */
function terminalRefusal(check: Extract<TerminalCheck, { ok: false }>, terminalId: string): RejectedError {
  return rejected(check.code, check.message, check.cashierId === undefined ? { terminalId } : { terminalId, cashierId: check.cashierId });
}
