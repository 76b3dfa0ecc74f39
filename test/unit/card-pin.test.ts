// Proves the pure PIN rules (actors/card/pin.ts): constant-time hash equality, the check of a
// spending request (not demanded, not set, locked, missing, wrong with the count and the lock at
// exactly pin_attempts_max, right with the reset), setting / changing / resetting a PIN, and
// checking one without changing it (VerifyPin).

import assert from 'node:assert/strict';
import { checkPin, decideSetPin, decideVerifyPin, hashesEqual } from '../../actors/card/pin';
import { default_program_config } from '../../actors/program/config';
import type { CardState } from '../../actors/card/rules';

const program = { ...default_program_config, pinRequired: true, pinAttemptsMax: 3 };
const h = (c: string): string => c.repeat(64);

function card(pinHash: string, pinFailures = 0): CardState {
  return {
    cardId: 'c',
    currency: 'EUR',
    programId: 'p',
    status: 'active',
    balanceMinor: 0,
    heldMinor: 0,
    issuedAtMs: 0,
    profile: { named: false, depositMinor: 0, expiresAtMs: 0, pinHash, pinFailures, issuance: '' },
  };
}

describe('PIN rules', () => {
  it('compares hashes exactly, and never equal when empty or of another length', () => {
    assert.equal(hashesEqual(h('a'), h('a')), true);
    assert.equal(hashesEqual(h('a'), `${'a'.repeat(63)}b`), false);
    assert.equal(hashesEqual('', ''), false);
    assert.equal(hashesEqual(h('a'), 'aa'), false);
  });

  it('checks nothing where the program does not demand a PIN', () => {
    assert.deepEqual(checkPin(card(''), default_program_config, undefined), {});
  });

  it('declines a card without PIN (pin_not_set), a missing PIN (pin), a locked PIN (pin_attempts)', () => {
    assert.deepEqual(checkPin(card(''), program, h('a')).decline, { kind: 'declined', reason: 'pin_required', rule: 'pin_not_set' });
    assert.deepEqual(checkPin(card(h('a')), program, undefined).decline, { kind: 'declined', reason: 'pin_required', rule: 'pin' });
    assert.deepEqual(checkPin(card(h('a'), 3), program, h('a')).decline, { kind: 'declined', reason: 'pin_locked', rule: 'pin_attempts' });
  });

  it('counts wrong PINs and locks at exactly pin_attempts_max; a right PIN resets a non-zero count', () => {
    assert.deepEqual(checkPin(card(h('a'), 0), program, h('b')), {
      decline: { kind: 'declined', reason: 'pin_invalid', rule: 'pin' },
      failuresAfter: 1,
      locked: false,
    });
    assert.deepEqual(checkPin(card(h('a'), 2), program, h('b')), {
      decline: { kind: 'declined', reason: 'pin_invalid', rule: 'pin' },
      failuresAfter: 3,
      locked: true,
    });
    assert.deepEqual(checkPin(card(h('a'), 2), program, h('a')), { failuresAfter: 0 });
    assert.deepEqual(checkPin(card(h('a'), 0), program, h('a')), {});
  });

  it('sets a first PIN freely, changes only with the right old PIN, and an operator reset clears the lock', () => {
    const first = decideSetPin(card(''), h('n'), undefined, false, 3);
    assert.equal(first.event, 'set');
    assert.equal(first.decision.kind, 'approved');
    assert.equal(decideSetPin(card(h('a')), h('n'), undefined, false, 3).decision.kind, 'rejected');
    assert.equal(decideSetPin(card(h('a')), h('n'), h('a'), false, 3).event, 'changed');
    const reset = decideSetPin(card(h('a'), 3), h('n'), undefined, true, 3);
    assert.equal(reset.event, 'unlocked');
    assert.deepEqual(
      reset.decision.kind === 'approved' &&
        reset.decision.event.type === 'profile_changed' && [reset.decision.event.profile.pinHash, reset.decision.event.profile.pinFailures],
      [h('n'), 0],
    );
    assert.equal(decideSetPin(undefined, h('n'), undefined, false, 3).decision.kind, 'rejected');
  });

  it('counts a wrong old PIN as a wrong attempt (locking at pinAttemptsMax); a missing one is no guess; a locked PIN is not changed', () => {
    const wrong = decideSetPin(card(h('a'), 1), h('n'), h('b'), false, 3);
    assert.equal(wrong.decision.kind === 'rejected' && wrong.decision.code, 'permission_denied');
    assert.deepEqual(wrong.wrongAttempt, { failuresAfter: 2, locked: false });
    assert.deepEqual(decideSetPin(card(h('a'), 2), h('n'), h('b'), false, 3).wrongAttempt, { failuresAfter: 3, locked: true });
    assert.equal(decideSetPin(card(h('a'), 1), h('n'), undefined, false, 3).wrongAttempt, undefined, 'no old PIN: no guess');
    const locked = decideSetPin(card(h('a'), 3), h('n'), h('a'), false, 3);
    assert.equal(locked.decision.kind === 'rejected' && locked.decision.code, 'permission_denied', 'even the right old PIN');
    assert.equal(locked.wrongAttempt, undefined, 'nothing more to count');
  });

  it('VerifyPin: a right PIN changes nothing unless it clears a count; a wrong one counts and locks at exactly pin_attempts_max', () => {
    assert.deepEqual(decideVerifyPin(card(h('a')), h('a'), 3), { kind: 'right', clearFailures: false });
    assert.deepEqual(decideVerifyPin(card(h('a'), 2), h('a'), 3), { kind: 'right', clearFailures: true });
    assert.deepEqual(decideVerifyPin(card(h('a'), 1), h('b'), 3), { kind: 'wrong', failuresAfter: 2, locked: false });
    assert.deepEqual(decideVerifyPin(card(h('a'), 2), h('b'), 3), { kind: 'wrong', failuresAfter: 3, locked: true });
    assert.equal(decideVerifyPin(card(h('a'), 3), h('a'), 3).kind, 'rejected', 'locked: refused even when right');
    assert.deepEqual(decideVerifyPin(card(''), h('a'), 3), {
      kind: 'rejected',
      code: 'failed_precondition',
      message: 'the card has no PIN to check',
    });
    assert.equal(decideVerifyPin(undefined, h('a'), 3).kind, 'rejected');
    assert.equal(decideVerifyPin({ ...card(h('a')), status: 'closed' }, h('a'), 3).kind, 'rejected');
  });
});
