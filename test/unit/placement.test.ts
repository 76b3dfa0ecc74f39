// Proves that shard placement (actors/sharding/placement.ts) is stable, in range and even.
// Stable: hash32 matches the published FNV-1a 32-bit test vectors, and shardOf gives the values
// below, computed once and written out, for a few ids; any change to the hash would move every
// entity to another shard on a live cluster, so it must fail here first. In range: random ids
// (fast-check, seeded) always land in [0, shardCount) for shard counts from 1 to 65,536. Even:
// 100,000 ids of three realistic shapes spread over 256 shards within ±20% of the mean.

import assert from 'node:assert/strict';
import fc from 'fast-check';
import { hash32, shardOf } from '../../actors/sharding/placement';
import { announceSeed, assertProperty } from './fast-check-seed';

describe('placement: stability', () => {
  it('hash32 is FNV-1a 32 bit (published test vectors)', () => {
    assert.equal(hash32(''), 0x811c9dc5);
    assert.equal(hash32('a'), 0xe40c292c);
    assert.equal(hash32('foobar'), 0xbf9cf968);
  });

  it('shardOf gives the same shards it always gave', () => {
    const expected: readonly [string, number, number, number][] = [
      // id, hash32, shard of 256, shard of 64
      ['card-1', 145_209_797, 197, 5],
      ['card-000042', 4_077_295_388, 28, 28],
      ['4111111111111111', 708_614_448, 48, 48],
      ['till-7', 193_596_202, 42, 42],
      ['bar-north', 2_889_983_348, 116, 52],
      // Hashed over UTF-16 code units, not UTF-8 bytes.
      ['ü-card', 1_409_832_248, 56, 56],
    ];
    for (const [id, hash, shard256, shard64] of expected) {
      assert.equal(hash32(id), hash, `hash32(${id})`);
      assert.equal(shardOf(id, 256), shard256, `shardOf(${id}, 256)`);
      assert.equal(shardOf(id, 64), shard64, `shardOf(${id}, 64)`);
      assert.equal(shardOf(id, 1), 0, `shardOf(${id}, 1)`);
    }
  });
});

describe('placement: range', () => {
  before(() => announceSeed('placement'));

  it('hash32 is an unsigned 32-bit integer and shardOf is in [0, shardCount)', () => {
    const shard_count_arbitrary = fc.oneof(fc.constantFrom(1, 2, 64, 256, 65_536), fc.integer({ min: 1, max: 65_536 }));
    assertProperty(
      fc.property(
        fc.oneof(fc.string({ maxLength: 64 }), fc.string({ unit: 'grapheme', maxLength: 64 })),
        shard_count_arbitrary,
        (id, shardCount) => {
          const hash = hash32(id);
          assert.ok(Number.isInteger(hash) && hash >= 0 && hash <= 0xffff_ffff, `hash32 ${hash}`);
          const shard = shardOf(id, shardCount);
          assert.ok(Number.isInteger(shard) && shard >= 0 && shard < shardCount, `shard ${shard} of ${shardCount}`);
          assert.equal(shardOf(id, shardCount), shard, 'shardOf is not repeatable');
        },
      ),
      1_000,
    );
  });
});

describe('placement: spread', () => {
  const ids_count = 100_000;
  const shard_count = 256;
  const mean = ids_count / shard_count;
  const shapes: Readonly<Record<string, (i: number) => string>> = {
    'card-<n>': (i) => `card-${i}`,
    'card-<6 digits>': (i) => `card-${String(i).padStart(6, '0')}`,
    'C<16-digit PAN>': (i) => `C${4_000_000_000_000_000 + i}`,
  };
  for (const [shape, idOf] of Object.entries(shapes)) {
    it(`spreads ${ids_count} ids shaped ${shape} over ${shard_count} shards within ±20% of the mean`, () => {
      const counts = new Array<number>(shard_count).fill(0);
      for (let i = 0; i < ids_count; i++) {
        const shard = shardOf(idOf(i), shard_count);
        counts[shard] = (counts[shard] ?? 0) + 1;
      }
      const min = Math.min(...counts);
      const max = Math.max(...counts);
      assert.ok(
        min >= mean * 0.8 && max <= mean * 1.2,
        `expected every shard within [${mean * 0.8}, ${mean * 1.2}], saw min ${min}, max ${max}`,
      );
    });
  }
});
