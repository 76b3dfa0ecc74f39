// A bare gRPC server on Tapline's own proto that answers Authorize and AuthorizeStream without
// doing anything: the ceiling for gRPC on this machine. The benchmark compares Tapline against
// it in the same run. Prints {"event":"serving","grpcPort":N} when ready; stops on SIGTERM.

import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import {
  AuthorizationServiceService,
  type AuthorizeRequest,
  type AuthorizeResponse,
  type AuthorizeStreamRequest,
  type AuthorizeStreamResponse,
} from '../../gen/tapline/v1/authorization';
import { DeclineReason, Outcome } from '../../gen/tapline/v1/types';

let sequence = 0;

function echo(request: AuthorizeRequest): AuthorizeResponse {
  sequence += 1;
  return {
    outcome: Outcome.OUTCOME_APPROVED,
    declineReason: DeclineReason.DECLINE_REASON_UNSPECIFIED,
    declineRule: '',
    transactionId: `echo-${sequence}`,
    approvedAmount: request.amount,
    balanceAfter: request.amount,
    authorizedAtUnixMs: BigInt(Date.now()),
    replayed: false,
    pointsEarned: 0n,
    pointsRedeemed: 0n,
    suspicious: false,
    flags: [],
    holdExpiresAtUnixMs: 0n,
  };
}

const unimplemented = (_call: unknown, callback: grpc.sendUnaryData<never>): void => {
  callback({ code: grpc.status.UNIMPLEMENTED, details: 'echo server' });
};

// The same server options as the authorizer's that change the per-call cost (channelz off), so the
// ceiling is like for like.
const server = new grpc.Server({ 'grpc.enable_channelz': 0 });
server.addService(AuthorizationServiceService, {
  authorize: (call: grpc.ServerUnaryCall<AuthorizeRequest, AuthorizeResponse>, callback: grpc.sendUnaryData<AuthorizeResponse>) => {
    callback(null, echo(call.request));
  },
  authorizeStream: (call: grpc.ServerDuplexStream<AuthorizeStreamRequest, AuthorizeStreamResponse>) => {
    call.on('data', (frame: AuthorizeStreamRequest) => {
      call.write({
        results: frame.items.map((item) => ({
          correlationId: item.correlationId,
          statusCode: 0,
          statusMessage: '',
          reply: item.request ? echo(item.request) : undefined,
        })),
      });
    });
    call.on('end', () => call.end());
  },
  topUp: unimplemented,
  getBalance: unimplemented,
  reverse: unimplemented,
});

/**
 * Mutual TLS like the authorizer's terminal door when ECHO_TLS_CERT_FILE, ECHO_TLS_KEY_FILE and
 * ECHO_TLS_CLIENT_CA_FILE are set (the benchmark compares like with like); plaintext otherwise.
 */
function credentials(): grpc.ServerCredentials {
  const [cert, key, ca] = ['ECHO_TLS_CERT_FILE', 'ECHO_TLS_KEY_FILE', 'ECHO_TLS_CLIENT_CA_FILE'].map((name) => process.env[name]);
  if (cert === undefined || key === undefined || ca === undefined) return grpc.ServerCredentials.createInsecure();
  return grpc.ServerCredentials.createSsl(readFileSync(ca), [{ cert_chain: readFileSync(cert), private_key: readFileSync(key) }], true);
}

const port = Number(process.env['ECHO_GRPC_PORT'] ?? 0);
server.bindAsync(`127.0.0.1:${port}`, credentials(), (error, boundPort) => {
  if (error) {
    process.stderr.write(`echo server failed to bind: ${error.message}\n`);
    process.exit(1);
  }
  process.stdout.write(JSON.stringify({ event: 'serving', msg: 'echo server serving', grpcPort: boundPort }) + '\n');
});
process.on('SIGTERM', () => server.tryShutdown(() => process.exit(0)));
process.on('SIGINT', () => server.tryShutdown(() => process.exit(0)));
