// Top-ups paid at a PSP: starting a payment the holder completes there, applying what the PSP
// reports about it (a successful payment tops the card up once per PSP reference; a failed one
// moves nothing), and storing a card's auto-reload mandate. The PSP reports a payment by a signed
// callback (HandlePspCallback, the simulated PSP) or by a webhook naming only the payment's id
// (Mollie), whose payment is then fetched from the PSP's API on the card's owner. Without a PSP
// configured on the node each of them is FAILED_PRECONDITION.

import type { Acting } from '../../../actors/principal';
import { failedPrecondition, invalidArgument } from '../../../actors/errors';
import type { AutoReload, CardState } from '../../../actors/card/rules';
import { fingerprintOf, type MoneyRequest, type TxnAnswer } from '../../../actors/card/transaction';
import { pspTopUpKey } from '../../../actors/request-keys';
import type { ShardRegion } from '../../../actors/sharding/shard-region';
import type { CardFanout, PspWebhookOutcome } from './card-fanout';
import { outcomeOf } from './outcome';
import { checkSignedAt, parsePspPayload, verifyPspSignature, type AutoReloader, type PspAdapter, type PspPayment } from './psp';

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
  ) {}

  /** Starts a payment at the PSP for an existing card, in the card's currency. */
  async start(start: PspTopUpStart): Promise<{ reference: string; paymentUrl: string }> {
    const psp = this.required('PSP top-ups need');
    // The card must exist before the holder is sent to pay.
    const card = await outcomeOf<CardState>((reply) => this.region.balance(start.cardId, reply));
    if (card.currency !== start.currency) throw invalidArgument("amount.currency is not the card's currency");
    return psp.adapter.startPayment(start.cardId, start.amountMinor, start.currency);
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
   * settled.
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
