// Proves the runtime image's file layout runs, without a container runtime or a registry: the
// layout is assembled by the same script the Dockerfile runs (scripts/assemble-image.js) into a
// directory owned by root, with the production dependencies only (what `npm install --omit=dev`
// puts in the image, copied from this checkout), and every entry point is started from it with the
// working directory the image has, as UID 10001 (setpriv), which cannot write a byte of it: the
// authorizer serves gRPC health and reflection and its metrics, the streamer's --migrate-only
// applies the schema on a real ClickHouse 18.16 and exits 0, the reports service answers /healthz.
// Secure as the chart runs them: the authorizer serves TLS and the reports service HTTPS, with the
// test credentials copied where the image's user can read them (as a pod's fsGroup reads its
// Secrets). Without root (no setpriv to another user) the processes run as the current user, and
// the test says so.

import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { get as plainGet } from 'node:http';
import { get } from 'node:https';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { createInterface } from 'node:readline';
import * as grpc from '@grpc/grpc-js';
import { startClickHouse, type ClickHouseInstance } from '../../tools/devenv/clickhouse';
import type { RedisInstance } from '../../tools/devenv/redis';
import { projectRoot } from '../../services/common/paths';
import { startTestRedis, testCredentials, testDataDir, waitFor } from '../support/harness';

const image_uid = 10001;
const start_timeout_ms = 30_000;

interface Started {
  readonly child: ChildProcess;
  readonly lines: string[];
  readonly exited: Promise<number | null>;
}

