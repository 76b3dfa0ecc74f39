// Starts Tapline's own processes (authorizer node, echo server) as real child processes and
// waits until they announce their gRPC port on stdout. Used by fault tests (kill -9), the
// benchmark and the local cluster.

import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { projectRoot } from '../../services/common/paths';

export const process_start_timeout_ms = 30_000;

export interface ServerProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** The terminal door's port (an authorizer node's), or the process's gRPC port. */
  readonly grpcPort: number;
  readonly address: string;
  /** The operator door an authorizer node announces (undefined for other processes). */
  readonly operatorPort: number | undefined;
  readonly operatorAddress: string | undefined;
  /** The node-to-node port an authorizer node announces (undefined for other processes). */
  readonly internalPort: number | undefined;
  /** The HTTP port the reports service announces (undefined for other processes). */
  readonly httpPort: number | undefined;
  /** The metrics port an authorizer node announces (undefined when it serves none, or for other processes). */
  readonly metricsPort: number | undefined;
  /** SIGKILL, resolves when the process is gone. */
  kill9(): Promise<void>;
  /** SIGTERM (graceful), resolves with the exit code. */
  terminate(): Promise<number | null>;
  readonly exited: Promise<number | null>;
}

export interface StartProcessOptions {
  /** Path of the compiled entry point relative to the project root, e.g. dist/tools/echo/main.js. */
  readonly script: string;
  readonly env: Record<string, string>;
  /** Extra node/V8 flags, before the script. */
  readonly nodeArgs?: readonly string[];
  /** Called with every stdout line (logs), after the ready line is found too. */
  readonly onLine?: (line: string) => void;
  /** Called with everything the process writes to stderr. */
  readonly onStderr?: (text: string) => void;
  /**
   * A process group of its own, so a terminal's Ctrl-C (SIGINT to the foreground group) reaches
   * only the parent, which stops the process in its turn (`npm start`). Default: the parent's
   * group, so Ctrl-C of a test run stops it too.
   */
  readonly ownProcessGroup?: boolean;
}

/** Spawns `node <script>` and resolves once a stdout JSON line carries `grpcPort`. */
export async function startServerProcess(options: StartProcessOptions): Promise<ServerProcess> {
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), join(projectRoot(), options.script)], {
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.ownProcessGroup ?? false,
  });
  track(child);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    options.onStderr?.(chunk.toString());
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const ready = await new Promise<{
    grpcPort: number;
    internalPort: number | undefined;
    operatorPort: number | undefined;
    httpPort: number | undefined;
    metricsPort: number | undefined;
  }>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${options.script}: expected a line with grpcPort within ${process_start_timeout_ms} ms; stderr: ${stderr}`));
    }, process_start_timeout_ms);
    let ready = false;
    createInterface({ input: child.stdout }).on('line', (line) => {
      options.onLine?.(line);
      if (ready || !line.includes('"grpcPort"')) return;
      const announced = JSON.parse(line) as {
        grpcPort?: number;
        internalPort?: number;
        operatorPort?: number;
        httpPort?: number;
        metricsPort?: number | null;
      };
      if (typeof announced.grpcPort !== 'number') return;
      ready = true;
      clearTimeout(timer);
      resolve({
        grpcPort: announced.grpcPort,
        internalPort: typeof announced.internalPort === 'number' ? announced.internalPort : undefined,
        operatorPort: typeof announced.operatorPort === 'number' ? announced.operatorPort : undefined,
        httpPort: typeof announced.httpPort === 'number' ? announced.httpPort : undefined,
        metricsPort: typeof announced.metricsPort === 'number' ? announced.metricsPort : undefined,
      });
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${options.script} exited with ${code} before serving; stderr: ${stderr}`));
    });
  });
  return {
    child,
    pid: child.pid as number,
    grpcPort: ready.grpcPort,
    address: `127.0.0.1:${ready.grpcPort}`,
    operatorPort: ready.operatorPort,
    operatorAddress: ready.operatorPort === undefined ? undefined : `127.0.0.1:${ready.operatorPort}`,
    internalPort: ready.internalPort,
    httpPort: ready.httpPort,
    metricsPort: ready.metricsPort,
    exited,
    kill9: async () => {
      child.kill('SIGKILL');
      await exited;
    },
    terminate: async () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

/** Kills still-running children if the parent exits without stopping them. */
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});
export function track(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
}
