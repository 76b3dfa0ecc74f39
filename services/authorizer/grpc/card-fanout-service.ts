// The owner's side of the per-card fan-out calls (CardFanoutService, fanout.proto): one card of a
// bulk issuance, one cash-out of a refund run. Served only through the cluster router (the node
// never adds this service to its public server), so a call reaches it from this node's own use
// case or over the internal Forward stream. Each is the card's ordinary idempotent operation, so
// a retry or a re-run moves nothing twice.

import type {
  CardFanoutServiceServer,
  IssueBulkCardRequest,
  IssueBulkCardResponse,
  MergeOfflineEntriesRequest,
  MergeOfflineEntriesResponse,
  RefundRunCashOutRequest,
  RefundRunCashOutResponse,
} from '../../../gen/tapline/internal/v1/fanout';
import type { BulkCardIssued, OfflineEntryAnswer, RefundRunCashedOut } from '../usecases/card-fanout';
import { mergeOfflineCard } from '../usecases/offline-uploads';
import { parseMergeRequest, toMergeResponse } from './offline-merge-wire';
import { parseBulkCardIssue, parseRefundRunCashOut } from './card-fanout-validate';
import type { CardServiceDeps } from './cards-service';
import { unaryAsync } from './service';

export function cardFanoutService(deps: CardServiceDeps): CardFanoutServiceServer {
  return {
    issueBulkCard: unaryAsync<IssueBulkCardRequest, IssueBulkCardResponse, BulkCardIssued>(
      deps,
      'CardFanout.IssueBulkCard',
      (request) => deps.issuance.issueBulkCard(parseBulkCardIssue(request)),
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
      (request) => deps.refundRun.cashOut(parseRefundRunCashOut(request)),
      (answer) => ({ ...answer, amountMinor: BigInt(answer.amountMinor) }),
    ),
  };
}
