// Turns the offline API's wire requests into domain values, or a precise INVALID_ARGUMENT. An
// uploaded batch is decoded from the bytes the terminal signed (so what is judged is exactly what
// was signed) and every entry is checked here, before anything reaches an actor.

import { invalidArgument } from '../../../actors/errors';
import { minorFromWire, request_amount_max_minor } from '../../../actors/money';
import { batch_entries_max, type CardCounterReading, type OfflineBatchInput, type OfflineEntryInput } from '../../../actors/offline/batch';
import { offline_programs_max, type TerminalOfflineSettings } from '../../../actors/offline/policy';
import { ed25519_signature_bytes, normalizePublicKey } from '../../../actors/offline/signature';
import { isFleetCardId } from '../../../actors/sharding/shard-key';
import {
  OfflineBatch,
  OfflineEntryKind,
  type CardCounter,
  type OfflineEntry,
  type SetTerminalOfflineRequest,
  type UploadOfflineBatchRequest,
} from '../../../gen/tapline/v1/offline';
import { requireAmount, requireId } from './validate';

/** Versions one denylist vector may hold (a deployment has at most 65,536 shards). */
export const denylist_versions_max = 65_536;
/** An offset from a grant longer than this (30 days) is no offset of a terminal's. */
const offset_abs_max_ms = 30 * 86_400_000;
/** offset_abs_max_ms as a bigint, built once (every entry of every upload is checked against it). */
const offset_abs_max_wire = BigInt(offset_abs_max_ms);

const safe_integer_max = BigInt(Number.MAX_SAFE_INTEGER);

/** A count of the wire (a uint64) as a number; called several times per uploaded entry, so it converts no bound. */
function count(field: string, value: bigint, min: 0 | 1): number {
  if (value < (min === 0 ? 0n : 1n) || value > safe_integer_max)
    throw invalidArgument(`${field} must be between ${min} and 2^53-1`, { field });
  return Number(value);
}

/** A terminal's offline settings; the key normalized to its 32 raw bytes. */
export function parseSetTerminalOffline(wire: SetTerminalOfflineRequest): { terminalId: string; settings: TerminalOfflineSettings } {
  const terminalId = requireId('terminal_id', wire.terminalId);
  const publicKey = normalizePublicKey(wire.publicKey);
  if (publicKey === undefined)
    throw invalidArgument('public_key must be an Ed25519 key: 32 raw bytes or SPKI DER', { field: 'public_key' });
  if (wire.programIds.length === 0 || wire.programIds.length > offline_programs_max)
    throw invalidArgument(`program_ids must name 1 to ${offline_programs_max} programs`, { field: 'program_ids' });
  const programs = wire.programIds.map((id) => requireId('program_ids', id));
  const total = requireAmount('total_max', wire.totalMax);
  return {
    terminalId,
    settings: {
      publicKey,
      programs,
      currency: total.currency,
      totalMaxMinor: total.amountMinor,
      countMax: wire.countMax,
      offlineMaxMs: Number(wire.offlineMaxMs > BigInt(Number.MAX_SAFE_INTEGER) || wire.offlineMaxMs < 0n ? -1n : wire.offlineMaxMs),
    },
  };
}

/** A denylist version vector sent by a terminal. */
export function parseVersions(field: string, versions: readonly bigint[]): number[] {
  if (versions.length > denylist_versions_max) throw invalidArgument(`${field} holds at most ${denylist_versions_max} versions`, { field });
  return versions.map((version) => count(field, version, 0));
}

