// Reads card balances from Redis, where the authorizer keeps each card's state (the key layout
// is services/authorizer/store/keys.ts: hash tl:{s<shard>}:card:<cardId>, field d = JSON). Fleet
// cards live elsewhere (tl:{s<shard of the fleet>}:fcard:<fleet>~<n>) and hold no stored value:
// they are listed with balance 0 and their fleet; fleet accounts (tl:{s..}:fleet:<id>) are read
// for their balance, which reconciliation compares with the invoiced amounts of their documents.
// All cards: SCAN with MATCH and COUNT (never KEYS, which blocks Redis), each page's states read
// by one pipelined round of HGETs. One card: its shard's key from placement.

import { createClient } from 'redis';
import { z } from 'zod';
import { parseFleetCardId, shardOf } from '../../actors/sharding/shard-key';
import { cardKey, fleetCardKey } from '../authorizer/store/keys';
import { ReportBackendError, ReportTooLargeError } from './errors';

/** Keys SCAN examines per call: large enough for few round trips, small enough not to stall Redis. */
export const scan_count = 1_000;
/** A Redis command slower than this fails the report. */
export const redis_command_timeout_ms = 10_000;

const card_key_pattern = /^tl:\{s([0-9]+)\}:card:(.+)$/;
const fleet_card_key_pattern = /^tl:\{s([0-9]+)\}:fcard:(.+)$/;
const fleet_key_pattern = /^tl:\{s([0-9]+)\}:fleet:(.+)$/;
const fleet_card_state_schema = z.object({ fleetId: z.string() });
const fleet_state_schema = z.object({
  balanceMinor: z.number().int().min(-Number.MAX_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER),
  currency: z.string(),
});
const card_state_schema = z.object({
  balanceMinor: z.number().int().min(-Number.MAX_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER),
  currency: z.string(),
  programId: z.string(),
});

/** A card's state as far as reports need it; `undefined` balance when `d` could not be read. */
export interface CardBalance {
  readonly balance_minor: number | undefined;
  readonly currency: string;
  readonly program: string;
  /** A fleet card's account (its balance is 0: it spends on the account's credit); absent for stored-value cards. */
  readonly fleet?: string;
}

/** A fleet account's balance in Redis (≤ 0: minus what the fleet owes); `undefined` when unreadable. */
export interface FleetBalance {
  readonly balance_minor: number | undefined;
  readonly currency: string;
}

export interface CardStateReader {
  /** Every card hash in Redis (fleet cards included), by card id. Throws ReportTooLargeError past `cards_max`. */
  allCards(cards_max: number): Promise<Map<string, CardBalance>>;
  /** Every fleet account in Redis, by fleet id. Throws ReportTooLargeError past `fleets_max`. */
  allFleetAccounts(fleets_max: number): Promise<Map<string, FleetBalance>>;
  /** One card's state, or undefined when Redis has no such card. */
  card(cardId: string): Promise<CardBalance | undefined>;
  close(): Promise<void>;
}

/** The part of the node-redis client this reader uses. */
interface Client {
  sendCommand(args: string[]): Promise<unknown>;
  close(): Promise<unknown>;
}

export class RedisCardStates implements CardStateReader {
  private constructor(
    private readonly client: Client,
    private readonly shardCount: number,
  ) {}

  static async connect(url: string, shardCount: number): Promise<RedisCardStates> {
    const client = createClient({
      url,
      // Commands issued while disconnected fail at once: a report waiting in a queue is worse than a 503.
      disableOfflineQueue: true,
      socket: {
        connectTimeout: redis_command_timeout_ms,
        reconnectStrategy: (retries: number) => Math.min(50 * 2 ** Math.min(retries, 8), 2_000),
      },
    });
    // A Redis outage fails the reports that need it (ReportBackendError), it must not crash the process.
    client.on('error', () => undefined);
    try {
      await client.connect();
    } catch (error) {
      throw new ReportBackendError('redis', error, { phase: 'connect' });
    }
    return new RedisCardStates(client, shardCount);
  }

