// Cluster routing of public calls. Every unary method with an entry in routing-keys.ts is
// wrapped: if this node holds the entity's shard the normal handler runs here; otherwise the
// request bytes go to the owner over the peer stream, the owner runs the SAME handler, and its
// encoded reply (or gRPC status) is relayed unchanged. A call whose shard is moving (no owner
// yet, owner refused as not-owner, commit fenced, link broken) is retried every `retry_ms` on
// whoever owns the shard then, with the same request and therefore the same idempotency key,
// until the client's deadline or `route_wait_max_ms`. Forwarded calls keep the client's deadline.

import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { shardOfKey } from '../../../actors/sharding/shard-key';
import type { ForwardRequest, ForwardResponse, ForwardedCall, ForwardedResult } from '../../../gen/tapline/internal/v1/cluster';
import {
  DeadlineExceededError,
  InternalError,
  invalidArgument,
  permissionDenied,
  unavailable,
  unimplemented,
  type TaplineError,
} from '../../../actors/errors';
import { bindCaller, callerOf, decodeCaller, encodeCaller, type Caller } from '../../common/auth/grpc-access';
import { errorOfStatus, isShardMovedStatus, serviceErrorOf, statusOf } from '../grpc/status';
import type { Member } from '../store/cluster-store';
import type { ForwardOutcome, Peers } from './peers';
import { routingKeyOf } from './routing-keys';
import { UndecodableRequest, decodeRequest } from '../grpc/strict-server';
import { ConnectionBudgets, ResultStream } from '../grpc/result-stream';
import type { StreamBudgets } from '../grpc/service';
import { WireSchemas } from '../../common/wire-check';
import type { ClusterMetrics } from './metrics';

export interface RouterLimits {
  /** Pause between attempts while a shard has no reachable owner. */
  readonly retry_ms: number;
  /** Longest a call waits for its shard's owner (bounds unavailability seen by one call). */
  readonly route_wait_max_ms: number;
}

export interface RouterDeps {
  readonly self: string;
  readonly shardCount: number;
  holds(shard: number): boolean;
  /** The shard's owner by the latest placement (undefined: none known). */
  ownerOf(shard: number): Member | undefined;
  /** False once this node is shutting down: forwarded calls are refused as not-owner. */
  accepting(): boolean;
  readonly peers: Peers;
  readonly limits: RouterLimits;
  readonly logger: Logger;
  readonly clock: () => number;
  readonly metrics?: ClusterMetrics;
  /** Back-pressure of the Forward streams peers open to this node (default: the node's defaults). */
  readonly streams?: StreamBudgets;
}

/** The defaults of services/authorizer/config.ts, for routers built without a configuration (tests). */
const default_forward_stream_limits = { stream_pending_items_max: 10_000, connection_pending_items_max: 20_000, frame_results_max: 1_000 };

