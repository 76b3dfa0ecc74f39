// The ClickHouse schema as numbered migrations, applied in order by migrate.ts and recorded in
// tapline_schema_migrations. A released migration is never edited: change the schema by adding
// one. Every statement is idempotent (IF NOT EXISTS) so a migration interrupted half-way, or run
// by two streamers at once, is simply run again.
//
// The SQL stays in the subset that runs on ClickHouse 18.16 (Debian) and on current releases:
// DateTime (seconds) plus a UInt64 of milliseconds instead of DateTime64, no TTL, no
// LowCardinality, no window functions, no query parameters.
//
// Deduplication. Delivery from Redis is at-least-once: a streamer that crashes after an INSERT
// and before its XACK inserts the same rows again. Each table is a ReplacingMergeTree whose
// sorting key contains the unique id, so background merges eventually keep one row per id; until
// then, exact queries read the *_dedup views, which use FINAL (merge on read). Duplicates are
// identical rows (the same outbox document), so which copy survives does not matter.
//
// transactions is ORDER BY (card, id), not (id): a transaction's card never changes, so
// (card, id) is exactly as unique as id and deduplicates the same rows, while card statements and
// per-card reconciliation (the commonest exact queries) read one contiguous range. Partitions are
// by month of `at`, which is fixed per transaction, so copies of a row always share a partition
// (ReplacingMergeTree only deduplicates within a partition).

import { identifier } from '../sql';

export interface Migration {
  readonly version: number;
  readonly name: string;
  /** The statements, given the (validated) database name for qualified references. */
  readonly statements: (database: string) => readonly string[];
}

export const migrations_table = 'tapline_schema_migrations';

export const migrations: readonly Migration[] = [
  {
    version: 1,
    name: 'transactions',
    statements: () => [
      `CREATE TABLE IF NOT EXISTS transactions (
        id String,
        kind String,
        outcome String,
        reason String,
        rule String,
        card String,
        program String,
        terminal String,
        merchant String,
        amount Int64,
        requested Int64,
        currency String,
        balance_after Int64,
        idempotency_key String,
        original String,
        reverse String,
        source String,
        operator String,
        fingerprint String,
        at DateTime,
        at_ms UInt64,
        shard UInt32,
        stream_id String
      ) ENGINE = ReplacingMergeTree()
      PARTITION BY toYYYYMM(at)
      ORDER BY (card, id)`,
    ],
  },
  {
    version: 2,
    name: 'lifecycle_events',
    // event_id is "<shard>:<stream entry id>": lifecycle documents carry no id of their own, and
    // a stream entry id is unique within its stream for the stream's life.
    statements: () => [
      `CREATE TABLE IF NOT EXISTS lifecycle_events (
        event_id String,
        type String,
        card String,
        program String,
        currency String,
        status String,
        amount Int64,
        terminal String,
        merchant String,
        enabled UInt8,
        operator String,
        reason String,
        at DateTime,
        at_ms UInt64,
        shard UInt32,
        stream_id String
      ) ENGINE = ReplacingMergeTree()
      PARTITION BY toYYYYMM(at)
      ORDER BY (event_id)`,
    ],
  },
  {
    version: 3,
    name: 'outbox_rejects',
    // Documents the streamer cannot read (unknown type, missing field) are kept verbatim here
    // rather than dropped or left to block their stream: nothing is lost, and they can be replayed
    // once the streamer understands them.
    statements: () => [
      `CREATE TABLE IF NOT EXISTS outbox_rejects (
        event_id String,
        shard UInt32,
        stream_id String,
        document String,
        error String
      ) ENGINE = ReplacingMergeTree()
      ORDER BY (event_id)`,
    ],
  },
  {
    version: 4,
    name: 'dedup_views',
    // The views name their table with its database: on old ClickHouse an unqualified name in a
    // view is resolved against the session's database at query time, not the view's.
    statements: (database) => [
      `CREATE VIEW IF NOT EXISTS transactions_dedup AS SELECT * FROM ${identifier(database)}.transactions FINAL`,
      `CREATE VIEW IF NOT EXISTS lifecycle_events_dedup AS SELECT * FROM ${identifier(database)}.lifecycle_events FINAL`,
    ],
  },
];
