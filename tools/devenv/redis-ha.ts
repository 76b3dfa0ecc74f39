// Replicated Redis set-ups for development and tests, built from the same supervised
// redis-server processes as a single box (redis.ts), all on 127.0.0.1 with data under a directory
// the caller owns:
//   - a Sentinel set: one primary, its replicas and three Sentinels watching them;
//   - a Redis Cluster: primaries that split the 16,384 hash slots, each with its replicas.
// Primaries run with min-replicas-to-write, as production should (docs/DECISIONS.md, "Redis
// with replicas"): a primary cut off from its replicas refuses writes. Fault tests kill
// (SIGKILL), pause (SIGSTOP) and restart the servers through the RedisInstance handles.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { createClient } from 'redis';
import { startRedis, probePing, redis_ready_timeout_ms, redis_stop_grace_ms, type RedisInstance } from './redis';
import { findExecutable, logTail, pickFreePort, pollUntilReady, spawnSupervised, type SupervisedChild } from './supervise';

/** One command to the server on a port of 127.0.0.1, on a connection of its own. */
export async function askRedis<T = unknown>(port: number, args: string[], timeoutMs = 2_000): Promise<T> {
  const client = createClient({
    socket: { host: '127.0.0.1', port, connectTimeout: timeoutMs, reconnectStrategy: false },
    disableOfflineQueue: true,
  });
  client.on('error', () => undefined);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`redis ${args.join(' ')} on port ${port}: no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([
      (async (): Promise<T> => {
        await client.connect();
        return client.sendCommand<T>(args);
      })(),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
    client.destroy();
  }
}

/** Polls `probe` until it returns a value, at most timeoutMs; the error names what was awaited and last seen. */
async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let seen = 'nothing yet';
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      seen = error instanceof Error ? error.message : String(error);
    }
    if (Date.now() > deadline) throw new Error(`${what}: not reached within ${timeoutMs} ms (last error: ${seen})`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The fields of an INFO section as a map. */
export function infoFields(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split('\r\n')) {
    const at = line.indexOf(':');
    if (at > 0) fields.set(line.slice(0, at), line.slice(at + 1));
  }
  return fields;
}

// ---- Sentinel ----------------------------------------------------------------------------------

/** A Sentinel process. */
export interface SentinelProcess {
  readonly port: number;
  readonly pid: number;
  stop(): Promise<void>;
  kill9(): Promise<void>;
}

export interface SentinelSet {
  /** The name the Sentinels monitor the primary under (TAPLINE_REDIS_SENTINEL_NAME). */
  readonly masterName: string;
  /** The data servers: [0] started as the primary, the others as its replicas. */
  readonly servers: readonly RedisInstance[];
  readonly sentinels: readonly SentinelProcess[];
  /** "127.0.0.1:<port>,..." of the Sentinels (TAPLINE_REDIS_SENTINELS). */
  readonly sentinelAddresses: string;
  /** The server a majority of the Sentinels names as primary now. */
  primary(): Promise<RedisInstance>;
  /** Waits until the Sentinels name a primary other than `old` and that server answers as a primary. */
  waitForFailover(old: RedisInstance, timeoutMs: number): Promise<RedisInstance>;
  /** Waits until `count` servers replicate from the current primary with their link up. */
  waitForReplicas(count: number, timeoutMs: number): Promise<void>;
  /**
   * Restarts `server` (a killed old primary) and makes it a replica of the primary the Sentinels
   * name, as a restarted pod's start-up script does. Sentinel alone would demote it only on its
   * next INFO round (every 10 s), and until then a promoted primary whose only replica it was
   * refuses writes (min-replicas-to-write).
   */
  rejoinAsReplica(server: RedisInstance): Promise<void>;
  stop(): Promise<void>;
}

export interface StartSentinelSetOptions {
  readonly dataDir: string;
  /** Replicas of the primary (default 1). */
  readonly replicas?: number;
  /** A primary unseen this long is down for a Sentinel (default 1,000 ms: tests fail over fast). */
  readonly downAfterMs?: number;
  readonly appendfsync?: 'always' | 'everysec';
  /** A primary refuses writes when its replica has not acknowledged for longer (default 1 s). */
  readonly minReplicasMaxLagS?: number;
}

const sentinel_count = 3;
const sentinel_quorum = 2;

/** Starts a primary, its replicas and three Sentinels; resolves once the replicas are in sync. */
export async function startSentinelSet(options: StartSentinelSetOptions): Promise<SentinelSet> {
  const masterName = 'tapline';
  const replicas = options.replicas ?? 1;
  const servers: RedisInstance[] = [];
  const sentinels: SentinelProcess[] = [];
  const stopAll = async (): Promise<void> => {
    await Promise.all([...sentinels.map((s) => s.stop()), ...servers.map((s) => s.stop())]);
  };
  try {
    const primary = await startRedis({
      dataDir: path.join(options.dataDir, 'redis-0'),
      appendfsync: options.appendfsync ?? 'always',
      minReplicasToWrite: Math.min(1, replicas),
      minReplicasMaxLagS: options.minReplicasMaxLagS ?? 1,
    });
    servers.push(primary);
    for (let i = 1; i <= replicas; i++) {
      servers.push(
        await startRedis({
          dataDir: path.join(options.dataDir, `redis-${i}`),
          appendfsync: options.appendfsync ?? 'always',
          replicaOfPort: primary.port,
          // A replica promoted by Sentinel keeps this setting: as a primary it too refuses writes
          // while no replica of its own acknowledges them.
          minReplicasToWrite: Math.min(1, replicas),
          minReplicasMaxLagS: options.minReplicasMaxLagS ?? 1,
        }),
      );
    }
    for (let i = 0; i < sentinel_count; i++) {
      sentinels.push(
        await startSentinel(path.join(options.dataDir, `sentinel-${i}`), masterName, primary.port, options.downAfterMs ?? 1_000),
      );
    }
  } catch (error) {
    await stopAll();
    throw error;
  }
  const primaryPort = async (): Promise<number> => {
    const votes = new Map<number, number>();
    for (const sentinel of sentinels) {
      try {
        const [, port] = await askRedis<[string, string]>(sentinel.port, ['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', masterName]);
        votes.set(Number(port), (votes.get(Number(port)) ?? 0) + 1);
      } catch {
        // A Sentinel that is down has no vote.
      }
    }
    for (const [port, count] of votes) if (count >= sentinel_quorum) return port;
    throw new Error(`the Sentinels do not agree on a primary: ${JSON.stringify([...votes])}`);
  };
  const serverOn = (port: number): RedisInstance => {
    const server = servers.find((s) => s.port === port);
    if (server === undefined) throw new Error(`the Sentinels name port ${port}, which is none of this set's servers`);
    return server;
  };
  const set: SentinelSet = {
    masterName,
    servers,
    sentinels,
    sentinelAddresses: sentinels.map((s) => `127.0.0.1:${s.port}`).join(','),
    primary: async () => serverOn(await primaryPort()),
    waitForFailover: (old, timeoutMs) =>
      until(`Sentinel failover away from port ${old.port}`, timeoutMs, async () => {
        const port = await primaryPort();
        if (port === old.port) return undefined;
        const role = await askRedis<unknown[]>(port, ['ROLE']);
        return role[0] === 'master' ? serverOn(port) : undefined;
      }),
    waitForReplicas: async (count, timeoutMs) => {
      await until(`${count} replicas in sync with the primary`, timeoutMs, async () => {
        const info = infoFields(await askRedis<string>(await primaryPort(), ['INFO', 'replication']));
        let online = 0;
        for (const [field, value] of info) if (/^slave[0-9]+$/.test(field) && value.includes('state=online')) online += 1;
        return online >= count ? true : undefined;
      });
    },
    rejoinAsReplica: async (server) => {
      const port = await primaryPort();
      await server.restart();
      await askRedis(server.port, ['REPLICAOF', '127.0.0.1', String(port)]);
    },
    stop: stopAll,
  };
  await set.waitForReplicas(replicas, redis_ready_timeout_ms);
  return set;
}

