// A bounded load generator for fault tests: sends purchases with unique idempotency keys over
// real gRPC, remembers what each request was and what the client saw (reply or error), and can
// retry every request whose outcome the client does not know, with the same key and fields.

import type { AuthorizeRequest, AuthorizeResponse } from '../../gen/tapline/v1/authorization';
import { Outcome } from '../../gen/tapline/v1/types';
import { purchase, type TaplineClient } from '../../tools/client/tapline-client';

export interface Sent {
  readonly key: string;
  readonly cardId: string;
  readonly amountMinor: number;
  readonly request: AuthorizeRequest;
  /** Every reply the client received for this key (a retry adds one). */
  readonly replies: AuthorizeResponse[];
  errors: number;
}

export interface LoadPlan {
  readonly terminalId: string;
  readonly cards: readonly string[];
  readonly concurrency: number;
  /** Upper bound on requests sent (the loop also stops when stop() is called). */
  readonly requests_max: number;
  /** Deterministic amounts and card choice: request n uses these. */
  readonly amountOf: (n: number) => number;
  readonly cardOf: (n: number) => number;
  readonly deadline_ms: number;
}

export class LoadRun {
  readonly sent = new Map<string, Sent>();
  private stopped = false;
  private next = 0;
  private running: Promise<void> | undefined;

  constructor(private readonly plan: LoadPlan) {}

  /** Starts `concurrency` loops sending through `client()` (re-read on every call). */
  start(client: () => TaplineClient): void {
    const loops = Array.from({ length: this.plan.concurrency }, async () => {
      while (!this.stopped && this.next < this.plan.requests_max) {
        const n = this.next++;
        const entry = this.record(n);
        try {
          entry.replies.push(await client().authorize(entry.request, this.plan.deadline_ms));
        } catch {
          entry.errors += 1;
        }
      }
    });
    this.running = Promise.all(loops).then(() => undefined);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.running;
  }

  get answered(): number {
    let count = 0;
    for (const entry of this.sent.values()) if (entry.replies.length > 0) count += 1;
    return count;
  }

  /** Retries every request without a reply until each has one (bounded attempts). */
  async settleUnknown(client: TaplineClient, attempts_max: number): Promise<void> {
    for (let attempt = 0; attempt < attempts_max; attempt++) {
      const unknown = [...this.sent.values()].filter((entry) => entry.replies.length === 0);
      if (unknown.length === 0) return;
      await Promise.all(
        unknown.map(async (entry) => {
          try {
            entry.replies.push(await client.authorize(entry.request, this.plan.deadline_ms));
          } catch {
            entry.errors += 1;
          }
        }),
      );
    }
    const left = [...this.sent.values()].filter((entry) => entry.replies.length === 0).length;
    if (left > 0) throw new Error(`settle: ${left} requests still without an answer after ${attempts_max} rounds of retries`);
  }

  /** Approved amount per card, from the first reply of each request. */
  approvedByCard(): Map<string, number> {
    const totals = new Map<string, number>();
    for (const entry of this.sent.values()) {
      const first = entry.replies[0];
      if (first?.outcome === Outcome.OUTCOME_APPROVED) totals.set(entry.cardId, (totals.get(entry.cardId) ?? 0) + entry.amountMinor);
    }
    return totals;
  }

  private record(n: number): Sent {
    const cardId = this.plan.cards[this.plan.cardOf(n) % this.plan.cards.length] as string;
    const amountMinor = this.plan.amountOf(n);
    const txn = n + 1;
    const entry: Sent = {
      key: `t:${this.plan.terminalId}:${txn}`,
      cardId,
      amountMinor,
      request: purchase(this.plan.terminalId, txn, cardId, amountMinor),
      replies: [],
      errors: 0,
    };
    this.sent.set(entry.key, entry);
    return entry;
  }
}
