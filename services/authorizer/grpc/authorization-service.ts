// gRPC handlers of AuthorizationService, the terminal API: each decodes and validates its request,
// hands it to the shard region and maps the answer; every handler answers exactly once through
// service.ts's `unary` / `unaryAsync`. AuthorizeStream (venue gateways) is gateway-stream.ts.

import type { ServerDuplexStream, ServerUnaryCall } from '@grpc/grpc-js';
import { failedPrecondition } from '../../../actors/errors';
import { isFleetCardId } from '../../../actors/sharding/shard-key';
import type { MoneyRequest, TxnAnswer } from '../../../actors/card/transaction';
import { requesterOf, callerOf } from '../../common/auth/grpc-access';
import type {
  AuthorizationServiceServer,
  AuthorizeRequest,
  AuthorizeResponse,
  AuthorizeStreamRequest,
  AuthorizeStreamResponse,
  GetBalanceRequest,
  GetBalanceResponse,
  GetReceiptRequest,
  GetReceiptResponse,
  RefundRequest,
  RefundResponse,
  ReportPourRequest,
  ReportPourResponse,
  ReverseRequest,
  ReverseResponse,
  TopUpRequest,
  TopUpResponse,
  VoidRequest,
  VoidResponse,
} from '../../../gen/tapline/v1/authorization';
import { serveGatewayStream } from './gateway-stream';
import { getTerminalParametersHandler } from './terminals-service';
import { authorizeByBankCard } from './bank-card';
import { parseFleetAuthorize, parseFleetRefund, parseFleetReverse, parseFleetVoid } from './fleet-validate';
import { toAuthorizeResponse, toBalanceResponse, toRefundResponse, toReverseResponse, toTopUpResponse, toVoidResponse } from './mapping';
import { receiptOf } from './receipt';
import { parseReportPour } from './tap-pours-validate';
import type { PourAnswer } from '../usecases/tap-pours';
import { cardAuthorize, unary, unaryAsync, withPin, type Handler, type ServiceDeps } from './service';
import { parseRefund, parseReverse, parseTopUp, parseVoid, readableRefKey, requireId } from './validate';

/**
 * The request as its authenticated caller sends it: who asks (the certificate's terminal, or a
 * gateway's merchants) decides who may reverse, void, complete or refund a transaction
 * (actors/origin.ts), never the terminal id the request names alone.
 */
function asked(request: MoneyRequest, call: ServerUnaryCall<unknown, unknown>): MoneyRequest {
  const requester = requesterOf(callerOf(call));
  return requester === undefined ? request : { ...request, requester };
}

export function authorizationService(deps: ServiceDeps): AuthorizationServiceServer {
  return {
    reportPour: unary<ReportPourRequest, ReportPourResponse, PourAnswer>(
      deps,
      'ReportPour',
      (request, reply) => deps.tapPours.report(parseReportPour(request), reply),
      (answer) => ({ reportId: answer.reportId, replayed: answer.replayed }),
    ),
    authorize: authorizeHandler(deps),
    getTerminalParameters: getTerminalParametersHandler(deps),
    topUp: unary<TopUpRequest, TopUpResponse, TxnAnswer>(
      deps,
      'TopUp',
      (request, reply, _call, deadlineMs) => {
        deps.region.money(parseTopUp(request), reply, undefined, deadlineMs);
      },
      toTopUpResponse,
    ),
    reverse: unary<ReverseRequest, ReverseResponse, TxnAnswer>(
      deps,
      'Reverse',
      (request, reply, call, deadlineMs) => {
        const parsed = isFleetCardId(request.cardId) ? parseFleetReverse(request) : parseReverse(request);
        deps.region.money(asked(parsed, call), reply, undefined, deadlineMs);
      },
      toReverseResponse,
    ),
    getBalance: unary<GetBalanceRequest, GetBalanceResponse, Parameters<typeof toBalanceResponse>[0]>(
      deps,
      'GetBalance',
      (request, reply) => {
        deps.region.balance(requireId('card_id', request.cardId), reply);
      },
      (state) => toBalanceResponse(state, deps.clock()),
    ),
    void: unary<VoidRequest, VoidResponse, TxnAnswer>(
      deps,
      'Void',
      (request, reply, call, deadlineMs) => {
        deps.region.money(
          asked(isFleetCardId(request.cardId) ? parseFleetVoid(request) : parseVoid(request), call),
          reply,
          undefined,
          deadlineMs,
        );
      },
      toVoidResponse,
    ),
    getReceipt: unaryAsync<GetReceiptRequest, GetReceiptResponse, GetReceiptResponse>(
      deps,
      'GetReceipt',
      async (request) => {
        const cardId = requireId('card_id', request.cardId);
        const key = readableRefKey('transaction', request.transaction);
        return receiptOf(await deps.records.loadIdempotencyRecord(deps.region.shardOfCard(cardId), key), cardId);
      },
      (receipt) => receipt,
    ),
    refund: unary<RefundRequest, RefundResponse, TxnAnswer>(
      deps,
      'Refund',
      (request, reply, call, deadlineMs) => {
        const { request: refund, managerId, managerPin } = isFleetCardId(request.cardId) ? parseFleetRefund(request) : parseRefund(request);
        const managers = deps.managers;
        if (managers === undefined) throw failedPrecondition('refunds need manager credentials: configure TAPLINE_PIN_SECRET');
        deps.region.money(asked(refund, call), reply, (merchantId) => managers.verify(merchantId, managerId, managerPin), deadlineMs);
      },
      toRefundResponse,
    ),
    authorizeStream: (call: ServerDuplexStream<AuthorizeStreamRequest, AuthorizeStreamResponse>) => serveGatewayStream(deps, call),
  };
}

/** Authorize: a card by its id (fleet cards to their account), or a visitor's bank card (bank-card.ts). */
function authorizeHandler(deps: ServiceDeps): Handler<AuthorizeRequest, AuthorizeResponse> {
  return unary<AuthorizeRequest, AuthorizeResponse, TxnAnswer | AuthorizeResponse>(
    deps,
    'Authorize',
    (request, reply, call, deadlineMs) => {
      if (request.bankCard !== undefined) {
        // A visitor's bank card: its card is found first (open loop, bank-card.ts).
        authorizeByBankCard(deps, request, callerOf(call)).then(
          (value) => reply({ ok: true, value }),
          (error: unknown) => reply({ ok: false, error }),
        );
        return;
      }
      // Fleet cards ("<fleet>~<card>") carry a basket and prompts their account decides on.
      const parsed = isFleetCardId(request.cardId)
        ? withPin(deps, parseFleetAuthorize(request), request.pin)
        : cardAuthorize(deps, request);
      const moneyRequest = asked(parsed, call);
      deps.terminals.runWithCashier(moneyRequest, (settle) => deps.region.money(moneyRequest, settle, undefined, deadlineMs), reply);
    },
    (value) => ('result' in value ? toAuthorizeResponse(value) : value),
  );
}
