// Turns fleet wire requests (fleet card authorizations and FleetAdminService calls) into domain
// commands, or a precise INVALID_ARGUMENT / UNIMPLEMENTED. Nothing reaches the fleet actor before
// it passes here, so bad input never changes state. Every list and number has a named bound.

import { invalidArgument, unimplemented } from '../../../actors/errors';
import { amount_abs_max_minor, minorFromWire, request_amount_max_minor } from '../../../actors/money';
import { parseFleetCardId } from '../../../actors/sharding/shard-key';
import { fleetFingerprint, type FleetMoneyRequest } from '../../../actors/fleet/transaction';
import type { FleetCardStatus as DomainFleetCardStatus } from '../../../actors/fleet/rules';
import type {
  BasePrice as DomainBasePrice,
  PriceAgreement as DomainPriceAgreement,
  PriceAgreements,
  PriceFormula as DomainPriceFormula,
} from '../../../actors/rules/pricing';
import type { RuleLine } from '../../../actors/rules/products';
import type { PromptPolicy as DomainPromptPolicy } from '../../../actors/rules/prompts';
import type { ProgramRules as DomainProgramRules } from '../../../actors/rules/program';
import type { SpendLimits as DomainSpendLimits } from '../../../actors/rules/spend-limits';
import { velocity_count_max, type VelocityRule as DomainVelocityRule } from '../../../actors/rules/velocity';
import { terminalTxnKey } from '../../../actors/request-keys';
import { AuthorizationKind } from '../../../gen/tapline/v1/types';
import type { AuthorizeRequest, ReverseRequest } from '../../../gen/tapline/v1/authorization';
import {
  FleetCardStatus,
  PriceFormula,
  type BasePrice,
  type LoyaltyPolicy,
  type PriceAgreement,
  type ProductGroups,
  type ProgramRules,
  type PromptPolicy,
  type RiskPolicy,
  type SpendLimits,
  type VelocityRule,
} from '../../../gen/tapline/v1/fleet';
import { optionalId, refKey, requireAmount, requireId, requireTxnNumber } from './validate';

const line_items_max = 200;
/** 10^6 units (a million litres) in thousandths: far above any pump or basket. */
const quantity_milli_max = 1_000_000_000;
const odometer_km_max = 10_000_000;
const groups_max = 64;
const list_ids_max = 1000;
const velocity_rules_max = 16;
/** A rolling window never needs to be longer than a year. */
const window_ms_max = 366 * 86_400_000;
const agreements_max = 500;
const base_prices_per_load_max = 1000;
/** Markups up to 100x; unit amounts up to 10^9 minor units per unit. */
const percent_bp_max = 1_000_000;
const unit_milli_minor_max = 1_000_000_000_000;
const multiplier_bp_max = 1_000_000;
const loyalty_map_entries_max = 64;
const effective_ms_max = 8_640_000_000_000;

function requireBounded(field: string, value: bigint, min: number, max: number): number {
  if (value < BigInt(min) || value > BigInt(max)) throw invalidArgument(`${field} must be between ${min} and ${max}`, { field });
  return Number(value);
}

export function requireFleetCardId(field: string, value: string): { cardId: string; fleetId: string } {
  const parsed = parseFleetCardId(value);
  if (parsed === undefined)
    throw invalidArgument(`${field} must be <fleet_id>~<card_no>, each 1-64 characters of A-Z a-z 0-9 . _ -`, { field });
  return { cardId: value, fleetId: parsed.fleetId };
}

function parseLines(wire: AuthorizeRequest, amountMinor: number): RuleLine[] {
  if (wire.lineItems.length > line_items_max) throw invalidArgument(`at most ${line_items_max} line items`);
  let total = 0;
  const lines = wire.lineItems.map((item, index) => {
    const field = `line_items[${index}]`;
    const amount = minorFromWire(item.amountMinor);
    if (amount === undefined || amount < 0 || amount > request_amount_max_minor)
      throw invalidArgument(`${field}.amount_minor must be between 0 and ${request_amount_max_minor}`);
    total += amount;
    return {
      code: requireId(`${field}.product_code`, item.productCode),
      group: requireId(`${field}.product_group`, item.productGroup),
      qty_milli: requireBounded(`${field}.quantity_milli`, item.quantityMilli, 0, quantity_milli_max),
      unit_minor: requireBounded(`${field}.unit_price_minor`, item.unitPriceMinor, 0, request_amount_max_minor),
      amount_minor: amount,
    };
  });
  if (lines.length > 0 && total !== amountMinor) throw invalidArgument('line item amounts must add up to the amount');
  return lines;
}

