// Realistic outbox documents for streamer tests, written straight into the outbox streams in the
// authorizer's format (StoredTransaction and the lifecycle events), plus the totals a report
// must reproduce from them. Seeded: a failing run prints its seed and replays from it.

import { createClient } from 'redis';
import type { StoredTransaction } from '../../actors/card/transaction';
import { shardKeys } from '../../services/authorizer/store/keys';
import { queryClickHouse } from '../../tools/devenv/clickhouse';
import { identifier } from '../../services/streamer/sql';
import { seededRandom } from '../../tools/seeded-random';

export interface OutboxDocument {
  readonly shard: number;
  readonly json: string;
}

export interface ExpectedTotals {
  transactions: number;
  lifecycle_events: number;
  /** Sum of `amount` over all transactions (every kind). */
  amount_minor: number;
  /** Sum of `balance_delta` over all transactions (explicit or the contract's v1 default). */
  balance_delta_minor: number;
  /** Line items over all transactions, and the sum of their invoiced amounts. */
  lines: number;
  lines_invoiced_minor: number;
  /** Transactions with at least one suspicious flag. */
  flagged: number;
}

export function emptyTotals(): ExpectedTotals {
  return { transactions: 0, lifecycle_events: 0, amount_minor: 0, balance_delta_minor: 0, lines: 0, lines_invoiced_minor: 0, flagged: 0 };
}

/**
 * Produces `count` documents: about 90% transactions (purchases, top-ups, some declines and
 * reversals, v1 documents without the optional fields; refunds and cash-outs, fleet purchases with
 * line items, prompts and flags, with them) on 200 cards, 10% lifecycle and audit events of every
 * type in docs/OUTBOX.md. Transaction ids are
 * "<prefix>-<n>", unique per prefix. Adds what it produced to `totals`.
 */
