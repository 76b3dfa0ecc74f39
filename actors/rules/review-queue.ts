// The review queue of suspicious transactions: approved transactions that a soft rule flagged
// (risk:soft_amount, risk:soft:velocity:...) wait here until an operator resolves them. One queue
// per fleet account (its program), kept as a bounded record on the account's shard and written in
// the same commit as the flagged approval, so a flagged approval is never without its queue entry.
// When the queue is full the oldest entry makes room and `dropped` counts it: the transaction is
// still flagged in the outbox (and ClickHouse), so nothing is lost, but reviewers see the gap.

export interface ReviewEntry {
  readonly id: string;
  readonly card: string;
  readonly amount_minor: number;
  readonly flags: readonly string[];
  readonly at_ms: number;
}

export interface ReviewQueue {
  readonly entries: readonly ReviewEntry[];
  readonly dropped: number;
}

export const empty_review_queue: ReviewQueue = Object.freeze({ entries: Object.freeze([]), dropped: 0 });

/** Entries kept per queue: a screenful of work, and a record small enough to rewrite per flag. */
export const review_entries_max = 500;

export function enqueueReview(queue: ReviewQueue, entry: ReviewEntry): ReviewQueue {
  const entries = [...queue.entries, entry];
  const over = entries.length - review_entries_max;
  return over > 0 ? { entries: entries.slice(over), dropped: queue.dropped + over } : { entries, dropped: queue.dropped };
}

/** The queue without the entry of transaction `id`; the same object when it is not queued. */
export function resolveReview(queue: ReviewQueue, id: string): ReviewQueue {
  const entries = queue.entries.filter((entry) => entry.id !== id);
  return entries.length === queue.entries.length ? queue : { entries, dropped: queue.dropped };
}
