// `npm run bench`: measures Tapline against a bare gRPC echo server on the same proto, in one run
// on this machine, and prints the figures; the last line is one JSON document whose keys later
// issues extend (ratios.authorize_vs_echo, ...). Everything is real: a private redis-server with
// appendfsync always, an authorizer node process, an echo server process, gRPC over loopback.
// This process is the load driver (k6 cannot be installed here; loadtest/k6 has the same
// scenario for SREs). Ratios, not absolute numbers, are the point: driver, node and Redis share
// the machine's two cores.

import { mkdirSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { cpus } from 'node:os';
import { startRedis } from '../services/devenv/redis';
import { startServerProcess, type ServerProcess } from '../services/devenv/node-process';
import { projectRoot } from '../services/common/paths';
import { TaplineClient, purchase } from '../services/client/tapline-client';
import { clients, closedLoopStream, closedLoopUnary, openLoopUnary, round, type PhaseResult } from './driver';

const settings = {
  cards: Number(process.env['BENCH_CARDS'] ?? 20_000),
  terminals: 64,
  card_balance_minor: 1_000_000_000_000,
  channels: Number(process.env['BENCH_CHANNELS'] ?? 4),
  concurrency: Number(process.env['BENCH_CONCURRENCY'] ?? 256),
  stream_count: 4,
  stream_frame_items: 100,
  stream_window_items: 4_000,
  warmup_s: Number(process.env['BENCH_WARMUP_S'] ?? 3),
  measure_s: Number(process.env['BENCH_MEASURE_S'] ?? 10),
  appendfsync: 'always' as const,
};

function log(message: string, fields: Record<string, unknown> = {}): void {
  process.stderr.write(`[bench] ${message}${Object.keys(fields).length ? ' ' + JSON.stringify(fields) : ''}\n`);
}

async function main(): Promise<void> {
  const base = join(projectRoot(), '.bench');
  mkdirSync(base, { recursive: true });
  const redis = await startRedis({ dataDir: mkdtempSync(join(base, 'redis-')), appendfsync: settings.appendfsync });
  const processes: ServerProcess[] = [];
  try {
    const node = await startServerProcess({
      script: 'dist/services/authorizer/main.js',
      nodeArgs: (process.env['BENCH_NODE_ARGS'] ?? '').split(' ').filter((a) => a !== ''),
      env: { TAPLINE_REDIS_URL: redis.url, TAPLINE_GRPC_PORT: '0', TAPLINE_METRICS_PORT: '-1', TAPLINE_LOG_LEVEL: 'warn', TAPLINE_NODE_ID: 'bench-1' },
    });
    processes.push(node);
    const echo = await startServerProcess({ script: 'dist/services/echo/main.js', env: {} });
    processes.push(echo);
    log('servers up', { node: node.address, echo: echo.address, redis: redis.url, appendfsync: settings.appendfsync });

    await seed(node.address);
    const tapline = clients(node.address, settings.channels);
    const echoClients = clients(echo.address, settings.channels);

    // Every request gets a fresh terminal transaction number: keys never repeat across phases.
    let txn = 0;
    const uniform = (i: number) => purchase(`bench-t${i % settings.terminals}`, ++txn, `bench-c${(i * 7919) % settings.cards}`, 1 + (i % 500));
    const hot = (i: number) => purchase(`bench-t${i % settings.terminals}`, ++txn, 'bench-hot', 1 + (i % 500));

    const phase = async (name: string, run: () => Promise<PhaseResult>): Promise<PhaseResult> => {
      const result = await run();
      log(name, { ...result });
      return result;
    };
    const { concurrency, warmup_s, measure_s } = settings;
    const echoUnary = await phase('echo unary', () => closedLoopUnary(echoClients, uniform, concurrency, warmup_s, measure_s));
    const authorize = await phase('authorize unary (uniform cards)', () => closedLoopUnary(tapline, uniform, concurrency, warmup_s, measure_s));
    const hotCard = await phase('authorize unary (one hot card)', () => closedLoopUnary(tapline, hot, concurrency, warmup_s, measure_s));
    const stream = await phase('authorize stream (uniform cards)', () =>
      closedLoopStream(tapline, uniform, settings.stream_count, settings.stream_frame_items, settings.stream_window_items, warmup_s, measure_s));
    const echoStream = await phase('echo stream', () =>
      closedLoopStream(echoClients, uniform, settings.stream_count, settings.stream_frame_items, settings.stream_window_items, warmup_s, measure_s));
    const halfRate = Math.max(1, Math.floor(authorize.rps / 2));
    const authorizeHalf = await phase(`authorize unary at half of peak (${halfRate}/s)`, () => openLoopUnary(tapline, uniform, halfRate, warmup_s, measure_s));
    const echoHalf = await phase(`echo unary at the same rate (${halfRate}/s)`, () => openLoopUnary(echoClients, uniform, halfRate, warmup_s, measure_s));

    for (const client of [...tapline, ...echoClients]) client.close();
    const errors = [echoUnary, authorize, hotCard, stream, authorizeHalf, echoHalf].reduce((sum, r) => sum + r.errors, 0);
    const report = {
      machine: { cpu_cores: cpus().length, node: process.version },
      settings: { ...settings, redis_appendfsync: settings.appendfsync },
      echo: { unary: echoUnary, stream: echoStream, half_load: echoHalf },
      authorize: { unary: authorize, stream, hot_card: hotCard, half_load: authorizeHalf },
      errors,
      ratios: {
        authorize_vs_echo: round(authorize.rps / echoUnary.rps),
        stream_vs_authorize: round(stream.rps / authorize.rps),
        hot_card_vs_uniform: round(hotCard.rps / authorize.rps),
        p99_vs_echo_p99: round(authorizeHalf.p99_ms / Math.max(echoHalf.p99_ms, 0.001)),
      },
    };
    process.stdout.write(JSON.stringify(report) + '\n');
  } finally {
    for (const child of processes.reverse()) await child.terminate().catch(() => undefined);
    await redis.stop();
  }
}

/** Issues the benchmark's cards and terminals through the admin API. */
async function seed(address: string): Promise<void> {
  const admin = new TaplineClient(address);
  const started = Date.now();
  const parallel = 200;
  for (let t = 0; t < settings.terminals; t++) await admin.registerTerminal(`bench-t${t}`, `bench-m${t % 8}`);
  for (let start = 0; start < settings.cards; start += parallel) {
    const ids = Array.from({ length: Math.min(parallel, settings.cards - start) }, (_, k) => `bench-c${start + k}`);
    await Promise.all(ids.map((id) => admin.issueCard(id, settings.card_balance_minor, 'EUR', 'bench')));
  }
  await admin.issueCard('bench-hot', settings.card_balance_minor, 'EUR', 'bench');
  admin.close();
  log('seeded', { cards: settings.cards + 1, terminals: settings.terminals, seconds: (Date.now() - started) / 1000 });
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
