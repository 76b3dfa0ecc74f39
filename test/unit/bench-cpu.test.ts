// The benchmark's CPU accounting (loadtest/cpu.ts), read from /proc of real processes: the cores a
// process used in a phase, and how long its threads waited for a core. Two busy processes pinned
// to one core share it: each runs about half the time and waits about half.

import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { withCpu } from '../../loadtest/cpu';

const tasksetAvailable = spawnSync('taskset', ['--version']).status === 0;

describe('benchmark CPU accounting (/proc)', function () {
  this.timeout(20_000);
  const children: ChildProcess[] = [];

  afterEach(() => {
    for (const child of children.splice(0)) child.kill('SIGKILL');
  });

  /** A node process on core 0 that spins (busy) or sleeps. */
  function pinned(busy: boolean): number {
    const script = busy ? 'for (;;) {}' : 'setInterval(() => {}, 1000)';
    const child = spawn('taskset', ['-c', '0', process.execPath, '-e', script], { stdio: 'ignore' });
    children.push(child);
    return child.pid as number;
  }

  it('two spinning processes on one core each run about half the time and wait about half; a sleeping one neither', async function () {
    if (!tasksetAvailable) this.skip();
    const pids = { first: pinned(true), second: pinned(true), idle: pinned(false) };
    await sleep(300);
    const { cores, runqueue } = await withCpu(pids, () => sleep(1_500));
    for (const name of ['first', 'second'] as const) {
      assert.ok((cores[name] ?? 0) > 0.3 && (cores[name] ?? 0) < 0.7, `${name} ran ${cores[name]} of a core`);
      assert.ok((runqueue[name] ?? 0) > 0.3 && (runqueue[name] ?? 0) < 0.7, `${name} waited ${runqueue[name]} of a core`);
    }
    assert.ok((cores['first'] ?? 0) + (cores['second'] ?? 0) <= 1.05, JSON.stringify(cores));
    assert.ok((cores['idle'] ?? 1) < 0.05 && (runqueue['idle'] ?? 1) < 0.05, JSON.stringify({ cores, runqueue }));
  });

  it('a process that is gone counts as nothing used and nothing waited', async () => {
    const { cores, runqueue } = await withCpu({ gone: 2 ** 22 + 12_345 }, () => sleep(50));
    assert.deepEqual([cores['gone'], runqueue['gone']], [0, 0]);
  });
});
