// `npm start`: a working local Tapline on this machine. Starts Redis (AOF, fsync always) and
// ClickHouse on private ports with data under .data/, starts authorizer node(s), issues demo
// cards and terminals, runs a short burst of real authorizations over gRPC, prints what
// happened, and keeps serving until Ctrl-C (then stops everything it started, in order).
//
// Options: `--nodes N` (or TAPLINE_NODES / TAPLINE_UP_NODES; default 1) authorizer nodes forming one
// cluster on the same Redis (docs/CLUSTER.md). Environment: TAPLINE_UP_GRPC_PORT (50051, node i uses +i),
// TAPLINE_UP_METRICS_PORT (9464), TAPLINE_UP_REDIS_PORT (6390), TAPLINE_UP_CLICKHOUSE_HTTP_PORT
// (8133), TAPLINE_UP_CLICKHOUSE_TCP_PORT (9010), TAPLINE_UP_EXIT_AFTER_DEMO (unset: keep serving).

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { queryClickHouse, startClickHouse, type ClickHouseInstance } from './clickhouse';
import { startRedis, type RedisInstance } from './redis';
import { startServerProcess, type ServerProcess } from './node-process';
import { projectRoot } from '../common/paths';
import { authorizer_node_flags } from '../authorizer/runtime-flags';
import { TaplineClient, purchase } from '../client/tapline-client';
import { DeclineReason, Outcome } from '../../gen/tapline/v1/types';
import { ReverseResult } from '../../gen/tapline/v1/authorization';
import { stringLiteral } from '../streamer/sql';

const env = (name: string, fallback: number): number => Number(process.env[name] ?? fallback);

/** Authorizer nodes to start: `--nodes N`, else TAPLINE_NODES, else TAPLINE_UP_NODES, else 1. */
export function nodeCountOf(argv: readonly string[], environment: Record<string, string | undefined>): number {
  const flag = argv.findIndex((arg) => arg === '--nodes' || arg.startsWith('--nodes='));
  const text = flag < 0 ? environment['TAPLINE_NODES'] ?? environment['TAPLINE_UP_NODES'] ?? '1'
    : (argv[flag] as string).includes('=') ? (argv[flag] as string).split('=')[1] : argv[flag + 1];
  const count = Number(text);
  if (!/^[0-9]{1,2}$/.test(String(text)) || count < 1 || count > 16) throw new Error(`--nodes must be a number from 1 to 16, got ${JSON.stringify(text)}`);
  return count;
}

function say(line = ''): void {
  process.stdout.write(`${line}\n`);
}

function euros(minor: bigint | number | undefined): string {
  const value = BigInt(minor ?? 0);
  const sign = value < 0n ? '-' : '';
  const abs = value < 0n ? -value : value;
  return `${sign}€${abs / 100n}.${String(abs % 100n).padStart(2, '0')}`;
}

