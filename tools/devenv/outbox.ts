// The size of the Redis outbox, for the local tools (benchmark, tests) that wait for the
// streamer to catch up: the streamer deletes what ClickHouse has accepted, so 0 means drained.

import { createClient } from 'redis';
import { shardKeys } from '../../services/authorizer/store/keys';

export async function outboxBacklog(redisUrl: string, shardCount: number): Promise<number> {
  const client = createClient({ url: redisUrl });
  await client.connect();
  try {
    const lengths = await Promise.all(
      Array.from({ length: shardCount }, (_, shard) => client.sendCommand<number>(['XLEN', shardKeys(shard).outbox])),
    );
    return lengths.reduce((sum, length) => sum + length, 0);
  } finally {
    await client.close();
  }
}
