// What every gRPC handler shares: admission (shutdown, the node-wide in-flight bound, a deadline
// already passed), exactly one answer, the status of a failure through status.ts, and metrics;
// and the AdminService handlers. AuthorizationService is authorization-service.ts.

import type { TapPours } from '../usecases/tap-pours';
import type { TerminalAdmin } from '../usecases/terminals';
import type { ServerUnaryCall, sendUnaryData } from '@grpc/grpc-js';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { DeadlineExceededError, NodeStoppingError, invalidArgument, resourceExhausted, type Outcome } from '../../../actors/errors';
import { operator_settable_statuses, type SettableStatus } from '../../../actors/card/lifecycle';
import type { CardStatus } from '../../../actors/card/rules';
import type { ShardRegion } from '../../../actors/sharding/shard-region';
import type { Logger } from 'pino';
import type { Metrics } from '../../common/metrics';
import { serviceErrorOf } from './status';
import { domain_card_statuses, type toBalanceResponse, wireCardStatus } from './mapping';
import type { ProgramRegistry } from '../../../actors/program/registry';
import type { PriceListRegistry } from '../../../actors/fleet/price-lists';
import type { CardPins } from '../usecases/card-pins';
import type { ManagerDirectory } from '../usecases/managers';
import type { CardTokens } from '../usecases/card-tokens';
import { pin_pattern } from '../usecases/pin';
import type { MoneyRequest } from '../../../actors/card/transaction';
import type { Persistence } from '../../../actors/runtime/persistence';
import { optionalId, parseAuthorize, requireBalance, requireId } from './validate';
import { withCashier } from './terminals-validate';
import type { AuthorizeRequest, AuthorizeResponse } from '../../../gen/tapline/v1/authorization';
import type { ConnectionBudgets, ResultStreamLimits } from './result-stream';
import type { AccessLookups } from '../../common/auth/access';
import { actingOf, type Caller } from '../../common/auth/grpc-access';
import type { Approvals } from '../usecases/approvals';
import { outcomeOf } from '../usecases/outcome';
import {
  IssueCardResponse,
  type AdminServiceServer,
  type IssueCardRequest,
  type SetCardStatusRequest,
  type SetCardStatusResponse,
} from '../../../gen/tapline/v1/admin';

function isSettableStatus(status: CardStatus): status is SettableStatus {
  return operator_settable_statuses.has(status);
}

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
  /** Back-pressure of the node's streams: bounds of items read and not yet answered, per stream and per connection. */
  readonly streams: StreamBudgets;
  /** False once shutdown began: new requests get UNAVAILABLE. */
  readonly accepting: () => boolean;
  /** Programs (CardService). */
  readonly programs: ProgramRegistry;
  /** Shared SPOT price lists (FleetAdminService.LoadSharedPrices). */
  readonly priceLists: PriceListRegistry;
  /** Card PINs: hashed here, never passed further in clear (FAILED_PRECONDITION without a secret). */
  readonly pins: CardPins;
  /** Stored transaction documents by request key (receipt reprint). */
  readonly records: Pick<Persistence, 'loadIdempotencyRecord'>;
  /** Undefined when no PIN secret is configured (refunds are then refused). */
  readonly managers: ManagerDirectory | undefined;
  /** Cluster: stream items whose card lives on another node go there (cluster/router.ts). */
  readonly cluster?: StreamItemRouter;
  /** Four eyes: operator requests the access policy holds for a second principal. */
  readonly approvals: Approvals;
  /** What access checks need to know (a terminal's merchant, for gateway stream items). */
  readonly access: AccessLookups;
  /** Beer taps' pour reports (AuthorizationService.ReportPour). */
  readonly tapPours: TapPours;
  /** Terminal management and cashier credentials (usecases/terminals.ts). */
  readonly terminals: TerminalAdmin;
  /** Open loop: the cards visitors' bank cards pay from (usecases/card-tokens.ts). */
  readonly bankCards?: Pick<CardTokens, 'cardFor'>;
}

/** The bounds of a server's streams and the per-connection counts they share (result-stream.ts). */
export interface StreamBudgets {
  readonly limits: ResultStreamLimits;
  readonly budgets: ConnectionBudgets;
}

/** How AuthorizeStream items reach their card's owner in a cluster. */
export interface StreamItemRouter {
  /** True when this node holds the card's shard (the item runs here). */
  holdsCard(cardId: string): boolean;
  /** Runs the item as an Authorize call on the card's owner (retried while the shard moves), as the stream's caller. */
  authorize(
    request: AuthorizeRequest,
    caller: Caller,
    done: (error: { code?: number; details?: string } | null, response?: AuthorizeResponse) => void,
  ): void;
}

/**
 * A call's deadline in epoch ms, or undefined when it has none. grpc-js gives a server call's
 * deadline as epoch ms (Infinity without one); a synthetic call (forwarded, fan-out) may carry a Date.
 */
