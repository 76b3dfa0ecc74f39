// `npm run bench`: measures Tapline against a bare gRPC echo server on the same proto, in one run
// on this machine, and prints the figures; the last line is one JSON document whose keys later
// issues extend (ratios.authorize_vs_echo, ...). Everything is real: a private redis-server with
// appendfsync always, an authorizer node process, an echo server process, gRPC over loopback.
// The main figures run over mutual TLS, as production does: the driver's connections present a
// venue gateway's certificate (the terminals' merchant), the echo server asks for a client
// certificate too; ratios.authorize_mtls_vs_plain compares them, round by round, with a second
// node in the plaintext development mode (the same cards, on another Redis database). The TLS node
// is described in a credentials manifest like the one `npm start` writes
// (.bench/credentials/manifest.json), and the driver and the seeding take their CA, gateway
// certificate and operator tokens from it, as any client of the manifest does.
// This process is the load driver (k6 cannot be installed here; loadtest/k6 has the same
// scenario for SREs). Ratios, not absolute numbers, are the point: driver, node and Redis share
// the machine's two cores.

import { execFileSync } from 'node:child_process';
import { createClient } from 'redis';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { manifestAccess, readManifest, type ClientAccess } from '../tools/client/access';
import { writeManifest, type DevCredentials, type DevManifest } from '../tools/devenv/credentials';
import { accessToNode, benchCredentials, benchNodeEnv } from '../tools/devenv/secure-node';
import { role_names } from '../services/common/auth/policy';
import type { H2Tls } from './h2-unary';
import { join } from 'node:path';
import { cpus } from 'node:os';
import { startRedis } from '../tools/devenv/redis';
import { startServerProcess, type ServerProcess } from '../tools/devenv/node-process';
import { startClickHouse } from '../tools/devenv/clickhouse';
import { clickhouseLag, discardOutbox, redisBytesPerAuthorization, streamerCost, waitForDrain } from './streaming';
import { projectRoot } from '../services/common/paths';
import { authorizer_node_flags } from '../services/authorizer/runtime-flags';
import { TaplineClient, purchase } from '../tools/client/tapline-client';
import { fleetRequests, fleetVsCard, seedFleets } from './fleet';
import {
  clients,
  closedLoopStream,
  closedLoopUnary,
  medianOf,
  medianRound,
  openLoopUnary,
  pairedRatio,
  round,
  unaryTargets,
  type PhaseResult,
  type RequestFactory,
  type UnaryTarget,
} from './driver';
import { cpuMicrosPerCall, withCpu } from './cpu';
import { AofWatch } from './aof-watch';
import { clusterPhase } from './cluster';
import { denylistDelta, offlineMergeVsStream, offline_settings } from './offline';
import { replicationPhase } from './replication';

function sumRps(results: PhaseResult[]): number {
  return results.reduce((sum, r) => sum + r.rps, 0);
}

/** The node's default TAPLINE_SHARD_COUNT: the outbox has one stream per shard. */
const shard_count = 256;

const settings = {
  cards: Number(process.env['BENCH_CARDS'] ?? 20_000),
  terminals: 64,
  card_balance_minor: 1_000_000_000_000,
  channels: Number(process.env['BENCH_CHANNELS'] ?? 4),
  concurrency: Number(process.env['BENCH_CONCURRENCY'] ?? 256),
  stream_count: 4,
  stream_frame_items: 100,
  /** Items outstanding per gateway stream: 10 frames (4 x 4,000 had the same throughput with a p50 near 1 s). */
  stream_window_items: 1_000,
  warmup_s: Number(process.env['BENCH_WARMUP_S'] ?? 2),
  measure_s: Number(process.env['BENCH_MEASURE_S'] ?? 4),
  rounds: Number(process.env['BENCH_ROUNDS'] ?? 3),
  /** Alternating rounds with the streamer paused and running; the ratio is of their totals. */
  streamer_rounds: Number(process.env['BENCH_STREAMER_ROUNDS'] ?? 4),
  appendfsync: 'always' as const,
};

const bench_started_ms = Date.now();