/** A purchase on a fleet card: like parseAuthorize, plus the basket and the prompts. */
export function parseFleetAuthorize(wire: AuthorizeRequest): FleetMoneyRequest {
  const terminalId = requireId('terminal_id', wire.terminalId);
  const txn = requireTxnNumber('terminal_txn_number', wire.terminalTxnNumber);
  const { cardId, fleetId } = requireFleetCardId('card_id', wire.cardId);
  const { amountMinor, currency } = requireAmount('amount', wire.amount);
  if (wire.kind !== AuthorizationKind.AUTHORIZATION_KIND_UNSPECIFIED && wire.kind !== AuthorizationKind.AUTHORIZATION_KIND_PURCHASE) {
    if (wire.kind === AuthorizationKind.UNRECOGNIZED || !(wire.kind in AuthorizationKind))
      throw invalidArgument('unknown authorization kind');
    throw unimplemented('only PURCHASE authorizations are served for fleet cards');
  }
  if (wire.cashier !== undefined)
    throw unimplemented('cashier logins are not served for fleet cards by this version', { field: 'cashier' });
  if (wire.offline !== undefined) throw unimplemented('offline uploads are not served by this version');
  if (wire.original !== undefined) throw invalidArgument('original is only valid for COMPLETION and INCREMENTAL');
  // Fields that change money are honoured or refused, never dropped: a fleet card has no PIN and
  // its account, not the card, holds loyalty points, so a terminal sending them gets told.
  if (wire.pin !== '') throw invalidArgument('pin is not accepted for fleet cards (they have no PIN)');
  if (wire.redeemPoints !== undefined && wire.redeemPoints !== 0n)
    throw invalidArgument('redeem_points is not accepted for fleet cards (points belong to the fleet account)');
  if (wire.cardCryptogram !== undefined)
    throw invalidArgument('card_cryptogram is not accepted for fleet cards (they do not authenticate)');
  const lines = parseLines(wire, amountMinor);
  const prompts = {
    odometer_km: requireBounded('prompts.odometer_km', wire.prompts?.odometerKm ?? 0n, 0, odometer_km_max),
    driver_id: optionalId('prompts.driver_id', wire.prompts?.driverId ?? '', ''),
    vehicle_id: optionalId('prompts.vehicle_id', wire.prompts?.vehicleId ?? '', ''),
  };
  const request: Omit<FleetMoneyRequest, 'fingerprint'> = {
    kind: 'purchase',
    key: terminalTxnKey(terminalId, txn),
    cardId,
    terminalId,
    amountMinor,
    currency,
    source: '',
    operatorId: '',
    originalKey: '',
    fleet: { fleetId, lines, prompts },
  };
  return { ...request, fingerprint: fleetFingerprint(request) };
}

/** A reversal of a fleet card purchase (the account gets the invoiced amount back). */
export function parseFleetReverse(wire: ReverseRequest): FleetMoneyRequest {
  const terminalId = requireId('terminal_id', wire.terminalId);
  const txn = requireTxnNumber('terminal_txn_number', wire.terminalTxnNumber);
  const { cardId, fleetId } = requireFleetCardId('card_id', wire.cardId);
  const originalKey = refKey('original', wire.original);
  const key = terminalTxnKey(terminalId, txn);
  if (originalKey === key) throw invalidArgument('a reversal cannot reverse itself');
  const request: Omit<FleetMoneyRequest, 'fingerprint'> = {
    kind: 'reverse',
    key,
    cardId,
    terminalId,
    amountMinor: 0,
    currency: '',
    source: '',
    operatorId: '',
    originalKey,
    fleet: { fleetId, lines: [], prompts: { odometer_km: 0, driver_id: '', vehicle_id: '' } },
  };
  return { ...request, fingerprint: fleetFingerprint(request) };
}

// ---------------------------------------------------------------------------------------------
// Administration.

export function parseSpendLimits(field: string, wire: SpendLimits | undefined): DomainSpendLimits {
  if (wire === undefined) return {};
  const limits: { -readonly [K in keyof DomainSpendLimits]: number } = {};
  const each: [keyof DomainSpendLimits, bigint | undefined, string][] = [
    ['per_txn_minor', wire.perTxnMinor, 'per_txn_minor'],
    ['daily_minor', wire.dailyMinor, 'daily_minor'],
    ['weekly_minor', wire.weeklyMinor, 'weekly_minor'],
    ['monthly_minor', wire.monthlyMinor, 'monthly_minor'],
    ['lifetime_minor', wire.lifetimeMinor, 'lifetime_minor'],
  ];
  for (const [key, value, name] of each)
    if (value !== undefined) limits[key] = requireBounded(`${field}.${name}`, value, 0, amount_abs_max_minor);
  return limits;
}

function idList(field: string, values: readonly string[], max: number): string[] {
  if (values.length > max) throw invalidArgument(`${field}: at most ${max} entries`, { field });
  return values.map((value, index) => requireId(`${field}[${index}]`, value));
}

