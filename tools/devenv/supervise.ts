// Shared child-process supervision for the dev/test servers (Redis, ClickHouse).
// It exists so that both harnesses spawn, stop, kill and probe their servers the same way:
// output goes to a file (never to a pipe that could fill up and block the server), every
// exit is observed through the child's 'exit' event, stopping is bounded (SIGTERM, then
// SIGKILL), readiness is bounded polling on an observable condition, and a process 'exit'
// hook SIGKILLs any child still alive so that a crashed test run does not leak servers.

import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';

/** How long a SIGKILLed child may take to be reaped before we give up and report it. */
export const kill_wait_timeout_ms = 5_000;

/** How many bytes from the end of a log file go into an error message. */
const log_tail_bytes = 4_096;

/** How a supervised child ended: an exit code, or the signal that killed it. */
export interface ExitStatus {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** What to run and where its console output goes. */
export interface SpawnSpec {
  /** A short name for messages, e.g. "redis-server". */
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd: string;
  /** The file that receives the child's stdout and stderr (appended to). */
  readonly consoleLogFile: string;
  /**
   * When true, the child gets its own process group, so a terminal's Ctrl-C reaches only
   * the parent, which then shuts the child down in order. When false, the child shares
   * the parent's process group, so a Ctrl-C of a test run stops the servers as well.
   */
  readonly ownProcessGroup: boolean;
}

/** Children that have been spawned and have not yet been seen to exit. */
const live_children = new Set<SupervisedChild>();
let exit_hook_installed = false;

/**
 * Installs, once, a process 'exit' hook that SIGKILLs every child still alive. The hook
 * must be synchronous, which process.kill is; it cannot wait for the children to be reaped,
 * but SIGKILL cannot be ignored, so none of them outlives the parent by more than a moment.
 */
function installExitHook(): void {
  if (exit_hook_installed) {
    return;
  }
  exit_hook_installed = true;
  process.on('exit', () => {
    for (const child of live_children) {
      child.sendSignal('SIGKILL');
    }
  });
}

/** A running (or exited) child process whose exit is tracked. */
export class SupervisedChild {
  readonly name: string;
  readonly pid: number;
  /** Resolves when the child has exited and been reaped; it never rejects. */
  readonly exited: Promise<ExitStatus>;
  private exitStatus: ExitStatus | undefined;

  constructor(name: string, child: ChildProcess, pid: number) {
    this.name = name;
    this.pid = pid;
    this.exited = new Promise<ExitStatus>((resolve) => {
      child.once('exit', (code, signal) => {
        const status: ExitStatus = { code, signal };
        this.exitStatus = status;
        live_children.delete(this);
        resolve(status);
      });
    });
    // Errors after a successful spawn (for example a failed kill) are reported by the
    // callers through their own checks; an unhandled 'error' event would crash the parent.
    child.on('error', () => undefined);
    // The child does not keep the parent's event loop alive: if a test forgets to stop a
    // server, the test runner can still exit, and the exit hook then kills the server.
    child.unref();
  }

  /** True until the child's exit has been observed. */
  isRunning(): boolean {
    return this.exitStatus === undefined;
  }

  /** The exit status once the child has exited, otherwise undefined. */
  exitStatusIfExited(): ExitStatus | undefined {
    return this.exitStatus;
  }

  /** Sends a signal if the child is still running; a child that is already gone is fine. */
  sendSignal(signal: NodeJS.Signals): void {
    if (!this.isRunning()) {
      return;
    }
    try {
      process.kill(this.pid, signal);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') {
        throw error;
      }
    }
  }

  /**
   * Asks the child to shut down with SIGTERM and waits up to graceMs for it to exit; if it
   * has not, SIGKILLs it and waits up to kill_wait_timeout_ms more. Resolves once it is gone.
   */
  async stop(graceMs: number): Promise<ExitStatus> {
    const alreadyExited = this.exitStatusIfExited();
    if (alreadyExited !== undefined) {
      return alreadyExited;
    }
    this.sendSignal('SIGTERM');
    const graceful = await waitWithTimeout(this.exited, graceMs);
    if (graceful !== timed_out) {
      return graceful;
    }
    return this.kill9();
  }

  /** SIGKILLs the child and waits up to kill_wait_timeout_ms for it to be reaped. */
  async kill9(): Promise<ExitStatus> {
    this.sendSignal('SIGKILL');
    const status = await waitWithTimeout(this.exited, kill_wait_timeout_ms);
    if (status === timed_out) {
      throw new Error(`${this.name} (pid ${this.pid}) was sent SIGKILL but had not exited after ${kill_wait_timeout_ms} ms`);
    }
    return status;
  }
}

/**
 * Spawns a child with its output appended to spec.consoleLogFile. Resolves once the
 * operating system has started it; rejects with a clear message when it cannot be started
 * (for example because the binary is not installed).
 */
export async function spawnSupervised(spec: SpawnSpec): Promise<SupervisedChild> {
  installExitHook();
  fs.mkdirSync(path.dirname(spec.consoleLogFile), { recursive: true });
  const outputFd = fs.openSync(spec.consoleLogFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(spec.command, [...spec.args], {
      cwd: spec.cwd,
      stdio: ['ignore', outputFd, outputFd],
      detached: spec.ownProcessGroup,
    });
  } finally {
    // The child has its own copy of the descriptor; the parent's copy is no longer needed.
    fs.closeSync(outputFd);
  }
  await new Promise<void>((resolve, reject) => {
    const onSpawn = (): void => {
      child.off('error', onError);
      resolve();
    };
    const onError = (error: Error): void => {
      child.off('spawn', onSpawn);
      reject(
        new Error(
          `could not start ${spec.name} (${spec.command}): ${error.message}; ` +
            'on a fresh machine run scripts/ensure-system-deps.sh first',
        ),
      );
    };
    child.once('spawn', onSpawn);
    child.once('error', onError);
  });
  const pid = child.pid;
  if (pid === undefined) {
    throw new Error(`${spec.name} was spawned but has no pid`);
  }
  const supervised = new SupervisedChild(spec.name, child, pid);
  live_children.add(supervised);
  return supervised;
}