/**
 * BENCH_PHASES=offline runs only the offline merge rounds (after the seeding they need) and prints
 * their figures alone: a quick measure while working on the merge path. BENCH_PHASES=redis runs
 * only what Redis keeps and does per authorization: a streamer round, the bytes retained per
 * authorization and the micro commit probe (redis_us_per_commit_entry), with the AOF rewrites they
 * caused; a quick measure while working on the store. Unset, everything runs.
 */
const known_phases = ['all', 'offline', 'redis'];
const bench_phases = (process.env['BENCH_PHASES'] ?? 'all').split(',').map((name) => name.trim());
if (bench_phases.some((name) => !known_phases.includes(name)))
  throw new Error(`BENCH_PHASES names phases this bench does not know: ${bench_phases.join(',')} (${known_phases.join(', ')})`);
const narrow = !bench_phases.includes('all');
const offlineOnly = narrow && bench_phases.includes('offline');
const redisOnly = narrow && bench_phases.includes('redis');

/**
 * Extra V8 flags for the measured node only (BENCH_NODE_FLAGS, split on spaces), for example
 * `--cpu-prof --cpu-prof-dir=.bench/prof` to profile it; empty by default so the figures are
 * those of the flags production runs with.
 */
const extra_node_flags = (process.env['BENCH_NODE_FLAGS'] ?? '').split(' ').filter((flag) => flag !== '');

/** One progress line on stderr, with the seconds since the run started (the 5-minute budget). */
function log(message: string, fields: Record<string, unknown> = {}): void {
  const elapsed_s = ((Date.now() - bench_started_ms) / 1000).toFixed(1);
  process.stderr.write(`[bench +${elapsed_s}s] ${message}${Object.keys(fields).length ? ' ' + JSON.stringify(fields) : ''}\n`);
}

