// A throwaway ZooKeeper for development and tests: the coordination service replicated
// ClickHouse 18.16 needs (ReplicatedMergeTree, ON CLUSTER DDL). One standalone server on
// 127.0.0.1, data in a directory the caller owns, run as a supervised child process (Debian's
// `zookeeper` package, started with java directly so no system configuration is read).

import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { findExecutable, logTail, pickFreePort, pollUntilReady, spawnSupervised, type ProbeResult } from './supervise';

/** How long the JVM may take to start and serve (its "srvr" answer names its mode). */
export const zookeeper_ready_timeout_ms = 60_000;

const zookeeper_stop_grace_ms = 10_000;

/** Debian's server jar (its manifest names the libraries it needs) and a logger that writes to the console log. */
const zookeeper_classpath = '/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar';

export interface ZooKeeperInstance {
  readonly host: string;
  readonly port: number;
  stop(): Promise<void>;
}

/**
 * Starts a standalone ZooKeeper and waits until it serves: "srvr" answers with its mode ("ruok"
 * answers "imok" before the server takes sessions, and ClickHouse 18.16 does not survive a refused
 * session at startup).
 */
export async function startZooKeeper(options: { dataDir: string }): Promise<ZooKeeperInstance> {
  const dataDir = path.resolve(options.dataDir);
  fs.mkdirSync(path.join(dataDir, 'data'), { recursive: true });
  const port = await pickFreePort();
  const configFile = path.join(dataDir, 'zoo.cfg');
  fs.writeFileSync(
    configFile,
    [
      // Short ticks: sessions of a killed ClickHouse expire within seconds in tests.
      'tickTime=500',
      `dataDir=${path.join(dataDir, 'data')}`,
      `clientPort=${port}`,
      'clientPortAddress=127.0.0.1',
      'admin.enableServer=false',
      '4lw.commands.whitelist=srvr',
      '',
    ].join('\n'),
  );
  const java = findExecutable('java', ['/usr/bin/java']) ?? 'java';
  const consoleLogFile = path.join(dataDir, 'zookeeper.console.log');
  const child = await spawnSupervised({
    name: 'zookeeper',
    command: java,
    // A small heap: it holds a few thousand znodes for the replicated tables of a test.
    args: ['-Xmx128m', '-cp', zookeeper_classpath, 'org.apache.zookeeper.server.ZooKeeperServerMain', configFile],
    cwd: dataDir,
    consoleLogFile,
    ownProcessGroup: false,
  });
  try {
    await pollUntilReady({
      child,
      expected: `"srvr" on 127.0.0.1:${port} answered with its mode`,
      deadline: Date.now() + zookeeper_ready_timeout_ms,
      intervalMs: 100,
      probe: () => probeServing(port),
      diagnostics: () => logTail(consoleLogFile),
    });
  } catch (error) {
    await child.kill9();
    throw error;
  }
  return {
    host: '127.0.0.1',
    port,
    stop: async () => {
      await child.stop(zookeeper_stop_grace_ms);
    },
  };
}

function probeServing(port: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    let received = '';
    const socket = net.createConnection({ host: '127.0.0.1', port });
    const done = (result: ProbeResult): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => done({ ready: false, seen: `no answer (received ${JSON.stringify(received)})` }), 1_000);
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write('srvr'));
    socket.on('data', (chunk: string) => {
      received += chunk;
    });
    socket.on('end', () =>
      done(received.includes('Mode: ') ? { ready: true } : { ready: false, seen: JSON.stringify(received.slice(0, 200)) }),
    );
    socket.on('error', (error: NodeJS.ErrnoException) => done({ ready: false, seen: `connection error ${error.code ?? error.message}` }));
  });
}
