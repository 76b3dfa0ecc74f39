// Loyalty rules of a program.
// - Discount at authorization: a percentage (basis points) per product group, per line, rounded
//   half up to the minor unit (pricing.ts' rule); the discount never exceeds the line.
// - Points earned: `points_per_unit` points per `minor_per_unit` minor units spent (after
//   discount), times a multiplier per product group and per merchant (basis points, 10_000 = x1).
//   Points are whole: the exact total over the basket is computed in bigint and rounded DOWN once
//   (a customer never gets a point they did not fully earn; no per-line truncation loss).
// - Points redeemed as payment: each point is worth `point_value_minor`; a redemption asking for
//   more points than the balance declines POINTS_INSUFFICIENT, and never pays more than the
//   amount due (the points used are then reduced to what the amount needs, rounded down).

import type { RuleLine } from './products';
import { divideRoundHalfUp } from './pricing';

export interface LoyaltyPolicy {
  readonly minor_per_unit: number;
  readonly points_per_unit: number;
  readonly group_multiplier_bp?: Readonly<Record<string, number>>;
  readonly merchant_multiplier_bp?: Readonly<Record<string, number>>;
  readonly discount_bp_by_group?: Readonly<Record<string, number>>;
  readonly point_value_minor?: number;
}

const bp_whole = 10_000n;

/** Discount per line (minor units), in line order. */
export function lineDiscounts(policy: LoyaltyPolicy, lines: readonly RuleLine[], amounts_minor: readonly number[]): number[] {
  return lines.map((line, index) => {
    const amount = amounts_minor[index] ?? 0;
    const bp = policy.discount_bp_by_group?.[line.group] ?? 0;
    if (bp <= 0) return 0;
    const discount = Number(divideRoundHalfUp(BigInt(amount) * BigInt(Math.min(bp, 10_000)), bp_whole));
    return Math.min(discount, amount);
  });
}

export function pointsEarned(
  policy: LoyaltyPolicy,
  merchantId: string,
  lines: readonly RuleLine[],
  amounts_minor: readonly number[],
): number {
  if (policy.minor_per_unit <= 0 || policy.points_per_unit <= 0) return 0;
  const merchant = BigInt(policy.merchant_multiplier_bp?.[merchantId] ?? 10_000);
  let numerator = 0n;
  lines.forEach((line, index) => {
    const group = BigInt(policy.group_multiplier_bp?.[line.group] ?? 10_000);
    numerator += BigInt(amounts_minor[index] ?? 0) * group;
  });
  const points = (numerator * merchant * BigInt(policy.points_per_unit)) / (BigInt(policy.minor_per_unit) * bp_whole * bp_whole);
  return Number(points);
}

export type Redemption =
  { readonly ok: true; readonly points: number; readonly value_minor: number } | { readonly ok: false; readonly rule: string };

export function redeemPoints(policy: LoyaltyPolicy, balance_points: number, requested_points: number, due_minor: number): Redemption {
  if (requested_points <= 0) return { ok: true, points: 0, value_minor: 0 };
  const value = policy.point_value_minor ?? 0;
  if (value <= 0) return { ok: false, rule: 'loyalty:redemption_disabled' };
  if (requested_points > balance_points) return { ok: false, rule: 'loyalty:points_insufficient' };
  const points = Math.min(requested_points, Math.floor(due_minor / value));
  return { ok: true, points, value_minor: points * value };
}