async function main(): Promise<void> {
  const base = join(projectRoot(), '.bench');
  mkdirSync(base, { recursive: true });
  // Data of this run only; removed at the end (a full run writes gigabytes of AOF).
  const runDir = mkdtempSync(join(base, 'run-'));
  const redis = await startRedis({ dataDir: join(runDir, 'redis'), appendfsync: settings.appendfsync });
  const processes: ServerProcess[] = [];
  const stopLast: (() => Promise<void>)[] = [];
  try {
    const credentials = await benchCredentials();
    const node = await startServerProcess({
      script: 'dist/services/authorizer/main.js',
      nodeArgs: [...authorizer_node_flags, ...extra_node_flags],
      env: { ...(await nodeEnv(credentials, 'bench-1', redis.url)) },
    });
    processes.push(node);
    // The same node in the development plaintext mode, on its own Redis database (a node of the
    // same database would join the first one's cluster): the other half of authorize_mtls_vs_plain.
    const plain = await startServerProcess({
      script: 'dist/services/authorizer/main.js',
      nodeArgs: authorizer_node_flags,
      env: { ...(await nodeEnv(credentials, 'bench-plain', `${redis.url}/2`)), TAPLINE_DEV_PLAINTEXT: 'true' },
    });
    processes.push(plain);
    // The echo server runs with the same V8 flags and the same mutual TLS, so the comparison is like for like.
    const echoFiles = await credentials.node('bench-echo');
    const echo = await startServerProcess({
      script: 'dist/tools/echo/main.js',
      nodeArgs: authorizer_node_flags,
      env: { ECHO_TLS_CERT_FILE: echoFiles.cert, ECHO_TLS_KEY_FILE: echoFiles.key, ECHO_TLS_CLIENT_CA_FILE: credentials.caFile },
    });
    processes.push(echo);
    log('servers up', {
      node: node.address,
      plain: plain.address,
      echo: echo.address,
      redis: redis.url,
      appendfsync: settings.appendfsync,
    });

    const manifest = await benchManifest(credentials, node);
    const access = manifestAccess(manifest);
    await seed(access);
    if (!narrow) {
      await seedFleets(access, Date.now());
      await seed(accessToNode(credentials, plain, true));
    }
    // The driver speaks for the benchmark's terminals as a venue gateway of their merchant.
    const gateway = manifest.gateways[0];
    if (gateway === undefined) throw new Error('the bench manifest names no gateway');
    const fromRoot = (path: string): Buffer => readFileSync(join(projectRoot(), path));
    const mtls: H2Tls = {
      ca: fromRoot(manifest.ca),
      cert: fromRoot(gateway.cert),
      key: fromRoot(gateway.key),
      servername: 'localhost',
    };
    const streamCredentials = grpc.credentials.createSsl(mtls.ca, mtls.key, mtls.cert);
    const localName = { 'grpc.ssl_target_name_override': 'localhost' };
    const taplineUnary = unaryTargets(node.address, settings.channels, mtls);
    const plainUnary = unaryTargets(plain.address, settings.channels);
    const echoUnary = unaryTargets(echo.address, settings.channels, mtls);
    const taplineStreams = clients(node.address, settings.channels, streamCredentials, localName);
    const echoStreams = clients(echo.address, settings.channels, streamCredentials, localName);

    // Every request gets a fresh terminal transaction number: keys never repeat across phases.
    let txn = 0;
    const uniform = (i: number) =>
      purchase(`bench-t${i % settings.terminals}`, ++txn, `bench-c${(i * 7919) % settings.cards}`, 1 + (i % 500));
    const hot = (i: number) => purchase(`bench-t${i % settings.terminals}`, ++txn, 'bench-hot', 1 + (i % 500));

    const pids = { driver: process.pid, node: node.pid, redis: redis.pid, echo: echo.pid };
    const cores: Record<string, Record<string, number>> = {};
    const runqueue: Record<string, Record<string, number>> = {};
    const aofRewriteShare: Record<string, number> = {};
    const aof = await AofWatch.connect(redis.url);
    stopLast.unshift(() => aof.close());
    const phase = async (name: string, run: () => Promise<PhaseResult>): Promise<PhaseResult> => {
      const measured = await withCpu(pids, () => aof.during(run));
      const { result, aof_rewrite_share } = measured.result;
      cores[name] = measured.cores;
      runqueue[name] = measured.runqueue;
      aofRewriteShare[name] = aof_rewrite_share;
      log(name, { ...result, cores: measured.cores, runqueue: measured.runqueue, aof_rewrite_share });
      return result;
    };
    const { concurrency, warmup_s, measure_s, rounds } = settings;
    if (redisOnly) {
      const report = await redisPhase(redis, runDir, processes, stopLast, taplineUnary, uniform, aof);
      process.stdout.write(JSON.stringify({ settings, ...report }) + '\n');
      return;
    }
    if (offlineOnly) {
      const offlineMerge = await offlinePhase(credentials, node, taplineStreams, uniform, phase, aof);
      process.stdout.write(
        JSON.stringify({
          settings,
          offline: offlineReport(offlineMerge),
          cpu_cores_used_by_phase: cores,
          cpu_runqueue_wait_by_phase: runqueue,
          ratios: { offline_merge_vs_stream: offlineMerge.ratio },
        }) + '\n',
      );
      return;
    }

    // Throughput: echo, Tapline uniform, Tapline hot card and AuthorizeStream alternate, round
    // after round, so drift of the shared machine affects them alike. Each figure is the median
    // round; each ratio is the median of the ratios within a round (windows seconds apart, not a
    // minute apart: a single window on this VM swings by +-20%).
    const rows: Record<'echo' | 'uniform' | 'plain' | 'hot' | 'stream', PhaseResult[]> = {
      echo: [],
      uniform: [],
      plain: [],
      hot: [],
      stream: [],
    };
    for (let round = 1; round <= rounds; round++) {
      const warmup = round === 1 ? warmup_s : 1;
      rows.echo.push(await phase(`round ${round}: echo unary`, () => closedLoopUnary(echoUnary, uniform, concurrency, warmup, measure_s)));
      rows.uniform.push(
        await phase(`round ${round}: authorize unary, uniform cards`, () =>
          closedLoopUnary(taplineUnary, uniform, concurrency, warmup, measure_s),
        ),
      );
      rows.plain.push(
        await phase(`round ${round}: authorize unary, uniform cards, plaintext development mode`, () =>
          closedLoopUnary(plainUnary, uniform, concurrency, warmup, measure_s),
        ),
      );
      rows.hot.push(
        await phase(`round ${round}: authorize unary, one hot card`, () =>
          closedLoopUnary(taplineUnary, hot, concurrency, warmup, measure_s),
        ),
      );
      rows.stream.push(
        await phase(`round ${round}: authorize stream, uniform cards`, () =>
          closedLoopStream(
            taplineStreams,
            uniform,
            settings.stream_count,
            settings.stream_frame_items,
            settings.stream_window_items,
            warmup,
            measure_s,
          ),
        ),
      );
    }
    // Node CPU per unary call against the echo server's, round by round (from /proc, same windows).
    const cpuPerCall = {
      node_us: rows.uniform.map((r, i) => cpuMicrosPerCall(cores[`round ${i + 1}: authorize unary, uniform cards`]?.['node'], r)),
      echo_us: rows.echo.map((r, i) => cpuMicrosPerCall(cores[`round ${i + 1}: echo unary`]?.['echo'], r)),
    };
    const echoPeak = medianRound(rows.echo);
    const authorize = medianRound(rows.uniform);
    const authorizePlain = medianRound(rows.plain);
    const hotCard = medianRound(rows.hot);
    const stream = medianRound(rows.stream);
    // Fleet cards (account + card in one commit, product restriction, prompts, negotiated price)
    // against plain cards, alternating rounds of their own (loadtest/fleet.ts).
    const fleetPhase = await fleetVsCard(
      taplineUnary,
      uniform,
      fleetRequests(settings.terminals, () => ++txn),
      { concurrency, warmup_s, measure_s, rounds },
      phase,
    );
    const echoStream = await phase('echo stream', () =>
      closedLoopStream(
        echoStreams,
        uniform,
        settings.stream_count,
        settings.stream_frame_items,
        settings.stream_window_items,
        1,
        measure_s,
      ),
    );

    // Latency at half of Tapline's peak, open loop, the same rate for both; median of rounds.
    const halfRate = Math.max(1, Math.floor(authorize.rps / 2));
    const halves: Record<'tapline' | 'echo', PhaseResult[]> = { tapline: [], echo: [] };
    for (let round = 1; round <= rounds; round++) {
      halves.tapline.push(
        await phase(`round ${round}: authorize unary at half of peak (${halfRate}/s)`, () =>
          openLoopUnary(taplineUnary, uniform, halfRate, 1, measure_s),
        ),
      );
      halves.echo.push(
        await phase(`round ${round}: echo unary at ${halfRate}/s`, () => openLoopUnary(echoUnary, uniform, halfRate, 1, measure_s)),
      );
    }
    const authorizeHalf = medianRound(halves.tapline, (r) => r.p99_ms);
    const echoHalf = medianRound(halves.echo, (r) => r.p99_ms);

    // Offline selling: uploads merged against gateway streams, round by round, then the latency of
    // a 1,000-change denylist delta over a million listed cards (loadtest/offline.ts).
    // Both over the doors' mutual TLS: each offline terminal uploads with its own certificate.
    const offlineAccess = accessToNode(credentials, node);
    const offlineMerge = await offlinePhase(credentials, node, taplineStreams, uniform, phase, aof);
    const denylist = await denylistDelta(offlineAccess, redis.url, shard_count, log);
    log('denylist delta', denylist);

    // Reporting path: ClickHouse and a streamer join; what they cost the authorization path and
    // how soon an approval is queryable there.
    const discarded = await discardOutbox(redis.url, shard_count);
    const { streamer, clickhouseUrl } = await startReporting(redis.url, runDir, processes, stopLast);
    log('streamer up; the outbox of the phases above was discarded', { clickhouse: clickhouseUrl, discarded });
    const undrained = await waitForDrain(redis.url, shard_count);
    if (undrained > 0) log('streamer did not drain the outbox in time; measuring anyway', { undrained });
    const cost = await streamerCost(
      streamer,
      redis.url,
      clickhouseUrl,
      shard_count,
      taplineUnary,
      uniform,
      concurrency,
      measure_s,
      settings.streamer_rounds,
      (name, result) => log(name, { ...result }),
    );
    const lag = await clickhouseLag(clickhouseUrl, taplineUnary, uniform, halfRate, measure_s * 2);
    log(`clickhouse lag at ${halfRate}/s`, lag);
    // What an authorization leaves in Redis once the streamer has caught up (idempotency record,
    // card state growth, anything the outbox keeps after streaming).
    const retained = await redisBytesPerAuthorization(redis.url, shard_count, taplineUnary, uniform, concurrency, measure_s);
    log('redis bytes per authorization retained', retained);

    for (const client of [...taplineUnary, ...plainUnary, ...echoUnary, ...taplineStreams, ...echoStreams]) client.close();
    // Where one authorization's node CPU goes, without gRPC (see loadtest/micro.ts). It runs in
    // Redis database 1: the benchmark's node still holds the shards of database 0 and would fence
    // the probe's commits.
    const micro = { ...runMicro(redis.url), ...runOfflineMicro(redis.url) };
    log('micro', micro);
    // Cluster: forwarding cost, hand-off windows and memory per card (loadtest/cluster.ts, ~45 s).
    // It runs on its own Redis after the single-node phases, so it does not disturb them.
    const cluster = await clusterPhase(runDir, log, credentials);
    // Redis replication: commits acknowledged after one replica vs none, and the wait a primary's
    // loss costs clients (loadtest/replication.ts, ~1 min, on Redis servers of its own).
    const replication = await replicationPhase(runDir, log, credentials);
    const errors = [...rows.echo, ...rows.uniform, ...rows.plain, ...rows.hot, ...rows.stream, ...halves.tapline, ...halves.echo].reduce(
      (sum, r) => sum + r.errors,
      0,
    );
    const report = {
      machine: { cpu_cores: cpus().length, node: process.version },
      settings: { ...settings, redis_appendfsync: settings.appendfsync },
      echo: { unary: echoPeak, stream: echoStream, half_load: echoHalf },
      // Over mutual TLS (a gateway certificate), except unary_plaintext: the development plaintext mode.
      authorize: { unary: authorize, unary_plaintext: authorizePlain, stream, hot_card: hotCard, half_load: authorizeHalf },
      fleet: { unary: fleetPhase.fleet, plain_unary: fleetPhase.card, fleet_rps: fleetPhase.fleet_rps, plain_rps: fleetPhase.card_rps },
      rounds: {
        stream_rps: rows.stream.map((r) => r.rps),
        echo_rps: rows.echo.map((r) => r.rps),
        authorize_rps: rows.uniform.map((r) => r.rps),
        authorize_plaintext_rps: rows.plain.map((r) => r.rps),
        hot_card_rps: rows.hot.map((r) => r.rps),
        authorize_half_p99_ms: halves.tapline.map((r) => r.p99_ms),
        echo_half_p99_ms: halves.echo.map((r) => r.p99_ms),
        stream_vs_authorize: rows.stream.map((r, i) => round(r.rps / Math.max(rows.uniform[i]?.rps ?? 0, 0.001))),
        p99_vs_echo_p99: halves.tapline.map((r, i) => round(r.p99_ms / Math.max(halves.echo[i]?.p99_ms ?? 0, 0.001))),
        node_cpu_us_per_call: cpuPerCall.node_us,
        echo_cpu_us_per_call: cpuPerCall.echo_us,
        node_cpu_per_call_vs_echo: cpuPerCall.node_us.map((node, i) => round(node / Math.max(cpuPerCall.echo_us[i] ?? 0, 0.001))),
      },
      // Durable authorizations per second over AuthorizeStream (median round): context, not a goal.
      stream_items_per_s: stream.rps,
      redis_bytes_per_authorization: retained.bytes_per_authorization,
      redis_retained: retained,
      errors,
      cpu_cores_used_by_phase: cores,
      cpu_runqueue_wait_by_phase: runqueue,
      // Share of each phase during which Redis was rewriting its AOF (loadtest/aof-watch.ts).
      redis_aof_rewrite_share_by_phase: aofRewriteShare,
      micro,
      streamer: {
        authorize_rps_with: cost.with.map((r) => r.rps),
        authorize_rps_without: cost.without.map((r) => r.rps),
        outbox_left_before_rounds: [undrained, ...cost.undrained],
        merge_wait_ms: cost.merge_wait_ms,
      },
      clickhouse_lag_ms: lag,
      offline: offlineReport(offlineMerge),
      denylist_delta_ms: denylist,
      cluster: {
        single: cluster.single,
        cluster3: cluster.cluster3,
        cores: cluster.cores,
        handoff_baseline_ms: cluster.handoff_baseline_ms,
        handoff_errors: cluster.handoff_errors,
        memory: cluster.memory,
      },
      bytes_per_active_card: cluster.memory.bytes_per_active_card,
      handoff_unavailable_ms: cluster.handoff_unavailable_ms,
      replication: {
        local_rps: replication.local.map((r) => r.rps),
        wait1_rps: replication.wait1.map((r) => r.rps),
        local_p50_ms: replication.local.map((r) => r.p50_ms),
        wait1_p50_ms: replication.wait1.map((r) => r.p50_ms),
        failover_requests_caught: replication.failover_requests_caught,
        sentinel_failover_ms: replication.sentinel_failover_ms,
      },
      failover_unavailable_ms: replication.failover_unavailable_ms,
      ratios: {
        authorize_vs_echo: pairedRatio(rows.uniform, rows.echo, (r) => r.rps),
        // Unary Authorize over mutual TLS against the plaintext development mode, round by round.
        authorize_mtls_vs_plain: pairedRatio(rows.uniform, rows.plain, (r) => r.rps),
        stream_vs_authorize: pairedRatio(rows.stream, rows.uniform, (r) => r.rps),
        hot_card_vs_uniform: pairedRatio(rows.hot, rows.uniform, (r) => r.rps),
        p99_vs_echo_p99: pairedRatio(halves.tapline, halves.echo, (r) => r.p99_ms),
        // Alternating rounds (streamer_rounds each): the ratio of their totals (robust to one slow window).
        authorize_with_streamer_vs_without: round(sumRps(cost.with) / sumRps(cost.without)),
        fleet_vs_card: fleetPhase.fleet_vs_card,
        cluster3_vs_single: cluster.ratios.cluster3_vs_single,
        offline_merge_vs_stream: offlineMerge.ratio,
        authorize_wait1_vs_local: replication.authorize_wait1_vs_local,
        node_cpu_per_call_vs_echo: round(medianOf(cpuPerCall.node_us.map((node, i) => node / Math.max(cpuPerCall.echo_us[i] ?? 0, 0.001)))),
      },
    };
    process.stdout.write(JSON.stringify(report) + '\n');
  } finally {
    for (const child of processes.reverse()) await child.terminate().catch(() => undefined);
    for (const stop of stopLast) await stop().catch(() => undefined);
    await redis.stop();
    rmSync(runDir, { recursive: true, force: true });
  }
}