/** GET over HTTPS, verified against the test CA (the metrics port is plain HTTP: `plain`). */
function httpGet(port: number, path: string, ca?: Buffer): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = ca === undefined ? plainGet : get;
    request({ host: '127.0.0.1', port, path, timeout: 5_000, ca, servername: 'localhost' }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

interface ImageSecurity {
  readonly node: Record<string, string>;
  readonly reports: Record<string, string>;
  readonly ca: Buffer;
}

/**
 * The test credentials the image's processes read, copied into `dir` and owned by the image's user
 * (what a pod's fsGroup does for its mounted Secrets): a node certificate naming the node, the CA,
 * the token issuer's JWKS, the reports service's certificate and its own token.
 */
async function imageSecurity(dir: string, owner: number | undefined): Promise<ImageSecurity> {
  const credentials = await testCredentials();
  mkdirSync(dir, { recursive: true });
  const copy = (path: string, name: string): string => {
    const target = join(dir, name);
    copyFileSync(path, target);
    return target;
  };
  const node = await credentials.node('image-node');
  const server = await credentials.server('reports');
  const ca = copy(credentials.caFile, 'ca.pem');
  const issuers = JSON.stringify([{ issuer: credentials.issuer.issuer, jwks_file: copy(credentials.issuer.jwksFile, 'jwks.json') }]);
  const security: ImageSecurity = {
    node: {
      TAPLINE_NODE_ID: 'image-node',
      TAPLINE_TLS_CERT_FILE: copy(node.cert, 'node.pem'),
      TAPLINE_TLS_KEY_FILE: copy(node.key, 'node-key.pem'),
      TAPLINE_TLS_CLIENT_CA_FILE: ca,
      TAPLINE_TLS_CLUSTER_CA_FILE: ca,
      TAPLINE_OIDC_ISSUERS: issuers,
    },
    reports: {
      TAPLINE_TLS_CERT_FILE: copy(server.cert, 'reports.pem'),
      TAPLINE_TLS_KEY_FILE: copy(server.key, 'reports-key.pem'),
      TAPLINE_AUTHORIZER_CA_FILE: ca,
      TAPLINE_AUTHORIZER_TOKEN_FILE: copy(await credentials.tokenFile('reports', 'image-reports'), 'reports.token'),
      TAPLINE_OIDC_ISSUERS: issuers,
    },
    ca: readFileSync(credentials.caFile),
  };
  if (owner !== undefined) for (const path of [dir, ...readdirSync(dir).map((name) => join(dir, name))]) chownSync(path, owner, owner);
  return security;
}

describe('image layout: the entry points run from the assembled files as a non-root user', function () {
  let layout: string;
  let dropPrivileges: boolean;
  let redis: RedisInstance;
  let clickhouse: ClickHouseInstance;
  let security: ImageSecurity;
  const started: Started[] = [];

  function run(script: string, args: string[], env: Record<string, string>): Started {
    const command = dropPrivileges ? 'setpriv' : process.execPath;
    const prefix = dropPrivileges ? [`--reuid=${image_uid}`, `--regid=${image_uid}`, '--clear-groups', process.execPath] : [];
    const child = spawn(command, [...prefix, script, ...args], {
      cwd: layout,
      // Only what the chart gives a pod: no HOME, no npm, nothing from this checkout.
      env: { PATH: '/usr/bin:/bin', NODE_ENV: 'production', TAPLINE_LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines: string[] = [];
    createInterface({ input: child.stdout }).on('line', (line) => lines.push(line));
    createInterface({ input: child.stderr }).on('line', (line) => lines.push(line));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const entry = { child, lines, exited };
    started.push(entry);
    return entry;
  }

  async function ready(entry: Started, event: string): Promise<Record<string, unknown>> {
    let line: string | undefined;
    await waitFor(
      `the process announces "${event}"`,
      () => (line = entry.lines.find((l) => l.includes(`"event":"${event}"`))) !== undefined || entry.child.exitCode !== null,
      () => entry.lines.slice(-5).join(' | '),
      start_timeout_ms,
    );
    assert.ok(line, `it announced ${event} before exiting: ${entry.lines.join(' | ')}`);
    return JSON.parse(line) as Record<string, unknown>;
  }

  before(async function () {
    this.timeout(120_000);
    const root = projectRoot();
    layout = mkdtempSync(join(tmpdir(), 'tapline-image-'));
    execFileSync(process.execPath, [join(root, 'scripts', 'assemble-image.js'), layout], { stdio: 'ignore' });
    // The production dependencies, as `npm install --omit=dev` lays them out in the image.
    const packages = execFileSync('npm', ['ls', '--omit=dev', '--all', '--parseable'], { cwd: root, encoding: 'utf8' })
      .split('\n')
      .filter((path) => path.includes('node_modules'));
    for (const path of packages) cpSync(path, join(layout, relative(root, path)), { recursive: true, dereference: true });
    assert.ok(!existsSync(join(layout, 'node_modules', 'typescript')), 'no dev dependency in the layout');
    assert.ok(
      !existsSync(join(layout, 'dist', 'test')) && !existsSync(join(layout, 'dist', 'services', 'devenv')),
      'no tests or dev tools',
    );
    chmodSync(layout, 0o755);
    dropPrivileges = process.getuid?.() === 0 && spawnSync('setpriv', ['--version']).status === 0;
    if (!dropPrivileges) process.stdout.write('      (not root: entry points run as the current user, not UID 10001)\n');
    [redis, clickhouse] = await Promise.all([startTestRedis('image-layout'), startClickHouse({ dataDir: testDataDir('image-layout-ch') })]);
    security = await imageSecurity(`${layout}-secrets`, dropPrivileges ? image_uid : undefined);
  });

  afterEach(async function () {
    for (const entry of started.splice(0)) {
      if (entry.child.exitCode === null && entry.child.signalCode === null) entry.child.kill('SIGTERM');
      await entry.exited;
    }
  });

  after(async function () {
    await Promise.all([redis?.stop(), clickhouse?.stop()]);
    if (layout !== undefined) rmSync(layout, { recursive: true, force: true });
    if (layout !== undefined) rmSync(`${layout}-secrets`, { recursive: true, force: true });
  });

  it('the runtime user cannot write into the layout', function () {
    if (!dropPrivileges) this.skip();
    const probe = spawnSync(
      'setpriv',
      [
        `--reuid=${image_uid}`,
        `--regid=${image_uid}`,
        '--clear-groups',
        process.execPath,
        '-e',
        "require('fs').writeFileSync('dist/x', '')",
      ],
      {
        cwd: layout,
        encoding: 'utf8',
      },
    );
    assert.notEqual(probe.status, 0, 'a write into the application files is refused');
    assert.match(probe.stderr, /EACCES/);
  });

  it('the authorizer starts (descriptor set, Lua scripts, generated code all found) and serves gRPC health and metrics', async function () {
    const node = run('dist/services/authorizer/main.js', [], {
      TAPLINE_REDIS_URL: redis.url,
      TAPLINE_GRPC_HOST: '127.0.0.1',
      TAPLINE_GRPC_PORT: '0',
      TAPLINE_INTERNAL_PORT: '0',
      TAPLINE_METRICS_PORT: '0',
      TAPLINE_OPERATOR_PORT: '0',
      TAPLINE_SHARD_COUNT: '16',
      NODE_OPTIONS: '--max-semi-space-size=16',
      ...security.node,
    });
    const serving = await ready(node, 'serving');
    const address = `127.0.0.1:${String(serving['grpcPort'])}`;
    // Health is public on the terminal door: TLS verified against the CA, no client certificate.
    const client = new grpc.Client(address, grpc.credentials.createSsl(security.ca), { 'grpc.ssl_target_name_override': 'localhost' });
    try {
      // grpc.health.v1.HealthCheckRequest { service = "" } is the empty message; SERVING is 1.
      const reply = await new Promise<Buffer>((resolve, reject) =>
        client.makeUnaryRequest(
          '/grpc.health.v1.Health/Check',
          (value: Buffer) => value,
          (value: Buffer) => value,
          Buffer.alloc(0),
          { deadline: Date.now() + 5_000 },
          (error, value) => (error || value === undefined ? reject(error ?? new Error('no reply')) : resolve(value)),
        ),
      );
      assert.deepEqual([...reply], [0x08, 0x01], 'status SERVING');
    } finally {
      client.close();
    }
    const metrics = await httpGet(Number(serving['metricsPort']), '/metrics');
    assert.match(
      metrics.body,
      /^grpc_server_handled_total\{grpc_service="grpc.health.v1.Health",grpc_method="Check",grpc_type="unary",grpc_code="OK"\} 1$/m,
    );
  });

  it('the streamer --migrate-only applies the schema and exits 0; the reports service answers /healthz', async function () {
    const job = run('dist/services/streamer/main.js', ['--migrate-only'], {
      TAPLINE_CLICKHOUSE_URL: clickhouse.url,
      TAPLINE_CLICKHOUSE_DATABASE: 'image_layout',
    });
    assert.equal(await job.exited, 0, job.lines.join(' | '));
    const reports = run('dist/services/reports/main.js', [], {
      TAPLINE_CLICKHOUSE_URL: clickhouse.url,
      TAPLINE_CLICKHOUSE_DATABASE: 'image_layout',
      TAPLINE_REDIS_URL: redis.url,
      TAPLINE_SHARD_COUNT: '16',
      TAPLINE_REPORTS_PORT: '0',
      ...security.reports,
    });
    const serving = await ready(reports, 'serving');
    const health = await httpGet(Number(serving['httpPort']), '/healthz', security.ca);
    assert.equal(health.status, 200);
  });
});
