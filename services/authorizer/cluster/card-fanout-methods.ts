// Internal methods that card operations touching many cards (bulk issuance, the program refund
// run) send to each card's owner through the cluster router, exactly like a client call: run here
// when this node holds the card's shard, else forwarded over the peer stream, retried on a moving
// shard with the same request (so the same idempotency key). They are reachable only over the
// node-to-node Forward stream (never served on the public port) and are encoded as JSON: both
// ends are the same build, and the requests carry only strings, booleans and safe integers.

import * as grpc from '@grpc/grpc-js';
import { TaplineError, type ErrorCode } from '../../../actors/errors';
import type { CardCommand } from '../../../actors/card/rules';

/** One card of a bulk issuance: the command the entry node built (profile included). */
export interface BulkCardIssue {
  readonly command: Extract<CardCommand, { type: 'issue' }>;
  readonly operatorId: string;
}

export interface BulkCardIssued {
  readonly alreadyExisted: boolean;
}

/** One card of a refund run: cashed out with the run's key for that card. */
export interface RefundRunCashOut {
  readonly cardId: string;
  readonly key: string;
  readonly operatorId: string;
}

export interface RefundRunCashedOut {
  readonly approved: boolean;
  readonly amountMinor: number;
  readonly currency: string;
  readonly transactionId: string;
  readonly named: boolean;
}

function jsonMethod<Req, Res>(path: string, originalName: string): grpc.MethodDefinition<Req, Res> {
  return {
    path,
    originalName,
    requestStream: false,
    responseStream: false,
    requestSerialize: (value: Req) => Buffer.from(JSON.stringify(value)),
    requestDeserialize: (bytes: Buffer) => JSON.parse(bytes.toString('utf8')) as Req,
    responseSerialize: (value: Res) => Buffer.from(JSON.stringify(value)),
    responseDeserialize: (bytes: Buffer) => JSON.parse(bytes.toString('utf8')) as Res,
  };
}

export const card_fanout_service = {
  issueBulkCard: jsonMethod<BulkCardIssue, BulkCardIssued>('/tapline.internal.v1.CardFanout/IssueBulkCard', 'issueBulkCard'),
  refundRunCashOut: jsonMethod<RefundRunCashOut, RefundRunCashedOut>(
    '/tapline.internal.v1.CardFanout/RefundRunCashOut',
    'refundRunCashOut',
  ),
} as const;

/** What the fan-out needs of the router (cluster/router.ts `call`). */
export interface OwnerCaller {
  call(path: string, request: unknown, done: (error: Partial<grpc.ServiceError> | null, value?: unknown) => void): void;
}

const codes: ReadonlyMap<grpc.status, ErrorCode> = new Map([
  [grpc.status.INVALID_ARGUMENT, 'invalid_argument'],
  [grpc.status.NOT_FOUND, 'not_found'],
  [grpc.status.FAILED_PRECONDITION, 'failed_precondition'],
  [grpc.status.ALREADY_EXISTS, 'already_exists'],
  [grpc.status.PERMISSION_DENIED, 'permission_denied'],
  [grpc.status.RESOURCE_EXHAUSTED, 'resource_exhausted'],
  [grpc.status.UNAVAILABLE, 'unavailable'],
  [grpc.status.DEADLINE_EXCEEDED, 'deadline_exceeded'],
  [grpc.status.UNIMPLEMENTED, 'unimplemented'],
]);

/** The typed error of a status an owner answered (its code and message kept; anything else internal). */
export function errorOfStatus(error: Partial<grpc.ServiceError>): TaplineError {
  const code = error.code === undefined ? undefined : codes.get(error.code);
  return new TaplineError(code ?? 'internal', error.details ?? 'owner call failed');
}

/** Runs one fan-out call on the entity's owner; rejects with the owner's typed error. */
export function callOwner<Req, Res>(router: OwnerCaller, method: grpc.MethodDefinition<Req, Res>, request: Req): Promise<Res> {
  return new Promise<Res>((resolve, reject) => {
    router.call(method.path, request, (error, value) => {
      if (error !== null) reject(errorOfStatus(error));
      else resolve(value as Res);
    });
  });
}
