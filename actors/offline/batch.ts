// An uploaded batch of offline sales and voids, judged against the terminal's grant: the pure
// rules the terminal actor runs before any card is touched. Entries are taken in their number
// order. Each sale is the issuer's (so far: its card decides the rest) when it was made under the
// current grant, within its window and every cap the grant gave; otherwise it is the merchant's,
// with the reason. Only the issuer's sales count against the grant's caps, so a terminal that
// keeps selling past a cap makes the merchant, never the issuer, carry the excess.
//
// What this decides is written in the batch record before the first card is touched, so a merge
// that a crash interrupts is completed, on re-upload, with the very same decisions.

import { alreadyExists, failedPrecondition, invalidArgument, type TaplineError } from '../errors';
import { shardOf } from '../sharding/shard-key';
import { heldVersionFor, type CardUsage, type EntryNumbers, type OfflineGrant, type TerminalOffline } from './grant';

/** What the medium's counter said before a sale (programs whose cards carry one). */
export interface CardCounterReading {
  readonly baseMergedMinor: number;
  readonly baseIssuedAtMs: number;
  /** base64 of Tapline's Ed25519 signature of the base. */
  readonly baseSignature: string;
  readonly spentMinor: number;
}

export interface OfflineEntryInput {
  readonly entry: number;
  readonly kind: 'sale' | 'void';
  readonly cardId: string;
  readonly programId: string;
  /** Sales: what was sold (> 0); voids: 0. */
  readonly amountMinor: number;
  readonly currency: string;
  /** Voids: the entry number of the sale cancelled; sales: 0. */
  readonly voidOf: number;
  readonly grant: number;
  readonly offsetMs: number;
  readonly counter?: CardCounterReading;
  readonly receipt: number;
}

export interface OfflineBatchInput {
  readonly terminalId: string;
  readonly batch: number;
  readonly entries: readonly OfflineEntryInput[];
}

/** Why a sale is the merchant's, as judged at the terminal (its card may add `denylisted`, `program`, `currency`). */
export type TerminalLiabilityReason =
  | 'superseded_grant'
  | 'unknown_grant'
  | 'offline_window'
  | 'program'
  | 'currency'
  | 'txn_cap'
  | 'card_counter'
  | 'count_cap'
  | 'terminal_cap'
  | 'card_cap';

/** An entry as judged at the terminal: what its card is told, and what the batch record keeps. */
export interface AssessedEntry {
  readonly entry: number;
  readonly kind: 'sale' | 'void';
  readonly cardId: string;
  readonly programId: string;
  readonly amountMinor: number;
  readonly currency: string;
  readonly voidOf: number;
  readonly grant: number;
  /** Tapline's time of the sale: its grant's issue time plus the terminal's offset. */
  readonly capturedAtMs: number;
  /** '' while the issuer's; else why the merchant carries it. */
  readonly merchantReason: TerminalLiabilityReason | '';
  /** The denylist version of the card's shard the terminal held when it sold. */
  readonly held: number;
  readonly receipt: number;
}

export interface BatchAssessment {
  /** The terminal after the batch: its usage counts the batch's issuer sales, and no longer holds per-card usage. */
  readonly after: TerminalOffline;
  readonly entries: readonly AssessedEntry[];
  /** What the batch's issuer sales add to each card's usage of the grant (cards of this batch only). */
  readonly cardsAdded: ReadonlyMap<string, number>;
}

/** Entries one batch may carry (bounds the record, the fan-out and the terminal's state change). */
export const batch_entries_max = 500;
/** How far past the highest entry number received a batch may jump (bounds the gaps kept). */
export const entry_jump_max = 100_000;
/** Missing ranges a terminal may have open at once; past it, upload the missing batches first. */
export const missing_ranges_max = 1_000;
/** Batches accepted and not yet completed, per terminal. */
export const pending_batches_max = 16;

