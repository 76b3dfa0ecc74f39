// Terminal states of shards held by OTHER nodes, as the card path on this node sees them.
//
// In a cluster a card and the terminal it is tapped on may live on different nodes. Forwarding
// every money request to the terminal's owner first would cost a second node-to-node hop; so a
// card's owner reads the terminal's *durable* record from Redis and keeps it for at most
// `staleness_ms`. The cost: after SetTerminalEnabled(false) on the terminal's owner, other nodes
// may accept that terminal's requests for up to `staleness_ms` more (docs/CLUSTER.md). Concurrent
// look-ups of one terminal share one Redis read; the cache is bounded (oldest entries evicted).

import type { TaplineError } from '../errors';
import type { TerminalState } from '../terminal/rules';

export interface TerminalCacheLimits {
  /** How long a state read from Redis is trusted before it is read again. */
  readonly staleness_ms: number;
  /** Terminals remembered at once. */
  readonly entries_max: number;
}

type Waiter = { then: (state: TerminalState | undefined) => void; fail: (error: TaplineError) => void };

interface Entry {
  state: TerminalState | undefined;
  fetchedAtMs: number;
  waiters: Waiter[] | undefined;
}

export class TerminalCache {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly load: (terminalId: string) => Promise<TerminalState | undefined>,
    private readonly limits: TerminalCacheLimits,
    private readonly clock: () => number,
  ) {}

  /** Calls `then` with the terminal's durable state (undefined: not registered), or `fail`. */
  get(terminalId: string, then: Waiter['then'], fail: Waiter['fail']): void {
    const entry = this.entries.get(terminalId);
    if (entry !== undefined) {
      if (entry.waiters !== undefined) {
        entry.waiters.push({ then, fail });
        return;
      }
      if (this.clock() - entry.fetchedAtMs < this.limits.staleness_ms) {
        then(entry.state);
        return;
      }
    }
    this.fetch(terminalId, entry, { then, fail });
  }

  get size(): number {
    return this.entries.size;
  }

  private fetch(terminalId: string, previous: Entry | undefined, waiter: Waiter): void {
    const entry: Entry = previous ?? { state: undefined, fetchedAtMs: 0, waiters: undefined };
    entry.waiters = [waiter];
    if (previous === undefined) {
      if (this.entries.size >= this.limits.entries_max) {
        const oldest = this.entries.keys().next();
        if (oldest.done !== true) this.entries.delete(oldest.value);
      }
      this.entries.set(terminalId, entry);
    }
    this.load(terminalId).then(
      (state) => {
        const waiters = entry.waiters ?? [];
        entry.waiters = undefined;
        entry.state = state;
        entry.fetchedAtMs = this.clock();
        for (const w of waiters) w.then(state);
      },
      (error: TaplineError) => {
        const waiters = entry.waiters ?? [];
        entry.waiters = undefined;
        // Nothing trustworthy is kept: the next request reads again.
        this.entries.delete(terminalId);
        for (const w of waiters) w.fail(error);
      },
    );
  }
}
