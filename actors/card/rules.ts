// The card's pure decision rules: decide(state, command) -> decision, apply(state, event) -> state.
// No I/O, no clock (time comes in on the command), no randomness. The card actor sequences
// commands and persists what these rules decide; tests drive these functions directly.

import { addMinor, amount_abs_max_minor, isBoundedAmount } from '../money';
import type { ProgramCardState } from '../rules/program';
import type { ReviewEntry } from '../rules/review-queue';
import type { DeclineReason } from '../declines';
import type { ListingReason } from '../offline/denylist';
import type { CardAuthState } from './card-auth';

/**
 * `unissued`: the card's issuance was cancelled (actors/card/issuance-cancel.ts). The card is stock
 * again: nothing on it, answered NOT_FOUND by every call but IssueCard, which issues it afresh.
 */
export type CardStatus = 'active' | 'frozen' | 'blocked' | 'lost' | 'expired' | 'closed' | 'replaced' | 'unissued';

export interface CardState {
  readonly cardId: string;
  readonly currency: string;
  readonly programId: string;
  readonly status: CardStatus;
  /** Ledger balance in minor units. Never negative for a prepaid card. */
  readonly balanceMinor: number;
  /** Sum of open holds; available = balance - held. Zero until pre-authorizations exist. */
  readonly heldMinor: number;
  readonly issuedAtMs: number;
  /** What the card was issued with; absent on cards issued by AdminService.IssueCard. */
  readonly profile?: CardProfile;
  /** Open holds by the idempotency key of their pre-authorization; their sum is heldMinor. */
  readonly holds?: Readonly<Record<string, Hold>>;
  /** Cards with a profile: purchases + completions so far (receipts show "spent so far"). */
  readonly spentMinor?: number;
  /** What the card keeps for its program's rules; absent until a rule changed it. */
  readonly rules?: CardRulesState;
  /** Why the card is on the offline denylist now (actors/offline/denylist.ts); absent: it is not. */
  readonly denylisted?: ListingReason;
  /** The card was listed at least once: deciding an offline sale reads its listing history. */
  readonly denylistHistory?: boolean;
  /** Offline sales charged to the card so far, ever (the base of its medium's signed counter). */
  readonly offlineMergedMinor?: number;
  /**
   * Set at issue and dropped by the card's first money movement (movesMoney): while it is set the
   * issuance can be cancelled. Cards issued before it existed never carry it, so they never are.
   */
  readonly unmoved?: true;
  /**
   * An NFC card that authenticates each payment (anti-cloning, card-auth.ts); absent otherwise.
   * Kept through a cancelled issuance: the chip's counter never goes back.
   */
  readonly auth?: CardAuthState;
  /** Tokens of the bank cards that pay from this card (open loop, tokens.ts); absent when none. */
  readonly tokens?: readonly string[];
}

/** A card's state under its program's rules (actors/card/program-rules.ts). */
export interface CardRulesState {
  readonly program: ProgramCardState;
  /** Loyalty points held: earned minus redeemed, never negative. */
  readonly points: number;
  /** Flagged approvals of this card waiting for review, oldest first (bounded). */
  readonly reviews: readonly ReviewEntry[];
  /** Entries that made room for newer ones (still flagged in the outbox and reports). */
  readonly reviews_dropped: number;
}

/** Rarely changing facts about a card, kept apart so the purchase path copies one reference. */
export interface CardProfile {
  readonly named: boolean;
  /** Refundable deposit held for the card (paid out on return). */
  readonly depositMinor: number;
  /** 0 = the card does not expire. */
  readonly expiresAtMs: number;
  /** Keyed hash of the PIN ("" = no PIN set); never the PIN itself. */
  readonly pinHash: string;
  readonly pinFailures: number;
  /** Bulk issuance the card came from ("" = issued alone). */
  readonly issuance: string;
  /** History links of a replacement: the card this one replaced / was replaced by. */
  readonly replaces?: string;
  readonly replacedBy?: string;
  /** Auto-reload mandate: below `thresholdMinor` available, `amountMinor` is charged to `mandate`. */
  readonly autoReload?: AutoReload;
  /** On-tab account (named cards): the balance may go down to -tabLimitMinor; settled later. */
  readonly tabLimitMinor?: number;
}

