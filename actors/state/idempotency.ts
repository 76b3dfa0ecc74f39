// How the answer to a request key is stored (its idempotency record; the key layout is
// services/authorizer/store/keys.ts). The record is kept for TAPLINE_IDEMPOTENCY_TTL_S, once per
// money request, so it is most of what Redis keeps per authorization: it holds what a retry is
// answered with and what a later reversal, refund, void, completion or receipt reads of its
// original (the fingerprint, where it was made, the answer), and nothing the reports need only
// (those read the outbox document, which is streamed to ClickHouse and then trimmed).
//
// Layout 1 is the full transaction document (actors/outbox/contract.ts), JSON, as every record
// was written before this codec: it starts with "{" and is read by actors/card/transaction.ts.
// Layout 2 is a JSON array, positional, without field names:
//   [2, fingerprint, terminal, merchant, id, kind code, outcome (1 approved, 0 declined), card,
//    amount, currency, balance after, at, more?]
// where the fingerprint, whose head repeats the kind, card, currency and terminal, is kept as
// [requested amount, rest] whenever it rebuilds exactly from them,
// and `more`, absent when empty, holds the answer's optional fields under their TxnResult names
// (reason, rule, reverse, holds, program and fleet figures) and a purchase's basket (`lines`, for
// its receipt). A plain purchase's record is then ~100 bytes instead of ~450. A layout this build
// does not know (a newer node's, read during a rolling upgrade) is refused, never guessed at.
//
// Cost: encoding is one JSON.stringify of an array per money decision (the hot path); decoding
// validates with zod and runs only when a record is read back (a retry the node does not
// remember, an original of a reversal or refund, a receipt).

import { z } from 'zod';
import type { IdempotencyRecord, TxnResult } from '../card/transaction';
import { line_schema } from '../outbox/schemas';
import type { TransactionKind } from '../outbox/contract';
import { describeIssues } from '../zod-issues';
import { StoredStateError } from './codec';
import { integer } from './schemas';

/** The layout this build writes. */
export const idempotency_record_version = 2;

const program_figures_schema = z
  .object({ discountMinor: integer, pointsEarned: integer, pointsRedeemed: integer, flags: z.array(z.string()) })
  .strict();

const fleet_figures_schema = z
  .object({
    fleetId: z.string(),
    pumpMinor: integer,
    invoicedMinor: integer,
    discountMinor: integer,
    pointsEarned: integer,
    pointsRedeemed: integer,
    flags: z.array(z.string()),
    accountBalanceAfterMinor: integer,
    driverId: z.string().optional(),
    vehicleId: z.string().optional(),
    cycle: integer.optional(),
  })
  .strict();

/** The optional fields of an answer (TxnResult's names) and a purchase's basket. */
const more_schema = z
  .object({
    reason: z.string().optional(),
    rule: z.string().optional(),
    reverse: z.enum(['reversed', 'already_reversed', 'nothing_to_reverse']).optional(),
    holdMinor: integer.optional(),
    holdExpiresAtMs: integer.optional(),
    ledgerAfterMinor: integer.optional(),
    spentMinor: integer.optional(),
    program: program_figures_schema.optional(),
    fleet: fleet_figures_schema.optional(),
    lines: z.array(line_schema).optional(),
  })
  .strict();

/**
 * A kind's code in a record: its place in this list, which only ever grows at the end (a record
 * keeps its code for its whole window). Every kind of the contract has one (checked below).
 */
const stored_kinds = [
  'purchase',
  'top_up',
  'reverse',
  'pre_authorization',
  'incremental',
  'completion',
  'void',
  'hold_expiry',
  'refund',
  'cash_out',
  'transfer_out',
  'transfer_in',
  'tab_settlement',
  'offline_purchase',
  'offline_void',
  'fleet_payment',
] as const satisfies readonly TransactionKind[];
type KindsWithoutCode = Exclude<TransactionKind, (typeof stored_kinds)[number]>;
export const every_kind_has_a_code: KindsWithoutCode extends never ? true : KindsWithoutCode = true;

const kind_codes = new Map<string, number>(stored_kinds.map((kind, code) => [kind, code]));

const kind_code_schema = z
  .number()
  .int()
  .min(0)
  .max(stored_kinds.length - 1);

/** The fingerprint as is, or [requested amount, what follows the terminal] (fingerprintField). */
const fingerprint_schema = z.union([z.string(), z.tuple([integer, z.string()])]);

