// Validation of everything a caller sends: path segments and query parameters. Pure. A value
// leaves this file only as a validated id (the id alphabet has no quote, backslash or space),
// an ISO currency code, a member of a fixed enum, or a number of milliseconds computed here, so
// no caller text reaches SQL except through stringLiteral() of an already-validated id.

import { ParameterError } from './errors';
import { id_pattern } from '../common/ids';
import { parseFleetCardId } from '../../actors/sharding/shard-key';

const currency_pattern = /^[A-Z]{3}$/;
const date_pattern = /^([0-9]{4})-([0-9]{2})-([0-9]{2})$/;

/** Dates before or after these years are typos, not reporting periods. */
const date_year_min = 2000;
const date_year_max = 2199;
/** Longest from..to range (inclusive days). A day-granular report over it stays below rows_max for a few hundred merchants. */
export const date_range_days_max = 400;
/** Longest query string read at all; valid requests are far shorter. */
export const query_string_chars_max = 1_024;

const day_ms = 86_400_000;

export interface DateRange {
  readonly from: string;
  readonly to: string;
  /** Inclusive start, UTC midnight of `from`. */
  readonly from_ms: number;
  /** Exclusive end, UTC midnight of the day after `to`. */
  readonly until_ms: number;
}

/** The query parameters of one request, checked against the names its report accepts. */
export class QueryParameters {
  private readonly values = new Map<string, string>();

  constructor(search: URLSearchParams, allowed: readonly string[]) {
    for (const [name, value] of search) {
      if (!allowed.includes(name))
        throw new ParameterError(safeName(name), `unknown parameter; this report accepts: ${allowed.join(', ') || 'none'}`);
      if (this.values.has(name)) throw new ParameterError(name, 'given more than once');
      this.values.set(name, value);
    }
  }

  optional(name: string): string | undefined {
    return this.values.get(name);
  }

  required(name: string): string {
    const value = this.values.get(name);
    if (value === undefined) throw new ParameterError(name, 'is required');
    return value;
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const value = this.values.get(name);
    if (value === undefined) return fallback;
    if (!(allowed as readonly string[]).includes(value)) throw new ParameterError(name, `must be one of ${allowed.join(', ')}`);
    return value as T;
  }

  currency(name: string): string | undefined {
    const value = this.values.get(name);
    if (value === undefined) return undefined;
    if (!currency_pattern.test(value)) throw new ParameterError(name, 'must be an ISO 4217 code: three upper-case letters');
    return value;
  }

  dateRange(): DateRange {
    const from = this.required('from');
    const to = this.required('to');
    const from_ms = parseDate('from', from);
    const to_ms = parseDate('to', to);
    if (to_ms < from_ms) throw new ParameterError('to', 'must not be before from');
    if ((to_ms - from_ms) / day_ms + 1 > date_range_days_max)
      throw new ParameterError('to', `range must not exceed ${date_range_days_max} days`);
    return { from, to, from_ms, until_ms: to_ms + day_ms };
  }
}

/** A calendar date YYYY-MM-DD (UTC), as the epoch milliseconds of its midnight. */
export function parseDate(parameter: string, value: string): number {
  const match = date_pattern.exec(value);
  if (match === null) throw new ParameterError(parameter, 'must be a date YYYY-MM-DD');
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  if (year < date_year_min || year > date_year_max)
    throw new ParameterError(parameter, `year must be within ${date_year_min}..${date_year_max}`);
  const ms = Date.UTC(year, month - 1, day);
  const back = new Date(ms);
  // Date.UTC rolls 2026-02-30 over into March: a date that does not round-trip does not exist.
  if (back.getUTCFullYear() !== year || back.getUTCMonth() !== month - 1 || back.getUTCDate() !== day) {
    throw new ParameterError(parameter, 'is not a calendar date');
  }
  return ms;
}

/** A card id path segment: a plain card id, or a fleet card's "<fleetId>~<cardNo>". */
export function cardIdSegment(parameter: string, segment: string): string {
  const decoded = decodeSegment(parameter, segment);
  if (!id_pattern.test(decoded) && parseFleetCardId(decoded) === undefined) {
    throw new ParameterError(parameter, 'must be 1..64 of A-Z a-z 0-9 . _ -, or a fleet card id <fleet>~<card>');
  }
  return decoded;
}

function decodeSegment(parameter: string, segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new ParameterError(parameter, 'is not valid percent-encoding');
  }
}

/** A path segment that names an entity: percent-decoded, then held to the id alphabet. */
export function entityId(parameter: string, segment: string): string {
  const decoded = decodeSegment(parameter, segment);
  if (!id_pattern.test(decoded)) throw new ParameterError(parameter, 'must be 1..64 of A-Z a-z 0-9 . _ -');
  return decoded;
}

/** An unknown parameter's name is echoed back only if it is harmless text. */
function safeName(name: string): string {
  return id_pattern.test(name) ? name : '(unprintable parameter name)';
}
