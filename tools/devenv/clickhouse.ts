// Starts and manages a throwaway ClickHouse server for development and tests.
// Tests and the dev CLI need a real ClickHouse on 127.0.0.1 whose data, logs and config all
// live in one directory they own, that they can stop, crash (SIGKILL) and restart. ClickHouse
// 18.16 (the Debian package) reads its settings from XML files only, so a minimal config.xml
// and users.xml are generated into the data directory on every start, and the server runs as
// a supervised child process in the foreground.

import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import {
  type ExitStatus,
  type ProbeResult,
  type SupervisedChild,
  findExecutable,
  logTail,
  logSize,
  logWrittenSince,
  pickFreePorts,
  pollUntilReady,
  spawnSupervised,
} from './supervise';

/** How long ClickHouse may take from spawn until /ping and SELECT 1 both answer. */
export const clickhouse_ready_timeout_ms = 60_000;

/** How long ClickHouse may take to exit after SIGTERM before it is SIGKILLed. */
export const clickhouse_stop_grace_ms = 30_000;

/** How long one readiness HTTP request may take. */
const probe_attempt_timeout_ms = 2_000;

/** The pause between readiness probes. */
const probe_poll_interval_ms = 100;

/** How long a queryClickHouse call may take unless the caller says otherwise. */
export const clickhouse_query_timeout_ms = 30_000;

/** A running ClickHouse server managed by this process. */
export interface ClickHouseInstance {
  /** The HTTP interface, e.g. http://127.0.0.1:8133. */
  readonly url: string;
  readonly httpPort: number;
  /** The native protocol port (for clickhouse-client). */
  readonly tcpPort: number;
  /** The pid of the current server process; it changes on restart(). */
  readonly pid: number;
  /** The absolute directory holding config, data and logs. */
  readonly dataDir: string;
  /** SIGTERM, wait for exit (bounded by clickhouse_stop_grace_ms, then SIGKILL). */
  stop(): Promise<void>;
  /** SIGKILL and wait for exit, to simulate a crash in fault tests. */
  kill9(): Promise<void>;
  /**
   * Starts the server again on the same ports and data directory and waits until it answers.
   * A server that is still running is stopped gracefully first.
   */
  restart(): Promise<void>;
  /** Resolves when the current server process exits, for whatever reason. */
  waitForExit(): Promise<ExitStatus>;
}

/** How to start ClickHouse. */
export interface StartClickHouseOptions {
  /** Where config, data and logs live; created if missing. */
  dataDir: string;
  /** The HTTP port on 127.0.0.1; 0 or undefined picks a free port. */
  httpPort?: number;
  /** The native TCP port on 127.0.0.1; 0 or undefined picks a free port. */
  tcpPort?: number;
  /**
   * Put the server in its own process group, so a terminal's Ctrl-C reaches only this
   * process, which then stops the server in order. Defaults to false; the dev CLI sets it.
   */
  ownProcessGroup?: boolean;
  /** Make the server a replica of a ClickHouse cluster (replicated tables, ON CLUSTER DDL). */
  replication?: ClickHouseReplication;
}

/** A server's place in a ClickHouse cluster: its coordination service, its cluster and its identity. */
export interface ClickHouseReplication {
  /** Port replicas fetch parts from each other on (127.0.0.1). */
  readonly interserverPort: number;
  readonly zookeeper: { readonly host: string; readonly port: number };
  /** The cluster's name (TAPLINE_CLICKHOUSE_CLUSTER) and its shards, each a list of replicas' native ports. */
  readonly cluster: { readonly name: string; readonly shards: readonly (readonly number[])[] };
  /** This server's {shard} and {replica} macros (the ZooKeeper paths of its replicated tables). */
  readonly shard: string;
  readonly replica: string;
}

/** Where the parts of a ClickHouse data directory go. */
interface ClickHouseLayout {
  readonly configFile: string;
  readonly usersFile: string;
  readonly dbPath: string;
  readonly tmpPath: string;
  readonly userFilesPath: string;
  readonly formatSchemaPath: string;
  readonly logFile: string;
  readonly errorLogFile: string;
  readonly consoleLogFile: string;
}

