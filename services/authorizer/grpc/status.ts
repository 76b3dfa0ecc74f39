// The one place where failures become gRPC statuses. Typed errors keep their code and message;
// anything else becomes INTERNAL with a generic message (nothing internal leaks to callers).

import { status as GrpcStatus, type ServiceError } from '@grpc/grpc-js';
import { Metadata } from '@grpc/grpc-js';
import { TaplineError, isShardMoved, type ErrorCode } from '../../../actors/errors';

const codes: Readonly<Record<ErrorCode, GrpcStatus>> = {
  invalid_argument: GrpcStatus.INVALID_ARGUMENT,
  not_found: GrpcStatus.NOT_FOUND,
  failed_precondition: GrpcStatus.FAILED_PRECONDITION,
  already_exists: GrpcStatus.ALREADY_EXISTS,
  permission_denied: GrpcStatus.PERMISSION_DENIED,
  resource_exhausted: GrpcStatus.RESOURCE_EXHAUSTED,
  unavailable: GrpcStatus.UNAVAILABLE,
  deadline_exceeded: GrpcStatus.DEADLINE_EXCEEDED,
  unimplemented: GrpcStatus.UNIMPLEMENTED,
  internal: GrpcStatus.INTERNAL,
};

export interface StatusObject {
  readonly code: GrpcStatus;
  readonly details: string;
}

export function statusOf(error: unknown): StatusObject {
  if (error instanceof TaplineError && error.code !== 'internal') return { code: codes[error.code], details: error.message };
  return { code: GrpcStatus.INTERNAL, details: 'internal error' };
}

/** Trailer set on UNAVAILABLE when the entity's shard moved and nothing ran (cluster/router.ts retries). */
export const shard_moved_trailer = 'tapline-shard-moved';

export function serviceErrorOf(error: unknown): Partial<ServiceError> {
  const status = statusOf(error);
  const metadata = new Metadata();
  if (isShardMoved(error)) metadata.set(shard_moved_trailer, '1');
  return { code: status.code, details: status.details, metadata };
}
