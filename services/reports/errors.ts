// Typed failures of the reports service. Each maps to one HTTP status in exactly one place
// (server.ts `statusOf`); nothing inspects messages. Unknown errors become 500 with nothing
// internal in the body.

import { TaplineError, type ErrorDetails } from '../../actors/errors';

export { ConfigError } from '../common/process';

/** A query parameter (or path segment) is missing, malformed or unknown. HTTP 400, never reaches SQL. */
export class ParameterError extends TaplineError {
  readonly parameter: string;

  constructor(parameter: string, message: string) {
    super('invalid_argument', message, { parameter });
    this.name = 'ParameterError';
    this.parameter = parameter;
  }
}

/** The path names no report, or the entity of the report has no data. HTTP 404. */
export class ReportNotFoundError extends TaplineError {
  constructor(message: string, details: ErrorDetails = {}) {
    super('not_found', message, details);
    this.name = 'ReportNotFoundError';
  }
}

/** The answer would exceed a named bound (rows, cards); the caller must narrow it. HTTP 413. */
export class ReportTooLargeError extends TaplineError {
  constructor(message: string, details: ErrorDetails = {}) {
    super('resource_exhausted', message, details);
    this.name = 'ReportTooLargeError';
  }
}

/** Too many reports are being computed at once. HTTP 503 with Retry-After. */
export class ReportsBusyError extends TaplineError {
  constructor(in_flight_max: number) {
    super('resource_exhausted', 'too many reports in progress', { in_flight_max });
    this.name = 'ReportsBusyError';
  }
}

/** ClickHouse, Redis or the authorizer did not answer (down, slow, refused). HTTP 503. */
export class ReportBackendError extends TaplineError {
  constructor(backend: 'clickhouse' | 'redis' | 'authorizer', cause: unknown, details: ErrorDetails = {}) {
    super('unavailable', `${backend} query failed`, { ...details, backend }, { cause });
    this.name = 'ReportBackendError';
  }
}

/**
 * The documents a report needs are not all in ClickHouse yet (the streamer is behind the
 * authorizer): an invoice whose documents do not add up to it. HTTP 503; retrying later succeeds.
 */
export class ReportNotReadyError extends TaplineError {
  constructor(message: string, details: ErrorDetails = {}) {
    super('unavailable', message, details);
    this.name = 'ReportNotReadyError';
  }
}

/** A settlement action that the batch's state does not allow (approve a changed batch, settle before approval, compute an open period). HTTP 409. */
export class SettlementConflictError extends TaplineError {
  constructor(message: string, details: ErrorDetails = {}) {
    super('failed_precondition', message, details);
    this.name = 'SettlementConflictError';
  }
}

/** Four eyes refused a settlement transition: the principal that proposed or computed it cannot approve it (HTTP 403). */
export class SettlementForbiddenError extends TaplineError {
  constructor(message: string, details: ErrorDetails = {}) {
    super('permission_denied', message, details);
  }
}
