// How old the denylist is that each terminal may be selling against right now: the metric
// tapline_offline_denylist_age_seconds{terminal} (services/common/metrics.ts), which the chart's
// TaplineOfflineDenylistStale alert watches (docs/OPERATIONS.md). A terminal counts while its
// offline grant is valid (it may sell offline now); its age is the time since it last acknowledged
// a denylist, or, when it never did, since its grant was issued (it then holds no list at all).
// The owner of a terminal's shard reports it, from the durable states its terminal actors publish;
// a passivated terminal keeps its last state here (its grant and acknowledgement do not change
// while nobody calls it). Bounded: at most `terminals_max` terminals per node.

import type { TerminalState } from '../../../actors/terminal/rules';

interface HeldDenylist {
  /** When the terminal acknowledged the denylist it holds (or got its grant, when it never acknowledged). */
  readonly sinceMs: number;
  /** Its grant's end: after it, the terminal may not sell offline and is not reported. */
  readonly validUntilMs: number;
}

export class DenylistAges {
  private readonly terminals = new Map<string, HeldDenylist>();
  /** Terminals not reported because the bound was reached (reported in the node's log by the caller). */
  untracked = 0;

  constructor(
    private readonly limits: { readonly terminals_max: number },
    /** Whether this node still owns the terminal's shard (a terminal that moved is the new owner's to report). */
    private readonly holds: (terminalId: string) => boolean,
  ) {}

  /** A terminal actor published its durable state (undefined: passivated or unknown; the last one stands). */
  observe(terminalId: string, state: TerminalState | undefined): void {
    if (state === undefined) return;
    const grant = state.offline?.grant;
    if (grant === undefined || !state.enabled) {
      this.terminals.delete(terminalId);
      return;
    }
    if (!this.terminals.has(terminalId) && this.terminals.size >= this.limits.terminals_max) {
      this.untracked += 1;
      return;
    }
    const ack = state.offline?.ack;
    this.terminals.set(terminalId, {
      sinceMs: ack === undefined ? grant.issuedAtMs : ack.atMs,
      validUntilMs: grant.issuedAtMs + grant.offlineMaxMs,
    });
  }

  /** Each terminal that may sell offline now, with the age of its denylist (seconds); forgets the others. */
  ages(nowMs: number): [string, number][] {
    const ages: [string, number][] = [];
    for (const [terminalId, held] of this.terminals) {
      if (nowMs >= held.validUntilMs || !this.holds(terminalId)) {
        this.terminals.delete(terminalId);
        continue;
      }
      ages.push([terminalId, Math.max(0, nowMs - held.sinceMs) / 1000]);
    }
    return ages;
  }
}
