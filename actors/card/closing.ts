// Pure rules for the two ways a card ends with money on it: replacement (balance, deposit,
// program, expiry and named-ness move to a new card; the old one is dead for every operation) and
// return / cash-out (balance and deposit are paid out to the holder; the card is closed).

import { empty_card_rules_state } from './program-rules';
import { liveHeldMinor } from './holds';
import type { CardDecision, CardState } from './rules';

/** Damaged, lost or frozen cards are replaced; blocked (denylisted) ones are not. */
const replaceable: ReadonlySet<string> = new Set(['active', 'frozen', 'lost']);
/** Returned for their money: active, frozen, expired or lost (named holder) cards; not blocked ones. */
const cashable: ReadonlySet<string> = new Set(['active', 'frozen', 'expired', 'lost']);

export function decideReplace(state: CardState, replacementId: string, nowMs: number): CardDecision {
  if (replacementId === state.cardId) return { kind: 'rejected', code: 'invalid_argument', message: 'a card cannot replace itself' };
  if (!replaceable.has(state.status))
    return { kind: 'rejected', code: 'failed_precondition', message: `a ${state.status} card cannot be replaced` };
  // Offline debt stays with the card it was spent on (its listing too): top it up first.
  if (state.balanceMinor < 0 && state.profile?.tabLimitMinor === undefined)
    return { kind: 'rejected', code: 'failed_precondition', message: 'the card owes offline debt: top it up before replacing it' };
  if (liveHeldMinor(state, nowMs) > 0)
    return { kind: 'rejected', code: 'failed_precondition', message: 'complete or void the open holds before replacing the card' };
  return {
    kind: 'approved',
    event: { type: 'replaced', replacementId, balanceMinor: state.balanceMinor, depositMinor: state.profile?.depositMinor ?? 0 },
  };
}

/** The new card of a replacement: the old card's money and terms, a fresh PIN-less profile linked back. */
export function replacementState(old: CardState, replacementId: string, nowMs: number): CardState {
  const profile = old.profile;
  return {
    cardId: replacementId,
    currency: old.currency,
    programId: old.programId,
    status: 'active',
    balanceMinor: old.balanceMinor,
    heldMinor: 0,
    issuedAtMs: nowMs,
    profile: {
      named: profile?.named ?? false,
      depositMinor: profile?.depositMinor ?? 0,
      expiresAtMs: profile?.expiresAtMs ?? 0,
      // The PIN hash is keyed by card id: the holder sets a PIN on the new card.
      pinHash: '',
      pinFailures: 0,
      issuance: '',
      replaces: old.cardId,
    },
    // Loyalty points move with the card; velocity history, risk counters and open
    // reviews stay with the old one (its transactions).
    ...(old.rules === undefined || old.rules.points === 0 ? {} : { rules: { ...empty_card_rules_state, points: old.rules.points } }),
  };
}

/** Decides a return: declined (a value) when the card cannot be cashed out now. */
export function decideCashOut(state: CardState, nowMs: number): CardDecision {
  if (state.status === 'closed' || state.status === 'replaced')
    return { kind: 'declined', reason: 'card_closed', rule: `status:${state.status}` };
  if (!cashable.has(state.status)) return { kind: 'declined', reason: 'card_blocked', rule: `status:${state.status}` };
  if (liveHeldMinor(state, nowMs) > 0) return { kind: 'declined', reason: 'insufficient_funds', rule: 'open_holds' };
  // An on-tab account that owes money settles its tab first; a return never pays out a debt. A
  // card that owes offline debt pays it from its deposit (rules.ts closingBalanceMinor).
  if (state.balanceMinor < 0 && state.profile?.tabLimitMinor !== undefined)
    return { kind: 'declined', reason: 'insufficient_funds', rule: 'tab_open' };
  return {
    kind: 'approved',
    event: { type: 'cashed_out', balanceMinor: state.balanceMinor, depositMinor: state.profile?.depositMinor ?? 0 },
  };
}
