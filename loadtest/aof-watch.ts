// How much of a phase Redis spent rewriting its AOF. A rewrite forks a child that writes the whole
// dataset: on this 2-core machine it takes a core from the processes under test, and with
// appendfsync always the main process' fsyncs queue behind its writes. The benchmark's dataset
// grows by ~1 KB per authorization, so rewrites (auto-aof-rewrite-percentage 100) come often in
// the high-throughput phases; the share tells which figures they overlapped.

import { createClient } from 'redis';
import { round } from './driver';

const poll_interval_ms = 100;

export class AofWatch {
  private constructor(
    private readonly persistenceInfo: () => Promise<string>,
    private readonly closeClient: () => Promise<void>,
  ) {}

  static async connect(redisUrl: string): Promise<AofWatch> {
    const client = createClient({ url: redisUrl });
    await client.connect();
    return new AofWatch(
      () => client.info('persistence'),
      () => client.close(),
    );
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
    return /aof_rewrite_in_progress:1/.test(await this.persistenceInfo());
  }
}
