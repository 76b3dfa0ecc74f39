// Pure PIN rules. The card keeps only a keyed hash of its PIN (services/authorizer/pin.ts makes
// it); requests carry the hash of the PIN entered, made the same way at the gRPC boundary. These
// rules compare the two in constant time, count wrong attempts and lock the PIN after the
// program's pin_attempts_max wrong ones in a row; a right PIN resets the count.

import type { ProgramConfig } from '../program/config';
import type { CardDecision, CardProfile, CardState } from './rules';

/** Constant-time equality of two hex hashes: the time does not depend on where they differ. */
export function hashesEqual(a: string, b: string): boolean {
  if (a.length !== b.length || a.length === 0) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return difference === 0;
}

export interface PinCheck {
  /** Set when the request is declined for its PIN. */
  readonly decline?: Extract<CardDecision, { kind: 'declined' }>;
  /** The card's wrong-attempt count after this request, when it changes. */
  readonly failuresAfter?: number;
  /** This wrong attempt locked the PIN. */
  readonly locked?: boolean;
}

const no_change: PinCheck = Object.freeze({});

/** Whatever keeps a PIN: a card's profile, a fleet card. */
export interface PinHolder {
  readonly pinHash: string;
  readonly pinFailures: number;
}

/** Whether a PIN is needed and how many wrong ones lock it: a card's program, a fleet's card policy. */
export interface PinPolicy {
  readonly pinRequired: boolean;
  readonly pinAttemptsMax: number;
}

/** Checks a spending request's PIN where the program demands one. */
export function checkPin(state: CardState, program: ProgramConfig, presentedHash: string | undefined): PinCheck {
  return checkPinOf(state.profile, program, presentedHash);
}

/**
 * The PIN rule over any holder: required and not set (pin_required, "pin_not_set"), locked after
 * pinAttemptsMax wrong ones (pin_locked), none entered (pin_required), wrong (pin_invalid, one more
 * failure, `locked` when it reaches the maximum); a right one clears the count.
 */
export function checkPinOf(holder: PinHolder | undefined, policy: PinPolicy, presentedHash: string | undefined): PinCheck {
  if (!policy.pinRequired) return no_change;
  if (holder === undefined || holder.pinHash === '') return { decline: { kind: 'declined', reason: 'pin_required', rule: 'pin_not_set' } };
  if (holder.pinFailures >= policy.pinAttemptsMax) return { decline: { kind: 'declined', reason: 'pin_locked', rule: 'pin_attempts' } };
  if (presentedHash === undefined) return { decline: { kind: 'declined', reason: 'pin_required', rule: 'pin' } };
  if (!hashesEqual(presentedHash, holder.pinHash)) {
    const failuresAfter = holder.pinFailures + 1;
    return {
      decline: { kind: 'declined', reason: 'pin_invalid', rule: 'pin' },
      failuresAfter,
      locked: failuresAfter >= policy.pinAttemptsMax,
    };
  }
  return holder.pinFailures > 0 ? { failuresAfter: 0 } : no_change;
}

export function withPinFailures(state: CardState, failures: number): CardState {
  const profile = state.profile as CardProfile;
  return { ...state, profile: { ...profile, pinFailures: failures } };
}

export type PinEvent = 'set' | 'changed' | 'unlocked';

/** What a PIN change decided: the change, or a refusal, with the wrong attempt it counted if any. */
export interface SetPinDecision {
  readonly decision: CardDecision;
  readonly event?: PinEvent;
  /**
   * A wrong old PIN: the refusal still writes the card's wrong-attempt count (the guess is spent,
   * like a wrong PIN at a till), and `locked` when this attempt reached pinAttemptsMax.
   */
  readonly wrongAttempt?: { readonly failuresAfter: number; readonly locked: boolean };
}

/**
 * Sets or changes the PIN. A card with a PIN needs the old one: a wrong one is permission_denied
 * and counts as a wrong attempt towards the program's pinAttemptsMax, shared with the tills (the
 * same 10^4 guesses, wherever they are tried); a locked PIN is not changed even with the right old
 * one. An operator reset replaces it without the old one and clears the lock.
 */
