// The node's cards as a refund claim needs them, through the operator door AS THE PERSON ACTING:
// the holder's own token reads the card a claim is for (GetCard, the holder's scope), the
// approver's own token cashes each claimed card out (ReturnCard). The node then applies its own
// access rules to that person and names them in the audit record of each cash-out; this service
// lends no authority of its own to a payout.

import * as grpc from '@grpc/grpc-js';
import { CardServiceClient, type GetCardResponse, type ReturnCardResponse } from '../../../gen/tapline/v1/cards';
import { CardStatus, DeclineReason, Outcome } from '../../../gen/tapline/v1/types';
import { ReportBackendError, SettlementForbiddenError } from '../errors';

/** What a claim needs of a card. */
export interface ClaimedCard {
  readonly card: string;
  readonly program: string;
  readonly currency: string;
  /** Closed, replaced and unissued cards take no claim. */
  readonly claimable: boolean;
  readonly balance_minor: number;
}

/** One cash-out's answer: paid (possibly 0) or declined with the node's reason. */
export type CashOut =
  | { readonly paid: true; readonly payout_minor: number; readonly currency: string; readonly transaction: string }
  | { readonly paid: false; readonly reason: string };

export interface RefundCards {
  /** The card as `bearer` may see it, or undefined when the node has no such card. */
  card(bearer: string, card: string): Promise<ClaimedCard | undefined>;
  /** ReturnCard as `bearer`, with the claim's idempotency key (a retry answers the stored cash-out). */
  cashOut(bearer: string, card: string, idempotency_key: string): Promise<CashOut>;
  close(): void;
}

const unclaimable: ReadonlySet<CardStatus> = new Set([
  CardStatus.CARD_STATUS_CLOSED,
  CardStatus.CARD_STATUS_REPLACED,
  CardStatus.CARD_STATUS_UNISSUED,
]);

function exactMinor(value: bigint | undefined): number {
  const minor = Number(value ?? 0n);
  if (!Number.isSafeInteger(minor) || BigInt(minor) !== (value ?? 0n)) throw new Error('assertion: an amount beyond safe integers');
  return minor;
}

/** "DECLINE_REASON_CARD_CLOSED" -> "card_closed", with the rule that fired when the node names one. */
export function declineText(reason: DeclineReason, rule: string): string {
  const name = (DeclineReason[reason] ?? 'DECLINE_REASON_UNSPECIFIED').replace(/^DECLINE_REASON_/, '').toLowerCase();
  return rule === '' ? name : `${name} (${rule})`;
}

class NotFound extends Error {}

export class AuthorizerRefundCards implements RefundCards {
  private readonly cards: CardServiceClient;

  constructor(
    address: string,
    credentials: grpc.ChannelCredentials,
    private readonly call_timeout_ms: number,
    channelOptions: grpc.ChannelOptions = {},
  ) {
    this.cards = new CardServiceClient(address, credentials, channelOptions);
  }

  async card(bearer: string, card: string): Promise<ClaimedCard | undefined> {
    try {
      const reply = await this.call<GetCardResponse>('GetCard', bearer, (metadata, options, done) =>
        this.cards.getCard({ cardId: card }, metadata, options, done),
      );
      const info = reply.card;
      if (info === undefined) return undefined;
      return {
        card,
        program: info.programId,
        currency: info.balance?.currency ?? '',
        claimable: !unclaimable.has(info.status),
        balance_minor: exactMinor(info.balance?.amountMinor),
      };
    } catch (error) {
      if (error instanceof NotFound) return undefined;
      throw error;
    }
  }

  async cashOut(bearer: string, card: string, idempotency_key: string): Promise<CashOut> {
    const reply = await this.call<ReturnCardResponse>('ReturnCard', bearer, (metadata, options, done) =>
      this.cards.returnCard({ cardId: card, idempotencyKey: idempotency_key, operatorId: '' }, metadata, options, done),
    );
    if (reply.outcome !== Outcome.OUTCOME_APPROVED) return { paid: false, reason: declineText(reply.declineReason, reply.declineRule) };
    return {
      paid: true,
      payout_minor: exactMinor(reply.payout?.amountMinor),
      currency: reply.payout?.currency ?? '',
      transaction: reply.transactionId,
    };
  }

  close(): void {
    this.cards.close();
  }

  private call<T>(
    method: string,
    bearer: string,
    invoke: (metadata: grpc.Metadata, options: grpc.CallOptions, done: (error: grpc.ServiceError | null, response: T) => void) => void,
  ): Promise<T> {
    const metadata = new grpc.Metadata();
    metadata.set('authorization', `Bearer ${bearer}`);
    return new Promise((resolve, reject) => {
      invoke(metadata, { deadline: Date.now() + this.call_timeout_ms }, (error, response) => {
        if (error === null) resolve(response);
        else if (error.code === grpc.status.NOT_FOUND) reject(new NotFound());
        else if (error.code === grpc.status.PERMISSION_DENIED)
          reject(new SettlementForbiddenError('the node refused this person the card', { method }));
        else reject(new ReportBackendError('authorizer', error, { method, code: error.code }));
      });
    });
  }
}
