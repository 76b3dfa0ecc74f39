// Where a Tapline process finds Redis, from the environment (authorizer, streamer and reports
// read the same variables). Three deployment shapes (README, "Deployment shapes"):
//   single     one server at TAPLINE_REDIS_URL (a single box; `npm start`)
//   sentinel   a primary with replicas, found through the Sentinels in TAPLINE_REDIS_SENTINELS
//   cluster    Redis Cluster, its slot map read from any of TAPLINE_REDIS_CLUSTER_NODES
// In sentinel and cluster modes TAPLINE_REDIS_URL only carries the credentials (user and
// password) of the data nodes; its host is not used.

import { z } from 'zod';
import { envInt } from './process';

export type RedisMode = 'single' | 'sentinel' | 'cluster';

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** Everything needed to reach Redis and to know when a write is safe to acknowledge. */
export interface RedisTarget {
  readonly mode: RedisMode;
  /** The server (single) or only the credentials (sentinel, cluster). */
  readonly url: string;
  readonly sentinels: readonly HostPort[];
  readonly sentinel_name: string;
  readonly cluster_nodes: readonly HostPort[];
  /** Replicas that must have a write before it is acknowledged (WAIT); 0 acknowledges on the primary's fsync. */
  readonly wait_replicas: number;
  /** How long WAIT may block; a shortfall answers UNAVAILABLE (outcome unknown, retry with the same key). */
  readonly wait_timeout_ms: number;
}

const host_port_list = z
  .string()
  .regex(/^[A-Za-z0-9.\-[\]:]+:[0-9]{1,5}(,[A-Za-z0-9.\-[\]:]+:[0-9]{1,5}){0,31}$/, 'must be host:port[,host:port...]')
  .optional();

/** The environment variables of a Redis target; every process's schema spreads these. */
export const redis_target_env = {
  TAPLINE_REDIS_URL: z.string().url().default('redis://127.0.0.1:6390'),
  TAPLINE_REDIS_MODE: z.enum(['single', 'sentinel', 'cluster']).default('single'),
  // Sentinels answer "which server is the primary of TAPLINE_REDIS_SENTINEL_NAME"; three or more,
  // so that a majority survives the loss of one machine.
  TAPLINE_REDIS_SENTINELS: host_port_list,
  TAPLINE_REDIS_SENTINEL_NAME: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,64}$/)
    .default('tapline'),
  // Any nodes of the Redis Cluster; the rest of the slot map is read from them.
  TAPLINE_REDIS_CLUSTER_NODES: host_port_list,
  // Default: 0 for a single server (its fsync is the durability), 1 with replicas (sentinel,
  // cluster): a commit is acknowledged only once a replica has it, so the loss of the primary's
  // machine loses nothing acknowledged. More than the replicas that exist makes every commit fail.
  TAPLINE_REDIS_WAIT_REPLICAS: z
    .string()
    .regex(/^[0-9]{1,2}$/, 'must be a decimal integer')
    .transform(Number)
    .pipe(z.number().int().min(0).max(16))
    .optional(),
  // How long a commit waits for its replicas. A healthy replica acknowledges in well under a
  // millisecond on a LAN; 500 ms rides out a replica's fsync stall, and a commit connection
  // blocked that long by a lost replica still answers well within a terminal's time-out.
  TAPLINE_REDIS_WAIT_TIMEOUT_MS: envInt(1, 60_000, 500),
};

interface TargetEnv {
  readonly TAPLINE_REDIS_URL: string;
  readonly TAPLINE_REDIS_MODE: RedisMode;
  readonly TAPLINE_REDIS_SENTINELS?: string | undefined;
  readonly TAPLINE_REDIS_SENTINEL_NAME: string;
  readonly TAPLINE_REDIS_CLUSTER_NODES?: string | undefined;
  readonly TAPLINE_REDIS_WAIT_REPLICAS?: number | undefined;
  readonly TAPLINE_REDIS_WAIT_TIMEOUT_MS: number;
}

/** "host:port" -> parts; the last colon separates the port (IPv6 hosts come in brackets). */
export function parseHostPort(text: string): HostPort {
  const at = text.lastIndexOf(':');
  return { host: text.slice(0, at).replace(/^\[(.*)\]$/, '$1'), port: Number(text.slice(at + 1)) };
}

/**
 * The target of a parsed configuration. Problems (a mode without its nodes, a WAIT longer than a
 * command may take) are appended to `problems` for the caller's one ConfigError.
 */
export function redisTargetOf(config: TargetEnv, command_timeout_ms: number, problems: string[]): RedisTarget {
  const mode = config.TAPLINE_REDIS_MODE;
  const list = (text: string | undefined): HostPort[] => (text === undefined ? [] : text.split(',').map(parseHostPort));
  const sentinels = list(config.TAPLINE_REDIS_SENTINELS);
  const cluster_nodes = list(config.TAPLINE_REDIS_CLUSTER_NODES);
  if (mode === 'sentinel' && sentinels.length === 0) problems.push('TAPLINE_REDIS_MODE=sentinel needs TAPLINE_REDIS_SENTINELS');
  if (mode === 'cluster' && cluster_nodes.length === 0) problems.push('TAPLINE_REDIS_MODE=cluster needs TAPLINE_REDIS_CLUSTER_NODES');
  const wait_replicas = config.TAPLINE_REDIS_WAIT_REPLICAS ?? (mode === 'single' ? 0 : 1);
  if (wait_replicas > 0 && config.TAPLINE_REDIS_WAIT_TIMEOUT_MS >= command_timeout_ms)
    problems.push(
      'TAPLINE_REDIS_WAIT_TIMEOUT_MS must be shorter than the Redis command timeout (a commit waits for its replicas within it)',
    );
  return {
    mode,
    url: config.TAPLINE_REDIS_URL,
    sentinels,
    sentinel_name: config.TAPLINE_REDIS_SENTINEL_NAME,
    cluster_nodes,
    wait_replicas,
    wait_timeout_ms: config.TAPLINE_REDIS_WAIT_TIMEOUT_MS,
  };
}

/** One server, no replicas: a single box (`npm start`) and most tests. */
export function singleRedis(url: string): RedisTarget {
  return { mode: 'single', url, sentinels: [], sentinel_name: 'tapline', cluster_nodes: [], wait_replicas: 0, wait_timeout_ms: 500 };
}

/** The target named by these environment variables alone (tools and tests; processes parse it with their own settings). */
export function redisTargetFromEnv(env: Record<string, string | undefined>, command_timeout_ms = 5_000): RedisTarget {
  const parsed = z.object(redis_target_env).parse(env);
  const problems: string[] = [];
  const target = redisTargetOf(parsed, command_timeout_ms, problems);
  if (problems.length > 0) throw new Error(problems.join('; '));
  return target;
}