export interface AutoReload {
  readonly thresholdMinor: number;
  readonly amountMinor: number;
  readonly mandate: string;
}

export interface Hold {
  readonly amountMinor: number;
  readonly expiresAtMs: number;
}

export type { DeclineReason } from '../declines';

export type CardCommand =
  | {
      readonly type: 'issue';
      readonly cardId: string;
      readonly currency: string;
      readonly initialBalanceMinor: number;
      readonly programId: string;
      readonly nowMs: number;
      readonly profile?: CardProfile;
      /** The master key an authenticating card's key is diversified from (its program's); absent: it does not authenticate. */
      readonly authKeyId?: string;
    }
  | { readonly type: 'purchase'; readonly amountMinor: number; readonly currency: string; readonly nowMs?: number | undefined }
  | {
      readonly type: 'top_up';
      readonly amountMinor: number;
      readonly currency: string;
      readonly maxBalanceMinor?: number;
      readonly maxTopUpMinor?: number;
    }
  | { readonly type: 'set_auto_reload'; readonly autoReload: AutoReload | undefined }
  | { readonly type: 'set_tab_limit'; readonly limitMinor: number }
  | { readonly type: 'settle_tab'; readonly amountMinor: number; readonly currency: string }
  /** `offline`: the void of an offline sale, which gives back even to a closed card (the sale may have charged it after it closed). */
  | { readonly type: 'reverse'; readonly amountMinor: number; readonly offline?: boolean };

export type CardEvent =
  | { readonly type: 'issued'; readonly state: CardState }
  | { readonly type: 'debited'; readonly amountMinor: number }
  /** An offline sale charged to the card: it may take the balance below zero (debt). */
  | { readonly type: 'offline_debited'; readonly amountMinor: number }
  | { readonly type: 'credited'; readonly amountMinor: number }
  | { readonly type: 'status_changed'; readonly status: CardStatus }
  | { readonly type: 'hold_placed'; readonly key: string; readonly amountMinor: number; readonly expiresAtMs: number }
  | { readonly type: 'hold_increased'; readonly key: string; readonly amountMinor: number; readonly expiresAtMs: number }
  | { readonly type: 'hold_completed'; readonly key: string; readonly releasedMinor: number; readonly debitedMinor: number }
  | { readonly type: 'hold_released'; readonly key: string; readonly amountMinor: number }
  | { readonly type: 'replaced'; readonly replacementId: string; readonly balanceMinor: number; readonly depositMinor: number }
  | { readonly type: 'cashed_out'; readonly balanceMinor: number; readonly depositMinor: number }
  /** The issuance undone: the initial balance and deposit go back with the card to stock. */
  | { readonly type: 'issuance_cancelled'; readonly balanceMinor: number; readonly depositMinor: number }
  | { readonly type: 'profile_changed'; readonly profile: CardProfile }
  /** The card was enrolled for authentication, moved to another key, or (undefined) no longer authenticates. */
  | { readonly type: 'auth_changed'; readonly auth: CardAuthState | undefined }
  /** A bank card's token was listed on the card or taken off it. */
  | { readonly type: 'tokens_changed'; readonly tokens: readonly string[] }
  /** A review entry resolved (the rest of the rule state changes with purchases). */
  | { readonly type: 'rules_changed'; readonly rules: CardRulesState };

export type CardDecision =
  | { readonly kind: 'approved'; readonly event: CardEvent }
  | { readonly kind: 'declined'; readonly reason: DeclineReason; readonly rule: string }
  | { readonly kind: 'unchanged' }
  | { readonly kind: 'rejected'; readonly code: RejectionCode; readonly message: string };

export type RejectionCode = 'not_found' | 'already_exists' | 'invalid_argument' | 'failed_precondition' | 'permission_denied';

export function availableMinor(state: CardState): number {
  // An on-tab account may spend on credit, down to -tabLimitMinor.
  const tab = state.profile?.tabLimitMinor;
  return tab === undefined ? state.balanceMinor - state.heldMinor : state.balanceMinor - state.heldMinor + tab;
}

