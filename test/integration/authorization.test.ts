// Proves the public and admin API against a real authorizer node, real Redis and real gRPC over
// loopback: approvals, each decline reason, top-ups, reversals (including the time-out reversal
// that overtakes its original), idempotent retries, the AuthorizeStream correlation, and that
// concurrent requests on one card never overspend. Every check reads Redis as well as the reply.

import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import type { RedisInstance } from '../../tools/devenv/redis';
import type { AuthorizerNode } from '../../services/authorizer/node';
import { CardStatus, DeclineReason, Outcome } from '../../gen/tapline/v1/types';
import { ReverseResult, type AuthorizeStreamResponse } from '../../gen/tapline/v1/authorization';
import { TaplineClient, purchase } from '../../tools/client/tapline-client';
import { startInProcessNode, startTestRedis, accessTo } from '../support/harness';
import { connectInspector, type Inspector } from '../support/redis-inspect';

describe('authorization node (real Redis, real gRPC)', function () {
  let redis: RedisInstance;
  let node: AuthorizerNode;
  let client: TaplineClient;
  let inspect: Inspector;

  before(async function () {
    redis = await startTestRedis('authorization');
    node = await startInProcessNode(redis.url);
    client = new TaplineClient(await accessTo(node));
    inspect = await connectInspector(redis.url);
    await client.registerTerminal('till-1', 'bar-north');
    await client.registerTerminal('till-2', 'food-court');
  });

  after(async function () {
    client?.close();
    await inspect?.close();
    await node?.shutdown();
    await redis?.stop();
  });

  it('approves a purchase, persists balance, idempotency record and outbox entry before replying', async function () {
    await client.issueCard('card-a', 1_000);
    const reply = await client.authorize(purchase('till-1', 1, 'card-a', 350));
    assert.equal(reply.outcome, Outcome.OUTCOME_APPROVED);
    assert.equal(reply.balanceAfter?.amountMinor, 650n);
    assert.equal(reply.approvedAmount?.amountMinor, 350n);
    assert.equal(reply.replayed, false);
    assert.equal((await inspect.card('card-a'))?.balanceMinor, 650);
    const record = await inspect.idempotency('t:till-1:1');
    assert.equal(record?.id, reply.transactionId);
    const outbox = (await inspect.outbox()).filter((r) => r['id'] === reply.transactionId);
    assert.equal(outbox.length, 1);
    assert.equal(outbox[0]?.['merchant'], 'bar-north');
    const balance = await client.balance('card-a');
    assert.equal(balance.balance?.amountMinor, 650n);
    assert.equal(balance.status, CardStatus.CARD_STATUS_ACTIVE);
  });

  it('declines insufficient funds as an OK reply with a typed reason, moving nothing', async function () {
    await client.issueCard('card-b', 100);
    const reply = await client.authorize(purchase('till-1', 2, 'card-b', 101));
    assert.equal(reply.outcome, Outcome.OUTCOME_DECLINED);
    assert.equal(reply.declineReason, DeclineReason.DECLINE_REASON_INSUFFICIENT_FUNDS);
    assert.equal(reply.declineRule, 'balance');
    assert.equal(reply.balanceAfter?.amountMinor, 100n);
    assert.equal((await inspect.card('card-b'))?.balanceMinor, 100);
    const exact = await client.authorize(purchase('till-1', 3, 'card-b', 100));
    assert.equal(exact.outcome, Outcome.OUTCOME_APPROVED);
    assert.equal(exact.balanceAfter?.amountMinor, 0n);
  });

  it('declines blocked and frozen cards and a currency the card is not in', async function () {
    await client.issueCard('card-c', 500);
    await client.setCardStatus('card-c', CardStatus.CARD_STATUS_FROZEN);
    const frozen = await client.authorize(purchase('till-1', 5, 'card-c', 10));
    assert.equal(frozen.declineReason, DeclineReason.DECLINE_REASON_CARD_FROZEN);
    await client.setCardStatus('card-c', CardStatus.CARD_STATUS_ACTIVE);
    const wrongCurrency = await client.authorize(purchase('till-1', 6, 'card-c', 10, 'USD'));
    assert.equal(wrongCurrency.declineReason, DeclineReason.DECLINE_REASON_CURRENCY_MISMATCH);
    const ok = await client.authorize(purchase('till-1', 7, 'card-c', 10));
    assert.equal(ok.outcome, Outcome.OUTCOME_APPROVED);
    await client.setCardStatus('card-c', CardStatus.CARD_STATUS_BLOCKED);
    const blocked = await client.authorize(purchase('till-1', 4, 'card-c', 10));
    assert.equal(blocked.declineReason, DeclineReason.DECLINE_REASON_CARD_BLOCKED);
    assert.equal((await inspect.card('card-c'))?.balanceMinor, 490);
  });

  it("tops up by a till's key, idempotent", async function () {
    await client.issueCard('card-d', 0);
    const cash = await client.topUp('card-d', 2_000, { terminalId: 'till-2', txn: 1 });
    assert.equal(cash.outcome, Outcome.OUTCOME_APPROVED);
    assert.equal(cash.balanceAfter?.amountMinor, 2_000n);
    const again = await client.topUp('card-d', 2_000, { terminalId: 'till-2', txn: 1 });
    assert.equal(again.replayed, true);
    assert.equal(again.transactionId, cash.transactionId);
    assert.equal((await client.balance('card-d')).balance?.amountMinor, 2_000n);
  });

  it('returns the original answer to a retry and moves money once', async function () {
    await client.issueCard('card-e', 1_000);
    const first = await client.authorize(purchase('till-2', 10, 'card-e', 300));
    const retries = await Promise.all([1, 2, 3].map(() => client.authorize(purchase('till-2', 10, 'card-e', 300))));
    for (const retry of retries) {
      assert.equal(retry.transactionId, first.transactionId);
      assert.equal(retry.replayed, true);
      assert.equal(retry.balanceAfter?.amountMinor, 700n);
    }
    assert.equal((await inspect.card('card-e'))?.balanceMinor, 700);
    assert.equal((await inspect.outbox()).filter((r) => r['key'] === 't:till-2:10').length, 1);
  });

  it('answers a retry from Redis after the node restarts', async function () {
    await client.issueCard('card-f', 1_000);
    const first = await client.authorize(purchase('till-2', 20, 'card-f', 250));
    client.close();
    await node.shutdown();
    node = await startInProcessNode(redis.url);
    client = new TaplineClient(await accessTo(node));
    const retry = await client.authorize(purchase('till-2', 20, 'card-f', 250));
    assert.equal(retry.transactionId, first.transactionId);
    assert.equal(retry.replayed, true);
    assert.equal((await client.balance('card-f')).balance?.amountMinor, 750n);
    const next = await client.authorize(purchase('till-2', 21, 'card-f', 50));
    assert.equal(next.balanceAfter?.amountMinor, 700n);
  });

  it('refuses a reused terminal transaction number with different fields (ALREADY_EXISTS), changing nothing', async function () {
    await client.issueCard('card-g', 1_000);
    await client.issueCard('card-g2', 1_000);
    await client.authorize(purchase('till-2', 30, 'card-g', 100));
    const before = await inspect.snapshot();
    for (const replay of [purchase('till-2', 30, 'card-g', 101), purchase('till-2', 30, 'card-g2', 100)]) {
      await assert.rejects(client.authorize(replay), (error: grpc.ServiceError) => error.code === grpc.status.ALREADY_EXISTS);
    }
    assert.equal(await inspect.snapshot(), before);
  });

  it('reverses an approval once; a second reversal says already reversed', async function () {
    await client.issueCard('card-h', 1_000);
    await client.authorize(purchase('till-1', 40, 'card-h', 400));
    const reversal = await client.reverse('till-1', 41, 'card-h', { terminalId: 'till-1', txn: 40 });
    assert.equal(reversal.result, ReverseResult.REVERSE_RESULT_REVERSED);
    assert.equal(reversal.reversedAmount?.amountMinor, 400n);
    assert.equal(reversal.balanceAfter?.amountMinor, 1_000n);
    const second = await client.reverse('till-1', 42, 'card-h', { terminalId: 'till-1', txn: 40 });
    assert.equal(second.result, ReverseResult.REVERSE_RESULT_ALREADY_REVERSED);
    assert.equal(second.reversedAmount?.amountMinor, 0n);
    const retried = await client.reverse('till-1', 41, 'card-h', { terminalId: 'till-1', txn: 40 });
    assert.equal(retried.replayed, true);
    assert.equal(retried.transactionId, reversal.transactionId);
    assert.equal((await inspect.card('card-h'))?.balanceMinor, 1_000);
  });

  it('a reversal that overtakes its original is a no-op that says so, and the late original is declined', async function () {
    await client.issueCard('card-i', 1_000);
    const reversal = await client.reverse('till-1', 51, 'card-i', { terminalId: 'till-1', txn: 50 });
    assert.equal(reversal.result, ReverseResult.REVERSE_RESULT_NOTHING_TO_REVERSE);
    const late = await client.authorize(purchase('till-1', 50, 'card-i', 200));
    assert.equal(late.outcome, Outcome.OUTCOME_DECLINED);
    assert.equal(late.declineReason, DeclineReason.DECLINE_REASON_REVERSED_BEFORE_AUTHORIZATION);
    assert.equal((await inspect.card('card-i'))?.balanceMinor, 1_000);
    // Reversing a declined authorization moves nothing either.
    await client.authorize(purchase('till-1', 52, 'card-i', 5_000));
    const nothing = await client.reverse('till-1', 53, 'card-i', { terminalId: 'till-1', txn: 52 });
    assert.equal(nothing.result, ReverseResult.REVERSE_RESULT_NOTHING_TO_REVERSE);
    assert.equal((await inspect.card('card-i'))?.balanceMinor, 1_000);
  });

  it('a reversal whose own key a later reversal overtook says so and moves nothing', async function () {
    await client.issueCard('card-r', 1_000);
    const approved = await client.authorize(purchase('till-1', 60, 'card-r', 300));
    assert.equal(approved.outcome, Outcome.OUTCOME_APPROVED);
    // The terminal reverses its reversal #61 (which timed out) before #61 itself arrives.
    const overtaking = await client.reverse('till-1', 62, 'card-r', { terminalId: 'till-1', txn: 61 });
    assert.equal(overtaking.result, ReverseResult.REVERSE_RESULT_NOTHING_TO_REVERSE);
    const late = await client.reverse('till-1', 61, 'card-r', { terminalId: 'till-1', txn: 60 });
    assert.equal(late.result, ReverseResult.REVERSE_RESULT_REVERSED_BEFORE_ARRIVAL);
    assert.equal(late.reversedAmount?.amountMinor, 0n);
    assert.equal(
      (await inspect.card('card-r'))?.balanceMinor,
      700,
      'the purchase stays: the reversal that would undo it was itself reversed',
    );
  });

  it('issues and registers idempotently, and refuses conflicting re-issues', async function () {
    const again = await client.issueCard('card-a', 1_000);
    assert.equal(again.alreadyExisted, true);
    await assert.rejects(client.issueCard('card-a', 1_000, 'USD'), (error: grpc.ServiceError) => error.code === grpc.status.ALREADY_EXISTS);
    assert.equal((await client.registerTerminal('till-1', 'bar-north')).alreadyExisted, true);
    await assert.rejects(
      client.registerTerminal('till-1', 'other'),
      (error: grpc.ServiceError) => error.code === grpc.status.ALREADY_EXISTS,
    );
  });

  it('1,000 concurrent authorizations on a card holding 400 approve exactly 400 and leave 0', async function () {
    await client.issueCard('hot-400', 400);
    const replies = await Promise.all(
      Array.from({ length: 1_000 }, (_, i) => client.authorize(purchase('till-2', 1_000 + i, 'hot-400', 1))),
    );
    const approved = replies.filter((r) => r.outcome === Outcome.OUTCOME_APPROVED);
    const declined = replies.filter((r) => r.declineReason === DeclineReason.DECLINE_REASON_INSUFFICIENT_FUNDS);
    assert.equal(approved.length, 400);
    assert.equal(declined.length, 600);
    assert.equal(new Set(approved.map((r) => r.transactionId)).size, 400);
    assert.equal((await inspect.card('hot-400'))?.balanceMinor, 0);
    const balances = approved.map((r) => Number(r.balanceAfter?.amountMinor)).sort((a, b) => a - b);
    assert.deepEqual(
      balances,
      Array.from({ length: 400 }, (_, i) => i),
      'each approval saw a distinct balance 399..0',
    );
  });

  it('AuthorizeStream answers every item with its own correlation id, item errors included', async function () {
    await client.issueCard('stream-1', 10_000);
    // A venue gateway for the merchant of till-1 (bar-north) speaks for its terminals.
    const call = (await client.gateway(['bar-north'])).authorizeStream();
    const results = new Map<string, { code: number; amount: bigint | undefined }>();
    call.on('data', (frame: AuthorizeStreamResponse) => {
      for (const result of frame.results)
        results.set(result.correlationId, { code: result.statusCode, amount: result.reply?.approvedAmount?.amountMinor });
    });
    const ended = new Promise<void>((resolve, reject) => {
      call.on('end', resolve);
      call.on('error', reject);
    });
    const items = Array.from({ length: 50 }, (_, i) => ({
      correlationId: `c-${i}`,
      request: purchase('till-1', 2_000 + i, 'stream-1', i + 1),
    }));
    items.push({ correlationId: 'bad-amount', request: purchase('till-1', 3_000, 'stream-1', 0) });
    items.push({ correlationId: 'bad-card', request: purchase('till-1', 3_001, 'no-such-card', 5) });
    call.write({ items: items.slice(0, 20) });
    call.write({ items: items.slice(20) });
    call.end();
    await ended;
    assert.equal(results.size, 52);
    for (let i = 0; i < 50; i++) {
      assert.equal(results.get(`c-${i}`)?.code, grpc.status.OK);
      assert.equal(results.get(`c-${i}`)?.amount, BigInt(i + 1), `item c-${i} carries its own amount`);
    }
    assert.equal(results.get('bad-amount')?.code, grpc.status.INVALID_ARGUMENT);
    assert.equal(results.get('bad-card')?.code, grpc.status.NOT_FOUND);
    assert.equal((await inspect.card('stream-1'))?.balanceMinor, 10_000 - (50 * 51) / 2);
  });

  it('serves grpc health checking and server reflection', async function () {
    const protoLoader = await import('@grpc/proto-loader');
    const path = await import('node:path');
    const join = (...parts: string[]): string => path.join(...parts);
    const dirname = (p: string): string => path.dirname(p);
    const healthProto = join(dirname(require.resolve('grpc-health-check/package.json')), 'proto/health/v1/health.proto');
    const reflectionProto = join(
      dirname(require.resolve('@grpc/reflection/package.json')),
      'build/proto/grpc/reflection/v1/reflection.proto',
    );
    const loaded = grpc.loadPackageDefinition(
      protoLoader.loadSync([healthProto, reflectionProto], { keepCase: true, enums: String }),
    ) as any;
    const access = client.access;
    // Health is public on each door (TLS, no client identity needed); reflection lists each door's services.
    const health = new loaded.grpc.health.v1.Health(
      access.endpoints.terminal,
      grpc.credentials.createSsl(access.ca),
      access.channelOptions,
    );
    const check = await new Promise<any>((resolve, reject) =>
      health.Check({ service: 'tapline.v1.AuthorizationService' }, (e: Error | null, r: unknown) => (e ? reject(e) : resolve(r))),
    );
    assert.equal(check.status, 'SERVING');
    const list = async (address: string, credentials: grpc.ChannelCredentials, metadata: grpc.Metadata): Promise<string[]> => {
      const reflection = new loaded.grpc.reflection.v1.ServerReflection(address, credentials, access.channelOptions);
      const stream = reflection.ServerReflectionInfo(metadata);
      const listed = new Promise<string[]>((resolve, reject) => {
        stream.on('data', (response: any) => {
          resolve(response.list_services_response.service.map((s: { name: string }) => s.name));
          stream.end();
        });
        stream.on('error', reject);
      });
      stream.write({ list_services: '' });
      try {
        return await listed;
      } finally {
        reflection.close();
      }
    };
    const terminalServices = await list(access.endpoints.terminal, await access.terminalCredentials('till-1'), new grpc.Metadata());
    assert.ok(terminalServices.includes('tapline.v1.AuthorizationService'), `reflection lists ${terminalServices.join(', ')}`);
    const operatorMetadata = new grpc.Metadata();
    operatorMetadata.set('authorization', `Bearer ${await access.operatorToken('/tapline.v1.AdminService/IssueCard')}`);
    const operatorServices = await list(access.endpoints.operator, access.operatorCredentials(), operatorMetadata);
    assert.ok(operatorServices.includes('tapline.v1.AdminService'), `reflection lists ${operatorServices.join(', ')}`);
    health.close();
  });
});
