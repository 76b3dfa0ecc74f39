// One venue gateway's AuthorizeStream: frames of items in, frames of results out, each result
// tagged with its item's correlation id. Items of a frame are admitted one by one (each may fail
// alone, with the status the one mapping in status.ts gives it; a defect answers its item
// INTERNAL and never escapes the data handler); every item's terminal is checked against the
// certificate that opened the stream; results completed in the same event-loop turn leave
// together, and a gateway that does not read its results is not read either (result-stream.ts).
// An item whose card lives on another node runs there as an Authorize call (the cluster router
// retries it while the shard moves).

import type { ServerDuplexStream } from '@grpc/grpc-js';
import { status as GrpcStatus } from '@grpc/grpc-js';
import {
  InternalError,
  NodeStoppingError,
  asTaplineError,
  invalidArgument,
  isShardMoved,
  resourceExhausted,
  unauthenticated,
  type Outcome,
} from '../../../actors/errors';
import { checkTerminals } from '../../common/auth/access';
import { callerOf, requesterOf, type Caller } from '../../common/auth/grpc-access';
import type { Requester } from '../../../actors/origin';
import { isFleetCardId } from '../../../actors/sharding/shard-key';
import type { MoneyRequest, TxnAnswer } from '../../../actors/card/transaction';
import type {
  AuthorizeRequest,
  AuthorizeResponse,
  AuthorizeStreamItem,
  AuthorizeStreamRequest,
  AuthorizeStreamResponse,
  AuthorizeStreamResult,
} from '../../../gen/tapline/v1/authorization';
import { parseFleetAuthorize } from './fleet-validate';
import { toAuthorizeResponse } from './mapping';
import { errorOfStatus, statusOf } from './status';
import { requireCorrelationId, requireId } from './validate';
import { cardAuthorize, withPin, type ServiceDeps } from './service';
import { authorizeByBankCard } from './bank-card';
import { ResultStream } from './result-stream';

type Settle = (outcome: Outcome<TxnAnswer> | undefined, relayed?: AuthorizeResponse) => void;

export function serveGatewayStream(deps: ServiceDeps, call: ServerDuplexStream<AuthorizeStreamRequest, AuthorizeStreamResponse>): void {
  const caller = callerOf(call);
  if (caller === undefined) {
    call.emit('error', { code: GrpcStatus.INTERNAL, details: 'internal error' });
    return;
  }
  const stream = new GatewayStream(deps, call, caller);
  call.on('data', (frame: AuthorizeStreamRequest) => stream.frame(frame));
  call.on('end', () => stream.inputEnded());
  call.on('cancelled', () => stream.abandon());
  call.on('error', () => stream.abandon());
}

class GatewayStream {
  private readonly answeredOk;
  private inFlight = 0;
  private readonly results: ResultStream<AuthorizeStreamResult, AuthorizeStreamResponse>;
  /** Who asks, for reversals and hold operations among the items (actors/origin.ts). */
  private readonly requester: Requester | undefined;

  constructor(
    private readonly deps: ServiceDeps,
    private readonly call: ServerDuplexStream<AuthorizeStreamRequest, AuthorizeStreamResponse>,
    /** The gateway (or terminal) whose certificate opened the stream: every item is checked against it. */
    private readonly caller: Caller,
  ) {
    this.answeredOk = deps.metrics.countingChild(deps.metrics.streamItems, { grpc_code: 'OK' });
    this.requester = requesterOf(caller);
    this.results = new ResultStream<AuthorizeStreamResult, AuthorizeStreamResponse>(
      call,
      (results) => ({ results }),
      deps.streams.limits,
      deps.streams.budgets,
    );
  }

  /** Reads a frame: every item is owed exactly one result, whatever happens to it. */
  frame(frame: AuthorizeStreamRequest): void {
    const { deps } = this;
    if (this.results.isClosed) return;
    for (let index = 0; index < frame.items.length; index++) this.results.itemRead();
    if (!this.caller.stillValid()) {
      // The certificate was revoked (or expired) while the stream was open: nothing more runs on it.
      const refusal = unauthenticated('the client certificate is revoked or expired');
      for (const item of frame.items) this.failItem(item.correlationId, refusal);
      this.results.flushAndClose();
      this.call.emit('error', { code: GrpcStatus.UNAUTHENTICATED, details: refusal.message });
      return;
    }
    if (frame.items.length > deps.stream_frame_items_max) {
      for (const item of frame.items)
        this.failItem(item.correlationId, invalidArgument(`at most ${deps.stream_frame_items_max} items per frame`));
      return;
    }
    for (const item of frame.items) this.admitGuarded(item);
  }

  inputEnded(): void {
    this.results.inputEnded();
  }

  abandon(): void {
    this.results.close();
  }

  /** Admits one item; a defect on the way answers the item INTERNAL instead of escaping the data handler. */
  private admitGuarded(item: AuthorizeStreamItem): void {
    try {
      this.admit(item);
    } catch (error) {
      this.deps.logger.error({ err: error }, 'assertion: admitting a stream item threw');
      this.failItem(item.correlationId, new InternalError('stream item could not be admitted', {}, { cause: error }));
    }
  }

