// Velocity: how many transactions, and how much money, a card may spend within a rolling window
// (e.g. at most 5 purchases in 10 minutes, at most 500 EUR in 24 hours). Limits are inclusive:
// reaching count_max exactly is approved, one more is declined.
//
// What a card remembers is a series of time buckets per window length of its rules: a rule with
// window W cuts time into buckets of bucket_ms = ceil(W / velocity_buckets_per_window) and keeps,
// per bucket, the exact count and sum of what was approved in it. The window ending at `atMs`
// counts every bucket from the one holding its oldest instant (atMs - W + 1) on. So:
// - nothing of the last W is ever missed, however many transactions it holds (counts and sums are
//   exact; a sum is only capped far above any limit, which changes no decision);
// - an event up to one bucket older than W may still count: the rule frees up at most W / 64
//   later than an exact window would (a 24 h rule: 22.5 minutes), never earlier;
// - memory is bounded: at most velocity_buckets_per_window + 1 non-empty buckets per window
//   length (older ones are dropped, and an excess from clock skew is merged forward, which only
//   counts it longer), and one series per distinct window of the rules.
// A window whose series is missing (a rule added to the program later) is seeded from the
// series of the shortest longer window, each coarse bucket counted as if it happened at its last
// instant (later: counted longer, never less). Events remembered by cards before buckets existed
// (`events`, stored layout 1) are counted exactly until the next record folds them into the series.

import { approve_clean, decline, type RuleVerdict } from './rule';

export interface VelocityRule {
  /** Names the rule in declines: "velocity:<name>:count" / "velocity:<name>:amount". */
  readonly name: string;
  readonly window_ms: number;
  readonly count_max?: number;
  readonly amount_max_minor?: number;
}

/** One approved spending (how cards remembered velocity before buckets). */
export interface VelocityEvent {
  readonly at_ms: number;
  readonly amount_minor: number;
}

/** One bucket: [index = floor(at_ms / bucket_ms), count, amount_minor], both exact (capped far above any limit). */
export type VelocityBucket = readonly [index: number, count: number, amount_minor: number];

/** The buckets of one window length, oldest first, only non-empty ones. */
export interface VelocitySeries {
  readonly window_ms: number;
  readonly buckets: readonly VelocityBucket[];
}

export interface VelocityState {
  readonly series: readonly VelocitySeries[];
  /** Events of a card stored before buckets existed; folded into the series by the next record. */
  readonly events?: readonly VelocityEvent[];
}

export const empty_velocity_state: VelocityState = Object.freeze({ series: Object.freeze([]) });

/** Buckets per window: the error bound (W / 64 at most) against the memory a window costs. */
export const velocity_buckets_per_window = 64;

/** Non-empty buckets a series keeps at most (a window spans 64 buckets, plus the partial one). */
export const velocity_series_buckets_max = velocity_buckets_per_window + 1;

/** The largest count_max a rule may ask for (checked where a policy is set). */
export const velocity_count_max = 1_000_000;

/**
 * Counts and sums stop growing here: far above any count_max (10^6) and any amount_max_minor
 * (10^15), so a capped figure declines exactly as the true one would, and the sum of two capped
 * figures stays an exact integer.
 */
const count_cap = 1_000_000_000;
const amount_cap_minor = 2_000_000_000_000_000;

function capped(a: number, b: number, cap: number): number {
  const sum = a + b;
  return sum > cap ? cap : sum;
}

export function bucketMs(window_ms: number): number {
  return Math.max(1, Math.ceil(window_ms / velocity_buckets_per_window));
}

/** The first bucket the window ending at atMs counts (the one holding its oldest instant). */
function firstIndex(atMs: number, window_ms: number): number {
  return Math.floor((atMs - window_ms + 1) / bucketMs(window_ms));
}

/** Count and amount of the window ending at atMs, by the bucket rule (see the file's header). */
export function inWindow(state: VelocityState, atMs: number, window_ms: number): { count: number; amount_minor: number } {
  const first = firstIndex(atMs, window_ms);
  let count = 0;
  let amount_minor = 0;
  for (const [index, bucketCount, bucketAmount] of bucketsFor(state, window_ms)) {
    if (index < first) continue;
    count = capped(count, bucketCount, count_cap);
    amount_minor = capped(amount_minor, bucketAmount, amount_cap_minor);
  }
  // Events stored before buckets existed are counted exactly.
  for (const event of state.events ?? []) {
    if (event.at_ms > atMs - window_ms && event.at_ms <= atMs) {
      count = capped(count, 1, count_cap);
      amount_minor = capped(amount_minor, event.amount_minor, amount_cap_minor);
    }
  }
  return { count, amount_minor };
}

