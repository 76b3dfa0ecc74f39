// The owner's side of the per-card fan-out calls (CardFanoutService, fanout.proto): one card of a
// bulk issuance, one cash-out of a refund run, one PSP webhook, one bank card's token listed on its
// card or indexed on its own shard. Served only through the cluster router (the node
// never adds this service to its public server), so a call reaches it from this node's own use
// case or over the internal Forward stream. Each is the card's ordinary idempotent operation, so
// a retry or a re-run moves nothing twice.

import {
  PspWebhookOutcome,
  type ApplyPspWebhookRequest,
  type ApplyPspWebhookResponse,
  type CardFanoutServiceServer,
  type IndexCardTokenRequest,
  type IndexCardTokenResponse,
  type IssueBulkCardRequest,
  type IssueBulkCardResponse,
  type LinkCardTokenRequest,
  type LinkCardTokenResponse,
  type MergeOfflineEntriesRequest,
  type MergeOfflineEntriesResponse,
  type RefundRunCashOutRequest,
  type RefundRunCashOutResponse,
} from '../../../gen/tapline/internal/v1/fanout';
import type { BulkCardIssued, OfflineEntryAnswer, PspWebhookOutcome as WebhookOutcome, RefundRunCashedOut } from '../usecases/card-fanout';
import { mergeOfflineCard } from '../usecases/offline-uploads';
import { parseMergeRequest, toMergeResponse } from './offline-merge-wire';
import {
  parseBulkCardIssue,
  parseCardTokenIndexing,
  parseCardTokenLink,
  parsePspWebhook,
  parseRefundRunCashOut,
} from './card-fanout-validate';
import type { CardState } from '../../../actors/card/rules';
import { outcomeOf } from '../usecases/outcome';
import type { CardServiceDeps } from './cards-service';
import { unaryAsync } from './service';
import { actingOf } from '../../common/auth/grpc-access';

export function cardFanoutService(deps: CardServiceDeps): CardFanoutServiceServer {
  return {
    issueBulkCard: unaryAsync<IssueBulkCardRequest, IssueBulkCardResponse, BulkCardIssued>(
      deps,
      'CardFanout.IssueBulkCard',
      (request, call) => deps.issuance.issueBulkCard(parseBulkCardIssue(request, actingOf(call))),
      ({ alreadyExisted }) => ({ alreadyExisted }),
    ),
    mergeOfflineEntries: unaryAsync<MergeOfflineEntriesRequest, MergeOfflineEntriesResponse, readonly OfflineEntryAnswer[]>(
      deps,
      'CardFanout.MergeOfflineEntries',
      (request) => mergeOfflineCard(deps.region, parseMergeRequest(request)),
      toMergeResponse,
    ),
    refundRunCashOut: unaryAsync<RefundRunCashOutRequest, RefundRunCashOutResponse, RefundRunCashedOut>(
      deps,
      'CardFanout.RefundRunCashOut',
      (request, call) => deps.refundRun.cashOut(parseRefundRunCashOut(request, actingOf(call))),
      (answer) => ({ ...answer, amountMinor: BigInt(answer.amountMinor) }),
    ),
    applyPspWebhook: unaryAsync<ApplyPspWebhookRequest, ApplyPspWebhookResponse, WebhookOutcome>(
      deps,
      'CardFanout.ApplyPspWebhook',
      (request) => {
        const webhook = parsePspWebhook(request);
        return deps.pspTopUps.applyWebhook(webhook.reference, webhook.cardId);
      },
      (answer) => ({
        outcome: wire_webhook_outcomes[answer.outcome],
        transactionId: 'transactionId' in answer ? answer.transactionId : '',
      }),
    ),
    linkCardToken: unaryAsync<LinkCardTokenRequest, LinkCardTokenResponse, CardState>(
      deps,
      'CardFanout.LinkCardToken',
      (request, call) => {
        const { cardId, token, link, acting } = parseCardTokenLink(request, actingOf(call));
        return outcomeOf((reply) => deps.region.linkCardToken(cardId, token, link, acting, reply));
      },
      (state) => ({ programId: state.programId, currency: state.currency, tokens: state.tokens?.length ?? 0 }),
    ),
    indexCardToken: unaryAsync<IndexCardTokenRequest, IndexCardTokenResponse, unknown>(
      deps,
      'CardFanout.IndexCardToken',
      (request) => {
        const { token, programId, currency, cardId, link } = parseCardTokenIndexing(request);
        return deps.tokenIndex.change(token, { program: programId, currency, card: cardId }, link);
      },
      () => ({}),
    ),
  };
}

export const wire_webhook_outcomes: Readonly<Record<WebhookOutcome['outcome'], PspWebhookOutcome>> = {
  applied: PspWebhookOutcome.PSP_WEBHOOK_OUTCOME_APPLIED,
  replayed: PspWebhookOutcome.PSP_WEBHOOK_OUTCOME_REPLAYED,
  failed: PspWebhookOutcome.PSP_WEBHOOK_OUTCOME_FAILED,
  pending: PspWebhookOutcome.PSP_WEBHOOK_OUTCOME_PENDING,
  unknown: PspWebhookOutcome.PSP_WEBHOOK_OUTCOME_UNKNOWN,
};
