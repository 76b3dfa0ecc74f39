// A terminal that keeps selling when the network is down, simulated: it syncs (grant, denylist
// delta, acknowledgement), sells offline within its grant as a real terminal must (caps, denylist,
// window, the card medium's counter), numbers its entries, closes them into signed batches and
// uploads them when it is back, resending a batch unchanged until it is answered. The demo, the
// tests and the benchmark drive it; `rogue` makes it ignore its grant (to show the merchant, not
// the issuer, carries what it then sells). Card media are plain objects shared between terminals,
// like a wristband carried from bar to bar.

import { generateKeyPairSync, sign, verify, createPublicKey, type KeyObject } from 'node:crypto';
import { batchSigningBytes, counterSigningBytes } from '../../actors/offline/signature';
import {
  OfflineBatch,
  OfflineEntryKind,
  type GetOfflineProfileResponse,
  type OfflineEntry,
  type OfflineEntryResult,
  type UploadOfflineBatchResponse,
} from '../../gen/tapline/v1/offline';
import type { OfflineClient } from '../client/offline-client';

/** A card medium (NFC card or wristband): its id and program, and its signed offline-spend counter when it carries one. */
export interface CardMedium {
  readonly cardId: string;
  readonly programId: string;
  counter?: { baseMergedMinor: number; baseIssuedAtMs: number; baseSignature: Uint8Array; spentMinor: number };
}

export type SaleRefusal =
  | 'no_grant'
  | 'denylist_stale'
  | 'window_over'
  | 'program'
  | 'currency'
  | 'txn_cap'
  | 'denylisted'
  | 'count_cap'
  | 'terminal_cap'
  | 'card_cap'
  | 'card_counter';

export interface SimulatorOptions {
  /** Monotonic milliseconds (the offset of each sale from its grant). */
  readonly clock: () => number;
  /** Entries per batch, at most. */
  readonly batch_entries_max?: number;
  /** Sells whatever it is asked to, ignoring its grant and denylist (its merchant carries that). */
  readonly rogue?: boolean;
}

interface PendingBatch {
  readonly number: number;
  readonly bytes: Uint8Array;
  readonly signature: Uint8Array;
  readonly entries: readonly OfflineEntry[];
}

export function generateTerminalKey(): { privateKey: KeyObject; publicKey: KeyObject; spki: Buffer } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { privateKey, publicKey, spki: publicKey.export({ format: 'der', type: 'spki' }) };
}

export class OfflineTerminalSimulator {
  grant: GetOfflineProfileResponse | undefined;
  private grantAtMs = 0;
  /** The denylist versions held, and the cards listed in them. */
  held: bigint[] = [];
  readonly listed = new Map<string, string>();
  private usage = { count: 0, totalMinor: 0, cards: new Map<string, number>() };
  private nextEntry = 1;
  private nextBatch = 1;
  private queue: OfflineEntry[] = [];
  readonly pending: PendingBatch[] = [];
  /** Every entry's result, once its batch was answered. */
  readonly results = new Map<number, OfflineEntryResult>();
  /** Every entry sold or voided, by number (what the terminal keeps until it is answered). */
  readonly entries = new Map<number, OfflineEntry>();

  constructor(
    readonly terminalId: string,
    private readonly client: OfflineClient,
    private readonly key: { readonly privateKey: KeyObject },
    private readonly options: SimulatorOptions,
  ) {}

  get lastEntry(): number {
    return this.nextEntry - 1;
  }

  /** Online: a grant, the denylist brought up to date, and the acknowledgement. */
  async sync(): Promise<void> {
    const grant = await this.client.profile(this.terminalId, this.lastEntry);
    await this.refreshDenylist();
    this.grant = grant;
    this.grantAtMs = this.options.clock();
    this.usage = { count: 0, totalMinor: 0, cards: new Map() };
  }

  /** Fetches denylist pages until current, applies them, acknowledges what it holds. */
  async refreshDenylist(): Promise<void> {
    let since = this.held;
    let token = '';
    for (;;) {
      const page = await this.client.delta(this.terminalId, since, token);
      if (page.reset) this.listed.clear();
      for (const change of page.changes) {
        if (change.listed) this.listed.set(change.cardId, change.reason);
        else this.listed.delete(change.cardId);
      }
      since = page.to;
      token = page.nextPageToken;
      if (!page.more) break;
    }
    this.held = since;
    await this.client.ack(this.terminalId, this.held, this.lastEntry);
  }

  /** Decides an offline sale as the terminal must (or, rogue, sells anyway); the entry number when sold. */
  sell(medium: CardMedium, amountMinor: number, currency: string): { entry: number } | { refused: SaleRefusal } {
    const refusal = this.options.rogue === true ? undefined : this.refusal(medium, amountMinor, currency);
    if (refusal !== undefined) return { refused: refusal };
    const grant = this.grant;
    const before = medium.counter === undefined ? undefined : { ...medium.counter };
    if (medium.counter !== undefined) medium.counter.spentMinor += amountMinor;
    this.usage.count += 1;
    this.usage.totalMinor += amountMinor;
    this.usage.cards.set(medium.cardId, (this.usage.cards.get(medium.cardId) ?? 0) + amountMinor);
    const entry: OfflineEntry = {
      entryNumber: BigInt(this.nextEntry++),
      kind: OfflineEntryKind.OFFLINE_ENTRY_KIND_SALE,
      cardId: medium.cardId,
      programId: medium.programId,
      amount: { amountMinor: BigInt(amountMinor), currency },
      voidOf: 0n,
      grantNumber: grant?.grantNumber ?? 0n,
      offsetMs: BigInt(this.options.clock() - this.grantAtMs),
      counter:
        before === undefined
          ? undefined
          : {
              baseMergedMinor: BigInt(before.baseMergedMinor),
              baseIssuedAtUnixMs: BigInt(before.baseIssuedAtMs),
              baseSignature: Buffer.from(before.baseSignature),
              spentMinor: BigInt(before.spentMinor),
            },
      receiptNumber: 0n,
    };
    this.record(entry);
    return { entry: Number(entry.entryNumber) };
  }