/**
 * Where one authorization's node CPU goes, without gRPC (see loadtest/micro.ts), in Redis database
 * 1: the benchmark's node still holds the shards of database 0 and would fence the probe's
 * commits. `probes` names the probes to run (all of them when absent).
 */
function runMicro(redisUrl: string, probes?: string): Record<string, number> {
  const args = [...authorizer_node_flags, join(projectRoot(), 'dist/loadtest/micro.js'), `${redisUrl}/1`];
  if (probes !== undefined) args.push(probes);
  return JSON.parse(execFileSync(process.execPath, args, { encoding: 'utf8' })) as Record<string, number>;
}

/**
 * Where one merged offline entry's node and Redis CPU go, without gRPC (loadtest/offline-micro.ts),
 * in Redis database 3 (its cards and terminals are the offline phase's names; the benchmark's node
 * holds database 0). Its keys join `micro`.
 */
function runOfflineMicro(redisUrl: string): Record<string, number> {
  const args = [...authorizer_node_flags, join(projectRoot(), 'dist/loadtest/offline-micro.js'), `${redisUrl}/3`];
  const probe = JSON.parse(execFileSync(process.execPath, args, { encoding: 'utf8' })) as Record<string, number>;
  const keys = ['domain_us_per_offline_entry', 'gc_us_per_offline_entry', 'redis_us_per_offline_entry'];
  return Object.fromEntries(keys.map((key) => [key, probe[key] ?? NaN]));
}

