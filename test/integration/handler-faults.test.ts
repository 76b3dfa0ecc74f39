// Proves that nothing a client or a peer sends can throw out of a stream's data handler or a
// routed call, and that a process that meets a truly unexpected error logs it, stops in order
// and exits with a status of its own instead of dying mid-write:
// - a Forward frame whose call makes the local handler throw (a defect reached by a peer's bytes)
//   answers that call INTERNAL, and the same stream keeps serving the next frame;
// - a routed call whose routing key cannot be read answers INVALID_ARGUMENT instead of throwing
//   out of the router into grpc-js (which has no try around a handler);
// - a process with the authorizer's handler for unexpected errors, meeting an uncaught exception
//   and an unhandled rejection, logs one fatal line with the error, runs its stop, and exits 70.
//
// How: a cluster router served on a real gRPC server and called over a real socket, with a test
// service whose handler throws; a real child process for the process-level handler.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import { ClusterServiceService, ForwardRequest, ForwardResponse } from '../../gen/tapline/internal/v1/cluster';
import { AuthorizationServiceService, GetBalanceRequest, type GetBalanceResponse } from '../../gen/tapline/v1/authorization';
import { CardServiceService } from '../../gen/tapline/v1/cards';
import { ClusterRouter } from '../../services/authorizer/cluster/router';
import { Peers } from '../../services/authorizer/cluster/peers';
import { createStrictServer } from '../../services/authorizer/grpc/strict-server';
import { WireSchemas } from '../../services/common/wire-check';
import { projectRoot } from '../../services/common/paths';
import { systemCaller } from '../../services/common/auth/grpc-access';
import { forwardedCaller } from '../support/harness';
import { RawChannel } from '../support/raw-grpc';

/** A router that holds every shard, as a lone node's does. */
function loneRouter(): ClusterRouter {
  const logger = pino({ level: 'silent' });
  return new ClusterRouter({
    self: 'lone',
    shardCount: 4,
    holds: () => true,
    ownerOf: () => undefined,
    accepting: () => true,
    peers: new Peers({ forward_in_flight_max: 10, forward_timeout_ms: 1_000 }, logger, () => grpc.credentials.createInsecure()),
    limits: { retry_ms: 10, route_wait_max_ms: 100 },
    logger,
    clock: () => Date.now(),
  });
}

describe('handler faults end in a status, never in a crash', function () {
  this.timeout(60_000);
  let server: grpc.Server;
  let channel: RawChannel;
  const router = loneRouter();

  before(async function () {
    // GetBalance of card "boom" throws synchronously in the handler, as a defect would.
    router.wrap(AuthorizationServiceService, {
      getBalance: (call: grpc.ServerUnaryCall<GetBalanceRequest, GetBalanceResponse>, callback: grpc.sendUnaryData<GetBalanceResponse>) => {
        if (call.request.cardId === 'boom') throw new TypeError('a defect in a handler');
        callback(null, { cardId: call.request.cardId, balance: undefined, available: undefined, status: 0 });
      },
    });
    router.wrap(CardServiceService, {
      handlePspCallback: (_call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => callback(null, {}),
    });
    server = createStrictServer(WireSchemas.shared(), {});
    server.addService(ClusterServiceService, {
      forward: (call: grpc.ServerDuplexStream<ForwardRequest, ForwardResponse>) => router.serveForward(call),
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
    );
    channel = new RawChannel(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  });

  after(function () {
    channel?.close();
    server?.forceShutdown();
  });

  const balanceCall = (callId: bigint, cardId: string): ForwardRequest => ({
    calls: [
      {
        callId,
        method: AuthorizationServiceService.getBalance.path,
        request: Buffer.from(GetBalanceRequest.encode({ cardId }).finish()),
        timeoutMs: 1_000,
        caller: forwardedCaller(),
      },
    ],
  });

  it('a forwarded call whose handler throws answers INTERNAL, and the stream serves the next frame', async function () {
    const outcome = await channel.bidi('/tapline.internal.v1.ClusterService/Forward', [
      Buffer.from(ForwardRequest.encode(balanceCall(1n, 'boom')).finish()),
      Buffer.from(ForwardRequest.encode(balanceCall(2n, 'card-2')).finish()),
    ]);
    assert.equal(outcome.code, grpc.status.OK, `stream status ${grpc.status[outcome.code]} ${outcome.details}`);
    const results = outcome.messages.flatMap((message) => ForwardResponse.decode(message).results);
    const byCall = new Map(results.map((result) => [result.callId, result]));
    assert.equal(byCall.get(1n)?.statusCode, grpc.status.INTERNAL, 'the call whose handler threw');
    assert.equal(byCall.get(2n)?.statusCode, grpc.status.OK, 'the next call on the same stream');
  });

  it('a routed call whose routing key cannot be read answers INVALID_ARGUMENT', async function () {
    const answer = await new Promise<{ error: Partial<grpc.ServiceError> | null }>((resolve, reject) => {
      try {
        // A PSP callback without its payload string: its card (the routing key) cannot be read.
        router.call(CardServiceService.handlePspCallback.path, { signature: 'x' }, systemCaller('psp-test'), (error) => resolve({ error }));
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
    assert.equal(answer.error?.code, grpc.status.INVALID_ARGUMENT, `got ${JSON.stringify(answer.error)}`);
  });

  for (const fault of ['uncaught-exception', 'unhandled-rejection'] as const) {
    it(`a process meeting an ${fault.replace('-', ' ')} logs it, stops in order and exits 70`, async function () {
      const script = join(projectRoot(), 'dist', 'test', 'fixtures', 'unexpected-error-process.js');
      const child = spawn(process.execPath, [script, fault], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const code = await new Promise<number | null>((resolve) => child.once('exit', (exitCode) => resolve(exitCode)));
      assert.equal(code, 70, `exit code; stdout: ${stdout}; stderr: ${stderr}`);
      const lines = stdout
        .trim()
        .split('\n')
        .filter((line) => line !== '');
      const fatal = lines
        .map((line) => JSON.parse(line) as { level?: number; msg?: string; err?: { message?: string } })
        .find((l) => l.level === 60);
      assert.ok(fatal !== undefined, `one fatal log line; stdout: ${stdout}`);
      assert.match(fatal.err?.message ?? '', /a defect nobody caught/);
      assert.ok(
        lines.some((line) => line.includes('"stopped in order"')),
        `the stop ran before the exit; stdout: ${stdout}`,
      );
    });
  }
});
