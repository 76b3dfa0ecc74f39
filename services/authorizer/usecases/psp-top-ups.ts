// Top-ups paid at a PSP: starting a payment the holder completes there, applying what the PSP
// reports about it (a successful payment tops the card up once per PSP reference; a failed one
// moves nothing), and storing a card's auto-reload mandate: set by the desk, or obtained by a first
// payment the holder starts with the auto-reload chosen, stored with that payment's top-up, in the
// same commit, when the PSP reports it paid, with the mandate the PSP reports. The PSP reports a payment by a signed
// callback (HandlePspCallback, the simulated PSP) or by a webhook naming only the payment's id
// (Mollie), whose payment is then fetched from the PSP's API on the card's owner. Without a PSP
// configured on the node each of them is FAILED_PRECONDITION.

import type { Acting } from '../../../actors/principal';
import { failedPrecondition, invalidArgument } from '../../../actors/errors';
import { decide, type AutoReload, type CardState } from '../../../actors/card/rules';
import { isBoundedAmount } from '../../../actors/money';
import type { ProgramSource } from '../../../actors/program/registry';
import { fingerprintOf, type MoneyRequest, type TxnAnswer } from '../../../actors/card/transaction';
import { pspTopUpKey } from '../../../actors/request-keys';
import type { ShardRegion } from '../../../actors/sharding/shard-region';
import type { CardFanout, PspWebhookOutcome } from './card-fanout';
import { outcomeOf } from './outcome';
import {
  checkSignedAt,
  parsePspPayload,
  verifyPspSignature,
  type AutoReloader,
  type AutoReloadSetup,
  type PspAdapter,
  type PspPayment,
} from './psp';

/** The node's PSP: its adapter, the signed callbacks' secret (if they are served) and the auto-reload trigger. */
export interface PspWiring {
  readonly adapter: PspAdapter;
  /** Set only for an integration that signs its callbacks (the simulated PSP). */
  readonly secret: string | undefined;
  readonly autoReloader: AutoReloader;
}

/** What a PSP report did: the top-up's answer, or a failed payment acknowledged. */
export type PspCallbackAnswer = { readonly failed: true } | { readonly failed: false; readonly answer: TxnAnswer };

export interface PspTopUpStart {
  readonly cardId: string;
  readonly amountMinor: number;
  readonly currency: string;
  /** Set: a first payment that obtains a mandate for this auto-reload. */
  readonly autoReload?: AutoReloadSetup;
}

export interface AutoReloadChange {
  readonly cardId: string;
  /** undefined removes the card's mandate. */
  readonly autoReload: AutoReload | undefined;
  readonly acting: Acting;
}

type Region = Pick<ShardRegion, 'balance' | 'money' | 'setAutoReload'>;

export class PspTopUps {
  constructor(
    private readonly region: Region,
    private readonly psp: PspWiring | undefined,
    private readonly clock: () => number,
    /** Reaches a card's owner (a webhook arrives at any node). */
    private readonly fanout: Pick<CardFanout, 'applyPspWebhook'>,
    /** The card's program: its top-up and balance maximums, checked before the holder pays. */
    private readonly programs: Pick<ProgramSource, 'ensure' | 'get'>,
  ) {}

  /**
   * Starts a payment at the PSP for an existing card, in the card's currency, only when the card
   * could take the top-up now (status, currency, the program's top-up and balance maximums): the
   * holder is not sent to pay for money the card would decline. With an auto-reload setup, the
   * setup is checked against the program too and the payment is a first payment.
   */
  async start(start: PspTopUpStart): Promise<{ reference: string; paymentUrl: string }> {
    const psp = this.required('PSP top-ups need');
    // The card must exist before the holder is sent to pay.
    const card = await outcomeOf<CardState>((reply) => this.region.balance(start.cardId, reply));
    if (card.currency !== start.currency) throw invalidArgument("amount.currency is not the card's currency");
    await this.programs.ensure(card.programId);
    const program = this.programs.get(card.programId);
    const decision = decide(card, {
      type: 'top_up',
      amountMinor: start.amountMinor,
      currency: start.currency,
      maxBalanceMinor: program.maxBalanceMinor,
      maxTopUpMinor: program.maxTopUpMinor,
    });
    if (decision.kind === 'declined')
      throw failedPrecondition(`the card cannot take this top-up now (${decision.reason})`, {
        reason: decision.reason,
        rule: decision.rule,
      });
    if (decision.kind === 'rejected') throw failedPrecondition(decision.message);
    if (start.autoReload !== undefined) checkSetup(start.autoReload, program);
    return psp.adapter.startPayment(start.cardId, start.amountMinor, start.currency, start.autoReload);
  }

  /**
   * Verifies and applies a signed PSP callback (from gRPC or a PSP running in this process):
   * signature, payload, then its signing instant.
   */
  async handleCallback(payload: string, signature: string): Promise<PspCallbackAnswer> {
    const psp = this.required('PSP callbacks need');
    if (psp.secret === undefined)
      throw failedPrecondition("signed PSP callbacks are not served here: this node's PSP reports payments by webhook");
    const refused = verifyPspSignature(psp.secret, payload, signature);
    if (refused !== undefined) throw refused;
    const event = parsePspPayload(payload);
    const stale = checkSignedAt(event, this.clock());
    if (stale !== undefined) throw stale;
    return this.apply(psp, event);
  }

