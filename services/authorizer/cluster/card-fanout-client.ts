// The per-card fan-out calls of bulk issuance and the refund run, sent through the cluster
// router to each card's owner (CardFanoutService, proto/tapline/internal/v1/fanout.proto): run
// here when this node holds the card's shard, else forwarded over the peer stream, retried on a
// moving shard with the same request (so the same idempotency key). Domain values in and out; a
// failed call rejects with the error the owner's status stands for (grpc/status.ts errorOfStatus),
// which the client's own call then answers with the same status.

import type * as grpc from '@grpc/grpc-js';
import { minorFromWire } from '../../../actors/money';
import {
  CardFanoutServiceService,
  PspWebhookOutcome,
  type ApplyPspWebhookRequest,
  type ApplyPspWebhookResponse,
  type IssueBulkCardRequest,
  type IssueBulkCardResponse,
  type MergeOfflineEntriesResponse,
  type RefundRunCashOutRequest,
  type RefundRunCashOutResponse,
} from '../../../gen/tapline/internal/v1/fanout';
import { errorOfStatus } from '../grpc/status';
import { InternalError } from '../../../actors/errors';
import { actingCaller, systemCaller, type Caller } from '../../common/auth/grpc-access';
import type {
  BulkCardIssue,
  BulkCardIssued,
  CardFanout,
  CardTokenIndexing,
  CardTokenLink,
  CardTokenLinked,
  OfflineCardMerge,
  OfflineEntryAnswer,
  PspWebhook,
  PspWebhookOutcome as WebhookOutcome,
  RefundRunCashOut,
  RefundRunCashedOut,
} from '../usecases/card-fanout';
import { parseMergeResponse, toMergeRequest } from '../grpc/offline-merge-wire';

const psp_webhook_caller = systemCaller('psp-webhook');
const token_index_caller = systemCaller('card-token-index');
// An offline batch's entries reach their cards as the node's own work: the batch's signature and
// the uploader were checked where it was accepted.
const offline_merge_caller = systemCaller('offline-merge');

/** What the fan-out needs of the router (cluster/router.ts `call`). */
export interface OwnerCaller {
  call(path: string, request: unknown, caller: Caller, done: (error: Partial<grpc.ServiceError> | null, value?: unknown) => void): void;
}

/** A generated method definition: its path, and its message types for inference. */
interface RoutedMethod<Req, Res> {
  readonly path: string;
  requestSerialize(value: Req): Buffer;
  responseDeserialize(bytes: Buffer): Res;
}

/**
 * Runs one call of a routed method on the owner of its routing key, as `caller`: the operator action
 * that started the fan-out (each card's change is recorded as it), or the node's own work.
 */
function callOwner<Req, Res>(router: OwnerCaller, method: RoutedMethod<Req, Res>, request: Req, caller: Caller): Promise<Res> {
  return new Promise<Res>((resolve, reject) => {
    router.call(method.path, request, caller, (error, value) => {
      if (error === null) resolve(value as Res);
      else if (error.code === undefined) reject(new InternalError('owner call failed without a status'));
      else reject(errorOfStatus(error.code, error.details ?? '', error.metadata));
    });
  });
}

export class RoutedCardFanout implements CardFanout {
  constructor(private readonly router: OwnerCaller) {}

  async issueBulkCard(issue: BulkCardIssue): Promise<BulkCardIssued> {
    const request: IssueBulkCardRequest = {
      cardId: issue.cardId,
      issuanceId: issue.issuanceId,
      programId: issue.programId,
      currency: issue.currency,
      initialBalanceMinor: BigInt(issue.initialBalanceMinor),
      depositMinor: BigInt(issue.depositMinor),
      expiresAtUnixMs: BigInt(issue.expiresAtMs),
      issuedAtUnixMs: BigInt(issue.issuedAtMs),
      operatorId: issue.acting.subject,
      cardAuthKeyId: issue.cardAuthKeyId,
    };
    const response: IssueBulkCardResponse = await callOwner(
      this.router,
      CardFanoutServiceService.issueBulkCard,
      request,
      actingCaller(issue.acting),
    );
    return { alreadyExisted: response.alreadyExisted };
  }

  async mergeOffline(merge: OfflineCardMerge): Promise<readonly OfflineEntryAnswer[]> {
    const response: MergeOfflineEntriesResponse = await callOwner(
      this.router,
      CardFanoutServiceService.mergeOfflineEntries,
      toMergeRequest(merge),
      offline_merge_caller,
    );
    return parseMergeResponse(response, merge.entries.length);
  }

  async refundRunCashOut(cashOut: RefundRunCashOut): Promise<RefundRunCashedOut> {
    const request: RefundRunCashOutRequest = { cardId: cashOut.cardId, runId: cashOut.runId, operatorId: cashOut.acting.subject };
    const response: RefundRunCashOutResponse = await callOwner(
      this.router,
      CardFanoutServiceService.refundRunCashOut,
      request,
      actingCaller(cashOut.acting),
    );
    const amountMinor = minorFromWire(response.amountMinor);
    // An owner of this build never answers an amount past the money bound; another build that
    // does is a defect, answered as INTERNAL rather than paid out as a wrong number.
    if (amountMinor === undefined) throw new Error(`owner answered an out-of-range payout for card ${cashOut.cardId}`);
    return {
      approved: response.approved,
      amountMinor,
      currency: response.currency,
      transactionId: response.transactionId,
      named: response.named,
    };
  }

  async applyPspWebhook(webhook: PspWebhook): Promise<WebhookOutcome> {
    const request: ApplyPspWebhookRequest = { cardId: webhook.cardId, paymentId: webhook.reference };
    // A webhook names a payment the owner reads from the PSP itself: the node's own work, no operator's.
    const response: ApplyPspWebhookResponse = await callOwner(
      this.router,
      CardFanoutServiceService.applyPspWebhook,
      request,
      psp_webhook_caller,
    );
    switch (response.outcome) {
      case PspWebhookOutcome.PSP_WEBHOOK_OUTCOME_APPLIED:
        return { outcome: 'applied', transactionId: response.transactionId };
      case PspWebhookOutcome.PSP_WEBHOOK_OUTCOME_REPLAYED:
        return { outcome: 'replayed', transactionId: response.transactionId };
      case PspWebhookOutcome.PSP_WEBHOOK_OUTCOME_FAILED:
        return { outcome: 'failed' };
      case PspWebhookOutcome.PSP_WEBHOOK_OUTCOME_PENDING:
        return { outcome: 'pending' };
      case PspWebhookOutcome.PSP_WEBHOOK_OUTCOME_UNKNOWN:
        return { outcome: 'unknown' };
      default:
        // An owner of another build answering an outcome this one does not know: not acted upon.
        throw new InternalError(`owner answered an unknown webhook outcome ${response.outcome}`);
    }
  }

  async linkCardToken(link: CardTokenLink): Promise<CardTokenLinked> {
    const request = { cardId: link.cardId, token: link.token, link: link.link, operatorId: link.acting.subject };
    const response = await callOwner(this.router, CardFanoutServiceService.linkCardToken, request, actingCaller(link.acting));
    return { programId: response.programId, currency: response.currency, tokens: response.tokens };
  }

  async indexCardToken(indexing: CardTokenIndexing): Promise<void> {
    // The token's index entry (its own shard) carries no operator change of its own: the card's listing is audited.
    await callOwner(this.router, CardFanoutServiceService.indexCardToken, { ...indexing }, token_index_caller);
  }
}
