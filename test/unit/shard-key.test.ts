// Proves the shard-key module (actors/sharding/shard-key.ts), the only place that says which shard
// an entity lives on. Stable: hash32 matches the published FNV-1a 32-bit test vectors, and shardOf
// gives the values below, computed once and written out, for fixed ids of several kinds; any
// change to the hash or to a shard key would move entities to other shards on a live deployment,
// so it must fail here first. Every kind: each kind of entity has its shard key (a table the
// compiler keeps complete), fleet cards, their vehicles and their account land on the fleet's
// shard, a manager on its merchant's, and a plain id is its own shard key. Fleet card ids parse as
// "<fleet>~<card>" and nothing else. In range: random ids (fast-check, seeded) always land in
// [0, shardCount) for shard counts from 1 to 65,536. Even: 100,000 ids of three realistic shapes
// spread over 256 shards within ±20% of the mean.

import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  fleetCardId,
  hash32,
  isFleetCardId,
  parseFleetCardId,
  shardKeyOf,
  shardOf,
  shardOfKey,
  type PlacedKind,
} from '../../actors/sharding/shard-key';
import { announceSeed, assertProperty } from './fast-check-seed';

const id_part = fc.stringMatching(/^[A-Za-z0-9._-]{1,64}$/);
const shard_count_arbitrary = fc.oneof(fc.constantFrom(1, 2, 64, 256, 65_536), fc.integer({ min: 1, max: 65_536 }));

describe('shard key: stability', () => {
  it('hash32 is FNV-1a 32 bit (published test vectors)', () => {
    assert.equal(hash32(''), 0x811c9dc5);
    assert.equal(hash32('a'), 0xe40c292c);
    assert.equal(hash32('foobar'), 0xbf9cf968);
  });

  it('shardOf gives the same shards it always gave', () => {
    const expected: readonly [PlacedKind, string, number, number, number][] = [
      // kind, id, hash32 of its shard key, shard of 256, shard of 64
      ['card', 'card-1', 145_209_797, 197, 5],
      ['card', 'card-000042', 4_077_295_388, 28, 28],
      ['card', '4111111111111111', 708_614_448, 48, 48],
      ['terminal', 'till-7', 193_596_202, 42, 42],
      ['merchant', 'bar-north', 2_889_983_348, 116, 52],
      // Hashed over UTF-16 code units, not UTF-8 bytes.
      ['card', 'ü-card', 1_409_832_248, 56, 56],
      // A fleet card, its account and its vehicle: all on the fleet's shard.
      ['card', 'acme~0042', 1_174_237_615, 175, 47],
      ['fleet_card', 'acme~0042', 1_174_237_615, 175, 47],
      ['fleet', 'acme', 1_174_237_615, 175, 47],
      ['vehicle', 'acme/truck-9', 1_174_237_615, 175, 47],
      ['program', 'fest-26', 2_223_876_154, 58, 58],
      ['issuance', 'box-7', 2_630_010_766, 142, 14],
      ['manager', 'shop/anna', 2_823_282_857, 169, 41],
    ];
    for (const [kind, id, hash, shard256, shard64] of expected) {
      assert.equal(hash32(shardKeyOf(kind, id)), hash, `hash32 of the shard key of ${kind} ${id}`);
      assert.equal(shardOf(kind, id, 256), shard256, `shardOf(${kind}, ${id}, 256)`);
      assert.equal(shardOf(kind, id, 64), shard64, `shardOf(${kind}, ${id}, 64)`);
      assert.equal(shardOf(kind, id, 1), 0, `shardOf(${kind}, ${id}, 1)`);
    }
  });
});

