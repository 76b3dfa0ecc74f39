// `npm start`: a working local Tapline on this machine. Starts Redis (AOF, fsync always) and
// ClickHouse on private ports with data under .data/, starts authorizer node(s), issues demo
// cards and terminals, runs a short burst of real authorizations over gRPC and an offline terminal
// (tools/offline-terminal: sync, sales while the network is down, a signed upload, debt paid back;
// devenv/offline-demo.ts), prints what happened, and keeps serving until Ctrl-C (then stops
// everything it started, in order).
//
// Options: `--nodes N` (or TAPLINE_NODES / TAPLINE_UP_NODES; default 1) authorizer nodes forming one
// cluster on the same Redis (docs/CLUSTER.md). Environment: TAPLINE_UP_GRPC_PORT (50051: the terminal
// door, node i uses +i), TAPLINE_UP_OPERATOR_PORT (50061: the operator door, +i),
// TAPLINE_UP_METRICS_PORT (9464), TAPLINE_UP_REDIS_PORT (6390), TAPLINE_UP_CLICKHOUSE_HTTP_PORT
// (8133), TAPLINE_UP_CLICKHOUSE_TCP_PORT (9010), TAPLINE_UP_REPORTS_PORT (9470), TAPLINE_UP_PORTAL_PORT
// (8443: the web portal, which `npm start` prints with its demo logins) — 0 for any of them
// picks free ports —, TAPLINE_UP_DATA_DIR (.data: Redis and ClickHouse data, secrets, credentials),
// TAPLINE_UP_EXIT_AFTER_DEMO (unset: keep serving), TAPLINE_UP_PLAINTEXT=true (the loudly logged
// development switch: no TLS anywhere; tokens are still required).
//
// Secure by default: a dev CA, certificates for the demo terminals, a gateway and the nodes, and a
// token per role are made (or reused) under .data/dev-credentials/ and described for clients in
// .data/dev-credentials/manifest.json, written as soon as the doors are up; the demo itself reaches
// the doors through that manifest. Every door serves TLS and asks who is calling.

import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { queryClickHouse, startClickHouse, type ClickHouseInstance } from './clickhouse';
import { startRedis, type RedisInstance } from './redis';
import { startServerProcess, type ServerProcess } from './node-process';
import { projectRoot } from '../../services/common/paths';
import { authorizer_node_flags } from '../../services/authorizer/runtime-flags';
import { TaplineClient, purchase } from '../client/tapline-client';
import { DeclineReason, Outcome } from '../../gen/tapline/v1/types';
import { ReverseResult, type AuthorizeRequest } from '../../gen/tapline/v1/authorization';
import { AuthorizationKind } from '../../gen/tapline/v1/types';
import { PriceFormula } from '../../gen/tapline/v1/fleet';
import { FleetClient, fleetPurchase } from '../client/fleet-client';
import { stringLiteral } from '../../services/streamer/sql';
import { role_names } from '../../services/common/auth/policy';
import { credentialAccess, manifestAccess, readManifest, type ClientAccess } from '../client/access';
import { httpRequest } from '../client/http';
import { DevCredentials, writeManifest, type DevManifest } from './credentials';
import { offlineDemo } from './offline-demo';
import { demo_cardholder_pin, demoPortalUsers, issuersWithPortal, portalEnv, writePortalFiles, type PortalFiles } from './portal';
import { CardClient } from '../client/card-client';

const env = (name: string, fallback: number): number => Number(process.env[name] ?? fallback);

/**
 * The port of the i-th process of a kind: the base port plus i, or 0 (a free port each) when the
 * base is 0, so a test or a second environment on the machine can ask for free ports everywhere.
 */
function portOf(name: string, fallback: number, i = 0): number {
  const base = env(name, fallback);
  return base === 0 ? 0 : base + i;
}

/** Authorizer nodes to start: `--nodes N`, else TAPLINE_NODES, else TAPLINE_UP_NODES, else 1. */
export function nodeCountOf(argv: readonly string[], environment: Record<string, string | undefined>): number {
  const flag = argv.findIndex((arg) => arg === '--nodes' || arg.startsWith('--nodes='));
  const text =
    flag < 0
      ? (environment['TAPLINE_NODES'] ?? environment['TAPLINE_UP_NODES'] ?? '1')
      : (argv[flag] as string).includes('=')
        ? (argv[flag] as string).split('=')[1]
        : argv[flag + 1];
  const count = Number(text);
  if (!/^[0-9]{1,2}$/.test(String(text)) || count < 1 || count > 16)
    throw new Error(`--nodes must be a number from 1 to 16, got ${JSON.stringify(text)}`);
  return count;
}

