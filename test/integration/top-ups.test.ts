// Proves top-ups against a real node and real Redis: the program's stored-value limits (largest
// top-up, largest balance) decline with their reasons; a cash top-up records its operator; a PSP
// top-up moves money only on a callback whose HMAC signature verifies, exactly once per PSP
// reference however often the callback comes; a bad or replayed-with-changes signature is
// PERMISSION_DENIED and changes nothing; a failed payment moves nothing; auto-reload charges the
// stored mandate through the PSP when a payment leaves the balance below the threshold.

import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import type { RedisInstance } from '../../tools/devenv/redis';
import type { AuthorizerNode } from '../../services/authorizer/node';
import { DeclineReason, Outcome } from '../../gen/tapline/v1/types';
import { TopUpSource } from '../../gen/tapline/v1/authorization';
import { TaplineClient, purchase } from '../../tools/client/tapline-client';
import { CardClient, programConfig } from '../../tools/client/card-client';
import { CreditCardResponse } from '../../gen/tapline/v1/cards';
import { pspPayload, signPspPayload } from '../../services/authorizer/usecases/psp';
import { accessTo, startInProcessNode, startTestRedis, test_shard_count, waitFor } from '../support/harness';
import { homeShardOfRequestKey } from '../../actors/sharding/shard-key';
import { requestKeyRecordKey } from '../../services/authorizer/store/keys';
import { connectInspector, type Inspector } from '../support/redis-inspect';

const psp_secret = 'psp-shared-secret-for-tests';