  /** Validates one item and runs it, here or on its card's owner; every item is answered once. */
  private admit(item: AuthorizeStreamItem): void {
    const { deps } = this;
    let correlationId: string;
    let request: MoneyRequest;
    try {
      correlationId = requireCorrelationId(item.correlationId);
      if (item.request === undefined) throw invalidArgument('request is required');
      if (!deps.accepting()) throw new NodeStoppingError('node is shutting down; retry on another node');
      if (item.request.bankCard !== undefined) return this.admitBankCard(correlationId, item.request);
      request = isFleetCardId(item.request.cardId)
        ? withPin(deps, parseFleetAuthorize(item.request), item.request.pin)
        : cardAuthorize(deps, item.request);
      if (this.requester !== undefined) request = { ...request, requester: this.requester };
    } catch (error) {
      this.failItem(item.correlationId, error);
      return;
    }
    if (this.inFlight >= deps.stream_in_flight_max || !deps.inFlight.tryAcquire()) {
      deps.metrics.rejectedFull.inc({ queue: 'stream' });
      this.failItem(correlationId, resourceExhausted('too many items in flight'));
      return;
    }
    this.inFlight += 1;
    const settle = onceOnly<Parameters<Settle>>((outcome, relayed) => this.settled(correlationId, outcome, relayed));
    const wireRequest = item.request;
    this.guarded(settle, () => this.checkThenRun(request, wireRequest, settle));
  }

  /** Runs a step of an admitted item; a defect in it answers the item INTERNAL instead of escaping. */
  private guarded(settle: Settle, step: () => void): void {
    try {
      step();
    } catch (error) {
      this.deps.logger.error({ err: error }, 'assertion: running a stream item threw');
      settle({ ok: false, error: new InternalError('stream item failed', {}, { cause: error }) });
    }
  }

  /** The item's terminal must be the certificate's, or one of the gateway's merchants' terminals; then it runs. */
  private checkThenRun(request: MoneyRequest, wireRequest: AuthorizeRequest, settle: Settle): void {
    let check: undefined | Promise<unknown>;
    try {
      check = checkTerminals(this.caller.principal, [request.terminalId], this.deps.access);
    } catch (error) {
      settle({ ok: false, error: asTaplineError(error) });
      return;
    }
    if (check === undefined) this.run(request, wireRequest, settle);
    else
      check.then(
        () => this.guarded(settle, () => this.run(request, wireRequest, settle)),
        (error: unknown) => settle({ ok: false, error: asTaplineError(error) }),
      );
  }

  /** Runs an admitted, allowed item here, or on its card's owner; `settle` is called once. */
  private run(request: MoneyRequest, wireRequest: AuthorizeRequest, settle: Settle): void {
    const { deps } = this;
    if (deps.cluster !== undefined && !deps.cluster.holdsCard(request.cardId)) {
      this.viaOwner(wireRequest, settle);
      return;
    }
    deps.terminals.runWithCashier(
      request,
      (reply) => deps.region.money(request, reply),
      (outcome) => {
        // The shard moved here mid-call: run the item on its new owner.
        if (!outcome.ok && deps.cluster !== undefined && isShardMoved(outcome.error)) this.viaOwner(wireRequest, settle);
        else settle(outcome);
      },
    );
  }

  /**
   * An item presenting a bank card: its terminal is checked against the stream's certificate like
   * any item's, then its card is found and the item runs on the card's owner.
   */
  private admitBankCard(correlationId: string, request: AuthorizeRequest): void {
    const { deps } = this;
    if (this.inFlight >= deps.stream_in_flight_max || !deps.inFlight.tryAcquire()) {
      deps.metrics.rejectedFull.inc({ queue: 'stream' });
      this.failItem(correlationId, resourceExhausted('too many items in flight'));
      return;
    }
    this.inFlight += 1;
    const run = async (): Promise<AuthorizeResponse> => {
      await checkTerminals(this.caller.principal, [requireId('terminal_id', request.terminalId)], deps.access);
      return authorizeByBankCard(deps, request, this.caller);
    };
    run().then(
      (response) => this.settled(correlationId, undefined, response),
      (error: unknown) => this.settled(correlationId, { ok: false, error: asTaplineError(error) }),
    );
  }

  /** The card lives on another node (or its shard moved away mid-call): run the item there. */
  private viaOwner(request: AuthorizeRequest, settle: Settle): void {
    const cluster = this.deps.cluster;
    if (cluster === undefined) throw new Error('assertion: an item goes to its owner only in a cluster');
    cluster.authorize(request, this.caller, (error, response) => {
      if (error === null && response !== undefined) settle(undefined, response);
      else settle({ ok: false, error: errorOfStatus(error?.code ?? GrpcStatus.INTERNAL, error?.details ?? '') });
    });
  }

  private settled(correlationId: string, outcome: Outcome<TxnAnswer> | undefined, relayed?: AuthorizeResponse): void {
    this.inFlight -= 1;
    this.deps.inFlight.release();
    if (outcome !== undefined && !outcome.ok) {
      this.failItem(correlationId, outcome.error);
      return;
    }
    this.answeredOk.inc();
    const reply = relayed ?? toAuthorizeResponse((outcome as { ok: true; value: TxnAnswer }).value);
    this.results.answer({ correlationId, statusCode: GrpcStatus.OK, statusMessage: '', reply });
  }

  private failItem(correlationId: string, error: unknown): void {
    const status = statusOf(error);
    if (status.code === GrpcStatus.INTERNAL) this.deps.logger.error({ err: error }, 'internal error in stream item');
    this.deps.metrics.streamItems.inc({ grpc_code: GrpcStatus[status.code] ?? String(status.code) });
    this.results.answer({ correlationId, statusCode: status.code, statusMessage: status.details, reply: undefined });
  }
}

/** `fn`, callable once: later calls do nothing (an item is answered once, whichever path answers). */
function onceOnly<A extends unknown[]>(fn: (...args: A) => void): (...args: A) => void {
  let called = false;
  return (...args: A) => {
    if (called) return;
    called = true;
    fn(...args);
  };
}