function layoutFor(dataDir: string): ClickHouseLayout {
  return {
    configFile: path.join(dataDir, 'config.xml'),
    usersFile: path.join(dataDir, 'users.xml'),
    // ClickHouse joins these paths by plain string concatenation, so they end with a slash.
    dbPath: path.join(dataDir, 'db') + '/',
    tmpPath: path.join(dataDir, 'tmp') + '/',
    userFilesPath: path.join(dataDir, 'user_files') + '/',
    formatSchemaPath: path.join(dataDir, 'format_schemas') + '/',
    logFile: path.join(dataDir, 'log', 'clickhouse-server.log'),
    errorLogFile: path.join(dataDir, 'log', 'clickhouse-server.err.log'),
    consoleLogFile: path.join(dataDir, 'log', 'console.log'),
  };
}

/** Starts clickhouse-server and waits until /ping answers "Ok." and SELECT 1 works. */
export function startClickHouse(options: StartClickHouseOptions): Promise<ClickHouseInstance> {
  return startClickHouseOnPorts(options, () => resolvePorts(options.httpPort, options.tcpPort));
}

/** Starts of a server whose picked port was taken meanwhile, at most. */
const bind_attempts_max = 3;

/**
 * startClickHouse with its [http, tcp] ports chosen by `pick`. A port picked free can be taken by
 * another process before the server binds it (another test file's connection, say): the server is
 * then started again on ports picked anew, up to bind_attempts_max times. Requested ports are not
 * changed: a server on a taken requested port fails.
 */
export async function startClickHouseOnPorts(
  options: StartClickHouseOptions,
  pick: () => Promise<[number, number]>,
): Promise<ClickHouseInstance> {
  const picked = !(options.httpPort !== undefined && options.httpPort !== 0 && options.tcpPort !== undefined && options.tcpPort !== 0);
  const errorLogFile = layoutFor(path.resolve(options.dataDir)).errorLogFile;
  for (let attempt = 1; ; attempt++) {
    const logged = logSize(errorLogFile);
    try {
      return await startOn(await pick(), options);
    } catch (error) {
      const taken = /Address already in use/.test(logWrittenSince(errorLogFile, logged));
      if (!picked || attempt >= bind_attempts_max || !taken) throw error;
    }
  }
}

