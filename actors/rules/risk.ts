// Risk parameters of a program:
// - hard_amount_minor: a single amount above it is declined (RISK, "risk:hard_amount");
// - soft_amount_minor: above it the transaction is approved but flagged "risk:soft_amount" for
//   review; soft_velocity: the same for patterns (e.g. many purchases in a few minutes);
// - repeated declines: `block_after_declines` declines of the counted kinds (insufficient funds
//   or credit probing, PIN failures, limit probing) within `decline_window_ms` block the card for
//   `block_ms`; while blocked every authorization is declined "risk:temporary_block".
// Thresholds are exclusive for soft/hard amounts (an amount equal to the threshold passes).

import type { RuleDeclineReason } from './rule';
import { approve_clean, decline, firstDecline, type RuleVerdict } from './rule';
import { checkVelocity, type VelocityRule, type VelocityState } from './velocity';

export interface RiskPolicy {
  readonly hard_amount_minor?: number;
  readonly soft_amount_minor?: number;
  readonly soft_velocity?: readonly VelocityRule[];
  readonly block_after_declines?: number;
  readonly decline_window_ms?: number;
  readonly block_ms?: number;
  /** Decline reasons that count towards the temporary block (rule reasons or card reasons). */
  readonly counted_reasons?: readonly string[];
}

export interface RiskState {
  /** Instants of recent counted declines, oldest first (at most block_after_declines). */
  readonly declines_at_ms: readonly number[];
  readonly blocked_until_ms: number;
}

export const empty_risk_state: RiskState = Object.freeze({ declines_at_ms: Object.freeze([]), blocked_until_ms: 0 });

/** Counted by default: probing for money or limits, and PIN guessing. */
export const default_counted_reasons: readonly string[] = [
  'insufficient_funds',
  'credit_limit_exceeded',
  'limit_exceeded',
  'pin_invalid',
] satisfies readonly (RuleDeclineReason | 'insufficient_funds' | 'pin_invalid')[];

export function checkRisk(policy: RiskPolicy, state: RiskState, atMs: number, amount_minor: number, velocity: VelocityState): RuleVerdict {
  return firstDecline([
    () => (state.blocked_until_ms > atMs ? decline('temporarily_blocked', 'risk:temporary_block') : approve_clean),
    () =>
      policy.hard_amount_minor !== undefined && amount_minor > policy.hard_amount_minor
        ? decline('risk', 'risk:hard_amount')
        : approve_clean,
    () =>
      policy.soft_amount_minor !== undefined && amount_minor > policy.soft_amount_minor
        ? { kind: 'approve', flags: ['risk:soft_amount'] }
        : approve_clean,
    () => checkVelocity(policy.soft_velocity ?? [], velocity, atMs, amount_minor, 'risk:soft'),
  ]);
}

/** Risk state after a decline for `reason` at atMs; unchanged (same object) when it does not count. */
export function recordDecline(policy: RiskPolicy, state: RiskState, atMs: number, reason: string): RiskState {
  const threshold = policy.block_after_declines;
  if (threshold === undefined || threshold <= 0) return state;
  if (!(policy.counted_reasons ?? default_counted_reasons).includes(reason)) return state;
  const window = policy.decline_window_ms ?? 0;
  const recent = state.declines_at_ms.filter((at) => at > atMs - window);
  recent.push(atMs);
  if (recent.length >= threshold) return { declines_at_ms: [], blocked_until_ms: atMs + (policy.block_ms ?? 0) };
  return { declines_at_ms: recent.slice(-threshold), blocked_until_ms: state.blocked_until_ms };
}