function say(line = ''): void {
  process.stdout.write(`${line}\n`);
}

/** Stops one started process and says so once it is gone (with its exit code, when it has one). */
async function stopProcess(name: string, stop: () => Promise<unknown>): Promise<void> {
  try {
    const code = await stop();
    say(`stopped ${name}${typeof code === 'number' ? ` (exit ${code})` : ''}`);
  } catch (error) {
    say(`stopped ${name} (failed: ${error instanceof Error ? error.message : String(error)})`);
  }
}

function euros(minor: bigint | number | undefined): string {
  const value = BigInt(minor ?? 0);
  const sign = value < 0n ? '-' : '';
  const abs = value < 0n ? -value : value;
  return `${sign}€${abs / 100n}.${String(abs % 100n).padStart(2, '0')}`;
}

/**
 * The local cluster's PIN and PSP secrets: random on first start, kept in .data/secrets.json (git-
 * ignored, mode 0600) so PIN hashes stay verifiable across restarts. Never printed.
 */
function localSecrets(dataDir: string): { pin: string; psp: string } {
  const file = join(dataDir, 'secrets.json');
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as { pin: string; psp: string };
  const secrets = { pin: randomBytes(32).toString('hex'), psp: randomBytes(32).toString('hex') };
  writeFileSync(file, JSON.stringify(secrets), { mode: 0o600 });
  return secrets;
}

/** The development credentials of the local cluster and how clients reach it. */
interface Local {
  readonly dataDir: string;
  readonly credentials: DevCredentials;
  readonly plaintext: boolean;
  readonly run: string;
  /** The portal's signing key, JWKS and demo accounts (the nodes and reports trust its issuer). */
  readonly portal: PortalFiles;
}

/** What `npm start` started, stopped in reverse order. */
interface Started {
  redis?: RedisInstance;
  clickhouse?: ClickHouseInstance;
  nodes: ServerProcess[];
  streamer?: ServerProcess;
  reports?: ServerProcess;
  portal?: ServerProcess;
}

async function main(): Promise<void> {
  const dataDir = resolve(projectRoot(), process.env['TAPLINE_UP_DATA_DIR'] ?? '.data');
  mkdirSync(dataDir, { recursive: true });
  const run = Date.now().toString(36);
  const local: Local = {
    dataDir,
    credentials: await DevCredentials.open(join(dataDir, 'dev-credentials')),
    plaintext: process.env['TAPLINE_UP_PLAINTEXT'] === 'true',
    run,
    portal: await writePortalFiles(join(dataDir, 'dev-credentials', 'portal'), demoPortalUsers(run)),
  };
  const started: Started = { nodes: [] };
  let stopping = false;
  // Every server runs in a process group of its own (ownProcessGroup), so Ctrl-C reaches this
  // launcher alone and the servers stop here, in this order, each waited for: the nodes drain and
  // flush into a Redis still running, the streamer moves what they flushed, ClickHouse and Redis go
  // last.
  const stopAll = async (code: number): Promise<never> => {
    if (!stopping) {
      stopping = true;
      say('\nstopping: the portal, the nodes (they drain and flush), then the streamer, reports, ClickHouse and Redis');
      const { portal, nodes, streamer, reports, clickhouse, redis } = started;
      if (portal !== undefined) await stopProcess('portal', () => portal.terminate());
      for (const [index, node] of nodes.entries()) await stopProcess(`node ${index + 1}`, () => node.terminate());
      if (streamer !== undefined) await stopProcess('streamer', () => streamer.terminate());
      if (reports !== undefined) await stopProcess('reports', () => reports.terminate());
      if (clickhouse !== undefined) await stopProcess('clickhouse', () => clickhouse.stop());
      if (redis !== undefined) await stopProcess('redis', () => redis.stop());
    }
    process.exit(code);
  };
  process.on('SIGINT', () => void stopAll(0));
  process.on('SIGTERM', () => void stopAll(0));

  let manifestPath = '';
  try {
    const endpoints = await startAll(local, started);
    // The manifest is written as soon as the doors serve, before the demo: clients can use it
    // whatever the demo does, and the demo reaches the doors through it like any client.
    const terminals = demoTerminals(local.run);
    manifestPath = await writeManifest(
      local.credentials,
      {
        endpoints,
        terminals: Object.values(terminals),
        gateways: demo_gateway_merchants,
        nodes: started.nodes.map((_, i) => `local-${i + 1}`),
        roles: role_names,
      },
      projectRoot(),
    );
    say(
      `credentials ${relative(projectRoot(), manifestPath)}  (CA, terminal and gateway certificates, node certificates, a token per role)`,
    );
    const access = local.plaintext
      ? credentialAccess(local.credentials, endpoints, { plaintext: true })
      : manifestAccess(readManifest(manifestPath));
    const run = await demo(access, local.run, terminals);
    if (started.clickhouse !== undefined) await reportFromClickHouse(started.clickhouse.url, run);
    await reconciliation(access, endpoints.reports, await local.credentials.token('analyst'));
    await startPortal(local, started, access, endpoints);
  } catch (error) {
    process.stderr.write(`\nlocal cluster failed: ${error instanceof Error ? error.message : String(error)}\n`);
    await stopAll(1);
  }
  if (process.env['TAPLINE_UP_EXIT_AFTER_DEMO']) await stopAll(0);
  say(`\nserving (Ctrl-C stops everything). Try, with the demo terminal's certificate (README "Doors and roles"):`);
  say(`  ${grpcurlExample(local, readManifest(manifestPath))}`);
}

