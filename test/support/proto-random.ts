// Seeded random protobuf messages of any type, built from its descriptor (so a field added to a
// .proto file is covered without editing a test), and byte-level mutations of encoded messages.
// Values lean towards what a handler accepts (ids from a pool of entities that exist, the
// currency they hold, small positive amounts, defined enum values) so that a fair share of the
// messages passes validation and reaches the domain; the rest are extremes (empty, over-long,
// non-ASCII, negative, int64 max, undefined enum values).

import { ScalarType, create, toBinary, type DescField, type DescMessage } from '@bufbuild/protobuf';

/** mulberry32: a small, fast, seeded 32-bit generator; the same seed gives the same sequence. */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** A uniform 32-bit unsigned integer. */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** An integer in [0, bound). */
  below(bound: number): number {
    return Math.floor((this.next() / 2 ** 32) * bound);
  }

  chance(probability: number): boolean {
    return this.next() / 2 ** 32 < probability;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('assertion: pick from an empty list');
    return items[this.below(items.length)] as T;
  }

  bytes(length: number): Buffer {
    const bytes = Buffer.alloc(length);
    for (let i = 0; i < length; i++) bytes[i] = this.below(256);
    return bytes;
  }
}

/** Ids of entities that exist, so generated requests can name them. */
export interface EntityPool {
  readonly cards: readonly string[];
  readonly terminals: readonly string[];
  readonly merchants: readonly string[];
  readonly programs: readonly string[];
  readonly fleets: readonly string[];
  readonly currency: string;
}

const id_chars = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-';

function randomId(rng: Rng): string {
  let id = '';
  const length = 1 + rng.below(12);
  for (let i = 0; i < length; i++) id += id_chars[rng.below(id_chars.length)];
  return id;
}

/** Strings a handler should refuse or at least survive. */
const odd_strings = [
  '',
  ' ',
  'a:b',
  'x'.repeat(65),
  'x'.repeat(300),
  'é',
  '\u0000',
  '{"card":"c"}',
  '~',
  'a~b',
  '../..',
  '%s%n',
  '9'.repeat(40),
];

/** The pool a field's name points at, if any (card_id, original_card_id, terminal_id, ...). */
function poolOf(name: string, pool: EntityPool): readonly string[] | undefined {
  if (name.endsWith('card_id') || name === 'replacement_id') return pool.cards;
  if (name.endsWith('terminal_id')) return pool.terminals;
  if (name.endsWith('merchant_id')) return pool.merchants;
  if (name.endsWith('program_id')) return pool.programs;
  if (name.endsWith('fleet_id')) return pool.fleets;
  return undefined;
}

function randomString(field: DescField, rng: Rng, pool: EntityPool): string {
  const roll = rng.below(10);
  if (roll === 0) return rng.pick(odd_strings);
  if (field.name === 'currency') return roll < 8 ? pool.currency : rng.pick(['USD', 'XXX', 'eur', 'EURO']);
  const known = poolOf(field.name, pool);
  if (known !== undefined && known.length > 0 && roll < 8) return rng.pick(known);
  if (field.name === 'pin' || field.name.endsWith('_pin')) return roll < 5 ? '' : String(1000 + rng.below(9000));
  return randomId(rng);
}

const int64_extremes = [0n, -1n, 1n, 9_223_372_036_854_775_807n, -9_223_372_036_854_775_808n, 1_000_000_000_000n, 1_000_000_000_001n];

function randomInteger(scalar: ScalarType, rng: Rng): number | bigint {
  const unsigned =
    scalar === ScalarType.UINT32 || scalar === ScalarType.FIXED32 || scalar === ScalarType.UINT64 || scalar === ScalarType.FIXED64;
  const wide =
    scalar === ScalarType.INT64 ||
    scalar === ScalarType.UINT64 ||
    scalar === ScalarType.SINT64 ||
    scalar === ScalarType.FIXED64 ||
    scalar === ScalarType.SFIXED64;
  let value: bigint = rng.chance(0.8) ? BigInt(1 + rng.below(5_000)) : rng.pick(int64_extremes);
  if (unsigned && value < 0n) value = -value;
  if (!wide) {
    const bound = unsigned ? 0xffff_ffffn : 0x7fff_ffffn;
    if (value > bound) value = bound;
    if (value < -0x8000_0000n) value = -0x8000_0000n;
    return Number(value);
  }
  if (unsigned && value > 0xffff_ffff_ffff_ffffn) value = 0xffff_ffff_ffff_ffffn;
  return value;
}

function randomScalar(field: DescField, scalar: ScalarType, rng: Rng, pool: EntityPool): unknown {
  switch (scalar) {
    case ScalarType.STRING:
      return randomString(field, rng, pool);
    case ScalarType.BYTES:
      return rng.bytes(rng.below(16));
    case ScalarType.BOOL:
      return rng.chance(0.5);
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return rng.chance(0.9) ? rng.below(1_000) / 10 : rng.pick([Number.NaN, -1, 1e300]);
    default:
      return randomInteger(scalar, rng);
  }
}

