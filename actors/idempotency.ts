// The node's view of idempotency keys it is working on or answered recently. Redis holds the
// authoritative records (written atomically with the money movement); this index lets the common
// cases avoid a Redis trip: a concurrent duplicate waits for the first request's answer, and a
// quick retry is answered from memory. Both maps are bounded.

import type { IdempotencyRecord } from './card/transaction';

export interface PendingKey {
  readonly fingerprint: string;
  /** Called with the record once the first request's commit settles, or undefined if it did not land. */
  readonly waiters: ((record: IdempotencyRecord | undefined) => void)[];
}

export type KeyState =
  | { readonly state: 'pending'; readonly pending: PendingKey }
  | { readonly state: 'done'; readonly record: IdempotencyRecord }
  | undefined;

export class IdempotencyIndex {
  private readonly pending = new Map<string, PendingKey>();
  private readonly recent = new Map<string, IdempotencyRecord>();
  /** Keys of `recent` in insertion order, as a ring: the slot being overwritten is evicted. */
  private readonly recentOrder: (string | undefined)[];
  private recentNext = 0;

  /** recent_max bounds the memory of answered keys; older ones are looked up in Redis. */
  constructor(private readonly recent_max: number) {
    this.recentOrder = new Array<string | undefined>(recent_max);
  }

  lookup(key: string): KeyState {
    const pending = this.pending.get(key);
    if (pending) return { state: 'pending', pending };
    const record = this.recent.get(key);
    if (record) return { state: 'done', record };
    return undefined;
  }

  begin(key: string, fingerprint: string): void {
    if (this.pending.has(key)) throw new Error(`assertion: key ${key} already pending`);
    this.pending.set(key, { fingerprint, waiters: [] });
  }

  /** The request with this key was answered with `record` (committed or found in Redis). */
  complete(key: string, record: IdempotencyRecord): void {
    const pending = this.pending.get(key);
    this.pending.delete(key);
    this.remember(key, record);
    if (pending) for (const waiter of pending.waiters) waiter(record);
  }

  /** The request did not land (conflict, failure): waiters must retry on their own. */
  abandon(key: string): void {
    const pending = this.pending.get(key);
    this.pending.delete(key);
    if (pending) for (const waiter of pending.waiters) waiter(undefined);
  }

  remember(key: string, record: IdempotencyRecord): void {
    if (this.recent_max === 0) return;
    if (this.recent.has(key)) {
      this.recent.set(key, record);
      return;
    }
    const evicted = this.recentOrder[this.recentNext];
    if (evicted !== undefined) this.recent.delete(evicted);
    this.recentOrder[this.recentNext] = key;
    this.recentNext = (this.recentNext + 1) % this.recent_max;
    this.recent.set(key, record);
  }

  get pendingCount(): number {
    return this.pending.size;
  }
}
