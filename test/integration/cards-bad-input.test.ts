// Proves that every malformed, out-of-range, unknown-entity or unauthorized request of the issue-4
// calls (CardService and the new terminal calls) is refused with its precise gRPC status and leaves
// Redis byte-for-byte unchanged. The node here runs WITHOUT TAPLINE_PIN_SECRET and
// TAPLINE_PSP_SECRET, so PINs, refunds and PSP calls are FAILED_PRECONDITION.

import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import type { RedisInstance } from '../../tools/devenv/redis';
import type { AuthorizerNode } from '../../services/authorizer/node';
import { TaplineClient } from '../../tools/client/tapline-client';
import { CardClient, RefundClient, programConfig } from '../../tools/client/card-client';
import { SettlementMethod } from '../../gen/tapline/v1/cards';
import { startInProcessNode, startTestRedis, accessTo } from '../support/harness';
import { connectInspector, type Inspector } from '../support/redis-inspect';

describe('issue-4 calls refuse bad input and change nothing (real Redis, real gRPC)', function () {
  this.timeout(60_000);
  let redis: RedisInstance;
  let node: AuthorizerNode;
  let client: TaplineClient;
  let cards: CardClient;
  let refunds: RefundClient;
  let inspect: Inspector;

  const eur = (amountMinor: bigint): { amountMinor: bigint; currency: string } => ({ amountMinor, currency: 'EUR' });
  const params = { initialBalance: eur(1_000n), programId: 'bad', deposit: undefined, expiresAtUnixMs: 0n };
  const ref = (txn: number): { ref: { $case: 'terminalTxn'; value: { terminalId: string; txnNumber: bigint } } } => ({
    ref: { $case: 'terminalTxn', value: { terminalId: 'pos-1', txnNumber: BigInt(txn) } },
  });
  const call = <T>(fn: (cb: (error: grpc.ServiceError | null, value: T) => void) => void): Promise<T> =>
    new Promise((resolve, reject) => fn((e, v) => (e ? reject(e) : resolve(v))));

  before(async function () {
    redis = await startTestRedis('cards-bad-input');
    node = await startInProcessNode(redis.url);
    client = new TaplineClient(await accessTo(node));
    cards = new CardClient(await accessTo(node));
    refunds = new RefundClient(await accessTo(node));
    inspect = await connectInspector(redis.url);
    await client.registerTerminal('pos-1', 'shop');
    await cards.defineProgram('bad', programConfig());
    await cards.issue({ cardId: 'card-1', params, holder: undefined, pin: '', operatorId: 'ops' });
  });

  after(async function () {
    client?.close();
    cards?.close();
    refunds?.close();
    await inspect?.close();
    await node?.shutdown();
    await redis?.stop();
  });

  const cases: { name: string; code: grpc.status; run: () => Promise<unknown> }[] = [
    {
      name: 'IssueCard with a PIN but no PIN secret',
      code: grpc.status.FAILED_PRECONDITION,
      run: () => cards.issue({ cardId: 'card-9', params, holder: undefined, pin: '1234', operatorId: 'ops' }),
    },
    { name: 'SetPin without PIN secret', code: grpc.status.FAILED_PRECONDITION, run: () => cards.setPin('card-1', '1234') },
    {
      name: 'Authorize with a PIN but no PIN secret',
      code: grpc.status.FAILED_PRECONDITION,
      run: () =>
        client.authorize({
          terminalId: 'pos-1',
          terminalTxnNumber: 1n,
          cardId: 'card-1',
          amount: eur(1n),
          kind: 1,
          lineItems: [],
          pin: '1234',
          prompts: undefined,
          offline: undefined,
          original: undefined,
        }),
    },
    {
      name: 'Refund without PIN secret (no managers)',
      code: grpc.status.FAILED_PRECONDITION,
      run: () => refunds.refund('pos-1', 2, 'card-1', { terminalId: 'pos-1', txn: 1 }, 1, { id: 'm', pin: '1234' }),
    },
    {
      name: 'RegisterManager without PIN secret',
      code: grpc.status.FAILED_PRECONDITION,
      run: () => refunds.registerManager('shop', 'm', '1234'),
    },
    { name: 'StartPspTopUp without PSP secret', code: grpc.status.FAILED_PRECONDITION, run: () => cards.startPspTopUp('card-1', 100) },
    {
      name: 'HandlePspCallback without PSP secret',
      code: grpc.status.FAILED_PRECONDITION,
      run: () => cards.pspCallback('{}', 'a'.repeat(64)),
    },
    {
      name: 'SetAutoReload without PSP secret',
      code: grpc.status.FAILED_PRECONDITION,
      run: () => cards.setAutoReload('card-1', 100, 500, 'mandate-1'),
    },
    {
      name: 'SetAutoReload with a threshold in another currency',
      code: grpc.status.INVALID_ARGUMENT,
      run: () =>
        call((cb) =>
          cards.cards.setAutoReload(
            {
              cardId: 'card-1',
              threshold: { amountMinor: 1n, currency: 'USD' },
              amount: eur(5n),
              mandateReference: 'm',
              operatorId: 'ops',
            },
            cb,
          ),
        ),
    },
    {
      name: 'SetAutoReload with a malformed mandate',
      code: grpc.status.INVALID_ARGUMENT,
      run: () => cards.setAutoReload('card-1', 100, 500, 'bad mandate'),
    },
    { name: 'ReturnCard without idempotency key', code: grpc.status.INVALID_ARGUMENT, run: () => cards.returnCard('card-1', '') },
    { name: 'ReturnCard of an unknown card', code: grpc.status.NOT_FOUND, run: () => cards.returnCard('no-such-card', 'k-1') },
    {
      name: 'ReplaceCard without reason',
      code: grpc.status.INVALID_ARGUMENT,
      run: () =>
        call((cb) => cards.cards.replaceCard({ cardId: 'card-1', replacementCardId: 'card-2', reason: '', operatorId: 'ops' }, cb)),
    },
    {
      name: 'ReplaceCard with a malformed replacement id',
      code: grpc.status.INVALID_ARGUMENT,
      run: () => cards.replace('card-1', 'card 2'),
    },
    { name: 'RunProgramRefund with a malformed run id', code: grpc.status.INVALID_ARGUMENT, run: () => cards.refundRun('bad', 'run 1') },
    { name: 'RunProgramRefund without program', code: grpc.status.INVALID_ARGUMENT, run: () => cards.refundRun('', 'run-1') },
    { name: 'GetProgram with a malformed id', code: grpc.status.INVALID_ARGUMENT, run: () => cards.getProgram('a:b') },
    {
      name: 'Void without original',
      code: grpc.status.INVALID_ARGUMENT,
      run: async () => {
        const terminal = await client.terminal('pos-1');
        return call((cb) => terminal.void({ terminalId: 'pos-1', terminalTxnNumber: 3n, cardId: 'card-1', original: undefined }, cb));
      },
    },
    {
      name: 'Void of itself',
      code: grpc.status.INVALID_ARGUMENT,
      run: () => cards.voidHold('pos-1', 3, 'card-1', { terminalId: 'pos-1', txn: 3 }),
    },
    {
      name: 'Void on an unknown terminal',
      code: grpc.status.NOT_FOUND,
      run: () => cards.voidHold('pos-404', 3, 'card-1', { terminalId: 'pos-1', txn: 1 }),
    },
    {
      name: 'GetReceipt without reference',
      code: grpc.status.INVALID_ARGUMENT,
      run: async () => {
        const terminal = await client.terminal('pos-1');
        return call((cb) => terminal.getReceipt({ cardId: 'card-1', transaction: undefined }, cb));
      },
    },
    {
      name: 'GetReceipt of an unknown transaction',
      code: grpc.status.NOT_FOUND,
      run: async () => {
        const terminal = await client.terminal('pos-1');
        return call((cb) => terminal.getReceipt({ cardId: 'card-1', transaction: ref(77) }, cb));
      },
    },
    {
      name: 'Refund with amount 0',
      code: grpc.status.INVALID_ARGUMENT,
      run: () => refunds.refund('pos-1', 4, 'card-1', { terminalId: 'pos-1', txn: 1 }, 0, { id: 'm', pin: '1234' }),
    },
    { name: 'SetTabLimit with a negative limit', code: grpc.status.INVALID_ARGUMENT, run: () => cards.setTabLimit('card-1', -1) },
    { name: 'SetTabLimit on an anonymous card', code: grpc.status.FAILED_PRECONDITION, run: () => cards.setTabLimit('card-1', 100) },
    {
      name: 'SettleTab without method',
      code: grpc.status.INVALID_ARGUMENT,
      run: () => cards.settleTab('card-1', 10, 'inv-1', SettlementMethod.SETTLEMENT_METHOD_UNSPECIFIED),
    },
    { name: 'SettleTab of an unknown card', code: grpc.status.NOT_FOUND, run: () => cards.settleTab('no-such-card', 10, 'inv-2') },
    {
      name: 'Authorize COMPLETION of itself',
      code: grpc.status.INVALID_ARGUMENT,
      run: () =>
        client.authorize({
          terminalId: 'pos-1',
          terminalTxnNumber: 5n,
          cardId: 'card-1',
          amount: eur(1n),
          kind: 4,
          lineItems: [],
          pin: '',
          prompts: undefined,
          offline: undefined,
          original: ref(5),
        }),
    },
    {
      name: 'Authorize with a PIN of letters',
      code: grpc.status.INVALID_ARGUMENT,
      run: () =>
        client.authorize({
          terminalId: 'pos-1',
          terminalTxnNumber: 6n,
          cardId: 'card-1',
          amount: eur(1n),
          kind: 1,
          lineItems: [],
          pin: 'abcd',
          prompts: undefined,
          offline: undefined,
          original: undefined,
        }),
    },
  ];

  for (const testCase of cases) {
    it(`${testCase.name} -> ${grpc.status[testCase.code]}, Redis unchanged`, async function () {
      const before = await inspect.snapshot();
      await assert.rejects(testCase.run(), (error: grpc.ServiceError) => {
        assert.equal(error.code, testCase.code, `expected ${grpc.status[testCase.code]}, got ${grpc.status[error.code]}: ${error.details}`);
        return true;
      });
      assert.equal(await inspect.snapshot(), before);
    });
  }
});
