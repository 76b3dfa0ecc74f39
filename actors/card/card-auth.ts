// Pure rules of cards that authenticate (anti-cloning). An NFC card personalized with a key
// diversified from its program's master key computes, for every payment, a cryptogram over its id,
// a counter it increments itself, and the amount; the terminal relays counter and cryptogram with
// the authorization. The card keeps the last counter it accepted: a cryptogram that does not
// verify, or whose counter is not above that one (a cryptogram replayed, from a clone or from any
// terminal that saw it), is declined and flags the card; a card that authenticates and presents
// no cryptogram is declined. Verifying needs the master key, which only the node holds
// (services/authorizer/usecases/card-auth.ts): it is passed in as a function, so these rules stay
// pure and never see a key.

import type { CardDecision, CardState } from './rules';

/** Largest counter a card reports (an unsigned 32-bit counter; NTAG 424's is 24 bits). */
export const card_counter_max = 0xffff_ffff;

/** Why a card was flagged: a cryptogram replayed (counter not above the last) or one that does not verify. */
export type CardAuthFlagReason = 'replayed' | 'cryptogram';

/** What an authenticating card keeps. */
export interface CardAuthState {
  /** The master key its key is diversified from (TAPLINE_CARD_AUTH_KEYS names it). */
  readonly keyId: string;
  /** The highest counter accepted so far (0: none yet). */
  readonly counter: number;
  /** Cryptograms declined as replayed or not verifying, ever. */
  readonly flags: number;
  readonly lastFlag?: { readonly reason: CardAuthFlagReason; readonly atMs: number; readonly terminalId: string };
}

/** What a terminal relays from the card with an authorization. */
export interface CardCryptogram {
  readonly counter: number;
  /** The card's MAC, hex. */
  readonly mac: string;
}

/** What is authenticated: the card, its counter, and the payment it authorizes. */
export interface CryptogramInput {
  readonly cardId: string;
  readonly counter: number;
  readonly amountMinor: number;
  readonly currency: string;
}

/**
 * Verifies a cryptogram under a master key: 'valid', 'invalid', or 'unknown_key' when this node
 * holds no key of that id. Deterministic; injected by the node (it holds the keys).
 */
export type CryptogramVerifier = (keyId: string, input: CryptogramInput, mac: string) => 'valid' | 'invalid' | 'unknown_key';

/** What the cryptogram check decided for a spending request. */
export interface CardAuthCheck {
  /** Set when the request is declined for its cryptogram. */
  readonly decline?: Extract<CardDecision, { kind: 'declined' }>;
  /** The card after the check when it changed (counter advanced, or a flag counted). */
  readonly after?: CardState;
}

const pass: CardAuthCheck = Object.freeze({});

function declined(rule: string): Extract<CardDecision, { kind: 'declined' }> {
  return { kind: 'declined', reason: 'card_auth_failed', rule: `card_auth:${rule}` };
}

/**
 * Checks the cryptogram of a purchase or pre-authorization. A card that does not authenticate
 * passes whatever the terminal sent. A valid cryptogram with a fresh counter advances the card's
 * counter (written with the request, even when it is declined for another reason, so that the
 * cryptogram can never be presented again).
 */
export function checkCardAuth(
  state: CardState,
  presented: CardCryptogram | undefined,
  payment: { readonly amountMinor: number; readonly currency: string; readonly terminalId: string; readonly atMs: number },
  verify: CryptogramVerifier | undefined,
): CardAuthCheck {
  const auth = state.auth;
  if (auth === undefined) return pass;
  if (presented === undefined) return { decline: declined('missing') };
  const input: CryptogramInput = { cardId: state.cardId, counter: presented.counter, ...payment };
  const verdict = verify === undefined ? 'unknown_key' : verify(auth.keyId, input, presented.mac);
  // The node lacks the card's key: a configuration fault, not the card's; nothing is counted.
  if (verdict === 'unknown_key') return { decline: declined('key_unavailable') };
  if (verdict === 'invalid') return { decline: declined('cryptogram'), after: flagged(state, auth, 'cryptogram', payment) };
  if (presented.counter <= auth.counter) return { decline: declined('replayed'), after: flagged(state, auth, 'replayed', payment) };
  return { after: { ...state, auth: { ...auth, counter: presented.counter } } };
}

function flagged(
  state: CardState,
  auth: CardAuthState,
  reason: CardAuthFlagReason,
  payment: { readonly terminalId: string; readonly atMs: number },
): CardState {
  return { ...state, auth: { ...auth, flags: auth.flags + 1, lastFlag: { reason, atMs: payment.atMs, terminalId: payment.terminalId } } };
}

/**
 * Enrols a card for authentication under `keyId` with the chip's current counter, rotates it to
 * another key, or ('' key) removes it. Under the same key the counter never goes back (that would
 * make old cryptograms valid again); under a new key old cryptograms no longer verify, so the
 * chip's counter is taken as it is. Flags are kept: they are the card's history.
 */
export function decideSetCardAuth(state: CardState | undefined, keyId: string, counter: number): CardDecision {
  if (state === undefined) return { kind: 'rejected', code: 'not_found', message: 'card not found' };
  if (state.status === 'closed' || state.status === 'replaced')
    return { kind: 'rejected', code: 'failed_precondition', message: `a ${state.status} card takes no key` };
  const auth = state.auth;
  if (keyId === '')
    return auth === undefined ? { kind: 'unchanged' } : { kind: 'approved', event: { type: 'auth_changed', auth: undefined } };
  if (auth !== undefined && auth.keyId === keyId) {
    if (counter < auth.counter)
      return { kind: 'rejected', code: 'failed_precondition', message: 'under the same key the counter never goes back' };
    if (counter === auth.counter) return { kind: 'unchanged' };
  }
  const enrolled: CardAuthState = {
    keyId,
    counter,
    flags: auth?.flags ?? 0,
    ...(auth?.lastFlag === undefined ? {} : { lastFlag: auth.lastFlag }),
  };
  return { kind: 'approved', event: { type: 'auth_changed', auth: enrolled } };
}
