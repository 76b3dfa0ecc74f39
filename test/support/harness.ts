// Test environment: a private Redis per suite (real redis-server, AOF fsync always, data in a
// temp folder), or a replicated one (a Sentinel set, a Redis Cluster), authorizer nodes in-process
// or as real child processes, and bounded waits.
//
// Secure by default, like production: every node a test starts serves its doors over TLS with
// the test process's own credential set (one dev CA and token issuer, made once per process by
// the generator `npm start` uses), and every client reaches it through accessTo(), which mints a
// certificate for each terminal it names and sends each operator call with a token of a role the
// access policy allows. Tests that check a particular caller force one (accessTo's overrides).

import { mkdtempSync, mkdirSync, readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { actingCaller, encodeCaller } from '../../services/common/auth/grpc-access';
import { HttpAccess } from '../../services/common/auth/http-access';
import { http_rules } from '../../services/common/auth/policy';
import { parseIssuers, TokenVerifier } from '../../services/common/auth/tokens';
import { WatchedFile } from '../../services/common/auth/watched-file';
import { AuthorizerCardStates, authorizerCredentials } from '../../services/reports/card-states';
import { reportRouteOf, type ReportsServerSecurity } from '../../services/reports/server';
import { settlementRouteOf } from '../../services/reports/settlement';
import { eventsRouteOf } from '../../services/events/http';
import { httpRequest, type HttpReply } from '../../tools/client/http';
import { join } from 'node:path';
import { startRedis, type RedisInstance } from '../../tools/devenv/redis';
import { startRedisCluster, startSentinelSet, type RedisClusterSet, type SentinelSet } from '../../tools/devenv/redis-ha';
import { startServerProcess, type ServerProcess } from '../../tools/devenv/node-process';
import { loadConfig, type NodeConfig } from '../../services/authorizer/config';
import { AuthorizerNode } from '../../services/authorizer/node';
import { createLogger } from '../../services/common/logger';
import { projectRoot } from '../../services/common/paths';
import { authorizer_node_flags } from '../../services/authorizer/runtime-flags';
import { simulatedPsp } from '../../tools/psp-simulator/simulated-psp';
import type { PspIntegration } from '../../services/authorizer/usecases/psp';
import { DevCredentials } from '../../tools/devenv/credentials';
import { credentialAccess, type AccessOverrides, type ClientAccess, type Endpoints } from '../../tools/client/access';

export function testDataDir(name: string): string {
  const base = join(projectRoot(), '.test-data');
  mkdirSync(base, { recursive: true });
  return mkdtempSync(join(base, `${name}-`));
}

export async function startTestRedis(name: string): Promise<RedisInstance> {
  return startRedis({ dataDir: testDataDir(name), appendfsync: 'always' });
}

/**
 * A primary, `replicas` replicas and three Sentinels that fail over one second after a primary
 * goes silent. Primaries accept writes while their replica acknowledged within 3 s: room for the
 * fault tests to make a replica lag behind what its primary acknowledges (without WAIT).
 */
export async function startTestSentinelSet(name: string, replicas = 1): Promise<SentinelSet> {
  return startSentinelSet({ dataDir: testDataDir(name), replicas, downAfterMs: 1_000, minReplicasMaxLagS: 3 });
}

/** Three primaries with one replica each; a primary silent for one second is failed over. */
export async function startTestRedisCluster(name: string): Promise<RedisClusterSet> {
  return startRedisCluster({
    dataDir: testDataDir(name),
    primaries: 3,
    replicasPerPrimary: 1,
    nodeTimeoutMs: 1_000,
    minReplicasMaxLagS: 3,
  });
}

/** The environment of any Tapline process (node, streamer, reports) reaching Redis through Sentinel. */
export function sentinelEnv(set: SentinelSet): Record<string, string> {
  return {
    TAPLINE_REDIS_MODE: 'sentinel',
    TAPLINE_REDIS_SENTINELS: set.sentinelAddresses,
    TAPLINE_REDIS_SENTINEL_NAME: set.masterName,
    TAPLINE_REDIS_WAIT_REPLICAS: '1',
  };
}

/** The environment of any Tapline process reaching a Redis Cluster. */
export function clusterEnv(set: RedisClusterSet): Record<string, string> {
  return { TAPLINE_REDIS_MODE: 'cluster', TAPLINE_REDIS_CLUSTER_NODES: set.seeds, TAPLINE_REDIS_WAIT_REPLICAS: '1' };
}

/** Shards of test nodes: fewer than production so per-shard bookkeeping stays small in tests. */
export const test_shard_count = 64;

let shared_credentials: Promise<DevCredentials> | undefined;

/** This test process's credentials: a dev CA, a token issuer, certificates and tokens made on demand. */
export function testCredentials(): Promise<DevCredentials> {
  shared_credentials ??= DevCredentials.open(testDataDir('credentials'));
  return shared_credentials;
}

/** The id of a test node that names none (its certificate names it). */
export const default_test_node_id = 'test-node';

/** A test node's environment: test bounds, and the TLS and token settings of the test credentials. */
export async function nodeEnv(redisUrl: string, overrides: Record<string, string> = {}): Promise<Record<string, string>> {
  const nodeId = overrides['TAPLINE_NODE_ID'] ?? default_test_node_id;
  const security = await (await testCredentials()).nodeEnv(nodeId);
  return {
    TAPLINE_REDIS_URL: redisUrl,
    TAPLINE_GRPC_PORT: '0',
    TAPLINE_OPERATOR_PORT: '0',
    TAPLINE_INTERNAL_PORT: '0',
    TAPLINE_METRICS_PORT: '-1',
    TAPLINE_LOG_LEVEL: process.env['TAPLINE_TEST_LOG_LEVEL'] ?? 'warn',
    TAPLINE_SHARD_COUNT: String(test_shard_count),
    TAPLINE_SHUTDOWN_GRACE_MS: '5000',
    // Rotation and revocation tests see a rewritten file within a fraction of a second.
    TAPLINE_TLS_RELOAD_MS: '200',
    ...security,
    ...overrides,
  };
}

/** A node's doors as clients reach them (an in-process node or a node process). */
export function endpointsOf(node: AuthorizerNode | ServerProcess): Endpoints {
  if ('shutdown' in node)
    return {
      terminal: `127.0.0.1:${node.grpcPort}`,
      operator: `127.0.0.1:${node.operatorPort}`,
      internal: `127.0.0.1:${node.internalPort}`,
    };
  if (node.operatorAddress === undefined) throw new Error('the process announced no operator port');
  return { terminal: node.address, operator: node.operatorAddress, internal: `127.0.0.1:${node.internalPort ?? 0}` };
}

/** How test clients reach a node: the test credentials, or a forced principal (overrides). */
export async function accessTo(
  node: AuthorizerNode | ServerProcess | Endpoints,
  options: { readonly plaintext?: boolean; readonly overrides?: AccessOverrides } = {},
): Promise<ClientAccess> {
  const endpoints = 'terminal' in node && typeof node.terminal === 'string' ? node : endpointsOf(node as AuthorizerNode | ServerProcess);
  return credentialAccess(await testCredentials(), endpoints, options);
}

/** Who acts in tests that call the region or a use case directly (no door in between). */
export const test_acting = { subject: 'ops', role: 'issuer_admin', scope: '*', action: 'test' } as const;

/** Channel credentials of a node `nodeId` (mutual TLS with its certificate), to talk to an internal door as a peer. */
export async function nodeChannelCredentials(nodeId: string): Promise<grpc.ChannelCredentials> {
  const credentials = await testCredentials();
  const files = await credentials.node(nodeId);
  return grpc.credentials.createSsl(readFileSync(credentials.caFile), readFileSync(files.key), readFileSync(files.cert));
}

/** The caller field of a forwarded frame a test sends as a peer: an operator action of `subject`. */
export function forwardedCaller(subject = 'test-peer-operator'): Buffer {
  return encodeCaller(actingCaller({ subject, role: 'issuer_admin', scope: '*', action: 'test' }));
}

export async function startInProcessNode(
  redisUrl: string,
  overrides: Record<string, string> = {},
  options: { clock?: () => number; psp?: PspIntegration } = {},
): Promise<AuthorizerNode> {
  const config: NodeConfig = loadConfig(await nodeEnv(redisUrl, overrides));
  // The tests' nodes run with the simulated PSP (unless a test brings its own), used when a test
  // configures TAPLINE_PSP_SECRET.
  return AuthorizerNode.start(config, createLogger('test-node', config.TAPLINE_LOG_LEVEL), { psp: simulatedPsp, ...options });
}

/**
 * An authorizer node as a real child process (for kill -9), with test defaults: the dev entry
 * point, which is the production process with the simulated PSP.
 */
export async function startNodeProcess(redisUrl: string, overrides: Record<string, string> = {}): Promise<ServerProcess> {
  return startServerProcess({
    script: 'dist/tools/devenv/node-main.js',
    nodeArgs: authorizer_node_flags,
    env: await nodeEnv(redisUrl, { TAPLINE_LOG_LEVEL: 'info', ...overrides }),
  });
}

/**
 * Polls `probe` until it returns true, at most `timeoutMs`. On time-out the error names the phase
 * and what was expected versus last seen.
 */
export async function waitFor(
  phase: string,
  probe: () => Promise<boolean> | boolean,
  describe: () => string,
  timeoutMs = 20_000,
  intervalMs = 50,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe()) return;
    if (Date.now() > deadline) throw new Error(`${phase}: condition not met within ${timeoutMs} ms; seen: ${describe()}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

// ---- The reports service in tests: HTTPS and bearer tokens of the test credentials ------------

/** How a reports server started by a test authenticates: the test issuer's tokens, HTTPS with a test certificate. */
export async function reportsSecurity(): Promise<ReportsServerSecurity> {
  const credentials = await testCredentials();
  const files = await credentials.server('reports');
  const verifier = new TokenVerifier({
    issuers: parseIssuers(credentials.issuer.issuersSetting),
    audience: 'tapline',
    roles_claim: 'tapline_roles',
    clock_tolerance_s: 30,
    reload_ms: 1_000,
  });
  return { access: new HttpAccess(verifier), tls: { cert: new WatchedFile(files.cert, 0), key: new WatchedFile(files.key, 0) } };
}

/** A token of the test issuer: a role with scope "*" unless given. */
export async function testToken(role: string, scope: readonly string[] = ['*'], subject?: string): Promise<string> {
  return (await testCredentials()).token(role, scope, subject);
}

/** The policy name of a route of the reports service (settlement, notices and webhooks, reports). */
export function routeNameOf(method: string, path: string): string {
  if (path.startsWith('/settlement/')) return settlementRouteOf(method, path)?.name ?? 'unknown';
  if (['/webhooks/', '/notices/', '/deliveries/', '/events/'].some((prefix) => path.startsWith(prefix))) {
    const matched = eventsRouteOf(method === 'HEAD' ? 'GET' : method, path.split('?', 1)[0] ?? path);
    return matched === undefined ? 'unknown' : `events.${matched.route.name}`;
  }
  return reportRouteOf(path)?.name ?? 'unknown';
}

/** The role a test calls a reports route with by default: the first its rule allows. */
export function defaultRoleOf(method: string, path: string): string {
  return http_rules[routeNameOf(method, path)]?.roles?.[0] ?? 'auditor';
}

/**
 * One HTTPS request to a reports server of a test, with a token of `role` (by default the first
 * role the route's rule allows, so settlement's four eyes see different principals), `token` to
 * send a given one, or `token: null` to send none.
 */
export async function reportsRequest(
  port: number,
  path: string,
  options: { readonly method?: string; readonly body?: string; readonly role?: string; readonly token?: string | null } = {},
): Promise<HttpReply> {
  const credentials = await testCredentials();
  const method = options.method ?? 'GET';
  const token =
    options.token === null ? undefined : (options.token ?? (await credentials.token(options.role ?? defaultRoleOf(method, path))));
  return httpRequest(`https://localhost:${port}${path}`, {
    method,
    ...(options.body === undefined ? {} : { body: options.body }),
    ...(token === undefined ? {} : { token }),
    ca: readFileSync(credentials.caFile),
  });
}

