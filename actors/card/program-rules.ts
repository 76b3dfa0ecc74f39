// A plain card's purchase under its program's rules (actors/rules/program.ts), decided
// purely: the gate (temporary block, hard / soft risk, merchant and terminal restrictions) before
// the balance check, loyalty (discount, points redeemed as payment) to find what the balance pays,
// the balance check, velocity after it, and the card's rule state once the outcome is known
// (velocity history on approval, risk counters on a counted decline, points, review entries).
// The card actor commits the returned state with the decision, so all of it is one atomic write.
// Cards whose program has no rules never come here (see `decidePurchaseRequest` in decide.ts).

import { addMinor } from '../money';
import {
  afterProgram,
  checkProgramGate,
  checkProgramVelocity,
  empty_program_state,
  loyaltyFor,
  type ProgramRequest,
  type ProgramRules,
} from '../rules/program';
import { redeemPoints } from '../rules/loyalty';
import type { RuleLine } from '../rules/products';
import type { ReviewEntry } from '../rules/review-queue';
import type { RuleDecline } from '../rules/rule';
import { decide, type CardDecision, type CardRulesState, type CardState } from './rules';

export type { CardRulesState } from './rules';
import type { ProgramFigures, ReceiptLine } from './transaction';

export const empty_card_rules_state: CardRulesState = Object.freeze({
  program: empty_program_state,
  points: 0,
  reviews: Object.freeze([]),
  reviews_dropped: 0,
});

/**
 * Open reviews kept per card: the card state is rewritten on every purchase, so the queue is
 * small; a card flagged more often than reviewers clear it drops the oldest (counted).
 */
export const card_reviews_max = 16;

export interface RuledPurchaseInput {
  readonly atMs: number;
  readonly amountMinor: number;
  readonly currency: string;
  readonly merchantId: string;
  readonly terminalId: string;
  readonly lines?: readonly ReceiptLine[] | undefined;
  readonly redeemPoints: number;
  /** The id the transaction will have (review entries name it). */
  readonly transactionId: string;
}

export interface RuledPurchase {
  readonly decision: CardDecision;
  /** The state the decision applies to: the card with its rule state after this request. */
  readonly base: CardState;
  /** What leaves the balance when approved: amount − discount − value of the points redeemed. */
  readonly debitMinor: number;
  /** Present when approved. */
  readonly figures?: ProgramFigures;
}

export function rulesStateOf(state: CardState): CardRulesState {
  return state.rules ?? empty_card_rules_state;
}

function withRules(state: CardState, rules: CardRulesState): CardState {
  return rules === state.rules ? state : { ...state, rules };
}

/**
 * The rule state after a decline for `reason` (risk counters; a temporary block when the count is
 * reached). The same state object when the decline does not count.
 */
export function afterRuleDecline(state: CardState, rules: ProgramRules, request: ProgramRequest, reason: string): CardState {
  const current = rulesStateOf(state);
  const program = afterProgram(rules, current.program, request, { approved: false, reason });
  return program === current.program ? state : withRules(state, { ...current, program });
}

function ruleDecline(verdict: RuleDecline): CardDecision {
  return { kind: 'declined', reason: verdict.reason, rule: verdict.rule };
}

/** The basket as the loyalty rules see it; a purchase without lines is one line of no group. */
function ruleLines(input: RuledPurchaseInput): { lines: RuleLine[]; amounts: number[] } {
  if (input.lines === undefined || input.lines.length === 0) {
    return { lines: [{ code: '', group: '', qty_milli: 0, unit_minor: 0, amount_minor: input.amountMinor }], amounts: [input.amountMinor] };
  }
  const lines = input.lines.map((line) => ({
    code: line.code,
    group: line.group,
    qty_milli: line.qty_milli,
    unit_minor: line.unit,
    amount_minor: line.amount,
  }));
  return { lines, amounts: lines.map((line) => line.amount_minor) };
}