const status_declines: Readonly<Record<Exclude<CardStatus, 'active'>, DeclineReason>> = {
  frozen: 'card_frozen',
  blocked: 'card_blocked',
  lost: 'card_blocked',
  expired: 'card_expired',
  closed: 'card_closed',
  replaced: 'card_closed',
  // Never reached by a request: the actor answers NOT_FOUND for an unissued card.
  unissued: 'card_closed',
};

function declineForStatus(status: CardStatus): CardDecision | undefined {
  if (status === 'active') return undefined;
  return { kind: 'declined', reason: status_declines[status], rule: `status:${status}` };
}

export function decide(state: CardState | undefined, command: CardCommand): CardDecision {
  if (command.type === 'issue') return decideIssue(state, command);
  if (state === undefined) return { kind: 'rejected', code: 'not_found', message: 'card not found' };
  switch (command.type) {
    case 'purchase':
      return decidePurchase(state, command.amountMinor, command.currency, command.nowMs);
    case 'top_up':
      return decideTopUp(state, command.amountMinor, command.currency, command.maxBalanceMinor ?? 0, command.maxTopUpMinor ?? 0);
    case 'set_auto_reload':
      return decideAutoReload(state, command.autoReload);
    case 'set_tab_limit':
      return decideTabLimit(state, command.limitMinor);
    case 'settle_tab':
      return decideSettlement(state, command.amountMinor, command.currency);
    case 'reverse':
      // A reversal gives back what an approved debit took. It is applied whatever the status:
      // a card blocked after a purchase still gets the reversed amount back. Top-ups since the
      // purchase may have filled the card to the stored maximum, and apply() refuses a balance
      // past it, so such a reversal is declined here rather than approved and then asserted on.
      if (state.balanceMinor + command.amountMinor > amount_abs_max_minor) {
        return { kind: 'declined', reason: 'max_balance_exceeded', rule: 'balance_max' };
      }
      // A closed (cashed-out) or replaced card is dead; money given back to it would be
      // stranded. The reversal is declined and the purchase stands (its money left with the card's payout).
      if ((state.status === 'closed' || state.status === 'replaced') && command.offline !== true)
        return { kind: 'declined', reason: 'card_closed', rule: `status:${state.status}` };
      return { kind: 'approved', event: { type: 'credited', amountMinor: command.amountMinor } };
  }
}

function decideIssue(state: CardState | undefined, command: Extract<CardCommand, { type: 'issue' }>): CardDecision {
  if (state !== undefined && state.status !== 'unissued') {
    const same =
      state.currency === command.currency && state.programId === command.programId && sameProfile(state.profile, command.profile);
    return same
      ? { kind: 'unchanged' }
      : { kind: 'rejected', code: 'already_exists', message: 'card exists with different currency or program' };
  }
  // A card whose issuance was cancelled is issued again by a new issue, but not by a retry of the
  // bulk issuance it came from: that issuance already issued it (its answer: already existed).
  const cancelledIssuance = state?.profile?.issuance ?? '';
  if (cancelledIssuance !== '' && command.profile?.issuance === cancelledIssuance) return { kind: 'unchanged' };
  if (!isBoundedAmount(command.initialBalanceMinor) || command.initialBalanceMinor < 0) {
    return { kind: 'rejected', code: 'invalid_argument', message: 'initial balance out of range' };
  }
  const issued: CardState = {
    cardId: command.cardId,
    currency: command.currency,
    programId: command.programId,
    status: 'active',
    balanceMinor: command.initialBalanceMinor,
    heldMinor: 0,
    issuedAtMs: command.nowMs,
    ...(command.profile === undefined ? {} : { profile: command.profile }),
    ...issuedAuth(state, command.authKeyId),
    unmoved: true,
  };
  if (command.profile !== undefined && (!isBoundedAmount(command.profile.depositMinor) || command.profile.depositMinor < 0)) {
    return { kind: 'rejected', code: 'invalid_argument', message: 'deposit out of range' };
  }
  return { kind: 'approved', event: { type: 'issued', state: issued } };
}

/**
 * What an issued card authenticates with: its program's key, counter 0, for a new card. A card
 * issued again after a cancelled issuance keeps the counter (and the flags) its chip got to, under
 * the program's key or, if the program names none, the key it had: a counter that went back would
 * make the chip's earlier cryptograms good again.
 */
