/**
 * Typed errors of mordomo-db. Library code throws these; the CLI and the HTTP layer turn `code` into an exit code
 * or a status. Messages say what went wrong and what to do, and never carry SQL text, stacks or secrets.
 */
export const ERROR_CODES = ['not_found', 'conflict', 'invalid_input', 'foreign_key', 'timeout', 'unavailable', 'config', 'migration', 'internal'] as const;
/** A typed error's code: what went wrong, as the HTTP API's error body and the CLI's exit code say it. */
export type ErrorCode = (typeof ERROR_CODES)[number];

/** What PostgreSQL said of an error that came from it: its SQLSTATE and, when it names them, table and constraint. */
export interface DatabaseFields {
  sqlstate: string;
  table?: string;
  column?: string;
  constraint?: string;
}

/** Every failure of the library: a `code` to act on, a message a user can read, the driver's error as `cause`. */
export class MordomoError extends Error {
  readonly code: ErrorCode;
  /** Set when the error came from PostgreSQL (the driver's error itself is the `cause`). */
  readonly database?: DatabaseFields;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; database?: DatabaseFields }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
    if (options?.database) this.database = options.database;
  }
}

/** A subclass of `MordomoError` fixed to one code, so callers can use `instanceof NotFoundError` and the like. */
function withCode(code: ErrorCode) {
  return class extends MordomoError {
    constructor(message: string, options?: { cause?: unknown; database?: DatabaseFields }) {
      super(code, message, options);
    }
  };
}

/** The row asked for does not exist (or belongs to another tenant: the two look the same). */
export class NotFoundError extends withCode('not_found') {}
/** The change contradicts what is stored: a duplicate, a refused state change, a reused idempotency key. */
export class ConflictError extends withCode('conflict') {}
/** The input breaks a rule; the message names the field. Nothing was written. */
export class InvalidInputError extends withCode('invalid_input') {}
/** The input refers to a row that does not exist. Nothing was written. */
export class ForeignKeyError extends withCode('foreign_key') {}
/** A statement or a lock wait took longer than allowed; retrying may work. */
export class TimeoutError extends withCode('timeout') {}
/** The database cannot serve now (down, restarting, full); retry shortly. */
export class UnavailableError extends withCode('unavailable') {}
/** The settings are wrong or missing; the message says which and how to fix them. */
export class ConfigError extends withCode('config') {}
/** The database is not migrated for what was asked, or a migration failed or was edited. */
export class MigrationError extends withCode('migration') {}

/** The fields of node-postgres' `DatabaseError` that error mapping reads. */
interface PgErrorLike {
  code?: string;
  table?: string;
  column?: string;
  constraint?: string;
  message?: string;
}

/**
 * Every SQLSTATE the code tells apart, PostgreSQL's and this package's own (class MDB, raised by its migrations'
 * functions and triggers), so that a code is written once and named where it is checked.
 */
export const SQLSTATE = {
  /** A refused state change of an action or reminder (migrations/core). */
  refusedTransition: 'MDB01',
  /** A provider config written under a key that is not the current one, or without a key (migrations/ivr/012). */
  keyNotCurrent: 'MDB02',
  /** The key given to a rotation or repair is not the one the configs are under (migrations/ivr/009, 012). */
  keyNotInUse: 'MDB03',
  /** A provider config not encrypted with the transaction's app.encryption_key (migrations/ivr/012). */
  configNotUnderKey: 'MDB04',
  /** pgcrypto's "Wrong key or corrupt data" (external_routine_invocation_exception). */
  wrongKey: '39000',
  undefinedTable: '42P01',
  undefinedFunction: '42883',
  duplicateDatabase: '42P04',
  uniqueViolation: '23505',
  foreignKeyViolation: '23503',
  serializationFailure: '40001',
  deadlockDetected: '40P01',
  invalidPassword: '28P01',
  invalidAuthorization: '28000',
  cannotConnectNow: '57P03',
  /** disk_full: PostgreSQL could not extend a file or write WAL (class 53, insufficient resources). */
  diskFull: '53100',
  dependentObjectsStillExist: '2BP01',
} as const;

/** What PostgreSQL itself said of an error, whether still the driver's or already typed (kept as its cause). */
export function databaseMessage(error: unknown): string {
  const original = error instanceof MordomoError ? error.cause : error;
  return original instanceof Error ? original.message : String(original);
}

/**
 * The SQLSTATE of an error from PostgreSQL, whether still the driver's or already typed (a typed error keeps it in
 * `database`); undefined for errors that did not come from the server.
 */
