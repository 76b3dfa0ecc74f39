// Starts and manages a throwaway redis-server for development and tests.
// Tests and the dev CLI need a real Redis with durable AOF persistence in a directory they
// own, on 127.0.0.1 only, that they can stop, crash (SIGKILL) and restart on the same port
// and data directory to exercise recovery. The server runs as a supervised child process
// (not daemonized) configured entirely from the command line, so no system config is used.

import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import {
  type ExitStatus,
  type SupervisedChild,
  logTail,
  logSize,
  logWrittenSince,
  findExecutable,
  pickFreePort,
  pickFreePorts,
  pollUntilReady,
  spawnSupervised,
  type ProbeResult,
} from './supervise';

/** How long Redis may take from spawn (including AOF replay) until it answers PING. */
export const redis_ready_timeout_ms = 20_000;

/** How long Redis may take to exit after SIGTERM before it is SIGKILLed. */
export const redis_stop_grace_ms = 10_000;

/** How long one PING probe may take (connect, send, read one line). */
const ping_attempt_timeout_ms = 1_000;

/** The pause between PING probes while waiting for readiness. */
const ping_poll_interval_ms = 50;

/** A running Redis server managed by this process. */
export interface RedisInstance {
  /** A redis:// URL for clients, e.g. redis://127.0.0.1:6390. */
  readonly url: string;
  readonly port: number;
  /** A cluster node's bus port (CLUSTER MEET names it); undefined for other servers. */
  readonly busPort: number | undefined;
  /** The pid of the current server process; it changes on restart(). */
  readonly pid: number;
  /** The absolute data directory (AOF files, log). */
  readonly dataDir: string;
  /** False once the current server process has exited (killed, stopped). */
  readonly running: boolean;
  /** SIGTERM, wait for exit (bounded by redis_stop_grace_ms, then SIGKILL). */
  stop(): Promise<void>;
  /** SIGKILL and wait for exit, to simulate a crash in fault tests. */
  kill9(): Promise<void>;
  /**
   * Starts the server again on the same port and data directory (the AOF is replayed) and
   * waits until PING answers. A server that is still running is stopped gracefully first.
   */
  restart(): Promise<void>;
  /** Resolves when the current server process exits, for whatever reason. */
  waitForExit(): Promise<ExitStatus>;
  /**
   * SIGSTOP: the process keeps its sockets but answers nothing, as a primary cut off by a network
   * partition does (fault tests); resume() sends SIGCONT.
   */
  pause(): void;
  resume(): void;
}

/** How to start Redis. */
export interface StartRedisOptions {
  /** Where the AOF files and the log live; created if missing. */
  dataDir: string;
  /** The port on 127.0.0.1; 0 or undefined picks a free port. */
  port?: number;
  /** AOF fsync policy; 'always' (the default) makes every acknowledged write durable. */
  appendfsync?: 'always' | 'everysec';
  /** The Redis log file; defaults to <dataDir>/redis.log. */
  logFile?: string;
  /**
   * Put the server in its own process group, so a terminal's Ctrl-C reaches only this
   * process, which then stops the server in order. Defaults to false, so a Ctrl-C of a test
   * run also stops the servers it started. The dev CLI sets it.
   */
  ownProcessGroup?: boolean;
  /** Start as a replica of the server on this port of 127.0.0.1 (Sentinel set-ups). */
  replicaOfPort?: number;
  /** Start as a Redis Cluster node (cluster-enabled, its nodes.conf in dataDir). */
  cluster?: { readonly nodeTimeoutMs: number };
  /**
   * A primary refuses writes unless this many replicas acknowledged it within
   * minReplicasMaxLagS: a primary cut off from its replicas (partitioned, or restarted before
   * Sentinel demotes it) accepts nothing. 0 (the default) is the single-box setting.
   */
  minReplicasToWrite?: number;
  minReplicasMaxLagS?: number;
}

/** Starts redis-server and waits until it answers PING with +PONG. */
export function startRedis(options: StartRedisOptions): Promise<RedisInstance> {
  return startRedisOnPorts(options, pickPorts);
}

/** Ports for a server: its own, and for a cluster node its bus port (undefined otherwise). */
export interface RedisPorts {
  readonly port: number;
  readonly busPort: number | undefined;
}

/**
 * startRedis with the ports picked by `pick`. A port picked free can be taken by another process
 * before the server binds it (another test file's connection, say): the server is then started
 * again on ports picked anew, up to bind_attempts_max times.
 */
export async function startRedisOnPorts(
  options: StartRedisOptions,
  pick: (options: StartRedisOptions) => Promise<RedisPorts>,
): Promise<RedisInstance> {
  const dataDir = path.resolve(options.dataDir);
  fs.mkdirSync(dataDir, { recursive: true });
  const logFile = path.resolve(options.logFile ?? path.join(dataDir, 'redis.log'));
  const consoleLogFile = path.join(dataDir, 'redis.console.log');
  const command = findExecutable('redis-server', ['/usr/bin/redis-server', '/usr/sbin/redis-server']) ?? 'redis-server';
  const diagnostics = (): string => `${logTail(logFile)}\n${logTail(consoleLogFile)}`;
  for (let attempt = 1; ; attempt++) {
    const ports = await pick(options);
    const logged = logSize(logFile);
    try {
      return await startOn(ports, options, { dataDir, logFile, consoleLogFile, command, diagnostics });
    } catch (error) {
      const taken = /Address already in use/.test(logWrittenSince(logFile, logged));
      const picked = options.port === undefined || options.port === 0 || ports.busPort !== undefined;
      if (!picked || attempt >= bind_attempts_max || !taken) throw error;
    }
  }
}

