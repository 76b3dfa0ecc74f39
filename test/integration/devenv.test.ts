// Integration tests for the dev/test process manager in tools/devenv.
// Other integration tests trust this harness to give them real servers and to simulate
// crashes faithfully, so these tests check the properties they rely on: a write acknowledged
// by Redis with appendfsync always survives a SIGKILL and restart (AOF replay), ClickHouse
// answers SQL and keeps its data across a crash, and stopping leaves no process behind.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { queryClickHouse, startClickHouse, startRedis } from '../../tools/devenv';
import { startClickHouseOnPorts } from '../../tools/devenv/clickhouse';
import { startRedisOnPorts, type RedisPorts } from '../../tools/devenv/redis';
import { pickFreePort, pickFreePorts } from '../../tools/devenv/supervise';

/** Mocha's limit for one Redis test: start, crash, restart and stop, with room to spare. */
const redis_test_timeout_ms = 60_000;

/** Mocha's limit for one ClickHouse test: ClickHouse may take several seconds per start. */
const clickhouse_test_timeout_ms = 180_000;

/** How long one raw Redis command may take in these tests. */
const redis_command_timeout_ms = 5_000;

/** True while a process with this pid exists (signal 0 only checks). */
function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/** Encodes a command in the Redis protocol (RESP) as an array of bulk strings. */
function encodeCommand(parts: readonly string[]): string {
  return `*${parts.length}\r\n` + parts.map((part) => `$${Buffer.byteLength(part)}\r\n${part}\r\n`).join('');
}

/**
 * Sends one command over a fresh connection and returns the raw reply once `complete` says it
 * is whole. The tests speak RESP directly so that they depend on nothing but node itself.
 */
