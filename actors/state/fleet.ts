// How a fleet account and what hangs off it are stored, all on the fleet's shard: the account
// (tl:{s}:fleet:<id>), its cards (fcard), its vehicles' last odometer readings (vehicle) and its
// review queue (review). All at layout 1 but the card: layout 2 keeps velocity in time buckets
// (actors/rules/velocity.ts); layout 1 (velocity events) is read and upgraded.

import { z } from 'zod';
import type { FleetAccountState, FleetCardState, FleetCardStatus, VehicleState } from '../fleet/rules';
import type { PriceFormula } from '../rules/pricing';
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

export const fleet_account_schema = z.object({
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

export const fleet_account_codec = stateCodec<FleetAccountState>('fleet', fleet_account_schema);
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

/** Layout 2 (current): velocity as time buckets per window. */
export const fleet_card_schema = fleetCardSchema(program_card_state_schema);

export const fleet_card_codec = stateCodec<FleetCardState>('fleet_card', fleet_card_schema, [
  legacyLayout(fleetCardSchema(program_card_state_v1_schema), (v1) => ({ ...v1, program: upgradeProgramCardState(v1.program) })),
]);
export const encodeFleetCard = fleet_card_codec.encode;
export const decodeFleetCard = fleet_card_codec.decode;

export const vehicle_schema = z.object({ odometerKm: integer, atMs: integer });

export const vehicle_codec = stateCodec<VehicleState>('vehicle', vehicle_schema);
export const encodeVehicle = vehicle_codec.encode;
export const decodeVehicle = vehicle_codec.decode;

export const review_queue_schema = z.object({ entries: z.array(review_entry_schema), dropped: integer });

export const review_queue_codec = stateCodec<ReviewQueue>('review', review_queue_schema);
export const encodeReviewQueue = review_queue_codec.encode;
export const decodeReviewQueue = review_queue_codec.decode;