function randomEnum(field: DescField & { enum: { values: readonly { number: number }[] } }, rng: Rng): number {
  if (rng.chance(0.9)) return rng.pick(field.enum.values).number;
  return rng.pick([-1, 99, 2 ** 31 - 1]);
}

/** Messages nest at most this deep (a request type that contains itself stays finite). */
const depth_max = 4;

function singleValue(field: DescField, rng: Rng, pool: EntityPool, depth: number): unknown {
  switch (field.fieldKind) {
    case 'scalar':
      return randomScalar(field, field.scalar, rng, pool);
    case 'enum':
      return randomEnum(field, rng);
    case 'message':
      return randomMessage(field.message, rng, pool, depth + 1);
    default:
      throw new Error(`assertion: ${field.fieldKind} is not a single value`);
  }
}

function fieldValue(field: DescField, rng: Rng, pool: EntityPool, depth: number): unknown {
  if (field.fieldKind === 'list') {
    const length = depth >= depth_max ? 0 : rng.below(4);
    return Array.from({ length }, () => {
      if (field.listKind === 'scalar') return randomScalar(field, field.scalar, rng, pool);
      if (field.listKind === 'enum') return randomEnum(field, rng);
      return randomMessage(field.message, rng, pool, depth + 1);
    });
  }
  if (field.fieldKind === 'map') {
    const entries: Record<string, unknown> = {};
    const count = depth >= depth_max ? 0 : rng.below(3);
    for (let i = 0; i < count; i++) {
      const key = field.mapKey === ScalarType.STRING ? randomId(rng) : String(rng.below(100));
      if (field.mapKind === 'scalar') entries[key] = randomScalar(field, field.scalar, rng, pool);
      else if (field.mapKind === 'enum') entries[key] = randomEnum(field, rng);
      else entries[key] = randomMessage(field.message, rng, pool, depth + 1);
    }
    return entries;
  }
  return singleValue(field, rng, pool, depth);
}

/** A random message of `desc` (a bufbuild message object, ready for toBinary). */
export function randomMessage(desc: DescMessage, rng: Rng, pool: EntityPool, depth = 0): ReturnType<typeof create> {
  const init: Record<string, unknown> = {};
  for (const member of desc.members) {
    if (member.kind === 'oneof') {
      if (rng.chance(0.2)) continue;
      const field = rng.pick(member.fields);
      if (field.fieldKind === 'message' && depth >= depth_max) continue;
      init[member.localName] = { case: field.localName, value: singleValue(field, rng, pool, depth) };
      continue;
    }
    if (member.fieldKind === 'message' && (depth >= depth_max || rng.chance(0.25))) continue;
    if (rng.chance(0.1)) continue;
    init[member.localName] = fieldValue(member, rng, pool, depth);
  }
  return create(desc, init);
}

/** A random message of `desc`, encoded. */
export function randomMessageBytes(desc: DescMessage, rng: Rng, pool: EntityPool): Buffer {
  return Buffer.from(toBinary(desc, randomMessage(desc, rng, pool)));
}

/** One byte-level change of an encoded message: the kinds of damage a broken client or a fuzzer makes. */
export function mutate(bytes: Buffer, rng: Rng): Buffer {
  if (bytes.length === 0) return rng.bytes(1 + rng.below(8));
  const at = rng.below(bytes.length);
  switch (rng.below(8)) {
    case 0: {
      const copy = Buffer.from(bytes);
      copy[at] = (copy[at] as number) ^ (1 << rng.below(8));
      return copy;
    }
    case 1: {
      const copy = Buffer.from(bytes);
      copy[at] = rng.below(256);
      return copy;
    }
    case 2:
      return bytes.subarray(0, at);
    case 3:
      return Buffer.concat([bytes.subarray(0, at), bytes.subarray(Math.min(bytes.length, at + 1 + rng.below(4)))]);
    case 4:
      return Buffer.concat([bytes.subarray(0, at), rng.bytes(1 + rng.below(6)), bytes.subarray(at)]);
    case 5: {
      const end = Math.min(bytes.length, at + 1 + rng.below(16));
      return Buffer.concat([bytes.subarray(0, end), bytes.subarray(at, end), bytes.subarray(end)]);
    }
    case 6:
      // A length or varint byte pushed to its extreme.
      return Buffer.concat([bytes.subarray(0, at), Buffer.from([rng.pick([0x00, 0x7f, 0x80, 0xff])]), bytes.subarray(at + 1)]);
    default:
      return Buffer.concat([bytes, rng.bytes(1 + rng.below(6))]);
  }
}
