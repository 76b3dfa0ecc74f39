// Proves the streamer's process entry as the chart runs it, with real processes, a real Redis and
// a real ClickHouse 18.16: its liveness endpoint answers while ClickHouse is unreachable and the
// migrations wait (so a slow ClickHouse never restarts it in a loop) while readiness says it is
// not streaming yet; `--migrate-only` applies the schema and exits 0 (the migration Job);
// `--skip-migrations` then streams at once against that schema; an unknown flag is refused.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { get } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { startClickHouse, type ClickHouseInstance } from '../../tools/devenv/clickhouse';
import type { RedisInstance } from '../../tools/devenv/redis';
import { projectRoot } from '../../services/common/paths';
import { startTestRedis, testDataDir, waitFor } from '../support/harness';
import { streamerEnv } from '../support/outbox-fixtures';

const streamer_script = 'dist/services/streamer/main.js';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : -1;
      server.close(() => resolve(port));
    });
  });
}

function httpStatus(port: number, path: string): Promise<number> {
  return new Promise((resolve) => {
    get({ host: '127.0.0.1', port, path, timeout: 2_000 }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    }).on('error', () => resolve(0));
  });
}

interface Run {
  readonly child: ChildProcess;
  readonly lines: string[];
  readonly exited: Promise<number | null>;
}

function runStreamer(args: string[], env: Record<string, string>): Run {
  const child = spawn(process.execPath, [join(projectRoot(), streamer_script), ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  createInterface({ input: child.stdout }).on('line', (line) => lines.push(line));
  createInterface({ input: child.stderr }).on('line', (line) => lines.push(line));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, lines, exited };
}

async function stop(run: Run): Promise<void> {
  if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill('SIGKILL');
  await run.exited;
}

describe('streamer process: probes, --migrate-only, --skip-migrations (real ClickHouse 18.16)', function () {
  let redis: RedisInstance;
  let clickhouse: ClickHouseInstance;
  const runs: Run[] = [];

  before(async function () {
    [redis, clickhouse] = await Promise.all([
      startTestRedis('streamer-process'),
      startClickHouse({ dataDir: testDataDir('streamer-process-ch') }),
    ]);
  });

  afterEach(async function () {
    await Promise.all(runs.splice(0).map(stop));
  });

  after(async function () {
    await Promise.all([redis?.stop(), clickhouse?.stop()]);
  });

  it('is live (/healthz 200) and not ready (/readyz 503) while ClickHouse is unreachable', async function () {
    const metricsPort = await freePort();
    const nowhere = `http://127.0.0.1:${await freePort()}`;
    const run = runStreamer([], streamerEnv(redis.url, nowhere, 'never_created', { TAPLINE_METRICS_PORT: String(metricsPort) }));
    runs.push(run);
    let health = 0;
    let readiness = 0;
    await waitFor(
      'a streamer retrying its migrations answers its liveness probe',
      async () => {
        health = await httpStatus(metricsPort, '/healthz');
        readiness = await httpStatus(metricsPort, '/readyz');
        return health === 200 && run.lines.some((line) => line.includes('migrations failed; retrying'));
      },
      () => `/healthz ${health}, /readyz ${readiness}; output: ${run.lines.slice(-5).join(' | ')}`,
      20_000,
    );
    assert.equal(readiness, 503, 'not ready: it is not streaming');
    assert.equal(run.child.exitCode, null, 'still running');
  });

  it('--migrate-only applies the schema and exits 0; --skip-migrations then streams and is ready', async function () {
    const database = 'migrate_job';
    const job = runStreamer(['--migrate-only'], streamerEnv(redis.url, clickhouse.url, database));
    runs.push(job);
    assert.equal(await job.exited, 0, `the migration run exits 0; output: ${job.lines.join(' | ')}`);
    assert.ok(job.lines.some((line) => line.includes('"event":"migrated"')));
    const response = await fetch(
      `${clickhouse.url}/?query=${encodeURIComponent(`SELECT count() FROM ${database}.tapline_schema_migrations`)}`,
    );
    assert.ok(Number((await response.text()).trim()) > 0, 'migrations are recorded');

    const metricsPort = await freePort();
    const streamer = runStreamer(
      ['--skip-migrations'],
      streamerEnv(redis.url, clickhouse.url, database, { TAPLINE_METRICS_PORT: String(metricsPort) }),
    );
    runs.push(streamer);
    let readiness = 0;
    await waitFor(
      'a streamer started with --skip-migrations becomes ready',
      async () => (readiness = await httpStatus(metricsPort, '/readyz')) === 200,
      () => `/readyz ${readiness}; output: ${streamer.lines.slice(-5).join(' | ')}`,
      20_000,
    );
    assert.ok(!streamer.lines.some((line) => line.includes('migration applied')), 'it applied no migration itself');
  });

  it('refuses an unknown flag and exits 1', async function () {
    const run = runStreamer(['--migrate'], streamerEnv(redis.url, clickhouse.url, 'unused'));
    runs.push(run);
    assert.equal(await run.exited, 1);
    assert.ok(
      run.lines.some((line) => line.includes('unknown argument')),
      run.lines.join(' | '),
    );
  });
});
