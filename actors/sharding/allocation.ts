// Which node owns which virtual shard: rendezvous (highest random weight) hashing over the live
// members. Every node computes the same map from the same member set, so no leader is needed,
// and when a member joins or leaves only the shards it wins or held move (about 1/N of them).
// Which shard an entity lives on is the other half of "who owns id X", answered by shard-key.ts:
// the owner of X is ownerOf(shardOf(kind, X, shard_count), members).
// Pure: no I/O, no clock, no randomness.

import { hash32 } from './shard-key';

/** A 32-bit mix (murmur3's finalizer) so that weights of near-identical inputs are unrelated. */
function mix32(value: number): number {
  let h = value >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The weight of a member for a shard; ties (practically impossible) go to the smaller id. */
export function weightOf(memberHash: number, shard: number): number {
  return mix32(memberHash ^ mix32(shard + 0x9e3779b9));
}

/** The owner of one shard among `members` (node ids); undefined when there are none. */
export function ownerOf(shard: number, members: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestWeight = -1;
  for (const member of members) {
    const weight = weightOf(hash32(member), shard);
    if (weight > bestWeight || (weight === bestWeight && best !== undefined && member < best)) {
      best = member;
      bestWeight = weight;
    }
  }
  return best;
}

/** The owner of every shard, index = shard; entries are undefined when there are no members. */
export function placementOf(shardCount: number, members: readonly string[]): (string | undefined)[] {
  const sorted = [...new Set(members)].sort();
  const hashes = sorted.map((member) => hash32(member));
  const owners: (string | undefined)[] = new Array<string | undefined>(shardCount);
  for (let shard = 0; shard < shardCount; shard++) {
    let best = -1;
    let bestWeight = -1;
    for (let i = 0; i < sorted.length; i++) {
      const weight = weightOf(hashes[i] as number, shard);
      if (weight > bestWeight) {
        best = i;
        bestWeight = weight;
      }
    }
    owners[shard] = best < 0 ? undefined : sorted[best];
  }
  return owners;
}

/** What a node must do to reach the placement: shards to take and shards to hand off. */
export interface PlacementChange {
  readonly take: number[];
  readonly release: number[];
}

export function changeFor(self: string, owners: readonly (string | undefined)[], held: (shard: number) => boolean): PlacementChange {
  const take: number[] = [];
  const release: number[] = [];
  for (let shard = 0; shard < owners.length; shard++) {
    const mine = owners[shard] === self;
    if (mine && !held(shard)) take.push(shard);
    else if (!mine && held(shard)) release.push(shard);
  }
  return { take, release };
}
