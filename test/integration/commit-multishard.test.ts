// Proves the group-commit script's multi-shard fencing (card replacement): an entry that
// writes entities of two shards commits both atomically when the writer holds both epochs, and is
// refused whole (fenced, nothing written, no document) when the epoch of either shard moved on -
// a stale owner of the *other* shard cannot create the new card. Extra outbox documents land on
// their own shard's stream. An entry fenced by its own shard only (a replacement whose new card
// belongs to another node) commits without the other shard's epoch, its creation on the other
// shard checked by version: it loses to a card created there first (conflict, nothing written),
// is still fenced by its own shard, and may only create there (else failed, nothing sent).
// The batch body frames fields with NUL bytes: an entry with a NUL in a field fails alone and the
// entries around it commit intact, non-ASCII text included. A write on a shard that is not its
// entity's own (actors/sharding/shard-key.ts) would fork the entity: it fails alone, unsent.
// A request's record is one key under its request key on the key's home shard; records an older
// build wrote (on the entity's shard, named by a key record there) still answer retries, a key
// record naming a record that is gone leaves the key taken, and neither is written over.
// Real Redis, the real committer and script; every card id is chosen to live on the shard the test
// writes it on.

import { singleRedis } from '../../services/common/redis-target';
import assert from 'node:assert/strict';
import pino from 'pino';
import type { RedisInstance } from '../../tools/devenv/redis';
import { RedisStore } from '../../services/authorizer/store/redis-store';
import { Committer } from '../../services/authorizer/store/committer';
import { Metrics } from '../../services/common/metrics';
import type { CommitEntry, CommitResult } from '../../actors/runtime/persistence';
import { homeShardOfRequestKey, shardOf } from '../../actors/sharding/shard-key';
import { cardKey, idempotencyKey, requestKeyRecordKey } from '../../services/authorizer/store/keys';
import { startTestRedis } from '../support/harness';
import { connectInspector, type Inspector } from '../support/redis-inspect';

const shard_count = 16;

/** The first card id `<name>-<n>` that lives on `shard`. */
function cardOn(shard: number, name: string): string {
  for (let n = 0; ; n++) if (shardOf('card', `${name}-${n}`, shard_count) === shard) return `${name}-${n}`;
}

