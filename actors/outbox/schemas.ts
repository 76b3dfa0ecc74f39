// The outbox contract as a reader checks it: one zod schema per document type (contract.ts holds
// the lists and the types as written, builders.ts the producers' side). The schemas accept every
// document the authorizer writes and every one it wrote before (fields added after v1 are
// optional and get the default docs/OUTBOX.md gives), and nothing a ClickHouse row could not hold.
// The streamer parses with them (services/streamer/rows.ts; its hand-written fast path for plain
// transactions is held to transaction_schema by a property test), and the authorizer reads its
// own idempotency records back through readTransactionDocument.

import { z } from 'zod';
import { describeIssues } from '../zod-issues';
import {
  cycle_max,
  flags_max,
  id_chars_max,
  lines_max,
  text_chars_max,
  transaction_kinds,
  transaction_outcomes,
  unix_ms_max,
  type CardDenylistChangedDocument,
  type CardIssuanceCancelledDocument,
  type CardIssuedDocument,
  type CardPinChangedDocument,
  type CardReplacedDocument,
  type CardStatusChangedDocument,
  type DocumentType,
  type FleetAccountChangedDocument,
  type FleetInvoiceDocument,
  type FleetTransactionDocument,
  type OperatorActionDocument,
  type AuditRecordDocument,
  type TapPourDocument,
  type TerminalEventDocument,
  type TerminalOfflineDocument,
  type TransactionDocument,
} from './contract';

/** Money is an integer of minor units that a JS number holds exactly. */
const money = z.number().int().min(-Number.MAX_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER);
const unix_ms = z.number().int().min(0).max(unix_ms_max);
const text = z.string().max(text_chars_max);
/** A fleet account's billing cycle number (ClickHouse keeps it as UInt32). */
const cycle = z.number().int().min(0).max(cycle_max);

export const line_schema = z.object({
  code: text,
  group: text.default(''),
  qty_milli: money.default(0),
  unit: money.default(0),
  amount: money,
  pump_unit: money.optional(),
  invoiced: money.optional(),
});

export const transaction_schema = z.object({
  type: z.literal('transaction'),
  f: text,
  id: z.string().min(1).max(id_chars_max),
  kind: z.enum(transaction_kinds),
  outcome: z.enum(transaction_outcomes),
  reason: text,
  rule: text,
  card: text,
  program: text,
  terminal: text,
  merchant: text,
  amount: money,
  requested: money,
  currency: text,
  balance_after: money,
  key: text,
  original: text,
  reverse: text,
  source: text,
  operator: text,
  at: unix_ms,
  // Optional since v1. balance_delta, pump and invoiced stay optional: their defaults are
  // expressions of other fields (v1BalanceDelta, amount), applied where a row is built.
  balance_delta: money.optional(),
  held_delta: money.default(0),
  deposit_delta: money.default(0),
  payout: money.default(0),
  hold: text.default(''),
  lines: z.array(line_schema).max(lines_max).default([]),
  odometer: money.default(0),
  driver: text.default(''),
  vehicle: text.default(''),
  fleet: text.default(''),
  pump: money.optional(),
  invoiced: money.optional(),
  discount: money.default(0),
  points_earned: money.default(0),
  points_redeemed: money.default(0),
  flags: z.array(text).max(flags_max).default([]),
  offline_at: unix_ms.default(0),
  account_balance_after: money.default(0),
  hold_amount: money.default(0),
  hold_expires_at: unix_ms.default(0),
  ledger_after: money.default(0),
  spent_after: money.default(0),
  liability: text.default(''),
  debt_delta: money.default(0),
  debt_after: money.default(0),
  // Fleet documents: absent before billing cycles existed (cycle 1; services/streamer's column default).
  cycle: cycle.optional(),
  cashier: text.default(''),
});

/** A transaction document as the contract reads it (defaults filled in, unknown fields dropped). */
export type ParsedTransaction = z.output<typeof transaction_schema>;

