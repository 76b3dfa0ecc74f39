// The fleet account actor: one per fleet account, on the fleet's shard, a thin shell over the
// entity host. It owns the account (credit, fleet-wide counters, policy, prices) and decides every
// authorization of the account's cards (decide.ts), so the account, the card and the vehicle's
// odometer change in ONE commit entry: the fleet-wide limit and the credit limit are checked and
// spent atomically, and cards racing each other are simply sequenced here. Cards and vehicles are
// separate Redis records (so a commit writes only what changed), loaded on first use and kept in
// memory while the actor is active.

import { notFound, unavailable, type TaplineError } from '../errors';
import type { Acting } from '../principal';
import {
  EntityHost,
  stampOf,
  emptySlot,
  loadSlot,
  type HostContext,
  type MoneyMessage,
  type Reply,
  type Slot,
  type SlotWrite,
} from '../runtime/entity-host';
import type { EntityId } from '../runtime/persistence';
import type { IdempotencyRecord, TxnAnswer } from '../card/transaction';
import { odometerSubject } from '../rules/prompts';
import { refundLedgerEntity } from '../card/decide';
import type { PriceListSource } from './price-lists';
import { empty_review_queue, type ReviewQueue } from '../rules/review-queue';
import {
  decideAccountChange,
  decideCardChange,
  decideCycleClose,
  decideFleetHold,
  decideFleetPayment,
  decideFleetRefundRequest,
  decideFleetMoney,
  decideFleetReversal,
  decideReviewResolution,
  fleetReversalNeedsClaim,
  type FleetCycleClose,
  type FleetEnv,
  type FleetMoneyPlan,
} from './decide';
import type { FleetAccountState, FleetAdminCommand, FleetCardCommand, FleetCardState, VehicleState } from './rules';
import { decodeFleetRecord, type FleetMoneyRequest } from './transaction';
import { fleet_account_codec, fleet_card_codec, review_queue_codec, vehicle_codec } from '../state/fleet';

export interface FleetAccountAnswer {
  readonly state: FleetAccountState;
  readonly alreadyExisted: boolean;
}

export interface FleetCardAnswer {
  readonly state: FleetCardState;
  readonly account: FleetAccountState;
  readonly alreadyExisted: boolean;
}

export type FleetMessage =
  | {
      readonly type: 'money';
      readonly request: FleetMoneyRequest;
      readonly merchantId: string;
      readonly reply: Reply<TxnAnswer>;
      readonly attempt: number;
      /** The caller's deadline (epoch ms): a decision still waiting to be written past it is dropped. */
      readonly deadlineMs?: number | undefined;
    }
  | {
      readonly type: 'account';
      readonly command: FleetAdminCommand;
      readonly operatorId: string;
      readonly reply: Reply<FleetAccountAnswer>;
      readonly attempt: number;
      readonly acting?: Acting;
    }
  | {
      readonly type: 'card';
      readonly cardId: string;
      readonly command: FleetCardCommand;
      readonly operatorId: string;
      readonly reply: Reply<FleetCardAnswer>;
      readonly attempt: number;
      readonly acting?: Acting;
    }
  | { readonly type: 'get_account'; readonly reply: Reply<FleetAccountState>; readonly attempt: number }
  | { readonly type: 'get_card'; readonly cardId: string; readonly reply: Reply<FleetCardAnswer>; readonly attempt: number }
  | { readonly type: 'list_review'; readonly reply: Reply<{ queue: ReviewQueue; currency: string }>; readonly attempt: number }
  | {
      readonly type: 'close_cycle';
      readonly cycle: number;
      readonly operatorId: string;
      readonly reply: Reply<FleetCycleClose>;
      readonly attempt: number;
      readonly acting?: Acting;
    }
  | {
      readonly type: 'resolve_review';
      readonly transactionId: string;
      readonly operatorId: string;
      readonly note: string;
      readonly reply: Reply<ReviewQueue>;
      readonly attempt: number;
      readonly acting?: Acting;
    };