  async allCards(cards_max: number): Promise<Map<string, CardBalance>> {
    const cards = new Map<string, CardBalance>();
    const tooMany = (): void => {
      if (cards.size > cards_max) throw new ReportTooLargeError('more cards than one reconciliation compares', { cards_max });
    };
    await this.scan('tl:{s*}:card:*', card_key_pattern, (id, document) => {
      cards.set(id, parseState(document));
      tooMany();
    });
    await this.scan('tl:{s*}:fcard:*', fleet_card_key_pattern, (id, document) => {
      cards.set(id, parseFleetCard(document));
      tooMany();
    });
    return cards;
  }

  async allFleetAccounts(fleets_max: number): Promise<Map<string, FleetBalance>> {
    const fleets = new Map<string, FleetBalance>();
    await this.scan('tl:{s*}:fleet:*', fleet_key_pattern, (id, document) => {
      fleets.set(id, parseFleet(document));
      if (fleets.size > fleets_max) throw new ReportTooLargeError('more fleet accounts than one reconciliation compares', { fleets_max });
    });
    return fleets;
  }

  /** SCANs keys matching `match` (MATCH and COUNT, never KEYS) and hands each id and its `d` to `take`, one pipelined round of HGETs per page. */
  private async scan(match: string, pattern: RegExp, take: (id: string, document: string | null) => void): Promise<void> {
    let cursor = '0';
    do {
      const [next, keys] = (await this.command(['SCAN', cursor, 'MATCH', match, 'COUNT', String(scan_count)])) as [string, string[]];
      cursor = next;
      const documents = (await Promise.all(keys.map((key) => this.command(['HGET', key, 'd'])))) as (string | null)[];
      keys.forEach((key, index) => {
        const id = pattern.exec(key)?.[2];
        if (id !== undefined) take(id, documents[index] ?? null);
      });
    } while (cursor !== '0');
  }

  async card(cardId: string): Promise<CardBalance | undefined> {
    const fleetCard = parseFleetCardId(cardId);
    if (fleetCard !== undefined) {
      const document = (await this.command(['HGET', fleetCardKey(shardOf('fleet_card', cardId, this.shardCount), cardId), 'd'])) as
        string | null;
      return document === null ? undefined : parseFleetCard(document);
    }
    const document = (await this.command(['HGET', cardKey(shardOf('card', cardId, this.shardCount), cardId), 'd'])) as string | null;
    return document === null ? undefined : parseState(document);
  }

  async close(): Promise<void> {
    await this.client.close();
  }

  private async command(args: string[]): Promise<unknown> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${redis_command_timeout_ms} ms`)), redis_command_timeout_ms);
    });
    try {
      return await Promise.race([this.client.sendCommand(args), timeout]);
    } catch (error) {
      throw new ReportBackendError('redis', error, { command: args[0] });
    } finally {
      clearTimeout(timer);
    }
  }
}

function parseState(document: string | null): CardBalance {
  if (document === null) return { balance_minor: undefined, currency: '', program: '' };
  try {
    const state = card_state_schema.parse(JSON.parse(document));
    return { balance_minor: state.balanceMinor, currency: state.currency, program: state.programId };
  } catch {
    return { balance_minor: undefined, currency: '', program: '' };
  }
}

/** A fleet card holds no stored value: balance 0 when its state is readable, the fleet as its program. */
function parseFleetCard(document: string | null): CardBalance {
  try {
    const state = fleet_card_state_schema.parse(JSON.parse(document ?? ''));
    return { balance_minor: 0, currency: '', program: state.fleetId, fleet: state.fleetId };
  } catch {
    return { balance_minor: undefined, currency: '', program: '', fleet: '' };
  }
}

function parseFleet(document: string | null): FleetBalance {
  try {
    const state = fleet_state_schema.parse(JSON.parse(document ?? ''));
    return { balance_minor: state.balanceMinor, currency: state.currency };
  } catch {
    return { balance_minor: undefined, currency: '' };
  }
}
