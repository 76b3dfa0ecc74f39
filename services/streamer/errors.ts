// Typed failures of the streamer. Each carries a code, details and the failure behind it as its
// `cause`; the loop decides by class (retry with backoff, or stop at startup), never by parsing
// messages.

import { TaplineError, type ErrorDetails } from '../../actors/errors';

export { ConfigError } from '../common/process';

/** ClickHouse did not accept a statement: down, slow (timed out) or refusing it. Retried. */
export class ClickHouseError extends TaplineError {
  constructor(message: string, cause: unknown, details: ErrorDetails = {}) {
    super('unavailable', message, details, { cause });
    this.name = 'ClickHouseError';
  }
}

/** A Redis command of the outbox reader failed or timed out. Retried. */
export class OutboxError extends TaplineError {
  constructor(message: string, cause: unknown, details: ErrorDetails = {}) {
    super('unavailable', message, details, { cause });
    this.name = 'OutboxError';
  }
}

/** A schema migration failed; the streamer does not start against a half-known schema. */
export class MigrationError extends TaplineError {
  constructor(message: string, cause: unknown, details: ErrorDetails = {}) {
    super('failed_precondition', message, details, { cause });
    this.name = 'MigrationError';
  }
}

/** A name or value that must never reach SQL (a programmer or configuration error). */
export class SqlInputError extends TaplineError {
  constructor(message: string, details: ErrorDetails = {}) {
    super('invalid_argument', message, details);
    this.name = 'SqlInputError';
  }
}