/** Starts Redis, ClickHouse, the nodes, the streamer and the reports service; answers the doors. */
async function startAll(local: Local, started: Started): Promise<DevManifest['endpoints']> {
  const secrets = localSecrets(local.dataDir);
  const plaintextEnv: Record<string, string> = local.plaintext ? { TAPLINE_DEV_PLAINTEXT: 'true' } : {};
  started.redis = await startRedis({
    dataDir: join(local.dataDir, 'redis'),
    port: portOf('TAPLINE_UP_REDIS_PORT', 6390),
    appendfsync: 'always',
    ownProcessGroup: true,
  });
  say(
    `redis       ${started.redis.url}  (AOF, appendfsync always, data in ${relative(projectRoot(), local.dataDir)}/redis) (pid ${started.redis.pid})`,
  );
  started.clickhouse = await startClickHouse({
    dataDir: join(local.dataDir, 'clickhouse'),
    httpPort: portOf('TAPLINE_UP_CLICKHOUSE_HTTP_PORT', 8133),
    tcpPort: portOf('TAPLINE_UP_CLICKHOUSE_TCP_PORT', 9010),
    ownProcessGroup: true,
  });
  say(
    `clickhouse  ${started.clickhouse.url}  (data in ${relative(projectRoot(), local.dataDir)}/clickhouse) (pid ${started.clickhouse.pid})`,
  );
  const nodeCount = nodeCountOf(process.argv.slice(2), process.env);
  for (let i = 0; i < nodeCount; i++) {
    const metricsPort = portOf('TAPLINE_UP_METRICS_PORT', 9464, i);
    const node = await startServerProcess({
      script: 'dist/tools/devenv/node-main.js',
      nodeArgs: authorizer_node_flags,
      env: {
        ...(await local.credentials.nodeEnv(`local-${i + 1}`)),
        ...plaintextEnv,
        TAPLINE_REDIS_URL: started.redis.url,
        TAPLINE_GRPC_PORT: String(portOf('TAPLINE_UP_GRPC_PORT', 50051, i)),
        TAPLINE_OPERATOR_PORT: String(portOf('TAPLINE_UP_OPERATOR_PORT', 50061, i)),
        TAPLINE_INTERNAL_PORT: '0',
        TAPLINE_METRICS_PORT: String(metricsPort),
        TAPLINE_LOG_LEVEL: process.env['TAPLINE_LOG_LEVEL'] ?? 'warn',
        TAPLINE_PIN_SECRET: secrets.pin,
        TAPLINE_PSP_SECRET: secrets.psp,
        TAPLINE_OIDC_ISSUERS: issuersWithPortal(local.credentials.issuer.issuersSetting, local.portal),
      },
      onLine: (line) => {
        if (!line.includes('"grpcPort"')) process.stdout.write(`[node ${i + 1}] ${line}\n`);
      },
      ownProcessGroup: true,
    });
    started.nodes.push(node);
    say(
      `node ${i + 1}      terminal door ${node.address}  operator door ${node.operatorAddress ?? '?'}  internal door 127.0.0.1:${node.internalPort ?? '?'}${metricsPort === 0 ? '' : `  metrics http://127.0.0.1:${metricsPort}/metrics`} (pid ${node.pid})`,
    );
  }
  started.streamer = await startServerProcess({
    script: 'dist/services/streamer/main.js',
    env: {
      TAPLINE_NODE_ID: 'local-streamer',
      TAPLINE_REDIS_URL: started.redis.url,
      TAPLINE_CLICKHOUSE_URL: started.clickhouse.url,
      TAPLINE_METRICS_PORT: String(portOf('TAPLINE_UP_METRICS_PORT', 9464, nodeCount)),
      TAPLINE_LOG_LEVEL: process.env['TAPLINE_LOG_LEVEL'] ?? 'warn',
    },
    onLine: (line) => {
      if (!line.includes('"grpcPort"')) process.stdout.write(`[streamer] ${line}\n`);
    },
    ownProcessGroup: true,
  });
  say(`streamer    outbox -> ClickHouse (database tapline) (pid ${started.streamer.pid})`);
  const first = started.nodes[0];
  if (first === undefined) throw new Error('at least one node is needed');
  started.reports = await startServerProcess({
    script: 'dist/services/reports/main.js',
    env: await reportsEnv(local, started, portOf('TAPLINE_UP_REPORTS_PORT', 9470)),
    ownProcessGroup: true,
  });
  const reportsUrl = `${local.plaintext ? 'http' : 'https'}://127.0.0.1:${started.reports.httpPort ?? '?'}`;
  say(
    `reports     ${reportsUrl}/reports/float?currency=EUR  (and /reports/reconciliation, ...; bearer token of the manifest) (pid ${started.reports.pid})`,
  );
  if (started.nodes.length > 1)
    say(`cluster     ${started.nodes.length} nodes share 256 shards; any node accepts any request and forwards it to the card's owner`);
  return {
    terminal: first.address,
    operator: first.operatorAddress ?? '',
    internal: `127.0.0.1:${first.internalPort ?? 0}`,
    reports: reportsUrl,
  };
}

