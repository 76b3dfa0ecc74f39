// Store-and-forward uploads (docs/OFFLINE.md, "Uploads"): a terminal's signed batch of offline
// sales and voids, merged exactly once.
//
//   1. The terminal's actor checks the signature with the terminal's registered key, judges every
//      entry against the terminal's grant and records the batch (its bytes' digest and the judged
//      entries) with the terminal's new state, before any card is touched. A batch uploaded before
//      is answered from that record: its results, or, when a crash interrupted its merge, its
//      judged entries, merged again exactly as judged the first time.
//   2. Each card's entries go to the card's owner in entry order (cards in parallel, bounded): each
//      entry is a money request keyed "o:<terminal>:<entry>", so an entry merged before answers its
//      stored record and moves nothing twice.
//   3. The terminal's actor completes the batch with the per-entry results (and records the sales
//      of unknown cards): a later upload of it answers those results.
// A failure that leaves the outcome unknown (UNAVAILABLE and the like) fails the upload; the
// terminal sends the same batch again.

import { fingerprintOf, type MoneyRequest } from '../../../actors/card/transaction';
import { permissionDenied, RejectedError } from '../../../actors/errors';
import type { AssessedEntry, OfflineBatchInput } from '../../../actors/offline/batch';
import { entryResultOf, unknownCardResult, type EntryResult, type OfflineBatchRecord } from '../../../actors/offline/records';
import { offlineEntryKey } from '../../../actors/request-keys';
import type { ShardRegion } from '../../../actors/sharding/shard-region';
import type { OfflineAnswer } from '../../../actors/terminal/offline-messages';
import type { CardFanout, OfflineCardMerge, OfflineEntryAnswer } from './card-fanout';
import { outcomeOf } from './outcome';

/** Who sent an upload: the terminal itself, or a gateway for its merchants' terminals (the trust boundary says). */
export type Uploader =
  { readonly kind: 'terminal'; readonly terminalId: string } | { readonly kind: 'gateway'; readonly merchantIds: ReadonlySet<string> };

export interface UploadedBatch {
  readonly terminalId: string;
  readonly input: OfflineBatchInput;
  /** The OfflineBatch's bytes as signed, and the signature. */
  readonly bytes: Uint8Array;
  readonly signature: Uint8Array;
}

export interface UploadAnswer {
  readonly batch: number;
  readonly results: readonly EntryResult[];
  readonly missing: readonly number[];
  readonly replayed: boolean;
}

/** The phases of an upload, timed apart: where an upload's latency goes (docs/OFFLINE.md, "Reports and metrics"). */
export type UploadPhase = 'accept' | 'merge' | 'complete';

/** What an upload reports (services/common/metrics.ts). */
export interface UploadMetrics {
  batch(how: 'merged' | 'replayed'): void;
  entry(result: string): void;
  phase(phase: UploadPhase, seconds: number): void;
}

/** Cards whose shard this node holds are merged here, without the router's call and wire mapping. */
export interface LocalCards {
  holdsCard(cardId: string): boolean;
  readonly region: Pick<ShardRegion, 'moneyAtMerchant'>;
}

export class OfflineUploads {
  constructor(
    private readonly region: Pick<ShardRegion, 'terminalOffline'>,
    private readonly fanout: Pick<CardFanout, 'mergeOffline'>,
    private readonly limits: { readonly cards_in_flight_max: number },
    private readonly metrics?: UploadMetrics,
    private readonly local?: LocalCards,
  ) {}

  async upload(uploader: Uploader, batch: UploadedBatch): Promise<UploadAnswer> {
    // A foreign terminal's batch: the door let the caller speak for the terminal the request names,
    // but the batch is another's. Refused before anything is read or written.
    if (uploader.kind === 'terminal' && uploader.terminalId !== batch.input.terminalId)
      throw permissionDenied("a terminal uploads its own batches only (a gateway relays its merchants' terminals')");
    if (batch.input.terminalId !== batch.terminalId)
      throw permissionDenied('the batch is of another terminal than the one the request names', { field: 'batch.terminal_id' });
    let phaseStart = process.hrtime.bigint();
    const phaseEnded = (phase: UploadPhase): void => {
      const now = process.hrtime.bigint();
      this.metrics?.phase(phase, Number(now - phaseStart) / 1e9);
      phaseStart = now;
    };
    const accepted = await this.command(batch.terminalId, {
      kind: 'accept',
      batch: batch.input.batch,
      input: batch.input,
      bytes: batch.bytes,
      signature: batch.signature,
    });
    phaseEnded('accept');
    if (uploader.kind === 'gateway' && !uploader.merchantIds.has(accepted.merchantId))
      throw permissionDenied("a gateway relays the batches of its merchants' terminals only");
    if (accepted.record.results !== undefined) {
      this.metrics?.batch('replayed');
      return answerOf(batch.input.batch, accepted.record, accepted.missing, true);
    }
    const merged = await this.merge(batch.terminalId, accepted.merchantId, accepted.record);
    phaseEnded('merge');
    const completed = await this.command(batch.terminalId, { kind: 'complete', batch: batch.input.batch, ...merged });
    phaseEnded('complete');
    this.metrics?.batch('merged');
    for (const result of completed.record.results ?? [])
      this.metrics?.entry(result.kind === 'sale' ? result.liability || 'voided' : result.kind);
    return answerOf(batch.input.batch, completed.record, completed.missing, accepted.replayed);
  }