/** Starts of a server whose picked port was taken meanwhile, at most. */
const bind_attempts_max = 3;

/**
 * The given port, or a free one; a cluster node's bus port is picked free too and given
 * explicitly: Redis' default, port + 10,000, lies where outgoing connections take their local
 * ports, and nothing checked it free.
 */
async function pickPorts(options: StartRedisOptions): Promise<RedisPorts> {
  const given = options.port !== undefined && options.port !== 0 ? options.port : undefined;
  if (options.cluster === undefined) return { port: given ?? (await pickFreePort()), busPort: undefined };
  if (given !== undefined) return { port: given, busPort: await pickFreePort() };
  const [port, busPort] = await pickFreePorts(2);
  if (port === undefined || busPort === undefined) throw new Error('no free ports were picked');
  return { port, busPort };
}

async function startOn(
  { port, busPort }: RedisPorts,
  options: StartRedisOptions,
  files: { dataDir: string; logFile: string; consoleLogFile: string; command: string; diagnostics: () => string },
): Promise<RedisInstance> {
  const { dataDir, logFile, consoleLogFile, command, diagnostics } = files;
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dataDir,
    '--appendonly',
    'yes',
    '--appendfsync',
    options.appendfsync ?? 'always',
    '--aof-use-rdb-preamble',
    'yes',
    // An empty "save" disables RDB snapshots; the AOF is the only persistence.
    '--save',
    '',
    '--protected-mode',
    'no',
    '--daemonize',
    'no',
    '--logfile',
    logFile,
    '--maxmemory-policy',
    'noeviction',
    ...haArgs(options),
    ...(busPort === undefined ? [] : ['--cluster-port', String(busPort)]),
  ];

  const launch = async (): Promise<SupervisedChild> => {
    const child = await spawnSupervised({
      name: 'redis-server',
      command,
      args,
      cwd: dataDir,
      consoleLogFile,
      ownProcessGroup: options.ownProcessGroup ?? false,
    });
    try {
      await pollUntilReady({
        child,
        expected: `PING on 127.0.0.1:${port} answered with "+PONG"`,
        deadline: Date.now() + redis_ready_timeout_ms,
        intervalMs: ping_poll_interval_ms,
        probe: () => probePing(port),
        diagnostics,
      });
    } catch (error) {
      // A server that never became ready must not be left behind.
      await child.kill9();
      throw error;
    }
    return child;
  };

  let current = await launch();
  const instance: RedisInstance = {
    url: `redis://127.0.0.1:${port}`,
    port,
    busPort,
    get pid(): number {
      return current.pid;
    },
    dataDir,
    get running(): boolean {
      return current.isRunning();
    },
    async stop(): Promise<void> {
      // A paused server would not see SIGTERM until it runs again.
      current.sendSignal('SIGCONT');
      await current.stop(redis_stop_grace_ms);
    },
    async kill9(): Promise<void> {
      await current.kill9();
    },
    async restart(): Promise<void> {
      current.sendSignal('SIGCONT');
      await current.stop(redis_stop_grace_ms);
      current = await launch();
    },
    waitForExit(): Promise<ExitStatus> {
      return current.exited;
    },
    pause(): void {
      current.sendSignal('SIGSTOP');
    },
    resume(): void {
      current.sendSignal('SIGCONT');
    },
  };
  return instance;
}

/** The command-line arguments of the replication and cluster options. */
function haArgs(options: StartRedisOptions): string[] {
  const args: string[] = [];
  if (options.replicaOfPort !== undefined) args.push('--replicaof', '127.0.0.1', String(options.replicaOfPort));
  if (options.cluster !== undefined) {
    args.push('--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf');
    args.push('--cluster-node-timeout', String(options.cluster.nodeTimeoutMs));
    // Slots whose primary is lost stop; the others go on serving (the default stops them all).
    args.push('--cluster-require-full-coverage', 'no');
  }
  if (options.minReplicasToWrite !== undefined && options.minReplicasToWrite > 0) {
    args.push('--min-replicas-to-write', String(options.minReplicasToWrite));
    args.push('--min-replicas-max-lag', String(options.minReplicasMaxLagS ?? 1));
  }
  return args;
}

/**
 * One readiness probe: connects, sends PING and reads one reply line. It never throws; a
 * connection error or a reply other than +PONG (e.g. "-LOADING" during AOF replay) is
 * reported as what was seen.
 */
export function probePing(port: number): Promise<ProbeResult> {
  return new Promise<ProbeResult>((resolve) => {
    let received = '';
    let settled = false;
    const socket = net.createConnection({ host: '127.0.0.1', port });
    const finish = (result: ProbeResult): void => {
      if (settled) {
        return;
      }
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(
      () => finish({ ready: false, seen: `no reply within ${ping_attempt_timeout_ms} ms (received ${JSON.stringify(received)})` }),
      ping_attempt_timeout_ms,
    );
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk: string) => {
      received += chunk;
      const lineEnd = received.indexOf('\r\n');
      if (lineEnd >= 0) {
        const line = received.slice(0, lineEnd);
        finish(line === '+PONG' ? { ready: true } : { ready: false, seen: JSON.stringify(line) });
      }
    });
    socket.on('error', (error: NodeJS.ErrnoException) => finish({ ready: false, seen: `connection error ${error.code ?? error.message}` }));
    socket.on('close', () => finish({ ready: false, seen: `connection closed after ${JSON.stringify(received)}` }));
  });
}