export function deadlineMsOf(deadline: Date | number): number | undefined {
  if (deadline instanceof Date) return deadline.getTime();
  return Number.isFinite(deadline) ? deadline : undefined;
}

/**
 * The PIN entered, as its keyed hash (the PIN itself goes no further than the PIN use case). A
 * plain purchase without a PIN costs one string comparison here.
 */
export function withPin<R extends MoneyRequest>(deps: ServiceDeps, request: R, pin: string): R {
  if (pin === '') return request;
  if (!pin_pattern.test(pin)) throw invalidArgument('pin must be 4-12 digits');
  return deps.pins.forPayment(request, pin);
}

/** A stored-value card's authorization with its PIN's and its cashier's credentials. */
export function cardAuthorize(deps: ServiceDeps, request: AuthorizeRequest): MoneyRequest {
  return withCashier(withPin(deps, parseAuthorize(request), request.pin), request.cashier, (terminalId, cashierId, code) =>
    deps.terminals.cashierCredential(terminalId, cashierId, code),
  );
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
  run: (request: Req, reply: (outcome: Answer<V>) => void, call: ServerUnaryCall<Req, Res>, deadlineMs: number | undefined) => void,
  toResponse: (value: V) => Res,
): Handler<Req, Res> {
  return (call, callback) => {
    const fail = (error: unknown): void => {
      const status = serviceErrorOf(error);
      if (status.code === GrpcStatus.INTERNAL) deps.logger.error({ err: error, method }, 'internal error');
      callback(status);
    };
    if (!deps.accepting()) return fail(new NodeStoppingError('node is shutting down; retry on another node'));
    const deadlineMs = deadlineMsOf(call.getDeadline());
    // A deadline is the caller's wall-clock instant, so it is compared with real time (as the
    // committer does), never with the node's domain clock, which tests move across days.
    if (deadlineMs !== undefined && deadlineMs <= Date.now()) {
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
      callback(null, response);
    };
    try {
      run(call.request, reply, call, deadlineMs);
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
  run: (request: Req, call: ServerUnaryCall<Req, Res>) => Promise<V>,
  toResponse: (value: V) => Res,
): Handler<Req, Res> {
  return unary<Req, Res, V>(
    deps,
    method,
    (request, reply, call) => {
      run(request, call).then(
        (value) => reply({ ok: true, value }),
        (error: unknown) => reply({ ok: false, error }),
      );
    },
    toResponse,
  );
}

type IssueValue =
  { state: Parameters<typeof toBalanceResponse>[0]; alreadyExisted: boolean } | { pendingApprovalId: string; cardId: string };

/** AdminService without ListBalances (balances-service.ts) and the terminal methods (terminals-service.ts). */
export function adminService(deps: ServiceDeps): Pick<AdminServiceServer, 'issueCard' | 'setCardStatus'> {
  const { region } = deps;
  return {
    issueCard: unaryAsync<IssueCardRequest, IssueCardResponse, IssueValue>(
      deps,
      'IssueCard',
      async (request, call) => {
        const cardId = requireId('card_id', request.cardId);
        const { amountMinor, currency } = requireBalance('initial_balance', request.initialBalance);
        const programId = optionalId('program_id', request.programId, 'default');
        // A large initial balance waits for a second principal (four eyes).
        const pendingApprovalId = await deps.approvals.holdIfNeeded(call);
        if (pendingApprovalId !== undefined) return { pendingApprovalId, cardId };
        const command = { cardId, currency, initialBalanceMinor: amountMinor, programId, nowMs: deps.clock() };
        return outcomeOf<IssueValue>((reply) => region.issueCard(command, actingOf(call), reply));
      },
      (value) =>
        'pendingApprovalId' in value
          ? IssueCardResponse.fromPartial({ cardId: value.cardId, pendingApprovalId: value.pendingApprovalId })
          : {
              cardId: value.state.cardId,
              balance: { amountMinor: BigInt(value.state.balanceMinor), currency: value.state.currency },
              status: wireCardStatus(value.state.status),
              alreadyExisted: value.alreadyExisted,
              pendingApprovalId: '',
            },
    ),
    setCardStatus: unary<SetCardStatusRequest, SetCardStatusResponse, Parameters<typeof toBalanceResponse>[0]>(
      deps,
      'SetCardStatus',
      (request, reply, call) => {
        const cardId = requireId('card_id', request.cardId);
        const status = domain_card_statuses.get(request.status);
        if (status === undefined || !isSettableStatus(status)) throw invalidArgument('status must be ACTIVE, FROZEN or BLOCKED');
        if (request.reason.length > 256) throw invalidArgument('reason is at most 256 characters');
        region.setCardStatus(cardId, status, request.reason, actingOf(call), reply);
      },
      (state) => ({ cardId: state.cardId, status: wireCardStatus(state.status) }),
    ),
  };
}
