// Velocity: how many transactions, and how much money, a card may spend within a rolling window
// (e.g. at most 5 purchases in 10 minutes, at most 500 EUR in 24 hours). The window ending at the
// request's instant includes events strictly after `atMs - window_ms`. Limits are inclusive:
// reaching count_max exactly is approved, one more is declined. The remembered events are bounded
// (velocity_events_max); a policy may not ask for a count above that bound (checked where the
// policy is set), so the bound never weakens a rule.

import { approve_clean, decline, type RuleVerdict } from './rule';

export interface VelocityRule {
  /** Names the rule in declines: "velocity:<name>:count" / "velocity:<name>:amount". */
  readonly name: string;
  readonly window_ms: number;
  readonly count_max?: number;
  readonly amount_max_minor?: number;
}

export interface VelocityEvent {
  readonly at_ms: number;
  readonly amount_minor: number;
}

/** Events kept per card: bounds the state, and so the largest count_max a rule may use. */
export const velocity_events_max = 64;

/** Count and amount of events within the window ending at atMs. */
export function inWindow(events: readonly VelocityEvent[], atMs: number, window_ms: number): { count: number; amount_minor: number } {
  let count = 0;
  let amount_minor = 0;
  const after = atMs - window_ms;
  for (const event of events) {
    if (event.at_ms > after && event.at_ms <= atMs) {
      count += 1;
      amount_minor += event.amount_minor;
    }
  }
  return { count, amount_minor };
}

/** `flag`: a soft rule approves and flags instead of declining (risk patterns use this). */
export function checkVelocity(
  rules: readonly VelocityRule[],
  events: readonly VelocityEvent[],
  atMs: number,
  amount_minor: number,
  flag?: string,
): RuleVerdict {
  for (const rule of rules) {
    const seen = inWindow(events, atMs, rule.window_ms);
    let fired: string | undefined;
    if (rule.count_max !== undefined && seen.count + 1 > rule.count_max) fired = `velocity:${rule.name}:count`;
    else if (rule.amount_max_minor !== undefined && seen.amount_minor + amount_minor > rule.amount_max_minor)
      fired = `velocity:${rule.name}:amount`;
    if (fired !== undefined)
      return flag === undefined ? decline('velocity_exceeded', fired) : { kind: 'approve', flags: [`${flag}:${fired}`] };
  }
  return approve_clean;
}

/** Events after recording an approved transaction: older than `horizon_ms` dropped, at most the bound kept. */
export function recordVelocity(events: readonly VelocityEvent[], atMs: number, amount_minor: number, horizon_ms: number): VelocityEvent[] {
  const after = atMs - horizon_ms;
  const kept = events.filter((event) => event.at_ms > after);
  kept.push({ at_ms: atMs, amount_minor });
  return kept.length > velocity_events_max ? kept.slice(kept.length - velocity_events_max) : kept;
}

/** The longest window of the rules: events older than that can never matter again. */
export function velocityHorizonMs(rules: readonly VelocityRule[]): number {
  let horizon = 0;
  for (const rule of rules) horizon = Math.max(horizon, rule.window_ms);
  return horizon;
}