/** A unique marker for "the wait timed out". */
export const timed_out: unique symbol = Symbol('timed out');

/** Waits for a promise for at most timeoutMs; the timer is always cleared. */
export async function waitWithTimeout<T>(promise: Promise<T>, timeoutMs: number): Promise<T | typeof timed_out> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<typeof timed_out>((resolve) => {
    timer = setTimeout(() => resolve(timed_out), timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Picks `count` distinct free TCP ports on 127.0.0.1 by listening on port 0 and reading the
 * port the kernel chose. All listeners are held open until every port is known, so the ports
 * are distinct; they are closed before returning, so there is a small window in which another
 * process could take one, which is acceptable for a dev/test harness.
 */
export async function pickFreePorts(count: number): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < count; i += 1) {
      const server = net.createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => resolve());
      });
      const address = server.address();
      if (address === null || typeof address === 'string') {
        throw new Error('listening on 127.0.0.1:0 did not yield a TCP port');
      }
      ports.push(address.port);
    }
    return ports;
  } finally {
    await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
  }
}

/** Picks one free TCP port on 127.0.0.1. */
export async function pickFreePort(): Promise<number> {
  const [port] = await pickFreePorts(1);
  if (port === undefined) {
    throw new Error('no free port was picked');
  }
  return port;
}

/** The outcome of one readiness probe: ready, or what was seen instead. */
export type ProbeResult = { readonly ready: true } | { readonly ready: false; readonly seen: string };

/** What pollUntilReady needs to know. */
export interface PollSpec {
  /** The child whose readiness is awaited; polling stops early if it exits. */
  readonly child: SupervisedChild;
  /** What a ready server answers, for the error message, e.g. 'PING answered with "+PONG"'. */
  readonly expected: string;
  /** Milliseconds since the epoch by which the server must be ready. */
  readonly deadline: number;
  /** The pause between probes, in milliseconds. */
  readonly intervalMs: number;
  /** One probe; it must itself be bounded in time and must not throw. */
  readonly probe: () => Promise<ProbeResult>;
  /** Extra text for the error message, such as the tail of the server's log files. */
  readonly diagnostics: () => string;
}

/**
 * Probes until the server is ready, the child exits, or the deadline passes. On failure it
 * throws an error that says what was expected, what was last seen, and the diagnostics.
 */
export async function pollUntilReady(spec: PollSpec): Promise<void> {
  let lastSeen = 'nothing (no probe completed)';
  for (;;) {
    const exitedBefore = spec.child.exitStatusIfExited();
    if (exitedBefore !== undefined) {
      throw new Error(
        `${spec.child.name} (pid ${spec.child.pid}) exited with ${describeExit(exitedBefore)} before it was ready; ` +
          `expected ${spec.expected}; last seen: ${lastSeen}\n${spec.diagnostics()}`,
      );
    }
    const result = await spec.probe();
    if (result.ready) {
      return;
    }
    lastSeen = result.seen;
    const remainingMs = spec.deadline - Date.now();
    if (remainingMs <= 0) {
      throw new Error(
        `${spec.child.name} (pid ${spec.child.pid}) was not ready in time: expected ${spec.expected}; ` +
          `last seen: ${lastSeen}\n${spec.diagnostics()}`,
      );
    }
    // Waiting on the child's exit as well as the interval ends the pause early if it dies.
    await waitWithTimeout(spec.child.exited, Math.min(spec.intervalMs, remainingMs));
  }
}

/** Describes an exit status in words, e.g. "code 1" or "signal SIGKILL". */
export function describeExit(status: ExitStatus): string {
  return status.signal !== null ? `signal ${status.signal}` : `code ${String(status.code)}`;
}

/** Returns the last few kilobytes of a file, labelled, or a note that it does not exist. */
export function logTail(file: string): string {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    return `--- ${file}: (not present)`;
  }
  try {
    const size = fs.fstatSync(fd).size;
    const length = Math.min(size, log_tail_bytes);
    const buffer = Buffer.alloc(length);
    fs.readSync(fd, buffer, 0, length, size - length);
    const text = buffer.toString('utf8').trimEnd();
    return `--- last ${length} bytes of ${file}:\n${text === '' ? '(empty)' : text}`;
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Finds an executable: on PATH first, then in the given fallback locations (Debian puts some
 * server binaries in /usr/sbin, which is not on an ordinary user's PATH).
 */
export function findExecutable(name: string, fallbacks: readonly string[]): string | undefined {
  const pathDirs = (process.env['PATH'] ?? '').split(path.delimiter).filter((dir) => dir !== '');
  const candidates = [...pathDirs.map((dir) => path.join(dir, name)), ...fallbacks];
  for (const candidate of candidates) {
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      if (fs.statSync(candidate).isFile()) {
        return candidate;
      }
    } catch {
      // Not here; try the next candidate.
    }
  }
  return undefined;
}

/** The size of a log file now (0 when it does not exist): where logWrittenSince starts reading. */
export function logSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

/** What a log file got from byte `offset` on ('' when it does not exist). */
export function logWrittenSince(file: string, offset: number): string {
  try {
    return fs.readFileSync(file).subarray(offset).toString('utf8');
  } catch {
    return '';
  }
}
