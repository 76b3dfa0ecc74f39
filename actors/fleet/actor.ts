// The fleet account actor: one per fleet account, on the fleet's shard. It owns the account
// (credit, fleet-wide counters, policy, prices) and decides every authorization of the account's
// cards, so the account, the card and the vehicle's odometer change in ONE commit entry: the
// fleet-wide limit and the credit limit are checked and spent atomically, and cards racing each
// other are simply sequenced here. Cards and vehicles are separate Redis records (so a commit
// writes only what changed), loaded on first use and kept in memory while the actor is active.
// Like the card actor it decides on its in-memory state (including decisions still committing),
// every write carries the version it was decided on, and a commit that does not land makes the
// actor reload and decide again (docs/DECISIONS.md, "Decide on the in-memory state").

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
import type { CommitEntry, CommitResult, EntityId, EntityWrite, Persistence } from '../runtime/persistence';
import {
  answerFromRecord,
  encodeRecord,
  storedTransaction,
  tombstone_fingerprint,
  type IdempotencyRecord,
  type MoneyRequest,
  type ReverseOutcome,
  type TxnAnswer,
  type TxnResult,
} from '../card/transaction';
import { odometerSubject } from '../rules/prompts';
import { empty_review_queue, enqueueReview, resolveReview, type ReviewQueue } from '../rules/review-queue';
import {
  decideFleetAdmin,
  decideFleetCard,
  decideFleetPurchase,
  reverseFleetPurchase,
  type FleetAccountState,
  type FleetAdminCommand,
  type FleetCardCommand,
  type FleetCardState,
  type VehicleState,
} from './rules';
import { decodeFleetRecord, fleetStoredTransaction, isFleetTxnResult, type FleetMoneyRequest, type FleetTxnResult } from './transaction';

type Reply<T> = (outcome: Outcome<T>) => void;

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
    }
  | {
      readonly type: 'account';
      readonly command: FleetAdminCommand;
      readonly operatorId: string;
      readonly reply: Reply<FleetAccountAnswer>;
      readonly attempt: number;
    }
  | {
      readonly type: 'card';
      readonly cardId: string;
      readonly command: FleetCardCommand;
      readonly operatorId: string;
      readonly reply: Reply<FleetCardAnswer>;
      readonly attempt: number;
    }
  | { readonly type: 'get_account'; readonly reply: Reply<FleetAccountState>; readonly attempt: number }
  | { readonly type: 'get_card'; readonly cardId: string; readonly reply: Reply<FleetCardAnswer>; readonly attempt: number }
  | { readonly type: 'list_review'; readonly reply: Reply<{ queue: ReviewQueue; currency: string }>; readonly attempt: number }
  | {
      readonly type: 'resolve_review';
      readonly transactionId: string;
      readonly operatorId: string;
      readonly note: string;
      readonly reply: Reply<ReviewQueue>;
      readonly attempt: number;
    };

export interface FleetActorContext {
  readonly persistence: Persistence;
  readonly idempotency: IdempotencyIndex;
  readonly clock: () => number;
  readonly nextTransactionId: () => string;
  readonly retell: (fleetId: string, message: FleetMessage) => boolean;
  readonly conflict_attempts_max: number;
  readonly onDecision?: (result: TxnResult) => void;
}

/** Card and vehicle records kept in memory per active account; past it they are dropped when idle. */
export const fleet_records_cached_max = 10_000;
/** Load rounds before a message gives up (records kept changing under it). */
const load_rounds_max = 3;

interface Slot<S> {
  state: S | undefined;
  version: number;
  /** Last committed state: inquiries answer from it, never from a decision still in flight. */
  durable: S | undefined;
}