function issuedAuth(previous: CardState | undefined, keyId: string | undefined): { auth?: CardAuthState } {
  const kept = previous?.auth;
  if (kept === undefined) return keyId === undefined ? {} : { auth: { keyId, counter: 0, flags: 0 } };
  return { auth: { ...kept, keyId: keyId ?? kept.keyId } };
}

/** Issuing again is the same request when the fields given at issue are the same (PIN aside: it may have changed). */
function sameProfile(existing: CardProfile | undefined, requested: CardProfile | undefined): boolean {
  if (existing === undefined || requested === undefined) return existing === requested;
  return (
    existing.named === requested.named &&
    existing.depositMinor === requested.depositMinor &&
    existing.expiresAtMs === requested.expiresAtMs &&
    existing.issuance === requested.issuance
  );
}

/** True when the card has an expiry date and `nowMs` is at or past it. */
export function isPastExpiry(state: CardState, nowMs: number | undefined): boolean {
  const expiresAtMs = state.profile?.expiresAtMs ?? 0;
  return expiresAtMs > 0 && nowMs !== undefined && nowMs >= expiresAtMs;
}

/** The status and expiry checks every spending command starts with. */
export function declineForSpending(state: CardState, nowMs: number | undefined): CardDecision | undefined {
  const statusDecline = declineForStatus(state.status);
  if (statusDecline) return statusDecline;
  if (isPastExpiry(state, nowMs)) return { kind: 'declined', reason: 'card_expired', rule: 'expiry' };
  return undefined;
}

function decidePurchase(state: CardState, amountMinor: number, currency: string, nowMs: number | undefined): CardDecision {
  const spendingDecline = declineForSpending(state, nowMs);
  if (spendingDecline) return spendingDecline;
  if (currency !== state.currency) return { kind: 'declined', reason: 'currency_mismatch', rule: 'currency' };
  if (availableMinor(state) < amountMinor) return { kind: 'declined', reason: 'insufficient_funds', rule: 'balance' };
  return { kind: 'approved', event: { type: 'debited', amountMinor } };
}

/** Stores or removes a card's auto-reload mandate (profile change; v1 cards get a default profile). */
function decideAutoReload(state: CardState, autoReload: AutoReload | undefined): CardDecision {
  if (state.status === 'closed' || state.status === 'replaced')
    return { kind: 'rejected', code: 'failed_precondition', message: `a ${state.status} card takes no mandate` };
  const base: CardProfile = state.profile ?? { named: false, depositMinor: 0, expiresAtMs: 0, pinHash: '', pinFailures: 0, issuance: '' };
  const profile: CardProfile = { ...base };
  if (autoReload === undefined) delete (profile as { autoReload?: AutoReload }).autoReload;
  else (profile as { autoReload?: AutoReload }).autoReload = autoReload;
  return { kind: 'approved', event: { type: 'profile_changed', profile } };
}

/** Opens, changes or (0) closes a named card's tab; never below what the card owes now. */
function decideTabLimit(state: CardState, limitMinor: number): CardDecision {
  if (state.profile?.named !== true) return { kind: 'rejected', code: 'failed_precondition', message: 'only named cards can spend on tab' };
  if (state.status === 'closed' || state.status === 'replaced')
    return { kind: 'rejected', code: 'failed_precondition', message: `a ${state.status} card has no tab` };
  if (!isBoundedAmount(limitMinor) || limitMinor < 0) return { kind: 'rejected', code: 'invalid_argument', message: 'limit out of range' };
  if (state.balanceMinor - state.heldMinor + limitMinor < 0)
    return { kind: 'rejected', code: 'failed_precondition', message: 'the card owes more than the new limit: settle first' };
  const profile: CardProfile = { ...state.profile };
  if (limitMinor === 0) delete (profile as { tabLimitMinor?: number }).tabLimitMinor;
  else (profile as { tabLimitMinor?: number }).tabLimitMinor = limitMinor;
  return { kind: 'approved', event: { type: 'profile_changed', profile } };
}