/** An upload: the batch decoded from the signed bytes and checked entry by entry. */
export function parseUpload(wire: UploadOfflineBatchRequest): {
  terminalId: string;
  input: OfflineBatchInput;
  bytes: Uint8Array;
  signature: Uint8Array;
} {
  const terminalId = requireId('terminal_id', wire.terminalId);
  if (wire.signature.length !== ed25519_signature_bytes)
    throw invalidArgument(`signature must be ${ed25519_signature_bytes} bytes (Ed25519)`, { field: 'signature' });
  if (wire.batch.length === 0) throw invalidArgument('batch is required', { field: 'batch' });
  let batch: OfflineBatch;
  try {
    batch = OfflineBatch.decode(wire.batch);
  } catch {
    throw invalidArgument('batch is not an OfflineBatch', { field: 'batch' });
  }
  if (batch.entries.length === 0 || batch.entries.length > batch_entries_max)
    throw invalidArgument(`a batch carries 1 to ${batch_entries_max} entries`, { field: 'batch.entries' });
  const input: OfflineBatchInput = {
    terminalId: requireId('batch.terminal_id', batch.terminalId),
    batch: count('batch.batch_number', batch.batchNumber, 1),
    entries: batch.entries.map(parseEntry),
  };
  return { terminalId, input, bytes: wire.batch, signature: wire.signature };
}

function parseEntry(entry: OfflineEntry): OfflineEntryInput {
  const number = count('entries.entry_number', entry.entryNumber, 1);
  const cardId = requireId('entries.card_id', entry.cardId);
  if (isFleetCardId(cardId)) throw invalidArgument('fleet cards are not sold offline', { field: 'entries.card_id' });
  if (entry.offsetMs < -offset_abs_max_wire || entry.offsetMs > offset_abs_max_wire)
    throw invalidArgument('entries.offset_ms is out of range', { field: 'entries.offset_ms' });
  const grant = count('entries.grant_number', entry.grantNumber, 0);
  const offsetMs = Number(entry.offsetMs);
  const receipt = count('entries.receipt_number', entry.receiptNumber, 0);
  // Each entry is one literal (no spread of common fields): an upload parses up to 500 of them.
  if (entry.kind === OfflineEntryKind.OFFLINE_ENTRY_KIND_VOID) {
    if (entry.amount !== undefined) throw invalidArgument('a void carries no amount', { field: 'entries.amount' });
    const voidOf = count('entries.void_of', entry.voidOf, 1);
    if (voidOf >= number) throw invalidArgument('a void cancels an earlier entry', { field: 'entries.void_of' });
    const programId = entry.programId;
    return { entry: number, kind: 'void', cardId, programId, amountMinor: 0, currency: '', voidOf, grant, offsetMs, receipt };
  }
  if (entry.kind !== OfflineEntryKind.OFFLINE_ENTRY_KIND_SALE)
    throw invalidArgument('entries.kind must be SALE or VOID', { field: 'entries.kind' });
  if (entry.voidOf !== 0n) throw invalidArgument('a sale cancels nothing', { field: 'entries.void_of' });
  const { amountMinor, currency } = requireAmount('entries.amount', entry.amount);
  const counter = entry.counter === undefined ? undefined : parseCounter(entry.counter);
  const programId = requireId('entries.program_id', entry.programId);
  const sale = { entry: number, kind: 'sale' as const, cardId, programId, amountMinor, currency, voidOf: 0, grant, offsetMs, receipt };
  return counter === undefined ? sale : { ...sale, counter };
}

function parseCounter(counter: CardCounter): CardCounterReading {
  const base = minorFromWire(counter.baseMergedMinor);
  const spent = minorFromWire(counter.spentMinor);
  if (base === undefined || base < 0)
    throw invalidArgument('entries.counter.base_merged_minor is out of range', { field: 'entries.counter' });
  if (spent === undefined || spent < 0 || spent > request_amount_max_minor)
    throw invalidArgument('entries.counter.spent_minor is out of range', { field: 'entries.counter' });
  if (counter.baseSignature.length > ed25519_signature_bytes)
    throw invalidArgument('entries.counter.base_signature is too long', { field: 'entries.counter' });
  return {
    baseMergedMinor: base,
    baseIssuedAtMs: count('entries.counter.base_issued_at_unix_ms', counter.baseIssuedAtUnixMs, 0),
    baseSignature: Buffer.from(counter.baseSignature).toString('base64'),
    spentMinor: spent,
  };
}