export class FleetBehavior implements EntityBehavior<FleetMessage> {
  private loaded = false;
  private account: Slot<FleetAccountState> = { state: undefined, version: 0, durable: undefined };
  private review: Slot<ReviewQueue> = { state: undefined, version: 0, durable: undefined };
  private readonly cards = new Map<string, Slot<FleetCardState>>();
  private readonly vehicles = new Map<string, Slot<VehicleState>>();
  private uncommitted = 0;
  /** Originals with a reversal decided but not yet committed by this actor. */
  private readonly reversalsInFlight = new Set<string>();

  constructor(
    readonly fleetId: string,
    private readonly shard: number,
    private readonly context: FleetActorContext,
  ) {}

  get quiescent(): boolean {
    return this.uncommitted === 0;
  }

  async receive(batch: FleetMessage[]): Promise<void> {
    for (const message of batch) {
      try {
        await this.prepare(message);
        if (message.type === 'money' && message.request.kind === 'reverse') await this.handleReverse(message);
        else this.handle(message);
      } catch (error) {
        this.fail([message], error);
      }
    }
  }

  fail(batch: FleetMessage[], error: unknown): void {
    const failure = error instanceof TaplineError ? error : new TaplineError('internal', 'fleet actor failed', { cause: String(error) });
    this.loaded = false;
    for (const message of batch) message.reply({ ok: false, error: failure });
  }

  // -------------------------------------------------------------------------------------------
  // Loading: the account on first use (and after a conflict), cards and vehicles on demand.

  private needs(message: FleetMessage): { card?: string; vehicle?: string } {
    switch (message.type) {
      case 'money': {
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
        this.account = await this.load<FleetAccountState>({ kind: 'fleet', id: this.fleetId });
        this.review = await this.load<ReviewQueue>({ kind: 'review', id: this.fleetId });
        this.loaded = true;
      }
      if (card !== undefined && !this.cards.has(card))
        this.remember(this.cards, card, await this.load<FleetCardState>({ kind: 'fleet_card', id: card }));
      if (vehicle !== undefined && !this.vehicles.has(vehicle))
        this.remember(this.vehicles, vehicle, await this.load<VehicleState>({ kind: 'vehicle', id: vehicle }));
      // A commit that failed while we awaited a read invalidated everything: read again.
      if (this.loaded && (card === undefined || this.cards.has(card)) && (vehicle === undefined || this.vehicles.has(vehicle))) return;
    }
    throw unavailable('fleet account kept changing while loading; retry', { fleetId: this.fleetId });
  }

  private remember<S>(map: Map<string, Slot<S>>, id: string, slot: Slot<S>): void {
    if (!this.loaded) return;
    if (map.size >= fleet_records_cached_max && this.uncommitted === 0) map.clear();
    map.set(id, slot);
  }

  private async load<S>(entity: EntityId): Promise<Slot<S>> {
    const record = await this.context.persistence.loadEntity(this.shard, entity);
    const state = record.data === undefined ? undefined : (JSON.parse(record.data) as S);
    return { state, version: record.version, durable: state };
  }

