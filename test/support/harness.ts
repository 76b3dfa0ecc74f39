// Test environment: a private Redis per suite (real redis-server, AOF fsync always, data in a
// temp folder), authorizer nodes in-process or as real child processes, and bounded waits.

import { mkdtempSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { startRedis, type RedisInstance } from '../../services/devenv/redis';
import { loadConfig, type NodeConfig } from '../../services/authorizer/config';
import { AuthorizerNode } from '../../services/authorizer/node';
import { createLogger } from '../../services/common/logger';
import { projectRoot } from '../../services/common/paths';

export const node_start_timeout_ms = 30_000;

export function testDataDir(name: string): string {
  const base = join(projectRoot(), '.test-data');
  mkdirSync(base, { recursive: true });
  return mkdtempSync(join(base, `${name}-`));
}

export async function startTestRedis(name: string): Promise<RedisInstance> {
  return startRedis({ dataDir: testDataDir(name), appendfsync: 'always' });
}

export function nodeEnv(redisUrl: string, overrides: Record<string, string> = {}): Record<string, string> {
  return {
    TAPLINE_REDIS_URL: redisUrl,
    TAPLINE_GRPC_PORT: '0',
    TAPLINE_METRICS_PORT: '-1',
    TAPLINE_LOG_LEVEL: process.env['TAPLINE_TEST_LOG_LEVEL'] ?? 'warn',
    TAPLINE_SHARD_COUNT: '64',
    TAPLINE_SHUTDOWN_GRACE_MS: '5000',
    ...overrides,
  };
}

export async function startInProcessNode(redisUrl: string, overrides: Record<string, string> = {}): Promise<AuthorizerNode> {
  const config: NodeConfig = loadConfig(nodeEnv(redisUrl, overrides));
  return AuthorizerNode.start(config, createLogger('test-node', config.TAPLINE_LOG_LEVEL));
}

/** A node running as a real child process (for kill -9). */
export interface NodeProcess {
  readonly child: ChildProcess;
  readonly grpcPort: number;
  readonly address: string;
  kill9(): Promise<void>;
  terminate(): Promise<number | null>;
}

export async function startNodeProcess(redisUrl: string, overrides: Record<string, string> = {}): Promise<NodeProcess> {
  const main = join(projectRoot(), 'dist', 'services', 'authorizer', 'main.js');
  const env = { ...process.env, ...nodeEnv(redisUrl, { TAPLINE_LOG_LEVEL: 'info', ...overrides }) };
  const child = spawn(process.execPath, [main], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const grpcPort = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`node process: expected a "serving" log line within ${node_start_timeout_ms} ms; stderr: ${stderr}`)), node_start_timeout_ms);
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      if (!line.includes('authorizer node serving')) return;
      clearTimeout(timer);
      resolve((JSON.parse(line) as { grpcPort: number }).grpcPort);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`node process exited with ${code} before serving; stderr: ${stderr}`));
    });
  });
  return {
    child,
    grpcPort,
    address: `127.0.0.1:${grpcPort}`,
    kill9: async () => {
      child.kill('SIGKILL');
      await exited;
    },
    terminate: async () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

/**
 * Polls `probe` until it returns true, at most `timeoutMs`. On time-out the error names the phase
 * and what was expected versus last seen.
 */
export async function waitFor(phase: string, probe: () => Promise<boolean> | boolean, describe: () => string, timeoutMs = 20_000, intervalMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe()) return;
    if (Date.now() > deadline) throw new Error(`${phase}: condition not met within ${timeoutMs} ms; seen: ${describe()}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
