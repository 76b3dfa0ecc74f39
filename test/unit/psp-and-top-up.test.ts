// Proves the pure parts of top-ups: the program limits in the card rules (largest top-up, largest
// balance, checked after status and currency), the auto-reload mandate as a profile change (and a
// paid first payment's credit and mandate decided as one plan), the
// PSP callback signature check (valid, wrong secret, tampered payload, malformed signature) and
// the strict payload parser (a signed signing instant included), the window around the node's
// clock a callback must be signed in, a paid first payment's auto-reload (from a signed payload,
// and from Mollie's payment: the mandate Mollie created, the choice from the node's metadata), and
// that PIN hashes are keyed and compared in constant time.

import assert from 'node:assert/strict';
import { apply, decide, type CardDecision, type CardState } from '../../actors/card/rules';
import { decideMoney, type CardEnv } from '../../actors/card/decide';
import { fingerprintOf, type MoneyRequest } from '../../actors/card/transaction';
import { default_program_config } from '../../actors/program/config';
import {
  checkSignedAt,
  parsePspPayload,
  psp_callback_window_ms,
  pspPayload,
  signPspPayload,
  verifyPspSignature,
} from '../../services/authorizer/usecases/psp';
import { PinHasher } from '../../services/authorizer/usecases/pin';
import { readPayment } from '../../services/authorizer/psp/mollie';
import { TaplineError } from '../../actors/errors';

function card(overrides: Partial<CardState> = {}): CardState {
  return { cardId: 'c', currency: 'EUR', programId: 'p', status: 'active', balanceMinor: 1_000, heldMinor: 0, issuedAtMs: 0, ...overrides };
}

const topUp = (amountMinor: number, maxBalanceMinor = 0, maxTopUpMinor = 0): CardDecision =>
  decide(card(), { type: 'top_up', amountMinor, currency: 'EUR', maxBalanceMinor, maxTopUpMinor });

describe('top-up limits of the program', () => {
  it('approves up to the limits and declines one minor unit past each', () => {
    assert.equal(topUp(500, 0, 500).kind, 'approved');
    assert.deepEqual(topUp(501, 0, 500), { kind: 'declined', reason: 'top_up_limit_exceeded', rule: 'program_max_top_up' });
    assert.equal(topUp(4_000, 5_000).kind, 'approved');
    assert.deepEqual(topUp(4_001, 5_000), { kind: 'declined', reason: 'max_balance_exceeded', rule: 'program_max_balance' });
    assert.equal(topUp(10 ** 12).kind, 'approved', '0 = no program limit');
  });

  it('checks status and currency first', () => {
    assert.equal(
      (
        decide(card({ status: 'frozen' }), { type: 'top_up', amountMinor: 10 ** 6, currency: 'EUR', maxTopUpMinor: 1 }) as {
          reason: string;
        }
      ).reason,
      'card_frozen',
    );
  });

  it('stores and removes an auto-reload mandate as a profile change; dead cards take none', () => {
    const set = decide(card(), { type: 'set_auto_reload', autoReload: { thresholdMinor: 100, amountMinor: 500, mandate: 'm' } });
    assert.equal(set.kind, 'approved');
    const withMandate = apply(card(), set.event);
    assert.deepEqual(withMandate.profile?.autoReload, { thresholdMinor: 100, amountMinor: 500, mandate: 'm' });
    const removed = decide(withMandate, { type: 'set_auto_reload', autoReload: undefined });
    assert.equal(apply(withMandate, (removed as Extract<CardDecision, { kind: 'approved' }>).event).profile?.autoReload, undefined);
    assert.equal(decide(card({ status: 'closed' }), { type: 'set_auto_reload', autoReload: undefined }).kind, 'rejected');
  });

  it("decides a paid first payment's credit and its mandate as one plan (one commit); a declined top-up stores no mandate", () => {
    const env: CardEnv = { nowMs: 5_000, nextId: () => 'tx-1', program: default_program_config, shard: 3 };
    const autoReload = { thresholdMinor: 1_500, amountMinor: 2_000, mandate: 'cst_a.mdt_b' };
    const base: Omit<MoneyRequest, 'fingerprint'> = {
      kind: 'top_up',
      key: 'k:psp:tr_1',
      cardId: 'c',
      terminalId: '',
      amountMinor: 1_000,
      currency: 'EUR',
      source: 'psp',
      operatorId: '',
      originalKey: '',
      recordSpent: true,
      autoReload,
      acting: { subject: 'psp:tr_1', role: 'psp', scope: 'c', action: 'psp.first_payment' },
    };
    const request: MoneyRequest = { ...base, fingerprint: fingerprintOf(base) };
    const plan = decideMoney(card(), request, '', env);
    if (plan.kind !== 'money') return assert.fail('a top-up of an active card is a plan');
    assert.equal(plan.after.balanceMinor, 2_000, 'credited');
    assert.deepEqual(plan.after.profile?.autoReload, autoReload, 'and the mandate stored, in the same state');
    assert.equal(plan.record.r.outcome, 'approved');
    const documents = (plan.extraOutbox ?? []).map(
      (extra) => [extra.shard, JSON.parse(extra.document) as Record<string, unknown>] as const,
    );
    assert.deepEqual(
      documents.map(([shard, document]) => [shard, document['action'], document['operator'], document['detail']]),
      [[3, 'auto_reload_set', 'psp:tr_1', JSON.stringify({ threshold: 1_500, amount: 2_000 })]],
      "the mandate's document goes with the top-up's, its reference left out",
    );
    assert.equal(fingerprintOf(base), fingerprintOf({ ...base, autoReload: undefined }), 'the mandate is no part of the fingerprint');

    const declined = decideMoney(card({ status: 'frozen' }), request, '', env);
    if (declined.kind !== 'money') return assert.fail('a declined top-up is a plan');
    assert.equal(declined.record.r.outcome, 'declined');
    assert.equal(declined.after.profile?.autoReload, undefined, 'no mandate without the credit');
    assert.equal(declined.extraOutbox, undefined);
  });
});

