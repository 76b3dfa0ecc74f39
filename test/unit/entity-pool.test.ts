// Proves what the shard region's entity pool (actors/sharding/shard-region.ts) does when shards
// leave this node: stopShards() stops exactly the actors of the given shards in one call, however
// many shards it is given; commands still queued for them are answered "shard moved" (the caller
// retries on the new owner) and nothing else is touched; a stopped entity of a shard that is no
// longer held refuses new messages with "shard moved" instead of reactivating. Real nact actors
// through our runtime; a behaviour that blocks on a promise keeps commands queued on purpose.
// Placement: the pool puts an id on the shard the router routes it to (both through
// actors/sharding/shard-key.ts), so a fleet card id reaching the card pool on a node that holds
// its fleet's shard is activated there, on that shard, instead of being refused as moved.

import assert from 'node:assert/strict';
import { ActorRuntime } from '../../actors/runtime/actor-runtime';
import { EntityPool, type PassivatableBehavior } from '../../actors/sharding/shard-region';
import { ShardOwnership } from '../../actors/sharding/shard-ownership';
import { shardKeyOf, shardOf, shardOfKey } from '../../actors/sharding/shard-key';
import { isShardMoved } from '../../actors/errors';

interface Command {
  readonly id: string;
  readonly answer: (outcome: string) => void;
}

const shard_count = 8;

describe('entity pool: stopping the actors of shards that moved away', () => {
  let runtime: ActorRuntime;
  let release: () => void = () => undefined;

  beforeEach(() => {
    runtime = new ActorRuntime();
  });

  afterEach(() => {
    release();
    runtime.shutdown();
  });

  it("stops exactly the given shards' actors in one pass and answers their queued commands as moved", async () => {
    const ownership = new ShardOwnership(shard_count);
    for (let shard = 0; shard < shard_count; shard++) ownership.hold(shard, '1');
    const blocked = new Promise<void>((resolve) => {
      release = resolve;
    });
    const passivated: string[] = [];
    const pool = new EntityPool<Command>(
      {
        kind: 'card',
        create: (id, shard): PassivatableBehavior<Command> => ({
          shard,
          quiescent: true,
          // The first command of each entity waits, so the ones after it stay queued.
          receive: async (commands) => {
            await blocked;
            for (const command of commands) command.answer('done');
          },
          fail: (commands, error) => {
            for (const command of commands) command.answer(isShardMoved(error) ? 'moved' : 'other failure');
          },
          passivated: () => passivated.push(id),
        }),
      },
      runtime,
      ownership,
      { active_entities_max: 1_000, passivate_after_ms: 60_000, mailbox_max: 10, drain_batch_max: 1 },
      () => 0,
    );

    const ids = Array.from({ length: 200 }, (_, i) => `e${i}`);
    const answers = new Map<string, string[]>();
    for (const id of ids) {
      answers.set(id, []);
      for (let k = 0; k < 2; k++) assert.equal(pool.tell(id, { id, answer: (outcome) => answers.get(id)?.push(outcome) }), undefined);
    }
    await new Promise((resolve) => setImmediate(resolve));
    const moving = new Set([1, 4, 6]);
    const expectedStopped = ids.filter((id) => moving.has(shardOf('card', id, shard_count)));
    assert.ok(expectedStopped.length > 0 && expectedStopped.length < ids.length, 'the ids spread over moving and staying shards');

    for (const shard of moving) ownership.release(shard);
    assert.equal(pool.stopShards(moving), expectedStopped.length);
    assert.equal(pool.size, ids.length - expectedStopped.length);
    assert.deepEqual([...passivated].sort(), [...expectedStopped].sort());
    for (const id of expectedStopped) {
      // The second command was still queued: it is answered now; the first is in flight.
      assert.deepEqual(answers.get(id), ['moved'], `${id}: queued command answered as moved`);
      const refusal = pool.tell(id, { id, answer: () => undefined });
      assert.ok(refusal !== undefined && isShardMoved(refusal), `${id}: a shard not held refuses new messages`);
    }

    release();
    const staying = ids.filter((id) => !moving.has(shardOf('card', id, shard_count)));
    const deadline = Date.now() + 10_000;
    while (staying.some((id) => (answers.get(id)?.length ?? 0) < 2)) {
      assert.ok(Date.now() < deadline, 'staying entities: expected both commands answered within 10 s');
      await new Promise((resolve) => setImmediate(resolve));
    }
    for (const id of staying) assert.deepEqual(answers.get(id), ['done', 'done'], `${id}: untouched by the move`);
  });
});

