// Proves, on a real Redis, that the primaries layer writes a write to the socket before it returns
// (services/common/redis-write-now.ts): the commit pipeline relies on it to keep Redis busy while
// the node decides a burst. The process's event loop is held by a child process it waits for
// (redis-cli, polling the key for a second): a write written at once is on the server meanwhile;
// a command left to node-redis' own scheduling is not, until the loop turns. If node-redis stops
// scheduling its writes the way writtenNow() expects, the first test fails.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { connectPrimaries, type RedisPrimaries } from '../../services/common/redis-primaries';
import { redisTargetFromEnv } from '../../services/common/redis-target';
import type { RedisInstance } from '../../tools/devenv/redis';
import { startTestRedis } from '../support/harness';

const options = { command_timeout_ms: 2_000, reconnect_backoff_max_ms: 200, onError: () => undefined };

/** The key's value as another client sees it within a second, this process's event loop held all along ('' if never). */
function seenByAnotherClientWhileBlocked(port: number, key: string): string {
  const poll = `for i in $(seq 20); do v=$(redis-cli -p ${port} GET ${key}); if [ -n "$v" ]; then echo "$v"; exit 0; fi; sleep 0.05; done`;
  return execFileSync('sh', ['-c', poll]).toString().trim();
}

describe('writes leave for Redis at once (real Redis, event loop held)', function () {
  this.timeout(30_000);
  let redis: RedisInstance;
  let primaries: RedisPrimaries;

  before(async function () {
    redis = await startTestRedis('write-now');
    primaries = await connectPrimaries(redisTargetFromEnv({ TAPLINE_REDIS_URL: redis.url }), options);
  });

  after(async function () {
    await primaries?.close();
    await redis?.stop();
  });

  it('a replicated write (a commit script) is on the server before the event loop turns', async () => {
    const reply = primaries.sendReplicated('now:1', ['EVAL', "return redis.call('SET', KEYS[1], ARGV[1])", '1', 'now:1', 'written']);
    assert.equal(seenByAnotherClientWhileBlocked(redis.port, 'now:1'), 'written');
    assert.equal(await reply, 'OK');
  });

  it('several writes at once (a cluster batch and its WAIT path) are all on the server before the loop turns', async () => {
    const replies = primaries.sendReplicatedMany([
      { key: 'now:2', args: ['SET', 'now:2', 'first'] },
      { key: 'now:3', args: ['SET', 'now:3', 'second'] },
    ]);
    assert.equal(seenByAnotherClientWhileBlocked(redis.port, 'now:3'), 'second');
    assert.deepEqual(
      (await replies).map((outcome) => outcome.status),
      ['fulfilled', 'fulfilled'],
    );
    assert.equal(await primaries.send('now:2', ['GET', 'now:2']), 'first');
  });

  it('a write sent while node-redis already has a write scheduled goes with that one, in order, and nothing is lost', async () => {
    const first = primaries.send('mixed:1', ['SET', 'mixed:1', 'a']);
    const second = primaries.sendReplicated('mixed:1', ['APPEND', 'mixed:1', 'b']);
    const third = primaries.sendReplicated('mixed:1', ['APPEND', 'mixed:1', 'c']);
    assert.deepEqual(await Promise.all([first, second, third]), ['OK', 2, 3]);
    assert.equal(await primaries.send('mixed:1', ['GET', 'mixed:1']), 'abc');
    // And the next write, with nothing scheduled any more, is written at once again.
    const reply = primaries.sendReplicated('mixed:2', ['SET', 'mixed:2', 'again']);
    assert.equal(seenByAnotherClientWhileBlocked(redis.port, 'mixed:2'), 'again');
    await reply;
  });

  it('a command sent the ordinary way waits for the loop to turn: what the tests above rule out', async () => {
    const reply = primaries.send('later:1', ['SET', 'later:1', 'written']);
    assert.equal(seenByAnotherClientWhileBlocked(redis.port, 'later:1'), '');
    assert.equal(await reply, 'OK');
    assert.equal(await primaries.send('later:1', ['GET', 'later:1']), 'written');
  });
});