type UnaryHandler = (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => void;

interface LocalMethod {
  readonly definition: grpc.MethodDefinition<unknown, unknown>;
  readonly handler: UnaryHandler;
}

type ServiceError = Partial<grpc.ServiceError> | null;

function isMoved(error: ServiceError): boolean {
  return isShardMovedStatus(error);
}

/**
 * A call object for a handler invoked without a client connection (a forwarded call, a stream
 * item, a node's own work): it carries the caller the entry node authenticated, bound as a door
 * binds it, so the handler sees who asked exactly as on the door.
 */
function syntheticCall(request: unknown, path: string, deadline: Date | number, caller: Caller): grpc.ServerUnaryCall<unknown, unknown> {
  const metadata = new grpc.Metadata();
  bindCaller(metadata, caller);
  const call = {
    request,
    metadata,
    cancelled: false,
    getDeadline: () => deadline,
    getPeer: () => 'forwarded',
    getPath: () => path,
    on: () => call,
    once: () => call,
    sendMetadata: () => undefined,
  };
  return call as unknown as grpc.ServerUnaryCall<unknown, unknown>;
}

export class ClusterRouter {
  private readonly local = new Map<string, LocalMethod>();
  private routed = 0;
  private drainWaiters: (() => void)[] = [];
  private readonly streams: StreamBudgets;

  constructor(private readonly deps: RouterDeps) {
    this.streams = deps.streams ?? { limits: default_forward_stream_limits, budgets: new ConnectionBudgets() };
  }

  /** Wraps a service implementation so that its routed unary methods run on the owner. */
  wrap(service: grpc.ServiceDefinition, implementation: grpc.UntypedServiceImplementation): grpc.UntypedServiceImplementation {
    const wrapped: grpc.UntypedServiceImplementation = { ...implementation };
    for (const [name, definition] of Object.entries(service)) {
      const handler = implementation[name];
      if (handler === undefined || definition.requestStream || definition.responseStream) continue;
      const method: LocalMethod = { definition: definition as grpc.MethodDefinition<unknown, unknown>, handler: handler as UnaryHandler };
      this.local.set(definition.path, method);
      const routed: UnaryHandler = (call, callback) => this.route(method, call, callback);
      wrapped[name] = routed as grpc.UntypedHandleCall;
    }
    return wrapped;
  }

  /**
   * Runs one request of a wrapped method as if a client had called it here without a deadline
   * (bounded by route_wait_max_ms): locally if this node holds the shard, else on its owner.
   */
  call(path: string, request: unknown, caller: Caller, done: (error: ServiceError, value?: unknown) => void): void {
    const method = this.local.get(path);
    if (method === undefined) {
      done(serviceErrorOf(unimplemented(`method ${path} is not routed`)));
      return;
    }
    this.route(method, syntheticCall(request, path, Infinity, caller), (error, value) => done(error ?? null, value));
  }

  /** The definition of a routed method (to encode and decode a held request and its reply). */
  definitionOf(path: string): grpc.MethodDefinition<unknown, unknown> | undefined {
    return this.local.get(path)?.definition;
  }

  holdsKey(key: string): boolean {
    return this.deps.holds(shardOfKey(key, this.deps.shardCount));
  }

  /** Calls routed from this node and not yet answered. */
  get pending(): number {
    return this.routed;
  }

  whenDrained(): Promise<void> {
    if (this.routed === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /**
   * Runs a method's handler on this node. A handler that throws (a defect) answers INTERNAL here:
   * grpc-js has no try around a handler, and a forwarded call runs inside a stream's data handler,
   * so an exception escaping either would take the process down with every call it carries.
   */
  private runLocal(method: LocalMethod, call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>): void {
    let answered = false;
    const once: grpc.sendUnaryData<unknown> = (error, value) => {
      if (answered) return;
      answered = true;
      callback(error, value);
    };
    try {
      method.handler(call, once);
    } catch (error) {
      this.deps.logger.error({ err: error, method: method.definition.path }, 'assertion: a handler threw');
      once(serviceErrorOf(new InternalError('handler threw', {}, { cause: error })));
    }
  }

  private route(method: LocalMethod, call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>): void {
    let key: string;
    try {
      key = routingKeyOf(method.definition.path, call.request);
    } catch {
      // Only a request built without its id fields gets here (decoded requests always have them).
      callback(serviceErrorOf(invalidArgument("request could not be routed: its entity's id cannot be read")));
      return;
    }
    if (key === '') {
      this.runLocal(method, call, callback);
      return;
    }
    const shard = shardOfKey(key, this.deps.shardCount);
    if (this.deps.holds(shard)) {
      // The common case on a well-placed client (and always on a single node): no extra work
      // unless the shard moves under the call.
      this.runLocal(method, call, (error, value) => {
        if (isMoved(error ?? null)) this.routeSlow(method, call, callback, shard);
        else callback(error, value);
      });
      return;
    }
    this.routeSlow(method, call, callback, shard);
  }

  private routeSlow(
    method: LocalMethod,
    call: grpc.ServerUnaryCall<unknown, unknown>,
    callback: grpc.sendUnaryData<unknown>,
    shard: number,
  ): void {
    const { deps } = this;
    const deadline = call.getDeadline();
    const deadlineMs = deadline instanceof Date ? deadline.getTime() : Number.isFinite(deadline) ? Number(deadline) : Infinity;
    const giveUpAtMs = Math.min(deadlineMs, deps.clock() + deps.limits.route_wait_max_ms);
    let encoded: Buffer | undefined;
    let callerBytes: Buffer | undefined;
    this.routed += 1;
    let answered = false;
    const startedMs = deps.clock();
    const answer = (error: ServiceError, value?: unknown): void => {
      if (answered) return;
      answered = true;
      this.routed -= 1;
      deps.metrics?.routeWaitSeconds.observe((deps.clock() - startedMs) / 1000);
      if (this.routed === 0 && this.drainWaiters.length > 0) for (const resolve of this.drainWaiters.splice(0)) resolve();
      callback(error, value);
    };
    const retryOrGiveUp = (why: string): void => {
      if (deps.clock() + deps.limits.retry_ms >= giveUpAtMs) {
        answer(
          serviceErrorOf(
            deadlineMs <= giveUpAtMs
              ? new DeadlineExceededError(`deadline passed while the entity's shard was moving (${why})`)
              : unavailable(`no owner for the entity's shard within ${deps.limits.route_wait_max_ms} ms (${why}); retry with the same key`),
          ),
        );
        return;
      }
      deps.metrics?.routeRetries.inc();
      setTimeout(guardedAttempt, deps.limits.retry_ms);
    };
    const guardedAttempt = (): void => {
      try {
        attempt();
      } catch (error) {
        // A programmer error must fail this call, not the process (attempts also run from timers).
        deps.logger.error({ err: error, method: method.definition.path }, 'assertion: routing attempt threw');
        answer(serviceErrorOf(new InternalError('routing attempt threw', {}, { cause: error })));
      }
    };
    const attempt = (): void => {
      if (deps.holds(shard)) {
        this.runLocal(method, call, (error, value) => {
          if (isMoved(error ?? null)) retryOrGiveUp('moved during the call');
          else answer(error ?? null, value);
        });
        return;
      }
      const owner = deps.ownerOf(shard);
      if (owner === undefined || owner.nodeId === deps.self) {
        retryOrGiveUp('owner not known or not yet holding');
        return;
      }
      encoded ??= method.definition.requestSerialize(call.request);
      const caller = callerOf(call);
      if (caller === undefined) {
        answer(serviceErrorOf(new InternalError('assertion: a routed call without its caller')));
        return;
      }
      callerBytes ??= encodeCaller(caller);
      const timeout_ms = Number.isFinite(deadlineMs) ? Math.max(1, Math.min(0xffffffff, deadlineMs - deps.clock())) : 0;
      deps.peers.forward(owner, method.definition.path, encoded, timeout_ms, callerBytes, (outcome: ForwardOutcome) => {
        deps.metrics?.forwarded.inc({ result: outcome.kind === 'result' ? 'ok' : outcome.kind });
        if (outcome.kind === 'retry') retryOrGiveUp(outcome.reason);
        else answerForwarded(method, outcome, answer);
      });
    };
    guardedAttempt();
  }

  /**
   * The owner's side of the internal Forward stream: runs forwarded calls with the local handlers.
   * Results go back with the stream's back-pressure (a peer that stops reading is not read
   * either); a peer that half-closes still gets the results of the calls it sent.
   */
  serveForward(call: grpc.ServerDuplexStream<ForwardRequest, ForwardResponse>): void {
    const results = new ResultStream<ForwardedResult, ForwardResponse>(
      call,
      (batch) => ({ results: batch }),
      this.streams.limits,
      this.streams.budgets,
    );
    call.on('data', (frame: ForwardRequest) => {
      for (let index = 0; index < frame.calls.length; index++) results.itemRead();
      for (const forwarded of frame.calls) this.runForwardedGuarded(forwarded, (result) => results.answer(result));
    });
    call.on('end', () => results.inputEnded());
    call.on('cancelled', () => results.close());
    call.on('error', () => results.close());
  }

  /** Runs one forwarded call; it is answered exactly once, a defect on the way included (INTERNAL). */
  private runForwardedGuarded(forwarded: ForwardedCall, emit: (result: ForwardedResult) => void): void {
    let answered = false;
    const once = (result: ForwardedResult): void => {
      if (answered) return;
      answered = true;
      emit(result);
    };
    try {
      this.runForwarded(forwarded, once);
    } catch (error) {
      this.deps.logger.error({ err: error, method: forwarded.method }, 'assertion: running a forwarded call threw');
      const status = statusOf(new InternalError('forwarded call failed', {}, { cause: error }));
      once({
        callId: forwarded.callId,
        statusCode: status.code,
        statusMessage: status.details,
        response: Buffer.alloc(0),
        notOwner: false,
      });
    }
  }

  private runForwarded(forwarded: ForwardedCall, emit: (result: ForwardedResult) => void): void {
    const reply = (fields: Partial<ForwardedResult>): void =>
      emit({ callId: forwarded.callId, statusCode: 0, statusMessage: '', response: Buffer.alloc(0), notOwner: false, ...fields });
    const replyError = (error: TaplineError): void => {
      const status = statusOf(error);
      reply({ statusCode: status.code, statusMessage: status.details });
    };
    const method = this.local.get(forwarded.method);
    if (method === undefined) {
      replyError(unimplemented(`method ${forwarded.method} is not forwardable`));
      return;
    }
    // The caller the entry node authenticated; a frame without one runs nothing.
    const caller = decodeCaller(forwarded.caller);
    if (caller === undefined) {
      replyError(permissionDenied('a forwarded call must carry its caller'));
      return;
    }
    const request = decodeRequest(
      WireSchemas.shared(),
      forwarded.method,
      Buffer.from(forwarded.request),
      method.definition.requestDeserialize,
    );
    if (request instanceof UndecodableRequest) {
      replyError(invalidArgument(`forwarded ${request.problem}`));
      return;
    }
    let shard: number;
    try {
      // A request that decodes but whose routing key cannot be read is refused like bytes that do not decode.
      shard = shardOfKey(routingKeyOf(forwarded.method, request), this.deps.shardCount);
    } catch {
      replyError(invalidArgument('forwarded request could not be routed'));
      return;
    }
    if (!this.deps.accepting() || !this.deps.holds(shard)) {
      reply({ notOwner: true });
      return;
    }
    const deadline = forwarded.timeoutMs > 0 ? new Date(this.deps.clock() + forwarded.timeoutMs) : Infinity;
    this.runLocal(method, syntheticCall(request, forwarded.method, deadline, caller), (error, value) => {
      if (error) {
        if (isMoved(error)) reply({ notOwner: true });
        else reply({ statusCode: error.code ?? grpc.status.INTERNAL, statusMessage: error.details ?? '' });
        return;
      }
      let response: Buffer;
      try {
        response = method.definition.responseSerialize(value);
      } catch {
        replyError(new InternalError('forwarded reply could not be encoded'));
        return;
      }
      reply({ response });
    });
  }
}

/** Answers a routed call with what its owner answered (a status, or a response to decode). */
function answerForwarded(
  method: LocalMethod,
  outcome: Exclude<ForwardOutcome, { kind: 'retry' }>,
  answer: (error: ServiceError, value?: unknown) => void,
): void {
  if (outcome.kind === 'failed') return answer(serviceErrorOf(outcome.error));
  if (outcome.result.statusCode !== 0)
    return answer(serviceErrorOf(errorOfStatus(outcome.result.statusCode, outcome.result.statusMessage)));
  let response: unknown;
  try {
    response = method.definition.responseDeserialize(Buffer.from(outcome.result.response));
  } catch {
    return answer(serviceErrorOf(new InternalError('forwarded reply could not be decoded')));
  }
  answer(null, response);
}