export interface AssessEnv {
  readonly nowMs: number;
  readonly shardCount: number;
  /** True when Tapline's signature of a card counter's base verifies. */
  readonly counterSigned: (cardId: string, counter: CardCounterReading) => boolean;
}

/**
 * Judges a batch (whose signature was verified) against the terminal's offline state and what each
 * card spent under its grant (`cards`). A batch that reuses an entry number already received, or
 * that is malformed, is refused whole: nothing of it is kept.
 */
export function assessBatch(
  offline: TerminalOffline,
  cards: CardUsage,
  batch: OfflineBatchInput,
  env: AssessEnv,
): BatchAssessment | { error: TaplineError } {
  const problem = batchProblem(offline, batch);
  if (problem !== undefined) return { error: problem };
  const sorted = [...batch.entries].sort((a, b) => a.entry - b.entry);
  // The grant's per-card usage is read, never copied (a grant may count thousands of cards): the
  // batch's own additions are counted apart.
  const usage: MutableUsage = { count: offline.usage.count, totalMinor: offline.usage.totalMinor, cards, added: new Map() };
  const entries = sorted.map((input) => judge(offline, usage, input, env));
  const numbers = receive(
    offline.entries,
    sorted.map((entry) => entry.entry),
  );
  if (numbers.missing.length > missing_ranges_max)
    return { error: failedPrecondition('too many gaps in the offline entry numbers: upload the missing batches first') };
  const after: TerminalOffline = {
    ...offline,
    usage: { count: usage.count, totalMinor: usage.totalMinor },
    entries: numbers,
    batchHigh: Math.max(offline.batchHigh, batch.batch),
    pendingBatches: [...offline.pendingBatches, batch.batch],
  };
  return { after, entries, cardsAdded: usage.added };
}

function batchProblem(offline: TerminalOffline, batch: OfflineBatchInput): TaplineError | undefined {
  if (batch.entries.length === 0 || batch.entries.length > batch_entries_max)
    return invalidArgument(`a batch carries 1 to ${batch_entries_max} entries`, { field: 'batch.entries' });
  if (offline.pendingBatches.length >= pending_batches_max)
    return failedPrecondition('too many offline batches are still being merged: upload them again first');
  const seen = new Set<number>();
  for (const entry of batch.entries) {
    if (seen.has(entry.entry)) return invalidArgument('an entry number appears twice in the batch', { entry: entry.entry });
    seen.add(entry.entry);
    if (entry.entry > offline.entries.high + entry_jump_max)
      return invalidArgument(`an entry number jumps more than ${entry_jump_max} past the highest received`, { entry: entry.entry });
    if (received(offline.entries, entry.entry))
      return alreadyExists('an offline entry number was already received in another batch', { entry: entry.entry });
    if (entry.grant > offline.grantNumber) return invalidArgument('an entry names a grant never issued', { entry: entry.entry });
  }
  return undefined;
}

/** True when a batch already carried this entry number. */
export function received(numbers: EntryNumbers, entry: number): boolean {
  if (entry > numbers.high) return false;
  for (const [from, to] of numbers.missing) if (entry >= from && entry <= to) return false;
  return true;
}

/** The entry numbers after a batch carried `arrived` (ascending, none received before). */
export function receive(numbers: EntryNumbers, arrived: readonly number[]): EntryNumbers {
  let missing = numbers.missing.map(([from, to]) => [from, to] as [number, number]);
  let high = numbers.high;
  for (const entry of arrived) {
    if (entry > high) {
      if (entry > high + 1) missing.push([high + 1, entry - 1]);
      high = entry;
      continue;
    }
    missing = missing.flatMap(([from, to]): [number, number][] => {
      if (entry < from || entry > to) return [[from, to]];
      const parts: [number, number][] = [];
      if (from < entry) parts.push([from, entry - 1]);
      if (entry < to) parts.push([entry + 1, to]);
      return parts;
    });
  }
  return { high, missing };
}

