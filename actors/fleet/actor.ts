// The fleet account actor: one per fleet account, on the fleet's shard, a thin shell over the
// entity host (through the account's side of it, host.ts). It owns the account (credit,
// fleet-wide counters, policy, prices) and decides every authorization of the account's cards
// (decide.ts), so the account, the card and the vehicle's odometer change in ONE commit entry: the
// fleet-wide limit and the credit limit are checked and spent atomically, and cards racing each
// other are simply sequenced here. Cards and vehicles are separate Redis records (so a commit
// writes only what changed), loaded on first use and kept in memory while the actor is active.

import { notFound } from '../errors';
import { loadOriginalFacts } from '../card/facts';
import { empty_review_queue } from '../rules/review-queue';
import { stampOf, type Slot } from '../runtime/entity-host';
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
} from './decide';
import { decidedOnOriginal, fleetOriginalNeeds, vehicleOf } from './facts';
import { FleetHost, write, type Money } from './host';
import type { FleetMessage } from './messages';
import type { FleetAccountState, FleetCardState } from './rules';
import { decodeFleetRecord } from './transaction';

export { fleet_records_cached_max } from './host';
export type { FleetAccountAnswer, FleetActorContext, FleetCardAnswer, FleetMessage } from './messages';

export class FleetBehavior extends FleetHost {
  /** Every message may need a card or vehicle record loaded first. */
  protected needsAwait(): boolean {
    return true;
  }

  protected async handleAwaiting(message: FleetMessage): Promise<void> {
    await this.prepare(message);
    if (message.type === 'money' && decidedOnOriginal(message.request)) await this.decideOnOriginal(message);
    else this.handle(message);
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

  private purchase(message: Money): void {
    if (this.answerFromIndex(message)) return;
    const { request } = message;
    const account = this.account.state;
    if (request.kind === 'fleet_payment') return this.payment(message, account);
    const cardSlot = this.cards.get(request.cardId) as Slot<FleetCardState>;
    if (account === undefined || cardSlot.state === undefined) return this.cardNotFound(message);
    const vehicle = vehicleOf(this.fleetId, request);
    const vehicleSlot = vehicle === undefined ? undefined : this.vehicles.get(vehicle);
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
    if (this.answerFromIndex(message)) return;
    const { request, merchantId } = message;
    const waiters = this.pendingKey(request.originalKey);
    if (waiters !== undefined) return this.waitForKey(waiters, message.reply, () => this.retry(message, false));
    const reversing = (key: string): boolean => this.reversalsInFlight.has(key);
    const facts = await loadOriginalFacts(this.reads(), request.originalKey, reversing, fleetOriginalNeeds(request));
    await this.prepare(message);
    if (this.answerFromIndex(message)) return;
    const account = this.account.state;
    const cardSlot = this.cards.get(request.cardId);
    if (account === undefined || cardSlot?.state === undefined) return this.cardNotFound(message);
    const decide = request.kind === 'reverse' ? decideFleetReversal : decideFleetRefundRequest;
    const decision = decide(this.fleetId, { account, card: cardSlot.state }, request, merchantId, facts, this.env());
    if (decision.kind === 'rejected') return message.reply({ ok: false, error: decision.error });
    this.commitMoneyPlan(message, decision, cardSlot, undefined);
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
    if (decision.kind === 'rejected') return this.answerRefusal(message, decision.error);
    const account = this.account.state as FleetAccountState;
    if (decision.kind === 'unchanged') return this.answerRepeat(message, { state: decision.state, account, alreadyExisted: true });
    // The card is issued against the account as it is: its version is checked too.
    const slots = [write('fleet', this.fleetId, this.account, undefined), write('fleet_card', message.cardId, slot, decision.after)];
    this.commitChange(message, slots, decision.document, { state: decision.after, account, alreadyExisted: false });
  }

  private accountChange(message: Extract<FleetMessage, { type: 'account' }>): void {
    const decision = decideAccountChange(this.fleetId, this.account.state, message.command, message.operatorId, this.env());
    if (decision.kind === 'rejected') return this.answerRefusal(message, decision.error);
    if (decision.kind === 'unchanged') return this.answerRepeat(message, { state: decision.state, alreadyExisted: true });
    const slots = [write('fleet', this.fleetId, this.account, decision.after)];
    this.commitChange(message, slots, decision.document, { state: decision.after, alreadyExisted: false });
  }

  private closeCycle(message: Extract<FleetMessage, { type: 'close_cycle' }>): void {
    const decision = decideCycleClose(this.fleetId, this.account.state, message.cycle, message.operatorId, this.env());
    if (decision.kind === 'rejected') return this.answerRefusal(message, decision.error);
    if (decision.kind === 'unchanged') return this.answerRepeat(message, decision.answer);
    const slots = [write('fleet', this.fleetId, this.account, decision.answer.account)];
    this.commitChange(message, slots, decision.document, decision.answer);
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
    if (decision.kind === 'rejected') return this.answerRefusal(message, decision.error);
    if (decision.kind === 'unchanged') return this.answerRepeat(message, decision.state);
    const slots = [write('review', this.fleetId, this.review, decision.after)];
    this.commitChange(message, slots, decision.document, decision.after);
  }
}
