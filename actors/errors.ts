// Typed failures: the requests Tapline refuses and the infrastructure failures a caller retries.
// Declines are not here: a decline is a value in an OK reply (actors/declines.ts).
//
// Three kinds, kept apart:
// - a **rejection** (RejectedError) is the domain refusing a request: malformed, unknown entity,
//   a precondition not met, an idempotency key reused for another request, not permitted. Nothing
//   was written; retrying the same request gets the same answer.
// - an **infrastructure failure** is one class per cause (ShardMovedError, OverloadedError,
//   StoreUnavailableError, ContentionError, NodeStoppingError, DeadlineExceededError,
//   PspUnavailableError), with the
//   underlying error as its `cause`. The outcome may be unknown: retrying with the same
//   idempotency key is always safe.
// - a **programmer error** is an InternalError (an assertion): callers see INTERNAL with nothing
//   internal in the message.
// Every class carries a status `code` from one small vocabulary; services/authorizer/grpc/status.ts
// maps it to the wire in exactly one place, for unary calls, streams, forwarding and fan-out.

export type ErrorCode =
  | 'invalid_argument'
  | 'not_found'
  | 'failed_precondition'
  | 'already_exists'
  | 'permission_denied'
  | 'unauthenticated'
  | 'resource_exhausted'
  | 'unavailable'
  | 'deadline_exceeded'
  | 'unimplemented'
  | 'internal';

/** Values that identify what a failure is about (ids, shard, queue); logged, never parsed. */
export type ErrorDetails = Readonly<Record<string, string | number | boolean | undefined>>;

export class TaplineError extends Error {
  readonly code: ErrorCode;
  readonly details: ErrorDetails;

  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.details = details;
  }
}

/** Codes the domain refuses a request with (nothing was written). */
export type RejectionCode =
  'invalid_argument' | 'not_found' | 'failed_precondition' | 'already_exists' | 'permission_denied' | 'unauthenticated' | 'unimplemented';

export class RejectedError extends TaplineError {
  declare readonly code: RejectionCode;

  /**
   * A refusal is an answer, not a fault: its stack is never logged or sent, so none is captured.
   * Capturing one cost ~20 us per refusal, which a client looking up unknown ids pays per id.
   */
  constructor(code: RejectionCode, message: string, details: ErrorDetails = {}) {
    const stack_frames_max = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      super(code, message, details);
    } finally {
      Error.stackTraceLimit = stack_frames_max;
    }
  }
}

/**
 * The entity's shard is not (or no longer) held here, or a commit was fenced by a newer owner's
 * epoch: nothing of the request ran or was written. The cluster router retries it on the shard's
 * new owner with the same request (and key).
 */
export class ShardMovedError extends TaplineError {
  constructor(message: string, details: ErrorDetails = {}, options?: { cause?: unknown }) {
    super('unavailable', message, details, options);
  }
}

/** A bounded queue (mailbox, commit queue, in-flight requests, active entities) is full. */
export class OverloadedError extends TaplineError {
  constructor(message: string, details: ErrorDetails = {}) {
    super('resource_exhausted', message, details);
  }
}

/** Retry later (with the same idempotency key): the outcome of a money request may be unknown. */
export class UnavailableError extends TaplineError {
  constructor(message: string, details: ErrorDetails = {}, options?: { cause?: unknown }) {
    super('unavailable', message, details, options);
  }
}

/** The state store failed or did not answer in time. */
export class StoreUnavailableError extends UnavailableError {}

/** The store did not answer within its command timeout. */
export class StoreTimeoutError extends StoreUnavailableError {}

/**
 * The payment service provider failed, did not answer in time, or refused the node's credentials:
 * nothing was started or applied on Tapline's side (a PSP report is applied only on an answer).
 */
export class PspUnavailableError extends UnavailableError {}

/**
 * The store applied a write but fewer replicas than required acknowledged it in time: it may
 * survive or be lost with the primary, so the outcome is unknown.
 */
export class ReplicationShortError extends StoreUnavailableError {}

/** The entity's state kept changing under the request (conflicting commits) past the retry bound. */
export class ContentionError extends UnavailableError {}

/** The node is shutting down: the request did not run; another node serves it. */
export class NodeStoppingError extends UnavailableError {}

export class DeadlineExceededError extends TaplineError {
  constructor(message: string, details: ErrorDetails = {}) {
    super('deadline_exceeded', message, details);
  }
}

/** A programmer error (an assertion failed); callers see INTERNAL and nothing of the message. */
export class InternalError extends TaplineError {
  constructor(message: string, details: ErrorDetails = {}, options?: { cause?: unknown }) {
    super('internal', message, details, options);
  }
}

export const rejected = (code: RejectionCode, message: string, details?: ErrorDetails): RejectedError =>
  new RejectedError(code, message, details);

export const invalidArgument = (message: string, details?: ErrorDetails): RejectedError =>
  new RejectedError('invalid_argument', message, details);

export const notFound = (message: string, details?: ErrorDetails): RejectedError => new RejectedError('not_found', message, details);

export const failedPrecondition = (message: string, details?: ErrorDetails): RejectedError =>
  new RejectedError('failed_precondition', message, details);

export const alreadyExists = (message: string, details?: ErrorDetails): RejectedError =>
  new RejectedError('already_exists', message, details);

export const permissionDenied = (message: string, details?: ErrorDetails): RejectedError =>
  new RejectedError('permission_denied', message, details);

export const unauthenticated = (message: string, details?: ErrorDetails): RejectedError =>
  new RejectedError('unauthenticated', message, details);

export const unimplemented = (message: string, details?: ErrorDetails): RejectedError =>
  new RejectedError('unimplemented', message, details);

export const resourceExhausted = (message: string, details?: ErrorDetails): OverloadedError => new OverloadedError(message, details);

export const unavailable = (message: string, details?: ErrorDetails, options?: { cause?: unknown }): UnavailableError =>
  new UnavailableError(message, details, options);

export const shardMoved = (message: string, details?: ErrorDetails): ShardMovedError => new ShardMovedError(message, details);

export function isShardMoved(error: unknown): error is ShardMovedError {
  return error instanceof ShardMovedError;
}

/** Any thrown value as a TaplineError: typed errors as they are, anything else as an InternalError with it as cause. */
export function asTaplineError(error: unknown, message = 'internal error'): TaplineError {
  return error instanceof TaplineError ? error : new InternalError(message, {}, { cause: error });
}

/** A failure that an entity's reply callback receives instead of a reply. */
export type Outcome<R> = { ok: true; value: R } | { ok: false; error: TaplineError };
