// gRPC handlers: parse and validate, hand to the shard region, map the answer back. Each handler
// answers exactly once; a failure anywhere becomes a status through status.ts.

import type { ServerDuplexStream, ServerUnaryCall, sendUnaryData } from '@grpc/grpc-js';
import { status as GrpcStatus } from '@grpc/grpc-js';
import {
  DeadlineExceededError,
  NodeStoppingError,
  TaplineError,
  asTaplineError,
  failedPrecondition,
  invalidArgument,
  isShardMoved,
  resourceExhausted,
  unavailable,
  type Outcome,
} from '../../../actors/errors';
import { operator_settable_statuses } from '../../../actors/card/rules';
import type { MoneyRequest, TxnAnswer } from '../../../actors/card/transaction';
import type { ShardRegion } from '../../../actors/sharding/shard-region';
import type { Logger } from 'pino';
import type { Metrics } from '../../common/metrics';
import { serviceErrorOf, statusOf } from './status';
import { isFleetCardId } from '../../../actors/sharding/shard-key';
import { parseFleetAuthorize, parseFleetReverse } from './fleet-validate';
import {
  domain_card_statuses,
  toAuthorizeResponse,
  toBalanceResponse,
  toReverseResponse,
  toTopUpResponse,
  toRefundResponse,
  toVoidResponse,
  wireCardStatus,
} from './mapping';
import type { ProgramRegistry } from '../../../actors/program/registry';
import { pin_pattern } from '../usecases/pin';
import type { CardPins } from '../usecases/card-pins';
import type { ManagerDirectory } from '../usecases/managers';
import type { Persistence } from '../../../actors/runtime/persistence';
import { receiptOf } from './receipt';
import {
  optionalId,
  parseAuthorize,
  parseReverse,
  parseRefund,
  parseTopUp,
  parseVoid,
  refKey,
  requireBalance,
  requireCorrelationId,
  requireId,
} from './validate';
import type {
  AuthorizationServiceServer,
  AuthorizeRequest,
  AuthorizeResponse,
  AuthorizeStreamRequest,
  AuthorizeStreamResponse,
  AuthorizeStreamResult,
  GetBalanceRequest,
  GetBalanceResponse,
  ReverseRequest,
  ReverseResponse,
  TopUpRequest,
  TopUpResponse,
  VoidRequest,
  VoidResponse,
  RefundRequest,
  RefundResponse,
  GetReceiptRequest,
  GetReceiptResponse,
} from '../../../gen/tapline/v1/authorization';
import type {
  AdminServiceServer,
  IssueCardRequest,
  IssueCardResponse,
  RegisterTerminalRequest,
  RegisterTerminalResponse,
  SetCardStatusRequest,
  SetCardStatusResponse,
  SetTerminalEnabledRequest,
  SetTerminalEnabledResponse,
} from '../../../gen/tapline/v1/admin';

/** Counts requests accepted and not yet answered, node-wide; refuses past its bound. */
export class InFlight {
  private count = 0;
  private drainWaiters: (() => void)[] = [];

  constructor(
    private readonly max: number,
    private readonly metrics: Metrics,
  ) {}

  tryAcquire(): boolean {
    if (this.count >= this.max) {
      this.metrics.rejectedFull.inc({ queue: 'in_flight' });
      return false;
    }
    this.count += 1;
    return true;
  }

