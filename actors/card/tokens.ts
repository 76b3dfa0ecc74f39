// Pure rules of open-loop tokens: a visitor's own contactless bank card, known only by a token,
// registered as a token of a closed-loop card so that a purchase presenting the bank card pays
// from that card. The token is the bank card's payment account reference ("par:<PAR>", which the
// schemes designed to be stored) or a keyed hash of its PAN ("h:<HMAC-SHA256 hex>", made at the
// node's boundary under TAPLINE_TOKEN_SECRET: services/authorizer/usecases/card-tokens.ts); the
// PAN itself is never passed further than that boundary.
//
// Two records say who a token pays for, and they are written in an order that keeps "a token
// indexed to a card" implying "the card lists the token":
//   - the card lists its tokens (CardState.tokens): written by the card's actor; a card with
//     tokens cannot be reset to unissued (its next holder would pay for the visitor);
//   - the token's index (tl:{s of the token}:token:<token>) names, per program, the card it pays
//     from: written on the token's shard, read by any node to route a purchase.
// Registering lists the token on the card first, then indexes it; removing unindexes first, then
// unlists it. A crash between the two steps leaves a card listing a token that does not route
// there, which pays nothing and is cleared by removing the token.

import type { CardDecision, CardState } from './rules';

/** Bank cards one closed-loop card may carry. */
export const card_tokens_max = 4;
/** Programs one bank card may be registered in (one card each). */
export const token_programs_max = 8;

/** A token: a PAR, or the keyed hash of a PAN. */
export const token_pattern = /^(par:[A-Z0-9]{29}|h:[0-9a-f]{64})$/;

/** What kind of token it is (for audit documents: never the token itself). */
export function tokenForm(token: string): 'par' | 'pan' {
  return token.startsWith('par:') ? 'par' : 'pan';
}

/** One closed-loop card a token pays from: the card of one program, in that program's currency. */
export interface TokenEntry {
  readonly program: string;
  readonly currency: string;
  readonly card: string;
}

/** A token's index record. */
export interface TokenRecord {
  readonly cards: readonly TokenEntry[];
}

/** Card side: lists (`link`) or unlists a token. Listing needs a card that can still pay. */
export function decideLinkToken(state: CardState | undefined, token: string, link: boolean): CardDecision {
  if (state === undefined) return { kind: 'rejected', code: 'not_found', message: 'card not found' };
  const tokens = state.tokens ?? [];
  const listed = tokens.includes(token);
  if (!link)
    return listed
      ? { kind: 'approved', event: { type: 'tokens_changed', tokens: tokens.filter((t) => t !== token) } }
      : { kind: 'unchanged' };
  if (listed) return { kind: 'unchanged' };
  if (state.status !== 'active' && state.status !== 'frozen')
    return { kind: 'rejected', code: 'failed_precondition', message: `a ${state.status} card takes no bank card` };
  if (tokens.length >= card_tokens_max)
    return { kind: 'rejected', code: 'failed_precondition', message: `a card carries at most ${card_tokens_max} bank cards` };
  return { kind: 'approved', event: { type: 'tokens_changed', tokens: [...tokens, token] } };
}

export type IndexDecision =
  | { readonly kind: 'unchanged' }
  | { readonly kind: 'write'; readonly record: TokenRecord }
  | { readonly kind: 'rejected'; readonly code: 'already_exists' | 'failed_precondition'; readonly message: string };

/**
 * Token side: indexes the token to `entry`'s card for its program, or removes that entry. One
 * card per program: the same token in the same program for another card is already_exists.
 */
export function decideIndexToken(record: TokenRecord | undefined, entry: TokenEntry, link: boolean): IndexDecision {
  const cards = record?.cards ?? [];
  const current = cards.find((c) => c.program === entry.program);
  if (!link) {
    if (current?.card !== entry.card) return { kind: 'unchanged' };
    return { kind: 'write', record: { cards: cards.filter((c) => c.program !== entry.program) } };
  }
  if (current !== undefined)
    return current.card === entry.card
      ? { kind: 'unchanged' }
      : { kind: 'rejected', code: 'already_exists', message: 'this bank card already pays from another card of the program' };
  if (cards.length >= token_programs_max)
    return {
      kind: 'rejected',
      code: 'failed_precondition',
      message: `a bank card is registered in at most ${token_programs_max} programs`,
    };
  return { kind: 'write', record: { cards: [...cards, entry] } };
}

/**
 * Which card a purchase presenting the token pays from: the card of the program named, else the
 * one card in the payment's currency. Several schemes (programs, currencies) share a terminal this
 * way: a bank card registered in a EUR and a CHF program pays each purchase from the card of its
 * currency.
 */
export function pickTokenCard(
  record: TokenRecord | undefined,
  programId: string,
  currency: string,
): { readonly card: string } | { readonly code: 'not_found' | 'failed_precondition'; readonly message: string } {
  const cards = record?.cards ?? [];
  if (programId !== '') {
    const named = cards.find((c) => c.program === programId);
    return named === undefined
      ? { code: 'not_found', message: 'this bank card is registered in no card of that program' }
      : { card: named.card };
  }
  const inCurrency = cards.filter((c) => c.currency === currency);
  const [only] = inCurrency;
  if (only === undefined) return { code: 'not_found', message: 'this bank card is registered in no card of that currency' };
  if (inCurrency.length > 1)
    return { code: 'failed_precondition', message: 'this bank card pays from several cards of that currency: name the program' };
  return { card: only.card };
}