describe('entity pool: placement', () => {
  let runtime: ActorRuntime;

  beforeEach(() => {
    runtime = new ActorRuntime();
  });

  afterEach(() => {
    runtime.shutdown();
  });

  it("places an id on the shard the router routes it to: a fleet card on its fleet's shard", () => {
    const cardId = 'acme~7';
    const routed = shardOfKey(shardKeyOf('card', cardId), shard_count);
    assert.notEqual(shardOfKey(cardId, shard_count), routed, 'the raw id and its shard key hash to different shards');
    const ownership = new ShardOwnership(shard_count);
    ownership.hold(routed, '1');
    const activated: [string, number][] = [];
    const pool = new EntityPool<Command>(
      {
        kind: 'card',
        create: (id, shard): PassivatableBehavior<Command> => {
          activated.push([id, shard]);
          return { shard, quiescent: true, receive: () => Promise.resolve(), fail: () => undefined };
        },
      },
      runtime,
      ownership,
      { active_entities_max: 10, passivate_after_ms: 60_000, mailbox_max: 10, drain_batch_max: 1 },
      () => 0,
    );
    const refusal = pool.tell(cardId, { id: cardId, answer: () => undefined });
    assert.equal(
      refusal,
      undefined,
      `expected the card activated on the node holding its fleet's shard ${routed}, got ${refusal?.message}`,
    );
    assert.deepEqual(activated, [[cardId, routed]]);
  });
});

describe('entity pool: actors of entities that do not exist', () => {
  it('stops an absent entity as soon as it has answered and keeps one that exists; a later message reactivates it', async () => {
    const runtime = new ActorRuntime();
    try {
      const ownership = new ShardOwnership(shard_count);
      for (let shard = 0; shard < shard_count; shard++) ownership.hold(shard, '1');
      const passivated: string[] = [];
      const pool = new EntityPool<Command>(
        {
          kind: 'card',
          // Ids starting with "known" exist; the others are absent once they have been read.
          create: (id, shard): PassivatableBehavior<Command> => ({
            shard,
            quiescent: true,
            absent: !id.startsWith('known'),
            receive: (commands) => {
              for (const command of commands) command.answer(id.startsWith('known') ? 'state' : 'not found');
            },
            fail: () => undefined,
            passivated: () => passivated.push(id),
          }),
        },
        runtime,
        ownership,
        { active_entities_max: 1_000, passivate_after_ms: 60_000, mailbox_max: 10, drain_batch_max: 10 },
        () => 0,
      );
      const answers: string[] = [];
      for (const id of ['known-1', 'unknown-1', 'unknown-2'])
        assert.equal(pool.tell(id, { id, answer: (outcome) => answers.push(`${id}: ${outcome}`) }), undefined);
      for (let turn = 0; turn < 5 && (answers.length < 3 || pool.size > 1); turn++) await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(answers.sort(), ['known-1: state', 'unknown-1: not found', 'unknown-2: not found']);
      assert.equal(pool.size, 1, 'only the entity that exists stays active');
      assert.deepEqual(passivated.sort(), ['unknown-1', 'unknown-2']);
      assert.equal(pool.tell('unknown-1', { id: 'unknown-1', answer: (outcome) => answers.push(`again: ${outcome}`) }), undefined);
      for (let turn = 0; turn < 5 && !answers.includes('again: not found'); turn++) await new Promise((resolve) => setImmediate(resolve));
      assert.ok(answers.includes('again: not found'), 'a new message reactivates the entity and is answered');
    } finally {
      runtime.shutdown();
    }
  });
});