/** ClickHouse and a streamer reading the run's Redis: the reporting path the streaming phases measure. */
async function startReporting(
  redisUrl: string,
  runDir: string,
  processes: ServerProcess[],
  stopLast: (() => Promise<void>)[],
): Promise<{ streamer: ServerProcess; clickhouseUrl: string }> {
  const clickhouse = await startClickHouse({ dataDir: join(runDir, 'clickhouse') });
  stopLast.push(() => clickhouse.stop());
  const streamer = await startServerProcess({
    script: 'dist/services/streamer/main.js',
    env: {
      TAPLINE_REDIS_URL: redisUrl,
      TAPLINE_CLICKHOUSE_URL: clickhouse.url,
      TAPLINE_METRICS_PORT: '-1',
      TAPLINE_LOG_LEVEL: 'warn',
      TAPLINE_NODE_ID: 'bench-streamer',
    },
    onLine: (line) => {
      if (line.includes('"level":40') || line.includes('"level":50')) process.stderr.write(`[streamer] ${line.slice(0, 600)}\n`);
    },
  });
  processes.push(streamer);
  return { streamer, clickhouseUrl: clickhouse.url };
}

/** AOF rewrites Redis completed since it started and the AOF's current size in bytes (INFO persistence). */
async function aofFigures(redisUrl: string): Promise<{ rewrites: number; size: number }> {
  const client = createClient({ url: redisUrl });
  await client.connect();
  try {
    const info = await client.info('persistence');
    const field = (name: string): number => Number(new RegExp(`${name}:([0-9]+)`).exec(info)?.[1] ?? NaN);
    return { rewrites: field('aof_rewrites'), size: field('aof_current_size') };
  } finally {
    await client.close();
  }
}

