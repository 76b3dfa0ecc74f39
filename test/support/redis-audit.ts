// Reads what Tapline persisted, as an auditor would, in any Redis deployment shape (a single
// server, a Sentinel set's current primary, a Redis Cluster): card records, the record a request
// key names (through its key record, as keys.ts lays them out), and the outbox backlog.

import { homeShardOfRequestKey, shardOf } from '../../actors/sharding/shard-key';
import { cardKey, requestKeyRecordKey, shardKeys } from '../../services/authorizer/store/keys';
import { connectPrimaries } from '../../services/common/redis-primaries';
import type { RedisTarget } from '../../services/common/redis-target';
import { test_shard_count } from './harness';
import { storedAnswerOf, type StoredAnswer } from './redis-inspect';

export type Auditor = Awaited<ReturnType<typeof connectAuditor>>;

export async function connectAuditor(target: RedisTarget, shardCount = test_shard_count) {
  const primaries = await connectPrimaries(
    { ...target, wait_replicas: 0 },
    { command_timeout_ms: 5_000, reconnect_backoff_max_ms: 500, onError: () => undefined },
  );
  return {
    async card(cardId: string): Promise<{ version: number; balanceMinor: number } | undefined> {
      const key = cardKey(shardOf('card', cardId, shardCount), cardId);
      const [version, data] = await primaries.send<(string | null)[]>(key, ['HMGET', key, 'v', 'd']);
      if (data === null || data === undefined) return undefined;
      return { version: Number(version), balanceMinor: (JSON.parse(data) as { balanceMinor: number }).balanceMinor };
    },
    /** The idempotency record that answers a request key, under the key on its home shard (or named by the key record there). */
    async idempotency(key: string): Promise<StoredAnswer | undefined> {
      const keyRecord = requestKeyRecordKey(homeShardOfRequestKey(key, shardCount), key);
      const home = await primaries.send<string | null>(keyRecord, ['GET', keyRecord]);
      if (home === null) return undefined;
      const value = home.startsWith('tl:{') ? await primaries.send<string | null>(home, ['GET', home]) : home;
      return value === null ? undefined : storedAnswerOf(value);
    },
    /** Entries in every shard's outbox stream (the streamer deletes what ClickHouse accepted). */
    async outboxBacklog(): Promise<number> {
      const lengths = await Promise.all(
        Array.from({ length: shardCount }, (_, shard) =>
          primaries.send<number>(shardKeys(shard).outbox, ['XLEN', shardKeys(shard).outbox]),
        ),
      );
      return lengths.reduce((sum, length) => sum + Number(length), 0);
    },
    /** How many transaction documents each request key has in the outbox streams. */
    async outboxTransactionKeys(): Promise<Map<string, number>> {
      const counts = new Map<string, number>();
      for (let shard = 0; shard < shardCount; shard++) {
        const stream = shardKeys(shard).outbox;
        const entries = await primaries.send<[string, string[]][]>(stream, ['XRANGE', stream, '-', '+']);
        for (const [, fields] of entries) {
          const document = JSON.parse(String(fields[1])) as { type?: string; key?: string };
          if (document.type === 'transaction' && document.key !== undefined) counts.set(document.key, (counts.get(document.key) ?? 0) + 1);
        }
      }
      return counts;
    },
    async close(): Promise<void> {
      await primaries.close();
    },
  };
}
