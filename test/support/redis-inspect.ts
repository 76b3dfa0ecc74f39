// Reads Redis directly (as an auditor would) to check what Tapline persisted: card records,
// idempotency records, outbox entries, and a whole-database snapshot to prove "nothing changed".

import { decodeRecord } from '../../actors/card/transaction';
import { createClient } from 'redis';
import { homeShardOfRequestKey, shardOf } from '../../actors/sharding/shard-key';
import { cardKey, members_key, requestKeyRecordKey } from '../../services/authorizer/store/keys';
import { test_shard_count } from './harness';

export type Inspector = Awaited<ReturnType<typeof connectInspector>>;

/** The fields of an idempotency record tests check (actors/card/transaction.ts decodes either layout). */
export interface StoredAnswer {
  readonly f: string;
  readonly id: string;
  readonly outcome: string;
  readonly amount: number;
  readonly card: string;
}

/** A card's auto-reload as stored in its state. */
export interface StoredAutoReload {
  readonly thresholdMinor: number;
  readonly amountMinor: number;
  readonly mandate: string;
}

export function storedAnswerOf(value: string): StoredAnswer {
  const { f, r } = decodeRecord(value);
  return { f, id: r.id, outcome: r.outcome, amount: r.amountMinor, card: r.cardId };
}

export async function connectInspector(url: string, shardCount = test_shard_count) {
  const client = createClient({ url });
  await client.connect();

  async function allKeys(): Promise<string[]> {
    const keys: string[] = [];
    for await (const batch of client.scanIterator({ COUNT: 1000 })) keys.push(...batch);
    return keys.sort();
  }

  return {
    client,
    /** Every key with its full content; equal snapshots mean nothing was written. */
    async snapshot(): Promise<string> {
      const parts: string[] = [];
      for (const key of await allKeys()) {
        const type = String(await client.type(key));
        let value: unknown;
        // Hash fields sorted: a hash's field order is Redis' own (it changes when a big hash rehashes).
        if (type === 'hash') value = Object.fromEntries(Object.entries(await client.hGetAll(key)).sort(([a], [b]) => (a < b ? -1 : 1)));
        else if (type === 'string') value = await client.get(key);
        else if (type === 'stream') value = await client.sendCommand(['XRANGE', key, '-', '+']);
        // Membership scores are heartbeats (they move with time, not with requests, and order the
        // members by them): the sorted members only there.
        else if (type === 'zset' && key === members_key) value = (await client.zRange(key, 0, -1)).sort();
        else if (type === 'zset') value = await client.sendCommand(['ZRANGE', key, '0', '-1', 'WITHSCORES']);
        else if (type === 'set') value = (await client.sMembers(key)).sort();
        else value = type;
        parts.push(`${key}=${JSON.stringify(value)}`);
      }
      return parts.join('\n');
    },
    /** A card's stored version, balance and (when it has one) auto-reload with its mandate. */
    async card(cardId: string): Promise<{ version: number; balanceMinor: number; autoReload?: StoredAutoReload } | undefined> {
      const record = await client.hGetAll(cardKey(shardOf('card', cardId, shardCount), cardId));
      if (record['d'] === undefined) return undefined;
      const data = JSON.parse(String(record['d'])) as { balanceMinor: number; profile?: { autoReload?: StoredAutoReload } };
      const autoReload = data.profile?.autoReload;
      return { version: Number(record['v']), balanceMinor: data.balanceMinor, ...(autoReload === undefined ? {} : { autoReload }) };
    },
    /**
     * The idempotency record of a request key, decoded, found as the layout says: under the key on
     * its home shard, the record itself or a key record naming it.
     */
    async idempotency(key: string): Promise<StoredAnswer | undefined> {
      const home = await client.get(requestKeyRecordKey(homeShardOfRequestKey(key, shardCount), key));
      const value = home === null || !home.startsWith('tl:{') ? home : await client.get(home);
      return value === null ? undefined : storedAnswerOf(value);
    },
    /** All outbox records of every shard, parsed. */
    async outbox(): Promise<Record<string, unknown>[]> {
      const records: Record<string, unknown>[] = [];
      for (const key of await allKeys()) {
        if (!key.endsWith(':outbox')) continue;
        const entries = await client.sendCommand<[string, string[]][]>(['XRANGE', key, '-', '+']);
        for (const [, fields] of entries) records.push(JSON.parse(String(fields[1])) as Record<string, unknown>);
      }
      return records;
    },
    async close(): Promise<void> {
      await client.close();
    },
  };
}