async function main(): Promise<void> {
  const dataDir = join(projectRoot(), '.data');
  mkdirSync(dataDir, { recursive: true });
  const started: { redis?: RedisInstance; clickhouse?: ClickHouseInstance; nodes: ServerProcess[]; streamer?: ServerProcess; reports?: ServerProcess } = { nodes: [] };
  let stopping = false;
  const stopAll = async (code: number): Promise<never> => {
    if (!stopping) {
      stopping = true;
      say('\nstopping: nodes first (they drain and flush), then the streamer, ClickHouse and Redis');
      for (const node of started.nodes) await node.terminate().catch(() => undefined);
      await started.streamer?.terminate().catch(() => undefined);
      await started.reports?.terminate().catch(() => undefined);
      await started.clickhouse?.stop().catch(() => undefined);
      await started.redis?.stop().catch(() => undefined);
    }
    process.exit(code);
  };
  process.on('SIGINT', () => void stopAll(0));
  process.on('SIGTERM', () => void stopAll(0));

  try {
    started.redis = await startRedis({ dataDir: join(dataDir, 'redis'), port: env('TAPLINE_UP_REDIS_PORT', 6390), appendfsync: 'always' });
    say(`redis       ${started.redis.url}  (AOF, appendfsync always, data in .data/redis)`);
    started.clickhouse = await startClickHouse({
      dataDir: join(dataDir, 'clickhouse'),
      httpPort: env('TAPLINE_UP_CLICKHOUSE_HTTP_PORT', 8133),
      tcpPort: env('TAPLINE_UP_CLICKHOUSE_TCP_PORT', 9010),
    });
    say(`clickhouse  ${started.clickhouse.url}  (data in .data/clickhouse)`);
    const nodeCount = nodeCountOf(process.argv.slice(2), process.env);
    for (let i = 0; i < nodeCount; i++) {
      const node = await startServerProcess({
        script: 'dist/services/authorizer/main.js',
        nodeArgs: authorizer_node_flags,
        env: {
          TAPLINE_NODE_ID: `local-${i + 1}`,
          TAPLINE_REDIS_URL: started.redis.url,
          TAPLINE_GRPC_PORT: String(env('TAPLINE_UP_GRPC_PORT', 50051) + i),
          TAPLINE_INTERNAL_PORT: '0',
          TAPLINE_METRICS_PORT: String(env('TAPLINE_UP_METRICS_PORT', 9464) + i),
          TAPLINE_LOG_LEVEL: process.env['TAPLINE_LOG_LEVEL'] ?? 'warn',
        },
        onLine: (line) => {
          if (!line.includes('"grpcPort"')) process.stdout.write(`[node ${i + 1}] ${line}\n`);
        },
      });
      started.nodes.push(node);
      say(`node ${i + 1}      grpc ${node.address}  metrics http://127.0.0.1:${env('TAPLINE_UP_METRICS_PORT', 9464) + i}/metrics`);
    }
    started.streamer = await startServerProcess({
      script: 'dist/services/streamer/main.js',
      env: {
        TAPLINE_NODE_ID: 'local-streamer',
        TAPLINE_REDIS_URL: started.redis.url,
        TAPLINE_CLICKHOUSE_URL: started.clickhouse.url,
        TAPLINE_METRICS_PORT: String(env('TAPLINE_UP_METRICS_PORT', 9464) + nodeCount),
        TAPLINE_LOG_LEVEL: process.env['TAPLINE_LOG_LEVEL'] ?? 'warn',
      },
      onLine: (line) => {
        if (!line.includes('"grpcPort"')) process.stdout.write(`[streamer] ${line}\n`);
      },
    });
    say(`streamer    outbox -> ClickHouse (database tapline)`);
    const reportsPort = env('TAPLINE_UP_REPORTS_PORT', 9470);
    started.reports = await startServerProcess({
      script: 'dist/services/reports/main.js',
      env: {
        TAPLINE_REDIS_URL: started.redis.url,
        TAPLINE_CLICKHOUSE_URL: started.clickhouse.url,
        TAPLINE_REPORTS_PORT: String(reportsPort),
        TAPLINE_LOG_LEVEL: process.env['TAPLINE_LOG_LEVEL'] ?? 'warn',
      },
    });
    say(`reports     http://127.0.0.1:${reportsPort}/reports/float?currency=EUR  (and /reports/reconciliation, ...)`);
    const first = started.nodes[0];
    if (first === undefined) throw new Error('at least one node is needed');
    if (started.nodes.length > 1) say(`cluster     ${started.nodes.length} nodes share 256 shards; any node accepts any request and forwards it to the card's owner`);
    const run = await demo(first.address);
    await reportFromClickHouse(started.clickhouse.url, run);
    const reconciliation = await fetch(`http://127.0.0.1:${reportsPort}/reports/reconciliation`).then((r) => r.json()) as { summary?: Record<string, unknown> };
    say(`reconciliation ClickHouse vs Redis: ${JSON.stringify(reconciliation.summary ?? reconciliation)}`);
  } catch (error) {
    process.stderr.write(`\nlocal cluster failed: ${error instanceof Error ? error.message : String(error)}\n`);
    await stopAll(1);
  }
  if (process.env['TAPLINE_UP_EXIT_AFTER_DEMO']) await stopAll(0);
  say('\nserving. Try: grpcurl -plaintext 127.0.0.1:50051 list   (Ctrl-C stops everything)');
}

/**
 * Waits until the demo's transactions are queryable in ClickHouse (the streamer moved them from
 * the Redis outbox) and prints what reporting sees.
 */
