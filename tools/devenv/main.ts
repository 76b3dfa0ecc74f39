// Dev CLI that runs one local server in the foreground until it is told to stop.
//   node dist/tools/devenv/main.js redis --data-dir .data/redis --port 6390 [--appendfsync everysec]
//   node dist/tools/devenv/main.js clickhouse --data-dir .data/clickhouse --http-port 8133 --tcp-port 9010
// It starts the server as a supervised child, prints one JSON line with its url and pid, and on
// SIGTERM or SIGINT stops the server in order and exits; a second signal kills it at once. It
// exists so developers get the same server setup as the tests without any system service.

import { parseArgs } from 'node:util';
import { startClickHouse } from './clickhouse';
import { startRedis } from './redis';
import type { ExitStatus } from './supervise';

/**
 * The server child does not keep the event loop alive (so tests cannot hang on a leaked
 * server); this CLI holds a timer instead, which fires at this interval and does nothing.
 */
const keep_alive_interval_ms = 60_000;

const usage = `usage:
  main.js redis --data-dir DIR [--port N] [--appendfsync always|everysec] [--log-file FILE]
  main.js clickhouse --data-dir DIR [--http-port N] [--tcp-port N]
A port of 0 or no port picks a free one.`;

/** What the CLI needs from either kind of server. */
interface ManagedServer {
  readonly pid: number;
  stop(): Promise<void>;
  kill9(): Promise<void>;
  waitForExit(): Promise<ExitStatus>;
}

function parsePort(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) {
    return undefined;
  }
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new Error(`${flag} must be a port number, got ${JSON.stringify(value)}`);
  }
  return port;
}

async function start(argv: readonly string[]): Promise<ManagedServer> {
  const [kind, ...rest] = argv;
  if (kind === 'redis') {
    const { values } = parseArgs({
      args: rest,
      options: {
        'data-dir': { type: 'string' },
        port: { type: 'string' },
        appendfsync: { type: 'string' },
        'log-file': { type: 'string' },
      },
      strict: true,
    });
    const dataDir = values['data-dir'];
    if (dataDir === undefined) {
      throw new Error('--data-dir is required');
    }
    const appendfsync = values.appendfsync;
    if (appendfsync !== undefined && appendfsync !== 'always' && appendfsync !== 'everysec') {
      throw new Error(`--appendfsync must be "always" or "everysec", got ${JSON.stringify(appendfsync)}`);
    }
    const logFile = values['log-file'];
    const redis = await startRedis({
      dataDir,
      port: parsePort(values.port, '--port'),
      ...(appendfsync !== undefined ? { appendfsync } : {}),
      ...(logFile !== undefined ? { logFile } : {}),
      ownProcessGroup: true,
    });
    console.log(JSON.stringify({ service: 'redis', url: redis.url, port: redis.port, pid: redis.pid, dataDir: redis.dataDir }));
    return redis;
  }
  if (kind === 'clickhouse') {
    const { values } = parseArgs({
      args: rest,
      options: {
        'data-dir': { type: 'string' },
        'http-port': { type: 'string' },
        'tcp-port': { type: 'string' },
      },
      strict: true,
    });
    const dataDir = values['data-dir'];
    if (dataDir === undefined) {
      throw new Error('--data-dir is required');
    }
    const clickhouse = await startClickHouse({
      dataDir,
      httpPort: parsePort(values['http-port'], '--http-port'),
      tcpPort: parsePort(values['tcp-port'], '--tcp-port'),
      ownProcessGroup: true,
    });
    console.log(
      JSON.stringify({
        service: 'clickhouse',
        url: clickhouse.url,
        httpPort: clickhouse.httpPort,
        tcpPort: clickhouse.tcpPort,
        pid: clickhouse.pid,
        dataDir: clickhouse.dataDir,
      }),
    );
    return clickhouse;
  }
  throw new Error(kind === undefined ? 'missing server kind' : `unknown server kind ${JSON.stringify(kind)}`);
}

async function main(): Promise<void> {
  let server: ManagedServer;
  try {
    server = await start(process.argv.slice(2));
  } catch (error) {
    console.error(`devenv: ${(error as Error).message}\n${usage}`);
    process.exit(2);
  }
  const keepAlive = setInterval(() => undefined, keep_alive_interval_ms);
  let shuttingDown = false;

  const shutDown = (signal: NodeJS.Signals): void => {
    if (shuttingDown) {
      console.error(`devenv: received ${signal} again; killing pid ${server.pid}`);
      void server.kill9().finally(() => process.exit(1));
      return;
    }
    shuttingDown = true;
    console.error(`devenv: received ${signal}; stopping pid ${server.pid}`);
    server.stop().then(
      () => {
        clearInterval(keepAlive);
        process.exit(0);
      },
      (error: unknown) => {
        console.error(`devenv: stopping failed: ${(error as Error).message}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', shutDown);
  process.on('SIGINT', shutDown);

  const status = await server.waitForExit();
  if (!shuttingDown) {
    const how = status.signal !== null ? `signal ${status.signal}` : `code ${String(status.code)}`;
    console.error(`devenv: server pid ${server.pid} exited unexpectedly with ${how}`);
    clearInterval(keepAlive);
    process.exit(1);
  }
}

void main();
