// The node's view of idempotency keys it is working on or answered recently. Redis holds the
// authoritative records (written atomically with the money movement); this index lets the common
// cases avoid a Redis trip: a concurrent duplicate waits for the first request's answer, and a
// quick retry is answered from memory. Both maps are bounded.

import type { IdempotencyRecord } from './card/transaction';
import { decodeIdempotencyRecord, isCompactIdempotencyRecord } from './state/idempotency';

export interface PendingKey {
  readonly fingerprint: string;
  /** Called with the record once the first request's commit settles, or undefined if it did not land. */
  readonly waiters: ((record: IdempotencyRecord | undefined) => void)[];
}

export type KeyState =
  { readonly state: 'pending'; readonly pending: PendingKey } | { readonly state: 'done'; readonly record: IdempotencyRecord } | undefined;

/**
 * What the map holds per key: a pending key, an answered key's record, or (most answered keys) the
 * record as committed to Redis, in its compact layout. The 50,000 recent answers the node keeps
 * live for minutes, long enough for every young-generation collection to copy them and then
 * promote them: one string each instead of a record's object tree (result, origin, fingerprint)
 * is less to copy, promote and mark. A retry of such a key decodes it again (retries are rare;
 * the same decoding a retry answered from Redis goes through).
 */
type Entry = NonNullable<KeyState> | string;

function answered(entry: Entry | undefined): boolean {
  return entry !== undefined && (typeof entry === 'string' || entry.state === 'done');
}

function answeredEntry(record: IdempotencyRecord, encoded: string | undefined): Entry {
  return encoded !== undefined && isCompactIdempotencyRecord(encoded) ? encoded : { state: 'done', record };
}

/**
 * One map holds both kinds of key (pending and answered), so the hot path costs one lookup per
 * request, one insert when it begins and one overwrite when it completes; the stored KeyState
 * objects are returned as they are (no allocation per lookup). Answered keys are bounded by a
 * ring of recent_max slots: the slot being overwritten evicts its key if that key is still an
 * answered one (a key answered twice may hold two slots and leave early, a cache miss at worst:
 * Redis keeps the authoritative record).
 */
export class IdempotencyIndex {
  private readonly keys = new Map<string, Entry>();
  private pendingKeys = 0;
  /** Answered keys in insertion order, as a ring: the slot being overwritten is evicted. */
  private readonly recentOrder: (string | undefined)[];
  private recentNext = 0;

  /** recent_max bounds the memory of answered keys; older ones are looked up in Redis. */
  constructor(private readonly recent_max: number) {
    this.recentOrder = new Array<string | undefined>(recent_max);
  }

  /** The key's state; an answered key kept encoded is decoded for the caller (a retry: rare). */
  lookup(key: string): KeyState {
    const entry = this.keys.get(key);
    return typeof entry === 'string' ? { state: 'done', record: decodeIdempotencyRecord(entry) } : entry;
  }

  begin(key: string, fingerprint: string): void {
    const known = this.keys.get(key);
    if (known !== undefined && typeof known !== 'string' && known.state === 'pending')
      throw new Error(`assertion: key ${key} already pending`);
    this.keys.set(key, { state: 'pending', pending: { fingerprint, waiters: [] } });
    this.pendingKeys += 1;
  }

  /**
   * The request with this key was answered with `record` (committed or found in Redis); `encoded`
   * is the record as stored in Redis, kept instead of the record when it is in the compact layout.
   */
  complete(key: string, record: IdempotencyRecord, encoded?: string): void {
    const known = this.keys.get(key);
    if (known === undefined || typeof known === 'string' || known.state !== 'pending') {
      this.remember(key, record, encoded);
      return;
    }
    this.pendingKeys -= 1;
    if (this.recent_max === 0) this.keys.delete(key);
    else {
      this.enterRing(key);
      this.keys.set(key, answeredEntry(record, encoded));
    }
    for (const waiter of known.pending.waiters) waiter(record);
  }

  /** The request did not land (conflict, failure): waiters must retry on their own. */
  abandon(key: string): void {
    const known = this.keys.get(key);
    if (known === undefined || typeof known === 'string' || known.state !== 'pending') return;
    this.pendingKeys -= 1;
    this.keys.delete(key);
    for (const waiter of known.pending.waiters) waiter(undefined);
  }

  /** Remembers an answered key (`encoded`: as complete()); a key that is pending stays pending (its completion decides). */
  remember(key: string, record: IdempotencyRecord, encoded?: string): void {
    if (this.recent_max === 0) return;
    const known = this.keys.get(key);
    if (known !== undefined) {
      if (answered(known)) this.keys.set(key, answeredEntry(record, encoded));
      return;
    }
    this.enterRing(key);
    this.keys.set(key, answeredEntry(record, encoded));
  }

  /** Gives an answered key the next ring slot, evicting the slot's previous key if still answered. */
  private enterRing(key: string): void {
    const evicted = this.recentOrder[this.recentNext];
    if (evicted !== undefined && evicted !== key && answered(this.keys.get(evicted))) this.keys.delete(evicted);
    this.recentOrder[this.recentNext] = key;
    this.recentNext = this.recentNext + 1 === this.recent_max ? 0 : this.recentNext + 1;
  }

  get pendingCount(): number {
    return this.pendingKeys;
  }
}