/**
 * Starts the portal (HTTPS only, so not in the plaintext mode), issues the demo cardholder's card
 * with its PIN, and prints the URL and the demo logins.
 */
async function startPortal(local: Local, started: Started, access: ClientAccess, endpoints: DevManifest['endpoints']): Promise<void> {
  if (local.plaintext) return say('portal      not started: it serves HTTPS only (TAPLINE_UP_PLAINTEXT=true)');
  const cards = new CardClient(access);
  const holder = `holder-${local.run}`;
  await cards.issue({
    cardId: holder,
    params: {
      initialBalance: { amountMinor: 2_500n, currency: 'EUR' },
      programId: 'summer-festival',
      deposit: undefined,
      expiresAtUnixMs: 0n,
    },
    holder: { name: 'Demo Holder', idDocumentType: 0, idDocumentNumber: '', phone: '', email: '' },
    pin: demo_cardholder_pin,
    operatorId: 'npm-start',
  });
  cards.close();
  const tls = await local.credentials.server('portal');
  const backends = {
    operator: endpoints.operator,
    reports: endpoints.reports.replace('127.0.0.1', 'localhost'),
    ca: local.credentials.caFile,
  };
  started.portal = await startServerProcess({
    script: 'dist/services/portal/main.js',
    env: portalEnv(local.portal, tls, backends, portOf('TAPLINE_UP_PORTAL_PORT', 8443), ['summer-festival']),
    ownProcessGroup: true,
  });
  say(
    `\nportal      https://localhost:${started.portal.httpPort ?? '?'}/  (certificate of the dev CA ${relative(projectRoot(), local.credentials.caFile)}) (pid ${started.portal.pid})`,
  );
  say(`  cardholder      card ${holder}, PIN ${demo_cardholder_pin}`);
  for (const user of demoPortalUsers(local.run))
    say(`  ${user.role.padEnd(15)} ${user.username} / ${user.password}  (scope ${user.scope.join(',')})`);
}

/** Prints what the reports service finds when it reconciles ClickHouse with Redis. */
async function reconciliation(access: ClientAccess, reportsUrl: string, token: string): Promise<void> {
  const answer = await httpRequest(`${reportsUrl}/reports/reconciliation`, { token, ca: access.ca });
  const reconciled = JSON.parse(answer.body) as { summary?: Record<string, unknown>; differences?: unknown[] };
  say(`reconciliation ClickHouse vs Redis: ${JSON.stringify(reconciled.summary ?? reconciled)}`);
  for (const difference of (reconciled.differences ?? []).slice(0, 10)) say(`  difference: ${JSON.stringify(difference)}`);
}