export function parseGroups(field: string, wire: ProductGroups | undefined): string[] | undefined {
  return wire === undefined ? undefined : idList(`${field}.allowed`, wire.allowed, groups_max);
}

export function parseCreditLimit(field: string, value: bigint): number {
  return requireBounded(field, value, 0, amount_abs_max_minor);
}

function parsePrompts(wire: PromptPolicy | undefined): DomainPromptPolicy {
  return {
    require_odometer: wire?.requireOdometer ?? false,
    require_driver: wire?.requireDriver ?? false,
    require_vehicle: wire?.requireVehicle ?? false,
    odometer_jump_max_km: requireBounded('prompts.odometer_jump_max_km', wire?.odometerJumpMaxKm ?? 0n, 0, odometer_km_max),
  };
}

function parseVelocity(field: string, rules: readonly VelocityRule[]): DomainVelocityRule[] {
  if (rules.length > velocity_rules_max) throw invalidArgument(`${field}: at most ${velocity_rules_max} rules`);
  return rules.map((rule, index) => {
    const at = `${field}[${index}]`;
    return {
      name: requireId(`${at}.name`, rule.name),
      window_ms: requireBounded(`${at}.window_ms`, rule.windowMs, 1, window_ms_max),
      // Buckets count exactly whatever the number of events; past this, a count is not a velocity.
      ...(rule.countMax !== undefined ? { count_max: requireBounded(`${at}.count_max`, rule.countMax, 0, velocity_count_max) } : {}),
      ...(rule.amountMaxMinor !== undefined
        ? { amount_max_minor: requireBounded(`${at}.amount_max_minor`, rule.amountMaxMinor, 0, amount_abs_max_minor) }
        : {}),
    };
  });
}

function parseRisk(wire: RiskPolicy | undefined): DomainProgramRules['risk'] {
  if (wire === undefined) return undefined;
  return {
    ...(wire.hardAmountMinor !== undefined
      ? { hard_amount_minor: requireBounded('program.risk.hard_amount_minor', wire.hardAmountMinor, 0, amount_abs_max_minor) }
      : {}),
    ...(wire.softAmountMinor !== undefined
      ? { soft_amount_minor: requireBounded('program.risk.soft_amount_minor', wire.softAmountMinor, 0, amount_abs_max_minor) }
      : {}),
    soft_velocity: parseVelocity('program.risk.soft_velocity', wire.softVelocity),
    block_after_declines: requireBounded('program.risk.block_after_declines', wire.blockAfterDeclines, 0, 100),
    decline_window_ms: requireBounded('program.risk.decline_window_ms', wire.declineWindowMs, 0, window_ms_max),
    block_ms: requireBounded('program.risk.block_ms', wire.blockMs, 0, window_ms_max),
  };
}

function bpMap(field: string, map: Readonly<Record<string, bigint>>, max: number): Record<string, number> {
  const entries = Object.entries(map);
  if (entries.length > loyalty_map_entries_max) throw invalidArgument(`${field}: at most ${loyalty_map_entries_max} entries`);
  return Object.fromEntries(
    entries.map(([key, value]) => [requireId(`${field} key`, key), requireBounded(`${field}[${key}]`, value, 0, max)]),
  );
}

function parseLoyalty(wire: LoyaltyPolicy | undefined): DomainProgramRules['loyalty'] {
  if (wire === undefined) return undefined;
  return {
    minor_per_unit: requireBounded('program.loyalty.minor_per_unit', wire.minorPerUnit, 0, 1_000_000_000),
    points_per_unit: requireBounded('program.loyalty.points_per_unit', wire.pointsPerUnit, 0, 1_000_000),
    group_multiplier_bp: bpMap('program.loyalty.group_multiplier_bp', wire.groupMultiplierBp, multiplier_bp_max),
    merchant_multiplier_bp: bpMap('program.loyalty.merchant_multiplier_bp', wire.merchantMultiplierBp, multiplier_bp_max),
    discount_bp_by_group: bpMap('program.loyalty.discount_bp_by_group', wire.discountBpByGroup, 10_000),
    point_value_minor: requireBounded('program.loyalty.point_value_minor', wire.pointValueMinor, 0, 1_000_000_000),
  };
}

