// The pure rules of merchant settlement: fee rates and their validation, the settlement period a
// date falls in, what a merchant is owed from the per-amount aggregates of its transactions, and
// the bank-transfer CSV. No I/O, no clock: callers pass `now_ms`. Money is integer minor units;
// the fee of one transaction is computed with BigInt, so no intermediate product loses precision.
// The layouts and formulas are documented in docs/REPORTING.md ("Settlement").

import { z } from 'zod';
import { currency_exponents } from '../../actors/money';
import { ParameterError } from './errors';
import { id_pattern } from './params';

export const settlement_cycles = ['daily', 'weekly', 'monthly'] as const;
export type SettlementCycle = (typeof settlement_cycles)[number];

/**
 * Operation types a rate can be set for: the kinds that move money between a card and a merchant.
 * The rate of `top_up` is a commission the operator pays the merchant for top-ups taken at its
 * terminals (the merchant holds that cash, which the batch deducts); every other rate is a fee the
 * merchant pays.
 */
export const fee_kinds = ['purchase', 'completion', 'reverse', 'refund', 'top_up'] as const;
export type FeeKind = (typeof fee_kinds)[number];
/** Kinds that add to what the merchant is owed (their amount); reverse and refund deduct what they took back (delta_minor). */
const gross_kinds: readonly string[] = ['purchase', 'completion'];

/**
 * Offline sales charged to their card are settled as purchases, their voids as reversals, at the
 * same rates (docs/OFFLINE.md); the sales the merchant carries are declined, so never settled.
 */
const settled_as: Readonly<Record<string, FeeKind>> = { offline_purchase: 'purchase', offline_void: 'reverse' };
/** The deployer's part of `fees_minor`: fees × share / 10 000, rounded half up (BigInt, exact). */
export function deployerShareOf(fees_minor: number, share_bp: number): number {
  if (!Number.isSafeInteger(fees_minor) || fees_minor < 0) return 0;
  return Number((BigInt(fees_minor) * BigInt(share_bp) + 5_000n) / 10_000n);
}

/** 100% in basis points: a fee rate is never more than the amount it is charged on (plus the fixed part). */
export const percent_bp_max = 10_000;
/** A fixed fee per transaction above this is a typo (10 000.00 in a 2-decimal currency). */
export const fixed_fee_minor_max = 1_000_000;

export interface FeeRate {
  readonly kind: FeeKind;
  /** Percentage of the transaction amount in basis points (150 = 1.50%). */
  readonly percent_bp: number;
  /** Fixed part per transaction, in minor units of the transaction's currency. */
  readonly fixed_minor: number;
}

/** Who deployed the merchant's terminals and takes a share of the fees charged on their transactions. */
export interface TerminalDeployer {
  readonly id: string;
  readonly payee_name: string;
  readonly payee_iban: string;
  /** The deployer's share of the fees in basis points (5000 = half). */
  readonly share_bp: number;
}

export interface MerchantSettlementConfig {
  readonly merchant: string;
  readonly cycle: SettlementCycle;
  /** The approved payee account batches pay to ("" until one is approved). */
  readonly payee_name: string;
  readonly payee_iban: string;
  readonly rates: readonly FeeRate[];
  readonly deployer?: TerminalDeployer;
  readonly updated_by: string;
  readonly updated_at_ms: number;
  /** Who approved the payee account in use (four eyes: never its proposer). */
  readonly payee_approved_by?: string;
  /** A proposed payee account, applied only once a settlement approver other than its proposer approves it. */
  readonly pending_payee?: PendingPayee;
}

export interface PendingPayee {
  readonly payee_name: string;
  readonly payee_iban: string;
  readonly proposed_by: string;
  readonly proposed_at_ms: number;
}

// Payee text goes into a bank file: a plain alphabet, no quote, comma or control character.
const payee_name_pattern = /^[A-Za-z0-9][A-Za-z0-9 .&/-]{0,69}$/;
const iban_pattern = /^[A-Z]{2}[0-9]{2}[A-Z0-9]{10,30}$/;

