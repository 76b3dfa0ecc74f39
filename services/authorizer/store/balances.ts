// The stored balance of every card and fleet account, a page at a time (AdminService.ListBalances):
// what reconciliation compares with the ledger. The authorizer owns the key layout (keys.ts), so
// listing its keys happens here and nowhere else; other services read through the API.
//
// A listing walks three key families in turn, stored-value cards, fleet cards, fleet accounts, each
// with Redis SCAN (MATCH and COUNT, never KEYS, which blocks Redis); a page token names the family
// and the SCAN cursor to resume from. So a listing inherits SCAN's guarantee: every key present for
// the whole listing is visited, and one may be visited twice if Redis resized its table meanwhile.
// Each page's states are read by one pipelined round of HGETs. Any node answers: this reads the
// durable state, not an actor's memory.
//
// Bounds: a page holds at most `page_size` entries (at most balances_page_size_max). SCAN returns
// whole hash buckets, so a batch can overshoot its COUNT by a few keys; such a batch is not split
// (a cursor cannot resume inside it) but left to the next page, unless the page is still empty:
// then it is fetched again one bucket at a time. A page makes at most balances_scan_calls_per_page_max
// SCAN calls, so a sparse family cannot hold a request for long; the page may then be short, even
// empty, with a token to go on.

import { z } from 'zod';
import { invalidArgument } from '../../../actors/errors';
import { card_keys, fleet_card_keys, fleet_keys, type KeyFamily } from './keys';
import type { RedisStore } from './redis-store';

/** Entries in one page: 1,000 states are ~100 KB on the wire and one pipelined round of HGETs. */
export const balances_page_size_max = 1_000;
/** SCAN calls behind one page: bounds a page's time when a family is sparse among the keys. */
export const balances_scan_calls_per_page_max = 64;
/** Keys one SCAN call examines at most: few round trips, never a long block of Redis. */
const scan_count_max = 1_000;
/** Longer than any token this module issues (about 40 characters). */
const page_token_chars_max = 128;
/** Redis SCAN cursors are unsigned 64-bit integers. */
const scan_cursor_max = 2n ** 64n - 1n;

type Family = 'card' | 'fcard' | 'fleet';

const families: readonly Family[] = ['card', 'fcard', 'fleet'];
const key_families: Readonly<Record<Family, KeyFamily>> = { card: card_keys, fcard: fleet_card_keys, fleet: fleet_keys };

/** Where a listing resumes: a key family and the SCAN cursor within it. */
export interface BalancesPosition {
  readonly family: Family;
  readonly cursor: string;
}

export const first_balances_position: BalancesPosition = { family: 'card', cursor: '0' };

/** A card's stored balance; `balance` is absent for fleet cards and unreadable states. */
export interface StoredCardBalance {
  readonly cardId: string;
  readonly programId: string;
  readonly balance?: { readonly amountMinor: number; readonly currency: string };
  readonly fleetId: string;
  readonly unreadable: boolean;
}

export interface StoredFleetAccountBalance {
  readonly fleetId: string;
  readonly balance?: { readonly amountMinor: number; readonly currency: string };
  readonly unreadable: boolean;
}

export interface BalancesPage {
  readonly cards: StoredCardBalance[];
  readonly fleetAccounts: StoredFleetAccountBalance[];
  /** Undefined after the last page. */
  readonly next: BalancesPosition | undefined;
}

const balance_minor = z.number().int().min(-Number.MAX_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER);
const card_state = z.object({ balanceMinor: balance_minor, currency: z.string(), programId: z.string() });
const fleet_card_state = z.object({ fleetId: z.string() });
const fleet_state = z.object({ balanceMinor: balance_minor, currency: z.string() });

const token_version = 'v1';
// The cursor is a SCAN cursor, or on Redis Cluster "<primary's lowest slot>:<SCAN cursor>" (redis-store.ts).
const token_pattern = /^v1:(card|fcard|fleet):((?:(?:0|[1-9][0-9]{0,4}):)?(0|[1-9][0-9]{0,19}))$/;

/** The opaque page token of a position: base64url of "v1:<family>:<cursor>". */
export function encodeBalancesPageToken(position: BalancesPosition): string {
  return Buffer.from(`${token_version}:${position.family}:${position.cursor}`, 'utf8').toString('base64url');
}

