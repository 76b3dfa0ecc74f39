// The fleet account's side of the entity host: the records an account actor keeps in memory (the
// account, its review queue, and its cards and vehicles, loaded on first use and dropped past a
// bound when idle), how they are read back from Redis, and how the account's decisions become
// commits (each record through its codec, the audit record of an operator's change). The account
// actor (actor.ts) extends it and only sequences: load, decide, hand the plan over here.

import { notFound, unavailable, type TaplineError } from '../errors';
import type { Acting } from '../principal';
import { EntityHost, stampOf, emptySlot, loadSlot, type MoneyMessage, type Reply, type Slot, type SlotWrite } from '../runtime/entity-host';
import type { EntityId } from '../runtime/persistence';
import type { IdempotencyRecord } from '../card/transaction';
import { odometerSubject } from '../rules/prompts';
import type { ReviewQueue } from '../rules/review-queue';
import { fleet_account_codec, fleet_card_codec, review_queue_codec, vehicle_codec } from '../state/fleet';
import type { FleetEnv, FleetMoneyPlan } from './decide';
import { recordsNeeded, vehicleId } from './facts';
import type { FleetActorContext, FleetMessage } from './messages';
import type { FleetAccountState, FleetCardState, VehicleState } from './rules';
import { decodeFleetRecord } from './transaction';

export type Money = Extract<FleetMessage, { type: 'money' }>;
/** An operator's change of the account: answered once durable, audited with who acted. */
type Change<A> = Exclude<FleetMessage, Money> & { readonly reply: Reply<A>; readonly acting?: Acting };

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
export function write<K extends keyof typeof codecs>(
  kind: K,
  id: string,
  slot: Slot<unknown>,
  after: Parameters<(typeof codecs)[K]['encode']>[0] | undefined,
): SlotWrite {
  const entity = { kind, id };
  if (after === undefined) return { slot, entity, after };
  return { slot, entity, after, encoded: (codecs[kind].encode as (state: typeof after) => string)(after) };
}

export abstract class FleetHost extends EntityHost<FleetMessage> {
  protected readonly account: Slot<FleetAccountState> = emptySlot();
  protected readonly review: Slot<ReviewQueue> = emptySlot();
  protected readonly cards = new Map<string, Slot<FleetCardState>>();
  protected readonly vehicles = new Map<string, Slot<VehicleState>>();
  /** Originals with a reversal decided but not yet committed by this actor. */
  protected readonly reversalsInFlight = new Set<string>();
  private readonly accountEntity: EntityId;
  private readonly reviewEntity: EntityId;

  constructor(
    readonly fleetId: string,
    shard: number,
    protected readonly context: FleetActorContext,
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

  protected failMessage(message: FleetMessage, error: TaplineError): void {
    message.reply({ ok: false, error });
  }

  /**
   * Loads what the message is decided on: the account on first use (and after a failed commit),
   * its card and vehicle records on demand, the shared price list an account follows.
   */
  protected async prepare(message: FleetMessage): Promise<void> {
    const { card, vehicle } = recordsNeeded(this.fleetId, message);
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

  protected env(): FleetEnv {
    return { nowMs: this.context.clock(), nextId: this.context.nextTransactionId };
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

  /** Commits an authorization: the account, the card, and the review queue and vehicle when they changed. */
  protected commitMoneyPlan(
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
      slots.push(
        write('vehicle', vehicleId(this.fleetId, odometerSubject(request.fleet.prompts, request.cardId)), vehicleSlot, plan.vehicle),
      );
    this.commitMoneyDecision(slots, plan, message, decodeFleetRecord, this.reversalsInFlight);
  }

  /** Commits an operator's change with the audit record of who acted, then answers `answer` once it is durable. */
  protected commitChange<A>(message: Change<A>, slots: readonly SlotWrite[], document: string, answer: A): void {
    const audit = stampOf(message.acting, this.context.clock);
    this.commitAndAnswer({ slots, outbox: document, audit }, message.reply, answer, (ownConflict) => this.retry(message, ownConflict));
  }

  protected retry(message: FleetMessage, ownConflict: boolean): void {
    this.retryOrFail(message, (again) => this.context.retell(this.fleetId, again), message.reply, ownConflict);
  }

  protected cardNotFound(message: Money): void {
    message.reply({ ok: false, error: notFound('card not found', { cardId: message.request.cardId }) });
  }

  protected accountNotFound(reply: Reply<never>): void {
    reply({ ok: false, error: notFound('fleet account not found', { fleetId: this.fleetId }) });
  }
}