const config_body_schema = z
  .object({
    cycle: z.enum(settlement_cycles),
    payee_name: z.string().regex(payee_name_pattern),
    payee_iban: z.string().regex(iban_pattern),
    rates: z
      .array(
        z
          .object({
            kind: z.enum(fee_kinds),
            percent_bp: z.number().int().min(0).max(percent_bp_max),
            fixed_minor: z.number().int().min(0).max(fixed_fee_minor_max),
          })
          .strict(),
      )
      .max(fee_kinds.length),
    deployer: z
      .object({
        id: z.string().regex(id_pattern),
        payee_name: z.string().regex(payee_name_pattern),
        payee_iban: z.string().regex(iban_pattern),
        share_bp: z.number().int().min(0).max(percent_bp_max),
      })
      .strict()
      .optional(),
  })
  .strict();

/** Validates a PUT body into a merchant's settlement configuration; throws ParameterError naming the field. */
export function parseMerchantConfig(merchant: string, body: unknown, operator: string, now_ms: number): MerchantSettlementConfig {
  const parsed = config_body_schema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ParameterError(
      issue === undefined || issue.path.length === 0 ? 'body' : issue.path.join('.'),
      issue?.message ?? 'is invalid',
    );
  }
  const kinds = parsed.data.rates.map((rate) => rate.kind);
  if (new Set(kinds).size !== kinds.length) throw new ParameterError('rates', 'names an operation type more than once');
  return { merchant, ...parsed.data, updated_by: operator, updated_at_ms: now_ms };
}

/** The fee of one transaction: fixed + amount × bp / 10 000, rounded half up (amounts are ≥ 0). */
export function feeOf(amount_minor: number, rate: Pick<FeeRate, 'percent_bp' | 'fixed_minor'> | undefined): number {
  if (rate === undefined) return 0;
  if (!Number.isSafeInteger(amount_minor) || amount_minor < 0) throw new Error(`assertion: fee on ${amount_minor}`);
  const fee = (BigInt(amount_minor) * BigInt(rate.percent_bp) + 5_000n) / 10_000n + BigInt(rate.fixed_minor);
  // Amounts are bounded far below 2^53 (actors/money.ts: 10^15), so this only fires on corrupt data.
  if (fee > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`assertion: fee on ${amount_minor} exceeds safe integers`);
  return Number(fee);
}

// ---- periods --------------------------------------------------------------------------------

const day_ms = 86_400_000;

export interface SettlementPeriod {
  readonly cycle: SettlementCycle;
  /** First day (UTC), YYYY-MM-DD. */
  readonly from: string;
  /** Last day (UTC, inclusive), YYYY-MM-DD. */
  readonly to: string;
  readonly from_ms: number;
  /** Exclusive end: UTC midnight after `to`. */
  readonly until_ms: number;
}

const isoDay = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

/** The period of `cycle` that contains the UTC day starting at `day_start_ms`: the day, its ISO week (Monday first) or its month. */
export function periodOf(cycle: SettlementCycle, day_start_ms: number): SettlementPeriod {
  if (day_start_ms % day_ms !== 0) throw new Error('assertion: not a UTC midnight');
  let from_ms = day_start_ms;
  let until_ms = day_start_ms + day_ms;
  if (cycle === 'weekly') {
    const weekday = (new Date(day_start_ms).getUTCDay() + 6) % 7; // Monday 0 … Sunday 6
    from_ms = day_start_ms - weekday * day_ms;
    until_ms = from_ms + 7 * day_ms;
  } else if (cycle === 'monthly') {
    const date = new Date(day_start_ms);
    from_ms = Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), 1);
    until_ms = Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1);
  }
  return { cycle, from: isoDay(from_ms), to: isoDay(until_ms - day_ms), from_ms, until_ms };
}

/** A batch is named by what it settles, so computing or approving it twice can only ever name one batch. */
export function batchId(merchant: string, period: SettlementPeriod): string {
  return `${merchant}.${period.cycle}.${period.from}`;
}

/** merchant (id alphabet) . cycle . YYYY-MM-DD */
export const batch_id_pattern = /^([A-Za-z0-9._-]{1,64})\.(daily|weekly|monthly)\.([0-9]{4}-[0-9]{2}-[0-9]{2})$/;

// ---- what a merchant is owed ------------------------------------------------------------------

