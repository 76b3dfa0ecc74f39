// The owner's side of the per-card fan-out calls (CardFanoutService, fanout.proto): one card of a
// bulk issuance, one cash-out of a refund run. Served only through the cluster router (the node
// never adds this service to its public server), so a call reaches it from this node's own use
// case or over the internal Forward stream. Each is the card's ordinary idempotent operation, so
// a retry or a re-run moves nothing twice.

import type {
  CardFanoutServiceServer,
  IssueBulkCardRequest,
  IssueBulkCardResponse,
  RefundRunCashOutRequest,
  RefundRunCashOutResponse,
} from '../../../gen/tapline/internal/v1/fanout';
import type { BulkCardIssued, RefundRunCashedOut } from '../usecases/card-fanout';
import { parseBulkCardIssue, parseRefundRunCashOut } from './card-fanout-validate';
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
    refundRunCashOut: unaryAsync<RefundRunCashOutRequest, RefundRunCashOutResponse, RefundRunCashedOut>(
      deps,
      'CardFanout.RefundRunCashOut',
      (request, call) => deps.refundRun.cashOut(parseRefundRunCashOut(request, actingOf(call))),
      (answer) => ({ ...answer, amountMinor: BigInt(answer.amountMinor) }),
    ),
  };
}
