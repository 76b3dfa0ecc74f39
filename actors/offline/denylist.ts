// The denylist, as pure rules: which cards are on it and why, what a change is, how versions
// compare, and whether a card was listed at a version a terminal held.
//
// Versions. The denylist is kept per card shard, like everything a card writes: a card's listing
// changes in the same atomic commit as the card (services/authorizer/store/commit.lua), which
// increments its shard's denylist version and appends the change to the shard's log. So the
// version a terminal holds is a vector, one version per shard; one terminal's denylist is current
// when every element is. No change ever waits for another shard or a global counter, and a
// listing is visible to the next delta as soon as it is committed.
//
// A card is listed when its program sells offline (it has an offline policy) and the card is not
// active (blocked, lost, frozen, expired, closed, replaced) or owes more than the policy's debt
// threshold; it leaves the list when none of that holds any more.

import type { CardState } from '../card/rules';
import { availableMinor } from '../card/rules';
import type { ProgramOfflinePolicy } from './policy';

/** Why a card is listed: its status, or `debt`. */
export type ListingReason = 'blocked' | 'lost' | 'frozen' | 'expired' | 'closed' | 'replaced' | 'debt';

/** A card's listing change, committed with the card: `reason` '' = removed from the list. */
export interface DenylistChange {
  readonly card: string;
  readonly reason: ListingReason | '';
}

/** Transitions of one card's listing kept for liability decisions (oldest dropped first). */
export const listing_history_max = 16;

/** What a card owes: how far its available balance went below zero (offline sales only do that). */
export function debtMinor(card: CardState): number {
  const available = availableMinor(card);
  return available < 0 ? -available : 0;
}

/** Why the card must be on the denylist now, or undefined when it must not. */
export function listingReasonOf(card: CardState, policy: ProgramOfflinePolicy | undefined): ListingReason | undefined {
  if (policy === undefined || card.status === 'unissued') return undefined;
  if (card.status !== 'active') return card.status;
  if (debtMinor(card) > policy.debtThresholdMinor) return 'debt';
  return undefined;
}

/**
 * The card after a decision, with its listing brought in line: the change to commit with it when
 * the listing changed (the state then says it is listed, and that it has a listing history).
 * `after` is returned as it is when nothing changes (callers compare identities).
 */
export function withListing(after: CardState, policy: ProgramOfflinePolicy | undefined): { after: CardState; change?: DenylistChange } {
  const reason = listingReasonOf(after, policy);
  if (reason === after.denylisted) return { after };
  const next: { -readonly [K in keyof CardState]: CardState[K] } = { ...after, denylistHistory: true };
  if (reason === undefined) delete next.denylisted;
  else next.denylisted = reason;
  return { after: next, change: { card: after.cardId, reason: reason ?? '' } };
}

/** One transition of a card's listing: from `version` of its shard on, listed for `reason` ('' = not listed). */
export interface ListingTransition {
  readonly version: number;
  readonly reason: string;
}

/** A card's listing history as stored ("<version>:<reason>,..." oldest first; commit.lua writes it). */
export function parseListingHistory(stored: string | undefined): ListingTransition[] {
  if (stored === undefined || stored === '') return [];
  const transitions: ListingTransition[] = [];
  for (const item of stored.split(',')) {
    const at = item.indexOf(':');
    const version = Number(item.slice(0, at));
    if (at < 1 || !Number.isSafeInteger(version)) throw new Error(`assertion: listing history item ${JSON.stringify(item)}`);
    transitions.push({ version, reason: item.slice(at + 1) });
  }
  return transitions;
}

/**
 * The reason a card was listed for at version `held` of its shard, or undefined when it was not
 * listed then. A card starts unlisted, so a history whose oldest kept transition is a removal was
 * shortened, and the card was listed before it; before a kept listing it counts as not listed
 * (exact unless more than listing_history_max changes of that card fell inside one terminal's
 * grant).
 */
export function listedAt(history: readonly ListingTransition[], held: number): string | undefined {
  let reason = history[0]?.reason === '' ? 'unknown' : '';
  for (const transition of history) {
    if (transition.version > held) break;
    reason = transition.reason;
  }
  return reason === '' ? undefined : reason;
}

// ---------------------------------------------------------------------------------------------
// Version vectors.

/** A version vector's total: it grows with every change anywhere (reports, metrics). */
export function versionSum(versions: readonly number[]): number {
  let sum = 0;
  for (const version of versions) sum += version;
  return sum;
}

/** Element-wise maximum (vectors of one deployment have one length; a missing element is 0). */
export function maxVersions(a: readonly number[], b: readonly number[]): number[] {
  const length = Math.max(a.length, b.length);
  const out = new Array<number>(length);
  for (let i = 0; i < length; i++) out[i] = Math.max(a[i] ?? 0, b[i] ?? 0);
  return out;
}

/** Changes in `current` that `held` lacks (0 when held is current). */
export function changesBehind(held: readonly number[], current: readonly number[]): number {
  let behind = 0;
  for (let i = 0; i < current.length; i++) behind += Math.max(0, (current[i] ?? 0) - (held[i] ?? 0));
  return behind;
}

/** True when every element of `held` is at least that of `required`. */
export function holdsAtLeast(held: readonly number[], required: readonly number[]): boolean {
  for (let i = 0; i < required.length; i++) if ((held[i] ?? 0) < (required[i] ?? 0)) return false;
  return true;
}