// The four card documents share one lenient field set: they land in the same lifecycle_events
// columns, and documents written before a field existed must keep parsing.
const card_event_fields = {
  card: text,
  program: text.default(''),
  currency: text.default(''),
  status: text.default(''),
  amount: money.default(0),
  operator: text.default(''),
  reason: text.default(''),
  at: unix_ms,
  deposit: money.default(0),
  named: z.boolean().default(false),
  expires_at: unix_ms.default(0),
  issuance: text.default(''),
  fleet: text.default(''),
  previous: text.default(''),
  replacement: text.default(''),
  event: text.default(''),
  action: text.default(''),
  approver: text.default(''),
};

export const card_issued_schema = z.object({ type: z.literal('card_issued'), ...card_event_fields });
export const card_status_changed_schema = z.object({ type: z.literal('card_status_changed'), ...card_event_fields });
export const card_replaced_schema = z.object({ type: z.literal('card_replaced'), ...card_event_fields });
export const card_pin_changed_schema = z.object({ type: z.literal('card_pin_changed'), ...card_event_fields });
export const card_denylist_changed_schema = z.object({ type: z.literal('card_denylist_changed'), ...card_event_fields });
export const card_issuance_cancelled_schema = z.object({ type: z.literal('card_issuance_cancelled'), ...card_event_fields });

const terminal_event_fields = {
  terminal: text,
  merchant: text.default(''),
  enabled: z.boolean(),
  operator: text.default(''),
  reason: text.default(''),
  at: unix_ms,
};
export const terminal_registered_schema = z.object({ type: z.literal('terminal_registered'), ...terminal_event_fields });
export const terminal_enabled_changed_schema = z.object({ type: z.literal('terminal_enabled_changed'), ...terminal_event_fields });

export const terminal_offline_schema = z.object({
  type: z.literal('terminal_offline'),
  terminal: text,
  merchant: text.default(''),
  event: text,
  version: money,
  behind: money.default(0),
  entries: money.default(0),
  missing: money.default(0),
  operator: text.default(''),
  at: unix_ms,
});

export const fleet_account_changed_schema = z.object({
  type: z.literal('fleet_account_changed'),
  fleet: text,
  currency: text.default(''),
  event: text.default(''),
  operator: text.default(''),
  reason: text.default(''),
  at: unix_ms,
});

export const fleet_invoice_schema = z.object({
  type: z.literal('fleet_invoice'),
  fleet: text,
  number: text,
  cycle,
  currency: text,
  amount: money,
  applied: money.default(0),
  opened_at: unix_ms,
  due_at: unix_ms,
  operator: text.default(''),
  at: unix_ms,
});

export const operator_action_schema = z.object({
  type: z.literal('operator_action'),
  action: text,
  subject: text.default(''),
  detail: text.default(''),
  operator: text.default(''),
  reason: text.default(''),
  at: unix_ms,
});

export const audit_record_schema = z.object({
  type: z.literal('audit_record'),
  action: text,
  principal: text,
  role: text.default(''),
  scope: text.default(''),
  approver: text.default(''),
  subject: text.default(''),
  before: text.default('{}'),
  after: text.default('{}'),
  at: unix_ms,
});
/** Millilitres one pour report may carry: 10,000 litres, a tap's year. */
export const poured_ml_max = 10_000_000;

export const tap_pour_schema = z.object({
  type: z.literal('tap_pour'),
  terminal: text,
  merchant: text,
  report: text,
  transaction: text.default(''),
  from: unix_ms.default(0),
  to: unix_ms.default(0),
  poured_ml: z.number().int().min(0).max(poured_ml_max),
  product: text.default(''),
  at: unix_ms,
});
export type ParsedTapPour = z.output<typeof tap_pour_schema>;