  /**
   * Every entry to its card, each card's in entry order (its mailbox keeps the order), at most
   * cards_in_flight_max cards at once, in order of their first entry; the results in entry order,
   * and the entries of unknown cards. The first failure that leaves an outcome unknown fails the
   * merge and hands out no further card (those in flight finish). This runs once per uploaded
   * entry, so a card this node holds costs no promise, array or object of its own: its entries are
   * chained by place (`next`) and each answer lands in `results` by its place.
   */
  private merge(
    terminalId: string,
    merchantId: string,
    record: OfflineBatchRecord,
  ): Promise<{ results: EntryResult[]; unknownCards: (AssessedEntry & { key: string })[] }> {
    const entries = record.entries;
    const heads: number[] = [];
    const next = new Int32Array(entries.length).fill(-1);
    const lastOf = new Map<string, number>();
    entries.forEach((entry, place) => {
      const last = lastOf.get(entry.cardId);
      if (last === undefined) heads.push(place);
      else next[last] = place;
      lastOf.set(entry.cardId, place);
    });
    const results: EntryResult[] = new Array<EntryResult>(entries.length);
    const max = this.limits.cards_in_flight_max;
    return new Promise((resolve, reject) => {
      let started = 0;
      let running = 0;
      let failed = false;
      const fail = (error: unknown): void => {
        running -= 1;
        if (failed) return;
        failed = true;
        reject(error instanceof Error ? error : new Error(String(error)));
      };
      const cardDone = (): void => {
        running -= 1;
        handOut();
      };
      const handOut = (): void => {
        while (!failed && running < max && started < heads.length) {
          running += 1;
          this.mergeCard(terminalId, merchantId, entries, next, heads[started++] as number, results, cardDone, fail);
        }
        if (!failed && running === 0 && started === heads.length)
          resolve({ results, unknownCards: unknownCardsOf(terminalId, entries, results) });
      };
      handOut();
    });
  }

  /** One card's entries, from `head` along `next`, to the card's owner; `done` once all are answered. */
  private mergeCard(
    terminalId: string,
    merchantId: string,
    entries: readonly AssessedEntry[],
    next: Int32Array,
    head: number,
    results: EntryResult[],
    done: () => void,
    fail: (error: unknown) => void,
  ): void {
    const cardId = (entries[head] as AssessedEntry).cardId;
    const local = this.local;
    if (local === undefined || !local.holdsCard(cardId)) {
      // Another node's card: its entries in one call through the router.
      const places: number[] = [];
      for (let place = head; place >= 0; place = next[place] as number) places.push(place);
      const cardEntries = places.map((place) => entries[place] as AssessedEntry);
      // A card that moves away meanwhile answers "moved": the upload fails and is sent again.
      this.fanout
        .mergeOffline({ cardId, terminalId, merchantId, entries: cardEntries })
        .then((answers) => {
          if (answers.length !== places.length) throw new Error(`assertion: ${answers.length} answers for ${places.length} entries`);
          places.forEach((place, k) => (results[place] = resultOf(cardEntries[k] as AssessedEntry, answers[k] as OfflineEntryAnswer)));
        })
        .then(done, fail);
      return;
    }
    let waiting = 0;
    let failed = false;
    const unknown = (error: unknown): void => {
      if (failed) return;
      failed = true;
      fail(error);
    };
    for (let place = head; place >= 0; place = next[place] as number) waiting += 1;
    for (let place = head; place >= 0; place = next[place] as number) {
      const entry = entries[place] as AssessedEntry;
      tellOfflineEntry(
        local.region,
        terminalId,
        merchantId,
        entry,
        (answer) => {
          if (failed) return;
          results[place] = resultOf(entry, answer);
          waiting -= 1;
          if (waiting === 0) done();
        },
        unknown,
      );
    }
  }

  private async command(
    terminalId: string,
    command: Parameters<ShardRegion['terminalOffline']>[1],
  ): Promise<Extract<OfflineAnswer, { kind: 'batch' }>> {
    const answer = await outcomeOf<OfflineAnswer>((reply) => this.region.terminalOffline(terminalId, command, reply));
    if (answer.kind !== 'batch') throw new Error(`assertion: ${command.kind} answers the batch`);
    return answer;
  }
}

