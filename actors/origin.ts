// Who may act on a transaction after the fact: reverse it, void, extend or complete its hold,
// tombstone its key, refund it. A transaction belongs to where it happened, the terminal (and that
// terminal's merchant) its record names, and only that terminal, or a gateway speaking for that
// merchant, may act on it. A refund is the merchant's (its manager authorizes it): the refund's
// terminal must belong to the merchant the original was bought at.
//
// "Who is asking" is a Requester. Today it is the request's terminal id (requesterOf); the trust
// boundary makes it the authenticated principal: a terminal's certificate names its terminal id, a
// gateway's names the merchants it speaks for. The checks below are pure and take the requester
// as given, so the authenticated principal plugs in without changing them.

import { terminalOfKey } from './request-keys';

/** A terminal (by its id), or a gateway speaking for the terminals of its merchants. */
export type Requester =
  { readonly kind: 'terminal'; readonly terminalId: string } | { readonly kind: 'gateway'; readonly merchantIds: ReadonlySet<string> };

/** Where a transaction happened: the terminal and its merchant, as its record keeps them. */
export interface TransactionOrigin {
  readonly terminalId: string;
  readonly merchantId: string;
}

/** True when `requester` may act on a transaction made at `origin`. */
export function speaksFor(requester: Requester, origin: TransactionOrigin): boolean {
  if (requester.kind === 'terminal') return origin.terminalId !== '' && requester.terminalId === origin.terminalId;
  return origin.merchantId !== '' && requester.merchantIds.has(origin.merchantId);
}

/** What a request says of who sent it: its requester when the boundary set one, else its terminal. */
export function requesterOf(request: { readonly terminalId: string; readonly requester?: Requester }): Requester {
  return request.requester ?? { kind: 'terminal', terminalId: request.terminalId };
}

/**
 * True when a request may act on `key` knowing nothing but the key (an original not seen yet, to
 * tombstone; a hold, by its pre-authorization's key): only a key of the request's own terminal
 * ("t:<its terminal>:<n>"), and only when the requester speaks for that terminal, at `merchantId`
 * (the merchant the request's terminal belongs to).
 */
export function ownsKey(requester: Requester, request: { readonly terminalId: string }, key: string, merchantId: string): boolean {
  const terminalId = terminalOfKey(key);
  return terminalId !== undefined && terminalId === request.terminalId && speaksFor(requester, { terminalId, merchantId });
}