  release(): void {
    this.count -= 1;
    if (this.count === 0 && this.drainWaiters.length > 0) {
      const waiters = this.drainWaiters;
      this.drainWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }

  get current(): number {
    return this.count;
  }

  whenDrained(): Promise<void> {
    if (this.count === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }
}

export interface ServiceDeps {
  readonly region: ShardRegion;
  readonly inFlight: InFlight;
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly clock: () => number;
  readonly stream_in_flight_max: number;
  readonly stream_frame_items_max: number;
  /** False once shutdown began: new requests get UNAVAILABLE. */
  readonly accepting: () => boolean;
  /** Programs (CardService). */
  readonly programs: ProgramRegistry;
  /** Card PINs: hashed here, never passed further in clear (FAILED_PRECONDITION without a secret). */
  readonly pins: CardPins;
  /** Stored transaction documents by request key (receipt reprint). */
  readonly records: Pick<Persistence, 'loadIdempotencyRecord'>;
  /** Undefined when no PIN secret is configured (refunds are then refused). */
  readonly managers: ManagerDirectory | undefined;
  /** Cluster: stream items whose card lives on another node go there (cluster/router.ts). */
  readonly cluster?: StreamItemRouter;
}

/** How AuthorizeStream items reach their card's owner in a cluster. */
export interface StreamItemRouter {
  /** True when this node holds the card's shard (the item runs here). */
  holdsCard(cardId: string): boolean;
  /** Runs the item as an Authorize call on the card's owner (retried while the shard moves). */
  authorize(
    request: AuthorizeRequest,
    done: (error: { code?: number; details?: string } | null, response?: AuthorizeResponse) => void,
  ): void;
}

export type Handler<Req, Res> = (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => void;

/** A handler's answer: an entity's Outcome, or any failure (typed or not) to map to a status. */
export type Answer<V> = Outcome<V> | { ok: false; error: unknown };

/**
 * Wraps a unary handler: admission (shutdown, in-flight bound, deadline), exactly-once answer,
 * status mapping and metrics. `run` receives the request and a reply function.
 */
export function unary<Req, Res, V>(
  deps: ServiceDeps,
  method: string,
  run: (request: Req, reply: (outcome: Answer<V>) => void) => void,
  toResponse: (value: V) => Res,
): Handler<Req, Res> {
  const answeredOk = deps.metrics.countingChild(deps.metrics.requests, { method, code: '0' });
  return (call, callback) => {
    const fail = (error: unknown): void => {
      const status = serviceErrorOf(error);
      if (status.code === GrpcStatus.INTERNAL) deps.logger.error({ err: error, method }, 'internal error');
      deps.metrics.requests.inc({ method, code: String(status.code) });
      callback(status);
    };
    if (!deps.accepting()) return fail(new NodeStoppingError('node is shutting down; retry on another node'));
    const deadline = call.getDeadline();
    if (deadline instanceof Date && deadline.getTime() <= deps.clock()) {
      return fail(new DeadlineExceededError('deadline passed before processing'));
    }
    if (!deps.inFlight.tryAcquire()) return fail(resourceExhausted('too many requests in flight'));
    let answered = false;
    const reply = (outcome: Answer<V>): void => {
      if (answered) return;
      answered = true;
      deps.inFlight.release();
      if (!outcome.ok) return fail(outcome.error);
      let response: Res;
      try {
        response = toResponse(outcome.value);
      } catch (error) {
        return fail(error);
      }
      answeredOk.inc();
      callback(null, response);
    };
    try {
      run(call.request, reply);
    } catch (error) {
      reply({ ok: false, error });
    }
  };
}

/**
 * Wraps a unary handler whose work is a promise (a use case): `run` decodes the request and
 * returns the use case's answer; a rejection is answered as a status like any other failure.
 */
export function unaryAsync<Req, Res, V>(
  deps: ServiceDeps,
  method: string,
  run: (request: Req) => Promise<V>,
  toResponse: (value: V) => Res,
): Handler<Req, Res> {
  return unary<Req, Res, V>(
    deps,
    method,
    (request, reply) => {
      run(request).then(
        (value) => reply({ ok: true, value }),
        (error: unknown) => reply({ ok: false, error }),
      );
    },
    toResponse,
  );
}

/**
 * The PIN entered, as its keyed hash (the PIN itself goes no further than the PIN use case). A
 * plain purchase without a PIN costs one string comparison here.
 */
export function withPin(deps: ServiceDeps, request: MoneyRequest, pin: string): MoneyRequest {
  if (pin === '') return request;
  if (!pin_pattern.test(pin)) throw invalidArgument('pin must be 4-12 digits');
  return deps.pins.forPayment(request, pin);
}

export function authorizationService(deps: ServiceDeps): AuthorizationServiceServer {
  const { region } = deps;
  return {
    authorize: unary<AuthorizeRequest, AuthorizeResponse, TxnAnswer>(
      deps,
      'Authorize',
      (request, reply) => {
        // Fleet cards ("<fleet>~<card>") carry a basket and prompts their account decides on.
        region.money(
          isFleetCardId(request.cardId) ? parseFleetAuthorize(request) : withPin(deps, parseAuthorize(request), request.pin),
          reply,
        );
      },
      toAuthorizeResponse,
    ),
    topUp: unary<TopUpRequest, TopUpResponse, TxnAnswer>(
      deps,
      'TopUp',
      (request, reply) => {
        region.money(parseTopUp(request), reply);
      },
      toTopUpResponse,
    ),
    reverse: unary<ReverseRequest, ReverseResponse, TxnAnswer>(
      deps,
      'Reverse',
      (request, reply) => {
        region.money(isFleetCardId(request.cardId) ? parseFleetReverse(request) : parseReverse(request), reply);
      },
      toReverseResponse,
    ),
    getBalance: unary<GetBalanceRequest, GetBalanceResponse, Parameters<typeof toBalanceResponse>[0]>(
      deps,
      'GetBalance',
      (request, reply) => {
        region.balance(requireId('card_id', request.cardId), reply);
      },
      (state) => toBalanceResponse(state, deps.clock()),
    ),
    void: unary<VoidRequest, VoidResponse, TxnAnswer>(
      deps,
      'Void',
      (request, reply) => {
        region.money(parseVoid(request), reply);
      },
      toVoidResponse,
    ),
    getReceipt: unary<GetReceiptRequest, GetReceiptResponse, GetReceiptResponse>(
      deps,
      'GetReceipt',
      (request, reply) => {
        const cardId = requireId('card_id', request.cardId);
        const key = refKey('transaction', request.transaction);
        deps.records.loadIdempotencyRecord(deps.region.shardOfCard(cardId), key).then(
          (stored) => {
            try {
              reply({ ok: true, value: receiptOf(stored, cardId) });
            } catch (error) {
              reply({ ok: false, error: asTaplineError(error) });
            }
          },
          (error: unknown) =>
            reply({
              ok: false,
              error: error instanceof TaplineError ? error : unavailable('could not read the transaction', {}, { cause: error }),
            }),
        );
      },
      (receipt) => receipt,
    ),
    refund: unary<RefundRequest, RefundResponse, TxnAnswer>(
      deps,
      'Refund',
      (request, reply) => {
        const { request: refund, managerId, managerPin } = parseRefund(request);
        const managers = deps.managers;
        if (managers === undefined) throw failedPrecondition('refunds need manager credentials: configure TAPLINE_PIN_SECRET');
        region.money(refund, reply, (merchantId) => managers.verify(merchantId, managerId, managerPin));
      },
      toRefundResponse,
    ),
    authorizeStream: (call: ServerDuplexStream<AuthorizeStreamRequest, AuthorizeStreamResponse>) => serveStream(deps, call),
  };
}

/**
 * One gateway stream. Items of a frame are admitted one by one (each may fail alone); results
 * completed in the same event-loop turn leave together in one frame.
 */
function serveStream(deps: ServiceDeps, call: ServerDuplexStream<AuthorizeStreamRequest, AuthorizeStreamResponse>): void {
  const answeredOk = deps.metrics.countingChild(deps.metrics.requests, { method: 'AuthorizeStream', code: '0' });
  let inFlight = 0;
  let inputEnded = false;
  let closed = false;
  let outgoing: AuthorizeStreamResult[] = [];
  let flushScheduled = false;

  const flush = (): void => {
    flushScheduled = false;
    if (outgoing.length > 0 && !closed) call.write({ results: outgoing });
    outgoing = [];
    if (inputEnded && inFlight === 0 && !closed) {
      closed = true;
      call.end();
    }
  };
  const emit = (result: AuthorizeStreamResult): void => {
    if (closed) return;
    outgoing.push(result);
    if (!flushScheduled) {
      flushScheduled = true;
      setImmediate(flush);
    }
  };
  const failItem = (correlationId: string, error: unknown): void => {
    const status = statusOf(error);
    if (status.code === GrpcStatus.INTERNAL) deps.logger.error({ err: error }, 'internal error in stream item');
    deps.metrics.requests.inc({ method: 'AuthorizeStream', code: String(status.code) });
    emit({ correlationId, statusCode: status.code, statusMessage: status.details, reply: undefined });
  };

  call.on('data', (frame: AuthorizeStreamRequest) => {
    if (frame.items.length > deps.stream_frame_items_max) {
      for (const item of frame.items)
        failItem(item.correlationId, invalidArgument(`at most ${deps.stream_frame_items_max} items per frame`));
      return;
    }
    for (const item of frame.items) {
      let correlationId: string;
      let request: MoneyRequest;
      try {
        correlationId = requireCorrelationId(item.correlationId);
        if (item.request === undefined) throw invalidArgument('request is required');
        if (!deps.accepting()) throw new NodeStoppingError('node is shutting down; retry on another node');
        request = isFleetCardId(item.request.cardId)
          ? parseFleetAuthorize(item.request)
          : withPin(deps, parseAuthorize(item.request), item.request.pin);
      } catch (error) {
        failItem(item.correlationId, error);
        continue;
      }
      if (inFlight >= deps.stream_in_flight_max || !deps.inFlight.tryAcquire()) {
        deps.metrics.rejectedFull.inc({ queue: 'stream' });
        failItem(correlationId, resourceExhausted('too many items in flight'));
        continue;
      }
      inFlight += 1;
      let answered = false;
      const wireRequest = item.request;
      const viaOwner = (): void => {
        // The card lives on another node (or its shard moved here mid-call): run it there.
        deps.cluster?.authorize(wireRequest, (error, response) => {
          inFlight -= 1;
          deps.inFlight.release();
          if (error !== null || response === undefined) {
            deps.metrics.requests.inc({ method: 'AuthorizeStream', code: String(error?.code ?? GrpcStatus.INTERNAL) });
            emit({
              correlationId,
              statusCode: error?.code ?? GrpcStatus.INTERNAL,
              statusMessage: error?.details ?? 'internal error',
              reply: undefined,
            });
          } else {
            answeredOk.inc();
            emit({ correlationId, statusCode: GrpcStatus.OK, statusMessage: '', reply: response });
          }
          if (inputEnded && inFlight === 0 && !flushScheduled) flush();
        });
      };
      if (deps.cluster !== undefined && !deps.cluster.holdsCard(request.cardId)) {
        answered = true;
        viaOwner();
        continue;
      }
      deps.region.money(request, (outcome) => {
        if (answered) return;
        answered = true;
        if (!outcome.ok && deps.cluster !== undefined && isShardMoved(outcome.error)) {
          viaOwner();
          return;
        }
        inFlight -= 1;
        deps.inFlight.release();
        if (!outcome.ok) {
          failItem(correlationId, outcome.error);
        } else {
          answeredOk.inc();
          emit({ correlationId, statusCode: GrpcStatus.OK, statusMessage: '', reply: toAuthorizeResponse(outcome.value) });
        }
        if (inputEnded && inFlight === 0 && !flushScheduled) flush();
      });
    }
  });
  call.on('end', () => {
    inputEnded = true;
    if (!flushScheduled) flush();
  });
  const abandon = (): void => {
    closed = true;
  };
  call.on('cancelled', abandon);
  call.on('error', abandon);
}

/** The AdminService handlers but ListBalances (balances-service.ts). */
export function adminService(deps: ServiceDeps): Omit<AdminServiceServer, 'listBalances'> {
  const { region } = deps;
  return {
    issueCard: unary<IssueCardRequest, IssueCardResponse, { state: Parameters<typeof toBalanceResponse>[0]; alreadyExisted: boolean }>(
      deps,
      'IssueCard',
      (request, reply) => {
        const cardId = requireId('card_id', request.cardId);
        const { amountMinor, currency } = requireBalance('initial_balance', request.initialBalance);
        const programId = optionalId('program_id', request.programId, 'default');
        const operatorId = optionalId('operator_id', request.operatorId, '');
        region.issueCard({ cardId, currency, initialBalanceMinor: amountMinor, programId, nowMs: deps.clock() }, operatorId, reply);
      },
      ({ state, alreadyExisted }) => ({
        cardId: state.cardId,
        balance: { amountMinor: BigInt(state.balanceMinor), currency: state.currency },
        status: wireCardStatus(state.status),
        alreadyExisted,
      }),
    ),
    setCardStatus: unary<SetCardStatusRequest, SetCardStatusResponse, Parameters<typeof toBalanceResponse>[0]>(
      deps,
      'SetCardStatus',
      (request, reply) => {
        const cardId = requireId('card_id', request.cardId);
        const status = domain_card_statuses.get(request.status);
        if (status === undefined || !operator_settable_statuses.has(status))
          throw invalidArgument('status must be ACTIVE, FROZEN or BLOCKED');
        if (request.reason.length > 256) throw invalidArgument('reason is at most 256 characters');
        region.setCardStatus(cardId, status, request.reason, optionalId('operator_id', request.operatorId, ''), reply);
      },
      (state) => ({ cardId: state.cardId, status: wireCardStatus(state.status) }),
    ),
    registerTerminal: unary<
      RegisterTerminalRequest,
      RegisterTerminalResponse,
      { state: { terminalId: string; merchantId: string; enabled: boolean }; unchanged: boolean }
    >(
      deps,
      'RegisterTerminal',
      (request, reply) => {
        const terminalId = requireId('terminal_id', request.terminalId);
        const merchantId = requireId('merchant_id', request.merchantId);
        if (request.location.length > 256) throw invalidArgument('location is at most 256 characters');
        region.changeTerminal(
          terminalId,
          { type: 'register', terminalId, merchantId, location: request.location },
          optionalId('operator_id', request.operatorId, ''),
          reply,
        );
      },
      ({ state, unchanged }) => ({
        terminalId: state.terminalId,
        merchantId: state.merchantId,
        enabled: state.enabled,
        alreadyExisted: unchanged,
      }),
    ),
    setTerminalEnabled: unary<SetTerminalEnabledRequest, SetTerminalEnabledResponse, { state: { terminalId: string; enabled: boolean } }>(
      deps,
      'SetTerminalEnabled',
      (request, reply) => {
        const terminalId = requireId('terminal_id', request.terminalId);
        region.changeTerminal(
          terminalId,
          { type: 'set_enabled', enabled: request.enabled },
          optionalId('operator_id', request.operatorId, ''),
          reply,
        );
      },
      ({ state }) => ({ terminalId: state.terminalId, enabled: state.enabled }),
    ),
  };
}
