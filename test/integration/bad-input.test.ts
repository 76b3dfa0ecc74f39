// Proves "bad input changes nothing": every malformed, oversized, out-of-range, unknown-entity or
// disabled-terminal request gets its exact gRPC status, and a snapshot of the whole Redis
// database (every key and value) is identical before and after the request.

import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import type { RedisInstance } from '../../tools/devenv/redis';
import type { AuthorizerNode } from '../../services/authorizer/node';
import { TaplineClient, purchase } from '../../tools/client/tapline-client';
import { AuthorizationKind } from '../../gen/tapline/v1/types';
import type { AuthorizeRequest } from '../../gen/tapline/v1/authorization';
import { startInProcessNode, startTestRedis, accessTo } from '../support/harness';
import { connectInspector, type Inspector } from '../support/redis-inspect';

describe('bad input changes nothing (real Redis, real gRPC)', function () {
  let redis: RedisInstance;
  let node: AuthorizerNode;
  let client: TaplineClient;
  let inspect: Inspector;

  before(async function () {
    redis = await startTestRedis('bad-input');
    node = await startInProcessNode(redis.url, { TAPLINE_GRPC_MESSAGE_MAX_BYTES: String(64 * 1024) });
    client = new TaplineClient(await accessTo(node));
    inspect = await connectInspector(redis.url);
    await client.registerTerminal('pos-1', 'merchant-1');
    await client.registerTerminal('pos-off', 'merchant-1');
    await client.setTerminalEnabled('pos-off', false);
    await client.issueCard('card-1', 1_000);
    await client.authorize(purchase('pos-1', 1, 'card-1', 100));
  });

  after(async function () {
    client?.close();
    await inspect?.close();
    await node?.shutdown();
    await redis?.stop();
  });

  const base = (): AuthorizeRequest => purchase('pos-1', 1_000, 'card-1', 10);
  const cases: { name: string; request: () => AuthorizeRequest; code: grpc.status }[] = [
    { name: 'empty terminal id', request: () => ({ ...base(), terminalId: '' }), code: grpc.status.INVALID_ARGUMENT },
    {
      name: 'oversized terminal id (65 chars)',
      request: () => ({ ...base(), terminalId: 't'.repeat(65) }),
      code: grpc.status.INVALID_ARGUMENT,
    },
    { name: 'terminal id with a colon', request: () => ({ ...base(), terminalId: 'pos:1' }), code: grpc.status.INVALID_ARGUMENT },
    { name: 'empty card id', request: () => ({ ...base(), cardId: '' }), code: grpc.status.INVALID_ARGUMENT },
    { name: 'oversized card id (65 chars)', request: () => ({ ...base(), cardId: 'c'.repeat(65) }), code: grpc.status.INVALID_ARGUMENT },
    { name: 'transaction number 0', request: () => ({ ...base(), terminalTxnNumber: 0n }), code: grpc.status.INVALID_ARGUMENT },
    { name: 'zero amount', request: () => purchase('pos-1', 1_000, 'card-1', 0), code: grpc.status.INVALID_ARGUMENT },
    { name: 'negative amount', request: () => purchase('pos-1', 1_000, 'card-1', -5), code: grpc.status.INVALID_ARGUMENT },
    {
      name: 'amount above 10^12',
      request: () => purchase('pos-1', 1_000, 'card-1', 1_000_000_000_001n),
      code: grpc.status.INVALID_ARGUMENT,
    },
    {
      name: 'int64 max amount',
      request: () => purchase('pos-1', 1_000, 'card-1', 9_223_372_036_854_775_807n),
      code: grpc.status.INVALID_ARGUMENT,
    },
    { name: 'missing amount', request: () => ({ ...base(), amount: undefined }), code: grpc.status.INVALID_ARGUMENT },
    { name: 'unknown currency', request: () => purchase('pos-1', 1_000, 'card-1', 10, 'XXX'), code: grpc.status.INVALID_ARGUMENT },
    { name: 'lower-case currency', request: () => purchase('pos-1', 1_000, 'card-1', 10, 'eur'), code: grpc.status.INVALID_ARGUMENT },
    {
      name: 'line items not adding up',
      request: () => ({
        ...base(),
        lineItems: [{ productCode: 'beer', productGroup: 'drinks', quantityMilli: 1000n, unitPriceMinor: 5n, amountMinor: 5n }],
      }),
      code: grpc.status.INVALID_ARGUMENT,
    },
    {
      name: 'refund (not served yet)',
      request: () => ({ ...base(), kind: AuthorizationKind.AUTHORIZATION_KIND_REFUND }),
      code: grpc.status.UNIMPLEMENTED,
    },
    {
      name: 'completion without original',
      request: () => ({ ...base(), kind: AuthorizationKind.AUTHORIZATION_KIND_COMPLETION }),
      code: grpc.status.INVALID_ARGUMENT,
    },
    {
      name: 'offline upload (not served by v1)',
      request: () => ({ ...base(), offline: { capturedAtUnixMs: 1n, approvedOffline: true } }),
      code: grpc.status.UNIMPLEMENTED,
    },
    {
      name: 'oversized message (pin of 100 KB)',
      request: () => ({ ...base(), pin: 'x'.repeat(100 * 1024) }),
      code: grpc.status.RESOURCE_EXHAUSTED,
    },
    { name: 'unknown card', request: () => purchase('pos-1', 1_000, 'no-such-card', 10), code: grpc.status.NOT_FOUND },
    { name: 'unknown terminal', request: () => purchase('pos-nope', 1, 'card-1', 10), code: grpc.status.NOT_FOUND },
    { name: 'disabled terminal', request: () => purchase('pos-off', 1, 'card-1', 10), code: grpc.status.FAILED_PRECONDITION },
    {
      name: 'replayed transaction number, different amount',
      request: () => purchase('pos-1', 1, 'card-1', 99),
      code: grpc.status.ALREADY_EXISTS,
    },
  ];

  for (const testCase of cases) {
    it(`${testCase.name} -> ${grpc.status[testCase.code]}, Redis unchanged`, async function () {
      const before = await inspect.snapshot();
      await assert.rejects(client.authorize(testCase.request()), (error: grpc.ServiceError) => {
        assert.equal(error.code, testCase.code, `expected ${grpc.status[testCase.code]}, got ${grpc.status[error.code]}: ${error.details}`);
        return true;
      });
      assert.equal(await inspect.snapshot(), before);
    });
  }

  it('top-up, reverse, balance and admin calls refuse bad input with exact codes, Redis unchanged', async function () {
    const before = await inspect.snapshot();
    const expectCode = async (work: Promise<unknown>, code: grpc.status): Promise<void> => {
      await assert.rejects(work, (error: grpc.ServiceError) => {
        assert.equal(error.code, code, `expected ${grpc.status[code]}, got ${grpc.status[error.code]}: ${error.details}`);
        return true;
      });
    };
    await expectCode(client.topUp('card-1', 0, { terminalId: 'pos-1', txn: 3_000 }), grpc.status.INVALID_ARGUMENT);
    await expectCode(client.topUp('card-1', 10, { idempotencyKey: 'k1' }), grpc.status.PERMISSION_DENIED);
    await expectCode(client.topUp('no-card', 10, { terminalId: 'pos-1', txn: 3_001 }), grpc.status.NOT_FOUND);
    await expectCode(client.topUp('card-1', 10, { terminalId: 'pos-off', txn: 7 }), grpc.status.FAILED_PRECONDITION);
    await expectCode(client.topUp('card-1', 10, { terminalId: 'pos-1', txn: 3_002 }, 'ABC'), grpc.status.INVALID_ARGUMENT);
    await expectCode(client.reverse('pos-1', 2_000, 'card-1', { terminalId: 'pos-1', txn: 2_000 }), grpc.status.INVALID_ARGUMENT);
    await expectCode(client.reverse('pos-1', 2_001, 'no-card', { terminalId: 'pos-1', txn: 1 }), grpc.status.NOT_FOUND);
    await expectCode(client.balance(''), grpc.status.INVALID_ARGUMENT);
    await expectCode(client.balance('no-card'), grpc.status.NOT_FOUND);
    await expectCode(client.issueCard('', 10), grpc.status.INVALID_ARGUMENT);
    await expectCode(client.issueCard('new-card', -1), grpc.status.INVALID_ARGUMENT);
    await expectCode(client.issueCard('new-card', 10, 'QQQ'), grpc.status.INVALID_ARGUMENT);
    await expectCode(client.registerTerminal('pos-2', ''), grpc.status.INVALID_ARGUMENT);
    await expectCode(client.setTerminalEnabled('pos-unknown', true), grpc.status.NOT_FOUND);
    assert.equal(await inspect.snapshot(), before);
  });
});
