// Proves the cluster's shard placement (actors/sharding/allocation.ts, rendezvous hashing):
// every node computes the same owner for every shard from the same member set whatever order it
// learned the members in; every shard has exactly one owner among the members (none without
// members); the spread is even (3 and 10 members over 256 shards within ±35% of the mean); when a
// member joins only shards it wins move (to it), and when one leaves only its shards move, so a
// membership change moves about 1/N of the shards; ownerOf agrees with placementOf; and
// changeFor tells a node exactly which shards to take and which to hand off. Property tests are
// seeded (fast-check) and print their seed.

import assert from 'node:assert/strict';
import fc from 'fast-check';
import { changeFor, ownerOf, placementOf } from '../../actors/sharding/allocation';
import { announceSeed, assertProperty } from './fast-check-seed';

const node_id = fc.stringMatching(/^[a-z0-9-]{1,12}$/);
const member_sets = fc.uniqueArray(node_id, { minLength: 1, maxLength: 8 });

describe('allocation: rendezvous placement', () => {
  before(() => announceSeed('allocation'));

  it('is the same on every node whatever the order of the members', () => {
    assertProperty(
      fc.property(member_sets, fc.integer({ min: 1, max: 300 }), (members, shardCount) => {
        const reversed = [...members].reverse();
        assert.deepEqual(placementOf(shardCount, members), placementOf(shardCount, reversed));
      }),
      200,
    );
  });

  it('gives every shard exactly one owner among the members, and none without members', () => {
    assertProperty(
      fc.property(member_sets, (members) => {
        const owners = placementOf(64, members);
        assert.equal(owners.length, 64);
        for (const owner of owners) assert.ok(owner !== undefined && members.includes(owner), `owner ${owner} is a member`);
      }),
      200,
    );
    assert.deepEqual(placementOf(4, []), [undefined, undefined, undefined, undefined]);
    assert.equal(ownerOf(3, []), undefined);
  });

  it('ownerOf agrees with placementOf', () => {
    assertProperty(
      fc.property(member_sets, (members) => {
        const owners = placementOf(128, members);
        for (let shard = 0; shard < 128; shard++) assert.equal(ownerOf(shard, members), owners[shard]);
      }),
      100,
    );
  });

  it('spreads 256 shards evenly over 3 and over 10 nodes (within ±35% of the mean)', () => {
    for (const count of [3, 10]) {
      const members = Array.from({ length: count }, (_, i) => `tapline-authorizer-${i}`);
      const perMember = new Map<string, number>();
      for (const owner of placementOf(256, members)) perMember.set(owner as string, (perMember.get(owner as string) ?? 0) + 1);
      const mean = 256 / count;
      for (const member of members) {
        const owned = perMember.get(member) ?? 0;
        assert.ok(owned >= mean * 0.65 && owned <= mean * 1.35, `${member} owns ${owned} of 256 shards (mean ${mean.toFixed(1)})`);
      }
    }
  });

  it('a joining member takes shards only for itself; a leaving one gives up only its own', () => {
    assertProperty(
      fc.property(member_sets, node_id, (members, newcomer) => {
        fc.pre(!members.includes(newcomer));
        const before = placementOf(256, members);
        const after = placementOf(256, [...members, newcomer]);
        let moved = 0;
        for (let shard = 0; shard < 256; shard++) {
          if (before[shard] === after[shard]) continue;
          moved += 1;
          assert.equal(after[shard], newcomer, `shard ${shard} moved to the newcomer, not elsewhere`);
        }
        // Leaving again restores the old placement exactly.
        assert.deepEqual(placementOf(256, members), before);
        return moved <= 256;
      }),
      200,
    );
  });

  it('a membership change of 3 -> 4 nodes moves about a quarter of the shards', () => {
    const three = ['n1', 'n2', 'n3'];
    const before = placementOf(256, three);
    const after = placementOf(256, [...three, 'n4']);
    const moved = before.filter((owner, shard) => owner !== after[shard]).length;
    assert.ok(moved >= 40 && moved <= 90, `${moved} of 256 shards moved (expected about 64)`);
  });
});

describe('allocation: what a node must do', () => {
  it('takes the shards it owns and does not hold, hands off the ones it holds and does not own', () => {
    const owners = ['a', 'b', 'a', undefined, 'b'];
    const held = new Set([1, 2, 3]);
    assert.deepEqual(
      changeFor('a', owners, (shard) => held.has(shard)),
      { take: [0], release: [1, 3] },
    );
    assert.deepEqual(
      changeFor('b', owners, () => false),
      { take: [1, 4], release: [] },
    );
    assert.deepEqual(
      changeFor('c', owners, () => true),
      { take: [], release: [0, 1, 2, 3, 4] },
    );
  });
});
