// Proves purchases with line items and receipt data against a real node and real Redis: the reply
// shows the amount, the balance and what the card has spent so far; the basket is kept in the
// transaction's document (lines); a receipt is reprinted by transaction reference, only for its
// own card; inconsistent lines are INVALID_ARGUMENT and change nothing; a retry with another
// basket is another request (ALREADY_EXISTS).

import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import type { RedisInstance } from '../../tools/devenv/redis';
import type { AuthorizerNode } from '../../services/authorizer/node';
import { Outcome, type LineItem } from '../../gen/tapline/v1/types';
import type { GetReceiptResponse } from '../../gen/tapline/v1/authorization';
import { TaplineClient, purchase } from '../../tools/client/tapline-client';
import { CardClient } from '../../tools/client/card-client';
import { startInProcessNode, startTestRedis, accessTo } from '../support/harness';
import { connectInspector, type Inspector } from '../support/redis-inspect';

const basket: LineItem[] = [
  { productCode: 'BEER-05', productGroup: 'drinks', quantityMilli: 2_000n, unitPriceMinor: 450n, amountMinor: 900n },
  { productCode: 'FRIES', productGroup: 'food', quantityMilli: 1_000n, unitPriceMinor: 350n, amountMinor: 350n },
];

describe('line items, receipt data and receipt reprint (real Redis, real gRPC)', function () {
  this.timeout(60_000);
  let redis: RedisInstance;
  let node: AuthorizerNode;
  let client: TaplineClient;
  let cards: CardClient;
  let inspect: Inspector;

  const receipt = async (cardId: string, terminalId: string, txn: number): Promise<GetReceiptResponse> => {
    // The receipt of a terminal's transaction is reprinted by that terminal.
    const terminal = await client.terminal(terminalId);
    return new Promise((resolve, reject) => {
      const request = { cardId, transaction: { ref: { $case: 'terminalTxn' as const, value: { terminalId, txnNumber: BigInt(txn) } } } };
      terminal.getReceipt(request, (error, response) => (error ? reject(error) : resolve(response)));
    });
  };

  before(async function () {
    redis = await startTestRedis('receipts');
    node = await startInProcessNode(redis.url);
    client = new TaplineClient(await accessTo(node));
    cards = new CardClient(await accessTo(node));
    inspect = await connectInspector(redis.url);
    await client.registerTerminal('bar-7', 'beer-garden');
    for (const cardId of ['r-1', 'r-2']) {
      await cards.issue({
        cardId,
        params: { initialBalance: { amountMinor: 5_000n, currency: 'EUR' }, programId: 'fest', deposit: undefined, expiresAtUnixMs: 0n },
        holder: undefined,
        pin: '',
        operatorId: 'ops',
      });
    }
  });

  after(async function () {
    client?.close();
    cards?.close();
    await inspect?.close();
    await node?.shutdown();
    await redis?.stop();
  });

  it('answers amount, balance and spent-so-far; keeps the basket; reprints the receipt', async () => {
    const first = await client.authorize({ ...purchase('bar-7', 1, 'r-1', 1_250), lineItems: basket });
    assert.equal(first.outcome, Outcome.OUTCOME_APPROVED);
    assert.deepEqual(
      [first.approvedAmount?.amountMinor, first.balanceAfter?.amountMinor, first.spentTotal?.amountMinor],
      [1_250n, 3_750n, 1_250n],
    );
    const second = await client.authorize(purchase('bar-7', 2, 'r-1', 300));
    assert.equal(second.spentTotal?.amountMinor, 1_550n);
    const stored = (await inspect.outbox()).find((d) => d['key'] === 't:bar-7:1');
    assert.deepEqual(stored?.['lines'], [
      { code: 'BEER-05', group: 'drinks', qty_milli: 2_000, unit: 450, amount: 900 },
      { code: 'FRIES', group: 'food', qty_milli: 1_000, unit: 350, amount: 350 },
    ]);
    assert.equal(stored?.['spent_after'], 1_250);
    const printed = await receipt('r-1', 'bar-7', 1);
    assert.deepEqual(
      [
        printed.transactionId,
        printed.kind,
        printed.amount?.amountMinor,
        printed.balanceAfter?.amountMinor,
        printed.spentTotal?.amountMinor,
        printed.merchantId,
      ],
      [first.transactionId, 'purchase', 1_250n, 3_750n, 1_250n, 'beer-garden'],
    );
    assert.deepEqual(
      printed.lines.map((l) => [l.productCode, l.quantityMilli, l.amountMinor]),
      [
        ['BEER-05', 2_000n, 900n],
        ['FRIES', 1_000n, 350n],
      ],
    );
  });

  it('reprints only for the card the transaction belongs to; unknown references are NOT_FOUND', async () => {
    await assert.rejects(receipt('r-2', 'bar-7', 1), (e: grpc.ServiceError) => e.code === grpc.status.NOT_FOUND);
    await assert.rejects(receipt('r-1', 'bar-7', 999), (e: grpc.ServiceError) => e.code === grpc.status.NOT_FOUND);
  });

  it('refuses lines whose amount is not quantity x unit price, and a retry with another basket; Redis unchanged', async () => {
    const before = await inspect.snapshot();
    const wrong: LineItem[] = [
      { productCode: 'BEER-05', productGroup: 'drinks', quantityMilli: 2_000n, unitPriceMinor: 450n, amountMinor: 1_250n },
    ];
    await assert.rejects(
      client.authorize({ ...purchase('bar-7', 3, 'r-2', 1_250), lineItems: wrong }),
      (e: grpc.ServiceError) => e.code === grpc.status.INVALID_ARGUMENT,
    );
    const negative: LineItem[] = [{ productCode: 'X', productGroup: 'g', quantityMilli: -1n, unitPriceMinor: 0n, amountMinor: 1_250n }];
    await assert.rejects(
      client.authorize({ ...purchase('bar-7', 3, 'r-2', 1_250), lineItems: negative }),
      (e: grpc.ServiceError) => e.code === grpc.status.INVALID_ARGUMENT,
    );
    const other: LineItem[] = [
      { productCode: 'WINE', productGroup: 'drinks', quantityMilli: 1_000n, unitPriceMinor: 1_250n, amountMinor: 1_250n },
    ];
    await assert.rejects(
      client.authorize({ ...purchase('bar-7', 1, 'r-1', 1_250), lineItems: other }),
      (e: grpc.ServiceError) => e.code === grpc.status.ALREADY_EXISTS,
    );
    assert.equal(await inspect.snapshot(), before);
  });

  it('accepts a line rounded to the minor unit (16.667 l at 1.80 = 30.0006)', async () => {
    const fuel: LineItem[] = [
      { productCode: 'DIESEL', productGroup: 'fuel', quantityMilli: 16_667n, unitPriceMinor: 180n, amountMinor: 3_000n },
    ];
    const reply = await client.authorize({ ...purchase('bar-7', 4, 'r-2', 3_000), lineItems: fuel });
    assert.equal(reply.outcome, Outcome.OUTCOME_APPROVED);
  });
});