describe('PSP callback signatures and payloads', () => {
  const secret = 'a-shared-psp-secret';
  const payload = pspPayload({
    reference: 'ref-1',
    card: 'card-1',
    amountMinor: 500,
    currency: 'EUR',
    status: 'succeeded',
    kind: 'top_up',
    signedAtMs: 1_760_000_000_000,
  });

  it('verifies the HMAC of the exact payload under the secret, and nothing else', () => {
    assert.equal(verifyPspSignature(secret, payload, signPspPayload(secret, payload)), undefined);
    for (const [what, body, signature] of [
      ['wrong secret', payload, signPspPayload('another-secret-xyz', payload)],
      ['tampered payload', payload.replace('500', '501'), signPspPayload(secret, payload)],
      ['empty signature', payload, ''],
      ['upper-case hex', payload, signPspPayload(secret, payload).toUpperCase()],
      ['short signature', payload, signPspPayload(secret, payload).slice(2)],
    ] as const) {
      const refusal = verifyPspSignature(secret, body, signature);
      assert.ok(refusal instanceof TaplineError && refusal.code === 'permission_denied', what);
    }
    assert.equal(verifyPspSignature(secret, 'x'.repeat(5_000), 'a'.repeat(64))?.code, 'invalid_argument');
  });

  it('parses exactly the documented payload and refuses anything else as invalid_argument', () => {
    assert.deepEqual(parsePspPayload(payload), {
      reference: 'ref-1',
      card: 'card-1',
      amountMinor: 500,
      currency: 'EUR',
      status: 'succeeded',
      kind: 'top_up',
      signedAtMs: 1_760_000_000_000,
    });
    const bad = [
      'not json',
      '{}',
      payload.replace('500', '0'),
      payload.replace('500', '1.5'),
      payload.replace('EUR', 'XXX'),
      payload.replace('succeeded', 'ok'),
      payload.replace('"top_up"', '"gift"'),
      payload.replace('ref-1', 'ref 1'),
      payload.replace(',"signed_at":1760000000000', ''),
      payload.replace('1760000000000', '"1760000000000"'),
      payload.replace('1760000000000', '-1'),
    ];
    for (const body of bad)
      assert.throws(
        () => parsePspPayload(body),
        (e: unknown) => e instanceof TaplineError && e.code === 'invalid_argument',
        body,
      );
  });

  it("reads a paid first payment's auto-reload, and refuses one on anything but a succeeded top-up or out of range", () => {
    const first = (fields: string, base = payload): string => base.replace(/}$/, `,"auto_reload":${fields}}`);
    const good = first('{"threshold_minor":0,"amount_minor":2000,"mandate":"cst_a.mdt_b"}');
    assert.deepEqual(parsePspPayload(good).autoReload, { thresholdMinor: 0, amountMinor: 2_000, mandate: 'cst_a.mdt_b' });
    assert.deepEqual(parsePspPayload(pspPayload(parsePspPayload(good))), parsePspPayload(good), 'written as it is read');
    const bad = [
      first('{"threshold_minor":0,"amount_minor":2000,"mandate":"cst_a.mdt_b"}', payload.replace('succeeded', 'failed')),
      first('{"threshold_minor":0,"amount_minor":2000,"mandate":"cst_a.mdt_b"}', payload.replace('"top_up"', '"auto_reload"')),
      first('{"threshold_minor":0,"amount_minor":0,"mandate":"cst_a.mdt_b"}'),
      first('{"threshold_minor":-1,"amount_minor":2000,"mandate":"cst_a.mdt_b"}'),
      first('{"threshold_minor":0,"amount_minor":2000,"mandate":""}'),
      first('{"threshold_minor":0,"amount_minor":2000,"mandate":"cst a"}'),
      first('"cst_a.mdt_b"'),
    ];
    for (const body of bad)
      assert.throws(
        () => parsePspPayload(body),
        (e: unknown) => e instanceof TaplineError && e.code === 'invalid_argument',
        body,
      );
  });
});