export function outboxDocuments(seed: number, prefix: string, count: number, shardCount: number, totals: ExpectedTotals): OutboxDocument[] {
  const random = seededRandom(seed);
  const pick = (n: number): number => Math.floor(random() * n);
  const base_ms = Date.UTC(2026, 0, 15, 12, 0, 0);
  const documents: OutboxDocument[] = [];
  for (let n = 0; n < count; n += 1) {
    const card = `card-${pick(200)}`;
    const terminal = `pos-${pick(20)}`;
    const at = base_ms + n * 37;
    const shard = pick(shardCount);
    if (random() < 0.1) {
      totals.lifecycle_events += 1;
      const roll = random();
      const document =
        roll < 0.4
          ? {
              type: random() < 0.5 ? 'card_issued' : 'card_status_changed',
              card,
              program: 'festival-2026',
              currency: 'EUR',
              status: 'active',
              amount: 2_000,
              operator: 'ops-1',
              reason: '',
              at,
            }
          : roll < 0.7
            ? {
                type: random() < 0.5 ? 'terminal_registered' : 'terminal_enabled_changed',
                terminal,
                merchant: `bar-${pick(5)}`,
                enabled: random() < 0.8,
                operator: 'ops-1',
                at,
              }
            : roll < 0.8
              ? {
                  type: 'card_replaced',
                  card,
                  replacement: `${card}-r`,
                  program: 'festival-2026',
                  amount: pick(3_000),
                  deposit: 200,
                  operator: 'ops-2',
                  reason: 'lost',
                  at,
                }
              : roll < 0.9
                ? {
                    type: 'operator_action',
                    action: 'set_fee_rates',
                    subject: `bar-${pick(5)}`,
                    detail: '{"bp":150}',
                    operator: 'ops-3',
                    at,
                  }
                : {
                    type: random() < 0.5 ? 'card_pin_changed' : 'fleet_account_changed',
                    card,
                    program: 'festival-2026',
                    event: 'set',
                    fleet: 'fleet-1',
                    currency: 'EUR',
                    operator: '',
                    at,
                  };
      documents.push({ shard, json: JSON.stringify(document) });
      continue;
    }
    const kind = (['purchase', 'purchase', 'purchase', 'top_up', 'reverse', 'refund', 'cash_out'] as const)[pick(7)] ?? 'purchase';
    const requested = 50 + pick(5_000);
    const declined = kind === 'purchase' && random() < 0.15;
    const amount = declined ? 0 : requested;
    const key = `t:${terminal}:${n}`;
    const v1 = kind === 'purchase' || kind === 'top_up' || kind === 'reverse';
    const transaction: Record<string, unknown> = {
      type: 'transaction',
      f: `${kind}|${card}|${requested}|EUR|${terminal}|pos|`,
      id: `${prefix}-${n}`,
      kind,
      outcome: declined ? 'declined' : 'approved',
      reason: declined ? 'insufficient_funds' : '',
      rule: declined ? 'balance' : '',
      card,
      program: 'festival-2026',
      terminal,
      merchant: `bar-${pick(5)}`,
      amount,
      requested,
      currency: 'EUR',
      balance_after: pick(100_000),
      key,
      original: kind === 'reverse' || kind === 'refund' ? `t:${terminal}:${Math.max(0, n - 1)}` : '',
      reverse: kind === 'reverse' ? 'reversed' : '',
      source: 'pos',
      operator: '',
      at,
    } satisfies Omit<StoredTransaction, 'kind'> & { kind: string };
    let balance_delta = declined ? 0 : kind === 'purchase' ? -amount : amount;
    if (kind === 'refund') transaction['balance_delta'] = amount;
    if (kind === 'cash_out') {
      balance_delta = -amount;
      Object.assign(transaction, { balance_delta, deposit_delta: -200, payout: amount + 200, operator: 'ops-1' });
    }
    if (v1 && kind === 'purchase' && !declined && random() < 0.4) {
      // A fleet purchase with the optional fields: lines, prompts, prices, flags.
      const lines = Array.from({ length: 1 + pick(3) }, (_, index) => {
        const qty_milli = 1_000 + pick(50_000);
        return {
          code: index === 0 ? 'diesel' : `shop-${index}`,
          group: index === 0 ? 'fuel' : 'shop',
          qty_milli,
          unit: 180,
          amount: Math.floor(amount / 3),
          pump_unit: 185,
          invoiced: Math.floor(amount / 3) - 1,
        };
      });
      const flags = random() < 0.3 ? ['risk:soft_amount'] : [];
      Object.assign(transaction, {
        balance_delta,
        lines,
        odometer: 10_000 + n,
        driver: `d-${pick(9)}`,
        vehicle: `v-${pick(9)}`,
        fleet: 'fleet-1',
        pump: amount + 20,
        invoiced: amount - 3,
        flags,
      });
      totals.lines += lines.length;
      totals.lines_invoiced_minor += lines.reduce((sum, line) => sum + line.invoiced, 0);
      if (flags.length > 0) totals.flagged += 1;
    }
    totals.balance_delta_minor += balance_delta;
    totals.transactions += 1;
    totals.amount_minor += amount;
    documents.push({ shard, json: JSON.stringify(transaction) });
  }
  return documents;
}

/** XADDs the documents to their shard's outbox, pipelined in chunks. */
export async function appendToOutbox(redisUrl: string, documents: readonly OutboxDocument[]): Promise<void> {
  const client = createClient({ url: redisUrl });
  await client.connect();
  try {
    const chunk_size = 500;
    for (let start = 0; start < documents.length; start += chunk_size) {
      await Promise.all(
        documents
          .slice(start, start + chunk_size)
          .map((document) => client.sendCommand(['XADD', shardKeys(document.shard).outbox, '*', 'd', document.json])),
      );
    }
  } finally {
    await client.close();
  }
}

export interface ReportTotals {
  transactions: number;
  distinct_ids: number;
  amount_minor: number;
  lifecycle_events: number;
  rejects: number;
  balance_delta_minor: number;
  lines: number;
  lines_invoiced_minor: number;
  flagged: number;
}

/** What reportTotals must show for the documents behind `expected`, streamed without loss. */
export function expectedReportTotals(expected: ExpectedTotals): ReportTotals {
  return {
    transactions: expected.transactions,
    distinct_ids: expected.transactions,
    amount_minor: expected.amount_minor,
    lifecycle_events: expected.lifecycle_events,
    rejects: 0,
    balance_delta_minor: expected.balance_delta_minor,
    lines: expected.lines,
    lines_invoiced_minor: expected.lines_invoiced_minor,
    flagged: expected.flagged,
  };
}