/** Starts one Sentinel watching the primary on primaryPort; resolves once it answers PING. */
async function startSentinel(dir: string, masterName: string, primaryPort: number, downAfterMs: number): Promise<SentinelProcess> {
  // Absolute: the Sentinel runs in this directory and is given its configuration file's path.
  const dataDir = path.resolve(dir);
  fs.mkdirSync(dataDir, { recursive: true });
  const port = await pickFreePort();
  const configFile = path.join(dataDir, 'sentinel.conf');
  // Sentinel rewrites its configuration file as it learns the set's state, so it gets its own.
  fs.writeFileSync(
    configFile,
    [
      `port ${port}`,
      'bind 127.0.0.1',
      'protected-mode no',
      'daemonize no',
      `dir ${dataDir}`,
      `logfile ${path.join(dataDir, 'sentinel.log')}`,
      `sentinel monitor ${masterName} 127.0.0.1 ${primaryPort} ${sentinel_quorum}`,
      `sentinel down-after-milliseconds ${masterName} ${downAfterMs}`,
      `sentinel failover-timeout ${masterName} ${Math.max(3 * downAfterMs, 3_000)}`,
      `sentinel parallel-syncs ${masterName} 1`,
      '',
    ].join('\n'),
  );
  const command = findExecutable('redis-server', ['/usr/bin/redis-server', '/usr/sbin/redis-server']) ?? 'redis-server';
  const consoleLogFile = path.join(dataDir, 'sentinel.console.log');
  const child: SupervisedChild = await spawnSupervised({
    name: 'redis-sentinel',
    command,
    args: [configFile, '--sentinel'],
    cwd: dataDir,
    consoleLogFile,
    ownProcessGroup: false,
  });
  try {
    await pollUntilReady({
      child,
      expected: `PING on 127.0.0.1:${port} answered with "+PONG"`,
      deadline: Date.now() + redis_ready_timeout_ms,
      intervalMs: 50,
      probe: () => probePing(port),
      diagnostics: () => `${logTail(path.join(dataDir, 'sentinel.log'))}\n${logTail(consoleLogFile)}`,
    });
  } catch (error) {
    await child.kill9();
    throw error;
  }
  return {
    port,
    pid: child.pid,
    stop: async () => {
      await child.stop(redis_stop_grace_ms);
    },
    kill9: async () => {
      await child.kill9();
    },
  };
}