export function decideRuledPurchase(state: CardState, rules: ProgramRules, input: RuledPurchaseInput): RuledPurchase {
  const current = rulesStateOf(state);
  const request: ProgramRequest = {
    atMs: input.atMs,
    amount_minor: input.amountMinor,
    merchantId: input.merchantId,
    terminalId: input.terminalId,
  };
  const declined = (decision: CardDecision, reason: string): RuledPurchase => ({
    decision,
    base: afterRuleDecline(state, rules, request, reason),
    debitMinor: 0,
  });

  const gate = checkProgramGate(rules, current.program, request);
  if (gate.kind === 'decline') return declined(ruleDecline(gate), gate.reason);

  const { lines, amounts } = ruleLines(input);
  const loyalty = loyaltyFor(rules, input.merchantId, lines, amounts);
  const dueMinor = input.amountMinor - loyalty.discount_minor;
  const redemption =
    input.redeemPoints > 0
      ? redeemPoints(rules.loyalty ?? { minor_per_unit: 0, points_per_unit: 0 }, current.points, input.redeemPoints, dueMinor)
      : { ok: true as const, points: 0, value_minor: 0 };
  if (!redemption.ok)
    return declined(ruleDecline({ kind: 'decline', reason: 'points_insufficient', rule: redemption.rule }), 'points_insufficient');
  const debitMinor = dueMinor - redemption.value_minor;

  const balance = decide(state, { type: 'purchase', amountMinor: debitMinor, currency: input.currency, nowMs: input.atMs });
  if (balance.kind !== 'approved')
    return balance.kind === 'declined' ? declined(balance, balance.reason) : { decision: balance, base: state, debitMinor: 0 };

  const velocity = checkProgramVelocity(rules, current.program, request);
  if (velocity.kind === 'decline') return declined(ruleDecline(velocity), velocity.reason);

  const flags = gate.flags;
  const review =
    flags.length === 0
      ? undefined
      : { id: input.transactionId, card: state.cardId, amount_minor: input.amountMinor, flags, at_ms: input.atMs };
  const after: CardRulesState = {
    program: afterProgram(rules, current.program, request, { approved: true }),
    points: addMinor(current.points, loyalty.points_earned - redemption.points),
    ...enqueue(current, review),
  };
  return {
    decision: balance,
    base: withRules(state, after),
    debitMinor,
    figures: { discountMinor: loyalty.discount_minor, pointsEarned: loyalty.points_earned, pointsRedeemed: redemption.points, flags },
  };
}

function enqueue(current: CardRulesState, entry: ReviewEntry | undefined): Pick<CardRulesState, 'reviews' | 'reviews_dropped'> {
  if (entry === undefined) return { reviews: current.reviews, reviews_dropped: current.reviews_dropped };
  const reviews = [...current.reviews, entry];
  const over = reviews.length - card_reviews_max;
  return over > 0
    ? { reviews: reviews.slice(over), reviews_dropped: current.reviews_dropped + over }
    : { reviews, reviews_dropped: current.reviews_dropped };
}

/**
 * A pre-authorization's gate: the temporary block, the hard risk limit and the merchant / terminal
 * restrictions decline a hold as they decline a purchase (soft findings do not flag a hold: the
 * completion is the spending). `decline` is absent when the hold may be decided.
 */
export function gateHold(state: CardState, rules: ProgramRules, request: ProgramRequest): { decline?: CardDecision; base: CardState } {
  const gate = checkProgramGate(rules, rulesStateOf(state).program, request);
  if (gate.kind !== 'decline') return { base: state };
  return { decline: ruleDecline(gate), base: afterRuleDecline(state, rules, request, gate.reason) };
}

/** The card after spending `request.amount_minor` outside a purchase (a completion): velocity history. */
export function recordSpending(state: CardState, rules: ProgramRules, request: ProgramRequest): CardState {
  const current = rulesStateOf(state);
  const program = afterProgram(rules, current.program, request, { approved: true });
  return program === current.program ? state : withRules(state, { ...current, program });
}

/** The card after a reversal of a ruled purchase: its earned points out, its redeemed points back (never below 0). */
export function reversePoints(state: CardState, figures: ProgramFigures): CardState {
  const current = rulesStateOf(state);
  const points = Math.max(0, current.points - figures.pointsEarned + figures.pointsRedeemed);
  return points === current.points ? state : withRules(state, { ...current, points });
}

/** The card without the review entry of transaction `transactionId`; undefined when it is not open. */
export function resolveCardReview(state: CardState, transactionId: string): CardRulesState | undefined {
  const current = state.rules;
  if (current === undefined) return undefined;
  const reviews = current.reviews.filter((entry) => entry.id !== transactionId);
  return reviews.length === current.reviews.length ? undefined : { ...current, reviews };
}
