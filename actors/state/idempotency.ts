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
//   [2, fingerprint, terminal, merchant, id, kind, outcome, card, amount, currency, balance after,
//    at, more?]
// where `more`, absent when empty, holds the answer's optional fields under their TxnResult names
// (reason, rule, reverse, holds, program and fleet figures) and a purchase's basket (`lines`, for
// its receipt). A plain purchase's record is then ~130 bytes instead of ~450. A layout this build
// does not know (a newer node's, read during a rolling upgrade) is refused, never guessed at.
//
// Cost: encoding is one JSON.stringify of an array per money decision (the hot path); decoding
// validates with zod and runs only when a record is read back (a retry the node does not
// remember, an original of a reversal or refund, a receipt).

import { z } from 'zod';
import type { IdempotencyRecord, TxnResult } from '../card/transaction';
import { line_schema } from '../outbox/schemas';
import { transaction_kinds } from '../outbox/contract';
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

const layout_2_schema = z.union([
  z.tuple([
    z.literal(2),
    z.string(),
    z.string(),
    z.string(),
    z.string(),
    z.enum(transaction_kinds),
    z.enum(['approved', 'declined']),
    z.string(),
    integer,
    z.string(),
    integer,
    integer,
  ]),
  z.tuple([
    z.literal(2),
    z.string(),
    z.string(),
    z.string(),
    z.string(),
    z.enum(transaction_kinds),
    z.enum(['approved', 'declined']),
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
    record.f,
    record.origin?.terminalId ?? '',
    record.origin?.merchantId ?? '',
    id,
    kind,
    outcome,
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
  const [, f, terminalId, merchantId, id, kind, outcome, cardId, amountMinor, currency, balanceAfterMinor, atMs, more] = parsed.data;
  const { lines, ...optional } = more ?? {};
  const result = { id, kind, outcome, cardId, amountMinor, currency, balanceAfterMinor, atMs, ...optional } as TxnResult;
  return { f, r: result, origin: { terminalId, merchantId }, ...(lines !== undefined ? { lines } : {}) };
}
