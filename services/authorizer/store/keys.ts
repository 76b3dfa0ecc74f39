// The Redis key layout, documented once. Every key Tapline writes is built here.
//
//   tl:{s<shard>}:card:<cardId>        hash  v = version (integer), d = card state (JSON)
//   tl:{s<shard>}:term:<terminalId>    hash  v = version, d = terminal state (JSON)
//   tl:{s<shard>}:fleet:<fleetId>      hash  v, d = fleet account state (JSON)
//   tl:{s<shard>}:fcard:<fleetId>~<n>  hash  v, d = fleet card state; shard = the fleet's
//   tl:{s<shard>}:veh:<fleetId>/<id>   hash  v, d = last odometer reading of a fleet's vehicle
//   tl:{s<shard>}:review:<fleetId>     hash  v, d = the fleet's review queue of flagged transactions
//   tl:{s<shard>}:program:<programId>  hash  v = version, d = program configuration (JSON), on the shard of the program id
//   tl:{s<shard>}:price_list:<listId>  hash  v, d = a shared SPOT price list (JSON), on the shard of the list id
//   tl:{s<shard>}:holder:<cardId>      hash  v = version, d = a named card's holder (personal data, JSON); same shard as the card
//   tl:{s<shard>}:issuance:<id>        hash  v = version, d = bulk issuance record (JSON), on the shard of the issuance id
//   tl:{s<shard>}:refunded:<originalKey>  hash  v, d = what was refunded against a purchase / completion (JSON); card's shard
//   tl:{s<shard>}:manager:<merchant>/<id>  hash  v, d = a merchant manager's keyed PIN hash (JSON), on the merchant's shard
//   tl:{s<shard>}:spent:<card>/<key>   hash  v, d = a spent request key (PSP reference) of the card; card's shard, no TTL
//   tl:{s<shard>}:token:<token>        hash  v, d = the cards a bank card's token pays from, per program; the token's shard
//   tl:{s<shard>}:offline_batch:<terminal>/<n>  hash  v, d = an uploaded offline batch: digest, judged entries, results; terminal's shard
//   tl:{s<shard>}:offline_usage:<terminal>  hash  what each card's issuer-liable offline sales charged under the terminal's
//                                      current grant: "#<batch>" -> "<card> <minor> <card> <minor> ..." per accepted batch (set by
//                                      commit.lua in the batch's commit; summed by the node; deleted by the next grant), and
//                                      card -> minor units as builds before kept them; terminal's shard
//   tl:{s<shard>}:deny:v               string  the shard's denylist version (INCR by commit.lua with each listing change)
//   tl:{s<shard>}:deny:log             zset  the shard's last listing changes: score = version, member "<version> <card> <reason>"
//                                      ("" reason = removed), the oldest trimmed past TAPLINE_DENYLIST_LOG_PER_SHARD_MAX
//   tl:{s<shard>}:deny:cards           hash  card -> "<version> <reason>" for every card of the shard listed now (snapshots)
//   tl:{s<shard>}:deny:hist            hash  card -> "<version>:<reason>,..." its last listing transitions (liability of offline sales)
//   tl:{s<shard>}:tries:<merchant>/<manager>  hash  n = refused attempts in a row, u = locked until (ms); merchant's shard, TTL
//   tl:{s<shard>}:tries:cashier:<terminal>/<cashier>  hash  the same for a cashier's code at a terminal; terminal's shard, TTL
//   tl:{s<shard>}:epoch                string  fencing epoch of the shard (INCR by the taking node)
//   tl:{s<shard>}:outbox               stream  one entry per transaction / state change, field d = JSON
//   tl:{s<home>}:key:<requestKey>      string  the request's idempotency record (actors/state/idempotency.ts: the
//                                      answer given, compact; older records and tombstones are transaction
//                                      documents), for RETENTION seconds, on the request key's home shard
//                                      (actors/sharding/shard-key.ts homeShardOfRequestKey); or a key record:
//                                      the full tl:{s<shard>}:idem:<requestKey> key naming where the record is
//                                      (the request key's form is actors/request-keys.ts)
//   tl:{s<shard>}:idem:<requestKey>    string  the record, on the shard of the entity that answered it, when the
//                                      home shard is another slot of a Redis Cluster (its key: key record names
//                                      it), and records written before records moved to the home shard
//   tl:{s<shard>}:rev:<requestKey>     string  reversal claim: the id of the transaction that reversed
//                                      the original <requestKey> (the card's shard, like its record)
//   tl:{s<shard>}:fence                string  written with WAIT by the streamer: everything before it
//                                      on that primary is on the replicas (services/streamer)
//   tl:node:incarnation                counter  one value per node start; prefixes transaction ids
//   tl:{s<shard>}:lease                string  "<node id>|<epoch>" with a TTL: the node holding the shard
//   tl:{cluster}:members               zset  node id -> membership expiry (ms, Redis time)
//   tl:{cluster}:addr                  hash  node id -> advertised internal address (host:port)
//   tl:{approvals}:req:<id>            hash  a request held for four eyes (store/approvals.ts)
//   tl:{approvals}:pending             zset  id -> requested at (ms): the pending ones, oldest first
//   tl:{approvals}:outbox              stream  audit records of holding, approving and rejecting
//   tl:{settle}:...                    the reports service's settlement state (reports/settlement-store.ts),
//                                      with its own audit stream tl:{settle}:outbox
//   tl:{events}:outbox                 stream  audit records of notices and webhooks configuration (services/events)
//
// Every key but the incarnation counter carries a hash tag, and every key a commit writes carries
// the tag of one shard, {s<shard>}: on Redis Cluster a shard is one hash slot, and a commit script
// runs on one slot (docs/DECISIONS.md, "Keys scoped to one shard"). A request's record lives under
// its request key on the key's *home* shard, so a request key reused for an entity on another shard
// (a terminal transaction number reused for another card) is found with one key, by any entity. A
// Redis Cluster commit script cannot reach another slot: there the record stays on the entity's
// shard and the home shard holds a key record naming it, claimed first in a script on the home
// shard (key-claims.lua). Records written before this layout (a record on the entity's shard and a
// key record naming it) are read the same way: a value starting "tl:{" is a key record.

