// Structured logs (pino, JSON lines on stdout). Secrets never reach a log: request fields that
// could carry them (pin) are redacted by path.

import pino, { type Logger } from 'pino';

export function createLogger(name: string, level: string): Logger {
  return pino({
    name,
    level,
    base: { pid: process.pid, service: name },
    redact: { paths: ['pin', '*.pin', 'request.pin'], censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}

export type { Logger };
