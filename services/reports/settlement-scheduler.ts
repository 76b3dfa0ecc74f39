// Scheduled settlement cycles: every merchant's batch of each ended period (daily, weekly or
// monthly, the merchant's cycle) is computed without anyone asking, once ClickHouse holds all of
// the period. Approval stays a person's act (POST /settlement/batches/<id>/approve).
//
// Several reports replicas run the scheduler; one at a time works, holding a lease in Redis
// (services/common/redis-lease.ts). Should two overlap (a paused holder whose lease expired), both
// compute the same batch id, which the batch's own script keeps to one batch: computed batches are
// recomputed, approved ones are never touched (settlement-store.ts).
//
// "ClickHouse holds all of the period" is the outbox horizon (services/events/horizon.ts): a
// period is computed only when the horizon has passed its end (plus `settle_margin_ms`), so a
// streamer backlog delays the batch instead of leaving transactions out of it.
//
//   tl:{settle}:scheduler:lease        string  the scheduler's lease
//   tl:{settle}:scheduled:<merchant>   string  end (exclusive, ms) of the last period the scheduler computed

import type { Acting } from '../../actors/principal';
import type { Logger } from '../common/logger';
import { RedisLease, type RedisCommands } from '../common/redis-lease';
import { outboxHorizonMs, outboxKeys } from '../events/horizon';
import { computeBatch, run_merchants_max, type SettlementContext } from './settlement';
import { periodOf, type SettlementPeriod } from './settlement-rules';

export interface SchedulerOptions {
  readonly shard_count: number;
  readonly interval_ms: number;
  /** How far back a run looks for periods not computed yet. */
  readonly catch_up_days: number;
  readonly holder: string;
  /**
   * How far the horizon must be past a period's end. A document's `at` is when it was decided,
   * its commit (the horizon's clock) follows within the authorizer's commit time-out; this margin
   * covers that and clock differences between nodes and Redis.
   */
  readonly settle_margin_ms: number;
}

/** The name batches computed by the scheduler carry as `computed_by`. */
export const scheduler_operator = 'scheduler';

/**
 * Who the scheduler acts as in the audit records of the batches it computes: the service itself,
 * no person. A person with the settlement approver role approves them (never "scheduler").
 */
const scheduler_acting: Acting = { subject: scheduler_operator, role: 'system', scope: '*', action: 'settlement.scheduler' };

const lease_key = 'tl:{settle}:scheduler:lease';
const scheduledKey = (merchant: string): string => `tl:{settle}:scheduled:${merchant}`;
const day_ms = 86_400_000;

/** The periods of `cycle` that end after `after_ms` and no later than `until_ms`, oldest first (pure). */
export function periodsToCompute(cycle: SettlementPeriod['cycle'], after_ms: number, until_ms: number): SettlementPeriod[] {
  const periods: SettlementPeriod[] = [];
  let day = Math.floor(after_ms / day_ms) * day_ms;
  while (day < until_ms) {
    const period = periodOf(cycle, day);
    if (period.until_ms > until_ms) break;
    if (period.until_ms > after_ms) periods.push(period);
    day = period.until_ms;
  }
  return periods;
}

export interface SchedulerRun {
  readonly held: boolean;
  readonly horizon_ms: number;
  /** Batch ids this run computed. */
  readonly computed: readonly string[];
}

export class SettlementScheduler {
  private readonly lease: RedisLease;
  private readonly outboxes: string[];
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly redis: RedisCommands,
    private readonly context: SettlementContext,
    private readonly options: SchedulerOptions,
    private readonly logger: Logger,
  ) {
    this.lease = new RedisLease(redis, lease_key, options.holder, 3 * options.interval_ms);
    this.outboxes = outboxKeys(options.shard_count);
  }

  start(): void {
    const loop = async (): Promise<void> => {
      try {
        const run = await this.runOnce();
        if (run.computed.length > 0) this.logger.info({ batches: run.computed }, 'settlement batches computed on schedule');
      } catch (error) {
        this.logger.warn({ err: error }, 'settlement scheduler run failed; retrying');
      }
      if (!this.stopped)
        this.timer = setTimeout(() => {
          this.running = loop();
        }, this.options.interval_ms);
    };
    this.running = loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
    await this.lease.release().catch(() => undefined);
  }

  /** One run: every configured merchant's ended, fully streamed periods not computed yet. */
  async runOnce(): Promise<SchedulerRun> {
    if (!(await this.lease.hold())) return { held: false, horizon_ms: 0, computed: [] };
    const horizon_ms = Math.min(await outboxHorizonMs(this.redis, this.outboxes), this.context.now());
    const computed: string[] = [];
    const merchants = (await this.context.store.merchants(run_merchants_max)).slice(0, run_merchants_max);
    for (const merchant of merchants) {
      const config = await this.context.store.config(merchant);
      if (config === undefined) continue;
      const marker = (await this.redis.sendCommand(['GET', scheduledKey(merchant)])) as string | null;
      const earliest_ms = Math.floor(this.context.now() / day_ms) * day_ms - this.options.catch_up_days * day_ms;
      const after_ms = Math.max(marker === null ? earliest_ms : Number(marker), earliest_ms);
      for (const period of periodsToCompute(config.cycle, after_ms, horizon_ms - this.options.settle_margin_ms)) {
        // Still ours? A run that lost its lease stops before computing more.
        if (!(await this.lease.hold())) return { held: false, horizon_ms, computed };
        const view = await computeBatch(this.context, merchant, period.from, scheduler_acting);
        if (view['changed'] === true) computed.push(String(view['id']));
        await this.lease.fencedEval(`redis.call('SET', KEYS[2], ARGV[2]) return 'ok'`, [scheduledKey(merchant)], [String(period.until_ms)]);
      }
    }
    return { held: true, horizon_ms, computed };
  }
}
