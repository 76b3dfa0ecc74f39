// Proves that a retry of an answered money request gets its stored answer even when its terminal
// changed since (real gRPC over TLS, real Redis): a purchase approved with a cashier is retried
// with the same terminal, transaction number and body after the terminal was disabled, after its
// cashier was denied, and after its cashier was locked by wrong codes. Each retry gets the stored
// approval (same transaction id, marked replayed) and writes nothing of the card or the
// transaction (the balance is debited once), on a unary call and on a gateway's stream, for a
// card and for a fleet card (whose answer is kept on its account's shard), from the node's memory
// and from Redis after a restart; a new request is still refused, precisely, and moves nothing,
// and a locked cashier stays locked.

import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import type {
  AuthorizeRequest,
  AuthorizeResponse,
  AuthorizeStreamResponse,
  AuthorizeStreamResult,
} from '../../gen/tapline/v1/authorization';
import { Outcome } from '../../gen/tapline/v1/types';
import type { AuthorizerNode } from '../../services/authorizer/node';
import { cashier_code_attempts_max } from '../../services/authorizer/usecases/terminals';
import { purchase, TaplineClient } from '../../tools/client/tapline-client';
import { FleetClient, fleetPurchase } from '../../tools/client/fleet-client';
import type { RedisInstance } from '../../tools/devenv/redis';
import { accessTo, startInProcessNode, startTestRedis, testToken } from '../support/harness';
import { connectInspector, type Inspector } from '../support/redis-inspect';

type Call<Req, Res> = (request: Req, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<Res>) => unknown;

/** One unary call with a deadline, as a promise. */
function call<Req, Res>(method: Call<Req, Res>, request: Req): Promise<Res> {
  return new Promise((resolve, reject) => {
    method(request, new grpc.Metadata(), { deadline: Date.now() + 20_000 }, (error, response) =>
      error || response === undefined ? reject(error ?? new Error('no response')) : resolve(response),
    );
  });
}

async function refusedWith(code: grpc.status, what: string, promise: Promise<unknown>, message: RegExp): Promise<void> {
  await assert.rejects(promise, (error: grpc.ServiceError) => {
    assert.equal(error.code, code, `${what}: expected ${grpc.status[code]}, got ${grpc.status[error.code]} (${error.details})`);
    assert.match(error.details, message, what);
    return true;
  });
}

