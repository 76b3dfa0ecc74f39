// Reads of the denylist (keys.ts: tl:{s}:deny:*; commit.lua writes it with each card's listing
// change). Per shard: the version, the oldest change still logged, the changes after a version,
// and the cards listed now (for snapshots). Every read of a call is sent at once (node-redis
// pipelines them), so a delta over 256 shards costs two round trips, not 256.

import { denylistPrefix } from './keys';
import type { RedisStore } from './redis-store';

/** One logged change: the shard version it made, the card, and why it is listed ("" = removed). */
export interface LoggedChange {
  readonly version: number;
  readonly card: string;
  readonly reason: string;
}

/** What one shard's denylist looks like from a version on. */
export interface ShardLog {
  /** The shard's version now. */
  readonly current: number;
  /** The oldest version still logged (0: nothing logged). */
  readonly oldest: number;
  /** Changes after the version asked about. */
  readonly after: number;
}

function parseVersion(value: unknown): number {
  const number = typeof value === 'string' ? Number(value) : typeof value === 'number' ? value : 0;
  if (!Number.isSafeInteger(number) || number < 0) throw new Error(`assertion: denylist version ${JSON.stringify(value)}`);
  return number;
}

/** "<version> <card> <reason>" as commit.lua logs it. */
function parseChange(member: string): LoggedChange {
  const [version, card, reason] = member.split(' ');
  if (card === undefined) throw new Error(`assertion: denylist log member ${JSON.stringify(member)}`);
  return { version: parseVersion(version), card, reason: reason ?? '' };
}

export class DenylistStore {
  constructor(
    private readonly store: RedisStore,
    private readonly shardCount: number,
  ) {}

  get shards(): number {
    return this.shardCount;
  }

  /** Every shard's version now (the vector a grant requires). */
  async versions(): Promise<number[]> {
    const replies = await Promise.all(
      Array.from({ length: this.shardCount }, (_, shard) => this.store.read<string | null>(['GET', `${denylistPrefix(shard)}v`])),
    );
    return replies.map((reply) => (reply === null ? 0 : parseVersion(reply)));
  }

  /** Per shard: its version, its oldest logged change, and how many changes it logged after `since[shard]`. */
  async logs(since: readonly number[]): Promise<ShardLog[]> {
    return Promise.all(
      Array.from({ length: this.shardCount }, async (_, shard): Promise<ShardLog> => {
        const prefix = denylistPrefix(shard);
        const [current, oldest, after] = await Promise.all([
          this.store.read<string | null>(['GET', `${prefix}v`]),
          // The oldest member names its version (members are "<version> <card> <reason>").
          this.store.read<string[]>(['ZRANGE', `${prefix}log`, '0', '0']),
          this.store.read<number>(['ZCOUNT', `${prefix}log`, `(${since[shard] ?? 0}`, '+inf']),
        ]);
        return {
          current: current === null ? 0 : parseVersion(current),
          oldest: oldest[0] === undefined ? 0 : parseChange(oldest[0]).version,
          after: Number(after),
        };
      }),
    );
  }

  /** The changes of a shard after `since`, oldest first, at most `count`. */
  async changesAfter(shard: number, since: number, count: number): Promise<LoggedChange[]> {
    const members = await this.store.read<string[]>([
      'ZRANGEBYSCORE',
      `${denylistPrefix(shard)}log`,
      `(${since}`,
      '+inf',
      'LIMIT',
      '0',
      String(count),
    ]);
    return members.map(parseChange);
  }

  /** One page of the cards a shard lists now: the next cursor ("0" = done) and the cards with their reasons. */
  async listedPage(shard: number, cursor: string, count: number): Promise<{ cursor: string; cards: { card: string; reason: string }[] }> {
    const [next, flat] = await this.store.read<[string, string[]]>([
      'HSCAN',
      `${denylistPrefix(shard)}cards`,
      cursor,
      'COUNT',
      String(count),
    ]);
    const cards: { card: string; reason: string }[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const value = flat[i + 1] as string;
      cards.push({ card: flat[i] as string, reason: value.slice(value.indexOf(' ') + 1) });
    }
    return { cursor: next, cards };
  }

  /** How many cards a shard lists now. */
  async listedCount(shard: number): Promise<number> {
    return Number(await this.store.read<number>(['HLEN', `${denylistPrefix(shard)}cards`]));
  }

  /** A shard's version now (a snapshot of it starts from here). */
  async version(shard: number): Promise<number> {
    const reply = await this.store.read<string | null>(['GET', `${denylistPrefix(shard)}v`]);
    return reply === null ? 0 : parseVersion(reply);
  }
}