describe('shard key: every kind of entity', () => {
  before(() => announceSeed('shard-key'));

  it('each kind has its shard key', () => {
    // A Record over every kind: a kind added to the module without an example here does not compile.
    const examples: Readonly<Record<PlacedKind, readonly [id: string, shardKey: string][]>> = {
      card: [
        ['card-7', 'card-7'],
        ['acme~0042', 'acme'],
      ],
      fleet_card: [['acme~0042', 'acme']],
      holder: [['named-1', 'named-1']],
      fleet: [['acme', 'acme']],
      review: [['acme', 'acme']],
      vehicle: [
        ['acme/truck-9', 'acme'],
        // An odometer kept per card when the purchase named no vehicle.
        ['acme/card:acme~0042', 'acme'],
      ],
      terminal: [['till-7', 'till-7']],
      program: [['fest-26', 'fest-26']],
      issuance: [['box-7', 'box-7']],
      offline_batch: [['till-7/12', 'till-7']],
      price_list: [['platts-nwe', 'platts-nwe']],
      merchant: [['shop', 'shop']],
      manager: [['shop/anna', 'shop']],
      // A spent PSP reference beside the card it topped up.
      spent: [['card-7/k:psp:ref-1', 'card-7']],
      // A bank card's token is placed by itself: a purchase presenting the bank card knows only it.
      token: [
        [`h:${'ab'.repeat(32)}`, `h:${'ab'.repeat(32)}`],
        ['par:V0010013816180398153213464128', 'par:V0010013816180398153213464128'],
      ],
    };
    for (const [kind, cases] of Object.entries(examples) as [PlacedKind, (typeof examples)[PlacedKind]][]) {
      for (const [id, shardKey] of cases) {
        assert.equal(shardKeyOf(kind, id), shardKey, `shard key of ${kind} ${id}`);
        assert.equal(shardOf(kind, id, 256), shardOfKey(shardKey, 256), `shard of ${kind} ${id} is the shard of its key`);
      }
    }
  });

  it("fleet cards, their vehicles and their account land on the fleet's shard; managers on their merchant's", () => {
    assertProperty(
      fc.property(id_part, id_part, id_part, shard_count_arbitrary, (owner, cardNo, other, shardCount) => {
        const fleetShard = shardOf('fleet', owner, shardCount);
        const cardId = fleetCardId(owner, cardNo);
        assert.equal(shardOf('card', cardId, shardCount), fleetShard, `card ${cardId}`);
        assert.equal(shardOf('fleet_card', cardId, shardCount), fleetShard, `fleet card ${cardId}`);
        assert.equal(shardOf('review', owner, shardCount), fleetShard, `review queue of ${owner}`);
        assert.equal(shardOf('vehicle', `${owner}/${other}`, shardCount), fleetShard, `vehicle ${owner}/${other}`);
        assert.equal(shardOf('vehicle', `${owner}/card:${cardId}`, shardCount), fleetShard, `card odometer of ${cardId}`);
        assert.equal(shardOf('manager', `${owner}/${other}`, shardCount), shardOf('merchant', owner, shardCount), 'manager');
        assert.equal(shardOf('spent', `${owner}/k:psp:${other}`, shardCount), shardOf('card', owner, shardCount), 'spent key');
      }),
      1_000,
    );
  });

  it('a plain id (no "~") is its own shard key for every kind whose id is not compound', () => {
    const kinds: readonly PlacedKind[] = ['card', 'fleet_card', 'holder', 'fleet', 'review', 'terminal', 'program', 'issuance', 'merchant'];
    assertProperty(
      fc.property(id_part, fc.constantFrom(...kinds), (id, kind) => {
        assert.equal(shardKeyOf(kind, id), id);
      }),
      1_000,
    );
  });

  it('an id in the fleet card form that does not parse is its own shard key (the boundary refuses it)', () => {
    for (const id of ['a~b~c', '~1', 'a~', '~', `${'a'.repeat(65)}~1`, 'a~b c']) {
      assert.equal(parseFleetCardId(id), undefined, id);
      assert.equal(shardKeyOf('card', id), id, id);
    }
  });
});

describe('shard key: fleet card ids', () => {
  it('parses <fleet>~<card> and refuses anything else', () => {
    assert.deepEqual(parseFleetCardId('acme~0042'), { fleetId: 'acme', cardNo: '0042' });
    assert.equal(parseFleetCardId('acme'), undefined);
    assert.equal(parseFleetCardId('~1'), undefined);
    assert.equal(parseFleetCardId('a~'), undefined);
    assert.equal(parseFleetCardId('a~b~c'), undefined);
    assert.equal(parseFleetCardId(`${'a'.repeat(65)}~1`), undefined);
    assert.equal(parseFleetCardId(`acme~${'1'.repeat(65)}`), undefined);
    assert.equal(fleetCardId('acme', '7'), 'acme~7');
    assert.equal(isFleetCardId('acme~7'), true);
    assert.equal(isFleetCardId('card-7'), false);
  });

  it('round-trips every valid fleet and card number', () => {
    assertProperty(
      fc.property(id_part, id_part, (fleetId, cardNo) => {
        assert.deepEqual(parseFleetCardId(fleetCardId(fleetId, cardNo)), { fleetId, cardNo });
      }),
      1_000,
    );
  });
});

describe('shard key: range', () => {
  before(() => announceSeed('shard-key range'));

  it('hash32 is an unsigned 32-bit integer and shardOf is in [0, shardCount)', () => {
    assertProperty(
      fc.property(
        fc.oneof(fc.string({ maxLength: 64 }), fc.string({ unit: 'grapheme', maxLength: 64 })),
        shard_count_arbitrary,
        (id, shardCount) => {
          const hash = hash32(id);
          assert.ok(Number.isInteger(hash) && hash >= 0 && hash <= 0xffff_ffff, `hash32 ${hash}`);
          const shard = shardOf('card', id, shardCount);
          assert.ok(Number.isInteger(shard) && shard >= 0 && shard < shardCount, `shard ${shard} of ${shardCount}`);
          assert.equal(shardOf('card', id, shardCount), shard, 'shardOf is not repeatable');
        },
      ),
      1_000,
    );
  });
});

describe('shard key: spread', () => {
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
        const shard = shardOf('card', idOf(i), shard_count);
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