/** A settlement pays what the tab owes, never more (it is not a top-up). */
function decideSettlement(state: CardState, amountMinor: number, currency: string): CardDecision {
  if (state.status === 'closed' || state.status === 'replaced')
    return { kind: 'declined', reason: 'card_closed', rule: `status:${state.status}` };
  if (currency !== state.currency) return { kind: 'declined', reason: 'currency_mismatch', rule: 'currency' };
  if (amountMinor > -state.balanceMinor) return { kind: 'declined', reason: 'settlement_exceeds_debt', rule: 'tab_debt' };
  return { kind: 'approved', event: { type: 'credited', amountMinor } };
}

/**
 * Stored-value limits of the card's program (0 = none): the largest single top-up, and the
 * largest balance the card may hold after it (regulation of prepaid instruments).
 */
function decideTopUp(
  state: CardState,
  amountMinor: number,
  currency: string,
  maxBalanceMinor: number,
  maxTopUpMinor: number,
): CardDecision {
  const statusDecline = declineForStatus(state.status);
  if (statusDecline) return statusDecline;
  if (currency !== state.currency) return { kind: 'declined', reason: 'currency_mismatch', rule: 'currency' };
  if (maxTopUpMinor > 0 && amountMinor > maxTopUpMinor)
    return { kind: 'declined', reason: 'top_up_limit_exceeded', rule: 'program_max_top_up' };
  if (maxBalanceMinor > 0 && state.balanceMinor + amountMinor > maxBalanceMinor)
    return { kind: 'declined', reason: 'max_balance_exceeded', rule: 'program_max_balance' };
  if (state.balanceMinor + amountMinor > amount_abs_max_minor) {
    return { kind: 'declined', reason: 'max_balance_exceeded', rule: 'balance_max' };
  }
  return { kind: 'approved', event: { type: 'credited', amountMinor } };
}

export function apply(state: CardState | undefined, event: CardEvent): CardState {
  if (event.type === 'issued') return event.state;
  if (state === undefined) throw new Error(`assertion: ${event.type} applied to a card that does not exist`);
  const next = applyEvent(state, event);
  // The first money movement ends the time in which the issuance can be cancelled. (withBalance
  // copies named fields only, so on the purchase path the marker is already gone here.)
  if (next.unmoved === true && movesMoney(event)) {
    const moved: { -readonly [K in keyof CardState]?: CardState[K] } = { ...next };
    delete moved.unmoved;
    return moved as CardState;
  }
  return next;
}

/** Whether an event moves money on the card (balance, holds, deposit), as opposed to its status, profile or rules. */
export function movesMoney(event: CardEvent): boolean {
  switch (event.type) {
    case 'debited':
    case 'offline_debited':
    case 'credited':
    case 'hold_placed':
    case 'hold_increased':
    case 'hold_completed':
    case 'hold_released':
    case 'replaced':
    case 'cashed_out':
    case 'issuance_cancelled':
      return true;
    case 'issued':
    case 'status_changed':
    case 'profile_changed':
    case 'rules_changed':
    case 'auth_changed':
    case 'tokens_changed':
      return false;
  }
}

function applyEvent(state: CardState, event: Exclude<CardEvent, { type: 'issued' }>): CardState {
  switch (event.type) {
    case 'debited': {
      const next = withBalance(state, addMinor(state.balanceMinor, -event.amountMinor));
      // Cards issued through CardService count what they spent (receipt data).
      if (state.profile !== undefined) (next as { spentMinor?: number }).spentMinor = addMinor(state.spentMinor ?? 0, event.amountMinor);
      return next;
    }
    case 'offline_debited': {
      const next = withBalance(state, addMinor(state.balanceMinor, -event.amountMinor)) as {
        -readonly [K in keyof CardState]: CardState[K];
      };
      if (state.profile !== undefined) next.spentMinor = addMinor(state.spentMinor ?? 0, event.amountMinor);
      next.offlineMergedMinor = addMinor(state.offlineMergedMinor ?? 0, event.amountMinor);
      return next;
    }
    case 'credited':
      return withBalance(state, addMinor(state.balanceMinor, event.amountMinor));
    case 'status_changed':
      return { ...state, status: event.status };
    case 'hold_placed':
    case 'hold_increased':
    case 'hold_completed':
    case 'hold_released':
      return applyHold(state, event);
    case 'replaced':
    case 'cashed_out':
      return applyClosing(state, event);
    case 'issuance_cancelled':
      return applyIssuanceCancelled(state, event);
    case 'profile_changed':
      return { ...state, profile: event.profile };
    case 'auth_changed': {
      const next: { -readonly [K in keyof CardState]: CardState[K] } = { ...state };
      if (event.auth === undefined) delete next.auth;
      else next.auth = event.auth;
      return next;
    }
    case 'rules_changed':
      return { ...state, rules: event.rules };
    case 'tokens_changed': {
      const next: { -readonly [K in keyof CardState]: CardState[K] } = { ...state };
      if (event.tokens.length === 0) delete next.tokens;
      else next.tokens = event.tokens;
      return next;
    }
  }
}

