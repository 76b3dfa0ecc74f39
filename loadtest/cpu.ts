// Where a phase's CPU went: per process, from /proc, so a ratio measured on this 2-core machine can
// be read with what each process (driver, node, Redis, echo) used while it was measured.

import { readFileSync } from 'node:fs';
import { round, type PhaseResult } from './driver';

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

/**
 * Microseconds of one process's CPU per call in a phase: the cores it used over the phase (its
 * warm-up included) divided by the phase's calls per second. Warm-up runs at the same rate, so
 * the quotient is the CPU a call costs; 0 when the process was not measured.
 */
export function cpuMicrosPerCall(cores: number | undefined, result: PhaseResult): number {
  if (cores === undefined || result.rps <= 0) return 0;
  return round((cores / result.rps) * 1e6, 1);
}