/**
 * BENCH_PHASES=redis: one streamer round (paused, then running), the bytes an authorization leaves
 * in Redis once streamed, and the micro commit probe; with the AOF rewrites of the first two. The
 * keys are the full run's (redis_bytes_per_authorization, redis_retained, micro.redis_us_per_commit_entry).
 */
async function redisPhase(
  redis: { readonly url: string },
  runDir: string,
  processes: ServerProcess[],
  stopLast: (() => Promise<void>)[],
  targets: UnaryTarget[],
  next: RequestFactory,
  aof: AofWatch,
): Promise<Record<string, unknown>> {
  const { streamer, clickhouseUrl } = await startReporting(redis.url, runDir, processes, stopLast);
  const aofBefore = await aofFigures(redis.url);
  const { concurrency, measure_s } = settings;
  const stream = await aof.during(() =>
    streamerCost(streamer, redis.url, clickhouseUrl, shard_count, targets, next, concurrency, measure_s, 1, (name, result) =>
      log(name, { ...result }),
    ),
  );
  const aofBeforeRetained = await aofFigures(redis.url);
  const retained = await aof.during(() => redisBytesPerAuthorization(redis.url, shard_count, targets, next, concurrency, measure_s));
  log('redis bytes per authorization retained', retained.result);
  const aofAfter = await aofFigures(redis.url);
  // AOF bytes an authorization appends (its commit and its trim once streamed): what brings the
  // next rewrite closer (auto-aof-rewrite-percentage). Meaningless if a rewrite ran in between.
  const aofBytesPerAuthorization =
    aofAfter.rewrites === aofBeforeRetained.rewrites
      ? round((aofAfter.size - aofBeforeRetained.size) / Math.max(retained.result.authorizations, 1), 1)
      : undefined;
  const micro = runMicro(redis.url, 'commit');
  log('micro', micro);
  return {
    redis_bytes_per_authorization: retained.result.bytes_per_authorization,
    redis_retained: retained.result,
    redis_aof_rewrite_share_by_phase: { stream: stream.aof_rewrite_share, retained: retained.aof_rewrite_share },
    redis_aof_rewrites: aofAfter.rewrites - aofBefore.rewrites,
    redis_aof_bytes_per_authorization: aofBytesPerAuthorization,
    streamer: { authorize_rps_with: stream.result.with.map((r) => r.rps), authorize_rps_without: stream.result.without.map((r) => r.rps) },
    micro,
  };
}

