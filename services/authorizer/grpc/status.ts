// The one place where failures become gRPC statuses, and statuses from a peer become failures
// again. Unary handlers, AuthorizeStream items, the cluster router (its own failures and the
// results it relays) and the per-card fan-out all go through these functions. Typed errors keep
// their code and message; anything else becomes INTERNAL with a generic message (nothing internal
// leaks to callers). "Shard moved" travels as UNAVAILABLE with a trailer, so the router can tell
// "nothing ran, retry on the new owner" from "outcome unknown".

import { Metadata, status as GrpcStatus, type ServiceError } from '@grpc/grpc-js';
import {
  DeadlineExceededError,
  InternalError,
  OverloadedError,
  RejectedError,
  ShardMovedError,
  TaplineError,
  UnavailableError,
  type ErrorCode,
  type RejectionCode,
} from '../../../actors/errors';

const codes: Readonly<Record<ErrorCode, GrpcStatus>> = {
  invalid_argument: GrpcStatus.INVALID_ARGUMENT,
  not_found: GrpcStatus.NOT_FOUND,
  failed_precondition: GrpcStatus.FAILED_PRECONDITION,
  already_exists: GrpcStatus.ALREADY_EXISTS,
  permission_denied: GrpcStatus.PERMISSION_DENIED,
  unauthenticated: GrpcStatus.UNAUTHENTICATED,
  resource_exhausted: GrpcStatus.RESOURCE_EXHAUSTED,
  unavailable: GrpcStatus.UNAVAILABLE,
  deadline_exceeded: GrpcStatus.DEADLINE_EXCEEDED,
  unimplemented: GrpcStatus.UNIMPLEMENTED,
  internal: GrpcStatus.INTERNAL,
};

const rejection_codes: ReadonlyMap<GrpcStatus, RejectionCode> = new Map<GrpcStatus, RejectionCode>([
  [GrpcStatus.INVALID_ARGUMENT, 'invalid_argument'],
  [GrpcStatus.NOT_FOUND, 'not_found'],
  [GrpcStatus.FAILED_PRECONDITION, 'failed_precondition'],
  [GrpcStatus.ALREADY_EXISTS, 'already_exists'],
  [GrpcStatus.PERMISSION_DENIED, 'permission_denied'],
  [GrpcStatus.UNAUTHENTICATED, 'unauthenticated'],
  [GrpcStatus.UNIMPLEMENTED, 'unimplemented'],
]);

/** Trailer set on UNAVAILABLE when the entity's shard moved and nothing ran (cluster/router.ts retries). */
export const shard_moved_trailer = 'tapline-shard-moved';

const internal_details = 'internal error';

export interface StatusObject {
  readonly code: GrpcStatus;
  readonly details: string;
}

export function statusOf(error: unknown): StatusObject {
  if (error instanceof TaplineError && error.code !== 'internal') return { code: codes[error.code], details: error.message };
  return { code: GrpcStatus.INTERNAL, details: internal_details };
}

/** The status a handler answers with (its metadata carries the shard-moved trailer when it applies). */
export function serviceErrorOf(error: unknown): Partial<ServiceError> {
  const status = statusOf(error);
  const metadata = new Metadata();
  if (error instanceof ShardMovedError) metadata.set(shard_moved_trailer, '1');
  return { code: status.code, details: status.details, metadata };
}

/** True when a status says the shard moved and nothing ran. */
export function isShardMovedStatus(error: Partial<ServiceError> | null | undefined): boolean {
  return (
    error !== null &&
    error !== undefined &&
    error.code === GrpcStatus.UNAVAILABLE &&
    (error.metadata?.get(shard_moved_trailer).length ?? 0) > 0
  );
}

/**
 * The failure behind a status received from another node (a forwarded or fan-out call): the same
 * class the peer's handler answered with, as far as the status says.
 */
export function errorOfStatus(code: GrpcStatus, details: string, metadata?: Metadata): TaplineError {
  const rejection = rejection_codes.get(code);
  if (rejection !== undefined) return new RejectedError(rejection, details);
  switch (code) {
    case GrpcStatus.RESOURCE_EXHAUSTED:
      return new OverloadedError(details);
    case GrpcStatus.DEADLINE_EXCEEDED:
      return new DeadlineExceededError(details);
    case GrpcStatus.UNAVAILABLE:
      return (metadata?.get(shard_moved_trailer).length ?? 0) > 0 ? new ShardMovedError(details) : new UnavailableError(details);
    default:
      return new InternalError(`peer answered ${GrpcStatus[code] ?? code}: ${details}`);
  }
}