// ---- Redis Cluster -----------------------------------------------------------------------------

export interface RedisClusterSet {
  /** The servers: the first `primaries` started as primaries, then their replicas in order. */
  readonly servers: readonly RedisInstance[];
  /** "127.0.0.1:<port>,..." of every server (TAPLINE_REDIS_CLUSTER_NODES). */
  readonly seeds: string;
  /** The server serving `slot` as its primary now, as the running servers see it. */
  primaryOfSlot(slot: number): Promise<RedisInstance>;
  /** Waits until every running server reports cluster_state:ok and `replicas` replicas per primary are linked. */
  waitHealthy(replicas: number, timeoutMs: number): Promise<void>;
  stop(): Promise<void>;
}

export interface StartRedisClusterOptions {
  readonly dataDir: string;
  /** Primaries (default 3, the fewest Redis Cluster elects a failover with). */
  readonly primaries?: number;
  readonly replicasPerPrimary?: number;
  /** A primary unseen this long is failed over by its replica (default 1,000 ms for tests). */
  readonly nodeTimeoutMs?: number;
  readonly appendfsync?: 'always' | 'everysec';
  /** A primary refuses writes when its replica has not acknowledged for longer (default 1 s). */
  readonly minReplicasMaxLagS?: number;
}

const slot_count = 16_384;

/** Starts the servers, assigns the slots evenly to the primaries, attaches the replicas and waits until it is healthy. */
export async function startRedisCluster(options: StartRedisClusterOptions): Promise<RedisClusterSet> {
  const primaries = options.primaries ?? 3;
  const perPrimary = options.replicasPerPrimary ?? 1;
  const servers: RedisInstance[] = [];
  const stopAll = async (): Promise<void> => {
    await Promise.all(servers.map((s) => s.stop()));
  };
  try {
    for (let i = 0; i < primaries * (1 + perPrimary); i++) {
      servers.push(
        await startRedis({
          dataDir: path.join(options.dataDir, `node-${i}`),
          appendfsync: options.appendfsync ?? 'always',
          cluster: { nodeTimeoutMs: options.nodeTimeoutMs ?? 1_000 },
          minReplicasToWrite: Math.min(1, perPrimary),
          minReplicasMaxLagS: options.minReplicasMaxLagS ?? 1,
        }),
      );
    }
    await formCluster(servers, primaries, perPrimary);
  } catch (error) {
    await stopAll();
    throw error;
  }
  const running = (): RedisInstance[] => servers.filter((s) => s.running);
  const set: RedisClusterSet = {
    servers,
    seeds: servers.map((s) => `127.0.0.1:${s.port}`).join(','),
    primaryOfSlot: async (slot) => {
      for (const server of running()) {
        try {
          const ranges = await askRedis<[number, number, [string, number]][]>(server.port, ['CLUSTER', 'SLOTS'], 1_000);
          for (const [from, to, [, port]] of ranges) {
            if (slot >= from && slot <= to) {
              const owner = servers.find((s) => s.port === Number(port));
              if (owner !== undefined) return owner;
            }
          }
        } catch {
          // A dead or paused server does not answer; ask the next.
        }
      }
      throw new Error(`no running server names a primary for slot ${slot}`);
    },
    waitHealthy: async (replicas, timeoutMs) => {
      await until(`cluster healthy with ${replicas} replica(s) per primary`, timeoutMs, async () => {
        const states = await Promise.all(
          running().map(async (s) => infoFields(await askRedis<string>(s.port, ['CLUSTER', 'INFO'], 1_000)).get('cluster_state')),
        );
        if (states.some((state) => state !== 'ok')) return undefined;
        const ranges = await askRedis<[number, number, ...unknown[]][]>((running()[0] as RedisInstance).port, ['CLUSTER', 'SLOTS'], 1_000);
        return ranges.every((range) => range.length - 3 >= replicas) ? true : undefined;
      });
    },
    stop: stopAll,
  };
  await set.waitHealthy(perPrimary, 30_000);
  return set;
}

