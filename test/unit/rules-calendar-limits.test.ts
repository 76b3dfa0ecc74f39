// Proves the calendar periods and spend limits the fleet rules rely on (actors/rules/calendar.ts,
// actors/rules/spend-limits.ts). Calendar: day, ISO week and month keys follow the local civil
// date of the fleet's IANA zone across local midnight, month end, year end and both DST changes
// (a 23-hour and a 25-hour day in Europe/Berlin, US zones, a +05:30 and a +12:45 zone); a
// fast-check property compares the day key with an independent Intl formatter for random instants
// and checks the week key is the Monday on or before the day. Limits: every limit type approves at
// and just below its boundary and declines one minor unit above, counters restart when a period
// ends, and a property checks that approved spend within one period never exceeds its limit.

import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isValidTimeZone, localDate, periodKey, periodKeys } from '../../actors/rules/calendar';
import { addSpend, checkSpend, empty_counters, spentIn, type SpendCounters, type SpendLimits } from '../../actors/rules/spend-limits';
import { announceSeed, assertProperty } from './fast-check-seed';

const at = (iso: string): number => Date.parse(iso);

describe('rules: calendar periods in a time zone', function () {
  before(() => announceSeed('rules-calendar'));

  it('knows IANA zones and refuses anything else', function () {
    assert.equal(isValidTimeZone('Europe/Berlin'), true);
    assert.equal(isValidTimeZone('UTC'), true);
    assert.equal(isValidTimeZone('Mars/Olympus'), false);
    assert.equal(isValidTimeZone(''), false);
    assert.equal(isValidTimeZone('x'.repeat(65)), false);
  });

  it('changes day exactly at local midnight, not UTC midnight', function () {
    assert.equal(periodKey(at('2026-11-23T22:59:59.999Z'), 'Europe/Berlin', 'day'), '2026-11-23');
    assert.equal(periodKey(at('2026-11-23T23:00:00.000Z'), 'Europe/Berlin', 'day'), '2026-11-24');
    assert.equal(periodKey(at('2026-11-24T04:59:59.999Z'), 'America/New_York', 'day'), '2026-11-23');
    assert.equal(periodKey(at('2026-11-24T05:00:00.000Z'), 'America/New_York', 'day'), '2026-11-24');
    assert.equal(periodKey(at('2026-11-23T18:29:59.999Z'), 'Asia/Kolkata', 'day'), '2026-11-23');
    assert.equal(periodKey(at('2026-11-23T18:30:00.000Z'), 'Asia/Kolkata', 'day'), '2026-11-24');
    // Chatham Islands in (southern) summer: UTC+13:45.
    assert.equal(periodKey(at('2026-11-23T10:14:59.999Z'), 'Pacific/Chatham', 'day'), '2026-11-23');
    assert.equal(periodKey(at('2026-11-23T10:15:00.000Z'), 'Pacific/Chatham', 'day'), '2026-11-24');
  });

  it('follows DST: the 23-hour spring day and the 25-hour autumn day in Berlin', function () {
    // 29 March 2026: clocks go 02:00 -> 03:00; local midnights at 23:00Z (28th) and 22:00Z (29th).
    assert.equal(periodKey(at('2026-03-28T22:59:59.999Z'), 'Europe/Berlin', 'day'), '2026-03-28');
    assert.equal(periodKey(at('2026-03-28T23:00:00.000Z'), 'Europe/Berlin', 'day'), '2026-03-29');
    assert.equal(periodKey(at('2026-03-29T21:59:59.999Z'), 'Europe/Berlin', 'day'), '2026-03-29');
    assert.equal(periodKey(at('2026-03-29T22:00:00.000Z'), 'Europe/Berlin', 'day'), '2026-03-30');
    // 25 October 2026: clocks go 03:00 -> 02:00; the day runs 22:00Z (24th) to 23:00Z (25th).
    assert.equal(periodKey(at('2026-10-24T21:59:59.999Z'), 'Europe/Berlin', 'day'), '2026-10-24');
    assert.equal(periodKey(at('2026-10-24T22:00:00.000Z'), 'Europe/Berlin', 'day'), '2026-10-25');
    assert.equal(periodKey(at('2026-10-25T22:59:59.999Z'), 'Europe/Berlin', 'day'), '2026-10-25');
    assert.equal(periodKey(at('2026-10-25T23:00:00.000Z'), 'Europe/Berlin', 'day'), '2026-10-26');
    // US spring forward 8 March 2026 (UTC-5 -> UTC-4 in New York).
    assert.equal(periodKey(at('2026-03-09T03:59:59.999Z'), 'America/New_York', 'day'), '2026-03-08');
    assert.equal(periodKey(at('2026-03-09T04:00:00.000Z'), 'America/New_York', 'day'), '2026-03-09');
  });

  it('changes month at local month end, including across a year end', function () {
    assert.equal(periodKey(at('2026-11-30T22:59:59.999Z'), 'Europe/Berlin', 'month'), '2026-11');
    assert.equal(periodKey(at('2026-11-30T23:00:00.000Z'), 'Europe/Berlin', 'month'), '2026-12');
    assert.equal(periodKey(at('2026-12-31T22:59:59.999Z'), 'Europe/Berlin', 'month'), '2026-12');
    assert.equal(periodKey(at('2026-12-31T23:00:00.000Z'), 'Europe/Berlin', 'month'), '2027-01');
    // 28 February in a non-leap year; the month ends at a DST-free local midnight in New York.
    assert.equal(periodKey(at('2027-03-01T04:59:59.999Z'), 'America/New_York', 'month'), '2027-02');
    assert.equal(periodKey(at('2027-03-01T05:00:00.000Z'), 'America/New_York', 'month'), '2027-03');
    // Month end on the very day DST ends in Berlin (Sunday 31 October 2027, a 25-hour day).
    assert.equal(periodKey(at('2027-10-31T22:59:59.999Z'), 'Europe/Berlin', 'month'), '2027-10');
    assert.equal(periodKey(at('2027-10-31T23:00:00.000Z'), 'Europe/Berlin', 'month'), '2027-11');
  });

  it('keys ISO weeks by their local Monday, across a month and a year end', function () {
    assert.equal(periodKey(at('2026-11-29T22:59:59.999Z'), 'Europe/Berlin', 'week'), '2026-W11-23');
    assert.equal(periodKey(at('2026-11-29T23:00:00.000Z'), 'Europe/Berlin', 'week'), '2026-W11-30');
    assert.equal(periodKey(at('2026-12-03T12:00:00.000Z'), 'Europe/Berlin', 'week'), '2026-W11-30');
    assert.equal(periodKey(at('2027-01-01T12:00:00.000Z'), 'Europe/Berlin', 'week'), '2026-W12-28');
    // The week that contains the autumn DST change keeps one key for its 169 hours.
    assert.equal(periodKey(at('2026-10-18T22:00:00.000Z'), 'Europe/Berlin', 'week'), '2026-W10-19');
    assert.equal(periodKey(at('2026-10-25T22:59:59.999Z'), 'Europe/Berlin', 'week'), '2026-W10-19');
    assert.equal(periodKey(at('2026-10-25T23:00:00.000Z'), 'Europe/Berlin', 'week'), '2026-W10-26');
  });

  it('property: the day key is the local date by an independent formatter; the week starts on the Monday on or before it', function () {
    const zones = [
      'Europe/Berlin',
      'America/New_York',
      'Asia/Kolkata',
      'Pacific/Chatham',
      'Australia/Lord_Howe',
      'UTC',
      'America/Santiago',
    ];
    const reference = new Map(
      zones.map((zone) => [zone, new Intl.DateTimeFormat('en-CA', { timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit' })]),
    );
    assertProperty(
      fc.property(
        fc.integer({ min: at('2020-01-01T00:00:00Z'), max: at('2035-01-01T00:00:00Z') }),
        fc.constantFrom(...zones),
        (atMs, zone) => {
          const keys = periodKeys(atMs, zone);
          assert.equal(keys.day, reference.get(zone)!.format(atMs));
          assert.equal(keys.month, keys.day.slice(0, 7));
          const monday = Date.parse(`${keys.week.slice(0, 4)}-${keys.week.slice(6)}T00:00:00Z`);
          const day = Date.parse(`${keys.day}T00:00:00Z`);
          assert.ok(day - monday >= 0 && day - monday < 7 * 86_400_000, `${keys.week} vs ${keys.day}`);
          assert.equal(new Date(monday).getUTCDay(), 1);
          assert.equal(localDate(atMs, zone).weekday, (day - monday) / 86_400_000 + 1);
        },
      ),
      2000,
    );
  });
});

describe('rules: spend limits', function () {
  before(() => announceSeed('rules-spend-limits'));
  const zone = 'Europe/Berlin';
  const now = at('2026-11-23T10:00:00Z');
  const keys = periodKeys(now, zone);

  function spentNow(amount: number): SpendCounters {
    return addSpend(empty_counters, keys, amount);
  }

  const cases: { name: string; limits: SpendLimits; rule: string }[] = [
    { name: 'per transaction', limits: { per_txn_minor: 1000 }, rule: 'limit:card:per_txn' },
    { name: 'daily', limits: { daily_minor: 1000 }, rule: 'limit:card:daily' },
    { name: 'weekly', limits: { weekly_minor: 1000 }, rule: 'limit:card:weekly' },
    { name: 'monthly', limits: { monthly_minor: 1000 }, rule: 'limit:card:monthly' },
    { name: 'lifetime', limits: { lifetime_minor: 1000 }, rule: 'limit:card:lifetime' },
  ];
  for (const { name, limits, rule } of cases) {
    it(`${name}: approves at and below the limit, declines one minor unit above`, function () {
      const already = name === 'per transaction' ? 0 : 400;
      const counters = spentNow(already);
      assert.deepEqual(checkSpend('card', limits, counters, keys, 1000 - already), { kind: 'approve', flags: [] });
      assert.deepEqual(checkSpend('card', limits, counters, keys, 999 - already), { kind: 'approve', flags: [] });
      assert.deepEqual(checkSpend('card', limits, counters, keys, 1001 - already), { kind: 'decline', reason: 'limit_exceeded', rule });
    });
  }

  it('names the fleet scope and checks the narrowest period first', function () {
    const verdict = checkSpend('fleet', { daily_minor: 100, monthly_minor: 50 }, empty_counters, keys, 101);
    assert.deepEqual(verdict, { kind: 'decline', reason: 'limit_exceeded', rule: 'limit:fleet:daily' });
    assert.equal(checkSpend('fleet', { monthly_minor: 50 }, empty_counters, keys, 51).kind, 'decline');
  });

  it('a limit of 0 allows nothing; no limit allows anything', function () {
    assert.equal(checkSpend('card', { daily_minor: 0 }, empty_counters, keys, 1).kind, 'decline');
    assert.equal(checkSpend('card', {}, empty_counters, keys, 1_000_000_000_000).kind, 'approve');
  });

  it('restarts day, week and month counters when the local period ends; lifetime never restarts', function () {
    const counters = spentNow(900);
    const nextDay = periodKeys(at('2026-11-23T23:00:00Z'), zone);
    assert.deepEqual(spentIn(counters, nextDay), { day: 0, week: 900, month: 900, lifetime: 900 });
    const nextWeek = periodKeys(at('2026-11-29T23:00:00Z'), zone);
    assert.deepEqual(spentIn(counters, nextWeek), { day: 0, week: 0, month: 900, lifetime: 900 });
    const nextMonth = periodKeys(at('2026-11-30T23:00:00Z'), zone);
    assert.deepEqual(spentIn(counters, nextMonth), { day: 0, week: 0, month: 0, lifetime: 900 });
    const after = addSpend(counters, nextMonth, 50);
    assert.deepEqual(spentIn(after, nextMonth), { day: 50, week: 50, month: 50, lifetime: 950 });
    assert.equal(checkSpend('card', { daily_minor: 1000 }, counters, keys, 101).kind, 'decline');
    assert.equal(checkSpend('card', { daily_minor: 1000 }, counters, nextDay, 1000).kind, 'approve');
  });

  it('property: spending whatever is approved never exceeds any limit within its period', function () {
    assertProperty(
      fc.property(
        fc.record({
          daily_minor: fc.integer({ min: 0, max: 5000 }),
          monthly_minor: fc.integer({ min: 0, max: 20_000 }),
          lifetime_minor: fc.integer({ min: 0, max: 50_000 }),
        }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 40 * 86_400_000 }), fc.integer({ min: 1, max: 3000 })), { maxLength: 60 }),
        (limits, requests) => {
          let counters = empty_counters;
          const start = at('2026-10-20T00:00:00Z');
          const byDay = new Map<string, number>();
          const byMonth = new Map<string, number>();
          let lifetime = 0;
          for (const [offset, amount] of [...requests].sort((a, b) => a[0] - b[0])) {
            const k = periodKeys(start + offset, zone);
            if (checkSpend('card', limits, counters, k, amount).kind === 'approve') {
              counters = addSpend(counters, k, amount);
              byDay.set(k.day, (byDay.get(k.day) ?? 0) + amount);
              byMonth.set(k.month, (byMonth.get(k.month) ?? 0) + amount);
              lifetime += amount;
            }
          }
          for (const value of byDay.values()) assert.ok(value <= limits.daily_minor);
          for (const value of byMonth.values()) assert.ok(value <= limits.monthly_minor);
          assert.ok(lifetime <= limits.lifetime_minor);
          assert.equal(counters.lifetime_minor, lifetime);
        },
      ),
      500,
    );
  });
});