/** Every missing entry number, ascending, at most `max` of them. */
export function missingEntries(numbers: EntryNumbers, max: number): number[] {
  const out: number[] = [];
  for (const [from, to] of numbers.missing) {
    for (let entry = from; entry <= to && out.length < max; entry++) out.push(entry);
    if (out.length >= max) break;
  }
  return out;
}

function capturedAt(offline: TerminalOffline, input: OfflineEntryInput, nowMs: number): number {
  const offset = Math.max(0, input.offsetMs);
  if (offline.grant !== undefined && input.grant === offline.grant.number) return offline.grant.issuedAtMs + offset;
  if (offline.previousGrantAtMs !== undefined && input.grant === offline.grantNumber - 1) return offline.previousGrantAtMs + offset;
  return nowMs;
}

interface MutableUsage {
  count: number;
  totalMinor: number;
  /** Before the batch. */
  readonly cards: CardUsage;
  /** By the batch so far. */
  readonly added: Map<string, number>;
}

/** What a card spent under the grant, the batch's sales judged so far included. */
function cardSpent(usage: MutableUsage, cardId: string): number {
  return (usage.cards.get(cardId) ?? 0) + (usage.added.get(cardId) ?? 0);
}

/** Judges one entry; an issuer's sale is counted into `usage`. */
function judge(offline: TerminalOffline, usage: MutableUsage, input: OfflineEntryInput, env: AssessEnv): AssessedEntry {
  const grant = offline.grant;
  const current = grant !== undefined && input.grant === grant.number ? grant : undefined;
  const held = current === undefined ? 0 : heldVersionFor(current, input.entry, shardOf('card', input.cardId, env.shardCount));
  let merchantReason: TerminalLiabilityReason | '' = '';
  if (input.kind === 'sale') {
    merchantReason =
      current === undefined ? (input.grant < 1 ? 'unknown_grant' : 'superseded_grant') : saleReason(current, usage, input, env);
    if (merchantReason === '') {
      usage.count += 1;
      usage.totalMinor += input.amountMinor;
      usage.added.set(input.cardId, (usage.added.get(input.cardId) ?? 0) + input.amountMinor);
    }
  }
  // One object per entry (a batch judges up to 500 of them on every upload).
  return {
    entry: input.entry,
    kind: input.kind,
    cardId: input.cardId,
    programId: input.programId,
    amountMinor: input.amountMinor,
    currency: input.currency,
    voidOf: input.voidOf,
    grant: input.grant,
    capturedAtMs: capturedAt(offline, input, env.nowMs),
    merchantReason,
    held,
    receipt: input.receipt,
  };
}

/** Why a sale under the current grant is the merchant's, or '' when it is within the grant. */
function saleReason(grant: OfflineGrant, usage: MutableUsage, input: OfflineEntryInput, env: AssessEnv): TerminalLiabilityReason | '' {
  if (input.offsetMs < 0 || input.offsetMs > grant.offlineMaxMs) return 'offline_window';
  const program = Object.hasOwn(grant.programs, input.programId) ? grant.programs[input.programId] : undefined;
  if (program === undefined) return 'program';
  if (input.currency !== grant.currency) return 'currency';
  if (input.amountMinor > program.txnMaxMinor) return 'txn_cap';
  if (program.cardCounter) {
    const counter = input.counter;
    if (counter === undefined || !env.counterSigned(input.cardId, counter)) return 'card_counter';
    if (counter.spentMinor < 0 || counter.spentMinor + input.amountMinor > program.cardMaxMinor) return 'card_counter';
  }
  if (usage.count + 1 > grant.countMax) return 'count_cap';
  if (usage.totalMinor + input.amountMinor > grant.totalMaxMinor) return 'terminal_cap';
  if (cardSpent(usage, input.cardId) + input.amountMinor > program.cardMaxMinor) return 'card_cap';
  return '';
}