type Money = Extract<FleetMessage, { type: 'money' }>;

export interface FleetActorContext extends HostContext {
  readonly clock: () => number;
  readonly nextTransactionId: () => string;
  readonly retell: (fleetId: string, message: FleetMessage) => boolean;
  /** Shared SPOT price lists (price-lists.ts), read before an account that follows one decides. */
  readonly priceLists?: PriceListSource;
}

/** Card and vehicle records kept in memory per active account; past it they are dropped when idle. */
export const fleet_records_cached_max = 10_000;
/** Load rounds before a message gives up (records kept changing under it). */
const load_rounds_max = 3;

/** The stored form of each record the account keeps (actors/state/fleet.ts). */
const codecs = {
  fleet: fleet_account_codec,
  review: review_queue_codec,
  fleet_card: fleet_card_codec,
  vehicle: vehicle_codec,
} as const;

/** A record's write in a commit: its new state encoded by its codec, or a version check only. */
function write<K extends keyof typeof codecs>(
  kind: K,
  id: string,
  slot: Slot<unknown>,
  after: Parameters<(typeof codecs)[K]['encode']>[0] | undefined,
): SlotWrite {
  const entity = { kind, id };
  if (after === undefined) return { slot, entity, after };
  return { slot, entity, after, encoded: (codecs[kind].encode as (state: typeof after) => string)(after) };
}

export class FleetBehavior extends EntityHost<FleetMessage> {
  private readonly account: Slot<FleetAccountState> = emptySlot();
  private readonly review: Slot<ReviewQueue> = emptySlot();
  private readonly cards = new Map<string, Slot<FleetCardState>>();
  private readonly vehicles = new Map<string, Slot<VehicleState>>();
  /** Originals with a reversal decided but not yet committed by this actor. */
  private readonly reversalsInFlight = new Set<string>();
  private readonly accountEntity: EntityId;
  private readonly reviewEntity: EntityId;

  constructor(
    readonly fleetId: string,
    shard: number,
    private readonly context: FleetActorContext,
  ) {
    super(shard, context);
    this.accountEntity = { kind: 'fleet', id: fleetId };
    this.reviewEntity = { kind: 'review', id: fleetId };
  }

  /**
   * The actor holds no account: none exists (as last read), or it could not be read, and nothing
   * of it is in flight (shard-region.ts stops such an actor at once; the next message reads again).
   */
  get absent(): boolean {
    return this.account.state === undefined && this.idleCommits;
  }

  /** Every message may need a card or vehicle record loaded first. */
  protected needsAwait(): boolean {
    return true;
  }

  protected async handleAwaiting(message: FleetMessage): Promise<void> {
    await this.prepare(message);
    if (message.type === 'money' && (message.request.kind === 'reverse' || message.request.kind === 'refund'))
      await this.decideOnOriginal(message);
    else this.handle(message);
  }

  protected failMessage(message: FleetMessage, error: TaplineError): void {
    message.reply({ ok: false, error });
  }

  // -------------------------------------------------------------------------------------------
  // Loading: the account on first use (and after a failed commit), cards and vehicles on demand.

  private needs(message: FleetMessage): { card?: string; vehicle?: string } {
    switch (message.type) {
      case 'money': {
        // A payment is the account's alone: no card.
        if (message.request.kind === 'fleet_payment') return {};
        const prompts = message.request.fleet.prompts;
        const vehicle = prompts.odometer_km > 0 ? this.vehicleId(odometerSubject(prompts, message.request.cardId)) : undefined;
        return { card: message.request.cardId, ...(vehicle !== undefined ? { vehicle } : {}) };
      }
      case 'card':
      case 'get_card':
        return { card: message.cardId };
      default:
        return {};
    }
  }

  private vehicleId(subject: string): string {
    return `${this.fleetId}/${subject}`;
  }