type Phase = (name: string, run: () => Promise<PhaseResult>) => Promise<PhaseResult>;
type OfflineMerge = Awaited<ReturnType<typeof offlineMergeVsStream>>;

/**
 * Offline selling: uploads merged against gateway streams, round by round (loadtest/offline.ts),
 * over the doors' mutual TLS: each offline terminal uploads with its own certificate.
 */
function offlinePhase(
  credentials: DevCredentials,
  node: ServerProcess,
  streams: ReturnType<typeof clients>,
  uniform: RequestFactory,
  phase: Phase,
  aof: AofWatch,
): Promise<OfflineMerge> {
  return offlineMergeVsStream(
    accessToNode(credentials, node),
    () =>
      closedLoopStream(
        streams,
        uniform,
        settings.stream_count,
        settings.stream_frame_items,
        settings.stream_window_items,
        1,
        settings.measure_s,
      ),
    settings.rounds,
    // The uploads' window is the streams' (warm-up 1 s, as each offline comparison stream has).
    { warmup_s: 1, measure_s: settings.measure_s },
    phase,
    aof,
    log,
  );
}

function offlineReport(merge: OfflineMerge): Record<string, unknown> {
  return {
    merge_entries_per_s: merge.merge.map((r) => r.result.rps),
    stream_items_per_s: merge.stream.map((r) => r.result.rps),
    // What each side appends to the AOF per item: the rewrites it brings on in steady state.
    aof_bytes_per_merged_entry: merge.merge.map((r) => r.aof_bytes_per_item),
    aof_bytes_per_streamed_item: merge.stream.map((r) => r.aof_bytes_per_item),
    batch_entries: offline_settings.batch_entries,
    terminals: offline_settings.terminals,
  };
}

