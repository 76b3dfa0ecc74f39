// Typed failures. Declines are not here: they are values in a reply. These are the requests
// Tapline refuses (bad input, unknown entity, key reuse) and the infrastructure failures the
// caller should retry. Each carries a code that the gRPC boundary maps to a status in exactly one
// place (services/authorizer/grpc/status.ts); nothing else inspects error messages.

export type ErrorCode =
  | 'invalid_argument'
  | 'not_found'
  | 'failed_precondition'
  | 'already_exists'
  | 'permission_denied'
  | 'resource_exhausted'
  | 'unavailable'
  | 'deadline_exceeded'
  | 'unimplemented'
  | 'internal';

export class TaplineError extends Error {
  readonly code: ErrorCode;
  readonly context: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, context: Record<string, unknown> = {}) {
    super(message);
    this.name = 'TaplineError';
    this.code = code;
    this.context = context;
  }
}

export const invalidArgument = (message: string, context?: Record<string, unknown>): TaplineError =>
  new TaplineError('invalid_argument', message, context);

export const notFound = (message: string, context?: Record<string, unknown>): TaplineError =>
  new TaplineError('not_found', message, context);

export const failedPrecondition = (message: string, context?: Record<string, unknown>): TaplineError =>
  new TaplineError('failed_precondition', message, context);

export const alreadyExists = (message: string, context?: Record<string, unknown>): TaplineError =>
  new TaplineError('already_exists', message, context);

export const permissionDenied = (message: string, context?: Record<string, unknown>): TaplineError =>
  new TaplineError('permission_denied', message, context);

export const resourceExhausted = (message: string, context?: Record<string, unknown>): TaplineError =>
  new TaplineError('resource_exhausted', message, context);

export const unavailable = (message: string, context?: Record<string, unknown>): TaplineError =>
  new TaplineError('unavailable', message, context);

export const unimplemented = (message: string, context?: Record<string, unknown>): TaplineError =>
  new TaplineError('unimplemented', message, context);

/** A failure that an entity's reply callback receives instead of a reply. */
export type Outcome<R> = { ok: true; value: R } | { ok: false; error: TaplineError };

/**
 * The entity's shard is not (or no longer) held here: nothing of the request ran or was written.
 * The cluster router retries it on the shard's new owner, with the same request (and key).
 */
export const shardMoved = (message: string, context?: Record<string, unknown>): TaplineError =>
  new TaplineError('unavailable', message, { ...context, shard_moved: true });

export function isShardMoved(error: unknown): boolean {
  return error instanceof TaplineError && error.context['shard_moved'] === true;
}
