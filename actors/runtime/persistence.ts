// The persistence port entities use. Entities describe what to write in domain terms (which
// entity, which version, which idempotency key); the authorizer's Redis committer maps that onto
// keys and a script (services/authorizer/store). Entities never see Redis.

import type { DenylistChange } from '../offline/denylist';

export type EntityKind =
  | 'card'
  | 'terminal'
  | 'program'
  | 'holder'
  | 'issuance'
  | 'refunded'
  // A spent request key (a PSP reference) beside its card: "<card id>/<request key>", never expires.
  | 'spent'
  // A bank card's token: which closed-loop card it pays from, per program (actors/card/tokens.ts).
  | 'token'
  | 'manager'
  // An offline batch a terminal uploaded: "<terminal>/<batch number>", on the terminal's shard.
  | 'offline_batch'
  // Fleet accounts, their cards and their vehicles' odometers: all on the fleet's shard.
  | 'fleet'
  | 'fleet_card'
  | 'vehicle'
  | 'review'
  // A shared wholesale (SPOT) price list many fleet accounts follow: on the shard of its own id.
  | 'price_list';

export interface EntityId {
  readonly kind: EntityKind;
  readonly id: string;
}

export interface EntityWrite {
  readonly entity: EntityId;
  /** Version the entity must have (0 = must not exist yet). */
  readonly expectVersion: number;
  /** New state as JSON; undefined = only check the version (the decision depended on it). */
  readonly data: string | undefined;
  /** The entity's shard when it is not the entry's (a card replacement writes the new card). */
  readonly shard?: number;
}

export interface Claim {
  /** idempotency: a tombstone for a request key; reversal: marks an original as reversed. */
  readonly kind: 'idempotency' | 'reversal';
  readonly key: string;
  readonly value: string;
}

export type CommitResult =
  | { readonly status: 'committed' }
  | { readonly status: 'duplicate'; readonly existing: string }
  /** The request key is taken by a request of an entity on another shard whose record is not there (yet). */
  | { readonly status: 'reused' }
  | { readonly status: 'conflict' }
  | { readonly status: 'fenced' }
  /** The request's deadline passed before the entry was sent: nothing was written. */
  | { readonly status: 'expired' }
  | { readonly status: 'failed'; readonly error: Error };

export interface CommitEntry {
  readonly shard: number;
  readonly writes: readonly EntityWrite[];
  /** The request's own idempotency record; if the key exists the entry settles as duplicate. */
  readonly idempotency?: { readonly key: string; readonly value: string };
  /** Keys that must not exist yet; if one does the entry settles as conflict. */
  readonly claims?: readonly Claim[];
  /** The record streamed to reporting (JSON). */
  readonly outbox?: string;
  /** More documents, each to its shard's outbox (e.g. the new card's side of a replacement). */
  readonly extraOutbox?: readonly { readonly shard: number; readonly document: string }[];
  /**
   * Cluster (docs/CLUSTER.md, "Writes on another node's shard"): fence the entry by its own shard
   * only. Every write on another shard must create its entity (expectVersion 0): that version
   * check, inside the same script, is what keeps the other shard's owner and this writer apart.
   */
  readonly fenceOwnShardOnly?: boolean;
  /**
   * The request's deadline (epoch ms): an entry still waiting for its batch when it passes is not
   * sent (settled `expired`, nothing written): its caller has given up and will retry with the key.
   */
  readonly deadlineMs?: number | undefined;
  /**
   * A card's denylist listing changed with this entry (actors/offline/denylist.ts): the commit
   * increments the entry's shard's denylist version and records the change, atomically with it.
   */
  readonly denylist?: DenylistChange | undefined;
  /** A terminal's per-card usage of its offline grant changed with this entry (on the entry's shard). */
  readonly grantUsage?: GrantUsageChange | undefined;
  /** Called exactly once, in submission order relative to other entries. */
  settle(result: CommitResult): void;
}

/**
 * What an entry does to a terminal's per-card usage of its offline grant (actors/offline/grant.ts),
 * kept beside the terminal rather than in the terminal's state: a grant counts up to thousands of
 * cards, and each upload then writes the cards of its batch only, not all of them (the terminal's
 * state is written several times per batch). The usage is deleted first when `reset` (a new
 * grant); then `add` is stored as one field of its own, under the accepted batch `batch` (the
 * layout is services/authorizer/store/keys.ts offline_usage): one write per upload, not one
 * read and one write per card.
 */
export interface GrantUsageChange {
  readonly terminalId: string;
  readonly reset: boolean;
  /** The accepted batch whose sales `add` counts (each batch is accepted once); unused when `add` is empty. */
  readonly batch: number;
  /** Card id -> minor units to add (positive). */
  readonly add: ReadonlyMap<string, number>;
}

export interface StoredRecord {
  /** 0 when the entity does not exist. */
  readonly version: number;
  readonly data: string | undefined;
}

export interface Persistence {
  /** Queues an entry for group commit; false when the commit queue is full. */
  submit(entry: CommitEntry): boolean;
  /**
   * Reads an entity. With `afterPendingWrites` the read goes to Redis only after every entry
   * submitted before it (an entity with its own commits in flight then reads its own writes);
   * without, it is read at once. Either way versions keep a stale read safe: a decision made on it
   * conflicts and is decided again.
   */
  loadEntity(shard: number, entity: EntityId, options?: { readonly afterPendingWrites?: boolean }): Promise<StoredRecord>;
  /**
   * The stored answer of a request key, looked up from an entity of `shard`: its own record, or the
   * record of whichever entity answered the key (another card's transaction is found too).
   */
  loadIdempotencyRecord(shard: number, key: string): Promise<string | undefined>;
  /** Whether the original `originalKey` of an entity of `shard` was reversed (by that entity). */
  loadReversalClaim(shard: number, originalKey: string): Promise<string | undefined>;
  /**
   * False on Redis Cluster: an entry may then write on its own shard only (CommitEntry.writes with
   * another `shard`, extraOutbox to another shard), so a decision that needs it is refused first.
   */
  readonly crossShardCommits: boolean;
  /**
   * A terminal's per-card usage of its current offline grant (GrantUsageChange), empty when it has
   * none; `afterPendingWrites` as for loadEntity.
   */
  loadGrantUsage(shard: number, terminalId: string, options?: { readonly afterPendingWrites?: boolean }): Promise<Map<string, number>>;
  /** A card's listing history on its shard's denylist (actors/offline/denylist.ts parses it). */
  loadDenylistHistory(shard: number, cardId: string, options?: { readonly afterPendingWrites?: boolean }): Promise<string | undefined>;
}
