// The per-card calls of operations that touch many cards (bulk issuance, the program refund run),
// as the use cases see them: domain values in and out. Each call runs on the card's owner; how
// it gets there (the cluster router, proto/tapline/internal/v1/fanout.proto) is the adapter's
// business (cluster/card-fanout-client.ts). A call that fails rejects with the owner's failure,
// which the gRPC boundary answers to the client unchanged.

import type { TxnResult } from '../../../actors/card/transaction';
import type { RejectionCode } from '../../../actors/errors';
import type { AssessedEntry } from '../../../actors/offline/batch';
import type { Acting } from '../../../actors/principal';

/** One card of a bulk issuance, as the entry node resolved it once for the whole issuance. */
export interface BulkCardIssue {
  readonly cardId: string;
  readonly issuanceId: string;
  readonly programId: string;
  readonly currency: string;
  readonly initialBalanceMinor: number;
  readonly depositMinor: number;
  /** 0 = the card does not expire. */
  readonly expiresAtMs: number;
  /** When the issuance was accepted: every card of it carries the same issue time. */
  readonly issuedAtMs: number;
  /** The issuance's operator action: each card's audit record names it. */
  readonly acting: Acting;
  /** The program's card authentication key, resolved once for the issuance ('' = the cards do not authenticate). */
  readonly cardAuthKeyId: string;
}

export interface BulkCardIssued {
  /** The card existed with the same fields: nothing was written. */
  readonly alreadyExisted: boolean;
}

/** One card of a refund run: cashed out with the run's key for that card. */
export interface RefundRunCashOut {
  readonly cardId: string;
  readonly runId: string;
  readonly acting: Acting;
}

export interface RefundRunCashedOut {
  /** False: the cash-out was declined (card already closed, replaced, ...); the run skips it. */
  readonly approved: boolean;
  /** Paid to the holder (balance + deposit) when approved. */
  readonly amountMinor: number;
  readonly currency: string;
  readonly transactionId: string;
  readonly named: boolean;
}

/** The entries of one uploaded offline batch that are one card's, in entry order, for that card's owner. */
export interface OfflineCardMerge {
  readonly cardId: string;
  readonly terminalId: string;
  /** The terminal's merchant (the entries are merged even if the terminal was disabled since). */
  readonly merchantId: string;
  readonly entries: readonly AssessedEntry[];
}

/** One entry's answer from its card: the transaction it recorded (or had recorded), or why it was refused. */
export type OfflineEntryAnswer =
  | { readonly ok: true; readonly result: TxnResult; readonly replayed: boolean }
  | { readonly ok: false; readonly code: RejectionCode; readonly message: string };

/** A PSP webhook naming a payment, for the owner of the card its URL names. */
export interface PspWebhook {
  /** The PSP's payment id. */
  readonly reference: string;
  readonly cardId: string;
}

/**
 * What the owner did with a webhook's payment after fetching it from the PSP: topped the card up
 * (`applied`, or `replayed` when an earlier report had), acknowledged a failed payment, found it
 * still under way (`pending`), or found no such payment of that card (`unknown`).
 */
export type PspWebhookOutcome =
  { readonly outcome: 'applied' | 'replayed'; readonly transactionId: string } | { readonly outcome: 'failed' | 'pending' | 'unknown' };

/** A bank card's token listed on a card, or taken off it (on the card's owner). */
export interface CardTokenLink {
  readonly cardId: string;
  /** "h:<hex>" or "par:<PAR>": never a PAN. */
  readonly token: string;
  readonly link: boolean;
  /** The operator action that lists or removes the token: the card's audit record names it. */
  readonly acting: Acting;
}

export interface CardTokenLinked {
  readonly programId: string;
  readonly currency: string;
  /** Bank cards the card carries now. */
  readonly tokens: number;
}

/** A token indexed to the card of a program, or that entry removed (on the token's owner). */
export interface CardTokenIndexing {
  readonly token: string;
  readonly programId: string;
  readonly currency: string;
  readonly cardId: string;
  readonly link: boolean;
}

/** Reaches one card's owner per call (or, for a token's index, the token's owner). */
export interface CardFanout {
  issueBulkCard(issue: BulkCardIssue): Promise<BulkCardIssued>;
  refundRunCashOut(cashOut: RefundRunCashOut): Promise<RefundRunCashedOut>;
  applyPspWebhook(webhook: PspWebhook): Promise<PspWebhookOutcome>;
  linkCardToken(link: CardTokenLink): Promise<CardTokenLinked>;
  indexCardToken(indexing: CardTokenIndexing): Promise<void>;
  /** Merges one card's entries of an offline batch on the card's owner; one answer per entry, in order. */
  mergeOffline(merge: OfflineCardMerge): Promise<readonly OfflineEntryAnswer[]>;
}
