// Test environment: a private Redis per suite (real redis-server, AOF fsync always, data in a
// temp folder), or a replicated one (a Sentinel set, a Redis Cluster), authorizer nodes in-process
// or as real child processes, and bounded waits.

import { mkdtempSync, mkdirSync } from 'node:fs';
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

export function nodeEnv(redisUrl: string, overrides: Record<string, string> = {}): Record<string, string> {
  return {
    TAPLINE_REDIS_URL: redisUrl,
    TAPLINE_GRPC_PORT: '0',
    TAPLINE_INTERNAL_PORT: '0',
    TAPLINE_METRICS_PORT: '-1',
    TAPLINE_LOG_LEVEL: process.env['TAPLINE_TEST_LOG_LEVEL'] ?? 'warn',
    TAPLINE_SHARD_COUNT: String(test_shard_count),
    TAPLINE_SHUTDOWN_GRACE_MS: '5000',
    ...overrides,
  };
}

export async function startInProcessNode(
  redisUrl: string,
  overrides: Record<string, string> = {},
  options: { clock?: () => number; psp?: PspIntegration } = {},
): Promise<AuthorizerNode> {
  const config: NodeConfig = loadConfig(nodeEnv(redisUrl, overrides));
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
    env: nodeEnv(redisUrl, { TAPLINE_LOG_LEVEL: 'info', ...overrides }),
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