export interface ShardKeys {
  readonly epoch: string;
  readonly outbox: string;
}

const shard_keys_cache: ShardKeys[] = [];

/** Epoch and outbox keys of a shard (built once per shard; this runs for every commit entry). */
export function shardKeys(shard: number): ShardKeys {
  let keys = shard_keys_cache[shard];
  if (keys === undefined) {
    keys = { epoch: `tl:{s${shard}}:epoch`, outbox: `tl:{s${shard}}:outbox` };
    shard_keys_cache[shard] = keys;
  }
  return keys;
}

/** The lease of a shard: who holds it, at which epoch, until its TTL runs out (cluster.lua). */
export function shardLeaseKey(shard: number): string {
  return `tl:{s${shard}}:lease`;
}

export function cardKey(shard: number, cardId: string): string {
  return `tl:{s${shard}}:card:${cardId}`;
}

export function terminalKey(shard: number, terminalId: string): string {
  return `tl:{s${shard}}:term:${terminalId}`;
}

export function fleetKey(shard: number, fleetId: string): string {
  return `tl:{s${shard}}:fleet:${fleetId}`;
}

export function fleetCardKey(shard: number, cardId: string): string {
  return `tl:{s${shard}}:fcard:${cardId}`;
}

/** `vehicleId` is "<fleetId>/<vehicle or card:<cardId>>" (actors/fleet/actor.ts). */
export function vehicleKey(shard: number, vehicleId: string): string {
  return `tl:{s${shard}}:veh:${vehicleId}`;
}

