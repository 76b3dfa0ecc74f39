// Where a phase's CPU went: per process, from /proc, so a ratio measured on this 2-core machine can
// be read with what each process (driver, node, Redis, echo) used while it was measured.

import { readFileSync } from 'node:fs';
import { round } from './driver';

/** CPU seconds (user + system) a process has used so far, from /proc; 0 where unavailable. */
export function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/** Cores each process used while `run` ran. */
export async function withCpu<T>(
  pids: Record<string, number>,
  run: () => Promise<T>,
): Promise<{ result: T; cores: Record<string, number> }> {
  const before = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, cpuSeconds(pid)]));
  const started = process.hrtime.bigint();
  const result = await run();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const cores = Object.fromEntries(
    Object.entries(pids).map(([name, pid]) => [name, round((cpuSeconds(pid) - (before[name] ?? 0)) / seconds, 2)]),
  );
  return { result, cores };
}
