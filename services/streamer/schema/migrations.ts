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

/**
 * Adds a column unless the table has it. ClickHouse 18.16 has no `ADD COLUMN IF NOT EXISTS`, so
 * the runner asks system.columns first (and, if two streamers race, accepts "already exists" when
 * the column is then present). `definition` is the type and DEFAULT, written here, never input.
 */
export interface AddColumn {
  readonly add_column: {
    readonly table: string;
    readonly column: string;
    readonly definition: string;
    /** On a ClickHouse cluster (cluster-ddl.ts): the cluster the ALTER runs on. */
    readonly on_cluster?: string;
  };
}

/**
 * A statement that copies existing rows (INSERT … SELECT): on a large table it runs far longer than
 * DDL, so the runner gives it `backfill_timeout_ms` instead of the per-statement timeout. Running it
 * twice only inserts duplicates, which the ReplacingMergeTree target collapses.
 */
export interface Backfill {
  readonly backfill: string;
}

/** A backfill may take this long (a year of transactions on a small server). */
export const backfill_timeout_ms = 3_600_000;

export type Statement = string | AddColumn | Backfill;

export interface Migration {
  readonly version: number;
  readonly name: string;
  /** The statements, given the (validated) database name for qualified references. */
  readonly statements: (database: string) => readonly Statement[];
}

/** The ALTER an AddColumn runs (after its existence check). */
export function addColumnSql(statement: AddColumn): string {
  const { table, column, definition, on_cluster } = statement.add_column;
  const onCluster = on_cluster === undefined ? '' : ` ON CLUSTER ${identifier(on_cluster)}`;
  return `ALTER TABLE ${identifier(table)}${onCluster} ADD COLUMN ${identifier(column)} ${definition}`;
}

const add = (table: string, column: string, definition: string): AddColumn => ({ add_column: { table, column, definition } });