export function parseProgram(wire: ProgramRules | undefined): DomainProgramRules {
  if (wire === undefined) return {};
  const risk = parseRisk(wire.risk);
  const loyalty = parseLoyalty(wire.loyalty);
  return {
    merchant: {
      ...(wire.restrictMerchants ? { allowed_merchants: idList('program.allowed_merchants', wire.allowedMerchants, list_ids_max) } : {}),
      blocked_merchants: idList('program.blocked_merchants', wire.blockedMerchants, list_ids_max),
      ...(wire.restrictTerminals ? { allowed_terminals: idList('program.allowed_terminals', wire.allowedTerminals, list_ids_max) } : {}),
      blocked_terminals: idList('program.blocked_terminals', wire.blockedTerminals, list_ids_max),
    },
    velocity: parseVelocity('program.velocity', wire.velocity),
    ...(risk !== undefined ? { risk } : {}),
    ...(loyalty !== undefined ? { loyalty } : {}),
  };
}

export function parsePolicy(
  prompts: PromptPolicy | undefined,
  program: ProgramRules | undefined,
): { prompts: DomainPromptPolicy; program: DomainProgramRules } {
  return { prompts: parsePrompts(prompts), program: parseProgram(program) };
}

const formulas: Readonly<Partial<Record<PriceFormula, DomainPriceFormula>>> = {
  [PriceFormula.PRICE_FORMULA_PUMP]: 'pump',
  [PriceFormula.PRICE_FORMULA_SPOT_PLUS_AMOUNT]: 'spot_plus_amount',
  [PriceFormula.PRICE_FORMULA_SPOT_PLUS_PERCENT]: 'spot_plus_percent',
  [PriceFormula.PRICE_FORMULA_PUMP_MINUS_AMOUNT]: 'pump_minus_amount',
  [PriceFormula.PRICE_FORMULA_PUMP_MINUS_PERCENT]: 'pump_minus_percent',
};

export function parsePricing(agreements: readonly PriceAgreement[]): PriceAgreements {
  if (agreements.length > agreements_max) throw invalidArgument(`at most ${agreements_max} price agreements`);
  const parsed: Record<string, DomainPriceAgreement> = {};
  agreements.forEach((agreement, index) => {
    const field = `agreements[${index}]`;
    const formula = formulas[agreement.formula];
    if (formula === undefined)
      throw invalidArgument(
        `${field}.formula must be one of PUMP, SPOT_PLUS_AMOUNT, SPOT_PLUS_PERCENT, PUMP_MINUS_AMOUNT, PUMP_MINUS_PERCENT`,
      );
    if (agreement.productCode !== '' && agreement.productGroup !== '')
      throw invalidArgument(`${field}: give product_code or product_group, not both`);
    const key =
      agreement.productCode !== ''
        ? `code:${requireId(`${field}.product_code`, agreement.productCode)}`
        : agreement.productGroup !== ''
          ? `group:${requireId(`${field}.product_group`, agreement.productGroup)}`
          : '*';
    if (parsed[key] !== undefined) throw invalidArgument(`${field}: a second agreement for the same product`);
    parsed[key] = {
      formula,
      amount_milli_minor: requireBounded(`${field}.amount_milli_minor`, agreement.amountMilliMinor, 0, unit_milli_minor_max),
      percent_bp: requireBounded(`${field}.percent_bp`, agreement.percentBp, 0, percent_bp_max),
    };
  });
  return parsed;
}

export function parseBasePrices(prices: readonly BasePrice[]): DomainBasePrice[] {
  if (prices.length === 0 || prices.length > base_prices_per_load_max)
    throw invalidArgument(`prices must hold 1-${base_prices_per_load_max} entries`);
  return prices.map((price, index) => ({
    product_code: requireId(`prices[${index}].product_code`, price.productCode),
    unit_milli_minor: requireBounded(`prices[${index}].unit_milli_minor`, price.unitMilliMinor, 0, unit_milli_minor_max),
    effective_from_ms: requireBounded(`prices[${index}].effective_from_unix_ms`, price.effectiveFromUnixMs, 0, effective_ms_max),
  }));
}

const card_statuses: Readonly<Partial<Record<FleetCardStatus, DomainFleetCardStatus>>> = {
  [FleetCardStatus.FLEET_CARD_STATUS_ACTIVE]: 'active',
  [FleetCardStatus.FLEET_CARD_STATUS_FROZEN]: 'frozen',
  [FleetCardStatus.FLEET_CARD_STATUS_BLOCKED]: 'blocked',
};

export function parseFleetCardStatus(status: FleetCardStatus): DomainFleetCardStatus {
  const parsed = card_statuses[status];
  if (parsed === undefined) throw invalidArgument('status must be ACTIVE, FROZEN or BLOCKED');
  return parsed;
}

export function wireFleetCardStatus(status: DomainFleetCardStatus): FleetCardStatus {
  return status === 'active'
    ? FleetCardStatus.FLEET_CARD_STATUS_ACTIVE
    : status === 'frozen'
      ? FleetCardStatus.FLEET_CARD_STATUS_FROZEN
      : FleetCardStatus.FLEET_CARD_STATUS_BLOCKED;
}
