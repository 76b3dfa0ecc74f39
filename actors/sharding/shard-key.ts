// Which virtual shard an entity lives on: the only place that derives it. Every node, every
// version and every process (region, router, committer, reports, tests, load driver) places an id
// through this module, so they cannot disagree.
//
// "Who owns card X" is answered in two steps, each by one module:
//   1. Its shard, here: a stable hash of the entity's shard key, modulo the fixed shard count
//      (TAPLINE_SHARD_COUNT). It never changes for an id, whatever the cluster looks like.
//   2. The node that owns that shard now: actors/sharding/allocation.ts (rendezvous hashing over
//      the live members, computed alike by every node), made real by the coordinator taking the
//      shard's fencing epoch in Redis (services/authorizer/cluster/coordinator.ts). It changes
//      when members join or leave; a node acting on a stale answer is refused by the epoch check
//      inside the commit script.
// So the owner of card X is ownerOf(shardOf('card', X, shard_count), members).
//
// Shard keys, per kind of entity (the part of its id that places it):
//   card, fleet_card   the card id; for a fleet card "<fleet>~<no>" the fleet id, so a fleet card
//                      lives on its account's shard and both commit in one atomic entry
//   holder             a named card's holder record: its card's id (the card's shard)
//   fleet, review      a fleet account and its review queue: the fleet id
//   vehicle            "<fleet>/<vehicle>": the fleet id
//   terminal, program, issuance, price_list   the id itself (a shared SPOT price list: its list id)
//   merchant           a merchant's records: the merchant id
//   manager            "<merchant>/<manager>": the merchant id
//   offline_batch      "<terminal>/<batch number>": the terminal id (a batch lives beside its terminal)
//   spent              "<card>/<request key>": the card's shard key (a spent PSP reference lives
//                      beside the card it topped up)
//   token              a bank card's token ("par:..." or "h:..."): the token itself (a purchase
//                      presenting a bank card knows only the token)
// A purchase's refund ledger (kind "refunded", keyed by the purchase's idempotency key) is written
// by its card on the card's shard (a fleet card's: its fleet's shard); its own id does not name
// that card, so it is not placed here.
//
// A request key (actors/request-keys.ts) is answered on the shard of its entity, but also has a
// *home* shard of its own, the hash of the whole key: there the store records which entity's shard
// answered it, so the same key sent for an entity on another shard is caught (a terminal
// transaction number reused for another card). The whole key, not its terminal: a busy terminal's
// keys spread over every shard instead of weighing on its own.
//
// "~" is outside the charset of every other id ([A-Za-z0-9._-], checked at the gRPC boundary), so
// no plain card, terminal or fleet id can be mistaken for a fleet card (docs/DECISIONS.md); "/"
// only joins the parts of vehicle and manager ids, which are built by the code, never received.
//
// Pure: no I/O, no clock, no randomness. Changing anything here moves entities to other shards on a
// live deployment, so test/unit/shard-key.test.ts pins the shards of fixed ids.

import type { EntityKind } from '../runtime/persistence';

/** Every kind of entity whose id names its shard: the persisted kinds (less the refund ledger) and merchants. */
export type PlacedKind = Exclude<EntityKind, 'refunded'> | 'merchant';

/** FNV-1a, 32 bit, over UTF-16 code units: fast, stable, well spread for short ids. */
export function hash32(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** The shard of a shard key (a routing key is one). */
export function shardOfKey(shardKey: string, shardCount: number): number {
  return hash32(shardKey) % shardCount;
}

/** The shard an entity lives on. */
export function shardOf(kind: PlacedKind, id: string, shardCount: number): number {
  return shardOfKey(shardKeyOf(kind, id), shardCount);
}

/** The home shard of a request key: where the store records which shard answered it (see above). */
export function homeShardOfRequestKey(requestKey: string, shardCount: number): number {
  return shardOfKey(requestKey, shardCount);
}

/** The shard key of an entity: the part of its id that places it (see the table above). */
export function shardKeyOf(kind: PlacedKind, id: string): string {
  switch (kind) {
    case 'card':
    case 'fleet_card':
    case 'holder':
      return parseFleetCardId(id)?.fleetId ?? id;
    case 'vehicle':
    case 'manager':
    case 'offline_batch':
      return ownerPartOf(id);
    case 'spent':
      return shardKeyOf('card', ownerPartOf(id));
    case 'fleet':
    case 'review':
    case 'terminal':
    case 'program':
    case 'issuance':
    case 'price_list':
    case 'merchant':
    case 'token':
      return id;
  }
}

/** "<owner>/<rest>" -> owner: the fleet of a vehicle, the merchant of a manager. */
function ownerPartOf(compoundId: string): string {
  const at = compoundId.indexOf('/');
  return at < 0 ? compoundId : compoundId.slice(0, at);
}

// ---- fleet card ids ---------------------------------------------------------------------------
// A fleet card id embeds its account, like a fleet PAN embeds the customer number:
// "<fleetId>~<cardNo>", each part 1-64 characters of [A-Za-z0-9._-].

export const fleet_card_separator = '~';

const fleet_card_part_pattern = /^[A-Za-z0-9._-]{1,64}$/;

export interface FleetCardId {
  readonly fleetId: string;
  readonly cardNo: string;
}

/** The fleet and card number of a fleet card id; undefined for any other id. */
export function parseFleetCardId(cardId: string): FleetCardId | undefined {
  const at = cardId.indexOf(fleet_card_separator);
  if (at < 0) return undefined;
  const fleetId = cardId.slice(0, at);
  const cardNo = cardId.slice(at + 1);
  if (!fleet_card_part_pattern.test(fleetId) || !fleet_card_part_pattern.test(cardNo)) return undefined;
  return { fleetId, cardNo };
}

/** True for an id in the fleet card form (whether or not its parts are valid: the boundary checks those). */
export function isFleetCardId(cardId: string): boolean {
  return cardId.includes(fleet_card_separator);
}

export function fleetCardId(fleetId: string, cardNo: string): string {
  return `${fleetId}${fleet_card_separator}${cardNo}`;
}