async function startOn([httpPort, tcpPort]: [number, number], options: StartClickHouseOptions): Promise<ClickHouseInstance> {
  const dataDir = path.resolve(options.dataDir);
  const layout = layoutFor(dataDir);
  for (const dir of [dataDir, layout.dbPath, layout.tmpPath, layout.userFilesPath, layout.formatSchemaPath]) {
    fs.mkdirSync(dir, { recursive: true });
  }
  fs.mkdirSync(path.dirname(layout.logFile), { recursive: true });
  fs.writeFileSync(layout.configFile, renderConfigXml(layout, httpPort, tcpPort, options.replication));
  fs.writeFileSync(layout.usersFile, renderUsersXml());
  const { command, leadingArgs } = findClickHouseServer();
  const args = [...leadingArgs, `--config-file=${layout.configFile}`];
  const url = `http://127.0.0.1:${httpPort}`;
  const diagnostics = (): string => [layout.errorLogFile, layout.logFile, layout.consoleLogFile].map((file) => logTail(file)).join('\n');

  const launch = async (): Promise<SupervisedChild> => {
    const child = await spawnSupervised({
      name: 'clickhouse-server',
      command,
      args,
      cwd: dataDir,
      consoleLogFile: layout.consoleLogFile,
      ownProcessGroup: options.ownProcessGroup ?? false,
    });
    const deadline = Date.now() + clickhouse_ready_timeout_ms;
    try {
      await pollUntilReady({
        child,
        expected: `GET ${url}/ping answered with "Ok."`,
        deadline,
        intervalMs: probe_poll_interval_ms,
        probe: () => probeHttp(httpPort, 'GET', '/ping', undefined, 'Ok.'),
        diagnostics,
      });
      await pollUntilReady({
        child,
        expected: `POST ${url}/ with "SELECT 1" answered with "1"`,
        deadline,
        intervalMs: probe_poll_interval_ms,
        probe: () => probeHttp(httpPort, 'POST', '/', 'SELECT 1', '1'),
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
  const instance: ClickHouseInstance = {
    url,
    httpPort,
    tcpPort,
    get pid(): number {
      return current.pid;
    },
    dataDir,
    async stop(): Promise<void> {
      await current.stop(clickhouse_stop_grace_ms);
    },
    async kill9(): Promise<void> {
      await current.kill9();
    },
    async restart(): Promise<void> {
      await current.stop(clickhouse_stop_grace_ms);
      current = await launch();
    },
    waitForExit(): Promise<ExitStatus> {
      return current.exited;
    },
  };
  return instance;
}

/**
 * Runs one SQL statement over the HTTP interface and returns the response body (by default in
 * TabSeparated format). Throws with the server's error text on a non-200 answer.
 */
export async function queryClickHouse(url: string, sql: string, timeoutMs: number = clickhouse_query_timeout_ms): Promise<string> {
  const target = new URL(url);
  const response = await httpRequest({ host: target.hostname, port: Number(target.port), method: 'POST', path: '/' }, sql, timeoutMs);
  if (response.status !== 200) {
    throw new Error(`ClickHouse answered HTTP ${response.status} to ${JSON.stringify(sql)}: ${response.body.trim()}`);
  }
  return response.body;
}

/** Uses the requested ports, picking distinct free ones for any that are 0 or missing. */
async function resolvePorts(httpPort: number | undefined, tcpPort: number | undefined): Promise<[number, number]> {
  const requested = (port: number | undefined): number | undefined => (port === undefined || port === 0 ? undefined : port);
  const fixed = [requested(httpPort), requested(tcpPort)];
  // A picked port that happens to equal a requested one is not handed out a second time.
  const available = (await pickFreePorts(2)).filter((port) => !fixed.includes(port));
  const chosenHttp = requested(httpPort) ?? available.shift();
  const chosenTcp = requested(tcpPort) ?? available.shift();
  if (chosenHttp === undefined || chosenTcp === undefined) {
    throw new Error('could not pick free ports for ClickHouse');
  }
  if (chosenHttp === chosenTcp) {
    throw new Error(`ClickHouse httpPort and tcpPort must differ (both are ${chosenHttp})`);
  }
  return [chosenHttp, chosenTcp];
}

/**
 * Finds the server binary. Debian ships /usr/sbin/clickhouse-server (not on an ordinary
 * user's PATH); ClickHouse's own packages ship one /usr/bin/clickhouse that takes "server".
 */
function findClickHouseServer(): { command: string; leadingArgs: string[] } {
  const server = findExecutable('clickhouse-server', ['/usr/sbin/clickhouse-server', '/usr/bin/clickhouse-server']);
  if (server !== undefined) {
    return { command: server, leadingArgs: [] };
  }
  const multiTool = findExecutable('clickhouse', ['/usr/bin/clickhouse']);
  if (multiTool !== undefined) {
    return { command: multiTool, leadingArgs: ['server'] };
  }
  // Let the spawn fail with a clear "could not start" message.
  return { command: 'clickhouse-server', leadingArgs: [] };
}

/** Escapes text for use inside an XML element. */
function xmlText(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * The server config. Only what a local dev/test server needs: loopback-only listeners, no
 * interserver (replication) port, every path inside the data directory, small caches, UTC.
 * ClickHouse 18.16 silently ignores unknown elements, so a misspelt setting has no effect.
 */
function renderConfigXml(layout: ClickHouseLayout, httpPort: number, tcpPort: number, replication?: ClickHouseReplication): string {
  return `<?xml version="1.0"?>
<!-- Generated by tools/devenv/clickhouse.ts on every start; edits are overwritten. -->
<yandex>
    <logger>
        <level>warning</level>
        <log>${xmlText(layout.logFile)}</log>
        <errorlog>${xmlText(layout.errorLogFile)}</errorlog>
        <size>100M</size>
        <count>2</count>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <http_port>${httpPort}</http_port>
    <tcp_port>${tcpPort}</tcp_port>
    <max_connections>256</max_connections>
    <keep_alive_timeout>3</keep_alive_timeout>
    <max_concurrent_queries>100</max_concurrent_queries>
    <uncompressed_cache_size>268435456</uncompressed_cache_size>
    <mark_cache_size>268435456</mark_cache_size>
    <path>${xmlText(layout.dbPath)}</path>
    <tmp_path>${xmlText(layout.tmpPath)}</tmp_path>
    <user_files_path>${xmlText(layout.userFilesPath)}</user_files_path>
    <format_schema_path>${xmlText(layout.formatSchemaPath)}</format_schema_path>
    <users_config>${xmlText(layout.usersFile)}</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <mlock_executable>false</mlock_executable>
${replication === undefined ? '' : renderReplicationXml(replication)}</yandex>
`;
}

/** The cluster, ZooKeeper, macros and interserver settings of a replicated server. */
function renderReplicationXml(replication: ClickHouseReplication): string {
  const shards = replication.cluster.shards
    .map(
      (replicas) =>
        `            <shard>\n                <internal_replication>true</internal_replication>\n${replicas
          .map((port) => `                <replica><host>127.0.0.1</host><port>${port}</port></replica>\n`)
          .join('')}            </shard>\n`,
    )
    .join('');
  return `    <interserver_http_port>${replication.interserverPort}</interserver_http_port>
    <interserver_http_host>127.0.0.1</interserver_http_host>
    <zookeeper>
        <node><host>${xmlText(replication.zookeeper.host)}</host><port>${replication.zookeeper.port}</port></node>
        <session_timeout_ms>6000</session_timeout_ms>
    </zookeeper>
    <macros>
        <shard>${xmlText(replication.shard)}</shard>
        <replica>${xmlText(replication.replica)}</replica>
    </macros>
    <remote_servers>
        <${replication.cluster.name}>
${shards}        </${replication.cluster.name}>
    </remote_servers>
    <distributed_ddl>
        <path>/clickhouse/task_queue/ddl</path>
    </distributed_ddl>
`;
}

/** The users config: one "default" user without a password, reachable from loopback only. */
function renderUsersXml(): string {
  return `<?xml version="1.0"?>
<!-- Generated by tools/devenv/clickhouse.ts on every start; edits are overwritten. -->
<yandex>
    <profiles>
        <default>
            <max_memory_usage>2000000000</max_memory_usage>
            <use_uncompressed_cache>0</use_uncompressed_cache>
            <load_balancing>random</load_balancing>
        </default>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks>
                <ip>::1</ip>
                <ip>127.0.0.1</ip>
            </networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas>
        <default>
            <interval>
                <duration>3600</duration>
                <queries>0</queries>
                <errors>0</errors>
                <result_rows>0</result_rows>
                <read_rows>0</read_rows>
                <execution_time>0</execution_time>
            </interval>
        </default>
    </quotas>
</yandex>
`;
}

/** One readiness probe over HTTP; it never throws, and reports what it saw otherwise. */
async function probeHttp(
  port: number,
  method: 'GET' | 'POST',
  urlPath: string,
  body: string | undefined,
  expectedBody: string,
): Promise<ProbeResult> {
  try {
    const response = await httpRequest({ host: '127.0.0.1', port, method, path: urlPath }, body, probe_attempt_timeout_ms);
    if (response.status === 200 && response.body.trim() === expectedBody) {
      return { ready: true };
    }
    return { ready: false, seen: `HTTP ${response.status} ${JSON.stringify(response.body.slice(0, 500))}` };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return { ready: false, seen: `request error ${code ?? (error as Error).message}` };
  }
}

/** A minimal HTTP request without connection reuse, bounded by timeoutMs overall. */
function httpRequest(
  target: { host: string; port: number; method: string; path: string },
  body: string | undefined,
  timeoutMs: number,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = http.request({ ...target, agent: false }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        clearTimeout(timer);
        resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') });
      });
      response.on('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
    const timer = setTimeout(() => request.destroy(new Error(`no complete HTTP response within ${timeoutMs} ms`)), timeoutMs);
    request.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    request.end(body);
  });
}