/** `flag`: a soft rule approves and flags instead of declining (risk patterns use this). */
export function checkVelocity(
  rules: readonly VelocityRule[],
  state: VelocityState,
  atMs: number,
  amount_minor: number,
  flag?: string,
): RuleVerdict {
  for (const rule of rules) {
    const seen = inWindow(state, atMs, rule.window_ms);
    let fired: string | undefined;
    if (rule.count_max !== undefined && seen.count + 1 > rule.count_max) fired = `velocity:${rule.name}:count`;
    else if (rule.amount_max_minor !== undefined && seen.amount_minor + amount_minor > rule.amount_max_minor)
      fired = `velocity:${rule.name}:amount`;
    if (fired !== undefined)
      return flag === undefined ? decline('velocity_exceeded', fired) : { kind: 'approve', flags: [`${flag}:${fired}`] };
  }
  return approve_clean;
}

/** The distinct window lengths of the rules, shortest first: the series a card keeps. */
export function velocityWindows(rules: readonly VelocityRule[]): number[] {
  return [...new Set(rules.map((rule) => rule.window_ms))].sort((a, b) => a - b);
}

/**
 * The state after recording an approved spending at atMs: every window of `windows` gets it in its
 * bucket (a missing series is seeded first), old buckets are dropped, series of windows no rule
 * uses any more are dropped, and events stored before buckets existed are folded in.
 */
export function recordVelocity(state: VelocityState, windows: readonly number[], atMs: number, amount_minor: number): VelocityState {
  if (windows.length === 0) return empty_velocity_state;
  const series = windows.map((window_ms) => {
    const bucket_ms = bucketMs(window_ms);
    let buckets: readonly VelocityBucket[] = bucketsFor(state, window_ms);
    for (const event of state.events ?? []) buckets = addTo(buckets, Math.floor(event.at_ms / bucket_ms), 1, event.amount_minor);
    return { window_ms, buckets: bounded(addTo(buckets, Math.floor(atMs / bucket_ms), 1, amount_minor), firstIndex(atMs, window_ms)) };
  });
  return { series };
}

/** The buckets of a window: its own series', else seeded from the card's other series. */
function bucketsFor(state: VelocityState, window_ms: number): readonly VelocityBucket[] {
  return state.series.find((series) => series.window_ms === window_ms)?.buckets ?? seeded(state.series, window_ms);
}

/**
 * A new window's buckets from the series of the shortest longer window (else the longest there
 * is): each coarse bucket lands in the fine bucket of its last instant, so it counts no less, and
 * no shorter, than it would have.
 */
function seeded(all: readonly VelocitySeries[], window_ms: number): readonly VelocityBucket[] {
  const longer = all.filter((series) => series.window_ms >= window_ms).sort((a, b) => a.window_ms - b.window_ms)[0];
  const source = longer ?? [...all].sort((a, b) => b.window_ms - a.window_ms)[0];
  if (source === undefined) return [];
  const coarse_ms = bucketMs(source.window_ms);
  const fine_ms = bucketMs(window_ms);
  let buckets: readonly VelocityBucket[] = [];
  for (const [index, count, amount] of source.buckets)
    buckets = addTo(buckets, Math.floor(((index + 1) * coarse_ms - 1) / fine_ms), count, amount);
  return buckets;
}

/** The buckets with `count` and `amount` added at `index`, kept in index order. */
function addTo(buckets: readonly VelocityBucket[], index: number, count: number, amount: number): VelocityBucket[] {
  const next = [...buckets];
  let at = next.length;
  while (at > 0 && (next[at - 1] as VelocityBucket)[0] > index) at -= 1;
  const previous = next[at - 1];
  if (previous !== undefined && previous[0] === index)
    next[at - 1] = [index, capped(previous[1], count, count_cap), capped(previous[2], amount, amount_cap_minor)];
  else next.splice(at, 0, [index, count, amount]);
  return next;
}

/**
 * Drops buckets no window ending at or after the recording can count (before `first`); if clock
 * skew left more than the bound (buckets ahead of the recording), the oldest are merged into the
 * next: counted later, so no less.
 */
function bounded(buckets: VelocityBucket[], first: number): VelocityBucket[] {
  let kept = buckets.filter(([index]) => index >= first);
  while (kept.length > velocity_series_buckets_max) {
    const [oldest, next] = kept as [VelocityBucket, VelocityBucket, ...VelocityBucket[]];
    kept = [[next[0], capped(oldest[1], next[1], count_cap), capped(oldest[2], next[2], amount_cap_minor)], ...kept.slice(2)];
  }
  return kept;
}
