// The stored terminals, searched a page at a time (AdminService.SearchTerminals). Like the stored
// balances (balances.ts) the listing walks the terminal keys with Redis SCAN (MATCH and COUNT,
// never KEYS) and reads each key's durable state, so it inherits SCAN's guarantee: every terminal
// present for the whole listing is visited at least once (a resize of Redis' key table may show
// one twice). Filters are applied to the decoded state here: a terminal's record is small and a
// venue has hundreds to a few thousand terminals, so a scan is cheap next to keeping indexes
// consistent with every change.
//
// Bounds: a page holds at most terminals_page_size_max terminals (one SCAN bucket past the page
// size at worst, see below); a page makes at most terminals_scan_calls_per_page_max SCAN calls,
// so a selective filter cannot hold a request for long: the page may then be short, even empty,
// with a next token.

import { invalidArgument } from '../../../actors/errors';
import { decodeTerminalState } from '../../../actors/state/terminal';
import type { TerminalState } from '../../../actors/terminal/rules';
import { terminal_keys } from './keys';
import type { RedisStore } from './redis-store';

export const terminals_page_size_max = 200;
/** SCAN calls behind one page. */
export const terminals_scan_calls_per_page_max = 64;
/** Keys one SCAN call examines at most. */
const scan_count_max = 1_000;
const page_token_chars_max = 64;
const scan_cursor_max = 2n ** 64n - 1n;

export interface TerminalFilter {
  readonly merchantId?: string;
  readonly enabled?: boolean;
  readonly serialNumber?: string;
  /** Lower case; matched against the lower-cased location. */
  readonly locationContains?: string;
}

export interface TerminalsPage {
  readonly terminals: readonly TerminalState[];
  /** Undefined after the last page. */
  readonly next: string | undefined;
}

const token_version = 'v1';
const token_pattern = /^v1:((?:(?:0|[1-9][0-9]{0,4}):)?(0|[1-9][0-9]{0,19}))$/;

export function encodeTerminalsPageToken(cursor: string): string {
  return Buffer.from(`${token_version}:${cursor}`, 'utf8').toString('base64url');
}

/** The SCAN cursor a page token names; '' is the first page. INVALID_ARGUMENT for anything this module did not issue. */
export function decodeTerminalsPageToken(token: string): string {
  if (token === '') return '0';
  const refused = (): Error => invalidArgument('page_token is not a token SearchTerminals issued', { field: 'page_token' });
  if (token.length > page_token_chars_max) throw refused();
  const match = token_pattern.exec(Buffer.from(token, 'base64url').toString('utf8'));
  if (match === null || encodeTerminalsPageToken(match[1] as string) !== token) throw refused();
  if (BigInt(match[2] as string) > scan_cursor_max) throw refused();
  return match[1] as string;
}

export function matchesFilter(state: TerminalState, filter: TerminalFilter): boolean {
  if (filter.merchantId !== undefined && state.merchantId !== filter.merchantId) return false;
  if (filter.enabled !== undefined && state.enabled !== filter.enabled) return false;
  if (filter.serialNumber !== undefined && state.serialNumber !== filter.serialNumber) return false;
  if (filter.locationContains !== undefined && !state.location.toLowerCase().includes(filter.locationContains)) return false;
  return true;
}

export class StoredTerminals {
  constructor(private readonly store: Pick<RedisStore, 'scanPage' | 'hashFieldOfMany'>) {}

  /**
   * One page of at most `size` matching terminals from `cursor` (one SCAN bucket more at worst:
   * a batch is never split, so the listing always moves on). Unreadable records are skipped.
   */
  async page(cursor: string, size: number, filter: TerminalFilter): Promise<TerminalsPage> {
    if (!Number.isInteger(size) || size < 1 || size > terminals_page_size_max) throw new Error(`assertion: page size ${size}`);
    const terminals: TerminalState[] = [];
    let position: string | undefined = cursor;
    for (let calls = 0; position !== undefined && calls < terminals_scan_calls_per_page_max; calls++) {
      const room = size - terminals.length;
      if (room <= 0) break;
      const [next, keys] = await this.store.scanPage(position, terminal_keys.match, Math.min(scan_count_max, Math.max(room, 100)));
      const found = this.ownKeys(keys);
      const documents = await this.store.hashFieldOfMany(found, 'd');
      const matching = documents.flatMap((document) => {
        const state = readable(document);
        return state !== undefined && matchesFilter(state, filter) ? [state] : [];
      });
      // A batch that overflows a page already holding terminals waits for the next page.
      if (matching.length > room && terminals.length > 0) break;
      terminals.push(...matching);
      position = next === '0' ? undefined : next;
    }
    terminals.sort((a, b) => (a.terminalId < b.terminalId ? -1 : a.terminalId > b.terminalId ? 1 : 0));
    return { terminals, next: position === undefined ? undefined : encodeTerminalsPageToken(position) };
  }

  private ownKeys(keys: readonly string[]): string[] {
    return keys.filter((key) => terminal_keys.idOf(key) !== undefined);
  }
}

function readable(document: string | null): TerminalState | undefined {
  if (document === null) return undefined;
  try {
    return decodeTerminalState(document);
  } catch {
    return undefined;
  }
}