/** One row of the settlement query: approved transactions of one kind and amount. */
export interface AmountAggregate {
  readonly currency: string;
  readonly kind: string;
  readonly amount_minor: number;
  readonly count: number;
  /** What those transactions took back from the merchant: their amount (reversals that only released a hold are not selected). */
  readonly delta_minor: number;
}

export interface SettlementLine {
  readonly currency: string;
  readonly purchases: number;
  readonly gross_minor: number;
  readonly reversals: number;
  readonly reversals_minor: number;
  readonly refunds: number;
  readonly refunds_minor: number;
  readonly fees_minor: number;
  /** Top-ups taken at the merchant's terminals: the merchant holds that money for the operator. */
  readonly top_ups: number;
  readonly top_ups_minor: number;
  /** The commission on those top-ups (the `top_up` rate), paid to the merchant. */
  readonly top_up_commission_minor: number;
  /** The terminal deployer's share of `fees_minor`, paid to the deployer (0 without one). */
  readonly deployer_share_minor: number;
  /** gross − reversals − refunds − fees − top-ups + commission; negative when the merchant owes the operator. */
  readonly net_minor: number;
}

function safe(value: number): number {
  if (!Number.isSafeInteger(value)) throw new Error('assertion: settlement total exceeds safe integers');
  return value;
}

interface LineTotals {
  purchases: number;
  gross: number;
  reversals: number;
  reversals_minor: number;
  refunds: number;
  refunds_minor: number;
  fees: number;
  top_ups: number;
  top_ups_minor: number;
  commission: number;
}

function addAggregate(line: LineTotals, row: AmountAggregate, rate: FeeRate | undefined): void {
  const charge = feeOf(row.amount_minor, rate) * row.count;
  if (gross_kinds.includes(row.kind)) {
    line.purchases = safe(line.purchases + row.count);
    line.gross = safe(line.gross + row.amount_minor * row.count);
  } else if (row.kind === 'reverse') {
    line.reversals = safe(line.reversals + row.count);
    line.reversals_minor = safe(line.reversals_minor + row.delta_minor);
  } else if (row.kind === 'refund') {
    line.refunds = safe(line.refunds + row.count);
    line.refunds_minor = safe(line.refunds_minor + row.delta_minor);
  } else {
    line.top_ups = safe(line.top_ups + row.count);
    line.top_ups_minor = safe(line.top_ups_minor + row.delta_minor);
    line.commission = safe(line.commission + charge);
    return;
  }
  line.fees = safe(line.fees + charge);
}

/** Per currency (sorted), what the merchant is owed for the period, and the deployer's share of the fees. */
export function settlementLines(
  aggregates: readonly AmountAggregate[],
  rates: readonly FeeRate[],
  deployer_share_bp = 0,
): SettlementLine[] {
  const byCurrency = new Map<string, LineTotals>();
  const rateOf = new Map(rates.map((rate) => [rate.kind as string, rate]));
  for (const aggregate of aggregates) {
    const row = Object.hasOwn(settled_as, aggregate.kind) ? { ...aggregate, kind: settled_as[aggregate.kind] as FeeKind } : aggregate;
    if (!(fee_kinds as readonly string[]).includes(row.kind)) continue;
    const line = byCurrency.get(row.currency) ?? {
      purchases: 0,
      gross: 0,
      reversals: 0,
      reversals_minor: 0,
      refunds: 0,
      refunds_minor: 0,
      fees: 0,
      top_ups: 0,
      top_ups_minor: 0,
      commission: 0,
    };
    byCurrency.set(row.currency, line);
    addAggregate(line, row, rateOf.get(row.kind));
  }
  return [...byCurrency.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([currency, line]) => ({
      currency,
      purchases: line.purchases,
      gross_minor: line.gross,
      reversals: line.reversals,
      reversals_minor: line.reversals_minor,
      refunds: line.refunds,
      refunds_minor: line.refunds_minor,
      fees_minor: line.fees,
      top_ups: line.top_ups,
      top_ups_minor: line.top_ups_minor,
      top_up_commission_minor: line.commission,
      deployer_share_minor: deployerShareOf(line.fees, deployer_share_bp),
      net_minor: safe(line.gross - line.reversals_minor - line.refunds_minor - line.fees - line.top_ups_minor + line.commission),
    }));
}

