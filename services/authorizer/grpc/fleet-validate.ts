// Turns fleet wire requests (fleet card authorizations and FleetAdminService calls) into domain
// commands, or a precise INVALID_ARGUMENT / UNIMPLEMENTED. Nothing reaches the fleet actor before
// it passes here, so bad input never changes state. Every list and number has a named bound.

import { invalidArgument, unimplemented } from '../../../actors/errors';
import { amount_abs_max_minor, minorFromWire, request_amount_max_minor } from '../../../actors/money';
import { parseFleetCardId } from '../../../actors/sharding/shard-key';
import { fleetFingerprint, type FleetMoneyRequest } from '../../../actors/fleet/transaction';
import type { FleetCardStatus as DomainFleetCardStatus } from '../../../actors/fleet/rules';
import type { Acting } from '../../../actors/principal';
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
import { fleetPaymentKey, terminalTxnKey } from '../../../actors/request-keys';
import { cycle_max } from '../../../actors/outbox/contract';
import { AuthorizationKind } from '../../../gen/tapline/v1/types';
import type { AuthorizeRequest, RefundRequest, ReverseRequest, VoidRequest } from '../../../gen/tapline/v1/authorization';
import {
  FleetCardStatus,
  PriceFormula,
  type BasePrice,
  type BillingTerms,
  type FleetCardPolicy as WireFleetCardPolicy,
  type LoyaltyPolicy,
  type PriceAgreement,
  type ProductGroups,
  type ProgramRules,
  type PromptPolicy,
  type RiskPolicy,
  type SpendLimits,
  type VelocityRule,
} from '../../../gen/tapline/v1/fleet';
import { optionalId, refKey, requireAmount, requireClientKeyText, requireId, requireTxnNumber } from './validate';
import { billing_days_max, type BillingTerms as DomainBillingTerms } from '../../../actors/fleet/billing';
import { hold_expiry_max_ms, pin_attempts_max_max } from '../../../actors/program/config';
import type { FleetCardPolicy } from '../../../actors/fleet/rules';
import type { PostFleetPaymentRequest } from '../../../gen/tapline/v1/fleet';

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

/** Authorization kinds a fleet card serves, by wire value: purchases and pay at the pump. */
const fleet_kinds: ReadonlyMap<AuthorizationKind, 'purchase' | 'pre_authorization' | 'completion'> = new Map([
  [AuthorizationKind.AUTHORIZATION_KIND_UNSPECIFIED, 'purchase'],
  [AuthorizationKind.AUTHORIZATION_KIND_PURCHASE, 'purchase'],
  [AuthorizationKind.AUTHORIZATION_KIND_PRE_AUTHORIZATION, 'pre_authorization'],
  [AuthorizationKind.AUTHORIZATION_KIND_COMPLETION, 'completion'],
]);

function fleetKindOf(wire: AuthorizeRequest): 'purchase' | 'pre_authorization' | 'completion' {
  const kind = fleet_kinds.get(wire.kind);
  if (kind !== undefined) return kind;
  if (wire.kind === AuthorizationKind.UNRECOGNIZED || !(wire.kind in AuthorizationKind))
    throw invalidArgument('unknown authorization kind');
  if (wire.kind === AuthorizationKind.AUTHORIZATION_KIND_INCREMENTAL)
    throw unimplemented('INCREMENTAL is not served for fleet cards: a pump pre-authorizes once and completes');
  throw unimplemented('refunds are served by the Refund call (it needs a manager credential), not by Authorize');
}

/**
 * A fleet card's purchase, pre-authorization or completion: like parseAuthorize, plus the basket
 * and the prompts. A completion names its pre-authorization (`original`) and carries what was
 * delivered; the driver's prompts and PIN belong to the pre-authorization (a completion with
 * either is refused: they would be dropped); points are redeemed on purchases only.
 */