async function reportFromClickHouse(url: string, run: { id: string; transactions: number }): Promise<void> {
  const where = `card LIKE ${stringLiteral(`%-${run.id}`)}`;
  const deadline = Date.now() + 30_000;
  let seen = 0;
  while (Date.now() < deadline) {
    seen = Number((await queryClickHouse(url, `SELECT count() FROM tapline.transactions_dedup WHERE ${where}`)).trim());
    if (seen >= run.transactions) break;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const rows = await queryClickHouse(url, `SELECT kind, outcome, count(), sum(amount) FROM tapline.transactions_dedup WHERE ${where} GROUP BY kind, outcome ORDER BY kind, outcome FORMAT TSV`);
  say(`clickhouse: ${seen} of the demo's ${run.transactions} transactions queryable`);
  for (const line of rows.trim().split('\n')) {
    const [kind, outcome, count, amount] = line.split('\t');
    say(`  ${String(kind).padEnd(9)} ${String(outcome).padEnd(9)} ${String(count).padStart(4)}  ${euros(Number(amount))}`);
  }
}

/** Issues cards and terminals for this run and sends a burst of real authorizations. */
async function demo(address: string): Promise<{ id: string; transactions: number }> {
  const client = new TaplineClient(address);
  const run = Date.now().toString(36);
  const terminals = { bar: `bar-${run}`, food: `food-${run}`, topup: `topup-${run}` };
  await client.registerTerminal(terminals.bar, 'main-stage-bar');
  await client.registerTerminal(terminals.food, 'food-court');
  await client.registerTerminal(terminals.topup, 'cash-desk');
  const cards = [
    { id: `alice-${run}`, balance: 5_000 },
    { id: `bob-${run}`, balance: 1_200 },
    { id: `wristband-${run}`, balance: 300 },
  ];
  for (const card of cards) await client.issueCard(card.id, card.balance, 'EUR', 'summer-festival');
  say(`\ndemo run ${run}: issued ${cards.map((c) => `${c.id} (${euros(c.balance)})`).join(', ')}`);

  let txn = 0;
  const burst = Array.from({ length: 60 }, (_, i) => {
    const card = cards[i % cards.length] as { id: string };
    const terminal = i % 2 === 0 ? terminals.bar : terminals.food;
    return { terminal, txn: ++txn, card: card.id, amount: 150 + (i % 5) * 100 };
  });
  const started = Date.now();
  const replies = await Promise.all(burst.map((b) => client.authorize(purchase(b.terminal, b.txn, b.card, b.amount))));
  const elapsed = Date.now() - started;
  const approved = replies.filter((r) => r.outcome === Outcome.OUTCOME_APPROVED);
  const reasons = new Map<string, number>();
  for (const reply of replies) {
    if (reply.outcome === Outcome.OUTCOME_DECLINED) {
      const name = DeclineReason[reply.declineReason] ?? String(reply.declineReason);
      reasons.set(name, (reasons.get(name) ?? 0) + 1);
    }
  }
  say(`burst: ${burst.length} concurrent authorizations in ${elapsed} ms -> ${approved.length} approved, ${burst.length - approved.length} declined`);
  for (const [reason, count] of reasons) say(`  declined ${count}x ${reason}`);

  const retry = await client.authorize(purchase(terminals.bar, 1, burst[0]?.card ?? '', burst[0]?.amount ?? 0));
  say(`retry of ${terminals.bar} #1: same transaction ${retry.transactionId}, replayed=${retry.replayed}`);
  const topUp = await client.topUp(`wristband-${run}`, 2_000, { terminalId: terminals.topup, txn: 1 });
  say(`cash top-up of €20.00 on wristband-${run}: balance now ${euros(topUp.balanceAfter?.amountMinor)}`);
  const firstApproved = burst.find((_, i) => replies[i]?.outcome === Outcome.OUTCOME_APPROVED);
  if (firstApproved) {
    const reversal = await client.reverse(firstApproved.terminal, ++txn + 1000, firstApproved.card, { terminalId: firstApproved.terminal, txn: firstApproved.txn });
    say(`reversal of ${firstApproved.terminal} #${firstApproved.txn}: ${ReverseResult[reversal.result]}, ${euros(reversal.reversedAmount?.amountMinor)} back`);
  }
  say('balances:');
  for (const card of cards) {
    const balance = await client.balance(card.id);
    say(`  ${card.id.padEnd(24)} ${euros(balance.balance?.amountMinor).padStart(10)}`);
  }
  client.close();
  // The burst, the top-up and the reversal are transactions (the retry is the burst's first).
  return { id: run, transactions: burst.length + 1 + (firstApproved ? 1 : 0) };
}

if (require.main === module) main().catch((error: unknown) => {
  process.stderr.write(`up failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