const layout_2_schema = z.union([
  z.tuple([
    z.literal(2),
    fingerprint_schema,
    z.string(),
    z.string(),
    z.string(),
    kind_code_schema,
    z.union([z.literal(0), z.literal(1)]),
    z.string(),
    integer,
    z.string(),
    integer,
    integer,
  ]),
  z.tuple([
    z.literal(2),
    fingerprint_schema,
    z.string(),
    z.string(),
    z.string(),
    kind_code_schema,
    z.union([z.literal(0), z.literal(1)]),
    z.string(),
    integer,
    z.string(),
    integer,
    integer,
    more_schema,
  ]),
]);

/** The record of a money decision in the current layout. */
export function encodeIdempotencyRecord(record: IdempotencyRecord): string {
  const { id, kind, outcome, cardId, amountMinor, currency, balanceAfterMinor, atMs, ...rest } = record.r;
  const head = [
    idempotency_record_version,
    fingerprintField(record.f, record.r, record.origin?.terminalId ?? ''),
    record.origin?.terminalId ?? '',
    record.origin?.merchantId ?? '',
    id,
    kind_codes.get(kind),
    outcome === 'approved' ? 1 : 0,
    cardId,
    amountMinor,
    currency,
    balanceAfterMinor,
    atMs,
  ];
  const more: Record<string, unknown> = {};
  let any = false;
  // Only the fields that are set: an absent field stays absent when read back.
  for (const [name, value] of Object.entries(rest))
    if (value !== undefined) {
      more[name] = value;
      any = true;
    }
  if (record.lines !== undefined && record.lines.length > 0) {
    more['lines'] = record.lines;
    any = true;
  }
  return JSON.stringify(any ? [...head, more] : head);
}

/**
 * A request's fingerprint (actors/card/transaction.ts fingerprintOf) starts with the kind, card,
 * requested amount, currency and terminal, most of which the record holds anyway: it is stored as
 * [requested, rest] when rebuilding it from those gives back exactly the same string, else as is.
 */
function fingerprintField(f: string, r: TxnResult, terminalId: string): string | [number, string] {
  const head = `${r.kind}|${r.cardId}|`;
  if (!f.startsWith(head)) return f;
  const bar = f.indexOf('|', head.length);
  const requested = Number(f.slice(head.length, bar));
  if (bar < 0 || !Number.isSafeInteger(requested)) return f;
  const middle = `|${r.currency}|${terminalId}|`;
  if (!f.startsWith(middle, bar)) return f;
  const short: [number, string] = [requested, f.slice(bar + middle.length)];
  return fingerprintOfField(short, r, terminalId) === f ? short : f;
}

function fingerprintOfField(
  field: string | readonly [number, string],
  r: Pick<TxnResult, 'kind' | 'cardId' | 'currency'>,
  terminalId: string,
): string {
  if (typeof field === 'string') return field;
  return `${r.kind}|${r.cardId}|${field[0]}|${r.currency}|${terminalId}|${field[1]}`;
}

/** True when a stored value is in layout 2 or later (layout 1, the full document, is a JSON object). */
export function isCompactIdempotencyRecord(value: string): boolean {
  return value.charCodeAt(0) === 0x5b; // "["
}

/** A layout-2 record read back; a StoredStateError when it does not decode (nothing is answered from a guess). */
export function decodeIdempotencyRecord(value: string): IdempotencyRecord {
  const fail = (problem: string): never => {
    throw new StoredStateError('idempotency record', problem);
  };
  let raw: unknown;
  try {
    raw = JSON.parse(value);
  } catch {
    return fail('not JSON');
  }
  if (!Array.isArray(raw)) return fail('not a JSON array');
  const version: unknown = raw[0];
  if (version !== idempotency_record_version)
    return fail(`layout ${JSON.stringify(version)} is not this build's layout ${idempotency_record_version}`);
  const parsed = layout_2_schema.safeParse(raw);
  if (!parsed.success) return fail(`layout 2: ${describeIssues(parsed.error)}`);
  const [, fingerprint, terminalId, merchantId, id, kindCode, outcomeCode, cardId, amountMinor, currency, balanceAfterMinor, atMs, more] =
    parsed.data;
  const { lines, ...optional } = more ?? {};
  const kind = stored_kinds[kindCode] as TransactionKind;
  const outcome = outcomeCode === 1 ? 'approved' : 'declined';
  const result = { id, kind, outcome, cardId, amountMinor, currency, balanceAfterMinor, atMs, ...optional } as TxnResult;
  const f = fingerprintOfField(fingerprint, result, terminalId);
  return { f, r: result, origin: { terminalId, merchantId }, ...(lines !== undefined ? { lines } : {}) };
}
