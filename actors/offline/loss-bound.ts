// The worst case an issuer can lose on one card through offline selling, as a formula
// (docs/OFFLINE.md, "The loss bound", proves it). The loss is the card's debt: what offline sales
// charged to the card beyond its balance, not yet paid back (a return pays it from the deposit).
//
// Without the card counter:  D <= theta + sum over terminals t of M_t
//   with M_t = min(card_max, total_max_t, count_max_t * txn_max)
// With the card counter:     D <= theta + min(card_max, sum over terminals t of M_t)
//
//   theta      the program's debt threshold: past it the card goes on the denylist
//   txn_max    the program's offline maximum per sale
//   card_max   the program's offline maximum per card (per grant at one terminal; with the counter,
//              what the medium may carry unmerged across all terminals)
//   total_max_t, count_max_t   terminal t's caps per grant
//   the sum runs over the terminals allowed to sell the program offline.
//
// Why: the debt only grows through offline sales charged to the card (online spending never takes
// the available balance below zero), and it is at most theta just before the merge that takes it
// past theta for the last time. From that merge on the card is listed, and every grant issued after
// it requires a denylist that lists the card: what a terminal sells it under such a grant is the
// merchant's. A terminal must have every sale of its previous grant merged before it gets a new
// grant, and a sale of a superseded grant merged late is the merchant's; so after that merge each
// terminal can add only sales of the one grant it held then, at most M_t to this card. With the
// counter, the medium refuses more than card_max of sales not yet merged, and a listed card gets no
// new counter base, so everything merged after that point is at most card_max in all.

import type { ProgramOfflinePolicy } from './policy';

/** One terminal's caps per grant. */
export interface TerminalCaps {
  readonly totalMaxMinor: number;
  readonly countMax: number;
}

/** The most one terminal's grant can charge one card of the program offline. */
export function perGrantCardMaxMinor(policy: ProgramOfflinePolicy, terminal: TerminalCaps): number {
  return Math.min(policy.cardMaxMinor, terminal.totalMaxMinor, terminal.countMax * policy.txnMaxMinor);
}

/** The worst-case debt of one card of the program: without the counter, and with it. */
export function lossBoundMinor(
  policy: ProgramOfflinePolicy,
  terminals: readonly TerminalCaps[],
): { readonly withoutCounter: number; readonly withCounter: number; readonly applies: number } {
  let sum = 0;
  for (const terminal of terminals) sum += perGrantCardMaxMinor(policy, terminal);
  const withoutCounter = policy.debtThresholdMinor + sum;
  const withCounter = policy.debtThresholdMinor + Math.min(policy.cardMaxMinor, sum);
  return { withoutCounter, withCounter, applies: policy.cardCounter ? withCounter : withoutCounter };
}
