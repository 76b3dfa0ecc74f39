// What every long-running Tapline process does the same way: read its configuration from the
// environment (bounded integers, one error naming every problem), refuse a bad configuration with
// a plain message and exit status 2, and run its graceful stop once on the first SIGTERM / SIGINT.

import { z } from 'zod';

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
