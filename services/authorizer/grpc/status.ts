// The one place where failures become gRPC statuses, and statuses from a peer become failures
// again. Unary handlers, AuthorizeStream items, the cluster router (its own failures and the
// results it relays) and the per-card fan-out all go through these functions. Typed errors keep
// their code and message; anything else becomes INTERNAL with a generic message (nothing internal
// leaks to callers). "Shard moved" travels as UNAVAILABLE with a trailer, so the router can tell
// "nothing ran, retry on the new owner" from "outcome unknown".

import { Metadata, status as GrpcStatus, type ServiceError } from '@grpc/grpc-js';
import {
  ContentionError,
  DeadlineExceededError,
  InternalError,
  NodeStoppingError,
  OverloadedError,
  PspUnavailableError,
  RejectedError,
  ShardMovedError,
  StoreUnavailableError,
  TaplineError,
  UnavailableError,
  type ErrorCode,
  type RejectionCode,
} from '../../../actors/errors';
import { type Any } from '../../../gen/google/protobuf/any';
import { BadRequest, ErrorInfo, RetryInfo } from '../../../gen/google/rpc/error_details';
import { Status } from '../../../gen/google/rpc/status';

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

/**
 * The status a handler answers with. Its trailers carry the rich error model every gRPC client
 * reads (`grpc-status-details-bin`: google.rpc.Status with ErrorInfo, RetryInfo for a failure worth
 * retrying, BadRequest naming an invalid field) and the shard-moved marker the router reads.
 * An internal error carries nothing but its code.
 */
export function serviceErrorOf(error: unknown): Partial<ServiceError> {
  const status = statusOf(error);
  const metadata = new Metadata();
  if (error instanceof ShardMovedError) metadata.set(shard_moved_trailer, '1');
  if (error instanceof TaplineError && status.code !== GrpcStatus.INTERNAL)
    metadata.set(status_details_trailer, statusDetails(error, status));
  return { code: status.code, details: status.details, metadata };
}

/** The trailer of the gRPC rich error model (google.rpc.Status, binary). */
export const status_details_trailer = 'grpc-status-details-bin';

/** The domain of Tapline's ErrorInfo reasons. */
export const error_domain = 'tapline.io';

/**
 * The client retry policy, per failure (README, "Errors and retries"): how long to wait at
 * least before retrying the same request with the same idempotency key. Absent: do not retry
 * as is (a rejection: the same request gets the same answer).
 */
function retryDelayMsOf(error: TaplineError): number | undefined {
  if (error instanceof ShardMovedError || error instanceof NodeStoppingError) return 50;
  if (error instanceof ContentionError) return 100;
  if (error instanceof StoreUnavailableError) return 500;
  if (error instanceof OverloadedError || error instanceof PspUnavailableError) return 1_000;
  if (error instanceof UnavailableError || error instanceof DeadlineExceededError) return 200;
  return undefined;
}

/** A stable UPPER_SNAKE_CASE reason: the failure's class for infrastructure, its code for a rejection. */
function reasonOf(error: TaplineError): string {
  if (error instanceof ShardMovedError) return 'SHARD_MOVED';
  if (error instanceof NodeStoppingError) return 'NODE_STOPPING';
  if (error instanceof ContentionError) return 'CONTENTION';
  if (error instanceof StoreUnavailableError) return 'STORE_UNAVAILABLE';
  if (error instanceof PspUnavailableError) return 'PSP_UNAVAILABLE';
  if (error instanceof OverloadedError) return 'OVERLOADED';
  return error.code.toUpperCase();
}

function statusDetails(error: TaplineError, status: StatusObject): Buffer {
  const metadata: Record<string, string> = {};
  for (const [key, value] of Object.entries(error.details)) if (value !== undefined) metadata[key] = String(value);
  const details: Any[] = [
    {
      typeUrl: 'type.googleapis.com/google.rpc.ErrorInfo',
      value: Buffer.from(ErrorInfo.encode({ reason: reasonOf(error), domain: error_domain, metadata }).finish()),
    },
  ];
  const delayMs = retryDelayMsOf(error);
  if (delayMs !== undefined) {
    const retryDelay = { seconds: BigInt(Math.floor(delayMs / 1_000)), nanos: (delayMs % 1_000) * 1_000_000 };
    details.push({ typeUrl: 'type.googleapis.com/google.rpc.RetryInfo', value: Buffer.from(RetryInfo.encode({ retryDelay }).finish()) });
  }
  const field = error.details['field'];
  if (error.code === 'invalid_argument' && typeof field === 'string') {
    const fieldViolations = [{ field, description: error.message }];
    details.push({
      typeUrl: 'type.googleapis.com/google.rpc.BadRequest',
      value: Buffer.from(BadRequest.encode({ fieldViolations }).finish()),
    });
  }
  return Buffer.from(Status.encode({ code: status.code, message: status.details, details }).finish());
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