  private handle(message: FleetMessage): void {
    switch (message.type) {
      case 'money':
        this.handleMoney(message);
        return;
      case 'account':
        this.handleAccount(message);
        return;
      case 'card':
        this.handleCard(message);
        return;
      case 'get_account':
        if (this.account.durable === undefined)
          message.reply({ ok: false, error: notFound('fleet account not found', { fleetId: this.fleetId }) });
        else message.reply({ ok: true, value: this.account.durable });
        return;
      case 'list_review':
        if (this.account.durable === undefined)
          message.reply({ ok: false, error: notFound('fleet account not found', { fleetId: this.fleetId }) });
        else
          message.reply({ ok: true, value: { queue: this.review.durable ?? empty_review_queue, currency: this.account.durable.currency } });
        return;
      case 'resolve_review':
        this.handleResolve(message);
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

  private answeredByIndex(message: Extract<FleetMessage, { type: 'money' }>): boolean {
    const { request } = message;
    const known = this.context.idempotency.lookup(request.key);
    if (known === undefined) return false;
    if (known.state === 'done') {
      replyFromRecord(message, known.record);
      return true;
    }
    if (known.pending.fingerprint !== request.fingerprint) {
      message.reply({ ok: false, error: reusedKey(request.key) });
      return true;
    }
    known.pending.waiters.push((record) => {
      if (record) replyFromRecord(message, record);
      else this.retellOrFail(message);
    });
    return true;
  }

  private handleMoney(message: Extract<FleetMessage, { type: 'money' }>): void {
    if (this.answeredByIndex(message)) return;
    const { request } = message;
    const account = this.account.state;
    const cardSlot = this.cards.get(request.cardId) as Slot<FleetCardState>;
    if (account === undefined || cardSlot.state === undefined) {
      message.reply({ ok: false, error: notFound('card not found', { cardId: request.cardId }) });
      return;
    }
    const prompts = request.fleet.prompts;
    const vehicleSlot = prompts.odometer_km > 0 ? this.vehicles.get(this.vehicleId(odometerSubject(prompts, request.cardId))) : undefined;
    const atMs = this.context.clock();
    const decision = decideFleetPurchase(account, cardSlot.state, vehicleSlot?.state, {
      atMs,
      amountMinor: request.amountMinor,
      currency: request.currency,
      merchantId: message.merchantId,
      terminalId: request.terminalId,
      lines: request.fleet.lines,
      prompts,
    });
    const approved = decision.kind === 'approved';
    const accountAfter = approved ? decision.account : account;
    const result: FleetTxnResult = {
      id: this.context.nextTransactionId(),
      kind: 'purchase',
      outcome: approved ? 'approved' : 'declined',
      // Rule reasons travel in the same field as card reasons; the gRPC mapping knows both.
      reason: approved ? undefined : decision.reason,
      rule: approved ? undefined : decision.rule,
      cardId: request.cardId,
      amountMinor: approved ? request.amountMinor : 0,
      currency: account.currency,
      balanceAfterMinor: accountAfter.creditLimitMinor + accountAfter.balanceMinor,
      atMs,
      fleet: {
        fleetId: this.fleetId,
        pumpMinor: approved ? decision.pumpMinor : 0,
        invoicedMinor: approved ? decision.invoicedMinor : 0,
        discountMinor: approved ? decision.discountMinor : 0,
        pointsEarned: approved ? decision.pointsEarned : 0,
        pointsRedeemed: 0,
        flags: approved ? decision.flags : [],
        accountBalanceAfterMinor: accountAfter.balanceMinor,
        driverId: prompts.driver_id,
        vehicleId: prompts.vehicle_id,
      },
    };
    const stored = encodeRecord(
      fleetStoredTransaction(
        request,
        { merchantId: message.merchantId, programId: this.fleetId },
        result,
        approved ? decision.invoicedLinesMinor : [],
      ),
    );
    const record: IdempotencyRecord = { f: request.fingerprint, r: result };
    const changes: SlotChange[] = [
      { slot: this.account, entity: { kind: 'fleet', id: this.fleetId }, after: approved ? decision.account : undefined },
      {
        slot: cardSlot,
        entity: { kind: 'fleet_card', id: request.cardId },
        after: decision.card !== cardSlot.state ? decision.card : undefined,
      },
    ];
    if (approved && decision.flags.length > 0) {
      const queued = enqueueReview(this.review.state ?? empty_review_queue, {
        id: result.id,
        card: request.cardId,
        amount_minor: request.amountMinor,
        flags: decision.flags,
        at_ms: atMs,
      });
      changes.push({ slot: this.review, entity: { kind: 'review', id: this.fleetId }, after: queued });
    }
    if (approved && decision.vehicle !== undefined) {
      const id = this.vehicleId(odometerSubject(prompts, request.cardId));
      changes.push({ slot: vehicleSlot as Slot<VehicleState>, entity: { kind: 'vehicle', id }, after: decision.vehicle });
    }
    this.context.idempotency.begin(request.key, request.fingerprint);
    const submitted = this.submit(changes, { key: request.key, value: stored }, stored, (outcome) =>
      this.settleMoney(message, record, outcome),
    );
    if (!submitted) {
      this.context.idempotency.abandon(request.key);
      message.reply({ ok: false, error: resourceExhausted('commit queue full', { fleetId: this.fleetId }) });
    }
  }

  /**
   * A reversal of one of the account's purchases, with the card actor's semantics (docs/DECISIONS.md,
   * "Reversal tombstones"): REVERSED gives the invoiced amount back to the account once (a claim on
   * the original's key), ALREADY_REVERSED after that, NOTHING_TO_REVERSE for a declined or unknown
   * original, and an unknown original is tombstoned so that, arriving late, it is declined.
   */
  private async handleReverse(message: Extract<FleetMessage, { type: 'money' }>): Promise<void> {
    if (this.answeredByIndex(message)) return;
    const { request } = message;
    const originalKey = request.originalKey;
    const known = this.context.idempotency.lookup(originalKey);
    if (known?.state === 'pending') {
      known.pending.waiters.push(() => this.retellOrFail(message));
      return;
    }
    const stored = known?.state === 'done' ? known.record : await this.readRecord(originalKey);
    await this.prepare(message);
    if (this.account.state === undefined || this.cards.get(request.cardId)?.state === undefined) {
      message.reply({ ok: false, error: notFound('card not found', { cardId: request.cardId }) });
      return;
    }
    if (stored !== undefined && stored.f !== tombstone_fingerprint && stored.r.cardId !== request.cardId) {
      message.reply({ ok: false, error: invalidArgument('original transaction belongs to another card', { originalKey }) });
      return;
    }
    if (stored !== undefined && stored.r.kind !== 'purchase') {
      message.reply({ ok: false, error: invalidArgument('only purchases can be reversed', { originalKey, kind: stored.r.kind }) });
      return;
    }
    if (stored === undefined || stored.r.outcome !== 'approved' || !isFleetTxnResult(stored.r)) {
      if (this.answeredByIndex(message)) return;
      this.commitReversal(message, 'nothing_to_reverse', undefined, stored === undefined);
      return;
    }
    const alreadyReversed =
      this.reversalsInFlight.has(originalKey) || (await this.context.persistence.loadReversalClaim(originalKey)) !== undefined;
    await this.prepare(message);
    if (this.answeredByIndex(message)) return;
    this.commitReversal(message, alreadyReversed ? 'already_reversed' : 'reversed', stored.r, false);
  }

  private async readRecord(key: string): Promise<IdempotencyRecord | undefined> {
    const value = await this.context.persistence.loadIdempotencyRecord(key);
    return value === undefined ? undefined : decodeFleetRecord(value);
  }

  private commitReversal(
    message: Extract<FleetMessage, { type: 'money' }>,
    outcome: ReverseOutcome,
    original: FleetTxnResult | undefined,
    tombstone: boolean,
  ): void {
    const { request } = message;
    const account = this.account.state as FleetAccountState;
    const cardSlot = this.cards.get(request.cardId) as Slot<FleetCardState>;
    const card = cardSlot.state as FleetCardState;
    const atMs = this.context.clock();
    const id = this.context.nextTransactionId();
    const reversing = outcome === 'reversed' && original !== undefined;
    const after = reversing
      ? reverseFleetPurchase(account, card, {
          pumpMinor: original.fleet.pumpMinor,
          invoicedMinor: original.fleet.invoicedMinor,
          pointsEarned: original.fleet.pointsEarned,
          atMs: original.atMs,
        })
      : undefined;
    const accountAfter = after?.account ?? account;
    const result: FleetTxnResult = {
      id,
      kind: 'reverse',
      outcome: 'approved',
      cardId: request.cardId,
      amountMinor: reversing ? original.amountMinor : 0,
      currency: account.currency,
      balanceAfterMinor: accountAfter.creditLimitMinor + accountAfter.balanceMinor,
      atMs,
      reverse: outcome,
      fleet: {
        fleetId: this.fleetId,
        pumpMinor: reversing ? original.fleet.pumpMinor : 0,
        invoicedMinor: reversing ? original.fleet.invoicedMinor : 0,
        discountMinor: 0,
        pointsEarned: 0,
        pointsRedeemed: 0,
        flags: [],
        accountBalanceAfterMinor: accountAfter.balanceMinor,
      },
    };
    const context = { merchantId: message.merchantId, programId: this.fleetId };
    const claims: { kind: 'idempotency' | 'reversal'; key: string; value: string }[] = [];
    if (reversing) claims.push({ kind: 'reversal', key: request.originalKey, value: id });
    if (tombstone) {
      const tombstoneResult: TxnResult = {
        id: `${id}.t`,
        kind: 'purchase',
        outcome: 'declined',
        reason: 'reversed_before_authorization',
        rule: 'reversal',
        cardId: request.cardId,
        amountMinor: 0,
        currency: account.currency,
        balanceAfterMinor: account.creditLimitMinor + account.balanceMinor,
        atMs,
      };
      const tombstoneRequest: MoneyRequest = { ...request, kind: 'purchase', key: request.originalKey, amountMinor: 0, originalKey: '' };
      claims.push({
        kind: 'idempotency',
        key: request.originalKey,
        value: encodeRecord(storedTransaction(tombstoneRequest, context, tombstoneResult, tombstone_fingerprint)),
      });
    }
    // The reversal names the purchase's driver and vehicle (no odometer: it is no new reading), so a
    // vehicle's invoice lines net out; the reversal request itself carries no prompts.
    const prompts = {
      odometer_km: 0,
      driver_id: reversing ? (original.fleet.driverId ?? '') : '',
      vehicle_id: reversing ? (original.fleet.vehicleId ?? '') : '',
    };
    const stored = encodeRecord(fleetStoredTransaction({ ...request, fleet: { ...request.fleet, prompts } }, context, result, []));
    const record: IdempotencyRecord = { f: request.fingerprint, r: result };
    const changes: SlotChange[] = [
      { slot: this.account, entity: { kind: 'fleet', id: this.fleetId }, after: after?.account },
      { slot: cardSlot, entity: { kind: 'fleet_card', id: request.cardId }, after: after?.card },
    ];
    this.context.idempotency.begin(request.key, request.fingerprint);
    const submitted = this.submit(
      changes,
      { key: request.key, value: stored },
      stored,
      (settled) => {
        if (reversing) this.reversalsInFlight.delete(request.originalKey);
        this.settleMoney(message, record, settled);
      },
      claims,
    );
    if (!submitted) {
      this.context.idempotency.abandon(request.key);
      message.reply({ ok: false, error: resourceExhausted('commit queue full', { fleetId: this.fleetId }) });
      return;
    }
    if (reversing) this.reversalsInFlight.add(request.originalKey);
  }

  private settleMoney(message: Extract<FleetMessage, { type: 'money' }>, record: IdempotencyRecord, outcome: CommitResult): void {
    const { request } = message;
    switch (outcome.status) {
      case 'committed':
        this.context.idempotency.complete(request.key, record);
        this.context.onDecision?.(record.r);
        message.reply({ ok: true, value: { result: record.r, replayed: false } });
        return;
      case 'duplicate': {
        const stored = decodeFleetRecord(outcome.existing);
        this.context.idempotency.complete(request.key, stored);
        replyFromRecord(message, stored);
        return;
      }
      case 'conflict':
        this.context.idempotency.abandon(request.key);
        this.retellOrFail(message);
        return;
      default:
        this.context.idempotency.abandon(request.key);
        message.reply({ ok: false, error: settledFailure(outcome) });
    }
  }

  // -------------------------------------------------------------------------------------------
  // Administration.

  private handleAccount(message: Extract<FleetMessage, { type: 'account' }>): void {
    const before = this.account.state;
    const decision = decideFleetAdmin(this.fleetId, before, message.command);
    if (decision.kind === 'rejected') {
      message.reply({ ok: false, error: new TaplineError(decision.code, decision.message, { fleetId: this.fleetId }) });
      return;
    }
    if (decision.kind === 'unchanged') {
      message.reply({ ok: true, value: { state: decision.state, alreadyExisted: true } });
      return;
    }
    const after = decision.state;
    const event =
      message.command.type === 'create'
        ? 'created'
        : message.command.type === 'set_limits'
          ? 'limits'
          : message.command.type === 'set_policy'
            ? 'policy'
            : 'pricing';
    const audit = JSON.stringify({
      type: 'fleet_account_changed',
      fleet: this.fleetId,
      currency: after.currency,
      event,
      operator: message.operatorId,
      reason: '',
      at: this.context.clock(),
    });
    const submitted = this.submit(
      [{ slot: this.account, entity: { kind: 'fleet', id: this.fleetId }, after }],
      undefined,
      audit,
      (outcome) => {
        if (outcome.status === 'committed') message.reply({ ok: true, value: { state: after, alreadyExisted: false } });
        else this.adminFailed(message, outcome);
      },
    );
    if (!submitted) message.reply({ ok: false, error: resourceExhausted('commit queue full', { fleetId: this.fleetId }) });
  }

  private handleCard(message: Extract<FleetMessage, { type: 'card' }>): void {
    const account = this.account.state;
    const slot = this.cards.get(message.cardId) as Slot<FleetCardState>;
    const before = slot.state;
    const decision = decideFleetCard(account, message.cardId, before, message.command);
    if (decision.kind === 'rejected') {
      message.reply({ ok: false, error: new TaplineError(decision.code, decision.message, { cardId: message.cardId }) });
      return;
    }
    const acc = account as FleetAccountState;
    if (decision.kind === 'unchanged') {
      message.reply({ ok: true, value: { state: decision.state, account: acc, alreadyExisted: true } });
      return;
    }
    const after = decision.state;
    const at = this.context.clock();
    const operator = message.operatorId;
    let audit: Record<string, unknown>;
    if (message.command.type === 'issue') {
      audit = {
        type: 'card_issued',
        card: message.cardId,
        program: this.fleetId,
        currency: acc.currency,
        status: after.status,
        amount: 0,
        fleet: this.fleetId,
        operator,
        reason: '',
        at,
      };
    } else if (message.command.type === 'set_status') {
      audit = {
        type: 'card_status_changed',
        card: message.cardId,
        program: this.fleetId,
        status: after.status,
        previous: before?.status ?? '',
        operator,
        reason: '',
        at,
      };
    } else {
      audit = {
        type: 'operator_action',
        action: 'fleet_card_limits',
        subject: message.cardId,
        detail: JSON.stringify({ limits: after.limits, groups: after.allowedGroups ?? null }),
        operator,
        reason: '',
        at,
      };
    }
    const changes: SlotChange[] = [
      // The card is issued against the account as it is: check its version too.
      { slot: this.account, entity: { kind: 'fleet', id: this.fleetId }, after: undefined },
      { slot, entity: { kind: 'fleet_card', id: message.cardId }, after },
    ];
    const submitted = this.submit(changes, undefined, JSON.stringify(audit), (outcome) => {
      if (outcome.status === 'committed') message.reply({ ok: true, value: { state: after, account: acc, alreadyExisted: false } });
      else this.adminFailed(message, outcome);
    });
    if (!submitted) message.reply({ ok: false, error: resourceExhausted('commit queue full', { fleetId: this.fleetId }) });
  }

  private handleResolve(message: Extract<FleetMessage, { type: 'resolve_review' }>): void {
    if (this.account.state === undefined) {
      message.reply({ ok: false, error: notFound('fleet account not found', { fleetId: this.fleetId }) });
      return;
    }
    const before = this.review.state ?? empty_review_queue;
    const after = resolveReview(before, message.transactionId);
    if (after === before) {
      message.reply({ ok: false, error: notFound('transaction is not in the review queue', { transactionId: message.transactionId }) });
      return;
    }
    const audit = JSON.stringify({
      type: 'operator_action',
      action: 'review_resolved',
      subject: message.transactionId,
      detail: JSON.stringify({ fleet: this.fleetId, note: message.note }),
      operator: message.operatorId,
      reason: '',
      at: this.context.clock(),
    });
    const submitted = this.submit(
      [{ slot: this.review, entity: { kind: 'review', id: this.fleetId }, after }],
      undefined,
      audit,
      (outcome) => {
        if (outcome.status === 'committed') message.reply({ ok: true, value: after });
        else this.adminFailed(message, outcome);
      },
    );
    if (!submitted) message.reply({ ok: false, error: resourceExhausted('commit queue full', { fleetId: this.fleetId }) });
  }

  private adminFailed(message: FleetMessage, outcome: CommitResult): void {
    if (outcome.status === 'conflict') this.retellOrFail(message);
    else message.reply({ ok: false, error: settledFailure(outcome) });
  }

  // -------------------------------------------------------------------------------------------
  // Commit: one entry with every record that changed (or whose version the decision read).

  private submit(
    changes: SlotChange[],
    idempotency: CommitEntry['idempotency'],
    outbox: string,
    settle: (outcome: CommitResult) => void,
    claims: CommitEntry['claims'] = [],
  ): boolean {
    const writes: EntityWrite[] = changes.map(({ slot, entity, after }) => ({
      entity,
      expectVersion: slot.version,
      data: after === undefined ? undefined : JSON.stringify(after),
    }));
    const entry: CommitEntry = {
      shard: this.shard,
      writes,
      ...(idempotency !== undefined ? { idempotency } : {}),
      ...(claims.length > 0 ? { claims } : {}),
      outbox,
      settle: (outcome) => {
        this.uncommitted -= 1;
        if (outcome.status === 'committed') {
          for (const { slot, after } of changes) if (after !== undefined) slot.durable = after;
        } else {
          // Whatever was decided after this entry was built on it: reload everything.
          this.loaded = false;
        }
        settle(outcome);
      },
    };
    if (!this.context.persistence.submit(entry)) return false;
    this.uncommitted += 1;
    for (const { slot, after } of changes) {
      if (after === undefined) continue;
      slot.state = after;
      slot.version += 1;
    }
    return true;
  }

  private retellOrFail(message: FleetMessage): void {
    if (message.attempt + 1 >= this.context.conflict_attempts_max) {
      message.reply({
        ok: false,
        error: unavailable('fleet account state kept changing under this request; retry', { fleetId: this.fleetId }),
      });
      return;
    }
    const again = { ...message, attempt: message.attempt + 1 } as FleetMessage;
    if (!this.context.retell(this.fleetId, again))
      message.reply({ ok: false, error: resourceExhausted('fleet mailbox full', { fleetId: this.fleetId }) });
  }
}

interface SlotChange {
  readonly slot: Slot<unknown>;
  readonly entity: EntityId;
  /** New state, or undefined when the decision only read it (version check). */
  readonly after: unknown;
}

function replyFromRecord(message: Extract<FleetMessage, { type: 'money' }>, record: IdempotencyRecord): void {
  const answer = answerFromRecord(record, message.request.fingerprint);
  if (answer) message.reply({ ok: true, value: answer });
  else message.reply({ ok: false, error: reusedKey(message.request.key) });
}

function reusedKey(key: string): TaplineError {
  return alreadyExists('idempotency key was already used for a different request', { key });
}

function settledFailure(outcome: CommitResult): TaplineError {
  if (outcome.status === 'fenced') return shardMoved('shard moved to another node; retry with the same key');
  if (outcome.status === 'failed') return unavailable('could not persist; retry with the same key', { cause: outcome.error.message });
  return unavailable('could not persist; retry with the same key');
}