/** The reports service's view of a node's balances in tests: TLS to its operator door with the reports role's token. */
export async function testCardStates(
  node: AuthorizerNode | ServerProcess | string,
  call_timeout_ms = 10_000,
): Promise<AuthorizerCardStates> {
  const credentials = await testCredentials();
  const address = typeof node === 'string' ? node : endpointsOf(node).operator;
  const token = await credentials.token('reports');
  return new AuthorizerCardStates(address, authorizerCredentials(credentials.caFile), call_timeout_ms, () => token, {
    'grpc.ssl_target_name_override': 'localhost',
  });
}

/** Environment of a reports process in tests: HTTPS, the test issuer, and its token towards `operatorAddress`. */
export async function reportsProcessEnv(operatorAddress: string): Promise<Record<string, string>> {
  const credentials = await testCredentials();
  const files = await credentials.server('reports');
  return {
    TAPLINE_AUTHORIZER_GRPC_ADDRESS: operatorAddress,
    TAPLINE_AUTHORIZER_CA_FILE: credentials.caFile,
    TAPLINE_AUTHORIZER_TOKEN_FILE: await credentials.tokenFile('reports', 'reports-service'),
    TAPLINE_TLS_CERT_FILE: files.cert,
    TAPLINE_TLS_KEY_FILE: files.key,
    TAPLINE_OIDC_ISSUERS: credentials.issuer.issuersSetting,
  };
}