/**
 * A replaced or cashed-out card keeps nothing: balance and deposit left it, and it is dead. A
 * returned card that owes offline debt pays it from its deposit first; what the deposit does not
 * cover stays on the closed card as its debt (closingBalanceMinor).
 */
function applyClosing(state: CardState, event: Extract<CardEvent, { type: 'replaced' | 'cashed_out' }>): CardState {
  if (event.balanceMinor !== state.balanceMinor || state.heldMinor !== 0)
    throw new Error(`assertion: ${event.type} of a card whose balance or holds changed`);
  const balanceMinor = event.type === 'cashed_out' ? closingBalanceMinor(event.balanceMinor, event.depositMinor) : 0;
  const profile =
    state.profile === undefined
      ? undefined
      : {
          ...state.profile,
          depositMinor: 0,
          ...(event.type === 'replaced' ? { replacedBy: event.replacementId } : {}),
        };
  const next: CardState = { ...state, status: event.type === 'replaced' ? 'replaced' : 'closed', balanceMinor, heldMinor: 0 };
  if (profile !== undefined) return { ...next, profile };
  return next;
}

/** What a returned card keeps: 0, or (offline debt the deposit did not cover) the rest of its debt. */
export function closingBalanceMinor(balanceMinor: number, depositMinor: number): number {
  return balanceMinor >= 0 ? 0 : Math.min(0, balanceMinor + depositMinor);
}

/** What a return pays the holder: balance and deposit, less any offline debt, never below zero. */
export function cashOutPayoutMinor(balanceMinor: number, depositMinor: number): number {
  return Math.max(0, balanceMinor + depositMinor);
}

/**
 * A card whose issuance was cancelled is stock: no balance, deposit, program, holder kind, PIN or
 * rule state. It keeps its currency (a state names one), for a card of a bulk issuance that
 * issuance's id, so a retry of that bulk issuance does not issue it again, and for a card that
 * authenticates its key id, counter and flags (the chip keeps them too). It lists no bank card:
 * a card that does cannot be cancelled (issuance-cancel.ts).
 */
function applyIssuanceCancelled(state: CardState, event: Extract<CardEvent, { type: 'issuance_cancelled' }>): CardState {
  if (event.balanceMinor !== state.balanceMinor || state.heldMinor !== 0)
    throw new Error('assertion: issuance cancelled on a card whose balance or holds changed');
  const issuance = state.profile?.issuance ?? '';
  const next: CardState = {
    cardId: state.cardId,
    currency: state.currency,
    programId: '',
    status: 'unissued',
    balanceMinor: 0,
    heldMinor: 0,
    issuedAtMs: 0,
    // The chip's counter stays: the card issued again must not accept its old cryptograms.
    ...(state.auth === undefined ? {} : { auth: state.auth }),
    // Its denylist listing stays until the decision's listing step takes it off (offline/denylist.ts).
    ...(state.denylisted === undefined ? {} : { denylisted: state.denylisted }),
    ...(state.denylistHistory === undefined ? {} : { denylistHistory: state.denylistHistory }),
  };
  if (issuance === '') return next;
  return { ...next, profile: { named: false, depositMinor: 0, expiresAtMs: 0, pinHash: '', pinFailures: 0, issuance } };
}

