// Proves the cryptography and the pure rules of cards that authenticate (anti-cloning): AES-CMAC
// against the test vectors of RFC 4493; diversified keys that differ per card and per master key;
// cryptograms bound to card, counter, amount and currency; the master-key list read without ever
// echoing a key; the card rules (actors/card/card-auth.ts): a card that does not authenticate
// passes, a missing cryptogram is declined without a flag, a forged or replayed one is declined
// and flags the card, a fresh one advances the counter, even when the purchase is then declined
// for funds (decide.ts); enrolment and rotation; and, as a seeded property over random sequences
// of genuine, replayed and forged presentations, that every counter is accepted at most once, in
// increasing order, and that every refused cryptogram is counted as a flag.

import assert from 'node:assert/strict';
import fc from 'fast-check';
import { checkCardAuth, decideSetCardAuth, type CardCryptogram } from '../../actors/card/card-auth';
import { decideMoney, type CardEnv } from '../../actors/card/decide';
import { decide, type CardState } from '../../actors/card/rules';
import { decideCancelIssuance } from '../../actors/card/issuance-cancel';
import { fingerprintOf, type MoneyRequest } from '../../actors/card/transaction';
import { default_program_config } from '../../actors/program/config';
import { aesCmac, cardCryptogram, CardAuthKeys, diversifiedKey } from '../../services/authorizer/usecases/card-auth';
import { announceSeed, assertProperty } from './fast-check-seed';

const master_hex = '000102030405060708090a0b0c0d0e0f';
const master = Buffer.from(master_hex, 'hex');
const keys = CardAuthKeys.parse(`fest-1:${master_hex}`)!;

function card(balanceMinor = 10_000, counter = 5): CardState {
  return {
    cardId: 'nfc-1',
    currency: 'EUR',
    programId: 'fest',
    status: 'active',
    balanceMinor,
    heldMinor: 0,
    issuedAtMs: 0,
    auth: { keyId: 'fest-1', counter, flags: 0 },
  };
}

function presented(counter: number, amountMinor: number, cardId = 'nfc-1', currency = 'EUR'): CardCryptogram {
  return { counter, mac: cardCryptogram(master, { cardId, counter, amountMinor, currency }).toString('hex') };
}

const payment = (amountMinor: number) => ({ amountMinor, currency: 'EUR', terminalId: 'bar-1', atMs: 1_000 });

describe('card authentication: cryptography', () => {
  it('computes AES-CMAC as RFC 4493 specifies (its four test vectors)', () => {
    const key = Buffer.from('2b7e151628aed2a6abf7158809cf4f3c', 'hex');
    const text =
      '6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710';
    const vectors: [number, string][] = [
      [0, 'bb1d6929e95937287fa37d129b756746'],
      [16, '070a16b46b4d4144f79bdd9dd04a287c'],
      [40, 'dfa66747de9ae63030ca32611497c827'],
      [64, '51f0bebf7e3b9d92fc49741779363cfe'],
    ];
    for (const [bytes, mac] of vectors)
      assert.equal(aesCmac(key, Buffer.from(text, 'hex').subarray(0, bytes)).toString('hex'), mac, `${bytes}-byte message`);
  });

  it('diversifies a key per card and per master key, and binds a cryptogram to card, counter, amount and currency', () => {
    assert.notDeepEqual(diversifiedKey(master, 'nfc-1'), diversifiedKey(master, 'nfc-2'));
    assert.notDeepEqual(diversifiedKey(master, 'nfc-1'), diversifiedKey(Buffer.alloc(16, 7), 'nfc-1'));
    const base = { cardId: 'nfc-1', counter: 9, amountMinor: 450, currency: 'EUR' };
    const mac = cardCryptogram(master, base);
    assert.equal(mac.length, 8);
    for (const changed of [{ cardId: 'nfc-2' }, { counter: 10 }, { amountMinor: 451 }, { currency: 'CHF' }])
      assert.notDeepEqual(cardCryptogram(master, { ...base, ...changed }), mac, JSON.stringify(changed));
    assert.equal(keys.verify('fest-1', base, mac.toString('hex')), 'valid');
    assert.equal(keys.verify('fest-1', { ...base, amountMinor: 451 }, mac.toString('hex')), 'invalid');
    assert.equal(keys.verify('fest-2', base, mac.toString('hex')), 'unknown_key');
  });

  it('reads the master keys by id and refuses a malformed list without ever printing a key', () => {
    const secret = 'ffeeddccbbaa99887766554433221100';
    assert.equal(CardAuthKeys.parse(undefined), undefined);
    assert.equal(CardAuthKeys.parse(`a:${secret},b.2:${master_hex}`)?.has('b.2'), true);
    for (const text of [`a:${secret.slice(2)}`, `a:${secret},a:${secret}`, `bad id:${secret}`, `a:${secret};b:${secret}`, '']) {
      assert.throws(
        () => CardAuthKeys.parse(text),
        (error: Error) => !error.message.includes(secret.slice(2, 30)),
        text,
      );
    }
  });
});

