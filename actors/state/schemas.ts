// Zod schemas of the pieces several stored entities share: numbers, program rules and what a card
// keeps for them, spend limits and counters, review entries. Each schema mirrors a domain type of
// actors/rules; the codecs' tests hold every schema to its type with a record that sets every
// optional field (a field missing here would be dropped on decode and the round trip would fail).

import { z } from 'zod';

/**
 * Every number an entity stores is an integer a JS number holds exactly (money, instants, counts,
 * basis points). Ranges and signs are the rules' and the gRPC boundary's to check: a codec checks
 * the shape, so a value the rules accepted is never refused on the next load.
 */
export const integer = z.number().int().min(-Number.MAX_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER);

/**
 * The list of every member of a string union, checked when it compiles: a member missing from
 * `list` is a type error, so a status added to a domain type cannot be forgotten here.
 */
export function everyOf<T extends string>() {
  return <const L extends readonly T[]>(list: L & ([Exclude<T, L[number]>] extends [never] ? unknown : never)): L => list;
}

export const velocity_rule_schema = z.object({
  name: z.string(),
  window_ms: integer,
  count_max: integer.optional(),
  amount_max_minor: integer.optional(),
});

export const velocity_event_schema = z.object({ at_ms: integer, amount_minor: integer });

export const merchant_policy_schema = z.object({
  allowed_merchants: z.array(z.string()).optional(),
  blocked_merchants: z.array(z.string()).optional(),
  allowed_terminals: z.array(z.string()).optional(),
  blocked_terminals: z.array(z.string()).optional(),
});

export const risk_policy_schema = z.object({
  hard_amount_minor: integer.optional(),
  soft_amount_minor: integer.optional(),
  soft_velocity: z.array(velocity_rule_schema).optional(),
  block_after_declines: integer.optional(),
  decline_window_ms: integer.optional(),
  block_ms: integer.optional(),
  counted_reasons: z.array(z.string()).optional(),
});

const basis_points_by_key = z.record(z.string(), integer);

export const loyalty_policy_schema = z.object({
  minor_per_unit: integer,
  points_per_unit: integer,
  group_multiplier_bp: basis_points_by_key.optional(),
  merchant_multiplier_bp: basis_points_by_key.optional(),
  discount_bp_by_group: basis_points_by_key.optional(),
  point_value_minor: integer.optional(),
});

export const program_rules_schema = z.object({
  merchant: merchant_policy_schema.optional(),
  velocity: z.array(velocity_rule_schema).optional(),
  risk: risk_policy_schema.optional(),
  loyalty: loyalty_policy_schema.optional(),
});

export const risk_state_schema = z.object({ declines_at_ms: z.array(integer), blocked_until_ms: integer });

/** What a card kept for its program's rules before velocity buckets: the events themselves. */
export const program_card_state_v1_schema = z.object({ velocity: z.array(velocity_event_schema), risk: risk_state_schema });

const velocity_series_schema = z.object({ window_ms: integer, buckets: z.array(z.tuple([integer, integer, integer])) });

export const velocity_state_schema = z.object({
  series: z.array(velocity_series_schema),
  events: z.array(velocity_event_schema).optional(),
});

export const program_card_state_schema = z.object({ velocity: velocity_state_schema, risk: risk_state_schema });

/**
 * A card's rule state from before buckets to now: its events are kept as they are and counted
 * exactly until its next approved spending folds them into buckets (actors/rules/velocity.ts).
 */
export function upgradeProgramCardState(v1: z.output<typeof program_card_state_v1_schema>): z.input<typeof program_card_state_schema> {
  return { velocity: v1.velocity.length === 0 ? { series: [] } : { series: [], events: v1.velocity }, risk: v1.risk };
}

export const review_entry_schema = z.object({
  id: z.string(),
  card: z.string(),
  amount_minor: integer,
  flags: z.array(z.string()),
  at_ms: integer,
});

export const spend_limits_schema = z.object({
  per_txn_minor: integer.optional(),
  daily_minor: integer.optional(),
  weekly_minor: integer.optional(),
  monthly_minor: integer.optional(),
  lifetime_minor: integer.optional(),
});

export const spend_counters_schema = z.object({
  day: z.string(),
  day_minor: integer,
  week: z.string(),
  week_minor: integer,
  month: z.string(),
  month_minor: integer,
  lifetime_minor: integer,
});
