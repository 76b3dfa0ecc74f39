// The delivery worker: takes due deliveries from Redis, sends each through its channel's sender,
// and records the attempt. Any number of workers may run (every reports replica runs one): a claim
// is atomic and hides the delivery for `in_flight_ms`, after which a worker that died holding it
// loses it to another. A delivery is retried with exponential backoff until `attempts_max`, then
// it is failed (and an operator can put it back: POST /deliveries/<id>/retry).

import type { Logger } from '../common/logger';
import type { SendOutcome, Sender } from './senders';
import type { Channel, EventsStore } from './store';

export interface WorkerOptions {
  readonly claim_count: number;
  readonly in_flight_ms: number;
  readonly attempts_max: number;
  readonly backoff_initial_ms: number;
  readonly backoff_max_ms: number;
  readonly poll_interval_ms: number;
  /** How long a sent or failed delivery's record is kept (its history). */
  readonly retention_ms: number;
}

/** The wait before attempt `attempt + 1` (attempt counts from 1): doubling from the initial value up to the cap. */
export function backoffMs(attempt: number, initial_ms: number, max_ms: number): number {
  return Math.min(max_ms, initial_ms * 2 ** Math.min(Math.max(0, attempt - 1), 30));
}

export class DeliveryWorker {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  readonly counts = { sent: 0, retried: 0, failed: 0 };

  constructor(
    private readonly store: EventsStore,
    private readonly senders: Readonly<Partial<Record<Channel, Sender>>>,
    private readonly options: WorkerOptions,
    private readonly logger: Logger,
    private readonly clock: () => number = Date.now,
    /** Told each attempt's channel and result (metrics). */
    private readonly observe: (channel: Channel, result: 'sent' | 'retry' | 'failed') => void = () => undefined,
  ) {}

  start(): void {
    const loop = async (): Promise<void> => {
      let busy = false;
      try {
        busy = (await this.step()) >= this.options.claim_count;
      } catch (error) {
        this.logger.warn({ err: error }, 'delivery worker step failed; retrying');
      }
      if (!this.stopped)
        this.timer = setTimeout(
          () => {
            this.running = loop();
          },
          busy ? 0 : this.options.poll_interval_ms,
        );
    };
    this.running = loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** Sends every delivery due now (at most claim_count), concurrently; answers how many it took. */
  async step(): Promise<number> {
    const ids = await this.store.claimDue(this.clock(), this.options.claim_count, this.options.in_flight_ms);
    await Promise.all(ids.map((id) => this.deliver(id)));
    return ids.length;
  }

  private async deliver(id: string): Promise<void> {
    const delivery = await this.store.delivery(id);
    if (delivery === undefined) return this.store.forget(id);
    if (delivery.state !== 'pending') return;
    const sender = this.senders[delivery.channel];
    const outcome: SendOutcome =
      sender === undefined
        ? { ok: false, retry: true, detail: `no ${delivery.channel} sender is configured` }
        : await sender.send(delivery, this.clock());
    const now_ms = this.clock();
    const attempt = delivery.attempts + 1;
    const result = outcome.ok ? 'sent' : outcome.retry && attempt < this.options.attempts_max ? 'retry' : 'failed';
    const next_at_ms = result === 'retry' ? now_ms + backoffMs(attempt, this.options.backoff_initial_ms, this.options.backoff_max_ms) : 0;
    await this.store.complete(
      id,
      result,
      { at_ms: now_ms, ok: outcome.ok, detail: outcome.detail },
      next_at_ms,
      outcome.ok ? outcome.provider_ref : '',
      this.options.retention_ms,
    );
    this.counts[result === 'sent' ? 'sent' : result === 'retry' ? 'retried' : 'failed'] += 1;
    this.observe(delivery.channel, result);
    if (result === 'failed')
      this.logger.warn({ delivery: id, channel: delivery.channel, detail: outcome.detail }, 'delivery failed for good');
  }
}
