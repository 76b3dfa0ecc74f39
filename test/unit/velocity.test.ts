// Proves velocity's time buckets (actors/rules/velocity.ts) against a naive reference that keeps
// every event (fast-check, seeded):
//  - exact at bucket granularity: the window's count and sum equal the reference's over every
//    event whose bucket is at or after the bucket of the window's oldest instant;
//  - never less than the exact window and never more than the window one bucket longer, so a
//    rule approves only what the exact rule would, and frees up at most one bucket late;
//  - memory is bounded: at most 65 buckets per window length, one series per window the rules use,
//    however many events and however the clock jumps (skew only ever counts more, never less);
//  - a window added later is seeded from a longer one without counting less; events stored by
//    cards before buckets existed are counted exactly, then folded in without counting less;
//  - sums are exact below their cap and the cap declines as the true sum would.

import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  bucketMs,
  checkVelocity,
  empty_velocity_state,
  inWindow,
  recordVelocity,
  velocity_series_buckets_max,
  velocityWindows,
  type VelocityEvent,
  type VelocityRule,
  type VelocityState,
} from '../../actors/rules/velocity';
import { decodeCardState, encodeCardState } from '../../actors/state/card';
import { announceSeed, assertProperty } from './fast-check-seed';

/** The exact window: events in (atMs - window_ms, atMs]. */
function exact(events: readonly VelocityEvent[], atMs: number, window_ms: number): { count: number; amount_minor: number } {
  let count = 0;
  let amount_minor = 0;
  for (const event of events)
    if (event.at_ms > atMs - window_ms && event.at_ms <= atMs) {
      count += 1;
      amount_minor += event.amount_minor;
    }
  return { count, amount_minor };
}

/** The bucket rule on every event: buckets at or after the one holding the window's oldest instant. */
function byBuckets(events: readonly VelocityEvent[], atMs: number, window_ms: number): { count: number; amount_minor: number } {
  const bucket = bucketMs(window_ms);
  const first = Math.floor((atMs - window_ms + 1) / bucket);
  let count = 0;
  let amount_minor = 0;
  for (const event of events)
    if (Math.floor(event.at_ms / bucket) >= first) {
      count += 1;
      amount_minor += event.amount_minor;
    }
  return { count, amount_minor };
}

const window_arbitrary = fc.oneof(fc.integer({ min: 1, max: 200 }), fc.integer({ min: 1, max: 100_000 }), fc.constant(86_400_000));
const amount_arbitrary = fc.oneof(fc.integer({ min: 1, max: 1_000 }), fc.integer({ min: 1, max: 1_000_000_000_000 }));

/** Nondecreasing instants from gaps (a node's clock), starting at a realistic Unix time. */
const times = (gaps: readonly number[]): number[] => {
  let at = 1_760_000_000_000;
  return gaps.map((gap) => (at += gap));
};

function record(state: VelocityState, windows: readonly number[], events: readonly VelocityEvent[]): VelocityState {
  return events.reduce((current, event) => recordVelocity(current, windows, event.at_ms, event.amount_minor), state);
}

function assertBounded(state: VelocityState, windows: readonly number[]): void {
  assert.ok(state.series.length <= windows.length, `${state.series.length} series for ${windows.length} windows`);
  for (const series of state.series)
    assert.ok(
      series.buckets.length <= velocity_series_buckets_max,
      `${series.buckets.length} buckets in the ${series.window_ms} ms series`,
    );
}