describe('card authentication: rules', () => {
  it('lets a card that does not authenticate through, whatever the terminal sent', () => {
    const plain = { ...card(), auth: undefined };
    assert.deepEqual(checkCardAuth(plain, undefined, payment(100), keys.verify), {});
    assert.deepEqual(checkCardAuth(plain, presented(1, 100), payment(100), keys.verify), {});
  });

  it('declines a missing cryptogram without a flag, and one it has no key for without a flag', () => {
    assert.deepEqual(checkCardAuth(card(), undefined, payment(100), keys.verify), {
      decline: { kind: 'declined', reason: 'card_auth_failed', rule: 'card_auth:missing' },
    });
    assert.deepEqual(checkCardAuth(card(), presented(6, 100), payment(100), undefined).decline?.rule, 'card_auth:key_unavailable');
    assert.equal(checkCardAuth(card(), presented(6, 100), payment(100), undefined).after, undefined);
  });

  it('declines a forged or replayed cryptogram and flags the card; a fresh one advances the counter', () => {
    const forged = checkCardAuth(card(), { counter: 6, mac: 'ab'.repeat(8) }, payment(100), keys.verify);
    assert.equal(forged.decline?.rule, 'card_auth:cryptogram');
    assert.deepEqual(forged.after?.auth, {
      keyId: 'fest-1',
      counter: 5,
      flags: 1,
      lastFlag: { reason: 'cryptogram', atMs: 1_000, terminalId: 'bar-1' },
    });
    const otherAmount = checkCardAuth(card(), presented(6, 100), payment(5_000), keys.verify);
    assert.equal(otherAmount.decline?.rule, 'card_auth:cryptogram', 'a cryptogram for another amount does not verify');
    for (const counter of [5, 4, 0]) {
      const replayed = checkCardAuth(card(), presented(counter, 100), payment(100), keys.verify);
      assert.equal(replayed.decline?.rule, 'card_auth:replayed', `counter ${counter}`);
      assert.equal(replayed.after?.auth?.flags, 1);
      assert.equal(replayed.after?.auth?.counter, 5, 'a replay never moves the counter');
    }
    const fresh = checkCardAuth(card(), presented(9, 100), payment(100), keys.verify);
    assert.equal(fresh.decline, undefined);
    assert.equal(fresh.after?.auth?.counter, 9);
  });

  it('keeps the counter a purchase declined for funds consumed, so its cryptogram is never good again', () => {
    const env: CardEnv = { nowMs: 1_000, nextId: () => 'id-1', program: default_program_config, shard: 0, verifyCryptogram: keys.verify };
    const base: Omit<MoneyRequest, 'fingerprint'> = {
      kind: 'purchase',
      key: 't:bar-1:1',
      cardId: 'nfc-1',
      terminalId: 'bar-1',
      amountMinor: 50_000,
      currency: 'EUR',
      source: '',
      operatorId: '',
      originalKey: '',
      cardCryptogram: presented(6, 50_000),
    };
    const plan = decideMoney(card(10_000), { ...base, fingerprint: fingerprintOf(base) }, 'bar', env);
    assert.equal(plan.kind, 'money');
    if (plan.kind !== 'money') return;
    assert.equal(plan.record.r.reason, 'insufficient_funds');
    assert.equal(plan.after.auth?.counter, 6, 'the declined purchase writes the counter it consumed');
    const again = decideMoney(plan.after, { ...base, key: 't:bar-2:1', terminalId: 'bar-2', fingerprint: fingerprintOf(base) }, 'bar', env);
    assert.equal(again.kind === 'money' ? again.record.r.rule : '', 'card_auth:replayed');
  });

  it('enrols, keeps a counter from going back under the same key, rotates to a new key, and removes', () => {
    assert.equal(decideSetCardAuth(undefined, 'fest-1', 0).kind, 'rejected');
    const plain = { ...card(), auth: undefined };
    assert.deepEqual(decideSetCardAuth(plain, 'fest-1', 3), {
      kind: 'approved',
      event: { type: 'auth_changed', auth: { keyId: 'fest-1', counter: 3, flags: 0 } },
    });
    assert.equal(decideSetCardAuth(card(), 'fest-1', 4).kind, 'rejected', 'same key, lower counter');
    assert.equal(decideSetCardAuth(card(), 'fest-1', 5).kind, 'unchanged');
    assert.deepEqual(decideSetCardAuth(card(), 'fest-2', 0), {
      kind: 'approved',
      event: { type: 'auth_changed', auth: { keyId: 'fest-2', counter: 0, flags: 0 } },
    });
    assert.deepEqual(decideSetCardAuth(card(), '', 0), { kind: 'approved', event: { type: 'auth_changed', auth: undefined } });
    assert.equal(decideSetCardAuth({ ...card(), status: 'closed' }, 'fest-1', 9).kind, 'rejected');
  });

  it("keeps the chip's counter through a cancelled issuance and a new issue, under the program's key", () => {
    const used = { ...card(10_000, 7), balanceMinor: 0, unmoved: true as const };
    const cancelled = decideCancelIssuance(used, { reason: 'mistake', operatorId: 'ops' }, { holder: undefined }, 1_000);
    assert.equal(cancelled.kind, 'cancel');
    if (cancelled.kind !== 'cancel') return;
    assert.deepEqual(cancelled.after.auth, { keyId: 'fest-1', counter: 7, flags: 0 });
    const command = { type: 'issue' as const, cardId: 'nfc-1', currency: 'EUR', initialBalanceMinor: 500, programId: 'fest', nowMs: 2_000 };
    const again = decide(cancelled.after, { ...command, authKeyId: 'fest-2' });
    assert.deepEqual(again.kind === 'approved' && again.event.type === 'issued' ? again.event.state.auth : undefined, {
      keyId: 'fest-2',
      counter: 7,
      flags: 0,
    });
    const keyless = decide(cancelled.after, command);
    assert.equal(keyless.kind === 'approved' && keyless.event.type === 'issued' ? keyless.event.state.auth?.keyId : '', 'fest-1');
    const fresh = decide(undefined, { ...command, authKeyId: 'fest-2' });
    assert.deepEqual(fresh.kind === 'approved' && fresh.event.type === 'issued' ? fresh.event.state.auth : undefined, {
      keyId: 'fest-2',
      counter: 0,
      flags: 0,
    });
  });

  describe('property', () => {
    before(() => announceSeed('card authentication'));

    it('over random genuine, replayed and forged presentations, each counter is accepted once, in order, and refusals are flags', () => {
      const step = fc.oneof(
        fc.record({ kind: fc.constant('genuine' as const), advance: fc.integer({ min: 1, max: 3 }) }),
        fc.record({ kind: fc.constant('replay' as const), back: fc.nat(5) }),
        fc.record({ kind: fc.constant('forged' as const), advance: fc.integer({ min: 1, max: 3 }) }),
      );
      assertProperty(
        fc.property(fc.array(step, { maxLength: 60 }), (steps) => {
          let state = card(10_000, 0);
          let chip = 0;
          let refused = 0;
          const accepted: number[] = [];
          for (const s of steps) {
            const counter = s.kind === 'replay' ? Math.max(0, chip - s.back) : chip + s.advance;
            const mac = s.kind === 'forged' ? { counter, mac: '00'.repeat(8) } : presented(counter, 100);
            if (s.kind === 'genuine') chip = counter;
            const check = checkCardAuth(state, mac, payment(100), keys.verify);
            if (check.decline === undefined) accepted.push(counter);
            else refused += 1;
            state = check.after ?? state;
          }
          for (let i = 1; i < accepted.length; i++) assert.ok((accepted[i] as number) > (accepted[i - 1] as number));
          assert.equal(new Set(accepted).size, accepted.length);
          assert.equal(state.auth?.flags, refused);
          assert.equal(state.auth?.counter, accepted.at(-1) ?? 0);
        }),
        300,
      );
    });
  });
});
