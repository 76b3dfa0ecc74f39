// Top-ups paid at a PSP: starting a payment the holder completes there, applying the PSP's signed
// callback (a successful payment tops the card up once per PSP reference; a failed one moves
// nothing), and storing a card's auto-reload mandate. Without a PSP configured on the node
// (TAPLINE_PSP_SECRET and an injected adapter) each of them is FAILED_PRECONDITION.

import { failedPrecondition, invalidArgument } from '../../../actors/errors';
import type { AutoReload, CardState } from '../../../actors/card/rules';
import { fingerprintOf, type MoneyRequest, type TxnAnswer } from '../../../actors/card/transaction';
import { pspTopUpKey } from '../../../actors/request-keys';
import type { ShardRegion } from '../../../actors/sharding/shard-region';
import { outcomeOf } from './outcome';
import { checkSignedAt, parsePspPayload, verifyPspSignature, type AutoReloader, type PspAdapter } from './psp';

/** The node's PSP: its adapter, the callbacks' shared secret and the auto-reload trigger. */
export interface PspWiring {
  readonly adapter: PspAdapter;
  readonly secret: string;
  readonly autoReloader: AutoReloader;
}

/** What a PSP callback did: the top-up's answer, or a failed payment acknowledged. */
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
  readonly operatorId: string;
}

type Region = Pick<ShardRegion, 'balance' | 'money' | 'setAutoReload'>;

export class PspTopUps {
  constructor(
    private readonly region: Region,
    private readonly psp: PspWiring | undefined,
    private readonly clock: () => number,
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
   * Verifies and applies a PSP callback (from gRPC or a PSP running in this process): signature,
   * payload, then its signing instant. A successful payment is a top-up keyed by the PSP
   * reference whose key stays spent beyond its idempotency record; a failed one moves nothing.
   * Either way a pending auto-reload of the card is settled.
   */
  async handleCallback(payload: string, signature: string): Promise<PspCallbackAnswer> {
    const psp = this.required('PSP callbacks need');
    const refused = verifyPspSignature(psp.secret, payload, signature);
    if (refused !== undefined) throw refused;
    const event = parsePspPayload(payload);
    const stale = checkSignedAt(event, this.clock());
    if (stale !== undefined) throw stale;
    if (event.status === 'failed') {
      if (event.kind === 'auto_reload') psp.autoReloader.settled(event.card);
      return { failed: true };
    }
    const request: Omit<MoneyRequest, 'fingerprint'> = {
      kind: 'top_up',
      key: pspTopUpKey(event.reference),
      cardId: event.card,
      terminalId: '',
      amountMinor: event.amountMinor,
      currency: event.currency,
      source: event.kind === 'auto_reload' ? 'auto_reload' : 'psp',
      operatorId: '',
      originalKey: '',
      recordSpent: true,
    };
    try {
      const answer = await outcomeOf<TxnAnswer>((reply) => this.region.money({ ...request, fingerprint: fingerprintOf(request) }, reply));
      return { failed: false, answer };
    } finally {
      if (event.kind === 'auto_reload') psp.autoReloader.settled(event.card);
    }
  }

  /** Stores (or removes) a card's auto-reload mandate; storing one needs a PSP to charge it. */
  setAutoReload(change: AutoReloadChange): Promise<CardState> {
    if (change.autoReload !== undefined) this.required('auto-reload needs');
    return outcomeOf((reply) => this.region.setAutoReload(change.cardId, change.autoReload, change.operatorId, reply));
  }

  /** The PSP, or FAILED_PRECONDITION saying what `needs` it. */
  private required(needs: string): PspWiring {
    if (this.psp === undefined) throw failedPrecondition(`${needs} TAPLINE_PSP_SECRET configured on the node`);
    return this.psp;
  }
}