export function parseFleetAuthorize(wire: AuthorizeRequest): FleetMoneyRequest {
  const terminalId = requireId('terminal_id', wire.terminalId);
  const txn = requireTxnNumber('terminal_txn_number', wire.terminalTxnNumber);
  const { cardId, fleetId } = requireFleetCardId('card_id', wire.cardId);
  const { amountMinor, currency } = requireAmount('amount', wire.amount);
  const kind = fleetKindOf(wire);
  if (wire.cashier !== undefined)
    throw unimplemented('cashier logins are not served for fleet cards by this version', { field: 'cashier' });
  if (wire.offline !== undefined) throw unimplemented('fleet cards are not sold offline');
  const key = terminalTxnKey(terminalId, txn);
  let originalKey = '';
  if (kind === 'completion') {
    originalKey = refKey('original', wire.original);
    if (originalKey === key) throw invalidArgument('original must be another request than this one');
    if (wire.pin !== '') throw invalidArgument('pin is checked at the pre-authorization, not at its completion');
  } else if (wire.original !== undefined) throw invalidArgument('original is only valid for COMPLETION');
  const redeemPoints = wire.redeemPoints === undefined || wire.redeemPoints === 0n ? undefined : parseRedeemPoints(kind, wire.redeemPoints);
  if (wire.cardCryptogram !== undefined)
    throw invalidArgument('card_cryptogram is not accepted for fleet cards (they do not authenticate)');
  const lines = parseLines(wire, amountMinor);
  const prompts = {
    odometer_km: requireBounded('prompts.odometer_km', wire.prompts?.odometerKm ?? 0n, 0, odometer_km_max),
    driver_id: optionalId('prompts.driver_id', wire.prompts?.driverId ?? '', ''),
    vehicle_id: optionalId('prompts.vehicle_id', wire.prompts?.vehicleId ?? '', ''),
  };
  if (kind === 'completion' && (prompts.odometer_km !== 0 || prompts.driver_id !== '' || prompts.vehicle_id !== ''))
    throw invalidArgument('prompts are entered at the pre-authorization, not at its completion');
  // The PIN is hashed by the caller (withPin) and checked by the account; points are the account's.
  const request: Omit<FleetMoneyRequest, 'fingerprint'> = {
    kind,
    key,
    cardId,
    terminalId,
    amountMinor,
    currency,
    source: '',
    operatorId: '',
    originalKey,
    fleet: { fleetId, lines, prompts },
    ...(redeemPoints !== undefined ? { redeemPoints } : {}),
  };
  return { ...request, fingerprint: fleetFingerprint(request) };
}

/** A request of a fleet card that acts on an original (a void, a refund): no basket, no prompts. */
function onOriginal(
  kind: 'void' | 'refund',
  fields: {
    terminalId: string;
    txn: bigint;
    cardId: string;
    fleetId: string;
    original: string;
    amountMinor: number;
    currency: string;
    operatorId: string;
  },
): FleetMoneyRequest {
  const request: Omit<FleetMoneyRequest, 'fingerprint'> = {
    kind,
    key: terminalTxnKey(fields.terminalId, fields.txn),
    cardId: fields.cardId,
    terminalId: fields.terminalId,
    amountMinor: fields.amountMinor,
    currency: fields.currency,
    source: '',
    operatorId: fields.operatorId,
    originalKey: fields.original,
    fleet: { fleetId: fields.fleetId, lines: [], prompts: { odometer_km: 0, driver_id: '', vehicle_id: '' } },
  };
  return { ...request, fingerprint: fleetFingerprint(request) };
}

/** A void of a fleet card's pre-authorization: its hold released unused. */
export function parseFleetVoid(wire: VoidRequest): FleetMoneyRequest {
  const terminalId = requireId('terminal_id', wire.terminalId);
  const txn = requireTxnNumber('terminal_txn_number', wire.terminalTxnNumber);
  const { cardId, fleetId } = requireFleetCardId('card_id', wire.cardId);
  const original = refKey('original', wire.original);
  if (original === terminalTxnKey(terminalId, txn)) throw invalidArgument('a void cannot void itself');
  return onOriginal('void', { terminalId, txn, cardId, fleetId, original, amountMinor: 0, currency: '', operatorId: '' });
}

/** A refund (returned goods) on a fleet card, with its manager's credential (checked by the caller). */
export function parseFleetRefund(wire: RefundRequest): { request: FleetMoneyRequest; managerId: string; managerPin: string } {
  const terminalId = requireId('terminal_id', wire.terminalId);
  const txn = requireTxnNumber('terminal_txn_number', wire.terminalTxnNumber);
  const { cardId, fleetId } = requireFleetCardId('card_id', wire.cardId);
  const original = refKey('original', wire.original);
  if (original === terminalTxnKey(terminalId, txn)) throw invalidArgument('a refund cannot refer to itself');
  const { amountMinor, currency } = requireAmount('amount', wire.amount);
  const managerId = requireId('manager_id', wire.managerId);
  if (!/^[0-9]{4,12}$/.test(wire.managerPin)) throw invalidArgument('manager_pin must be 4-12 digits');
  const request = onOriginal('refund', { terminalId, txn, cardId, fleetId, original, amountMinor, currency, operatorId: managerId });
  return { request, managerId, managerPin: wire.managerPin };
}

