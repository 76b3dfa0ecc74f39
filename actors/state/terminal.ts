// How a terminal is stored (tl:{s}:term:<id>), at layout 4: its registration and enabled flag, its
// serial number, versioned parameters and cashiers, and, for a terminal that sells offline, its
// offline settings, grant and what its uploads left (actors/offline/grant.ts).
// - Layout 1 holds the registration and enabled flag only.
// - Layout 2 adds the offline part (absent on a terminal that never sold offline); a layout-1
//   record reads as a terminal with no offline settings.
// - Layout 3 adds the serial number, parameters and cashiers; a layout-2 record reads as a terminal
//   with no serial number, empty parameters at version 1 and no cashiers: what a terminal
//   registered before these existed has.
// - Layout 4 keeps the per-card usage of the offline grant beside the terminal
//   (tl:{s}:offline_usage:<id>, one counter per card) instead of in `offline.usage.cards`: a grant
//   counts up to thousands of cards and the terminal is written several times per batch. A
//   layout-3 record reads with its cards still there (GrantUsage.cards); the terminal's next
//   upload moves them beside it in its commit, and its state is written without them from then on.
// An older reader would drop what a newer layout added, so it refuses it.
//
// Each offline batch a terminal uploads is its own record beside the terminal
// (tl:{s}:offline_batch:<terminal>/<n>): the digest of its bytes, the entries as judged when it was
// accepted, and the per-entry results once its merge completed.

import { z } from 'zod';
import { empty_terminal_parameters, type TerminalState } from '../terminal/rules';
import type { AssessedEntry } from '../offline/batch';
import type { EntryResult, OfflineBatchRecord } from '../offline/records';
import { legacyLayout, stateCodec, type StateCodec } from './codec';
import { integer } from './schemas';

const terminal_v1_schema = z.object({
  terminalId: z.string(),
  merchantId: z.string(),
  location: z.string(),
  enabled: z.boolean(),
});

const versions = z.array(integer);

const granted_program_schema = z.object({
  txnMaxMinor: integer,
  cardMaxMinor: integer,
  debtThresholdMinor: integer,
  cardCounter: z.boolean(),
  programVersion: integer,
});

const grant_schema = z.object({
  number: integer,
  issuedAtMs: integer,
  offlineMaxMs: integer,
  currency: z.string(),
  totalMaxMinor: integer,
  countMax: integer,
  programs: z.record(z.string(), granted_program_schema),
  required: versions,
  held: z.array(z.object({ fromEntry: integer, versions })),
});

const terminal_offline_v2_schema = z.object({
  publicKey: z.string(),
  programs: z.array(z.string()),
  currency: z.string(),
  totalMaxMinor: integer,
  countMax: integer,
  offlineMaxMs: integer,
  version: integer,
  grantNumber: integer,
  grant: grant_schema.optional(),
  previousGrantAtMs: integer.optional(),
  usage: z.object({ count: integer, totalMinor: integer, cards: z.record(z.string(), integer) }),
  entries: z.object({ high: integer, missing: z.array(z.tuple([integer, integer])) }),
  batchHigh: integer,
  pendingBatches: z.array(integer),
  ack: z.object({ versions, atMs: integer, behind: integer }).optional(),
});

const terminal_v2_schema = terminal_v1_schema.extend({ offline: terminal_offline_v2_schema.optional() });

export const terminal_parameters_schema = z.object({
  receiptHeader: z.string(),
  receiptFooter: z.string(),
  communication: z.object({ host: z.string(), port: integer.nonnegative(), timeoutMs: integer.nonnegative() }),
  offlineProfile: z.string(),
});

const terminal_v3_schema = terminal_v2_schema.extend({
  serialNumber: z.string(),
  parameters: terminal_parameters_schema,
  parametersVersion: integer.nonnegative(),
  cashiers: z.record(z.string(), z.boolean()),
  cashierPins: z.record(z.string(), z.string()),
});

/** Layout 4: the grant's per-card usage is absent, except in a layout-3 record not yet moved. */
const terminal_offline_schema = terminal_offline_v2_schema.extend({
  usage: z.object({ count: integer, totalMinor: integer, cards: z.record(z.string(), integer).optional() }),
});

export const terminal_state_schema = terminal_v3_schema.extend({ offline: terminal_offline_schema.optional() });

export const terminal_state_codec = stateCodec<TerminalState>('terminal', terminal_state_schema, [
  legacyLayout(terminal_v1_schema, (v1) => v1),
  legacyLayout(terminal_v2_schema, (v2) => ({
    ...v2,
    serialNumber: '',
    parameters: empty_terminal_parameters,
    parametersVersion: 1,
    cashiers: {},
    cashierPins: {},
  })),
  legacyLayout(terminal_v3_schema, (v3) => v3),
]);
export const encodeTerminalState = terminal_state_codec.encode;
/** A terminal read back: the terminal actor's activation and the remote terminal cache's misses. */
export const decodeTerminalState = terminal_state_codec.decode;