/** Meets every server, gives each primary an even range of slots and makes the rest replicas. */
async function formCluster(servers: readonly RedisInstance[], primaries: number, perPrimary: number): Promise<void> {
  const first = servers[0] as RedisInstance;
  for (let i = 0; i < primaries; i++) {
    const from = Math.floor((slot_count * i) / primaries);
    const to = Math.floor((slot_count * (i + 1)) / primaries) - 1;
    await askRedis((servers[i] as RedisInstance).port, ['CLUSTER', 'ADDSLOTSRANGE', String(from), String(to)]);
  }
  // The first node's bus port is named: it is not port + 10,000 (redis.ts picks it free).
  const meet = ['CLUSTER', 'MEET', '127.0.0.1', String(first.port), ...(first.busPort === undefined ? [] : [String(first.busPort)])];
  for (const server of servers.slice(1)) await askRedis(server.port, meet);
  await until('every cluster node knows every other', 30_000, async () => {
    const views = await Promise.all(servers.map((s) => askRedis<string>(s.port, ['CLUSTER', 'NODES'])));
    return views.every((view) => view.trim().split('\n').length === servers.length) ? true : undefined;
  });
  for (let r = 0; r < primaries * perPrimary; r++) {
    const replica = servers[primaries + r] as RedisInstance;
    const primaryId = await askRedis<string>((servers[r % primaries] as RedisInstance).port, ['CLUSTER', 'MYID']);
    await until(`replica on port ${replica.port} attached`, 30_000, async () => {
      await askRedis(replica.port, ['CLUSTER', 'REPLICATE', primaryId]);
      return true;
    });
  }
}

/**
 * Moves one hash slot, keys and all, from the primary serving it to `target` (another primary), as
 * `redis-cli --cluster reshard` does: IMPORTING / MIGRATING, MIGRATE of its keys in batches, then
 * the new owner announced to every primary. Clients meanwhile get ASK / TRYAGAIN for that slot.
 */
export async function moveSlot(set: RedisClusterSet, slot: number, target: RedisInstance): Promise<void> {
  const source = await set.primaryOfSlot(slot);
  if (source === target) return;
  const sourceId = await askRedis<string>(source.port, ['CLUSTER', 'MYID']);
  const targetId = await askRedis<string>(target.port, ['CLUSTER', 'MYID']);
  await askRedis(target.port, ['CLUSTER', 'SETSLOT', String(slot), 'IMPORTING', sourceId]);
  await askRedis(source.port, ['CLUSTER', 'SETSLOT', String(slot), 'MIGRATING', targetId]);
  for (;;) {
    const keys = await askRedis<string[]>(source.port, ['CLUSTER', 'GETKEYSINSLOT', String(slot), '100']);
    if (keys.length === 0) break;
    await askRedis(source.port, ['MIGRATE', '127.0.0.1', String(target.port), '', '0', '5000', 'KEYS', ...keys], 10_000);
  }
  for (const server of [target, source, ...set.servers.filter((s) => s !== source && s !== target && s.running)]) {
    const role = await askRedis<unknown[]>(server.port, ['ROLE']).catch(() => ['gone']);
    if (role[0] === 'master') await askRedis(server.port, ['CLUSTER', 'SETSLOT', String(slot), 'NODE', targetId]);
  }
}