/** The schema of each document type; a type added to document_types without one does not compile. */
export const document_schemas = {
  transaction: transaction_schema,
  card_issued: card_issued_schema,
  card_status_changed: card_status_changed_schema,
  card_replaced: card_replaced_schema,
  card_pin_changed: card_pin_changed_schema,
  card_denylist_changed: card_denylist_changed_schema,
  card_issuance_cancelled: card_issuance_cancelled_schema,
  terminal_registered: terminal_registered_schema,
  terminal_enabled_changed: terminal_enabled_changed_schema,
  terminal_offline: terminal_offline_schema,
  fleet_account_changed: fleet_account_changed_schema,
  fleet_invoice: fleet_invoice_schema,
  operator_action: operator_action_schema,
  audit_record: audit_record_schema,
  tap_pour: tap_pour_schema,
} as const satisfies { readonly [T in DocumentType]: z.ZodType };

export type ParsedCardEvent = z.output<
  | typeof card_issued_schema
  | typeof card_status_changed_schema
  | typeof card_replaced_schema
  | typeof card_pin_changed_schema
  | typeof card_denylist_changed_schema
  | typeof card_issuance_cancelled_schema
>;
export type ParsedTerminalOffline = z.output<typeof terminal_offline_schema>;
export type ParsedTerminalEvent = z.output<typeof terminal_registered_schema | typeof terminal_enabled_changed_schema>;
export type ParsedFleetAccountEvent = z.output<typeof fleet_account_changed_schema>;
export type ParsedOperatorAction = z.output<typeof operator_action_schema>;
export type ParsedFleetInvoice = z.output<typeof fleet_invoice_schema>;
export type ParsedAuditRecord = z.output<typeof audit_record_schema>;

/** The transaction schema alone: the reference the streamer's fast path is held to. */
export function parseTransaction(document: unknown): ParsedTransaction | undefined {
  const parsed = transaction_schema.safeParse(document);
  return parsed.success ? parsed.data : undefined;
}

/**
 * A stored transaction document read back as written (an idempotency record: the answer to a
 * retry, the original of a reversal or refund, a receipt). It is checked against the contract;
 * fields the producer left out stay absent (no defaults), which is how a reader tells a v1
 * purchase from a document that carries, say, its hold.
 */
export function readTransactionDocument(json: string): { ok: true; document: TransactionDocument } | { ok: false; problem: string } {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return { ok: false, problem: 'not JSON' };
  }
  const parsed = transaction_schema.safeParse(value);
  if (!parsed.success) return { ok: false, problem: describeIssues(parsed.error) };
  // Validated above; returned as written so that absent optional fields stay absent.
  return { ok: true, document: value as TransactionDocument };
}

// Every document as written is a document as read: checked when this file compiles.
type DeepReadonly<T> = T extends (infer E)[]
  ? readonly DeepReadonly<E>[]
  : T extends object
    ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
    : T;
type Accepts<Schema extends z.ZodType, Written extends DeepReadonly<z.input<Schema>>> = Written;
export type WrittenDocumentsConform = [
  Accepts<typeof transaction_schema, TransactionDocument>,
  Accepts<typeof transaction_schema, FleetTransactionDocument>,
  Accepts<typeof card_issued_schema, CardIssuedDocument>,
  Accepts<typeof card_status_changed_schema, CardStatusChangedDocument>,
  Accepts<typeof card_replaced_schema, CardReplacedDocument>,
  Accepts<typeof card_pin_changed_schema, CardPinChangedDocument>,
  Accepts<typeof card_denylist_changed_schema, CardDenylistChangedDocument>,
  Accepts<typeof terminal_offline_schema, TerminalOfflineDocument>,
  Accepts<typeof card_issuance_cancelled_schema, CardIssuanceCancelledDocument>,
  Accepts<typeof terminal_registered_schema, TerminalEventDocument & { type: 'terminal_registered' }>,
  Accepts<typeof terminal_enabled_changed_schema, TerminalEventDocument & { type: 'terminal_enabled_changed' }>,
  Accepts<typeof fleet_account_changed_schema, FleetAccountChangedDocument>,
  Accepts<typeof fleet_invoice_schema, FleetInvoiceDocument>,
  Accepts<typeof operator_action_schema, OperatorActionDocument>,
  Accepts<typeof audit_record_schema, AuditRecordDocument>,
  Accepts<typeof tap_pour_schema, TapPourDocument>,
];
