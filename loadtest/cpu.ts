// Where a phase's CPU went: per process, from /proc, so a ratio measured on this 2-core machine can
// be read with what each process (driver, node, Redis, echo) used while it was measured.

import { readdirSync, readFileSync } from 'node:fs';
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

/**
 * Seconds the threads of a process have spent runnable but waiting for a core so far (the second
 * field of each /proc/<pid>/task/<tid>/schedstat); 0 where unavailable. On a machine whose cores
 * the driver, the node and Redis share, this is how long each of them was held up by the others.
 */
export function runqueueWaitSeconds(pid: number): number {
  let waited = 0;
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return 0;
  }
  for (const task of tasks) {
    try {
      waited += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[1] ?? 0) / 1e9;
    } catch {
      // The thread ended meanwhile: what it waited is not counted.
    }
  }
  return waited;
}

/**
 * Cores each process used while `run` ran, and the cores' worth of its threads that were ready
 * to run but waited for a core meanwhile (runqueue: 0.3 is 0.3 s of waiting per second).
 */
export async function withCpu<T>(
  pids: Record<string, number>,
  run: () => Promise<T>,
): Promise<{ result: T; cores: Record<string, number>; runqueue: Record<string, number> }> {
  const named = Object.entries(pids);
  const before = named.map(([, pid]) => [cpuSeconds(pid), runqueueWaitSeconds(pid)] as const);
  const started = process.hrtime.bigint();
  const result = await run();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const after = named.map(([, pid]) => [cpuSeconds(pid), runqueueWaitSeconds(pid)] as const);
  const per = (field: 0 | 1): Record<string, number> =>
    Object.fromEntries(named.map(([name], i) => [name, round(((after[i]?.[field] ?? 0) - (before[i]?.[field] ?? 0)) / seconds, 2)]));
  return { result, cores: per(0), runqueue: per(1) };
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
