// Proves that Ctrl-C in `npm start` stops the local cluster in the order the launcher prints:
// the terminal sends SIGINT to its foreground process group, which must hold the launcher alone;
// the launcher then stops the nodes first (they drain and flush into a Redis still running), then
// the streamer and the reports service, then ClickHouse and Redis, each with SIGTERM, and waits
// for each to exit before the next. Were the servers in the launcher's group, the same SIGINT
// would reach Redis at once and it would exit while the nodes drain.
//
// How: the launcher (dist/tools/devenv/up.js, what `npm start` runs after building) started in a
// process group of its own, as a shell starts a foreground job, on free ports and a private data
// folder. Every process it started must lead a process group of its own. Once it serves, SIGINT
// goes to its whole process group (kill -INT -<pgid>). Then: it exits 0 after printing each stop in
// order; the node logged a SIGTERM (never a SIGINT); Redis logged a SIGTERM shutdown (never a
// SIGINT; ClickHouse logs only warnings here); every process it started is gone.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { projectRoot } from '../../services/common/paths';
import { testDataDir, waitFor } from '../support/harness';

/** Starting ClickHouse, the demo and its wait for ClickHouse take a while on a loaded machine. */
const serving_within_ms = 240_000;
const stopped_within_ms = 90_000;

/** The process group of a process (field 5 of /proc/<pid>/stat, after the parenthesised name). */
function processGroupOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
}

function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

describe('npm start: Ctrl-C stops the local cluster in order (real launcher, real SIGINT)', function () {
  this.timeout(serving_within_ms + stopped_within_ms + 30_000);

  it('stops the portal and the node, then the streamer and reports, then ClickHouse and Redis, each by the launcher', async function () {
    const dataDir = testDataDir('launcher');
    const env = {
      ...process.env,
      TAPLINE_UP_DATA_DIR: dataDir,
      // 0: every server picks a free port of its own (ports picked here could be picked twice).
      TAPLINE_UP_GRPC_PORT: '0',
      TAPLINE_UP_OPERATOR_PORT: '0',
      TAPLINE_UP_METRICS_PORT: '0',
      TAPLINE_UP_REDIS_PORT: '0',
      TAPLINE_UP_CLICKHOUSE_HTTP_PORT: '0',
      TAPLINE_UP_CLICKHOUSE_TCP_PORT: '0',
      TAPLINE_UP_REPORTS_PORT: '0',
      TAPLINE_UP_PORTAL_PORT: '0',
      TAPLINE_LOG_LEVEL: 'info',
    };
    // detached: a process group of its own, led by the launcher, as a shell runs a foreground job.
    const launcher = spawn(process.execPath, [join(projectRoot(), 'dist', 'tools', 'devenv', 'up.js')], {
      env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const pid = launcher.pid as number;
    const lines: string[] = [];
    let stderr = '';
    createInterface({ input: launcher.stdout }).on('line', (line) => lines.push(line));
    launcher.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4_000)));
    const exited = new Promise<number | null>((resolve) => launcher.once('exit', (code) => resolve(code)));
    let children: number[] = [];
    try {
      await waitFor(
        'the launcher serves',
        () => lines.some((line) => line.startsWith('serving (')) || launcher.exitCode !== null,
        () => `${lines.slice(-5).join(' | ')}; stderr: ${stderr}`,
        serving_within_ms,
        200,
      );
      assert.equal(launcher.exitCode, null, `the launcher exited before serving: ${lines.join('\n')}\n${stderr}`);
      children = lines.flatMap((line) => [...line.matchAll(/\(pid (\d+)\)/g)].map((match) => Number(match[1])));
      assert.ok(children.length >= 5, `the launcher names the pids it started: ${lines.join('\n')}`);
      for (const child of children)
        assert.notEqual(processGroupOf(child), pid, `pid ${child} has a process group of its own, out of the terminal's reach`);
      const beforeStop = lines.length;

      process.kill(-pid, 'SIGINT');
      const code = await Promise.race([exited, new Promise<'late'>((resolve) => setTimeout(() => resolve('late'), stopped_within_ms))]);
      assert.equal(code, 0, `the launcher's exit; output after Ctrl-C:\n${lines.slice(beforeStop).join('\n')}\nstderr: ${stderr}`);

      const after = lines.slice(beforeStop);
      const stops = after.filter((line) => line.startsWith('stopped ')).map((line) => line.split(' (')[0]);
      assert.deepEqual(stops, [
        'stopped portal',
        'stopped node 1',
        'stopped streamer',
        'stopped reports',
        'stopped clickhouse',
        'stopped redis',
      ]);
      assert.ok(
        after.some((line) => line.includes('[node 1]') && line.includes('"signal":"SIGTERM"')),
        'the node was stopped by the launcher',
      );
      assert.ok(!lines.some((line) => line.includes('"signal":"SIGINT"')), "no node received the terminal's SIGINT");
      const redisLog = readFileSync(join(dataDir, 'redis', 'redis.log'), 'utf8');
      assert.match(redisLog, /Received SIGTERM/);
      assert.doesNotMatch(redisLog, /Received SIGINT/);
      for (const child of children) assert.equal(running(child), false, `pid ${child} is gone`);
    } finally {
      // A failed test still leaves nothing running: the launcher stops what it started, and
      // whatever outlives it is killed.
      if (launcher.exitCode === null) {
        process.kill(-pid, 'SIGTERM');
        await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, stopped_within_ms))]);
        if (launcher.exitCode === null) process.kill(-pid, 'SIGKILL');
      }
      for (const child of children) if (running(child)) process.kill(child, 'SIGKILL');
    }
  });
});