  /** Cancels an earlier sale of this terminal. */
  voidSale(entryNumber: number): number {
    const sale = this.entries.get(entryNumber);
    if (sale === undefined) throw new Error(`no entry ${entryNumber} to void`);
    const entry: OfflineEntry = {
      entryNumber: BigInt(this.nextEntry++),
      kind: OfflineEntryKind.OFFLINE_ENTRY_KIND_VOID,
      cardId: sale.cardId,
      programId: sale.programId,
      amount: undefined,
      voidOf: sale.entryNumber,
      grantNumber: this.grant?.grantNumber ?? 0n,
      offsetMs: BigInt(this.options.clock() - this.grantAtMs),
      counter: undefined,
      receiptNumber: 0n,
    };
    this.record(entry);
    return Number(entry.entryNumber);
  }

  /** Closes the entries not yet batched into signed batches (each resent unchanged until answered). */
  closeBatches(): number {
    const max = this.options.batch_entries_max ?? 500;
    let closed = 0;
    while (this.queue.length > 0) {
      const entries = this.queue.splice(0, max);
      const bytes = OfflineBatch.encode({ terminalId: this.terminalId, batchNumber: BigInt(this.nextBatch), entries }).finish();
      const signature = sign(null, batchSigningBytes(bytes), this.key.privateKey);
      this.pending.push({ number: this.nextBatch++, bytes, signature, entries });
      closed += 1;
    }
    return closed;
  }

  /** Uploads the pending batches in order (or in the order given); a batch stays pending until answered. */
  async upload(order?: readonly number[]): Promise<UploadOfflineBatchResponse[]> {
    const answers: UploadOfflineBatchResponse[] = [];
    const batches =
      order === undefined
        ? [...this.pending]
        : order.map((n) => this.pending.find((batch) => batch.number === n)).filter((b) => b !== undefined);
    for (const batch of batches) answers.push(await this.uploadBatch(batch));
    return answers;
  }

  /** Uploads one batch (pending or answered before: the same bytes again); records its results. */
  async uploadBatch(batch: PendingBatch): Promise<UploadOfflineBatchResponse> {
    const answer = await this.client.upload(this.terminalId, batch.bytes, batch.signature);
    for (const result of answer.results) this.results.set(Number(result.entryNumber), result);
    const index = this.pending.indexOf(batch);
    if (index >= 0) this.pending.splice(index, 1);
    return answer;
  }

  /** Online with a card whose medium carries a counter: Tapline's new signed base, written to the medium. */
  async refreshCounter(medium: CardMedium): Promise<void> {
    const base = await this.client.refreshCounter(this.terminalId, medium.cardId);
    const merged = Number(base.baseMergedMinor);
    const old = medium.counter;
    const unmerged = old === undefined ? 0 : Math.max(0, old.baseMergedMinor + old.spentMinor - merged);
    medium.counter = {
      baseMergedMinor: merged,
      baseIssuedAtMs: Number(base.baseIssuedAtUnixMs),
      baseSignature: base.baseSignature,
      spentMinor: unmerged,
    };
  }

  private record(entry: OfflineEntry): void {
    this.entries.set(Number(entry.entryNumber), entry);
    this.queue.push(entry);
  }

  private refusal(medium: CardMedium, amountMinor: number, currency: string): SaleRefusal | undefined {
    const grant = this.grant;
    if (grant === undefined) return 'no_grant';
    if (!grant.denylistRequired.every((required, shard) => (this.held[shard] ?? 0n) >= required)) return 'denylist_stale';
    if (this.options.clock() - this.grantAtMs > Number(grant.offlineMaxMs)) return 'window_over';
    const program = grant.programs.find((candidate) => candidate.programId === medium.programId);
    if (program === undefined) return 'program';
    if (currency !== grant.totalMax?.currency) return 'currency';
    if (amountMinor > Number(program.txnMax?.amountMinor ?? 0n)) return 'txn_cap';
    if (this.listed.has(medium.cardId)) return 'denylisted';
    if (this.usage.count + 1 > grant.countMax) return 'count_cap';
    if (this.usage.totalMinor + amountMinor > Number(grant.totalMax.amountMinor)) return 'terminal_cap';
    const cardMax = Number(program.cardMax?.amountMinor ?? 0n);
    if ((this.usage.cards.get(medium.cardId) ?? 0) + amountMinor > cardMax) return 'card_cap';
    if (program.cardCounter && !this.counterAllows(medium, amountMinor, cardMax, grant.counterPublicKey)) return 'card_counter';
    return undefined;
  }

  private counterAllows(medium: CardMedium, amountMinor: number, cardMax: number, serverKey: Uint8Array): boolean {
    const counter = medium.counter;
    if (counter === undefined || serverKey.length === 0) return false;
    const key = createPublicKey({ key: Buffer.from(serverKey), format: 'der', type: 'spki' });
    const signed = verify(
      null,
      counterSigningBytes(medium.cardId, counter.baseMergedMinor, counter.baseIssuedAtMs),
      key,
      counter.baseSignature,
    );
    return signed && counter.spentMinor + amountMinor <= cardMax;
  }
}
