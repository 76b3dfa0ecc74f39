// The shape every authorization rule shares, so rules compose and can be reused by any entity
// (the fleet account today, the plain card actor later): a rule is a pure function of its policy,
// the state it reads and the request, and answers either a decline naming the rule that fired, or
// an approval that may carry flags (soft findings for review). Rules never do I/O, never read the
// clock (the request carries `atMs`) and never mutate their inputs; effects on state are computed
// by separate pure `apply` functions once every rule has approved.

import type { RuleDeclineReason } from '../declines';

export type { RuleDeclineReason } from '../declines';

export interface RuleDecline {
  readonly kind: 'decline';
  readonly reason: RuleDeclineReason;
  /** The rule that fired, e.g. "limit:card:daily", "product:line:2:car_wash". */
  readonly rule: string;
}

export interface RuleApprove {
  readonly kind: 'approve';
  /** Soft findings ("risk:soft_amount"): the transaction is approved and listed for review. */
  readonly flags: readonly string[];
}

export type RuleVerdict = RuleDecline | RuleApprove;

export const approve_clean: RuleApprove = Object.freeze({ kind: 'approve', flags: Object.freeze([]) });

export function decline(reason: RuleDeclineReason, rule: string): RuleDecline {
  return { kind: 'decline', reason, rule };
}

export function approveFlagged(flags: readonly string[]): RuleApprove {
  return flags.length === 0 ? approve_clean : { kind: 'approve', flags };
}

/**
 * Runs verdict-producing steps in order: the first decline wins; flags of approvals accumulate.
 * Steps are thunks so later rules are not evaluated after a decline.
 */
export function firstDecline(steps: readonly (() => RuleVerdict)[]): RuleVerdict {
  let flags: string[] | undefined;
  for (const step of steps) {
    const verdict = step();
    if (verdict.kind === 'decline') return verdict;
    if (verdict.flags.length > 0) (flags ??= []).push(...verdict.flags);
  }
  return flags === undefined ? approve_clean : approveFlagged(flags);
}