  /**
   * A webhook naming a payment (it may arrive at any node, and anyone can send one): handed to
   * the owner of the card the webhook's URL names, which fetches the payment from the PSP.
   */
  handleWebhook(reference: string, cardId: string): Promise<PspWebhookOutcome> {
    this.required('PSP webhooks need');
    return this.fanout.applyPspWebhook({ reference, cardId });
  }

  /**
   * On the card's owner: fetches the payment from the PSP's API and applies what the PSP says, never
   * what the webhook said. A payment the PSP does not know, or one of another card, is `unknown`
   * (nothing happens; the sender learns nothing); one still under way is `pending`.
   */
  async applyWebhook(reference: string, cardId: string): Promise<PspWebhookOutcome> {
    const psp = this.required('PSP webhooks need');
    const fetch = psp.adapter.fetchPayment?.bind(psp.adapter);
    if (fetch === undefined) throw failedPrecondition("this node's PSP reports payments by signed callback, not by webhook");
    const payment = await fetch(reference);
    if (payment === undefined || payment.card !== cardId || payment.reference !== reference) return { outcome: 'unknown' };
    if (payment.status === 'pending') return { outcome: 'pending' };
    const answer = await this.apply(psp, payment);
    if (answer.failed) return { outcome: 'failed' };
    return { outcome: answer.answer.replayed ? 'replayed' : 'applied', transactionId: answer.answer.result.id };
  }

  /**
   * A successful payment is a top-up keyed by the PSP reference whose key stays spent beyond its
   * idempotency record; a failed one moves nothing. Either way a pending auto-reload of the card is
   * settled. A paid first payment's mandate goes with its top-up: the card credits it and stores
   * the auto-reload in the same commit (actors/card/decide.ts), only when the top-up is first
   * applied and approved. A replayed report is answered from the top-up's record and stores nothing
   * again, so a holder who switched auto-reload off is not switched back on by a late or repeated
   * report. The mandate is recorded as the PSP's payment in the audit trail.
   */
  private async apply(psp: PspWiring, payment: PspPayment): Promise<PspCallbackAnswer> {
    if (payment.status === 'failed') {
      if (payment.kind === 'auto_reload') psp.autoReloader.settled(payment.card);
      return { failed: true };
    }
    const request: Omit<MoneyRequest, 'fingerprint'> = {
      kind: 'top_up',
      key: pspTopUpKey(payment.reference),
      cardId: payment.card,
      terminalId: '',
      amountMinor: payment.amountMinor,
      currency: payment.currency,
      source: payment.kind === 'auto_reload' ? 'auto_reload' : 'psp',
      operatorId: '',
      originalKey: '',
      recordSpent: true,
      ...(payment.autoReload === undefined ? {} : { autoReload: payment.autoReload, acting: pspActing(payment) }),
    };
    try {
      const answer = await outcomeOf<TxnAnswer>((reply) => this.region.money({ ...request, fingerprint: fingerprintOf(request) }, reply));
      return { failed: false, answer };
    } finally {
      if (payment.kind === 'auto_reload') psp.autoReloader.settled(payment.card);
    }
  }

  /** Stores (or removes) a card's auto-reload mandate; storing one needs a PSP to charge it. */
  setAutoReload(change: AutoReloadChange): Promise<CardState> {
    if (change.autoReload !== undefined) this.required('auto-reload needs');
    return outcomeOf((reply) => this.region.setAutoReload(change.cardId, change.autoReload, change.acting, reply));
  }

  /** The PSP, or FAILED_PRECONDITION saying what `needs` it. */
  private required(needs: string): PspWiring {
    if (this.psp === undefined) throw failedPrecondition(`${needs} a PSP configured on the node (TAPLINE_PSP_PROVIDER)`);
    return this.psp;
  }
}

/** Who stores a paid first payment's mandate, in the audit trail: the PSP's payment. */
function pspActing(payment: PspPayment): Acting {
  return { subject: `psp:${payment.reference}`, role: 'psp', scope: payment.card, action: 'psp.first_payment' };
}

/**
 * An auto-reload a holder may choose: a reload of more than 0 within the program's top-up maximum,
 * and threshold + reload within its balance maximum (a reload fires below the threshold, so the card
 * can always take it). Limits of 0 are none.
 */
function checkSetup(setup: AutoReloadSetup, program: { readonly maxTopUpMinor: number; readonly maxBalanceMinor: number }): void {
  if (!isBoundedAmount(setup.thresholdMinor) || setup.thresholdMinor < 0)
    throw invalidArgument('auto_reload.threshold is out of range', { field: 'threshold' });
  if (!isBoundedAmount(setup.amountMinor) || setup.amountMinor <= 0)
    throw invalidArgument('auto_reload.amount must be more than 0', { field: 'amount' });
  if (program.maxTopUpMinor > 0 && setup.amountMinor > program.maxTopUpMinor)
    throw failedPrecondition(`auto_reload.amount exceeds the program's top-up maximum ${program.maxTopUpMinor}`, {
      reason: 'top_up_limit_exceeded',
    });
  if (program.maxBalanceMinor > 0 && setup.thresholdMinor + setup.amountMinor > program.maxBalanceMinor)
    throw failedPrecondition(`auto_reload threshold + amount exceed the program's balance maximum ${program.maxBalanceMinor}`, {
      reason: 'max_balance_exceeded',
    });
}