/** Points of the fleet account to redeem on a purchase; bounded like money. */
function parseRedeemPoints(kind: FleetMoneyRequest['kind'], points: bigint): number {
  if (kind !== 'purchase') throw invalidArgument('redeem_points is only valid for a PURCHASE');
  if (points < 0n || points > BigInt(amount_abs_max_minor)) throw invalidArgument('redeem_points must be between 0 and 10^15');
  return Number(points);
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

/** The prompts of SetFleetPrompts: required, since an absent policy would silently turn every prompt off. */
export function parseRequiredPrompts(field: string, wire: PromptPolicy | undefined): DomainPromptPolicy {
  if (wire === undefined) throw invalidArgument(`${field} is required`);
  return parsePrompts(wire);
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
  [PriceFormula.PRICE_FORMULA_PUMP_PLUS_AMOUNT]: 'pump_plus_amount',
  [PriceFormula.PRICE_FORMULA_PUMP_PLUS_PERCENT]: 'pump_plus_percent',
};

export function parsePricing(agreements: readonly PriceAgreement[]): PriceAgreements {
  if (agreements.length > agreements_max) throw invalidArgument(`at most ${agreements_max} price agreements`);
  const parsed: Record<string, DomainPriceAgreement> = {};
  agreements.forEach((agreement, index) => {
    const field = `agreements[${index}]`;
    const formula = formulas[agreement.formula];
    if (formula === undefined)
      throw invalidArgument(
        `${field}.formula must be one of PUMP, SPOT_PLUS_AMOUNT, SPOT_PLUS_PERCENT, PUMP_MINUS_AMOUNT, PUMP_MINUS_PERCENT, PUMP_PLUS_AMOUNT, PUMP_PLUS_PERCENT`,
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

// ---------------------------------------------------------------------------------------------
// The postpaid cycle and the cards' pump settings.

export function parseBillingTerms(wire: BillingTerms | undefined): DomainBillingTerms {
  if (wire === undefined) throw invalidArgument('terms is required');
  const payment_terms_days = requireBounded('terms.payment_terms_days', wire.paymentTermsDays, 0, billing_days_max);
  if (wire.blockAfterOverdueDays === undefined) return { payment_terms_days };
  return {
    payment_terms_days,
    block_after_overdue_days: requireBounded('terms.block_after_overdue_days', wire.blockAfterOverdueDays, 0, billing_days_max),
  };
}

/** The cycle to close: a cycle number (the account's open one, FleetAccount.cycle). */
export function parseCycle(value: bigint): number {
  return requireBounded('cycle', value, 1, cycle_max);
}

export function parseCardPolicy(wire: WireFleetCardPolicy | undefined): FleetCardPolicy | undefined {
  if (wire === undefined) return undefined;
  return {
    pin_required: wire.pinRequired,
    pin_attempts_max: requireBounded('card_policy.pin_attempts_max', wire.pinAttemptsMax, 1, pin_attempts_max_max),
    hold_expiry_ms: requireBounded('card_policy.hold_expiry_ms', wire.holdExpiryMs, 1, hold_expiry_max_ms),
    completion_tolerance_bp: requireBounded('card_policy.completion_tolerance_bp', wire.completionToleranceBp, 0, 10_000),
  };
}

/** A payment received for a fleet account's invoices: a money request keyed by its reference. */
export function parseFleetPayment(wire: PostFleetPaymentRequest, acting: Acting): FleetMoneyRequest {
  const fleetId = requireId('fleet_id', wire.fleetId);
  const reference = requireClientKeyText('reference', wire.reference);
  const { amountMinor, currency } = requireAmount('amount', wire.amount);
  const request: Omit<FleetMoneyRequest, 'fingerprint'> = {
    kind: 'fleet_payment',
    key: fleetPaymentKey(fleetId, reference),
    cardId: '',
    terminalId: '',
    amountMinor,
    currency,
    source: '',
    operatorId: acting.subject,
    acting,
    originalKey: '',
    fleet: { fleetId, lines: [], prompts: { odometer_km: 0, driver_id: '', vehicle_id: '' } },
  };
  return { ...request, fingerprint: fleetFingerprint(request) };
}