/** The position a page token names; '' is the first page. INVALID_ARGUMENT for anything this module did not issue. */
export function decodeBalancesPageToken(token: string): BalancesPosition {
  if (token === '') return first_balances_position;
  const refused = (): Error => invalidArgument('page_token is not a token ListBalances issued', { field: 'page_token' });
  if (token.length > page_token_chars_max) throw refused();
  const text = Buffer.from(token, 'base64url').toString('utf8');
  const match = token_pattern.exec(text);
  // Re-encoding must give the token back: base64url decoding skips characters it does not know.
  if (match === null || encodeBalancesPageToken({ family: match[1] as Family, cursor: match[2] as string }) !== token) throw refused();
  if (BigInt(match[3] as string) > scan_cursor_max) throw refused();
  return { family: match[1] as Family, cursor: match[2] as string };
}

export class StoredBalances {
  constructor(private readonly store: Pick<RedisStore, 'scanPage' | 'hashFieldOfMany'>) {}

  /** One page of at most `size` entries from `from`; `size` is 1..balances_page_size_max. */
  async page(from: BalancesPosition, size: number): Promise<BalancesPage> {
    if (!Number.isInteger(size) || size < 1 || size > balances_page_size_max) throw new Error(`assertion: page size ${size}`);
    const cards: StoredCardBalance[] = [];
    const fleetAccounts: StoredFleetAccountBalance[] = [];
    let position: BalancesPosition | undefined = from;
    // Set when a batch overflowed an empty page: the same cursor is read again one bucket at a time.
    let oneBucket = false;
    for (let calls = 0; position !== undefined && calls < balances_scan_calls_per_page_max; calls++) {
      const entries = cards.length + fleetAccounts.length;
      const room = size - entries;
      if (room <= 0) break;
      const family = key_families[position.family];
      const [next, keys] = await this.store.scanPage(position.cursor, family.match, oneBucket ? 1 : Math.min(room, scan_count_max));
      const found = idsOf(family, keys);
      if (found.size > room) {
        if (entries > 0) break;
        if (!oneBucket) {
          oneBucket = true;
          continue;
        }
        // One bucket holds more of this family than the page has room for (tiny page sizes only):
        // taken whole, so the listing always moves on.
      }
      oneBucket = false;
      await this.read(position.family, found, cards, fleetAccounts);
      position = next === '0' ? nextFamily(position.family) : { family: position.family, cursor: next };
    }
    return { cards, fleetAccounts, next: position };
  }

  private async read(
    family: Family,
    found: ReadonlyMap<string, string>,
    cards: StoredCardBalance[],
    fleetAccounts: StoredFleetAccountBalance[],
  ): Promise<void> {
    const ids = [...found.keys()];
    const documents = await this.store.hashFieldOfMany([...found.values()], 'd');
    ids.forEach((id, index) => {
      const document = documents[index] ?? null;
      if (family === 'card') cards.push(cardBalance(id, document));
      else if (family === 'fcard') cards.push(fleetCardBalance(id, document));
      else fleetAccounts.push(fleetAccountBalance(id, document));
    });
  }
}

/** Entity id -> key, for the keys of a SCAN batch that belong to the family (MATCH is a glob). */
function idsOf(family: KeyFamily, keys: readonly string[]): Map<string, string> {
  const found = new Map<string, string>();
  for (const key of keys) {
    const id = family.idOf(key);
    if (id !== undefined) found.set(id, key);
  }
  return found;
}

function nextFamily(family: Family): BalancesPosition | undefined {
  const following = families[families.indexOf(family) + 1];
  return following === undefined ? undefined : { family: following, cursor: '0' };
}

function parsed<T>(schema: z.ZodType<T>, document: string | null): T | undefined {
  if (document === null) return undefined;
  try {
    const result = schema.safeParse(JSON.parse(document));
    return result.success ? result.data : undefined;
  } catch {
    return undefined;
  }
}

function cardBalance(cardId: string, document: string | null): StoredCardBalance {
  const state = parsed(card_state, document);
  if (state === undefined) return { cardId, programId: '', fleetId: '', unreadable: true };
  return {
    cardId,
    programId: state.programId,
    balance: { amountMinor: state.balanceMinor, currency: state.currency },
    fleetId: '',
    unreadable: false,
  };
}

/** A fleet card holds no stored value: no balance, its account named. */
function fleetCardBalance(cardId: string, document: string | null): StoredCardBalance {
  const state = parsed(fleet_card_state, document);
  if (state === undefined) return { cardId, programId: '', fleetId: '', unreadable: true };
  return { cardId, programId: '', fleetId: state.fleetId, unreadable: false };
}

function fleetAccountBalance(fleetId: string, document: string | null): StoredFleetAccountBalance {
  const state = parsed(fleet_state, document);
  if (state === undefined) return { fleetId, unreadable: true };
  return { fleetId, balance: { amountMinor: state.balanceMinor, currency: state.currency }, unreadable: false };
}
