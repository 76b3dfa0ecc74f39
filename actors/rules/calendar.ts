// Calendar periods in a fleet's IANA time zone. Limits are per calendar day, ISO week (Monday to
// Sunday) and month as the fleet's people experience them, so the period of an instant is
// computed from its *local civil date* in that zone (Intl, full ICU in Node 20), never from a
// fixed UTC offset: a DST change moves the instant local midnight falls on, and a period key built
// from the civil date follows it exactly. Keys are ISO-like strings that sort in time order:
// day "2026-11-23", week "2026-W11-23" (the local date of the week's Monday), month "2026-11".

export type CalendarPeriod = 'day' | 'week' | 'month';

export interface PeriodKeys {
  readonly day: string;
  readonly week: string;
  readonly month: string;
}

interface ZoneCache {
  readonly format: Intl.DateTimeFormat;
  /** Local dates change only on whole minutes in every zone (offsets are multiples of 15 min). */
  minute: number;
  keys: PeriodKeys | undefined;
}

const zones = new Map<string, ZoneCache>();
const zones_cached_max = 1024;
const minute_ms = 60_000;
const day_ms = 86_400_000;

/** True when `zone` is an IANA time zone name this runtime knows. */
export function isValidTimeZone(zone: string): boolean {
  if (zone === '' || zone.length > 64) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

function zoneCache(zone: string): ZoneCache {
  let cache = zones.get(zone);
  if (cache === undefined) {
    if (zones.size >= zones_cached_max) zones.clear();
    const format = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      weekday: 'short',
      hourCycle: 'h23',
    });
    cache = { format, minute: Number.NaN, keys: undefined };
    zones.set(zone, cache);
  }
  return cache;
}

const weekdays: Readonly<Record<string, number>> = { Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6, Sun: 7 };

function pad(value: number, width: number): string {
  return String(value).padStart(width, '0');
}

/** The civil date (year, month 1-12, day, ISO weekday 1=Monday) of an instant in a zone. */
export function localDate(atMs: number, zone: string): { year: number; month: number; day: number; weekday: number } {
  let year = 0;
  let month = 0;
  let day = 0;
  let weekday = 0;
  for (const part of zoneCache(zone).format.formatToParts(atMs)) {
    if (part.type === 'year') year = Number(part.value);
    else if (part.type === 'month') month = Number(part.value);
    else if (part.type === 'day') day = Number(part.value);
    else if (part.type === 'weekday') weekday = weekdays[part.value] ?? 0;
  }
  if (year === 0 || month === 0 || day === 0 || weekday === 0)
    throw new Error(`assertion: cannot read the local date of ${atMs} in ${zone}`);
  return { year, month, day, weekday };
}

/** The day, week and month keys of an instant in a zone (cached per zone and minute). */
export function periodKeys(atMs: number, zone: string): PeriodKeys {
  const cache = zoneCache(zone);
  const minute = Math.floor(atMs / minute_ms);
  if (cache.minute === minute && cache.keys !== undefined) return cache.keys;
  const { year, month, day, weekday } = localDate(atMs, zone);
  // The week's Monday as a civil date: civil-date arithmetic in UTC has no DST.
  const monday = new Date(Date.UTC(year, month - 1, day) - (weekday - 1) * day_ms);
  const keys: PeriodKeys = {
    day: `${pad(year, 4)}-${pad(month, 2)}-${pad(day, 2)}`,
    week: `${pad(monday.getUTCFullYear(), 4)}-W${pad(monday.getUTCMonth() + 1, 2)}-${pad(monday.getUTCDate(), 2)}`,
    month: `${pad(year, 4)}-${pad(month, 2)}`,
  };
  cache.minute = minute;
  cache.keys = keys;
  return keys;
}

export function periodKey(atMs: number, zone: string, period: CalendarPeriod): string {
  return periodKeys(atMs, zone)[period];
}