// The contract's optional transaction fields (docs/OUTBOX.md) with the same defaults the document
// has, so rows written before migration 5 read as the contract says: balance_delta derived from
// the v1 kind, pump and invoiced equal to amount, everything else zero or empty.
const v1_balance_delta = `toInt64(multiIf(outcome = 'approved' AND kind = 'purchase', -amount, outcome = 'approved' AND kind IN ('top_up', 'reverse'), amount, 0))`;
const transaction_columns: readonly (readonly [string, string])[] = [
  ['balance_delta', `Int64 DEFAULT ${v1_balance_delta}`],
  ['held_delta', 'Int64 DEFAULT 0'],
  ['deposit_delta', 'Int64 DEFAULT 0'],
  ['payout', 'Int64 DEFAULT 0'],
  ['hold', "String DEFAULT ''"],
  ['odometer', 'Int64 DEFAULT 0'],
  ['driver', "String DEFAULT ''"],
  ['vehicle', "String DEFAULT ''"],
  ['fleet', "String DEFAULT ''"],
  ['pump', 'Int64 DEFAULT amount'],
  ['invoiced', 'Int64 DEFAULT amount'],
  ['discount', 'Int64 DEFAULT 0'],
  ['points_earned', 'Int64 DEFAULT 0'],
  ['points_redeemed', 'Int64 DEFAULT 0'],
  ['flags', 'Array(String) DEFAULT emptyArrayString()'],
  ['offline_at', 'UInt64 DEFAULT 0'],
  ['account_balance_after', 'Int64 DEFAULT 0'],
  ['line_count', 'UInt32 DEFAULT 0'],
];
// The lifecycle and audit documents' fields beyond v1 (card_replaced, card_pin_changed,
// fleet_account_changed, operator_action and the new card_issued fields).
const lifecycle_columns: readonly (readonly [string, string])[] = [
  ['replacement', "String DEFAULT ''"],
  ['deposit', 'Int64 DEFAULT 0'],
  ['named', 'UInt8 DEFAULT 0'],
  ['expires_at', 'UInt64 DEFAULT 0'],
  ['issuance', "String DEFAULT ''"],
  ['fleet', "String DEFAULT ''"],
  ['previous', "String DEFAULT ''"],
  ['event', "String DEFAULT ''"],
  ['action', "String DEFAULT ''"],
  ['subject', "String DEFAULT ''"],
  ['detail', "String DEFAULT ''"],
];

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
  {
    version: 5,
    name: 'contract_columns',
    // Old rows get the DEFAULT expressions on read; new rows carry every field explicitly.
    statements: () => [
      ...transaction_columns.map(([column, definition]) => add('transactions', column, definition)),
      ...lifecycle_columns.map(([column, definition]) => add('lifecycle_events', column, definition)),
    ],
  },
  {
    version: 6,
    name: 'transaction_lines',
    // One row per line item, deduplicated by (id, line_no) like its transaction; card, fleet,
    // vehicle, kind and outcome are copied from the transaction so invoice queries need no join
    // for the common filters. Partitioned by the transaction's month (fixed per id).
    statements: () => [
      `CREATE TABLE IF NOT EXISTS transaction_lines (
        id String,
        line_no UInt32,
        kind String,
        outcome String,
        card String,
        program String,
        merchant String,
        terminal String,
        fleet String,
        vehicle String,
        driver String,
        currency String,
        code String,
        product_group String,
        qty_milli Int64,
        unit Int64,
        amount Int64,
        pump_unit Int64,
        invoiced Int64,
        at DateTime,
        at_ms UInt64
      ) ENGINE = ReplacingMergeTree()
      PARTITION BY toYYYYMM(at)
      ORDER BY (id, line_no)`,
    ],
  },
  {
    version: 7,
    name: 'dedup_views_v2',
    // A view's columns are fixed when it is created (18.16 and current), so the SELECT * views of
    // migration 4 are recreated to carry migration 5's columns. 18.16 has no DROP VIEW; DROP TABLE
    // drops a view on both engines. Reports read the views: while two statements run, a report may
    // fail once with "table doesn't exist" (503) and succeed on retry.
    statements: (database) => {
      const db = identifier(database);
      return [
        `DROP TABLE IF EXISTS ${db}.transactions_dedup`,
        `CREATE VIEW IF NOT EXISTS transactions_dedup AS SELECT * FROM ${db}.transactions FINAL`,
        `DROP TABLE IF EXISTS ${db}.lifecycle_events_dedup`,
        `CREATE VIEW IF NOT EXISTS lifecycle_events_dedup AS SELECT * FROM ${db}.lifecycle_events FINAL`,
        `CREATE VIEW IF NOT EXISTS transaction_lines_dedup AS SELECT * FROM ${db}.transaction_lines FINAL`,
        // Top-ups and the operator audit trail are views over the exact tables: one copy of each
        // fact, no second write path to keep consistent.
        `CREATE VIEW IF NOT EXISTS top_ups_dedup AS SELECT id, outcome, reason, card, program, terminal, merchant, amount, currency, balance_after,
            source, operator, idempotency_key, at, at_ms FROM ${db}.transactions FINAL WHERE kind = 'top_up'`,
        `CREATE VIEW IF NOT EXISTS audit_trail_dedup AS SELECT event_id, type, operator, reason, card, terminal, merchant, fleet, status, previous,
            event, action, subject, detail, at, at_ms FROM ${db}.lifecycle_events FINAL WHERE operator != '' OR type = 'operator_action'`,
      ];
    },
  },
  {
    version: 8,
    name: 'transactions_by_merchant',
    // Merchant dashboards, fee reports and settlement filter by merchant and time; transactions is
    // sorted by card. This materialized view keeps a narrow copy sorted by (merchant, at_ms, id):
    // still a ReplacingMergeTree whose key holds the id (merchant and time never change for an id),
    // so its *_dedup view is exact like the others, and a merchant's range is read alone. The MV is
    // created first and then the existing rows are copied; rows inserted in between land twice and
    // are collapsed like any duplicate, so none is missed. Cost: each transactions INSERT also
    // writes this table (about 40% of the columns).
    statements: (database) => {
      const db = identifier(database);
      const columns = `id, kind, outcome, reason, reverse, program, merchant, terminal, currency, amount, balance_delta, fleet, at, at_ms`;
      return [
        `CREATE TABLE IF NOT EXISTS transactions_by_merchant (
          id String,
          kind String,
          outcome String,
          reason String,
          reverse String,
          program String,
          merchant String,
          terminal String,
          currency String,
          amount Int64,
          balance_delta Int64,
          fleet String,
          at DateTime,
          at_ms UInt64
        ) ENGINE = ReplacingMergeTree()
        PARTITION BY toYYYYMM(at)
        ORDER BY (merchant, at_ms, id)`,
        `CREATE MATERIALIZED VIEW IF NOT EXISTS transactions_by_merchant_mv TO ${db}.transactions_by_merchant AS SELECT ${columns} FROM ${db}.transactions`,
        { backfill: `INSERT INTO ${db}.transactions_by_merchant SELECT ${columns} FROM ${db}.transactions` },
        `CREATE VIEW IF NOT EXISTS transactions_by_merchant_dedup AS SELECT * FROM ${db}.transactions_by_merchant FINAL`,
      ];
    },
  },
  {
    version: 9,
    name: 'card_contract_columns',
    // The fields the card lifecycle added to the contract after migration 5 (docs/OUTBOX.md): the streamer
    // dropped them (zod strips unknown keys) although the real authorizer writes them. Hold kinds
    // carry hold_amount, hold_expires_at and ledger_after, purchases and completions spent_after,
    // card_status_changed its approver (action has its column since migration 5). Defaults are the
    // contract's, so older rows read as it says. The SELECT * views are recreated to carry the
    // columns (a view's columns are fixed when created, see migration 7), the audit trail view to
    // carry the approver.
    statements: (database) => {
      const db = identifier(database);
      return [
        add('transactions', 'hold_amount', 'Int64 DEFAULT 0'),
        add('transactions', 'hold_expires_at', 'UInt64 DEFAULT 0'),
        add('transactions', 'ledger_after', 'Int64 DEFAULT 0'),
        add('transactions', 'spent_after', 'Int64 DEFAULT 0'),
        add('lifecycle_events', 'approver', "String DEFAULT ''"),
        `DROP TABLE IF EXISTS ${db}.transactions_dedup`,
        `CREATE VIEW IF NOT EXISTS transactions_dedup AS SELECT * FROM ${db}.transactions FINAL`,
        `DROP TABLE IF EXISTS ${db}.lifecycle_events_dedup`,
        `CREATE VIEW IF NOT EXISTS lifecycle_events_dedup AS SELECT * FROM ${db}.lifecycle_events FINAL`,
        `DROP TABLE IF EXISTS ${db}.audit_trail_dedup`,
        `CREATE VIEW IF NOT EXISTS audit_trail_dedup AS SELECT event_id, type, operator, reason, card, terminal, merchant, fleet, status, previous,
            event, action, subject, detail, approver, at, at_ms FROM ${db}.lifecycle_events FINAL WHERE operator != '' OR type = 'operator_action'`,
      ];
    },
  },
  {
    version: 10,
    name: 'relay_events',
    // What the event relay (services/events: notices and webhooks) reads, sorted by the time Redis
    // committed each document (the millisecond part of its outbox stream id), not by `at`. The
    // relay only reads below a horizon under which the streamer has inserted everything (docs/NOTICES.md),
    // and that horizon is a Redis time, so the copy is sorted by the same clock. A narrow copy
    // filled by two materialized views, one per source table; ReplacingMergeTree by (stream_ms,
    // event_id) like every table here. No backfill: the relay starts from the horizon of its first
    // start and never announces history. Cost: each INSERT of the streamer also writes this table.
    statements: (database) => {
      const db = identifier(database);
      const stream_ms = `toUInt64(splitByChar('-', stream_id)[1]) AS stream_ms`;
      return [
        `CREATE TABLE IF NOT EXISTS relay_events (
          event_id String,
          type String,
          kind String,
          outcome String,
          reason String,
          card String,
          program String,
          terminal String,
          merchant String,
          fleet String,
          currency String,
          amount Int64,
          balance_after Int64,
          status String,
          previous String,
          action String,
          source String,
          original String,
          at DateTime,
          at_ms UInt64,
          stream_ms UInt64,
          shard UInt32,
          stream_id String
        ) ENGINE = ReplacingMergeTree()
        PARTITION BY toYYYYMM(at)
        ORDER BY (stream_ms, event_id)`,
        `CREATE MATERIALIZED VIEW IF NOT EXISTS relay_events_transactions_mv TO ${db}.relay_events AS
          SELECT id AS event_id, 'transaction' AS type, kind, outcome, reason, card, program, terminal, merchant, fleet, currency, amount,
            balance_after, '' AS status, '' AS previous, '' AS action, source, original, at, at_ms, ${stream_ms}, shard, stream_id
          FROM ${db}.transactions`,
        `CREATE MATERIALIZED VIEW IF NOT EXISTS relay_events_lifecycle_mv TO ${db}.relay_events AS
          SELECT event_id, type, '' AS kind, '' AS outcome, reason, card, program, terminal, merchant, fleet, currency, amount,
            toInt64(0) AS balance_after, status, previous, action, '' AS source, '' AS original, at, at_ms, ${stream_ms}, shard, stream_id
          FROM ${db}.lifecycle_events`,
      ];
    },
  },
  {
    version: 11,
    name: 'tap_pours',
    // What beer taps report they poured (`tap_pour` documents), against what was paid: one row per
    // report, deduplicated by (terminal, report), the tap's own id of the report. A report for one
    // sale names the sale's idempotency key in `transaction`; a report over a period has from_ms..to_ms.
    statements: (database) => [
      `CREATE TABLE IF NOT EXISTS tap_pours (
        event_id String,
        terminal String,
        merchant String,
        report String,
        transaction String,
        from_ms UInt64,
        to_ms UInt64,
        poured_ml Int64,
        product String,
        at DateTime,
        at_ms UInt64,
        shard UInt32,
        stream_id String
      ) ENGINE = ReplacingMergeTree()
      PARTITION BY toYYYYMM(at)
      ORDER BY (terminal, report)`,
      `CREATE VIEW IF NOT EXISTS tap_pours_dedup AS SELECT * FROM ${identifier(database)}.tap_pours FINAL`,
    ],
  },
  {
    version: 12,
    name: 'audit_log',
    // The audit records of operator actions (contract.ts audit_record): who acted (the
    // authenticated principal), with which role and scope, the four-eyes approver, what was acted
    // on and the changed fields before and after. Sorted by (principal, at_ms, event_id): "what did
    // this principal do" reads one range; event_id (shard and stream entry) is unique, so the
    // ReplacingMergeTree collapses redelivered copies like every other table.
    statements: (database) => [
      `CREATE TABLE IF NOT EXISTS audit_log (
        event_id String,
        action String,
        principal String,
        role String,
        scope String,
        approver String,
        subject String,
        before String,
        after String,
        at DateTime,
        at_ms UInt64,
        shard UInt32,
        stream_id String
      ) ENGINE = ReplacingMergeTree()
      PARTITION BY toYYYYMM(at)
      ORDER BY (principal, at_ms, event_id)`,
      `CREATE VIEW IF NOT EXISTS audit_log_dedup AS SELECT * FROM ${identifier(database)}.audit_log FINAL`,
    ],
  },
  {
    version: 13,
    name: 'offline',
    // Offline selling (docs/OFFLINE.md): who carries an offline sale and what a card owes on the
    // transactions; a terminal's offline life (settings version, grant number, acknowledged
    // denylist and how far behind it was, batches merged) on lifecycle_events. Defaults are the
    // contract's. The SELECT * views are recreated to carry the columns (migration 7 says why), and
    // offline_sales_dedup keeps the offline kinds' columns in one narrow view for the reports.
    statements: (database) => {
      const db = identifier(database);
      return [
        add('transactions', 'liability', "String DEFAULT ''"),
        add('transactions', 'debt_delta', 'Int64 DEFAULT 0'),
        add('transactions', 'debt_after', 'Int64 DEFAULT 0'),
        add('lifecycle_events', 'version', 'UInt64 DEFAULT 0'),
        add('lifecycle_events', 'behind', 'UInt64 DEFAULT 0'),
        add('lifecycle_events', 'entries', 'UInt64 DEFAULT 0'),
        add('lifecycle_events', 'missing', 'UInt64 DEFAULT 0'),
        `DROP TABLE IF EXISTS ${db}.transactions_dedup`,
        `CREATE VIEW IF NOT EXISTS transactions_dedup AS SELECT * FROM ${db}.transactions FINAL`,
        `DROP TABLE IF EXISTS ${db}.lifecycle_events_dedup`,
        `CREATE VIEW IF NOT EXISTS lifecycle_events_dedup AS SELECT * FROM ${db}.lifecycle_events FINAL`,
        `CREATE VIEW IF NOT EXISTS offline_sales_dedup AS SELECT id, kind, outcome, rule, card, program, terminal, merchant, amount, requested,
            currency, balance_delta, liability, debt_delta, debt_after, offline_at, idempotency_key, original, reverse, at, at_ms
            FROM ${db}.transactions FINAL WHERE kind IN ('offline_purchase', 'offline_void')`,
      ];
    },
  },
  {
    version: 14,
    name: 'fleet_billing',
    // Fleet accounts bill in cycles. Each fleet document names the cycle it accrued to (`cycle`),
    // so an invoice is exactly its cycle's documents whatever the nodes' clocks did; documents
    // written before cycles existed belong to cycle 1 (the default: every account stored before
    // then is in its first cycle), other documents have 0. fleet_invoices keeps one row per
    // closed cycle, deduplicated by (fleet, cycle) like transactions by id. The SELECT * views are
    // recreated to carry the new columns (see migration 7).
    statements: (database) => {
      const db = identifier(database);
      return [
        add('transactions', 'cycle', "UInt32 DEFAULT if(fleet = '', 0, 1)"),
        add('transaction_lines', 'cycle', "UInt32 DEFAULT if(fleet = '', 0, 1)"),
        `CREATE TABLE IF NOT EXISTS fleet_invoices (
          fleet String,
          number String,
          cycle UInt32,
          currency String,
          amount Int64,
          applied Int64,
          opened_at_ms UInt64,
          due_at_ms UInt64,
          operator String,
          at DateTime,
          at_ms UInt64,
          shard UInt32,
          stream_id String
        ) ENGINE = ReplacingMergeTree()
        PARTITION BY toYYYYMM(at)
        ORDER BY (fleet, cycle)`,
        `CREATE VIEW IF NOT EXISTS fleet_invoices_dedup AS SELECT * FROM ${db}.fleet_invoices FINAL`,
        `DROP TABLE IF EXISTS ${db}.transactions_dedup`,
        `CREATE VIEW IF NOT EXISTS transactions_dedup AS SELECT * FROM ${db}.transactions FINAL`,
        `DROP TABLE IF EXISTS ${db}.transaction_lines_dedup`,
        `CREATE VIEW IF NOT EXISTS transaction_lines_dedup AS SELECT * FROM ${db}.transaction_lines FINAL`,
      ];
    },
  },
  {
    version: 15,
    name: 'transaction_cashier',
    // The cashier who sold at the terminal (contract.ts `cashier`, "" when the request named none):
    // sales per cashier are reported from it. The SELECT * view is recreated to carry the column
    // (a view's columns are fixed when created, see migration 7).
    statements: (database) => {
      const db = identifier(database);
      return [
        add('transactions', 'cashier', "String DEFAULT ''"),
        `DROP TABLE IF EXISTS ${db}.transactions_dedup`,
        `CREATE VIEW IF NOT EXISTS transactions_dedup AS SELECT * FROM ${db}.transactions FINAL`,
      ];
    },
  },
];