describe('velocity buckets against a naive exact reference', () => {
  before(() => announceSeed('velocity'));

  it('property: exact at bucket granularity, between the exact window and the window one bucket longer, bounded', () => {
    assertProperty(
      fc.property(
        fc.uniqueArray(window_arbitrary, { minLength: 1, maxLength: 3 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 5_000 }), amount_arbitrary), { minLength: 1, maxLength: 150 }),
        fc.array(fc.integer({ min: 0, max: 300_000 }), { minLength: 1, maxLength: 8 }),
        (windows, steps, probes) => {
          const at = times(steps.map(([gap]) => gap));
          const events = steps.map(([, amount_minor], i) => ({ at_ms: at[i] as number, amount_minor }));
          const sorted = velocityWindows(windows.map((window_ms) => ({ name: 'w', window_ms })));
          const state = record(empty_velocity_state, sorted, events);
          assertBounded(state, sorted);
          const last = at[at.length - 1] as number;
          for (const window_ms of sorted)
            for (const offset of probes) {
              const t = last + offset;
              const seen = inWindow(state, t, window_ms);
              assert.deepEqual(seen, byBuckets(events, t, window_ms), `window ${window_ms} at +${offset}`);
              const low = exact(events, t, window_ms);
              const high = exact(events, t, window_ms + bucketMs(window_ms));
              assert.ok(seen.count >= low.count && seen.amount_minor >= low.amount_minor, 'never less than the exact window');
              assert.ok(seen.count <= high.count && seen.amount_minor <= high.amount_minor, 'never more than one bucket longer');
            }
        },
      ),
      300,
    );
  });

  it('property: a rule approves only what the exact rule approves (count and amount)', () => {
    assertProperty(
      fc.property(
        window_arbitrary,
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 1, max: 5_000 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 3_000 }), fc.integer({ min: 1, max: 800 })), { maxLength: 120 }),
        (window_ms, count_max, amount_max_minor, steps) => {
          const rules: VelocityRule[] = [{ name: 'r', window_ms, count_max, amount_max_minor }];
          const windows = velocityWindows(rules);
          let state = empty_velocity_state;
          const approved: VelocityEvent[] = [];
          const at = times(steps.map(([gap]) => gap));
          steps.forEach(([, amount_minor], i) => {
            const now = at[i] as number;
            if (checkVelocity(rules, state, now, amount_minor).kind !== 'approve') return;
            const before = exact(approved, now, window_ms);
            assert.ok(before.count + 1 <= count_max, 'the exact window has room for one more');
            assert.ok(before.amount_minor + amount_minor <= amount_max_minor, 'the exact window has room for the amount');
            approved.push({ at_ms: now, amount_minor });
            state = recordVelocity(state, windows, now, amount_minor);
          });
        },
      ),
      300,
    );
  });

  it('property: a clock going back and forth never counts less, and memory stays bounded', () => {
    assertProperty(
      fc.property(
        fc.uniqueArray(window_arbitrary, { minLength: 1, maxLength: 2 }),
        fc.array(fc.tuple(fc.integer({ min: -200_000, max: 200_000 }), amount_arbitrary), { minLength: 1, maxLength: 200 }),
        fc.integer({ min: 0, max: 300_000 }),
        (windows, steps, offset) => {
          let at = 1_760_000_000_000;
          const events = steps.map(([jump, amount_minor]) => ({ at_ms: (at += jump), amount_minor }));
          const sorted = velocityWindows(windows.map((window_ms) => ({ name: 'w', window_ms })));
          const state = record(empty_velocity_state, sorted, events);
          assertBounded(state, sorted);
          const t = Math.max(...events.map((event) => event.at_ms)) + offset;
          for (const window_ms of sorted) {
            const seen = inWindow(state, t, window_ms);
            const low = exact(events, t, window_ms);
            assert.ok(seen.count >= low.count && seen.amount_minor >= low.amount_minor, `window ${window_ms}`);
          }
        },
      ),
      300,
    );
  });

  it('property: a window added to the rules later counts no less than the exact window, from the longer series', () => {
    assertProperty(
      fc.property(
        fc.integer({ min: 2, max: 100_000 }),
        fc.integer({ min: 1, max: 100 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 5_000 }), amount_arbitrary), { minLength: 1, maxLength: 100 }),
        fc.integer({ min: 0, max: 50_000 }),
        (longer_ms, percent, steps, offset) => {
          const shorter_ms = Math.max(1, Math.floor((longer_ms * percent) / 100));
          const at = times(steps.map(([gap]) => gap));
          const events = steps.map(([, amount_minor], i) => ({ at_ms: at[i] as number, amount_minor }));
          const state = record(empty_velocity_state, [longer_ms], events);
          const t = (at[at.length - 1] as number) + offset;
          const low = exact(events, t, shorter_ms);
          const seen = inWindow(state, t, shorter_ms);
          assert.ok(seen.count >= low.count && seen.amount_minor >= low.amount_minor, 'seeded on the fly');
          // Recording under both windows seeds the new series for good.
          const both = recordVelocity(
            state,
            velocityWindows([
              { name: 'a', window_ms: shorter_ms },
              { name: 'b', window_ms: longer_ms },
            ]),
            t,
            1,
          );
          const after = inWindow(both, t, shorter_ms);
          assert.ok(after.count >= low.count + 1 && after.amount_minor >= low.amount_minor + 1, 'seeded series');
        },
      ),
      300,
    );
  });

  it('property: events stored before buckets are counted exactly, then folded in without counting less', () => {
    assertProperty(
      fc.property(
        window_arbitrary,
        fc.array(fc.tuple(fc.integer({ min: 0, max: 5_000 }), fc.integer({ min: 1, max: 10_000 })), { minLength: 1, maxLength: 64 }),
        fc.integer({ min: 0, max: 50_000 }),
        (window_ms, steps, offset) => {
          const at = times(steps.map(([gap]) => gap));
          const events = steps.map(([, amount_minor], i) => ({ at_ms: at[i] as number, amount_minor }));
          const legacy: VelocityState = { series: [], events };
          const t = (at[at.length - 1] as number) + offset;
          assert.deepEqual(inWindow(legacy, t, window_ms), exact(events, t, window_ms), 'exact before folding');
          const folded = recordVelocity(legacy, [window_ms], t, 7);
          assert.equal(folded.events, undefined, 'folded into buckets');
          const low = exact([...events, { at_ms: t, amount_minor: 7 }], t, window_ms);
          const seen = inWindow(folded, t, window_ms);
          assert.ok(seen.count >= low.count && seen.amount_minor >= low.amount_minor);
        },
      ),
      300,
    );
  });

  it('a clock running backwards keeps every count: the excess buckets are merged forward, none dropped', () => {
    const window_ms = 10_000_000;
    let state = empty_velocity_state;
    // Each earlier than the last and in a bucket of its own: nothing is old enough to drop.
    for (let i = 0; i < 200; i++) state = recordVelocity(state, [window_ms], 1_760_000_000_000 - i * 200_000, 1);
    const [series] = state.series;
    assert.equal(series?.buckets.length, velocity_series_buckets_max);
    assert.equal(
      series?.buckets.reduce((sum, [, count]) => sum + count, 0),
      200,
    );
  });

  it('counts past 64 events exactly, and a capped sum declines as the true sum would', () => {
    const day = 86_400_000;
    let state = empty_velocity_state;
    for (let i = 0; i < 1_000; i++) state = recordVelocity(state, [day], 1_760_000_000_000 + i * 1_000, 1);
    assert.deepEqual(inWindow(state, 1_760_000_000_000 + 999_000, day), { count: 1_000, amount_minor: 1_000 });
    const rules: VelocityRule[] = [{ name: 'cap', window_ms: day, amount_max_minor: 1_000_000_000_000_000 }];
    let rich = empty_velocity_state;
    for (let i = 0; i < 2_500; i++) rich = recordVelocity(rich, [day], 1_760_000_000_000 + i, 1_000_000_000_000);
    const seen = inWindow(rich, 1_760_000_000_000 + 2_500, day);
    assert.ok(Number.isSafeInteger(seen.amount_minor) && seen.amount_minor > 1_000_000_000_000_000);
    assert.equal(checkVelocity(rules, rich, 1_760_000_000_000 + 2_500, 1).kind, 'decline');
  });

  it('a card stored with velocity events (layout 1) reads back with them, and is written at the current layout (bucketed)', () => {
    const layout1 = JSON.stringify({
      cardId: 'c-old',
      currency: 'EUR',
      programId: 'p',
      status: 'active',
      balanceMinor: 100,
      heldMinor: 0,
      issuedAtMs: 1,
      rules: {
        program: { velocity: [{ at_ms: 5, amount_minor: 20 }], risk: { declines_at_ms: [], blocked_until_ms: 0 } },
        points: 0,
        reviews: [],
        reviews_dropped: 0,
      },
    });
    const card = decodeCardState(layout1);
    assert.deepEqual(card.rules?.program.velocity, { series: [], events: [{ at_ms: 5, amount_minor: 20 }] });
    assert.deepEqual(inWindow(card.rules?.program.velocity ?? empty_velocity_state, 10, 100), { count: 1, amount_minor: 20 });
    assert.match(encodeCardState(card), /^\{"v":4,/);
    assert.deepEqual(decodeCardState(encodeCardState(card)), card);
  });
});