  private async prepare(message: FleetMessage): Promise<void> {
    const { card, vehicle } = this.needs(message);
    for (let round = 0; round < load_rounds_max; round++) {
      if (!this.loaded) {
        this.cards.clear();
        this.vehicles.clear();
        loadSlot(this.account, await this.loadRecord(this.accountEntity), codecs.fleet.decode);
        loadSlot(this.review, await this.loadRecord(this.reviewEntity), codecs.review.decode);
        this.loaded = true;
      }
      if (card !== undefined && !this.cards.has(card))
        this.remember(this.cards, card, await this.loadSlotOf({ kind: 'fleet_card', id: card }, codecs.fleet_card.decode));
      if (vehicle !== undefined && !this.vehicles.has(vehicle))
        this.remember(this.vehicles, vehicle, await this.loadSlotOf({ kind: 'vehicle', id: vehicle }, codecs.vehicle.decode));
      const list = this.account.state?.priceList;
      if (list !== undefined && message.type === 'money') await this.context.priceLists?.ensure(list);
      // A commit that failed while we awaited a read invalidated everything: read again.
      if (this.loaded && (card === undefined || this.cards.has(card)) && (vehicle === undefined || this.vehicles.has(vehicle))) return;
    }
    throw unavailable('fleet account kept changing while loading; retry', { fleetId: this.fleetId });
  }

  private async loadSlotOf<S>(entity: EntityId, decode: (data: string) => S): Promise<Slot<S>> {
    const slot = emptySlot<S>();
    loadSlot(slot, await this.loadRecord(entity), decode);
    return slot;
  }

  private remember<S>(map: Map<string, Slot<S>>, id: string, slot: Slot<S>): void {
    if (!this.loaded) return;
    if (map.size >= fleet_records_cached_max && this.idleCommits) map.clear();
    map.set(id, slot);
  }

  private env(): FleetEnv {
    return { nowMs: this.context.clock(), nextId: this.context.nextTransactionId };
  }

  protected handle(message: FleetMessage): void {
    switch (message.type) {
      case 'money':
        this.purchase(message);
        return;
      case 'account':
        this.accountChange(message);
        return;
      case 'card':
        this.cardChange(message);
        return;
      case 'get_account':
        if (this.account.durable === undefined) this.accountNotFound(message.reply);
        else message.reply({ ok: true, value: this.account.durable });
        return;
      case 'list_review':
        if (this.account.durable === undefined) this.accountNotFound(message.reply);
        else
          message.reply({ ok: true, value: { queue: this.review.durable ?? empty_review_queue, currency: this.account.durable.currency } });
        return;
      case 'resolve_review':
        this.resolveReview(message);
        return;
      case 'close_cycle':
        this.closeCycle(message);
        return;
      case 'get_card': {
        const card = this.cards.get(message.cardId)?.durable;
        const account = this.account.durable;
        if (card === undefined || account === undefined)
          message.reply({ ok: false, error: notFound('fleet card not found', { cardId: message.cardId }) });
        else message.reply({ ok: true, value: { state: card, account, alreadyExisted: true } });
        return;
      }
    }
  }

  // -------------------------------------------------------------------------------------------
  // Authorizations of the account's cards.

  private answeredFromIndex(message: Money): boolean {
    return this.answerFromIndex(message);
  }

  protected override retryMessage(message: MoneyMessage, ownConflict: boolean): void {
    this.retry(message as Money, ownConflict);
  }

  protected override moneyMessageOf(message: FleetMessage): MoneyMessage | undefined {
    return message.type === 'money' ? message : undefined;
  }

  protected override decodeAnswer(value: string): IdempotencyRecord {
    return decodeFleetRecord(value);
  }

