// The streamer's fast path for transaction documents, the bulk of the outbox: a hand-written
// check that accepts a document only where the contract's zod schema (transaction_schema in
// actors/outbox/schemas.ts) would, and returns exactly what zod would (defaults filled, unknown
// keys dropped). Anything it is not sure about (a basket, a field of the wrong type, an unknown
// kind) answers undefined and goes through zod, which then accepts it or says precisely why not.
// Tests hold the two to the same answers (test/unit/streamer-fast-path.test.ts on random
// documents, test/unit/outbox-contract.test.ts on every document the builders write, per kind);
// zod stays the one definition of the contract, and the bounds and kinds here are the contract's.

import { cycle_max, flags_max, id_chars_max, text_chars_max, transaction_kinds, unix_ms_max } from '../../actors/outbox/contract';
import type { ParsedTransaction } from '../../actors/outbox/schemas';

const kinds: ReadonlySet<unknown> = new Set(transaction_kinds);

const isText = (value: unknown): value is string => typeof value === 'string' && value.length <= text_chars_max;
const isMoney = (value: unknown): value is number => Number.isSafeInteger(value);
const isUnixMs = (value: unknown): value is number =>
  Number.isSafeInteger(value) && (value as number) >= 0 && (value as number) <= unix_ms_max;

/** Thrown inside the fast path when a field is not what the schema wants: the caller asks zod. */
class NotSure extends Error {}
/** One instance, made once: the fast path's bail-out must not cost a stack trace per document. */
const not_sure = new NotSure('the fast path leaves this document to zod');

function textOr(value: unknown, fallback: string): string {
  if (value === undefined) return fallback;
  if (!isText(value)) throw not_sure;
  return value;
}

function moneyOr(value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (!isMoney(value)) throw not_sure;
  return value;
}

function unixMsOr(value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (!isUnixMs(value)) throw not_sure;
  return value;
}

function optionalMoney(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (!isMoney(value)) throw not_sure;
  return value;
}

function flagsOf(value: unknown): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.length > flags_max) throw not_sure;
  for (const flag of value) if (!isText(flag)) throw not_sure;
  return value as string[];
}

/** The text fields every transaction document has, when each is a bounded text (else undefined: zod decides). */
function textFields(d: Record<string, unknown>) {
  const { f, reason, rule, card, program, terminal, merchant, currency, key, original, reverse, source, operator } = d;
  if (
    !isText(f) ||
    !isText(reason) ||
    !isText(rule) ||
    !isText(card) ||
    !isText(program) ||
    !isText(terminal) ||
    !isText(merchant) ||
    !isText(currency) ||
    !isText(key) ||
    !isText(original) ||
    !isText(reverse) ||
    !isText(source) ||
    !isText(operator)
  )
    return undefined;
  return { f, reason, rule, card, program, terminal, merchant, currency, key, original, reverse, source, operator };
}

/** The parsed transaction, or undefined when zod must decide (including every document with lines). */
export function fastTransaction(document: Record<string, unknown>): ParsedTransaction | undefined {
  const d = document;
  // The two outcomes of transaction_outcomes, compared directly: this runs for every entry.
  if (d['type'] !== 'transaction' || !kinds.has(d['kind']) || (d['outcome'] !== 'approved' && d['outcome'] !== 'declined'))
    return undefined;
  const id = d['id'];
  if (typeof id !== 'string' || id.length === 0 || id.length > id_chars_max) return undefined;
  const lines = d['lines'];
  if (lines !== undefined && !(Array.isArray(lines) && lines.length === 0)) return undefined;
  // A fleet document's billing cycle (UInt32 in ClickHouse).
  const cycle = d['cycle'];
  if (cycle !== undefined && !(Number.isSafeInteger(cycle) && (cycle as number) >= 0 && (cycle as number) <= cycle_max)) return undefined;
  const texts = textFields(d);
  if (texts === undefined) return undefined;
  const { f, reason, rule, card, program, terminal, merchant, currency, key, original, reverse, source, operator } = texts;
  const { amount, requested, balance_after, at } = d;
  if (!isMoney(amount) || !isMoney(requested) || !isMoney(balance_after) || !isUnixMs(at)) return undefined;
  try {
    const balance_delta = optionalMoney(d['balance_delta']);
    const pump = optionalMoney(d['pump']);
    const invoiced = optionalMoney(d['invoiced']);
    return {
      type: 'transaction',
      f,
      id,
      kind: d['kind'] as ParsedTransaction['kind'],
      outcome: d['outcome'],
      reason,
      rule,
      card,
      program,
      terminal,
      merchant,
      amount,
      requested,
      currency,
      balance_after,
      key,
      original,
      reverse,
      source,
      operator,
      at,
      ...(balance_delta === undefined ? {} : { balance_delta }),
      held_delta: moneyOr(d['held_delta'], 0),
      deposit_delta: moneyOr(d['deposit_delta'], 0),
      payout: moneyOr(d['payout'], 0),
      hold: textOr(d['hold'], ''),
      lines: [],
      odometer: moneyOr(d['odometer'], 0),
      driver: textOr(d['driver'], ''),
      vehicle: textOr(d['vehicle'], ''),
      fleet: textOr(d['fleet'], ''),
      ...(pump === undefined ? {} : { pump }),
      ...(invoiced === undefined ? {} : { invoiced }),
      discount: moneyOr(d['discount'], 0),
      points_earned: moneyOr(d['points_earned'], 0),
      points_redeemed: moneyOr(d['points_redeemed'], 0),
      flags: flagsOf(d['flags']),
      offline_at: unixMsOr(d['offline_at'], 0),
      account_balance_after: moneyOr(d['account_balance_after'], 0),
      hold_amount: moneyOr(d['hold_amount'], 0),
      hold_expires_at: unixMsOr(d['hold_expires_at'], 0),
      ledger_after: moneyOr(d['ledger_after'], 0),
      spent_after: moneyOr(d['spent_after'], 0),
      liability: textOr(d['liability'], ''),
      debt_delta: moneyOr(d['debt_delta'], 0),
      debt_after: moneyOr(d['debt_after'], 0),
      cashier: textOr(d['cashier'], ''),
      ...(cycle === undefined ? {} : { cycle: cycle as number }),
    };
  } catch (error) {
    if (error === not_sure) return undefined;
    throw error;
  }
}