/** An entry's result from its card's answer: its transaction, an unknown card, or a refused void. */
function resultOf(entry: AssessedEntry, answer: OfflineEntryAnswer): EntryResult {
  if (answer.ok) return entryResultOf(entry, answer.result, Math.max(0, -answer.result.balanceAfterMinor));
  if (answer.code === 'not_found') return unknownCardResult(entry);
  // A void naming what is no offline sale of this card (a terminal's mistake): nothing moves.
  return { ...unknownCardResult(entry), kind: 'nothing_to_void', liability: '', reason: answer.code };
}

/** The sales of cards that do not exist, with their request keys: recorded with the batch's completion. */
function unknownCardsOf(
  terminalId: string,
  entries: readonly AssessedEntry[],
  results: readonly EntryResult[],
): (AssessedEntry & { key: string })[] {
  const unknown: (AssessedEntry & { key: string })[] = [];
  entries.forEach((entry, place) => {
    if (entry.kind === 'sale' && results[place]?.kind === 'unknown_card')
      unknown.push({ ...entry, key: offlineEntryKey(terminalId, entry.entry) });
  });
  return unknown;
}

function answerOf(batch: number, record: OfflineBatchRecord, missing: readonly number[], replayed: boolean): UploadAnswer {
  return { batch, results: record.results ?? [], missing, replayed };
}

/** The money request of an offline entry, as its card decides it. */
export function offlineEntryRequest(terminalId: string, entry: AssessedEntry): MoneyRequest {
  const kind = entry.kind === 'sale' ? ('offline_purchase' as const) : ('offline_void' as const);
  const key = offlineEntryKey(terminalId, entry.entry);
  const originalKey = entry.kind === 'void' ? offlineEntryKey(terminalId, entry.voidOf) : '';
  const { cardId, amountMinor, currency } = entry;
  const fingerprint = fingerprintOf({
    kind,
    key,
    cardId,
    terminalId,
    amountMinor,
    currency,
    source: 'offline',
    operatorId: '',
    originalKey,
  });
  // One literal, no spread of a base object: a merge builds one request per uploaded entry. The
  // judged entry carries the offline fields (its time, program, merchant reason, denylist version).
  return {
    kind,
    key,
    cardId,
    terminalId,
    amountMinor,
    currency,
    source: 'offline',
    operatorId: '',
    originalKey,
    fingerprint,
    offline: entry,
  };
}

/**
 * The owner's side: one card's entries told to the card in entry order (its mailbox keeps the
 * order), answered when each settled. A refusal that says the outcome is unknown fails the call.
 */
export function mergeOfflineCard(region: Pick<ShardRegion, 'moneyAtMerchant'>, merge: OfflineCardMerge): Promise<OfflineEntryAnswer[]> {
  // One promise per card, not per entry: a batch's entries are mostly one per card, and the merge
  // runs for every uploaded entry.
  return new Promise<OfflineEntryAnswer[]>((resolve, reject) => {
    const answers = new Array<OfflineEntryAnswer>(merge.entries.length);
    let waiting = merge.entries.length;
    let failed = false;
    if (waiting === 0) return resolve(answers);
    const settle = (index: number, answer: OfflineEntryAnswer): void => {
      answers[index] = answer;
      waiting -= 1;
      if (waiting === 0 && !failed) resolve(answers);
    };
    merge.entries.forEach((entry, index) => {
      tellOfflineEntry(
        region,
        merge.terminalId,
        merge.merchantId,
        entry,
        (answer) => settle(index, answer),
        (error) => {
          failed = true;
          reject(error);
        },
      );
    });
  });
}

/**
 * Tells a card one offline entry (its mailbox keeps the order entries are told in): `answered` gets
 * the card's answer, its transaction or its refusal; `unknown` a failure that leaves the outcome
 * unknown (the upload fails and is sent again).
 */
function tellOfflineEntry(
  region: Pick<ShardRegion, 'moneyAtMerchant'>,
  terminalId: string,
  merchantId: string,
  entry: AssessedEntry,
  answered: (answer: OfflineEntryAnswer) => void,
  unknown: (error: Error) => void,
): void {
  region.moneyAtMerchant(offlineEntryRequest(terminalId, entry), merchantId, (outcome) => {
    if (outcome.ok) answered({ ok: true, result: outcome.value.result, replayed: outcome.value.replayed });
    else if (outcome.error instanceof RejectedError) answered({ ok: false, code: outcome.error.code, message: outcome.error.message });
    else unknown(outcome.error);
  });
}