function applyHold(
  state: CardState,
  event: Extract<CardEvent, { type: 'hold_placed' | 'hold_increased' | 'hold_completed' | 'hold_released' }>,
): CardState {
  const holds: Record<string, Hold> = { ...state.holds };
  const existing = holds[event.key];
  let heldMinor = state.heldMinor;
  let balanceMinor = state.balanceMinor;
  if (event.type === 'hold_placed' || event.type === 'hold_increased') {
    if ((event.type === 'hold_placed') !== (existing === undefined)) throw new Error(`assertion: ${event.type} on hold ${event.key}`);
    holds[event.key] = { amountMinor: (existing?.amountMinor ?? 0) + event.amountMinor, expiresAtMs: event.expiresAtMs };
    heldMinor = addMinor(heldMinor, event.amountMinor);
  } else {
    if (existing === undefined) throw new Error(`assertion: ${event.type} on a hold that is not open`);
    const releasedMinor = event.type === 'hold_completed' ? event.releasedMinor : event.amountMinor;
    if (releasedMinor !== existing.amountMinor)
      throw new Error(`assertion: ${event.type} releases ${releasedMinor} of a hold of ${existing.amountMinor}`);
    delete holds[event.key];
    heldMinor = addMinor(heldMinor, -releasedMinor);
    if (event.type === 'hold_completed') balanceMinor = addMinor(balanceMinor, -event.debitedMinor);
  }
  if (!isBoundedAmount(balanceMinor) || heldMinor < 0)
    throw new RangeError(`assertion: balance ${balanceMinor} / held ${heldMinor} out of bounds`);
  const next: CardState = { ...state, balanceMinor, heldMinor, holds };
  if (event.type === 'hold_completed' && state.profile !== undefined)
    (next as { spentMinor?: number }).spentMinor = addMinor(state.spentMinor ?? 0, event.debitedMinor);
  if (Object.keys(holds).length === 0) delete (next as { holds?: unknown }).holds;
  return next;
}

function withBalance(state: CardState, balanceMinor: number): CardState {
  if (!isBoundedAmount(balanceMinor)) throw new RangeError(`assertion: balance ${balanceMinor} out of bounds`);
  // Spelled out rather than spread: this runs for every approved transaction.
  const next: { -readonly [K in keyof CardState]: CardState[K] } = {
    cardId: state.cardId,
    currency: state.currency,
    programId: state.programId,
    status: state.status,
    balanceMinor,
    heldMinor: state.heldMinor,
    issuedAtMs: state.issuedAtMs,
  };
  // Only present keys are copied, so a card issued without them stays the same shape.
  if (state.profile !== undefined) next.profile = state.profile;
  if (state.holds !== undefined) next.holds = state.holds;
  if (state.spentMinor !== undefined) next.spentMinor = state.spentMinor;
  if (state.rules !== undefined) next.rules = state.rules;
  if (state.denylisted !== undefined) next.denylisted = state.denylisted;
  if (state.denylistHistory !== undefined) next.denylistHistory = state.denylistHistory;
  if (state.offlineMergedMinor !== undefined) next.offlineMergedMinor = state.offlineMergedMinor;
  if (state.auth !== undefined) next.auth = state.auth;
  if (state.tokens !== undefined) next.tokens = state.tokens;
  return next;
}

/** The signed effect an event has on the ledger balance (for reconciliation and tests). */
export function balanceDeltaMinor(event: CardEvent): number {
  switch (event.type) {
    case 'issued':
      return event.state.balanceMinor;
    case 'debited':
    case 'offline_debited':
      return -event.amountMinor;
    case 'credited':
      return event.amountMinor;
    case 'hold_completed':
      return -event.debitedMinor;
    case 'replaced':
    case 'issuance_cancelled':
      return -event.balanceMinor;
    case 'cashed_out':
      return closingBalanceMinor(event.balanceMinor, event.depositMinor) - event.balanceMinor;
    case 'profile_changed':
    case 'auth_changed':
    case 'tokens_changed':
    case 'rules_changed':
    case 'status_changed':
    case 'hold_placed':
    case 'hold_increased':
    case 'hold_released':
      return 0;
  }
}

/** The signed effect an event has on the card's open holds. */
export function heldDeltaMinor(event: CardEvent): number {
  switch (event.type) {
    case 'hold_placed':
    case 'hold_increased':
      return event.amountMinor;
    case 'hold_completed':
      return -event.releasedMinor;
    case 'hold_released':
      return -event.amountMinor;
    default:
      return 0;
  }
}