function redisCommand(port: number, parts: readonly string[], complete: (reply: string) => boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    let reply = '';
    const socket = net.createConnection({ host: '127.0.0.1', port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no complete reply to ${parts[0] ?? '?'} within ${redis_command_timeout_ms} ms: ${JSON.stringify(reply)}`));
    }, redis_command_timeout_ms);
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(encodeCommand(parts)));
    socket.on('data', (chunk: string) => {
      reply += chunk;
      if (complete(reply)) {
        clearTimeout(timer);
        socket.destroy();
        resolve(reply);
      }
    });
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

/** A simple-string or error reply is complete at its first line end. */
const oneLine = (reply: string): boolean => reply.includes('\r\n');

/** A bulk-string reply ("$<len>\r\n<data>\r\n", or "$-1\r\n" for nil) is complete once all data arrived. */
function bulkComplete(reply: string): boolean {
  const headerEnd = reply.indexOf('\r\n');
  if (headerEnd < 0) {
    return false;
  }
  const length = Number(reply.slice(1, headerEnd));
  return length < 0 || Buffer.byteLength(reply) >= headerEnd + 2 + length + 2;
}

describe('devenv', function () {
  let tempRoot: string;

  before(function () {
    tempRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'tapline-devenv-'));
  });

  after(function () {
    fs.rmSync(tempRoot, { recursive: true, force: true });
  });

  describe('redis', function () {
    this.timeout(redis_test_timeout_ms);

    it('keeps a write acknowledged with appendfsync always across kill -9 and restart', async function () {
      const redis = await startRedis({ dataDir: path.join(tempRoot, 'redis'), appendfsync: 'always' });
      try {
        assert.equal(redis.url, `redis://127.0.0.1:${redis.port}`);
        const firstPid = redis.pid;
        assert.ok(processExists(firstPid), 'the server process exists after start');

        const setReply = await redisCommand(redis.port, ['SET', 'tapline:devenv:key', 'durable-value'], oneLine);
        assert.equal(setReply, '+OK\r\n');

        await redis.kill9();
        assert.equal(processExists(firstPid), false, 'kill9 leaves no process behind');

        await redis.restart();
        assert.notEqual(redis.pid, firstPid, 'restart runs a new process');
        const getReply = await redisCommand(redis.port, ['GET', 'tapline:devenv:key'], bulkComplete);
        assert.equal(getReply, '$13\r\ndurable-value\r\n');
      } finally {
        const lastPid = redis.pid;
        await redis.stop();
        assert.equal(processExists(lastPid), false, 'stop leaves no process behind');
      }
    });

    it('fails with a message naming what it expected when the port is taken', async function () {
      // A fake server holds the port and answers like something that is not Redis. It drains
      // what it is sent (a socket with unread input never ends), and its connections are
      // destroyed on cleanup so that closing it does not wait for them.
      const connections = new Set<net.Socket>();
      const blocker = net.createServer((socket) => {
        connections.add(socket);
        socket.on('close', () => connections.delete(socket));
        socket.on('error', () => undefined);
        socket.resume();
        socket.end('-NOT REDIS\r\n');
      });
      await new Promise<void>((resolve) => blocker.listen({ host: '127.0.0.1', port: 0 }, () => resolve()));
      const address = blocker.address();
      assert.ok(address !== null && typeof address !== 'string');
      try {
        await assert.rejects(startRedis({ dataDir: path.join(tempRoot, 'redis-port-taken'), port: address.port }), (error: Error) => {
          assert.match(error.message, /\+PONG/);
          assert.match(error.message, /redis\.log/);
          return true;
        });
      } finally {
        for (const socket of connections) {
          socket.destroy();
        }
        await new Promise<void>((resolve) => blocker.close(() => resolve()));
      }
    });
  });

  describe('redis ports', function () {
    this.timeout(redis_test_timeout_ms);
    const holders: net.Server[] = [];

    /** Holds a port of 127.0.0.1 (another process's listener, as far as Redis can tell). */
    async function hold(port = 0): Promise<number> {
      const server = net.createServer((socket) => socket.destroy());
      holders.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ host: '127.0.0.1', port, exclusive: true }, () => resolve());
      });
      const address = server.address();
      assert.ok(address !== null && typeof address !== 'string');
      return address.port;
    }

    afterEach(async () => {
      await Promise.all(holders.splice(0).map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
    });

    it('starts again on ports picked anew when a picked port was taken before the server bound it', async () => {
      const taken = await hold();
      const picks: RedisPorts[] = [];
      const redis = await startRedisOnPorts({ dataDir: path.join(tempRoot, 'redis-picked-taken') }, async () => {
        const ports = { port: picks.length === 0 ? taken : await pickFreePort(), busPort: undefined };
        picks.push(ports);
        return ports;
      });
      try {
        assert.equal(picks.length, 2, 'one start on the taken port, one on a free one');
        assert.equal(redis.port, picks[1]?.port);
        assert.equal(await redisCommand(redis.port, ['PING'], oneLine), '+PONG\r\n');
        await redis.restart();
        assert.equal(await redisCommand(redis.port, ['PING'], oneLine), '+PONG\r\n', 'a restart reuses the port it runs on');
      } finally {
        await redis.stop();
      }
    });

    it("starts a cluster node whose default bus port (port + 10,000) is another process's", async () => {
      // A free port whose default bus port can be held here.
      let port = 0;
      for (let tries = 0; port === 0 && tries < 50; tries++) {
        const candidate = await pickFreePort();
        if (candidate + 10_000 > 65_535) continue;
        try {
          await hold(candidate + 10_000);
          port = candidate;
        } catch {
          // Someone else has it: another candidate.
        }
      }
      assert.notEqual(port, 0, 'found a port whose default bus port could be held');
      const redis = await startRedis({ dataDir: path.join(tempRoot, 'redis-cluster-bus'), port, cluster: { nodeTimeoutMs: 1_000 } });
      try {
        assert.equal(await redisCommand(redis.port, ['PING'], oneLine), '+PONG\r\n');
        const busPort = await redisCommand(redis.port, ['CONFIG', 'GET', 'cluster-port'], (reply) => reply.split('\r\n').length >= 5);
        assert.doesNotMatch(busPort, new RegExp(`\\r\\n${port + 10_000}\\r\\n`), busPort);
      } finally {
        await redis.stop();
      }
    });
  });

  describe('clickhouse', function () {
    this.timeout(clickhouse_test_timeout_ms);

    it('answers SELECT 1 and leaves no process behind after stop', async function () {
      const clickhouse = await startClickHouse({ dataDir: path.join(tempRoot, 'clickhouse') });
      const pid = clickhouse.pid;
      try {
        assert.equal(clickhouse.url, `http://127.0.0.1:${clickhouse.httpPort}`);
        assert.notEqual(clickhouse.httpPort, clickhouse.tcpPort);
        assert.equal(await queryClickHouse(clickhouse.url, 'SELECT 1'), '1\n');
      } finally {
        await clickhouse.stop();
      }
      assert.equal(processExists(pid), false, 'stop leaves no process behind');
    });

    it('starts again on ports picked anew when a picked port was taken before the server bound it', async function () {
      const blocker = net.createServer((socket) => socket.destroy());
      await new Promise<void>((resolve) => blocker.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => resolve()));
      const address = blocker.address();
      assert.ok(address !== null && typeof address !== 'string');
      const picks: [number, number][] = [];
      try {
        const clickhouse = await startClickHouseOnPorts({ dataDir: path.join(tempRoot, 'clickhouse-picked-taken') }, async () => {
          const [http, tcp] = await pickFreePorts(2);
          assert.ok(http !== undefined && tcp !== undefined);
          const ports: [number, number] = [picks.length === 0 ? address.port : http, tcp];
          picks.push(ports);
          return ports;
        });
        try {
          assert.equal(picks.length, 2, 'one start on the taken port, one on free ones');
          assert.equal(clickhouse.httpPort, picks[1]?.[0]);
          assert.equal(await queryClickHouse(clickhouse.url, 'SELECT 1'), '1\n');
        } finally {
          await clickhouse.stop();
        }
      } finally {
        await new Promise<void>((resolve) => blocker.close(() => resolve()));
      }
    });

    it('keeps inserted rows across kill -9 and restart', async function () {
      const clickhouse = await startClickHouse({ dataDir: path.join(tempRoot, 'clickhouse-crash') });
      try {
        await queryClickHouse(clickhouse.url, 'CREATE TABLE devenv_probe (id UInt32, note String) ENGINE = MergeTree ORDER BY id');
        await queryClickHouse(clickhouse.url, "INSERT INTO devenv_probe VALUES (1, 'one'), (2, 'two')");
        const firstPid = clickhouse.pid;
        await clickhouse.kill9();
        assert.equal(processExists(firstPid), false, 'kill9 leaves no process behind');

        await clickhouse.restart();
        assert.notEqual(clickhouse.pid, firstPid, 'restart runs a new process');
        assert.equal(await queryClickHouse(clickhouse.url, 'SELECT id, note FROM devenv_probe ORDER BY id'), '1\tone\n2\ttwo\n');
      } finally {
        const lastPid = clickhouse.pid;
        await clickhouse.stop();
        assert.equal(processExists(lastPid), false, 'stop leaves no process behind');
      }
    });
  });
});