// ---- the bank-transfer file -------------------------------------------------------------------

export const bank_csv_columns = [
  'batch_id',
  'line',
  'direction',
  'payee_name',
  'payee_iban',
  'currency',
  'amount',
  'amount_minor',
  'reference',
  'period_from',
  'period_to',
] as const;

/** minor units → decimal text with the currency's exponent (1234 EUR → "12.34", 5 JPY → "5", -7 → "-0.07"). */
export function decimalAmount(amount_minor: number, currency: string): string {
  const exponent = currency_exponents[currency];
  if (exponent === undefined) throw new Error(`assertion: unknown currency ${currency}`);
  if (!Number.isSafeInteger(amount_minor)) throw new Error('assertion: amount is not a safe integer');
  const digits = String(Math.abs(amount_minor)).padStart(exponent + 1, '0');
  const whole = exponent === 0 ? digits : `${digits.slice(0, -exponent)}.${digits.slice(-exponent)}`;
  return amount_minor < 0 ? `-${whole}` : whole;
}

export interface BankFileInput {
  readonly batch_id: string;
  readonly payee_name: string;
  readonly payee_iban: string;
  readonly period: Pick<SettlementPeriod, 'from' | 'to'>;
  readonly lines: readonly SettlementLine[];
  /** The terminal deployer, paid its share of the fees (a credit line per currency with a share). */
  readonly deployer?: Pick<TerminalDeployer, 'id' | 'payee_name' | 'payee_iban'>;
}

/** One payment of a bank file: to the merchant (its net) or to the deployer (its share). */
export interface BankPayment {
  readonly direction: 'credit' | 'debit';
  readonly payee_name: string;
  readonly payee_iban: string;
  readonly currency: string;
  /** Absolute amount, > 0. */
  readonly amount_minor: number;
  readonly reference: string;
}

/** The payments of a batch, in file order: per currency, the merchant's net, then the deployer's share. */
export function bankPayments(input: BankFileInput): BankPayment[] {
  const payments: BankPayment[] = [];
  for (const line of input.lines) {
    if (line.net_minor !== 0)
      payments.push({
        direction: line.net_minor > 0 ? 'credit' : 'debit',
        payee_name: input.payee_name,
        payee_iban: input.payee_iban,
        currency: line.currency,
        amount_minor: Math.abs(line.net_minor),
        reference: `TAPLINE ${input.batch_id} ${line.currency}`.slice(0, 140),
      });
    if (input.deployer !== undefined && line.deployer_share_minor > 0)
      payments.push({
        direction: 'credit',
        payee_name: input.deployer.payee_name,
        payee_iban: input.deployer.payee_iban,
        currency: line.currency,
        amount_minor: line.deployer_share_minor,
        reference: `TAPLINE ${input.batch_id} ${line.currency} DEPLOYER ${input.deployer.id}`.slice(0, 140),
      });
  }
  return payments;
}

/**
 * The bank-transfer CSV of an approved batch: UTF-8 without BOM, CRLF, a header line, one line
 * per currency with a non-zero net (and one per currency with a deployer share). `direction` is credit (we pay the merchant) or debit (the
 * merchant owes us); `amount` is the absolute net as a decimal with the currency's exponent and a
 * dot, `amount_minor` the same in minor units. Every cell is from a validated alphabet, so no
 * quoting is ever needed (asserted).
 */
export function bankTransferCsv(input: BankFileInput): string {
  const rows: string[][] = [[...bank_csv_columns]];
  bankPayments(input).forEach((payment, index) => {
    rows.push([
      input.batch_id,
      String(index + 1),
      payment.direction,
      payment.payee_name,
      payment.payee_iban,
      payment.currency,
      decimalAmount(payment.amount_minor, payment.currency),
      String(payment.amount_minor),
      payment.reference,
      input.period.from,
      input.period.to,
    ]);
  });
  for (const row of rows) {
    for (const cell of row) if (/[",\r\n]/.test(cell)) throw new Error('assertion: bank CSV cell needs quoting');
  }
  return rows.map((row) => row.join(',')).join('\r\n') + '\r\n';
}

/** The operator named by a request header: an id like any other. */
