// A gRPC server whose every method refuses bytes that are not a request with INVALID_ARGUMENT.
//
// grpc-js decodes a request before any handler or interceptor sees it, and answers a decoder that
// throws with INTERNAL ("Error deserializing request"): the client is told the server failed when
// it was the client's bytes. So each method's decoder is wrapped where the server registers it
// (health and reflection included, whatever library adds them): the bytes are checked strictly
// against the request type (services/common/wire-check.ts) and decoded; bytes that fail become an
// UndecodableRequest value instead of an exception, and one interceptor answers that value with
// INVALID_ARGUMENT through the one status mapping (status.ts). On a stream, an undecodable frame
// ends the stream: a frame that cannot be read has no correlation ids to answer item by item.

import * as grpc from '@grpc/grpc-js';
import { invalidArgument } from '../../../actors/errors';
import type { WireSchemas } from '../../common/wire-check';
import { serviceErrorOf } from './status';

/** What a method's decoder returns for bytes that are not one of its requests. */
export class UndecodableRequest {
  constructor(readonly problem: string) {}
}

/** Decodes a request strictly: the message, or what makes the bytes not one. */
export function decodeRequest<T>(
  schemas: WireSchemas,
  path: string,
  bytes: Buffer,
  deserialize: (bytes: Buffer) => T,
): T | UndecodableRequest {
  const problem = schemas.requestProblem(path, bytes);
  if (problem !== undefined)
    return new UndecodableRequest(`request is not a well-formed ${schemas.requestTypeOf(path) ?? 'message'}: ${problem}`);
  try {
    return deserialize(bytes);
  } catch {
    return new UndecodableRequest('request could not be decoded');
  }
}

/**
 * Answers an UndecodableRequest with INVALID_ARGUMENT and ends the call: the handler of a unary or
 * server-streaming call never runs, a streaming handler sees its call cancelled. Must come after
 * the metrics interceptor in the server's list, so the status it sends is counted.
 */
export const undecodable_request_guard: grpc.ServerInterceptor = (_method, call) => {
  let refused = false;
  return new grpc.ServerInterceptingCall(call, {
    start: (next) =>
      next({
        onReceiveMessage: (message, nextMessage) => {
          if (refused) return;
          if (!(message instanceof UndecodableRequest)) {
            nextMessage(message);
            return;
          }
          refused = true;
          const status = serviceErrorOf(invalidArgument(message.problem));
          call.sendStatus({ code: grpc.status.INVALID_ARGUMENT, details: message.problem, metadata: status.metadata ?? null });
        },
        onReceiveHalfClose: (nextHalfClose) => {
          if (!refused) nextHalfClose();
        },
      }),
  });
};

type RegisterParameters<Req, Res> = Parameters<typeof grpc.Server.prototype.register<Req, Res>>;

/** A grpc.Server that registers every method with a strict decoder (see the top of this file). */
class StrictServer extends grpc.Server {
  constructor(
    private readonly schemas: WireSchemas,
    options: grpc.ServerOptions,
  ) {
    super(options);
  }

  override register<RequestType, ResponseType>(
    name: string,
    handler: RegisterParameters<RequestType, ResponseType>[1],
    serialize: grpc.serialize<ResponseType>,
    deserialize: grpc.deserialize<RequestType>,
    type: string,
  ): boolean {
    const strict = (bytes: Buffer): RequestType => decodeRequest(this.schemas, name, bytes, deserialize) as RequestType;
    return super.register(name, handler, serialize, strict, type);
  }
}

/**
 * A server for Tapline's ports: strict decoding on every method, and the interceptors given
 * followed by the guard that answers undecodable requests.
 */
export function createStrictServer(schemas: WireSchemas, options: grpc.ServerOptions): grpc.Server {
  return new StrictServer(schemas, { ...options, interceptors: [...(options.interceptors ?? []), undecodable_request_guard] });
}
