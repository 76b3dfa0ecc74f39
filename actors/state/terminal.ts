// How a terminal is stored (tl:{s}:term:<id>): its registration and enabled flag, and, for a
// terminal that sells offline, its offline settings, grant and what its uploads left
// (actors/offline/grant.ts). Layout 2 adds the offline part (absent on a terminal that never sold
// offline); layout 1, without it, reads as a terminal with no offline settings. A layout-1 reader
// would drop the offline part, so it refuses layout 2.
//
// Each offline batch a terminal uploads is its own record beside the terminal
// (tl:{s}:obatch:<terminal>/<n>): the digest of its bytes, the entries as judged when it was
// accepted, and the per-entry results once its merge completed.

import { z } from 'zod';
import type { TerminalState } from '../terminal/rules';
import type { OfflineBatchRecord } from '../offline/records';
import { legacyLayout, stateCodec } from './codec';
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

const terminal_offline_schema = z.object({
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

export const terminal_state_schema = terminal_v1_schema.extend({ offline: terminal_offline_schema.optional() });

export const terminal_state_codec = stateCodec<TerminalState>('terminal', terminal_state_schema, [
  legacyLayout(terminal_v1_schema, (v1) => v1),
]);
export const encodeTerminalState = terminal_state_codec.encode;
/** A terminal read back: the terminal actor's activation and the remote terminal cache's misses. */
export const decodeTerminalState = terminal_state_codec.decode;

const assessed_entry_schema = z.object({
  entry: integer,
  kind: z.enum(['sale', 'void']),
  cardId: z.string(),
  programId: z.string(),
  amountMinor: integer,
  currency: z.string(),
  voidOf: integer,
  grant: integer,
  capturedAtMs: integer,
  merchantReason: z.enum([
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
  ]),
  held: integer,
  receipt: integer,
});

const entry_result_schema = z.object({
  entry: integer,
  kind: z.enum(['sale', 'voided', 'nothing_to_void', 'already_voided', 'unknown_card']),
  liability: z.enum(['issuer', 'merchant', '']),
  reason: z.string(),
  transactionId: z.string(),
  amountMinor: integer,
  currency: z.string(),
  balanceAfterMinor: integer,
  debtAfterMinor: integer,
});

const offline_batch_schema = z.object({
  digest: z.string(),
  acceptedAtMs: integer,
  entries: z.array(assessed_entry_schema),
  results: z.array(entry_result_schema).optional(),
  completedAtMs: integer.optional(),
});

export const offline_batch_codec = stateCodec<OfflineBatchRecord>('offline_batch', offline_batch_schema);
export const encodeOfflineBatch = offline_batch_codec.encode;
export const decodeOfflineBatch = offline_batch_codec.decode;