/** The benchmark's merchant: every terminal bench-t<i> belongs to it, and its gateway speaks for them. */
const bench_merchant = 'bench-m';

/** Writes the manifest of the benchmark's TLS node (no reports service runs: its endpoint is empty) and reads it back. */
async function benchManifest(credentials: DevCredentials, node: ServerProcess): Promise<DevManifest> {
  const path = await writeManifest(
    credentials,
    {
      endpoints: {
        terminal: node.address,
        operator: node.operatorAddress ?? '',
        internal: `127.0.0.1:${node.internalPort ?? 0}`,
        reports: '',
      },
      terminals: [],
      gateways: [bench_merchant],
      nodes: ['bench-1'],
      roles: role_names,
    },
    projectRoot(),
  );
  return readManifest(path);
}

/** A benchmark node's environment: Redis, free ports, quiet logs and the run's credentials. */
async function nodeEnv(credentials: DevCredentials, nodeId: string, redisUrl: string): Promise<Record<string, string>> {
  return {
    TAPLINE_REDIS_URL: redisUrl,
    TAPLINE_GRPC_PORT: '0',
    TAPLINE_INTERNAL_PORT: '0',
    TAPLINE_METRICS_PORT: '-1',
    TAPLINE_LOG_LEVEL: 'warn',
    ...(await benchNodeEnv(credentials, nodeId)),
  };
}

/** Issues the benchmark's cards and terminals through the operator API. */
async function seed(access: ClientAccess): Promise<void> {
  const admin = new TaplineClient(access);
  const started = Date.now();
  const parallel = 200;
  for (let t = 0; t < settings.terminals; t++) await admin.registerTerminal(`bench-t${t}`, bench_merchant);
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