/** What the deduplicated views report, as numbers. */
export async function reportTotals(clickhouseUrl: string, database: string): Promise<ReportTotals> {
  const db = identifier(database);
  // One scan per table (each FINAL scan costs; tests poll this every 100 ms while streaming). Each
  // scalar subquery answers a tuple; 18.16 allows only one JOIN per query.
  const sql = `SELECT
      (SELECT (count(), uniqExact(id), sum(amount), sum(balance_delta), countIf(length(flags) > 0)) FROM ${db}.transactions_dedup),
      (SELECT (count(), sum(invoiced)) FROM ${db}.transaction_lines_dedup),
      (SELECT count() FROM ${db}.lifecycle_events_dedup),
      (SELECT count() FROM ${db}.outbox_rejects)
      FORMAT TSV`;
  const numbers = ((await queryClickHouse(clickhouseUrl, sql)).match(/-?[0-9]+/g) ?? []).map(Number);
  const [transactions, distinct_ids, amount_minor, balance_delta_minor, flagged, lines, lines_invoiced_minor, lifecycle_events, rejects] =
    numbers;
  return {
    transactions: transactions ?? -1,
    distinct_ids: distinct_ids ?? -1,
    amount_minor: amount_minor ?? -1,
    lifecycle_events: lifecycle_events ?? -1,
    rejects: rejects ?? -1,
    balance_delta_minor: balance_delta_minor ?? -1,
    lines: lines ?? -1,
    lines_invoiced_minor: lines_invoiced_minor ?? -1,
    flagged: flagged ?? -1,
  };
}

/** Raw rows (duplicates included) in the transactions table. */
export async function rawTransactionRows(clickhouseUrl: string, database: string): Promise<number> {
  return Number((await queryClickHouse(clickhouseUrl, `SELECT count() FROM ${identifier(database)}.transactions`)).trim());
}

/** Entries left in all outbox streams. */
export async function outboxLength(redisUrl: string, shardCount: number): Promise<number> {
  const client = createClient({ url: redisUrl });
  await client.connect();
  try {
    const lengths = await Promise.all(
      Array.from({ length: shardCount }, (_, shard) => client.sendCommand(['XLEN', shardKeys(shard).outbox])),
    );
    return lengths.reduce<number>((sum, length) => sum + Number(length), 0);
  } finally {
    await client.close();
  }
}

/** Streamer settings for tests: 64 shards, small batches and short waits so tests finish fast. */
export function streamerEnv(
  redisUrl: string,
  clickhouseUrl: string,
  database: string,
  overrides: Record<string, string> = {},
): Record<string, string> {
  return {
    TAPLINE_REDIS_URL: redisUrl,
    TAPLINE_CLICKHOUSE_URL: clickhouseUrl,
    TAPLINE_CLICKHOUSE_DATABASE: database,
    TAPLINE_SHARD_COUNT: '64',
    TAPLINE_METRICS_PORT: '-1',
    TAPLINE_LOG_LEVEL: process.env['TAPLINE_TEST_LOG_LEVEL'] ?? 'warn',
    TAPLINE_NODE_ID: 'streamer-test',
    TAPLINE_STREAMER_BATCH_ROWS_MAX: '500',
    TAPLINE_STREAMER_BATCH_WAIT_MS: '100',
    TAPLINE_STREAMER_READ_BLOCK_MS: '100',
    TAPLINE_STREAMER_INSERT_TIMEOUT_MS: '2000',
    TAPLINE_STREAMER_BACKOFF_INITIAL_MS: '50',
    TAPLINE_STREAMER_BACKOFF_MAX_MS: '400',
    TAPLINE_STREAMER_CLAIM_IDLE_MS: '3000',
    TAPLINE_STREAMER_CLAIM_INTERVAL_MS: '500',
    TAPLINE_STREAMER_LAG_SAMPLE_MS: '200',
    TAPLINE_SHUTDOWN_GRACE_MS: '5000',
    ...overrides,
  };
}