  private purchase(message: Money): void {
    if (this.answeredFromIndex(message)) return;
    const { request } = message;
    const account = this.account.state;
    if (request.kind === 'fleet_payment') return this.payment(message, account);
    const cardSlot = this.cards.get(request.cardId) as Slot<FleetCardState>;
    if (account === undefined || cardSlot.state === undefined) return this.cardNotFound(message);
    const prompts = request.fleet.prompts;
    const vehicleSlot = prompts.odometer_km > 0 ? this.vehicles.get(this.vehicleId(odometerSubject(prompts, request.cardId))) : undefined;
    const records = {
      account,
      card: cardSlot.state,
      vehicle: vehicleSlot?.state,
      review: this.review.state,
      sharedPrices: account.priceList === undefined ? undefined : this.context.priceLists?.get(account.priceList),
    };
    if (request.kind === 'purchase')
      return this.commitMoneyPlan(
        message,
        decideFleetMoney(this.fleetId, records, request, message.merchantId, this.env()),
        cardSlot,
        vehicleSlot,
      );
    const decision = decideFleetHold(this.fleetId, records, request, message.merchantId, this.env());
    if (decision.kind === 'rejected') return message.reply({ ok: false, error: decision.error });
    this.commitMoneyPlan(message, decision, cardSlot, vehicleSlot);
  }

  /** A payment writes the account alone (its commit checks no card). */
  private payment(message: Money, account: FleetAccountState | undefined): void {
    if (account === undefined) return this.accountNotFound(message.reply);
    const plan = decideFleetPayment(this.fleetId, account, message.request, this.env());
    // A payment is an operator's action (who posted it): its audit record is written with it.
    const audit = stampOf(message.request.acting, this.context.clock);
    const slots = [write('fleet', this.fleetId, this.account, plan.account)];
    this.commitMoneyDecision(slots, plan, message, decodeFleetRecord, undefined, undefined, audit);
  }

  /**
   * A reversal or a refund: decided on facts about its original, read before deciding (its stored
   * record, whether it was reversed, its refund ledger).
   */
  private async decideOnOriginal(message: Money): Promise<void> {
    if (this.answeredFromIndex(message)) return;
    const { originalKey } = message.request;
    const waiters = this.pendingKey(originalKey);
    if (waiters !== undefined) return this.waitForKey(waiters, message.reply, () => this.retry(message, false));
    const stored = this.knownRecord(originalKey) ?? (await this.readStoredRecord(originalKey, decodeFleetRecord));
    const reverse = message.request.kind === 'reverse';
    const charged = fleetReversalNeedsClaim(stored);
    const alreadyReversed =
      reverse &&
      charged &&
      (this.reversalsInFlight.has(originalKey) ||
        (await this.context.persistence.loadReversalClaim(this.shard, originalKey)) !== undefined);
    const ledger = charged || (!reverse && stored !== undefined) ? await this.loadRecord(refundLedgerEntity(originalKey)) : undefined;
    await this.prepare(message);
    if (this.answeredFromIndex(message)) return;
    const account = this.account.state;
    const cardSlot = this.cards.get(message.request.cardId);
    if (account === undefined || cardSlot?.state === undefined) return this.cardNotFound(message);
    const records = { account, card: cardSlot.state };
    const decision = reverse
      ? decideFleetReversal(
          this.fleetId,
          records,
          message.request,
          message.merchantId,
          { original: stored, alreadyReversed, ledger },
          this.env(),
        )
      : decideFleetRefundRequest(this.fleetId, records, message.request, message.merchantId, { original: stored, ledger }, this.env());
    if (decision.kind === 'rejected') return message.reply({ ok: false, error: decision.error });
    this.commitMoneyPlan(message, decision, cardSlot, undefined);
  }

  private commitMoneyPlan(
    message: Money,
    plan: FleetMoneyPlan,
    cardSlot: Slot<FleetCardState>,
    vehicleSlot: Slot<VehicleState> | undefined,
  ): void {
    const { request } = message;
    const slots: SlotWrite[] = [
      write('fleet', this.fleetId, this.account, plan.account),
      write('fleet_card', request.cardId, cardSlot, plan.card),
    ];
    if (plan.review !== undefined) slots.push(write('review', this.fleetId, this.review, plan.review));
    if (plan.vehicle !== undefined && vehicleSlot !== undefined)
      slots.push(write('vehicle', this.vehicleId(odometerSubject(request.fleet.prompts, request.cardId)), vehicleSlot, plan.vehicle));
    this.commitMoneyDecision(slots, plan, message, decodeFleetRecord, this.reversalsInFlight);
  }

