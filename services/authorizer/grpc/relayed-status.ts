// A gRPC status another node answered for a call this node made on a client's behalf (the
// per-card calls of a bulk issuance or a refund run, cluster/card-fanout-client.ts). Statuses are
// the cluster's error contract: the owner's status travels back as it is and the client gets it
// unchanged, so no code here translates statuses back into error kinds.

import { Metadata, status as GrpcStatus, type ServiceError } from '@grpc/grpc-js';

export class RelayedStatus extends Error {
  constructor(
    readonly code: GrpcStatus,
    readonly details: string,
  ) {
    super(details);
    this.name = 'RelayedStatus';
  }

  /** The status to answer; an "OK" failure (which no owner sends) is INTERNAL. */
  serviceError(): Partial<ServiceError> {
    const code = this.code === GrpcStatus.OK ? GrpcStatus.INTERNAL : this.code;
    return { code, details: code === GrpcStatus.INTERNAL ? 'internal error' : this.details, metadata: new Metadata() };
  }
}

/** The owner's status of a failed routed call, as the error its caller rejects with. */
export function relayedStatusOf(error: { code?: GrpcStatus | undefined; details?: string | undefined }): RelayedStatus {
  return new RelayedStatus(error.code ?? GrpcStatus.INTERNAL, error.details ?? 'owner call failed');
}