export function sqlstateOf(error: unknown): string | undefined {
  if (error instanceof MordomoError) return error.database?.sqlstate;
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EPIPE']);

function where(err: PgErrorLike): string {
  if (err.table && err.constraint) return `${err.table} (${err.constraint})`;
  return err.table ?? err.constraint ?? 'the database';
}

const constraintMeanings = new Map<string, string>();
const missingTableHints: { names: RegExp; hint: string }[] = [];

/**
 * Says what a module's named constraints mean, as the rule the caller broke; a constraint not described (a plain
 * foreign key, a column check) is named with its table instead. Each module describes its own.
 */
export function describeConstraints(meanings: Record<string, string>): void {
  for (const [constraint, meaning] of Object.entries(meanings)) constraintMeanings.set(constraint, meaning);
}

/** What to do when a table or function of a module's (its names matching `names`) is missing: how to migrate it. */
export function describeMissingTables(names: RegExp, hint: string): void {
  missingTableHints.push({ names, hint });
}

/**
 * Turns an error thrown by `pg` into a typed `MordomoError`. Errors that are already typed pass through; anything
 * unrecognised becomes an `internal` error whose message hides the driver's text (which may quote SQL).
 */
export function mapDatabaseError(error: unknown): MordomoError {
  if (error instanceof MordomoError) return error;
  const err = (error ?? {}) as PgErrorLike;
  const code = err.code ?? '';
  const meaning = err.constraint ? constraintMeanings.get(err.constraint) : undefined;
  // A SQLSTATE is five characters; network errors (ECONNREFUSED…) carry other codes.
  const database: DatabaseFields | undefined = /^[0-9A-Z]{5}$/.test(code)
    ? {
        sqlstate: code,
        ...(err.table && { table: err.table }),
        ...(err.column && { column: err.column }),
        ...(err.constraint && { constraint: err.constraint }),
      }
    : undefined;
  const options = { cause: error, database };
  if (code === SQLSTATE.refusedTransition) return new ConflictError(err.message ?? 'change refused', options);
  if (code === SQLSTATE.uniqueViolation) return new ConflictError(meaning ?? `already exists: ${where(err)}`, options);
  if (code === SQLSTATE.foreignKeyViolation) return new ForeignKeyError(meaning ?? `refers to a row that does not exist: ${where(err)}`, options);
  if (code === '23514' || code === '23502' || code === '23P01') {
    return new InvalidInputError(meaning ?? `value not allowed by ${where(err)}`, options);
  }
  if (code === '22021' || code === '22P05') {
    return new InvalidInputError('text contains a character PostgreSQL cannot store (NUL byte?)', options);
  }
  if (code.startsWith('22')) return new InvalidInputError('value out of range or malformed', options);
  if (code === SQLSTATE.serializationFailure || code === SQLSTATE.deadlockDetected) {
    return new ConflictError('concurrent change to the same rows; retry the operation', options);
  }
  if (code === '57014') return new TimeoutError('statement timed out (statement timeout)', options);
  if (code === '55P03') return new TimeoutError('could not obtain a lock in time', options);
  if (code === SQLSTATE.invalidPassword || code === SQLSTATE.invalidAuthorization) {
    return new UnavailableError('PostgreSQL refused the password: check POSTGRES_PASSWORD or DATABASE_URL', options);
  }
  if (code === '3D000') return new UnavailableError('the database named in the connection does not exist', options);
  if (code === SQLSTATE.undefinedTable || code === SQLSTATE.undefinedFunction) return new MigrationError(notMigrated(err.message ?? ''), options);
  if (code === SQLSTATE.diskFull) {
    return new UnavailableError(
      "the database's disk is full: free space on the file system of the data folder (or its WAL), and writes resume by themselves",
      options,
    );
  }
  // The rest of class 53 (too many connections, out of memory, a configured limit): the server cannot serve now.
  if (code.startsWith('53')) return new UnavailableError('database unavailable: it is out of a resource (connections, memory); retry shortly', options);
  if (code.startsWith('08') || code === '57P01' || code === '57P02' || code === SQLSTATE.cannotConnectNow || NETWORK_CODES.has(code)) {
    return new UnavailableError('database unavailable; it may be restarting, retry shortly', options);
  }
  // A write that reached a standby: during a failover or switchover, the old leader is demoted before HAProxy's
  // health check moves new connections to the new one. Nothing was written; a retry reaches the leader.
  if (code === '25006') return new UnavailableError('the database is read-only now (a leader being replaced); retry shortly', options);
  // node-postgres' own errors for a connection that died or could not be made carry no SQLSTATE.
  if (error instanceof Error && /timeout exceeded when trying to connect|Connection terminated|is not queryable/i.test(error.message)) {
    return new UnavailableError('database unavailable: no connection could be made in time', options);
  }
  return new MordomoError('internal', 'internal database error', options);
}

/**
 * What to do about a table or function that does not exist: the database is not migrated for the module that
 * needs it (an IVR command on a database migrated for the core only, say).
 */
function notMigrated(message: string): string {
  const name = /relation "([^"]+)"|function ([\w.]+)/.exec(message)?.slice(1).find(Boolean) ?? 'a table or function this needs';
  const hint = missingTableHints.find((candidate) => candidate.names.test(name))?.hint;
  return `this database has no ${name}: ${hint ?? 'it is not migrated (or not for this module); run mordomo-db migrate'}`;
}

/**
 * What a log line says of a background failure (a job, the reminder claim): while the database is down or full,
 * its reason in a line, as the requests' outage line says it (http/outages.ts); a stack and its chain of causes
 * would repeat at every tick of the outage. Anything else keeps its stack, to be found.
 */
export function errorLogFields(error: unknown): { cause: string; sqlstate: string | undefined } | { err: unknown } {
  const mapped = mapDatabaseError(error);
  if (mapped instanceof UnavailableError) return { cause: databaseMessage(error), sqlstate: sqlstateOf(error) };
  return { err: error };
}
