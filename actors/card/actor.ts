// The card actor: a thin shell over the entity host (through the card's side of it, host.ts). It
// reads what a command needs from Redis (the card itself, then the facts of facts.ts: a
// reversal's or refund's original, a replacement's new card, a named card's holder), calls the
// card's pure decisions (decide.ts) in order, and hands each plan to group commit. The reply
// leaves only when the decision is durable (persist before reply). Decisions chain on the
// in-memory state while earlier ones are still committing; each carries the version it was
// decided on, so if one does not land the ones after it are refused by Redis too, the actor
// reloads and decides them again.

import { alreadyExists, failedPrecondition, notFound } from '../errors';
import { parseListingHistory } from '../offline/denylist';
import { decodeCardState } from '../state/card';
import {
  decideAdmin,
  decideMoney,
  decideOfflineSale,
  decideRefundRequest,
  decideReplacement,
  decideReversal,
  isReversalKind,
  releasesExpiredHolds,
} from './decide';
import {
  adminEnv,
  cardOriginalNeeds,
  decidedOnFacts,
  loadHolder,
  loadListingHistory,
  loadOriginalFacts,
  loadReplacementFacts,
  loadSpentKeyFacts,
  readsFacts,
  reissuesNamed,
} from './facts';
import { CardHost, type Money } from './host';
import { decideCancelIssuance } from './issuance-cancel';
import type { CardMessage } from './messages';

export type { Reply } from '../runtime/entity-host';
export type { AdminAnswer, ReplaceAnswer } from './decide';
export type { CardActorContext, CardMessage } from './messages';

type Admin = Extract<CardMessage, { type: 'admin' }>;

export class CardBehavior extends CardHost {
  protected needsAwait(message: CardMessage): boolean {
    return this.needsReload || readsFacts(message, this.state);
  }

  protected async handleAwaiting(message: CardMessage): Promise<void> {
    if (this.needsReload) await this.reload();
    if (message.type === 'money' && decidedOnFacts(message.request)) await this.decideOnFacts(message);
    else if (message.type === 'replace') await this.replace(message);
    else if (message.type === 'cancel_issuance') await this.cancelIssuance(message);
    else if (reissuesNamed(message, this.state)) await this.reissueNamed(message as Admin);
    else this.handle(message);
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
   * A money request decided on facts read first (facts.ts). A key that must stay spent (a PSP
   * callback) is answered from its stored record when Redis still has one (a node that restarted
   * may not know it), refused when only its spent record is left (the answer expired), else
   * decided; its commit writes the spent record. An offline sale is decided on the card's listing
   * history (only a card listed once has one). A reversal or refund is decided on its original,
   * once the original has settled if it is still committing.
   */
  private async decideOnFacts(message: Money): Promise<void> {
    if (this.answerFromIndex(message)) return;
    if (this.state === undefined || this.state.status === 'unissued') return this.notFound(message.reply);
    const { request, merchantId } = message;
    if (request.recordSpent === true) {
      const facts = await loadSpentKeyFacts(this.reads(), this.cardId, request.key);
      if (facts.stored !== undefined) return this.answerFromStored(message, facts.stored);
      if (!(await this.readyAfterAwait(message))) return;
      if (facts.spent)
        return message.reply({
          ok: false,
          error: alreadyExists('this key was applied already; its answer is no longer kept', { key: request.key }),
        });
      return this.decideNow(message);
    }
    if (request.kind === 'offline_purchase') {
      if (this.state.denylistHistory !== true) return this.decideNow(message);
      const stored = await loadListingHistory(this.reads(), this.cardId);
      if (!(await this.readyAfterAwait(message))) return;
      return this.commitDecision(message, decideOfflineSale(this.state, request, merchantId, parseListingHistory(stored), this.env()));
    }
    const waiters = this.pendingKey(request.originalKey);
    if (waiters !== undefined) return this.waitForKey(waiters, message.reply, () => this.retry(message, false));
    const facts = await loadOriginalFacts(
      this.reads(),
      request.originalKey,
      (key) => this.reversalsInFlight?.has(key) === true,
      cardOriginalNeeds(request),
    );
    if (!(await this.readyAfterAwait(message))) return;
    const decide = isReversalKind(request.kind) ? decideReversal : decideRefundRequest;
    this.commitDecision(message, decide(this.state, request, merchantId, facts, this.env()));
  }

  /** Replaces the card by a new one; one commit writes both (and the holder a named card keeps). */
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
    const facts = await loadReplacementFacts(this.reads(), this.cardId, this.state, message.command);
    if (!this.loaded) await this.reload();
    if (this.state === undefined) return this.notFound(message.reply);
    const decision = decideReplacement(this.state, message.command, facts, this.env(), decodeCardState);
    if (decision.kind === 'rejected') return this.answerRefusal(message, decision.error);
    if (decision.kind === 'answer') return this.answerRepeat(message, decision.answer);
    const { writes, outbox, extraOutbox, denylist } = decision;
    // The new card's shard may belong to another node: its writes only create (version 0).
    const plan = { writes, outbox, extraOutbox, fenceOwnShardOnly: true, denylist };
    this.commitChange(message, decision.after, plan, { ok: true, value: decision.answer }, (committed) => {
      if (committed) this.context.invalidate?.(replacementId);
    });
  }

  /** Cancels the card's issuance: reads a named card's holder record (blanked in the same commit), then decides. */
  private async cancelIssuance(message: Extract<CardMessage, { type: 'cancel_issuance' }>): Promise<void> {
    const named = this.state?.profile?.named === true;
    const holder = named ? await loadHolder(this.reads(), this.cardId) : undefined;
    if (!this.loaded) await this.reload();
    if (named !== (this.state?.profile?.named === true)) return this.retry(message, false);
    const decision = decideCancelIssuance(this.state, message.command, { holder }, this.context.clock());
    if (decision.kind === 'rejected') return this.answerRefusal(message, decision.error);
    if (decision.kind === 'answer') return this.answerRepeat(message, decision.answer);
    this.commitChange(
      message,
      decision.after,
      { writes: decision.writes, outbox: decision.document },
      { ok: true, value: decision.answer },
    );
  }

  /** An issue of a named card on an unissued card: written over its holder record at the version read. */
  private async reissueNamed(message: Admin): Promise<void> {
    const holder = await loadHolder(this.reads(), this.cardId);
    if (!this.loaded) await this.reload();
    if (message.command.type !== 'issue') return;
    this.admin({ ...message, command: { ...message.command, holderVersion: holder.version } });
  }

  private admin(message: Admin): void {
    const env = adminEnv(this.state, message.command, this.context.programs, this.context.clock(), this.shard);
    const decision = decideAdmin(this.state, message.command, env);
    if (decision.kind === 'rejected') return this.answerRefusal(message, decision.error);
    if (decision.kind === 'unchanged') return this.answerRepeat(message, decision.answer);
    // A refusal that still changes the card (a wrong PIN attempt counted): written, and audited,
    // before the refusal is answered.
    if (decision.kind === 'refused_after') {
      const counted = decision.document === undefined ? {} : { outbox: decision.document };
      return this.commitChange(message, decision.after, counted, { ok: false, error: decision.error });
    }
    // A right PIN that clears counted wrong attempts: written before it is answered, with no event.
    if (decision.kind === 'counted') return this.commitChange(message, decision.after, {}, { ok: true, value: decision.answer });
    const { writes, document, denylist, extraOutbox } = decision;
    this.commitChange(message, decision.after, { writes, outbox: document, denylist, extraOutbox }, { ok: true, value: decision.answer });
  }
}