  // -------------------------------------------------------------------------------------------
  // Administration.

  private cardChange(message: Extract<FleetMessage, { type: 'card' }>): void {
    const slot = this.cards.get(message.cardId) as Slot<FleetCardState>;
    const decision = decideCardChange(
      this.fleetId,
      this.account.state,
      message.cardId,
      slot.state,
      message.command,
      message.operatorId,
      this.env(),
    );
    if (decision.kind === 'rejected') return message.reply({ ok: false, error: decision.error });
    const account = this.account.state as FleetAccountState;
    if (decision.kind === 'unchanged') return message.reply({ ok: true, value: { state: decision.state, account, alreadyExisted: true } });
    // The card is issued against the account as it is: its version is checked too.
    const slots = [write('fleet', this.fleetId, this.account, undefined), write('fleet_card', message.cardId, slot, decision.after)];
    const answer = { state: decision.after, account, alreadyExisted: false };
    const audit = stampOf(message.acting, this.context.clock);
    this.commitAndAnswer({ slots, outbox: decision.document, audit }, message.reply, answer, (ownConflict) =>
      this.retry(message, ownConflict),
    );
  }

  private accountChange(message: Extract<FleetMessage, { type: 'account' }>): void {
    const decision = decideAccountChange(this.fleetId, this.account.state, message.command, message.operatorId, this.env());
    if (decision.kind === 'rejected') return message.reply({ ok: false, error: decision.error });
    if (decision.kind === 'unchanged') return message.reply({ ok: true, value: { state: decision.state, alreadyExisted: true } });
    const slots = [write('fleet', this.fleetId, this.account, decision.after)];
    const audit = stampOf(message.acting, this.context.clock);
    this.commitAndAnswer(
      { slots, outbox: decision.document, audit },
      message.reply,
      { state: decision.after, alreadyExisted: false },
      (ownConflict) => this.retry(message, ownConflict),
    );
  }

  private closeCycle(message: Extract<FleetMessage, { type: 'close_cycle' }>): void {
    const decision = decideCycleClose(this.fleetId, this.account.state, message.cycle, message.operatorId, this.env());
    if (decision.kind === 'rejected') return message.reply({ ok: false, error: decision.error });
    if (decision.kind === 'unchanged') return message.reply({ ok: true, value: decision.answer });
    const slots = [write('fleet', this.fleetId, this.account, decision.answer.account)];
    const audit = stampOf(message.acting, this.context.clock);
    this.commitAndAnswer({ slots, outbox: decision.document, audit }, message.reply, decision.answer, (ownConflict) =>
      this.retry(message, ownConflict),
    );
  }

  private resolveReview(message: Extract<FleetMessage, { type: 'resolve_review' }>): void {
    const { transactionId, note, operatorId } = message;
    const decision = decideReviewResolution(
      this.fleetId,
      this.account.state,
      this.review.state,
      transactionId,
      note,
      operatorId,
      this.env(),
    );
    if (decision.kind === 'rejected') return message.reply({ ok: false, error: decision.error });
    if (decision.kind === 'unchanged') return message.reply({ ok: true, value: decision.state });
    const slots = [write('review', this.fleetId, this.review, decision.after)];
    const audit = stampOf(message.acting, this.context.clock);
    this.commitAndAnswer({ slots, outbox: decision.document, audit }, message.reply, decision.after, (ownConflict) =>
      this.retry(message, ownConflict),
    );
  }

  private retry(message: FleetMessage, ownConflict: boolean): void {
    this.retryOrFail(message, (again) => this.context.retell(this.fleetId, again), message.reply, ownConflict);
  }

  private cardNotFound(message: Money): void {
    message.reply({ ok: false, error: notFound('card not found', { cardId: message.request.cardId }) });
  }

  private accountNotFound(reply: Reply<never>): void {
    reply({ ok: false, error: notFound('fleet account not found', { fleetId: this.fleetId }) });
  }
}
