// What every long-running Tapline process does the same way: refuse a bad configuration with a
// plain message and exit status 2, and run its graceful stop once on the first SIGTERM / SIGINT.

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
