// How a fleet account and what hangs off it are stored, all on the fleet's shard: the account
// (tl:{s}:fleet:<id>), its cards (fcard), its vehicles' last odometer readings (vehicle) and its
// review queue (review). The account is at layout 2 (its postpaid cycle, holds, card policy and
// shared price list; layout 1 is read as an account in its first cycle). The card is at layout 3:
// layout 2 kept velocity in time buckets (actors/rules/velocity.ts; layout 1's velocity events are
// read and upgraded), layout 3 adds its PIN. The others are at layout 1.

import { z } from 'zod';
import { default_card_policy, type FleetAccountState, type FleetCardState, type FleetCardStatus, type VehicleState } from '../fleet/rules';
import { newBilling } from '../fleet/billing';
import type { BasePrice, PriceFormula } from '../rules/pricing';
import type { ReviewQueue } from '../rules/review-queue';
import { legacyLayout, stateCodec } from './codec';
import {
  everyOf,
  integer,
  program_card_state_schema,
  program_card_state_v1_schema,
  program_rules_schema,
  review_entry_schema,
  spend_counters_schema,
  spend_limits_schema,
  upgradeProgramCardState,
} from './schemas';

export const price_formulas = everyOf<PriceFormula>()([
  'pump',
  'spot_plus_amount',
  'spot_plus_percent',
  'pump_minus_amount',
  'pump_minus_percent',
  'pump_plus_amount',
  'pump_plus_percent',
]);
export const fleet_card_statuses = everyOf<FleetCardStatus>()(['active', 'frozen', 'blocked']);

const prompt_policy_schema = z.object({
  require_odometer: z.boolean(),
  require_driver: z.boolean(),
  require_vehicle: z.boolean(),
  odometer_jump_max_km: integer,
});

const price_agreement_schema = z.object({
  formula: z.enum(price_formulas),
  amount_milli_minor: integer.optional(),
  percent_bp: integer.optional(),
});

const base_price_schema = z.object({ product_code: z.string(), unit_milli_minor: integer, effective_from_ms: integer });

/** Layout 1: the account before its postpaid cycle, holds, card policy and shared price list. */
const fleet_account_v1_schema = z.object({
  fleetId: z.string(),
  currency: z.string(),
  timeZone: z.string(),
  creditLimitMinor: integer,
  balanceMinor: integer,
  limits: spend_limits_schema,
  spent: spend_counters_schema,
  allowedGroups: z.array(z.string()).optional(),
  prompts: prompt_policy_schema,
  program: program_rules_schema,
  pricing: z.record(z.string(), price_agreement_schema),
  prices: z.array(base_price_schema),
  points: integer,
  createdAtMs: integer,
});

const billing_schema = z.object({
  cycle: integer,
  cycleOpenedAtMs: integer,
  terms: z.object({ payment_terms_days: integer, block_after_overdue_days: integer.optional() }),
  invoices: z.array(z.object({ cycle: integer, amountMinor: integer, outstandingMinor: integer, issuedAtMs: integer, dueAtMs: integer })),
});

const fleet_hold_schema = z.object({
  amountMinor: integer,
  expiresAtMs: integer,
  card: z.string(),
  atMs: integer,
  prompts: z.object({ odometer_km: integer, driver_id: z.string(), vehicle_id: z.string() }),
});

const card_policy_schema = z.object({
  pin_required: z.boolean(),
  pin_attempts_max: integer,
  hold_expiry_ms: integer,
  completion_tolerance_bp: integer,
});

/**
 * Layout 2 (current): the postpaid cycle (billing), the cards' open pre-authorizations (holds,
 * heldMinor), their PIN and pump settings (cardPolicy) and a shared SPOT price list (priceList).
 */
export const fleet_account_schema = fleet_account_v1_schema.extend({
  billing: billing_schema,
  holds: z.record(z.string(), fleet_hold_schema),
  heldMinor: integer,
  cardPolicy: card_policy_schema,
  priceList: z.string().optional(),
});

/**
 * An account stored before layout 2 is in its first cycle, opened when it was created: everything
 * it owes is uninvoiced spend (its documents, without a cycle, read as cycle 1 in ClickHouse too).
 */
export const fleet_account_codec = stateCodec<FleetAccountState>('fleet', fleet_account_schema, [
  legacyLayout(fleet_account_v1_schema, (v1) => ({
    ...v1,
    billing: newBilling(v1.createdAtMs),
    holds: {},
    heldMinor: 0,
    cardPolicy: default_card_policy,
  })),
]);
export const encodeFleetAccount = fleet_account_codec.encode;
export const decodeFleetAccount = fleet_account_codec.decode;

/** A fleet card, with what it keeps for its program's rules in the given layout. */
function fleetCardSchema<P extends z.ZodType>(program: P) {
  return z.object({
    cardId: z.string(),
    fleetId: z.string(),
    status: z.enum(fleet_card_statuses),
    limits: spend_limits_schema,
    spent: spend_counters_schema,
    allowedGroups: z.array(z.string()).optional(),
    program,
    issuedAtMs: integer,
  });
}

/** Layout 3 (current): layout 2 and the card's PIN (a keyed hash) and its wrong attempts. */
export const fleet_card_schema = fleetCardSchema(program_card_state_schema).extend({
  pinHash: z.string().optional(),
  pinFailures: integer.optional(),
});

export const fleet_card_codec = stateCodec<FleetCardState>('fleet_card', fleet_card_schema, [
  legacyLayout(fleetCardSchema(program_card_state_v1_schema), (v1) => ({ ...v1, program: upgradeProgramCardState(v1.program) })),
  // Layout 2 had no PIN: the card has none until an operator sets one.
  legacyLayout(fleetCardSchema(program_card_state_schema), (v2) => v2),
]);
export const encodeFleetCard = fleet_card_codec.encode;
export const decodeFleetCard = fleet_card_codec.decode;

export const vehicle_schema = z.object({ odometerKm: integer, atMs: integer });

export const vehicle_codec = stateCodec<VehicleState>('vehicle', vehicle_schema);
export const encodeVehicle = vehicle_codec.encode;
export const decodeVehicle = vehicle_codec.decode;

/** A shared wholesale (SPOT) price list (actors/fleet/price-lists.ts): its entries, oldest first per product. */
export interface SharedPriceList {
  readonly prices: readonly BasePrice[];
}

export const price_list_schema = z.object({ prices: z.array(base_price_schema) });

export const price_list_codec = stateCodec<SharedPriceList>('price_list', price_list_schema);

export const review_queue_schema = z.object({ entries: z.array(review_entry_schema), dropped: integer });

export const review_queue_codec = stateCodec<ReviewQueue>('review', review_queue_schema);
export const encodeReviewQueue = review_queue_codec.encode;
export const decodeReviewQueue = review_queue_codec.decode;