const liability_reason_schema = z.enum([
  '',
  'superseded_grant',
  'unknown_grant',
  'offline_window',
  'program',
  'currency',
  'txn_cap',
  'card_counter',
  'count_cap',
  'terminal_cap',
  'card_cap',
]);

// A batch record keeps up to 500 entries and their results, and is written twice per batch: its
// entries and results are stored as tuples (field names once, here, not once per entry).

/** [entry, kind, card, program, amount, currency, void of, grant, captured at, merchant reason, held, receipt] */
const stored_entry_schema = z.tuple([
  integer,
  z.enum(['sale', 'void']),
  z.string(),
  z.string(),
  integer,
  z.string(),
  integer,
  integer,
  integer,
  liability_reason_schema,
  integer,
  integer,
]);

/** [entry, kind, liability, reason, transaction, amount, currency, balance after, debt after] */
const stored_result_schema = z.tuple([
  integer,
  z.enum(['sale', 'voided', 'nothing_to_void', 'already_voided', 'unknown_card']),
  z.enum(['issuer', 'merchant', '']),
  z.string(),
  z.string(),
  integer,
  z.string(),
  integer,
  integer,
]);

const offline_batch_schema = z.object({
  digest: z.string(),
  acceptedAtMs: integer,
  entries: z.array(stored_entry_schema),
  results: z.array(stored_result_schema).optional(),
  completedAtMs: integer.optional(),
});

type StoredOfflineBatch = z.output<typeof offline_batch_schema>;

/** The stored form of a batch record (readers of any kind decode with it: actors/state/index.ts). */
export const offline_batch_codec = stateCodec<StoredOfflineBatch>('offline_batch', offline_batch_schema);

export function encodeOfflineBatch(record: OfflineBatchRecord): string {
  const stored: StoredOfflineBatch = {
    digest: record.digest,
    acceptedAtMs: record.acceptedAtMs,
    entries: record.entries.map((e) => [
      e.entry,
      e.kind,
      e.cardId,
      e.programId,
      e.amountMinor,
      e.currency,
      e.voidOf,
      e.grant,
      e.capturedAtMs,
      e.merchantReason,
      e.held,
      e.receipt,
    ]),
    ...(record.results === undefined ? {} : { results: storedResults(record.results) }),
    ...(record.completedAtMs === undefined ? {} : { completedAtMs: record.completedAtMs }),
  };
  return offline_batch_codec.encode(stored);
}

function storedResults(results: readonly EntryResult[]): StoredOfflineBatch['results'] {
  return results.map((r) => [
    r.entry,
    r.kind,
    r.liability,
    r.reason,
    r.transactionId,
    r.amountMinor,
    r.currency,
    r.balanceAfterMinor,
    r.debtAfterMinor,
  ]);
}

/**
 * The stored form of a batch completed, from the stored form of its acceptance (what
 * encodeOfflineBatch wrote for the record without results): the same JSON as encodeOfflineBatch
 * of the completed record (state-codecs.test.ts holds them equal), without encoding its up to 500
 * entries a second time. The results and the completion time are the record's last keys.
 */
export function encodeCompletedOfflineBatch(accepted: string, results: readonly EntryResult[], completedAtMs: number): string {
  if (!accepted.endsWith(']}')) throw new Error('assertion: not the stored form of an accepted batch');
  return `${accepted.slice(0, -1)},"results":${JSON.stringify(storedResults(results))},"completedAtMs":${JSON.stringify(completedAtMs)}}`;
}

export function decodeOfflineBatch(json: string): OfflineBatchRecord {
  const stored = offline_batch_codec.decode(json);
  const entries: AssessedEntry[] = stored.entries.map(
    ([entry, kind, cardId, programId, amountMinor, currency, voidOf, grant, capturedAtMs, merchantReason, held, receipt]) => ({
      entry,
      kind,
      cardId,
      programId,
      amountMinor,
      currency,
      voidOf,
      grant,
      capturedAtMs,
      merchantReason,
      held,
      receipt,
    }),
  );
  const results: EntryResult[] | undefined = stored.results?.map(
    ([entry, kind, liability, reason, transactionId, amountMinor, currency, balanceAfterMinor, debtAfterMinor]) => ({
      entry,
      kind,
      liability,
      reason,
      transactionId,
      amountMinor,
      currency,
      balanceAfterMinor,
      debtAfterMinor,
    }),
  );
  return {
    digest: stored.digest,
    acceptedAtMs: stored.acceptedAtMs,
    entries,
    ...(results === undefined ? {} : { results }),
    ...(stored.completedAtMs === undefined ? {} : { completedAtMs: stored.completedAtMs }),
  };
}

/** The batch record's codec in the domain's form (what the terminal actor reads and writes). */
export const offline_batch_record_codec: StateCodec<OfflineBatchRecord> = {
  entity: offline_batch_codec.entity,
  version: offline_batch_codec.version,
  encode: encodeOfflineBatch,
  decode: decodeOfflineBatch,
};