describe('group commit: entries fenced by several shards (real Redis)', function () {
  this.timeout(30_000);
  let redis: RedisInstance;
  let store: RedisStore;
  let committer: Committer;
  let inspect: Inspector;
  let epochs: Map<number, string>;

  const submit = (entry: Omit<CommitEntry, 'settle'>): Promise<CommitResult> =>
    new Promise((resolve) => assert.ok(committer.submit({ ...entry, settle: resolve })));

  before(async function () {
    redis = await startTestRedis('commit-multishard');
    store = await RedisStore.connect(
      { target: singleRedis(redis.url), command_timeout_ms: 5_000, reconnect_backoff_max_ms: 1_000 },
      () => undefined,
    );
    epochs = await store.takeShards([1, 2, 3]);
    committer = new Committer(
      store,
      { shardCount: shard_count, epochOf: (shard) => epochs.get(shard) },
      {
        batch_entries_max: 100,
        in_flight_max: 2,
        pending_entries_max: 1_000,
        idempotency_ttl_s: 3_600,
      },
      pino({ level: 'silent' }),
      new Metrics(),
    );
    inspect = await connectInspector(redis.url);
  });

  after(async function () {
    await inspect?.close();
    await store?.close();
    await redis?.stop();
  });

  it("commits writes on two shards and their documents on each shard's outbox, atomically", async () => {
    const [a, b] = [cardOn(1, 'a'), cardOn(2, 'b')];
    const result = await submit({
      shard: 1,
      writes: [
        { entity: { kind: 'card', id: a }, expectVersion: 0, data: '{"x":1}' },
        { entity: { kind: 'card', id: b }, expectVersion: 0, data: '{"x":2}', shard: 2 },
      ],
      outbox: '{"doc":"one"}',
      extraOutbox: [{ shard: 2, document: '{"doc":"two"}' }],
    });
    assert.equal(result.status, 'committed');
    assert.equal(await inspect.client.hGet(cardKey(1, a), 'd'), '{"x":1}');
    assert.equal(await inspect.client.hGet(cardKey(2, b), 'd'), '{"x":2}');
    assert.equal(await inspect.client.xLen('tl:{s1}:outbox'), 1);
    assert.equal(await inspect.client.xLen('tl:{s2}:outbox'), 1);
  });

  it("refuses the whole entry when the other shard's epoch moved on (a newer owner), writing nothing", async () => {
    const [c, d] = [cardOn(1, 'c'), cardOn(3, 'd')];
    await inspect.client.incr('tl:{s3}:epoch');
    const before = await inspect.snapshot();
    const result = await submit({
      shard: 1,
      writes: [
        { entity: { kind: 'card', id: c }, expectVersion: 0, data: '{"x":3}' },
        { entity: { kind: 'card', id: d }, expectVersion: 0, data: '{"x":4}', shard: 3 },
      ],
      outbox: '{"doc":"three"}',
      extraOutbox: [{ shard: 3, document: '{"doc":"four"}' }],
    });
    assert.equal(result.status, 'fenced');
    assert.equal(await inspect.snapshot(), before);
  });

  it('settles fenced without sending when this node does not hold the other shard', async () => {
    const [e, f] = [cardOn(1, 'e'), cardOn(9, 'f')];
    const before = await inspect.snapshot();
    const result = await submit({
      shard: 1,
      writes: [
        { entity: { kind: 'card', id: e }, expectVersion: 0, data: '{}' },
        { entity: { kind: 'card', id: f }, expectVersion: 0, data: '{}', shard: 9 },
      ],
    });
    assert.equal(result.status, 'fenced');
    assert.equal(await inspect.snapshot(), before);
  });

  it('fenced by its own shard only: creates on a shard it does not hold; loses to an existing card; still fenced by its own', async () => {
    const [g, h, i] = [cardOn(9, 'g'), cardOn(9, 'h'), cardOn(9, 'i')];
    const replacement = (newId: string, shard = 1): Omit<CommitEntry, 'settle'> => ({
      shard,
      fenceOwnShardOnly: true,
      writes: [
        { entity: { kind: 'card', id: cardOn(shard, `old-of-${newId}`) }, expectVersion: 0, data: '{"old":true}' },
        { entity: { kind: 'card', id: newId }, expectVersion: 0, data: '{"new":true}', shard: 9 },
      ],
      outbox: '{"doc":"out"}',
      extraOutbox: [{ shard: 9, document: '{"doc":"in"}' }],
    });
    assert.equal((await submit(replacement(g))).status, 'committed', 'shard 9 is not held, its creation is version-checked');
    assert.equal(await inspect.client.hGet(cardKey(9, g), 'd'), '{"new":true}');
    assert.equal(await inspect.client.xLen('tl:{s9}:outbox'), 1);
    await inspect.client.hSet(cardKey(9, h), { v: '1', d: '{"issued":"elsewhere"}' });
    let before = await inspect.snapshot();
    assert.equal((await submit(replacement(h))).status, 'conflict', 'the card created first on its own shard wins');
    assert.equal(await inspect.snapshot(), before);
    await inspect.client.incr('tl:{s2}:epoch');
    before = await inspect.snapshot();
    assert.equal((await submit(replacement(i, 2))).status, 'fenced', 'a stale owner of the old card writes nothing');
    assert.equal(await inspect.snapshot(), before);
    const update: Omit<CommitEntry, 'settle'> = {
      shard: 1,
      fenceOwnShardOnly: true,
      writes: [{ entity: { kind: 'card', id: g }, expectVersion: 1, data: '{}', shard: 9 }],
    };
    assert.equal((await submit(update)).status, 'failed', "only creations may skip the other shard's fencing");
    assert.equal(await inspect.snapshot(), before);
  });

  it('an entry with a NUL in a field fails alone; the entries of its batch commit intact', async () => {
    const [n1, n2, n3] = [cardOn(1, 'n1'), cardOn(1, 'n2'), cardOn(1, 'n3')];
    const before = await inspect.snapshot();
    // Submitted in one turn, so the three share one script call.
    const results = await Promise.all([
      submit({
        shard: 1,
        writes: [{ entity: { kind: 'card', id: n1 }, expectVersion: 0, data: '{"city":"Zürich €"}' }],
        outbox: '{"doc":"n1 ✓"}',
      }),
      submit({
        shard: 1,
        writes: [{ entity: { kind: 'card', id: n2 }, expectVersion: 0, data: 'broken\0frame' }],
        outbox: '{"doc":"n2"}',
      }),
      submit({
        shard: 1,
        writes: [{ entity: { kind: 'card', id: n3 }, expectVersion: 0, data: '{"x":3}' }],
        idempotency: { key: 't:n3:1', value: '{"f":"n3"}' },
        outbox: '{"f":"n3"}',
      }),
    ]);
    assert.deepEqual(
      results.map((r) => r.status),
      ['committed', 'failed', 'committed'],
    );
    assert.equal(await inspect.client.hGet(cardKey(1, n1), 'd'), '{"city":"Zürich €"}');
    assert.equal(await inspect.client.exists(cardKey(1, n2)), 0, 'the broken entry wrote nothing');
    assert.equal(await inspect.client.hGet(cardKey(1, n3), 'd'), '{"x":3}');
    assert.equal(await committer.loadIdempotencyRecord(1, 't:n3:1'), '{"f":"n3"}');
    const outbox1 = await inspect.client.xRange('tl:{s1}:outbox', '-', '+');
    assert.deepEqual(
      outbox1?.slice(-2).map((entry) => entry.message['d']),
      ['{"doc":"n1 ✓"}', '{"f":"n3"}'],
      'n2 appended no document',
    );
    assert.notEqual(await inspect.snapshot(), before);
  });

  it("keeps a request's record under its key on the home shard; records of an older build still answer", async () => {
    const [fresh, retried, taken] = [cardOn(1, 'r1'), cardOn(1, 'r2'), cardOn(1, 'r3')];
    const written = await submit({
      shard: 1,
      writes: [{ entity: { kind: 'card', id: fresh }, expectVersion: 0, data: '{"x":1}' }],
      idempotency: { key: 't:new:1', value: '[2,"new"]' },
      outbox: '{"doc":"new"}',
    });
    assert.equal(written.status, 'committed');
    assert.equal(await inspect.client.get(requestKeyRecordKey(homeShardOfRequestKey('t:new:1', shard_count), 't:new:1')), '[2,"new"]');
    assert.deepEqual(await inspect.client.keys('tl:{s*}:idem:t:new:*'), [], 'one key per request');
    assert.equal(await committer.loadIdempotencyRecord(2, 't:new:1'), '[2,"new"]', 'found from an entity of another shard');
    // What an older build left: the record on the card's shard, a key record on the home shard naming it.
    const old = idempotencyKey(1, 't:old:1');
    await inspect.client.set(old, '{"f":"old"}');
    await inspect.client.set(requestKeyRecordKey(homeShardOfRequestKey('t:old:1', shard_count), 't:old:1'), old);
    await inspect.client.set(
      requestKeyRecordKey(homeShardOfRequestKey('t:gone:1', shard_count), 't:gone:1'),
      idempotencyKey(1, 't:gone:1'),
    );
    assert.equal(await committer.loadIdempotencyRecord(1, 't:old:1'), '{"f":"old"}');
    assert.equal(await committer.loadIdempotencyRecord(3, 't:old:1'), '{"f":"old"}');
    const before = await inspect.snapshot();
    const [duplicate, reused] = await Promise.all([
      submit({
        shard: 1,
        writes: [{ entity: { kind: 'card', id: retried }, expectVersion: 0, data: '{"x":2}' }],
        idempotency: { key: 't:old:1', value: '[2,"retry"]' },
        outbox: '{"doc":"retry"}',
      }),
      submit({
        shard: 1,
        writes: [{ entity: { kind: 'card', id: taken }, expectVersion: 0, data: '{"x":3}' }],
        idempotency: { key: 't:gone:1', value: '[2,"gone"]' },
        outbox: '{"doc":"gone"}',
      }),
    ]);
    assert.deepEqual(duplicate, { status: 'duplicate', existing: '{"f":"old"}' });
    assert.equal(reused.status, 'reused');
    assert.equal(await inspect.snapshot(), before, 'a retry and a taken key write nothing');
  });

  it("a write on a shard that is not its entity's own fails alone, unsent (it would fork the entity)", async () => {
    const [own, other] = [cardOn(1, 'own'), cardOn(1, 'misplaced')];
    const outboxBefore = await inspect.client.xLen('tl:{s2}:outbox');
    const results = await Promise.all([
      submit({ shard: 1, writes: [{ entity: { kind: 'card', id: own }, expectVersion: 0, data: '{"ok":true}' }] }),
      // The card lives on shard 1; written on shard 2 it would be a second copy under another epoch.
      submit({ shard: 2, writes: [{ entity: { kind: 'card', id: other }, expectVersion: 0, data: '{}' }], outbox: '{"doc":"x"}' }),
      submit({
        shard: 1,
        writes: [
          { entity: { kind: 'card', id: cardOn(1, 'replaced') }, expectVersion: 0, data: '{}' },
          { entity: { kind: 'card', id: other }, expectVersion: 0, data: '{}', shard: 3 },
        ],
      }),
    ]);
    assert.deepEqual(
      results.map((r) => r.status),
      ['committed', 'failed', 'failed'],
    );
    assert.equal(await inspect.client.hGet(cardKey(1, own), 'd'), '{"ok":true}');
    for (const shard of [1, 2, 3])
      assert.equal(await inspect.client.exists(cardKey(shard, other)), 0, `nothing of ${other} on shard ${shard}`);
    assert.equal(await inspect.client.xLen('tl:{s2}:outbox'), outboxBefore, 'the misplaced entry appended no document');
  });
});