describe('top-ups: limits, cash, PSP callback, auto-reload (real Redis, real gRPC)', function () {
  this.timeout(60_000);
  let redis: RedisInstance;
  let node: AuthorizerNode;
  let client: TaplineClient;
  let cards: CardClient;
  let inspect: Inspector;
  let txn = 1;

  const issue = async (cardId: string, balance: number, programId = 'wallet'): Promise<void> => {
    await cards.issue({
      cardId,
      params: { initialBalance: { amountMinor: BigInt(balance), currency: 'EUR' }, programId, deposit: undefined, expiresAtUnixMs: 0n },
      holder: undefined,
      pin: '',
      operatorId: 'ops',
    });
  };
  const denied = (error: grpc.ServiceError): boolean => error.code === grpc.status.PERMISSION_DENIED;

  before(async function () {
    redis = await startTestRedis('top-ups');
    // No answers kept in the node's memory: every replay is answered from Redis, as after a node
    // restart or once the node's index dropped the key (what outlives the TTL must be Redis').
    node = await startInProcessNode(redis.url, { TAPLINE_PSP_SECRET: psp_secret, TAPLINE_IDEMPOTENCY_RECENT_MAX: '0' });
    client = new TaplineClient(await accessTo(node));
    cards = new CardClient(await accessTo(node));
    inspect = await connectInspector(redis.url);
    await client.registerTerminal('till-1', 'top-up-desk');
    await cards.defineProgram('wallet', programConfig({ maxBalanceMinor: 25_000n, maxTopUpMinor: 10_000n }));
  });

  after(async function () {
    client?.close();
    cards?.close();
    await inspect?.close();
    await node?.shutdown();
    await redis?.stop();
  });

  it('declines a top-up above the program maximum and one that would pass the maximum balance', async () => {
    await issue('t-limits', 10_000);
    const tooBig = await client.topUp('t-limits', 10_001, { terminalId: 'till-1', txn: txn++ });
    assert.deepEqual(
      [tooBig.declineReason, tooBig.declineRule],
      [DeclineReason.DECLINE_REASON_TOP_UP_LIMIT_EXCEEDED, 'program_max_top_up'],
    );
    assert.equal((await client.topUp('t-limits', 10_000, { terminalId: 'till-1', txn: txn++ })).outcome, Outcome.OUTCOME_APPROVED);
    const over = await client.topUp('t-limits', 5_001, { terminalId: 'till-1', txn: txn++ });
    assert.deepEqual([over.declineReason, over.declineRule], [DeclineReason.DECLINE_REASON_MAX_BALANCE_EXCEEDED, 'program_max_balance']);
    assert.equal((await client.topUp('t-limits', 5_000, { terminalId: 'till-1', txn: txn++ })).balanceAfter?.amountMinor, 25_000n);
  });

  it("records the source of a cash top-up; the request's operator_id is not taken as who acted", async () => {
    await issue('t-cash', 0);
    const n = txn++;
    const request = {
      terminalId: 'till-1',
      terminalTxnNumber: BigInt(n),
      idempotencyKey: '',
      cardId: 't-cash',
      amount: { amountMinor: 2_000n, currency: 'EUR' },
      source: TopUpSource.TOP_UP_SOURCE_CASH,
      operatorId: 'cashier-9',
    };
    const terminal = await client.terminal('till-1');
    const reply = await new Promise<unknown>((resolve, reject) => terminal.topUp(request, (e, r) => (e ? reject(e) : resolve(r))));
    assert.ok(reply);
    const stored = (await inspect.outbox()).find((d) => d['key'] === `t:till-1:${n}`);
    // On the terminal door the actor is the certificate's terminal (the document's terminal field).
    assert.deepEqual([stored?.['source'], stored?.['operator'], stored?.['terminal'], stored?.['amount']], ['cash', '', 'till-1', 2_000]);
  });

  it('the terminal API refuses credits without a terminal, and ADMIN or AUTO_RELOAD sources (PERMISSION_DENIED, Redis unchanged)', async () => {
    await issue('t-keyed', 1_000);
    const before = await inspect.snapshot();
    const till = await client.terminal('till-1');
    const topUp = (fields: { terminalId?: string; txn?: number; idempotencyKey?: string; source: TopUpSource }) =>
      new Promise<unknown>((resolve, reject) =>
        till.topUp(
          {
            terminalId: fields.terminalId ?? '',
            terminalTxnNumber: BigInt(fields.txn ?? 0),
            idempotencyKey: fields.idempotencyKey ?? '',
            cardId: 't-keyed',
            amount: { amountMinor: 1_000_000_000_000n, currency: 'EUR' },
            source: fields.source,
            operatorId: 'someone',
          },
          (e, r) => (e ? reject(e) : resolve(r)),
        ),
      );
    for (const source of [TopUpSource.TOP_UP_SOURCE_PSP, TopUpSource.TOP_UP_SOURCE_ADMIN, TopUpSource.TOP_UP_SOURCE_AUTO_RELOAD]) {
      await assert.rejects(topUp({ idempotencyKey: `free-money-${source}`, source }), denied, `keyed, source ${source}`);
    }
    for (const source of [TopUpSource.TOP_UP_SOURCE_ADMIN, TopUpSource.TOP_UP_SOURCE_AUTO_RELOAD]) {
      await assert.rejects(topUp({ terminalId: 'till-1', txn: txn++, source }), denied, `till, source ${source}`);
    }
    assert.equal(await inspect.snapshot(), before);
    assert.equal((await client.balance('t-keyed')).balance?.amountMinor, 1_000n);
  });

  it('an operator credits through CardService.CreditCard: held for a second principal, then once per key, within the program limits, audited', async () => {
    await issue('t-credit', 1_000);
    // Every credit waits for an approver (four eyes): nothing is credited while it is held.
    const held = await cards.creditCard('t-credit', 2_500, 'goodwill-17');
    assert.match(held.pendingApprovalId, /^[0-9a-f-]{36}$/);
    assert.equal(held.outcome, Outcome.OUTCOME_UNSPECIFIED);
    assert.equal((await client.balance('t-credit')).balance?.amountMinor, 1_000n, 'nothing credited before the approval');
    const credited = async (amountMinor: number, key: string): Promise<CreditCardResponse> => {
      const pending = (await cards.creditCard('t-credit', amountMinor, key)).pendingApprovalId;
      return CreditCardResponse.decode((await cards.approve(pending)).response);
    };
    const first = CreditCardResponse.decode((await cards.approve(held.pendingApprovalId)).response);
    assert.deepEqual([first.outcome, first.balanceAfter?.amountMinor, first.replayed], [Outcome.OUTCOME_APPROVED, 3_500n, false]);
    const again = await credited(2_500, 'goodwill-17');
    assert.deepEqual([again.replayed, again.transactionId], [true, first.transactionId]);
    const tooBig = await credited(10_001, 'goodwill-18');
    assert.equal(tooBig.declineReason, DeclineReason.DECLINE_REASON_TOP_UP_LIMIT_EXCEEDED);
    assert.equal((await client.balance('t-credit')).balance?.amountMinor, 3_500n);
    // The operator is the requester's token subject, and the audit record names the approver too.
    const outbox = await inspect.outbox();
    const stored = outbox.find((d) => d['id'] === first.transactionId);
    assert.deepEqual(
      [stored?.['kind'], stored?.['source'], stored?.['operator'], stored?.['key'], stored?.['terminal']],
      ['top_up', 'admin', 'dev-issuer_admin', 'k:credit:goodwill-17', ''],
    );
    const audit = outbox.find((d) => d['type'] === 'audit_record' && d['action'] === 'tapline.v1.CardService/CreditCard');
    assert.deepEqual(
      [audit?.['principal'], audit?.['approver'], audit?.['subject']],
      ['dev-issuer_admin', 'dev-approver', 'card:t-credit'],
    );
    const before = await inspect.snapshot();
    const invalid = (e: grpc.ServiceError): boolean => e.code === grpc.status.INVALID_ARGUMENT;
    await assert.rejects(cards.creditCard('t-credit', 100, 'bad key'), invalid, 'a malformed key');
    await assert.rejects(cards.creditCard('t-credit', 0, 'goodwill-20'), invalid, 'amount 0');
    assert.equal(await inspect.snapshot(), before, 'an invalid credit is not even held');
    const unknown = await cards.approve((await cards.creditCard('no-such-card', 100, 'goodwill-21')).pendingApprovalId);
    assert.equal(unknown.approval?.resultCode, grpc.status.NOT_FOUND, 'the approved credit of an unknown card credits nothing');
  });

  it('a PSP top-up moves money only on a verified callback, once per PSP reference', async () => {
    await issue('t-psp', 1_000);
    const started = await cards.startPspTopUp('t-psp', 3_000);
    assert.match(started.pspReference, /^sim-/);
    assert.equal((await client.balance('t-psp')).balance?.amountMinor, 1_000n, 'nothing moves before the callback');
    const payload = pspPayload({
      reference: started.pspReference,
      card: 't-psp',
      amountMinor: 3_000,
      currency: 'EUR',
      status: 'succeeded',
      kind: 'top_up',
      signedAtMs: Date.now(),
    });
    const first = await cards.pspCallback(payload, signPspPayload(psp_secret, payload));
    assert.deepEqual([first.outcome, first.balanceAfter?.amountMinor, first.replayed], [Outcome.OUTCOME_APPROVED, 4_000n, false]);
    const again = await cards.pspCallback(payload, signPspPayload(psp_secret, payload));
    assert.deepEqual([again.replayed, again.transactionId], [true, first.transactionId]);
    assert.equal((await client.balance('t-psp')).balance?.amountMinor, 4_000n);
    const stored = (await inspect.outbox()).find((d) => d['key'] === `k:psp:${started.pspReference}`);
    assert.equal(stored?.['source'], 'psp');
  });

  it('refuses a bad signature, a tampered payload and an unsigned one as PERMISSION_DENIED, Redis unchanged', async () => {
    await issue('t-sig', 1_000);
    const payload = pspPayload({
      reference: 'ref-sig-1',
      card: 't-sig',
      amountMinor: 500,
      currency: 'EUR',
      status: 'succeeded',
      kind: 'top_up',
      signedAtMs: Date.now(),
    });
    const tampered = payload.replace('500', '50000');
    const before = await inspect.snapshot();
    await assert.rejects(cards.pspCallback(payload, signPspPayload('another-secret-of-16+', payload)), denied);
    await assert.rejects(cards.pspCallback(tampered, signPspPayload(psp_secret, payload)), denied);
    await assert.rejects(cards.pspCallback(payload, ''), denied);
    await assert.rejects(cards.pspCallback(payload, 'zz'.repeat(32)), denied);
    const malformed = '{"reference":"x y"}';
    await assert.rejects(
      cards.pspCallback(malformed, signPspPayload(psp_secret, malformed)),
      (e: grpc.ServiceError) => e.code === grpc.status.INVALID_ARGUMENT,
    );
    const unknownCard = pspPayload({
      reference: 'ref-sig-2',
      card: 'no-such-card',
      amountMinor: 500,
      currency: 'EUR',
      status: 'succeeded',
      kind: 'top_up',
      signedAtMs: Date.now(),
    });
    await assert.rejects(
      cards.pspCallback(unknownCard, signPspPayload(psp_secret, unknownCard)),
      (e: grpc.ServiceError) => e.code === grpc.status.NOT_FOUND,
    );
    await assert.rejects(cards.startPspTopUp('no-such-card', 100), (e: grpc.ServiceError) => e.code === grpc.status.NOT_FOUND);
    assert.equal(await inspect.snapshot(), before);
  });

  /** A PSP callback's payload as a PSP sends it: signed with the instant of signing. */
  const signedCallback = (fields: { reference: string; card: string; amountMinor: number; signedAt?: number }): string =>
    JSON.stringify({
      reference: fields.reference,
      card: fields.card,
      amount_minor: fields.amountMinor,
      currency: 'EUR',
      status: 'succeeded',
      kind: 'top_up',
      ...(fields.signedAt === undefined ? {} : { signed_at: fields.signedAt }),
    });

  it('a callback replayed after its idempotency record expired is refused: its reference stays spent', async () => {
    await issue('t-replay', 1_000);
    const payload = signedCallback({ reference: 'ref-replay-1', card: 't-replay', amountMinor: 700, signedAt: Date.now() });
    const first = await cards.pspCallback(payload, signPspPayload(psp_secret, payload));
    assert.equal(first.balanceAfter?.amountMinor, 1_700n);
    // The idempotency record's TTL ran out (7 days by default): it is gone from Redis (one key, on
    // the request key's home shard).
    const key = 'k:psp:ref-replay-1';
    assert.equal(await inspect.client.del(requestKeyRecordKey(homeShardOfRequestKey(key, test_shard_count), key)), 1);
    const before = await inspect.snapshot();
    await assert.rejects(
      cards.pspCallback(payload, signPspPayload(psp_secret, payload)),
      (e: grpc.ServiceError) => e.code === grpc.status.ALREADY_EXISTS,
      'the reference was spent',
    );
    assert.equal(await inspect.snapshot(), before, 'nothing written');
    assert.equal((await client.balance('t-replay')).balance?.amountMinor, 1_700n, 'topped up once');
  });

  it('a callback must carry a signed timestamp within the window', async () => {
    await issue('t-window', 1_000);
    const before = await inspect.snapshot();
    const stale = signedCallback({ reference: 'ref-window-1', card: 't-window', amountMinor: 100, signedAt: Date.now() - 3_600_000 });
    await assert.rejects(cards.pspCallback(stale, signPspPayload(psp_secret, stale)), denied, 'signed an hour ago');
    const ahead = signedCallback({ reference: 'ref-window-2', card: 't-window', amountMinor: 100, signedAt: Date.now() + 3_600_000 });
    await assert.rejects(cards.pspCallback(ahead, signPspPayload(psp_secret, ahead)), denied, 'signed an hour ahead');
    const undated = signedCallback({ reference: 'ref-window-3', card: 't-window', amountMinor: 100 });
    await assert.rejects(
      cards.pspCallback(undated, signPspPayload(psp_secret, undated)),
      (e: grpc.ServiceError) => e.code === grpc.status.INVALID_ARGUMENT,
      'no signed timestamp',
    );
    assert.equal(await inspect.snapshot(), before);
  });

  it('a client key can never take a system key: a reversal or a return naming a PSP key first does not block the callback', async () => {
    await issue('t-squat', 1_000);
    const before = await inspect.snapshot();
    // A terminal "reverses" a PSP reference it guessed, before the PSP calls back.
    const reversal = {
      terminalId: 'till-1',
      terminalTxnNumber: BigInt(txn++),
      cardId: 't-squat',
      original: { ref: { $case: 'idempotencyKey' as const, value: 'psp:ref-squat-1' } },
    };
    const till = await client.terminal('till-1');
    await assert.rejects(
      new Promise((resolve, reject) => till.reverse(reversal, (e, r) => (e ? reject(e) : resolve(r)))),
      (e: grpc.ServiceError) => e.code === grpc.status.INVALID_ARGUMENT || e.code === grpc.status.PERMISSION_DENIED,
    );
    await assert.rejects(cards.returnCard('t-squat', 'psp:ref-squat-1'), (e: grpc.ServiceError) => e.code === grpc.status.INVALID_ARGUMENT);
    assert.equal(await inspect.snapshot(), before, 'nothing written under the system key');
    const payload = signedCallback({ reference: 'ref-squat-1', card: 't-squat', amountMinor: 300, signedAt: Date.now() });
    const applied = await cards.pspCallback(payload, signPspPayload(psp_secret, payload));
    assert.deepEqual([applied.outcome, applied.balanceAfter?.amountMinor], [Outcome.OUTCOME_APPROVED, 1_300n]);
  });

  it('acknowledges a failed payment without moving money', async () => {
    await issue('t-failed', 1_000);
    const payload = pspPayload({
      reference: 'ref-failed-1',
      card: 't-failed',
      amountMinor: 500,
      currency: 'EUR',
      status: 'failed',
      kind: 'top_up',
      signedAtMs: Date.now(),
    });
    const before = await inspect.snapshot();
    const reply = await cards.pspCallback(payload, signPspPayload(psp_secret, payload));
    assert.equal(reply.paymentFailed, true);
    assert.equal(await inspect.snapshot(), before);
  });

  it('auto-reload: a purchase leaving the balance below the threshold charges the mandate once', async () => {
    await issue('t-auto', 3_000);
    await cards.setAutoReload('t-auto', 1_000, 5_000, 'mandate-42');
    await client.authorize(purchase('till-1', txn++, 't-auto', 2_500));
    let balance = 0n;
    await waitFor(
      'auto-reload top-up',
      async () => {
        balance = (await client.balance('t-auto')).balance?.amountMinor ?? 0n;
        return balance === 5_500n;
      },
      () => `balance ${balance}, expected 500 + 5,000`,
      10_000,
    );
    const reloads = (await inspect.outbox()).filter((d) => d['card'] === 't-auto' && d['source'] === 'auto_reload');
    assert.equal(reloads.length, 1);
    assert.match(String(reloads[0]?.['key']), /^k:psp:auto-t-auto-/);
    await client.authorize(purchase('till-1', txn++, 't-auto', 100));
    assert.equal((await client.balance('t-auto')).balance?.amountMinor, 5_400n, 'above the threshold: no reload');
  });

  it('auto-reload with a refused mandate moves nothing; removing the mandate stops reloads', async () => {
    await issue('t-auto-fail', 1_000);
    await cards.setAutoReload('t-auto-fail', 900, 2_000, 'fail-mandate');
    await client.authorize(purchase('till-1', txn++, 't-auto-fail', 200));
    await issue('t-auto-off', 1_000);
    await cards.setAutoReload('t-auto-off', 900, 2_000, 'mandate-7');
    const removed = await cards.setAutoReload('t-auto-off', 0, 0, '');
    assert.ok(removed.card);
    await client.authorize(purchase('till-1', txn++, 't-auto-off', 200));
    // A mandate charge calls back within the same event-loop turns as the reply; a later request
    // on the card is ordered after it, so its balance shows whether a reload happened.
    await client.authorize(purchase('till-1', txn++, 't-auto-fail', 1));
    await client.authorize(purchase('till-1', txn++, 't-auto-off', 1));
    assert.equal((await client.balance('t-auto-fail')).balance?.amountMinor, 799n);
    assert.equal((await client.balance('t-auto-off')).balance?.amountMinor, 799n);
  });
});