export function decideSetPin(
  state: CardState | undefined,
  newHash: string,
  oldHash: string | undefined,
  reset: boolean,
  pinAttemptsMax: number,
): SetPinDecision {
  if (state === undefined) return { decision: { kind: 'rejected', code: 'not_found', message: 'card not found' } };
  if (state.status === 'closed' || state.status === 'replaced')
    return { decision: { kind: 'rejected', code: 'failed_precondition', message: `a ${state.status} card takes no PIN` } };
  const base: CardProfile = state.profile ?? { named: false, depositMinor: 0, expiresAtMs: 0, pinHash: '', pinFailures: 0, issuance: '' };
  let event: PinEvent = 'set';
  if (base.pinHash !== '' && !reset) {
    if (base.pinFailures >= pinAttemptsMax)
      return { decision: { kind: 'rejected', code: 'permission_denied', message: 'the PIN is locked: an operator reset is needed' } };
    if (oldHash === undefined) return { decision: { kind: 'rejected', code: 'permission_denied', message: 'the current PIN is missing' } };
    if (!hashesEqual(oldHash, base.pinHash)) {
      const failuresAfter = base.pinFailures + 1;
      return {
        decision: { kind: 'rejected', code: 'permission_denied', message: 'the current PIN is wrong' },
        wrongAttempt: { failuresAfter, locked: failuresAfter >= pinAttemptsMax },
      };
    }
    event = 'changed';
  } else if (base.pinHash !== '') {
    event = base.pinFailures > 0 ? 'unlocked' : 'changed';
  }
  return {
    decision: { kind: 'approved', event: { type: 'profile_changed', profile: { ...base, pinHash: newHash, pinFailures: 0 } } },
    event,
  };
}

/** What checking a card's PIN (VerifyPin) decided. */
export type VerifyPinDecision =
  | { readonly kind: 'rejected'; readonly code: 'not_found' | 'failed_precondition' | 'permission_denied'; readonly message: string }
  /** A wrong PIN: refused, and the card's wrong-attempt count raised (written before the answer). */
  | { readonly kind: 'wrong'; readonly failuresAfter: number; readonly locked: boolean }
  /** The right PIN; `clearFailures` when wrong attempts were counted (the count goes back to 0). */
  | { readonly kind: 'right'; readonly clearFailures: boolean };

/**
 * Checks a PIN without changing it. A wrong one counts exactly as SetPin's wrong old PIN and a
 * till's wrong PIN (the same pinAttemptsMax guesses, wherever they are tried); a locked PIN is
 * refused even when right. A right one changes nothing, unless wrong attempts were counted: then
 * it clears them, as a right PIN at a till does, so the holder who finally remembers it is not left
 * one guess from a lock.
 */
export function decideVerifyPin(state: CardState | undefined, presentedHash: string, pinAttemptsMax: number): VerifyPinDecision {
  if (state === undefined) return { kind: 'rejected', code: 'not_found', message: 'card not found' };
  if (state.status === 'closed' || state.status === 'replaced')
    return { kind: 'rejected', code: 'failed_precondition', message: `a ${state.status} card has no PIN to check` };
  const holder = state.profile;
  if (holder === undefined || holder.pinHash === '')
    return { kind: 'rejected', code: 'failed_precondition', message: 'the card has no PIN to check' };
  if (holder.pinFailures >= pinAttemptsMax)
    return { kind: 'rejected', code: 'permission_denied', message: 'the PIN is locked: an operator reset is needed' };
  if (!hashesEqual(presentedHash, holder.pinHash)) {
    const failuresAfter = holder.pinFailures + 1;
    return { kind: 'wrong', failuresAfter, locked: failuresAfter >= pinAttemptsMax };
  }
  return { kind: 'right', clearFailures: holder.pinFailures > 0 };
}
