// Proves PINs against a real node and real Redis: set at issue or later, changed only with the old
// PIN (a missing one writes nothing; a wrong one is counted like a wrong PIN at a till), verified on purchases and pre-authorizations where the program demands it (none entered:
// PIN_REQUIRED; wrong: PIN_INVALID), locked after the program's number of wrong attempts in a
// row (then PIN_LOCKED even with the right PIN, a card_pin_changed "locked" document), a right
// PIN resets the count, an operator reset unlocks; the PIN never appears in Redis or a document.
// VerifyPin checks a PIN without changing it: a right one writes nothing (unless it clears counted
// wrong attempts), a wrong one is counted with the tills' and locks at the same maximum.

import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import type { RedisInstance } from '../../tools/devenv/redis';
import type { AuthorizerNode } from '../../services/authorizer/node';
import { DeclineReason, Outcome } from '../../gen/tapline/v1/types';
import { TaplineClient, purchase } from '../../tools/client/tapline-client';
import { CardClient, holdRequest, programConfig } from '../../tools/client/card-client';
import { startInProcessNode, startTestRedis, accessTo } from '../support/harness';
import { connectInspector, type Inspector } from '../support/redis-inspect';

describe('PINs: set, change, verify, lockout (real Redis, real gRPC)', function () {
  this.timeout(60_000);
  let redis: RedisInstance;
  let node: AuthorizerNode;
  let client: TaplineClient;
  let cards: CardClient;
  let inspect: Inspector;
  let txn = 1;

  const buy = (cardId: string, pin: string, amount = 10): ReturnType<TaplineClient['authorize']> =>
    client.authorize({ ...purchase('pos-1', txn++, cardId, amount), pin });
  const issue = async (cardId: string, pin: string, programId = 'pin-fest'): Promise<void> => {
    await cards.issue({
      cardId,
      params: { initialBalance: { amountMinor: 10_000n, currency: 'EUR' }, programId, deposit: undefined, expiresAtUnixMs: 0n },
      holder: undefined,
      pin,
      operatorId: 'ops',
    });
  };

  before(async function () {
    redis = await startTestRedis('pins');
    node = await startInProcessNode(redis.url, { TAPLINE_PIN_SECRET: 'pin-test-secret-0123456789' });
    client = new TaplineClient(await accessTo(node));
    cards = new CardClient(await accessTo(node));
    inspect = await connectInspector(redis.url);
    await client.registerTerminal('pos-1', 'shop');
    await cards.defineProgram('pin-fest', programConfig({ pinRequired: true, pinAttemptsMax: 3 }));
  });

  after(async function () {
    client?.close();
    cards?.close();
    await inspect?.close();
    await node?.shutdown();
    await redis?.stop();
  });

  it('declines without PIN and with a wrong PIN, approves the right one, and a right PIN resets the count', async () => {
    await issue('p-1', '2468');
    assert.deepEqual(
      [(await buy('p-1', '')).declineReason, (await buy('p-1', '')).declineRule],
      [DeclineReason.DECLINE_REASON_PIN_REQUIRED, 'pin'],
    );
    assert.equal((await buy('p-1', '1111')).declineReason, DeclineReason.DECLINE_REASON_PIN_INVALID);
    assert.equal((await buy('p-1', '1111')).declineReason, DeclineReason.DECLINE_REASON_PIN_INVALID);
    assert.equal((await buy('p-1', '2468')).outcome, Outcome.OUTCOME_APPROVED);
    assert.equal((await buy('p-1', '1111')).declineReason, DeclineReason.DECLINE_REASON_PIN_INVALID, 'count was reset: not locked yet');
    assert.equal((await buy('p-1', '2468')).outcome, Outcome.OUTCOME_APPROVED);
    assert.equal(
      (await client.authorize(holdRequest('pre_authorization', 'pos-1', txn++, 'p-1', 50))).declineReason,
      DeclineReason.DECLINE_REASON_PIN_REQUIRED,
      'pre-authorizations need the PIN too',
    );
  });

  it('locks after 3 wrong PINs in a row (then even the right PIN is declined) and an operator reset unlocks', async () => {
    await issue('p-lock', '1357');
    for (let i = 0; i < 3; i++) assert.equal((await buy('p-lock', '0000')).declineReason, DeclineReason.DECLINE_REASON_PIN_INVALID);
    assert.equal((await buy('p-lock', '1357')).declineReason, DeclineReason.DECLINE_REASON_PIN_LOCKED);
    const locked = (await inspect.outbox()).filter(
      (d) => d['type'] === 'card_pin_changed' && d['card'] === 'p-lock' && d['event'] === 'locked',
    );
    assert.equal(locked.length, 1);
    await cards.setPin('p-lock', '9753', '', true);
    assert.equal((await buy('p-lock', '9753')).outcome, Outcome.OUTCOME_APPROVED);
    const unlocked = (await inspect.outbox()).filter(
      (d) => d['type'] === 'card_pin_changed' && d['card'] === 'p-lock' && d['event'] === 'unlocked',
    );
    assert.equal(unlocked.length, 1);
  });

  it('changes the PIN only with the old one; sets a first PIN without; the PIN is never stored or written in clear', async () => {
    await issue('p-change', '');
    assert.deepEqual(
      [(await buy('p-change', '')).declineReason, (await buy('p-change', '')).declineRule],
      [DeclineReason.DECLINE_REASON_PIN_REQUIRED, 'pin_not_set'],
    );
    assert.equal((await cards.setPin('p-change', '4826')).card?.pinSet, true);
    const before = await inspect.snapshot();
    await assert.rejects(cards.setPin('p-change', '5555'), (e: grpc.ServiceError) => e.code === grpc.status.PERMISSION_DENIED);
    await assert.rejects(cards.setPin('p-change', '55'), (e: grpc.ServiceError) => e.code === grpc.status.INVALID_ARGUMENT);
    await assert.rejects(
      client.authorize({ ...purchase('pos-1', txn++, 'p-change', 10), pin: '12ab' }),
      (e: grpc.ServiceError) => e.code === grpc.status.INVALID_ARGUMENT,
    );
    assert.equal(await inspect.snapshot(), before);
    // A wrong old PIN is a guess: refused, and counted on the card (test/integration/pin-guessing.test.ts).
    await assert.rejects(cards.setPin('p-change', '5555', '0000'), (e: grpc.ServiceError) => e.code === grpc.status.PERMISSION_DENIED);
    await cards.setPin('p-change', '5555', '4826');
    assert.equal((await buy('p-change', '4826')).declineReason, DeclineReason.DECLINE_REASON_PIN_INVALID);
    assert.equal((await buy('p-change', '5555')).outcome, Outcome.OUTCOME_APPROVED);
    const everything = await inspect.snapshot();
    for (const pin of ['2468', '1357', '9753', '4826', '5555'])
      assert.ok(!everything.includes(`"${pin}"`) && !everything.includes(`:${pin}"`), `PIN ${pin} never in Redis`);
  });

  it('VerifyPin: a right PIN writes nothing, a wrong one is counted with the tills and locks at the same maximum', async () => {
    const denied = (e: grpc.ServiceError) => e.code === grpc.status.PERMISSION_DENIED;
    await issue('p-verify', '1357');
    const quiet = await inspect.snapshot();
    assert.equal((await cards.verifyPin('p-verify', '1357')).card?.cardId, 'p-verify');
    assert.equal(await inspect.snapshot(), quiet, 'a right PIN with no wrong attempts counted writes nothing');
    await assert.rejects(cards.verifyPin('p-verify', '12'), (e: grpc.ServiceError) => e.code === grpc.status.INVALID_ARGUMENT);
    assert.equal(await inspect.snapshot(), quiet, 'a malformed PIN changes nothing');
    await assert.rejects(cards.verifyPin('p-verify', '0000'), denied);
    assert.notEqual(await inspect.snapshot(), quiet, 'the wrong attempt is written before it is answered');
    const seen = new Set((await inspect.outbox()).map((d) => JSON.stringify(d)));
    await cards.verifyPin('p-verify', '1357');
    const added = (await inspect.outbox()).filter((d) => !seen.has(JSON.stringify(d))).map((d) => [d['type'], d['action']]);
    assert.deepEqual(added, [['audit_record', 'tapline.v1.CardService/VerifyPin']], 'clearing the count is audited, and no card event');
    // Cleared: two wrong checks and one wrong PIN at a till make three, the program's maximum.
    await assert.rejects(cards.verifyPin('p-verify', '0000'), denied);
    await assert.rejects(cards.verifyPin('p-verify', '0001'), denied);
    assert.equal((await buy('p-verify', '0002')).declineReason, DeclineReason.DECLINE_REASON_PIN_INVALID);
    assert.equal((await buy('p-verify', '1357')).declineReason, DeclineReason.DECLINE_REASON_PIN_LOCKED, 'the checks counted');
    await assert.rejects(cards.verifyPin('p-verify', '1357'), denied, 'a locked PIN is refused even when right');
    await issue('p-verify-2', '2468');
    for (const pin of ['0000', '0001', '0002']) await assert.rejects(cards.verifyPin('p-verify-2', pin), denied);
    assert.equal((await buy('p-verify-2', '2468')).declineReason, DeclineReason.DECLINE_REASON_PIN_LOCKED, 'three wrong checks lock it');
    const locked = (await inspect.outbox()).filter(
      (d) => d['type'] === 'card_pin_changed' && d['card'] === 'p-verify-2' && d['event'] === 'locked',
    );
    assert.equal(locked.length, 1, 'the lock is one card_pin_changed "locked" document');
    await issue('p-verify-none', '');
    await assert.rejects(cards.verifyPin('p-verify-none', '1357'), (e: grpc.ServiceError) => e.code === grpc.status.FAILED_PRECONDITION);
  });

  it('does not ask for a PIN where the program does not demand it', async () => {
    await cards.defineProgram('no-pin', programConfig());
    await issue('p-free', '1234', 'no-pin');
    assert.equal((await buy('p-free', '')).outcome, Outcome.OUTCOME_APPROVED);
  });
});