/** A grpcurl call a newcomer can paste: the demo bar terminal's balance read, with its certificate. */
function grpcurlExample(local: Local, manifest: DevManifest): string {
  const terminal = manifest.terminals[0];
  const tls =
    local.plaintext || terminal === undefined
      ? '-plaintext'
      : `-cacert ${manifest.ca} -cert ${terminal.cert} -key ${terminal.key} -servername localhost`;
  return `grpcurl ${tls} -import-path proto -proto tapline/v1/authorization.proto -d '{"card_id":"alice-${local.run}"}' ${manifest.endpoints.terminal} tapline.v1.AuthorizationService/GetBalance`;
}

/** The reports service's environment: its HTTPS certificate, the issuers it trusts, its own token. */
async function reportsEnv(
  local: Local,
  started: { redis?: RedisInstance; clickhouse?: ClickHouseInstance; nodes: ServerProcess[] },
  port: number,
): Promise<Record<string, string>> {
  const server = await local.credentials.server('reports');
  return {
    TAPLINE_REDIS_URL: started.redis?.url ?? '',
    TAPLINE_CLICKHOUSE_URL: started.clickhouse?.url ?? '',
    TAPLINE_AUTHORIZER_GRPC_ADDRESS: started.nodes[0]?.operatorAddress ?? '',
    TAPLINE_AUTHORIZER_CA_FILE: local.credentials.caFile,
    TAPLINE_AUTHORIZER_TOKEN_FILE: await local.credentials.tokenFile('reports', 'reports-service'),
    TAPLINE_TLS_CERT_FILE: server.cert,
    TAPLINE_TLS_KEY_FILE: server.key,
    TAPLINE_OIDC_ISSUERS: issuersWithPortal(local.credentials.issuer.issuersSetting, local.portal),
    TAPLINE_REPORTS_PORT: String(port),
    TAPLINE_LOG_LEVEL: process.env['TAPLINE_LOG_LEVEL'] ?? 'warn',
    ...(local.plaintext ? { TAPLINE_DEV_PLAINTEXT: 'true' } : {}),
  };
}

/** The demo's gateway merchants: a gateway certificate speaks for their terminals. */
const demo_gateway_merchants = ['main-stage-bar'];

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
  const rows = await queryClickHouse(
    url,
    `SELECT kind, outcome, count(), sum(amount) FROM tapline.transactions_dedup WHERE ${where} GROUP BY kind, outcome ORDER BY kind, outcome FORMAT TSV`,
  );
  say(`clickhouse: ${seen} of the demo's ${run.transactions} transactions queryable`);
  for (const line of rows.trim().split('\n')) {
    const [kind, outcome, count, amount] = line.split('\t');
    say(`  ${String(kind).padEnd(17)} ${String(outcome).padEnd(9)} ${String(count).padStart(4)}  ${euros(Number(amount))}`);
  }
}

/** Issues cards and terminals for this run and sends a burst of real authorizations. */
/** The demo's terminals of a run: the manifest holds a certificate for each. */
function demoTerminals(run: string): { bar: string; food: string; topup: string; tap: string; pump: string; offline: string } {
  return {
    bar: `bar-${run}`,
    food: `food-${run}`,
    topup: `topup-${run}`,
    tap: `tap-${run}`,
    pump: `pump-${run}`,
    offline: `offline-bar-${run}`,
  };
}

