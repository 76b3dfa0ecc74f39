// Proves what `npm start` hands a newcomer, by running it (tools/devenv/up.ts, the script behind
// `npm start`) on free ports with its data in a test folder: Redis, ClickHouse, a node, the
// streamer and the reports service come up, secure by default, and
// .data/dev-credentials/manifest.json (here under the test folder) has exactly the documented
// shape, with paths relative to the repository root. Then, as an outside client would, everything
// the manifest names is used: each terminal's and the gateway's certificate at the terminal door,
// a node's certificate names its node, an operator token at the operator door, the reports service
// over HTTPS with a token; the internal door refuses a terminal certificate; and no door answers
// in plaintext. SIGTERM stops everything it started.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { createInterface } from 'node:readline';
import * as grpc from '@grpc/grpc-js';
import { AuthorizationServiceClient } from '../../gen/tapline/v1/authorization';
import { ClusterServiceClient } from '../../gen/tapline/internal/v1/cluster';
import { Outcome } from '../../gen/tapline/v1/types';
import { nodeIdOfCertificate } from '../../services/common/auth/certificates';
import { role_names } from '../../services/common/auth/policy';
import { projectRoot } from '../../services/common/paths';
import { manifestAccess, readManifest } from '../../tools/client/access';
import { httpRequest } from '../../tools/client/http';
import { TaplineClient, purchase } from '../../tools/client/tapline-client';
import type { DevManifest } from '../../tools/devenv/credentials';
import { track } from '../../tools/devenv/node-process';
import { testDataDir } from '../support/harness';

/** ClickHouse, a node, the streamer, the reports service and the demo, on a loaded 2-core machine. */
const up_ready_timeout_ms = 240_000;
const up_stop_timeout_ms = 90_000;

interface Up {
  readonly child: ChildProcess;
  readonly lines: string[];
  readonly exited: Promise<number | null>;
}

function startUp(dataDir: string): Up {
  const ports = [
    'TAPLINE_UP_GRPC_PORT',
    'TAPLINE_UP_OPERATOR_PORT',
    'TAPLINE_UP_METRICS_PORT',
    'TAPLINE_UP_REDIS_PORT',
    'TAPLINE_UP_CLICKHOUSE_HTTP_PORT',
    'TAPLINE_UP_CLICKHOUSE_TCP_PORT',
    'TAPLINE_UP_REPORTS_PORT',
    'TAPLINE_UP_PORTAL_PORT',
  ];
  const child = spawn(process.execPath, [join(projectRoot(), 'dist/tools/devenv/up.js')], {
    env: {
      ...process.env,
      ...Object.fromEntries(ports.map((name) => [name, '0'])),
      TAPLINE_UP_DATA_DIR: dataDir,
      TAPLINE_NODES: '1',
      TAPLINE_LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  track(child);
  const lines: string[] = [];
  createInterface({ input: child.stdout }).on('line', (line) => lines.push(line));
  createInterface({ input: child.stderr }).on('line', (line) => lines.push(`stderr: ${line}`));
  return { child, lines, exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))) };
}

