// Spend limits: per transaction, per calendar day / ISO week / month (in the owner's time zone,
// see calendar.ts) and lifetime. The same rule serves a card and a whole fleet account; `scope`
// only names which one fired. A limit is inclusive: spending exactly up to it is approved, one
// minor unit more is declined. An absent limit is no limit; a limit of 0 allows nothing.

import { addMinor } from '../money';
import type { PeriodKeys } from './calendar';
import { approve_clean, decline, type RuleVerdict } from './rule';

export interface SpendLimits {
  readonly per_txn_minor?: number;
  readonly daily_minor?: number;
  readonly weekly_minor?: number;
  readonly monthly_minor?: number;
  readonly lifetime_minor?: number;
}

/** What was spent in the current periods; a period key that is not the current one counts as 0. */
export interface SpendCounters {
  readonly day: string;
  readonly day_minor: number;
  readonly week: string;
  readonly week_minor: number;
  readonly month: string;
  readonly month_minor: number;
  readonly lifetime_minor: number;
}

export const empty_counters: SpendCounters = Object.freeze({
  day: '',
  day_minor: 0,
  week: '',
  week_minor: 0,
  month: '',
  month_minor: 0,
  lifetime_minor: 0,
});

export type SpendScope = 'card' | 'fleet';

/** Spent so far in the periods `keys` name (earlier periods are over and count nothing). */
export function spentIn(counters: SpendCounters, keys: PeriodKeys): { day: number; week: number; month: number; lifetime: number } {
  return {
    day: counters.day === keys.day ? counters.day_minor : 0,
    week: counters.week === keys.week ? counters.week_minor : 0,
    month: counters.month === keys.month ? counters.month_minor : 0,
    lifetime: counters.lifetime_minor,
  };
}

export function checkSpend(
  scope: SpendScope,
  limits: SpendLimits,
  counters: SpendCounters,
  keys: PeriodKeys,
  amount_minor: number,
): RuleVerdict {
  if (limits.per_txn_minor !== undefined && amount_minor > limits.per_txn_minor) return decline('limit_exceeded', `limit:${scope}:per_txn`);
  const spent = spentIn(counters, keys);
  if (limits.daily_minor !== undefined && spent.day + amount_minor > limits.daily_minor)
    return decline('limit_exceeded', `limit:${scope}:daily`);
  if (limits.weekly_minor !== undefined && spent.week + amount_minor > limits.weekly_minor)
    return decline('limit_exceeded', `limit:${scope}:weekly`);
  if (limits.monthly_minor !== undefined && spent.month + amount_minor > limits.monthly_minor)
    return decline('limit_exceeded', `limit:${scope}:monthly`);
  if (limits.lifetime_minor !== undefined && spent.lifetime + amount_minor > limits.lifetime_minor)
    return decline('limit_exceeded', `limit:${scope}:lifetime`);
  return approve_clean;
}

/** Counters after an approved spend of `amount_minor` at the instant whose periods are `keys`. */
export function addSpend(counters: SpendCounters, keys: PeriodKeys, amount_minor: number): SpendCounters {
  const spent = spentIn(counters, keys);
  return {
    day: keys.day,
    day_minor: addMinor(spent.day, amount_minor),
    week: keys.week,
    week_minor: addMinor(spent.week, amount_minor),
    month: keys.month,
    month_minor: addMinor(spent.month, amount_minor),
    lifetime_minor: addMinor(spent.lifetime, amount_minor),
  };
}