describe('a retry of an answered request after its terminal changed (real gRPC over TLS, Redis)', function () {
  this.timeout(120_000);
  let redis: RedisInstance;
  let node: AuthorizerNode;
  let issuer: TaplineClient;
  let north: TaplineClient;
  let fleet: FleetClient;
  let inspector: Inspector;
  let txn = 0;
  let terminals = 0;

  const balance = async (cardId: string): Promise<bigint> => (await issuer.balance(cardId)).balance?.amountMinor ?? -1n;
  /** Everything in Redis but the cashiers' attempt counts (a retry naming a cashier takes an attempt). */
  const stateDump = async (): Promise<string> =>
    (await inspector.snapshot())
      .split('\n')
      .filter((line) => !line.includes(':tries:'))
      .join('\n');
  const setCashier = (terminalId: string, cashierId: string, code: string, granted: boolean): Promise<unknown> =>
    call(north.admin.setTerminalCashier.bind(north.admin), { terminalId, cashierId, code, granted });

  /** A new terminal of bar-north with cashier anna (code 4321), and a card with 10.00 on it. */
  const freshTerminal = async (): Promise<{ terminalId: string; cardId: string }> => {
    terminals += 1;
    const terminalId = `pos-r${terminals}`;
    const cardId = `guest-r${terminals}`;
    await call(north.admin.registerTerminal.bind(north.admin), {
      terminalId,
      merchantId: 'bar-north',
      location: 'Hall B',
      operatorId: '',
      serialNumber: `SN-R${terminals}`,
      parameters: undefined,
    });
    await setCashier(terminalId, 'anna', '4321', true);
    await issuer.issueCard(cardId, 1_000);
    return { terminalId, cardId };
  };

  /** Approves a purchase of 2.50 by anna; the request to retry and its answer. */
  const approvedSale = async (terminalId: string, cardId: string): Promise<{ request: AuthorizeRequest; first: AuthorizeResponse }> => {
    const request: AuthorizeRequest = { ...purchase(terminalId, ++txn, cardId, 250), cashier: { cashierId: 'anna', code: '4321' } };
    const first = await issuer.authorize(request);
    assert.equal(first.outcome, Outcome.OUTCOME_APPROVED, 'the first sale is approved');
    assert.equal(first.replayed, false);
    assert.equal(await balance(cardId), 750n);
    return { request, first };
  };

  /** The retry gets the stored approval and writes nothing (the card is debited once). */
  const retryGetsStoredApproval = async (request: AuthorizeRequest, first: AuthorizeResponse, what: string): Promise<void> => {
    const before = await stateDump();
    const again = await issuer.authorize(request);
    assert.deepEqual(again, { ...first, replayed: true }, `${what}: the retry gets the stored answer`);
    assert.equal(await balance(request.cardId), 750n, `${what}: the card is debited once`);
    assert.equal(await stateDump(), before, `${what}: the retry wrote nothing`);
  };

  const startNode = async (): Promise<void> => {
    node = await startInProcessNode(redis.url, { TAPLINE_PIN_SECRET: 'replay-first-pin-secret' });
    issuer = new TaplineClient(await accessTo(node));
    fleet = new FleetClient(await accessTo(node));
    north = new TaplineClient(
      await accessTo(node, { overrides: { token: await testToken('merchant_admin', ['bar-north'], 'boss-north') } }),
    );
  };
  /** A new node on the same Redis: answers are known only from Redis, no more from the node's memory. */
  const restartNode = async (): Promise<void> => {
    for (const client of [issuer, north, fleet]) client.close();
    await node.shutdown();
    await startNode();
  };

  before(async function () {
    redis = await startTestRedis('replay-first-it');
    await startNode();
    inspector = await connectInspector(redis.url);
  });

  after(async function () {
    for (const client of [issuer, north, fleet]) client?.close();
    await node?.shutdown();
    await inspector?.client.quit();
    await redis?.stop();
  });

  it('answers a retry from its stored approval after the terminal was disabled, from the node or from Redis; a new request is refused', async function () {
    const { terminalId, cardId } = await freshTerminal();
    const { request, first } = await approvedSale(terminalId, cardId);
    await call(north.admin.setTerminalEnabled.bind(north.admin), { terminalId, enabled: false, operatorId: '' });
    await retryGetsStoredApproval(request, first, 'disabled terminal (answer in the node)');
    await restartNode();
    await retryGetsStoredApproval(request, first, 'disabled terminal (answer in Redis only)');
    // The same request without its cashier is another request: refused like any new one.
    const before = await stateDump();
    await refusedWith(
      grpc.status.FAILED_PRECONDITION,
      'same key, other body',
      issuer.authorize({ ...request, cashier: undefined }),
      /terminal disabled/,
    );
    await refusedWith(
      grpc.status.FAILED_PRECONDITION,
      'a new sale',
      issuer.authorize({ ...purchase(terminalId, ++txn, cardId, 100), cashier: { cashierId: 'anna', code: '4321' } }),
      /terminal disabled/,
    );
    assert.equal(await stateDump(), before, 'the refused requests wrote nothing');
    assert.equal(await balance(cardId), 750n);
  });

  it('answers a retry from its stored approval after the cashier was denied; a new request is refused', async function () {
    const { terminalId, cardId } = await freshTerminal();
    const { request, first } = await approvedSale(terminalId, cardId);
    await setCashier(terminalId, 'anna', '', false);
    await retryGetsStoredApproval(request, first, 'denied cashier');
    const before = await stateDump();
    await refusedWith(
      grpc.status.PERMISSION_DENIED,
      'a new sale by the denied cashier',
      issuer.authorize({ ...purchase(terminalId, ++txn, cardId, 100), cashier: { cashierId: 'anna', code: '4321' } }),
      /cashier denied/,
    );
    assert.equal(await stateDump(), before, 'the refused request wrote nothing');
  });

  it('answers a retry from its stored approval after the cashier was locked, without lifting the lock', async function () {
    const { terminalId, cardId } = await freshTerminal();
    const { request, first } = await approvedSale(terminalId, cardId);
    for (let attempt = 1; attempt <= cashier_code_attempts_max; attempt++)
      await refusedWith(
        grpc.status.PERMISSION_DENIED,
        `wrong code ${attempt}`,
        issuer.authorize({ ...purchase(terminalId, ++txn, cardId, 10), cashier: { cashierId: 'anna', code: '0000' } }),
        /code wrong/,
      );
    await retryGetsStoredApproval(request, first, 'locked cashier');
    // The stored answer did not reset the count: a new request with the right code is still refused.
    const before = await stateDump();
    await refusedWith(
      grpc.status.PERMISSION_DENIED,
      'a new sale by the locked cashier',
      issuer.authorize({ ...purchase(terminalId, ++txn, cardId, 100), cashier: { cashierId: 'anna', code: '4321' } }),
      /cashier locked/,
    );
    assert.equal(await stateDump(), before, 'the refused request wrote nothing');
    assert.equal(await balance(cardId), 750n);
  });

  it('answers a retried stream item from its stored approval after the terminal was disabled', async function () {
    const { terminalId, cardId } = await freshTerminal();
    const { request, first } = await approvedSale(terminalId, cardId);
    await call(north.admin.setTerminalEnabled.bind(north.admin), { terminalId, enabled: false, operatorId: '' });
    const gateway = await issuer.gateway(['bar-north']);
    try {
      const before = await stateDump();
      const fresh: AuthorizeRequest = { ...purchase(terminalId, ++txn, cardId, 100), cashier: { cashierId: 'anna', code: '4321' } };
      const results = await new Promise<AuthorizeStreamResult[]>((resolve, reject) => {
        const collected: AuthorizeStreamResult[] = [];
        const stream = gateway.authorizeStream();
        stream.on('data', (response: AuthorizeStreamResponse) => collected.push(...response.results));
        stream.on('end', () => resolve(collected.sort((a, b) => a.correlationId.localeCompare(b.correlationId))));
        stream.on('error', reject);
        stream.write({
          items: [
            { correlationId: 'a-retry', request },
            { correlationId: 'b-new', request: fresh },
          ],
        });
        stream.end();
      });
      assert.deepEqual(
        results.map((r) => r.correlationId),
        ['a-retry', 'b-new'],
      );
      assert.deepEqual(results[0]?.reply, { ...first, replayed: true }, `the retried item: ${results[0]?.statusMessage}`);
      assert.equal(results[1]?.statusCode, grpc.status.FAILED_PRECONDITION, `the new item: ${results[1]?.statusMessage}`);
      assert.match(results[1]?.statusMessage ?? '', /terminal disabled/);
      assert.equal(await stateDump(), before, 'the stream wrote nothing');
      assert.equal(await balance(cardId), 750n);
    } finally {
      gateway.close();
    }
  });
  it("answers a retried fleet card's purchase from its account's stored approval after the terminal was disabled", async function () {
    const { terminalId } = await freshTerminal();
    await fleet.createAccount({ fleetId: 'fleet-r', creditLimitMinor: 100_000, timeZone: 'Europe/Berlin' });
    const issued = await fleet.issueCard({
      fleetId: 'fleet-r',
      cardNo: '1',
      limits: undefined,
      productGroups: undefined,
      operatorId: 'ops',
    });
    const cardId = issued.card?.cardId ?? assert.fail('no fleet card issued');
    const request = fleetPurchase(
      terminalId,
      ++txn,
      cardId,
      [{ code: 'diesel', group: 'fuel', qtyMilli: 10_000, unitMinor: 150, amountMinor: 1_500 }],
      {},
    );
    const first = await issuer.authorize(request);
    assert.equal(first.outcome, Outcome.OUTCOME_APPROVED, 'the fleet purchase is approved');
    await call(north.admin.setTerminalEnabled.bind(north.admin), { terminalId, enabled: false, operatorId: '' });
    await restartNode();
    const before = await stateDump();
    assert.deepEqual(await issuer.authorize(request), { ...first, replayed: true }, 'the retry gets the stored answer, read from Redis');
    await refusedWith(
      grpc.status.FAILED_PRECONDITION,
      'a new fleet purchase',
      issuer.authorize(
        fleetPurchase(
          terminalId,
          ++txn,
          cardId,
          [{ code: 'diesel', group: 'fuel', qtyMilli: 1_000, unitMinor: 150, amountMinor: 150 }],
          {},
        ),
      ),
      /terminal disabled/,
    );
    assert.equal(await stateDump(), before, 'neither the retry nor the refused purchase wrote anything');
  });
});