async function untilServing(up: Up): Promise<void> {
  const deadline = Date.now() + up_ready_timeout_ms;
  for (;;) {
    if (up.lines.some((line) => line.startsWith('serving (Ctrl-C'))) return;
    if (up.child.exitCode !== null || Date.now() > deadline)
      throw new Error(
        `npm start: expected "serving" within ${up_ready_timeout_ms} ms (exit ${String(up.child.exitCode)}); output:\n${up.lines.join('\n')}`,
      );
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

function unary<T>(call: (callback: (error: grpc.ServiceError | null, value?: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => call((error, value) => (error ? reject(error) : resolve(value as T))));
}

const localName = { 'grpc.ssl_target_name_override': 'localhost' };

describe('npm start: a secure local environment and its credentials manifest (real processes)', function () {
  this.timeout(up_ready_timeout_ms + up_stop_timeout_ms);
  let up: Up | undefined;
  let manifest: DevManifest;
  const root = projectRoot();
  const file = (path: string): Buffer => readFileSync(join(root, path));

  before(async function () {
    const dataDir = testDataDir('up');
    up = startUp(dataDir);
    await untilServing(up);
    manifest = readManifest(join(dataDir, 'dev-credentials', 'manifest.json'));
  });

  after(async function () {
    if (up === undefined || up.child.exitCode !== null) return;
    up.child.kill('SIGTERM');
    const timer = setTimeout(() => up?.child.kill('SIGKILL'), up_stop_timeout_ms);
    await up.exited;
    clearTimeout(timer);
  });

  it('writes the manifest in exactly the documented shape, paths relative to the repository root', () => {
    assert.deepEqual(Object.keys(manifest).sort(), ['ca', 'endpoints', 'gateways', 'nodes', 'operators', 'terminals']);
    assert.deepEqual(Object.keys(manifest.endpoints).sort(), ['internal', 'operator', 'reports', 'terminal']);
    for (const door of ['terminal', 'operator', 'internal'] as const)
      assert.match(manifest.endpoints[door], /^127\.0\.0\.1:[1-9][0-9]*$/, door);
    assert.match(manifest.endpoints.reports, /^https:\/\/127\.0\.0\.1:[1-9][0-9]*$/);
    const paths = [manifest.ca];
    for (const entry of manifest.terminals) {
      assert.deepEqual(Object.keys(entry).sort(), ['cert', 'key', 'terminal_id']);
      paths.push(entry.cert, entry.key);
    }
    for (const entry of manifest.gateways) {
      assert.deepEqual(Object.keys(entry).sort(), ['cert', 'key', 'merchant_id']);
      paths.push(entry.cert, entry.key);
    }
    for (const entry of manifest.nodes) {
      assert.deepEqual(Object.keys(entry).sort(), ['cert', 'key', 'node_id']);
      paths.push(entry.cert, entry.key);
    }
    for (const path of paths) {
      assert.ok(!isAbsolute(path), `${path} is relative`);
      assert.ok(existsSync(join(root, path)), `${path} exists from the repository root`);
    }
    assert.ok(manifest.terminals.length >= 5 && manifest.gateways.length >= 1 && manifest.nodes.length === 1);
    assert.deepEqual(manifest.operators.map((operator) => operator.role).sort(), [...role_names].sort(), 'a token per role');
    for (const operator of manifest.operators) {
      assert.deepEqual(Object.keys(operator).sort(), ['role', 'scope', 'subject', 'token']);
      const claims = JSON.parse(Buffer.from(operator.token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
      assert.equal(claims['sub'], operator.subject);
      assert.deepEqual(claims['tapline_roles'], [{ role: operator.role, scope: operator.scope }]);
    }
  });

  it('everything the manifest names gets in at its door, and nothing answers in plaintext', async () => {
    const access = manifestAccess(manifest);
    const client = new TaplineClient(access);
    try {
      // An operator token issues a card; each terminal's certificate pays with it at its own id.
      await client.issueCard('manifest-card', 10_000);
      // The demo used the first numbers of its terminals.
      let txn = 1_000_000;
      for (const terminal of manifest.terminals) {
        const reply = await client.authorize(purchase(terminal.terminal_id, txn++, 'manifest-card', 100));
        assert.equal(reply.outcome, Outcome.OUTCOME_APPROVED, `${terminal.terminal_id}: ${String(reply.declineReason)}`);
      }
      // The gateway's certificate reads a balance at the terminal door.
      const gateway = manifest.gateways[0] as DevManifest['gateways'][number];
      const viaGateway = new AuthorizationServiceClient(
        manifest.endpoints.terminal,
        grpc.credentials.createSsl(file(manifest.ca), file(gateway.key), file(gateway.cert)),
        localName,
      );
      const balance = await unary<{ balance?: { amountMinor: bigint } }>((cb) => viaGateway.getBalance({ cardId: 'manifest-card' }, cb));
      assert.equal(balance.balance?.amountMinor, BigInt(10_000 - 100 * manifest.terminals.length));
      viaGateway.close();
      for (const node of manifest.nodes) assert.equal(nodeIdOfCertificate(file(node.cert), 'tapline'), node.node_id);
      // The internal door admits nodes only: a terminal's certificate is refused.
      const terminal = manifest.terminals[0] as DevManifest['terminals'][number];
      const intruder = new ClusterServiceClient(
        manifest.endpoints.internal,
        grpc.credentials.createSsl(file(manifest.ca), file(terminal.key), file(terminal.cert)),
        localName,
      );
      const stream = intruder.forward();
      const refused = await new Promise<grpc.ServiceError>((resolve) => stream.on('error', resolve));
      assert.ok([grpc.status.PERMISSION_DENIED, grpc.status.UNAUTHENTICATED].includes(refused.code), refused.details);
      intruder.close();
      // No door speaks plaintext.
      const plain = new AuthorizationServiceClient(manifest.endpoints.terminal, grpc.credentials.createInsecure());
      await assert.rejects(
        unary((cb) => plain.getBalance({ cardId: 'manifest-card' }, new grpc.Metadata(), { deadline: Date.now() + 5_000 }, cb)),
        (error: grpc.ServiceError) => error.code === grpc.status.UNAVAILABLE || error.code === grpc.status.DEADLINE_EXCEEDED,
      );
      plain.close();
      // The reports service: HTTPS with the manifest's CA and an analyst's token.
      const analyst = manifest.operators.find((operator) => operator.role === 'analyst');
      const report = await httpRequest(`${manifest.endpoints.reports}/reports/float?currency=EUR`, {
        token: analyst?.token,
        ca: file(manifest.ca),
      });
      assert.equal(report.status, 200, report.body);
      const anonymous = await httpRequest(`${manifest.endpoints.reports}/reports/float?currency=EUR`, { ca: file(manifest.ca) });
      assert.equal(anonymous.status, 401);
    } finally {
      client.close();
    }
  });

  it('prints the portal URL and demo logins, and a printed login signs in over HTTPS', async () => {
    const lines = (up as Up).lines;
    const url = /^portal\s+(https:\/\/localhost:\d+)\//.exec(lines.find((line) => line.startsWith('portal ')) ?? '')?.[1];
    assert.ok(url !== undefined, `the portal line: ${lines.join('\n')}`);
    const login = /^\s+issuer_admin\s+(\S+) \/ (\S+)/.exec(lines.find((line) => /^\s+issuer_admin /.test(line)) ?? '');
    assert.ok(login !== null && lines.some((line) => /^\s+cardholder\s+card \S+, PIN \d+/.test(line)), 'demo logins printed');
    const page = await httpRequest(`${url}/login`, { ca: file(manifest.ca) });
    assert.equal(page.status, 200);
    const cookie = String(page.headers['set-cookie']?.[0] ?? '').split(';', 1)[0] ?? '';
    const csrf = /name="_csrf" value="([^"]+)"/.exec(page.body)?.[1] ?? '';
    const body = new URLSearchParams({ _csrf: csrf, username: login[1] ?? '', password: login[2] ?? '' }).toString();
    const signedIn = await httpRequest(`${url}/login/staff`, {
      method: 'POST',
      body,
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
      ca: file(manifest.ca),
    });
    assert.deepEqual([signedIn.status, signedIn.headers['location']], [303, '/organizer'], signedIn.body);
  });

  it('stops everything it started on SIGTERM', async () => {
    const started = up as Up;
    started.child.kill('SIGTERM');
    const timer = setTimeout(() => started.child.kill('SIGKILL'), up_stop_timeout_ms);
    const code = await started.exited;
    clearTimeout(timer);
    assert.equal(code, 0, started.lines.slice(-20).join('\n'));
  });
});
