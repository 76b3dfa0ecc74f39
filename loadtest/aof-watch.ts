// How much of a phase Redis spent rewriting its AOF. A rewrite forks a child that writes the whole
// dataset: on this 2-core machine it takes a core from the processes under test, and with
// appendfsync always the main process' fsyncs queue behind its writes. The benchmark's dataset
// grows by ~1 KB per authorization, so rewrites (auto-aof-rewrite-percentage 100) come often in
// the high-throughput phases; the share tells which figures they overlapped.
//
// A comparison of two paths round by round (the offline merge against streams) must not let a
// rewrite decide a round: one falls wherever the AOF crosses twice its last size, costs a round
// a third of its rate, and the path that writes more per item draws it more often. There the
// rounds run with automatic rewrites off (withoutRewrites), and what each path appends to the AOF
// per item is reported instead (appended), so the rewrites it would bring on stay in view.

import { createClient } from 'redis';
import { round } from './driver';

const poll_interval_ms = 100;

export class AofWatch {
  private constructor(
    private readonly info: (section: string) => Promise<string>,
    private readonly command: (args: string[]) => Promise<unknown>,
    private readonly closeClient: () => Promise<void>,
  ) {}

  static async connect(redisUrl: string): Promise<AofWatch> {
    const client = createClient({ url: redisUrl });
    await client.connect();
    return new AofWatch(
      (section) => client.info(section),
      (args) => client.sendCommand(args),
      () => client.close(),
    );
  }

  /**
   * Runs `run` with Redis' automatic AOF rewrites turned off (auto-aof-rewrite-percentage 0) and
   * none running; then rewrites the AOF once, waits for that rewrite to end, and turns them back
   * on as they were. The phases after start from a rewritten AOF, as they would have without
   * `run`, instead of meeting the rewrite its writes made overdue.
   */
  async withoutRewrites<T>(run: () => Promise<T>, timeout_ms = 120_000): Promise<T> {
    const reply = await this.command(['CONFIG', 'GET', 'auto-aof-rewrite-percentage']);
    // A flat array in RESP2, a map in RESP3.
    const percentage = String(Array.isArray(reply) ? reply[1] : (reply as Record<string, unknown>)['auto-aof-rewrite-percentage']);
    if (!/^[0-9]+$/.test(percentage)) throw new Error(`unexpected CONFIG GET reply: ${JSON.stringify(reply)}`);
    await this.command(['CONFIG', 'SET', 'auto-aof-rewrite-percentage', '0']);
    try {
      await this.idle(Date.now(), timeout_ms);
      return await run();
    } finally {
      try {
        await this.idle(Date.now(), timeout_ms);
        await this.command(['BGREWRITEAOF']);
        await this.idle(Date.now(), timeout_ms);
      } finally {
        await this.command(['CONFIG', 'SET', 'auto-aof-rewrite-percentage', percentage]);
      }
    }
  }

  /** The AOF's size and the outbox documents written (XADD calls, from scripts included), now. */
  async appended(): Promise<{ aof_bytes: number; documents: number }> {
    const persistence = await this.info('persistence');
    const stats = await this.info('commandstats');
    return {
      aof_bytes: Number(/aof_current_size:([0-9]+)/.exec(persistence)?.[1] ?? NaN),
      documents: Number(/cmdstat_xadd:calls=([0-9]+)/.exec(stats)?.[1] ?? 0),
    };
  }

  private async idle(started: number, timeout_ms: number): Promise<void> {
    for (;;) {
      const info = await this.info('persistence');
      if (!/aof_rewrite_in_progress:1/.test(info) && !/aof_rewrite_scheduled:1/.test(info)) return;
      if (Date.now() - started > timeout_ms) throw new Error(`the AOF rewrite did not end within ${timeout_ms} ms`);
      await new Promise((resolve) => setTimeout(resolve, poll_interval_ms));
    }
  }

  /** Runs `run`; the share of 100 ms samples during it in which an AOF rewrite was in progress. */
  async during<T>(run: () => Promise<T>): Promise<{ result: T; aof_rewrite_share: number }> {
    let samples = 0;
    let rewriting = 0;
    let probing: Promise<void> | undefined;
    const probe = (): void => {
      if (probing !== undefined) return;
      probing = this.rewriteInProgress()
        .then(
          (inProgress) => {
            samples += 1;
            if (inProgress) rewriting += 1;
          },
          () => undefined,
        )
        .finally(() => {
          probing = undefined;
        });
    };
    probe();
    const timer = setInterval(probe, poll_interval_ms);
    try {
      const result = await run();
      return { result, aof_rewrite_share: samples === 0 ? 0 : round(rewriting / samples, 2) };
    } finally {
      clearInterval(timer);
      await probing;
    }
  }

  async close(): Promise<void> {
    await this.closeClient();
  }

  private async rewriteInProgress(): Promise<boolean> {
    return /aof_rewrite_in_progress:1/.test(await this.info('persistence'));
  }
}