async function demo(
  access: ClientAccess,
  run: string,
  terminals: ReturnType<typeof demoTerminals>,
): Promise<{ id: string; transactions: number }> {
  const client = new TaplineClient(access);
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
  say(
    `burst: ${burst.length} concurrent authorizations in ${elapsed} ms -> ${approved.length} approved, ${burst.length - approved.length} declined`,
  );
  for (const [reason, count] of reasons) say(`  declined ${count}x ${reason}`);

  const retry = await client.authorize(purchase(terminals.bar, 1, burst[0]?.card ?? '', burst[0]?.amount ?? 0));
  say(`retry of ${terminals.bar} #1: same transaction ${retry.transactionId}, replayed=${retry.replayed}`);
  const topUp = await client.topUp(`wristband-${run}`, 2_000, { terminalId: terminals.topup, txn: 1 });
  say(`cash top-up of €20.00 on wristband-${run}: balance now ${euros(topUp.balanceAfter?.amountMinor)}`);
  const firstApproved = burst.find((_, i) => replies[i]?.outcome === Outcome.OUTCOME_APPROVED);
  if (firstApproved) {
    const reversal = await client.reverse(firstApproved.terminal, ++txn + 1000, firstApproved.card, {
      terminalId: firstApproved.terminal,
      txn: firstApproved.txn,
    });
    say(
      `reversal of ${firstApproved.terminal} #${firstApproved.txn}: ${ReverseResult[reversal.result]}, ${euros(reversal.reversedAmount?.amountMinor)} back`,
    );
  }
  // A beer tap: hold €10.00 before pouring, complete for what was poured (€6.50); the rest of
  // the hold is released.
  const tap = terminals.tap;
  const carol = `carol-${run}`;
  await client.registerTerminal(tap, 'beer-tap-7');
  await client.issueCard(carol, 3_000, 'EUR', 'summer-festival');
  const hold = await client.authorize(withKind(purchase(tap, 1, carol, 1_000), AuthorizationKind.AUTHORIZATION_KIND_PRE_AUTHORIZATION));
  const poured = await client.authorize({
    ...withKind(purchase(tap, 2, carol, 650), AuthorizationKind.AUTHORIZATION_KIND_COMPLETION),
    original: { ref: { $case: 'terminalTxn', value: { terminalId: tap, txnNumber: 1n } } },
  });
  say(
    `beer tap on ${carol} (€30.00): hold ${euros(hold.holdAmount?.amountMinor)} (available ${euros(hold.balanceAfter?.amountMinor)}), completed ${euros(poured.approvedAmount?.amountMinor)} -> balance ${euros(poured.balanceAfter?.amountMinor)}`,
  );
  await fleetDemo(access, run, terminals.pump);
  const offlineTransactions = await offlineDemo(access, run, terminals.offline, { terminalId: terminals.topup, txn: 2 }, say, euros);

  say('balances:');
  for (const card of [...cards, { id: carol }]) {
    const balance = await client.balance(card.id);
    say(`  ${card.id.padEnd(24)} ${euros(balance.balance?.amountMinor).padStart(10)}`);
  }
  client.close();
  // The burst, the top-up, the reversal, the hold and its completion are transactions (the
  // retry is the burst's first).
  return { id: run, transactions: burst.length + 1 + (firstApproved ? 1 : 0) + 2 + offlineTransactions };
}

function withKind(request: AuthorizeRequest, kind: AuthorizationKind): AuthorizeRequest {
  return { ...request, kind };
}

/** A haulage company's fuel card: odometer prompt, pump price minus 3 %, invoiced to the fleet. */
async function fleetDemo(access: ClientAccess, run: string, pump: string): Promise<void> {
  const fleet = new FleetClient(access);
  const client = new TaplineClient(access);
  const fleetId = `haulage-${run}`;
  await fleet.createAccount({ fleetId, creditLimitMinor: 500_000, timeZone: 'Europe/Berlin' });
  await fleet.setPolicy({
    fleetId,
    productGroups: { allowed: ['fuel'] },
    prompts: { requireOdometer: true, requireDriver: false, requireVehicle: true, odometerJumpMaxKm: 3_000n },
    program: undefined,
    operatorId: 'ops',
  });
  await fleet.setPricing({
    fleetId,
    operatorId: 'ops',
    agreements: [
      {
        productCode: '',
        productGroup: 'fuel',
        formula: PriceFormula.PRICE_FORMULA_PUMP_MINUS_PERCENT,
        amountMilliMinor: 0n,
        percentBp: 300n,
      },
    ],
  });
  const card =
    (await fleet.issueCard({ fleetId, cardNo: '1', limits: undefined, productGroups: undefined, operatorId: 'ops' })).card?.cardId ?? '';
  await client.registerTerminal(pump, 'station-a9');
  const fill = await client.authorize(
    fleetPurchase(pump, 1, card, [{ code: 'diesel', group: 'fuel', qtyMilli: 52_300, unitMinor: 179, amountMinor: 9_362 }], {
      odometerKm: 120_400,
      vehicleId: 'truck-12',
    }),
  );
  const snack = await client.authorize(
    fleetPurchase(pump, 2, card, [{ code: 'crisps', group: 'shop', amountMinor: 250 }], { odometerKm: 120_400, vehicleId: 'truck-12' }),
  );
  say(
    `fleet ${card}: 52.3 l diesel at the pump ${euros(fill.pumpAmount?.amountMinor)}, invoiced ${euros(fill.invoicedAmount?.amountMinor)}; crisps ${Outcome[snack.outcome]} (${snack.declineRule})`,
  );
  fleet.close();
  client.close();
}

if (require.main === module)
  main().catch((error: unknown) => {
    process.stderr.write(`up failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  });
