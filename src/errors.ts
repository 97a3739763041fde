/**
 * Typed errors of mordomo-db. Library code throws these; the CLI and the HTTP layer turn `code` into an exit code
 * or a status. Messages say what went wrong and what to do, and never carry SQL text, stacks or secrets.
 */
export type ErrorCode =
  | 'not_found'
  | 'conflict'
  | 'invalid_input'
  | 'foreign_key'
  | 'timeout'
  | 'unavailable'
  | 'config'
  | 'migration'
  | 'internal';

export class MordomoError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** A subclass of `MordomoError` fixed to one code, so callers can use `instanceof NotFoundError` and the like. */
function withCode(code: ErrorCode) {
  return class extends MordomoError {
    constructor(message: string, options?: { cause?: unknown }) {
      super(code, message, options);
    }
  };
}

export class NotFoundError extends withCode('not_found') {}
export class ConflictError extends withCode('conflict') {}
export class InvalidInputError extends withCode('invalid_input') {}
export class ForeignKeyError extends withCode('foreign_key') {}
export class TimeoutError extends withCode('timeout') {}
export class UnavailableError extends withCode('unavailable') {}
export class ConfigError extends withCode('config') {}
export class MigrationError extends withCode('migration') {}

/** The fields of node-postgres' `DatabaseError` that error mapping reads. */
interface PgErrorLike {
  code?: string;
  table?: string;
  column?: string;
  constraint?: string;
  message?: string;
}

/** SQLSTATE raised by this package's own triggers for refused state changes (see migrations). */
export const REFUSED_TRANSITION_SQLSTATE = 'MDB01';

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EPIPE']);

function where(err: PgErrorLike): string {
  if (err.table && err.constraint) return `${err.table} (${err.constraint})`;
  return err.table ?? err.constraint ?? 'the database';
}

/**
 * Turns an error thrown by `pg` into a typed `MordomoError`. Errors that are already typed pass through; anything
 * unrecognised becomes an `internal` error whose message hides the driver's text (which may quote SQL).
 */
export function mapDatabaseError(error: unknown): MordomoError {
  if (error instanceof MordomoError) return error;
  const err = (error ?? {}) as PgErrorLike;
  const code = err.code ?? '';
  if (code === REFUSED_TRANSITION_SQLSTATE) return new ConflictError(err.message ?? 'change refused', { cause: error });
  if (code === '23505') return new ConflictError(`already exists: ${where(err)}`, { cause: error });
  if (code === '23503') return new ForeignKeyError(`refers to a row that does not exist: ${where(err)}`, { cause: error });
  if (code === '23514' || code === '23502' || code === '23P01') {
    return new InvalidInputError(`value not allowed by ${where(err)}`, { cause: error });
  }
  if (code === '22021' || code === '22P05') {
    return new InvalidInputError('text contains a character PostgreSQL cannot store (NUL byte?)', { cause: error });
  }
  if (code.startsWith('22')) return new InvalidInputError('value out of range or malformed', { cause: error });
  if (code === '40001' || code === '40P01') {
    return new ConflictError('concurrent change to the same rows; retry the operation', { cause: error });
  }
  if (code === '57014') return new TimeoutError('statement timed out (statement timeout)', { cause: error });
  if (code === '55P03') return new TimeoutError('could not obtain a lock in time', { cause: error });
  if (code === '28P01' || code === '28000') {
    return new UnavailableError('PostgreSQL refused the password: check POSTGRES_PASSWORD or DATABASE_URL', {
      cause: error,
    });
  }
  if (code === '3D000') return new UnavailableError('the database named in the connection does not exist', { cause: error });
  if (code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03' || NETWORK_CODES.has(code)) {
    return new UnavailableError('database unavailable; it may be restarting, retry shortly', { cause: error });
  }
  // node-postgres' own errors for a connection that died or could not be made carry no SQLSTATE.
  if (error instanceof Error && /timeout exceeded when trying to connect|Connection terminated|is not queryable/i.test(error.message)) {
    return new UnavailableError('database unavailable: no connection could be made in time', { cause: error });
  }
  return new MordomoError('internal', 'internal database error', { cause: error });
}

/** Runs `work` and rethrows any failure as a typed error. */
export async function mapErrors<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw mapDatabaseError(error);
  }
}
