// The rules every card of a program runs through besides its balance and status: merchant and
// terminal restrictions, velocity, risk (hard / soft / temporary block) and loyalty. Composed here
// once so any entity can evaluate them with one call: the fleet account does for its cards today;
// the plain card actor can call the same two functions (evaluateProgram before its balance check,
// afterProgram once it knows the outcome) with its program's ProgramRules.

import { recordDecline, checkRisk, empty_risk_state, type RiskPolicy, type RiskState } from './risk';
import { checkMerchant, type MerchantPolicy } from './merchants';
import { checkVelocity, empty_velocity_state, recordVelocity, velocityWindows, type VelocityRule, type VelocityState } from './velocity';
import { lineDiscounts, pointsEarned, type LoyaltyPolicy } from './loyalty';
import type { RuleLine } from './products';
import { firstDecline, type RuleVerdict } from './rule';

export interface ProgramRules {
  readonly merchant?: MerchantPolicy;
  readonly velocity?: readonly VelocityRule[];
  readonly risk?: RiskPolicy;
  readonly loyalty?: LoyaltyPolicy;
}

/** What a card remembers for its program's rules. */
export interface ProgramCardState {
  readonly velocity: VelocityState;
  readonly risk: RiskState;
}

export const empty_program_state: ProgramCardState = Object.freeze({ velocity: empty_velocity_state, risk: empty_risk_state });

export interface ProgramRequest {
  readonly atMs: number;
  readonly amount_minor: number;
  readonly merchantId: string;
  readonly terminalId: string;
}

/** Checks that come before the money rules: a temporary block, hard risk limit, merchant/terminal. */
export function checkProgramGate(rules: ProgramRules, state: ProgramCardState, request: ProgramRequest): RuleVerdict {
  return firstDecline([
    () => checkRisk(rules.risk ?? {}, state.risk, request.atMs, request.amount_minor, state.velocity),
    () => checkMerchant(rules.merchant ?? {}, request.merchantId, request.terminalId),
  ]);
}

export function checkProgramVelocity(rules: ProgramRules, state: ProgramCardState, request: ProgramRequest): RuleVerdict {
  return checkVelocity(rules.velocity ?? [], state.velocity, request.atMs, request.amount_minor);
}

export interface LoyaltyOutcome {
  readonly discounts_minor: readonly number[];
  readonly discount_minor: number;
  readonly points_earned: number;
}

/** Discounts per line and points earned on the amounts after discount. */
export function loyaltyFor(
  rules: ProgramRules,
  merchantId: string,
  lines: readonly RuleLine[],
  amounts_minor: readonly number[],
): LoyaltyOutcome {
  const policy = rules.loyalty;
  if (policy === undefined) return { discounts_minor: amounts_minor.map(() => 0), discount_minor: 0, points_earned: 0 };
  const discounts_minor = lineDiscounts(policy, lines, amounts_minor);
  const after = amounts_minor.map((amount, index) => amount - (discounts_minor[index] ?? 0));
  return {
    discounts_minor,
    discount_minor: discounts_minor.reduce((sum, value) => sum + value, 0),
    points_earned: pointsEarned(policy, merchantId, lines, after),
  };
}

/** The card's program state after the request was decided (approved, or declined for `reason`). */
export function afterProgram(
  rules: ProgramRules,
  state: ProgramCardState,
  request: ProgramRequest,
  outcome: { approved: true } | { approved: false; reason: string },
): ProgramCardState {
  if (outcome.approved) {
    const windows = velocityWindows([...(rules.velocity ?? []), ...(rules.risk?.soft_velocity ?? [])]);
    if (windows.length === 0 && state.velocity.series.length === 0 && state.velocity.events === undefined) return state;
    return { velocity: recordVelocity(state.velocity, windows, request.atMs, request.amount_minor), risk: state.risk };
  }
  const risk = recordDecline(rules.risk ?? {}, state.risk, request.atMs, outcome.reason);
  return risk === state.risk ? state : { velocity: state.velocity, risk };
}