describe('PSP callback signing instant', () => {
  const event = parsePspPayload(
    pspPayload({ reference: 'r', card: 'c', amountMinor: 1, currency: 'EUR', status: 'succeeded', kind: 'top_up', signedAtMs: 1_000_000 }),
  );
  it('accepts a callback signed within the window either way, and refuses one outside it as permission_denied', () => {
    for (const nowMs of [1_000_000, 1_000_000 + psp_callback_window_ms, 1_000_000 - psp_callback_window_ms])
      assert.equal(checkSignedAt(event, nowMs), undefined, `now ${nowMs}`);
    for (const nowMs of [1_000_001 + psp_callback_window_ms, 999_999 - psp_callback_window_ms])
      assert.equal(checkSignedAt(event, nowMs)?.code, 'permission_denied', `now ${nowMs}`);
  });
});

describe('PIN hashing', () => {
  it('keys the hash by secret and card, and matches only the right PIN', () => {
    const hasher = new PinHasher('pin-secret-0123456789');
    const hash = hasher.hash('card-1', '1234');
    assert.match(hash, /^[0-9a-f]{64}$/);
    assert.ok(!hash.includes('1234'));
    assert.notEqual(hash, hasher.hash('card-2', '1234'), 'equal PINs on two cards hash differently');
    assert.notEqual(hash, new PinHasher('other-secret-0123456').hash('card-1', '1234'));
    assert.equal(hasher.matches('card-1', '1234', hash), true);
    assert.equal(hasher.matches('card-1', '1235', hash), false);
    assert.equal(hasher.matches('card-1', '1234', 'abcd'), false, 'a malformed stored hash never matches');
  });
});

describe("Mollie's first payment as the node reads it", () => {
  const paid = (fields: Record<string, unknown> = {}): Record<string, unknown> => ({
    id: 'tr_1',
    status: 'paid',
    amount: { currency: 'EUR', value: '5.00' },
    sequenceType: 'first',
    customerId: 'cst_abc',
    mandateId: 'mdt_xyz9',
    metadata: { card: 'c-1', kind: 'top_up', auto_reload: { threshold_minor: 1_000, amount_minor: 2_000 } },
    ...fields,
  });
  const autoReloadOf = (payment: Record<string, unknown>): unknown => {
    const read = readPayment('tr_1', payment);
    return read !== undefined && 'autoReload' in read ? read.autoReload : undefined;
  };
  it('stores the mandate Mollie created with the choice from the metadata, only for a paid first payment', () => {
    assert.deepEqual(readPayment('tr_1', paid()), {
      reference: 'tr_1',
      card: 'c-1',
      amountMinor: 500,
      currency: 'EUR',
      status: 'succeeded',
      kind: 'top_up',
      autoReload: { thresholdMinor: 1_000, amountMinor: 2_000, mandate: 'cst_abc.mdt_xyz9' },
    });
    assert.equal(autoReloadOf(paid({ mandateId: undefined })), undefined, 'no mandate reported: the top-up alone');
    assert.equal(autoReloadOf(paid({ sequenceType: 'oneoff' })), undefined, 'not a first payment');
    assert.equal(readPayment('tr_1', paid({ status: 'failed' }))?.status, 'failed');
    assert.equal(autoReloadOf(paid({ status: 'failed' })), undefined);
    const foreign = { card: 'c-1', kind: 'top_up', auto_reload: { threshold_minor: '1000', amount_minor: 2_000 } };
    assert.equal(readPayment('tr_1', paid({ metadata: foreign })), undefined, 'metadata the node did not write');
  });
});