export function reviewKey(shard: number, fleetId: string): string {
  return `tl:{s${shard}}:review:${fleetId}`;
}

/** Keys of the issue-4 entities (programs, card holders, issuance records). */
export function recordKey(
  shard: number,
  kind: 'program' | 'holder' | 'issuance' | 'refunded' | 'manager' | 'spent' | 'price_list' | 'token' | 'offline_batch',
  id: string,
): string {
  return `tl:{s${shard}}:${kind}:${id}`;
}

/** The per-card usage of a terminal's current offline grant (persistence.ts GrantUsageChange). */
export function grantUsageKey(shard: number, terminalId: string): string {
  return `tl:{s${shard}}:offline_usage:${terminalId}`;
}

/** One family of entity keys, for listings: its SCAN MATCH pattern and the exact parse of a key. */
export interface KeyFamily {
  /** A SCAN MATCH glob; it may match a little more than the family (ids may contain anything). */
  readonly match: string;
  /** The entity id of a key of this family; undefined for any other key. */
  idOf(key: string): string | undefined;
}

function keyFamily(segment: string): KeyFamily {
  const pattern = new RegExp(`^tl:\\{s[0-9]+\\}:${segment}:(.+)$`);
  return { match: `tl:{s*}:${segment}:*`, idOf: (key) => pattern.exec(key)?.[1] };
}

export const card_keys = keyFamily('card');
export const fleet_card_keys = keyFamily('fcard');
export const fleet_keys = keyFamily('fleet');
export const terminal_keys = keyFamily('term');

/** Attempts at a guessable credential ("<merchant>/<manager>"), on its owner's shard (store/attempts.ts). */
export function attemptsKey(shard: number, subject: string): string {
  return `tl:{s${shard}}:tries:${subject}`;
}

/** A request key's record on the shard of the entity that answered it (Redis Cluster, home shard in another slot). */
export function idempotencyKey(shard: number, key: string): string {
  return `tl:{s${shard}}:idem:${key}`;
}

/** On the request key's home shard: its record, or the idempotencyKey() of the record that answers it. */
export function requestKeyRecordKey(homeShard: number, key: string): string {
  return `tl:{s${homeShard}}:key:${key}`;
}

export function reversalClaimKey(shard: number, originalKey: string): string {
  return `tl:{s${shard}}:rev:${originalKey}`;
}

/** Written with WAIT to learn that everything before it on the shard's primary is replicated. */
export function replicationFenceKey(shard: number): string {
  return `tl:{s${shard}}:fence`;
}

export const incarnation_key = 'tl:node:incarnation';

/** The prefix of a shard's denylist keys (deny:v, deny:log, deny:cards, deny:hist); commit.lua appends the rest. */
export function denylistPrefix(shard: number): string {
  return `tl:{s${shard}}:deny:`;
}

/** Membership keys, in one slot: the heartbeat script writes both. */
export const members_key = 'tl:{cluster}:members';
export const member_addresses_key = 'tl:{cluster}:addr';

/** A request held for four eyes, the index of pending ones, and the audit stream of both. */
export function approvalKey(id: string): string {
  return `tl:{approvals}:req:${id}`;
}
export const approvals_pending_key = 'tl:{approvals}:pending';
export const approvals_outbox_key = 'tl:{approvals}:outbox';
/** The settlement audit stream (written by the reports service in the same script as each change). */
export const settlement_outbox_key = 'tl:{settle}:outbox';
/** The notices and webhooks configuration audit stream (services/events/store.ts, same script as each change). */
export const events_outbox_key = 'tl:{events}:outbox';

/**
 * Outbox streams besides the shards': audit records of state that lives outside entity shards,
 * each written atomically with its change under its own hash tag. The streamer reads them after
 * the shard streams (as pseudo-shards shard_count, shard_count + 1, ...).
 */
export const audit_outbox_keys = [approvals_outbox_key, settlement_outbox_key, events_outbox_key] as const;
