// What every long-running Tapline process does the same way: read its configuration from the
// environment (bounded integers, one error naming every problem), refuse a bad configuration with
// a plain message and exit status 2, run its graceful stop once on the first SIGTERM / SIGINT, and
// on an error nothing handled (a defect) log it, stop as far as it can and exit with status 70.

import { z } from 'zod';
import type { Logger } from 'pino';

/** A setting is missing, malformed, or contradicts another. The process exits with status 2. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Loads configuration; a ConfigError prints its message (no stack) and exits with status 2. */
export function configOrExit<T>(load: () => T): T {
  try {
    return load();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
}

/** Calls `stop` once, on the first SIGTERM or SIGINT; later signals are ignored. */
export function onStopSignal(stop: (signal: string) => void): void {
  let signalled = false;
  const once = (signal: string): void => {
    if (signalled) return;
    signalled = true;
    stop(signal);
  };
  process.on('SIGTERM', () => once('SIGTERM'));
  process.on('SIGINT', () => once('SIGINT'));
}

/** Environment integers are plain decimal digits: an empty or hex value must not parse as 0. */
const decimal_integer = /^-?\d+$/;

/** A bounded integer setting from the environment, with its default when unset. */
export function envInt(min: number, max: number, fallback: number) {
  return z
    .string()
    .regex(decimal_integer, 'must be a decimal integer')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max))
    .default(fallback);
}

/** A bounded integer setting from the environment that has no fixed default (undefined when unset). */
export function optionalEnvInt(min: number, max: number) {
  return z
    .string()
    .regex(decimal_integer, 'must be a decimal integer')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max))
    .optional();
}

export const log_level = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info');

/** Parses the environment with a schema; every problem is named in one ConfigError. */
export function parseEnv<S extends z.ZodTypeAny>(schema: S, env: Record<string, string | undefined>): z.infer<S> {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(
      `invalid configuration: ${parsed.error.issues.map((issue) => `${String(issue.path[0])}: ${issue.message}`).join('; ')}`,
    );
  }
  return parsed.data;
}

/** Exit status of a process stopped by an error nothing handled (sysexits' EX_SOFTWARE). */
export const unexpected_error_exit_status = 70;

/**
 * How long a process that met an unexpected error may spend stopping before it exits anyway: long
 * enough for a node to refuse new calls, let the commits it sent land and give up its shards (so
 * peers take them at once instead of after the lease), short next to a supervisor's restart.
 */
export const unexpected_error_stop_ms = 5_000;

/**
 * On an uncaught exception or an unhandled rejection (a defect: every expected failure is answered
 * where it happens), logs it as fatal, runs `stop` for at most `stop_ms`, and exits with status 70
 * so the supervisor restarts the process and counts the crash. Nothing acknowledged is lost by
 * stopping early: a reply leaves only after its commit (persist before reply), and callers retry
 * what was not answered with the same key. A second error while stopping is logged too; the exit
 * still comes at the bound.
 */
export function exitOnUnexpectedError(logger: Logger, stop: () => Promise<void>, stop_ms = unexpected_error_stop_ms): void {
  let stopping = false;
  const exit = (): never => process.exit(unexpected_error_exit_status);
  const fail = (error: unknown, origin: string): void => {
    if (stopping) {
      logger.fatal({ err: error, origin }, 'another unexpected error while stopping');
      return;
    }
    stopping = true;
    logger.fatal({ err: error, origin }, 'unexpected error; stopping and exiting');
    setTimeout(exit, stop_ms);
    const stopFailed = (stopError: unknown): void => {
      logger.fatal({ err: stopError }, 'stop after an unexpected error failed');
      exit();
    };
    try {
      stop().then(exit, stopFailed);
    } catch (stopError) {
      stopFailed(stopError);
    }
  };
  process.on('uncaughtException', (error) => fail(error, 'uncaughtException'));
  process.on('unhandledRejection', (reason) => fail(reason, 'unhandledRejection'));
}
