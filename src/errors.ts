/**
 * Typed errors of mordomo-db. Library code throws these; the CLI and the HTTP layer turn `code` into an exit code
 * or a status. Messages say what went wrong and what to do, and never carry SQL text, stacks or secrets.
 */
export const ERROR_CODES = ['not_found', 'conflict', 'invalid_input', 'foreign_key', 'timeout', 'unavailable', 'config', 'migration', 'internal'] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/** What PostgreSQL said of an error that came from it: its SQLSTATE and, when it names them, table and constraint. */
export interface DatabaseFields {
  sqlstate: string;
  table?: string;
  column?: string;
  constraint?: string;
}

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
 * What each named constraint of the schema means, said as the rule the caller broke; a constraint not listed
 * (a plain foreign key, a column check) is named with its table instead.
 */
export const CONSTRAINT_MESSAGES: Record<string, string> = {
  idx_users_email: 'a user with this e-mail already exists',
  conversations_ended_after_start: 'a conversation cannot end before it started',
  v_voice_ai_providers_name_unique: 'this domain already has a provider of this type with this name',
  v_voice_ai_providers_enabled_needs_config: 'a provider cannot be enabled without a config: give it one, or set is_enabled to false',
  idx_providers_one_default: 'this domain already has a default provider of this type',
  v_voice_secretaries_extension_unique: 'this domain already has a secretary on this extension',
  v_voice_secretaries_stt_fk: "a secretary's STT provider must be an stt provider of the same domain",
  v_voice_secretaries_tts_fk: "a secretary's TTS provider must be a tts provider of the same domain",
  v_voice_secretaries_llm_fk: "a secretary's LLM provider must be an llm provider of the same domain",
  v_voice_secretaries_realtime_fk: "a secretary's realtime provider must be a realtime provider of the same domain",
  v_voice_conversations_call_unique: 'a call with this call_uuid already exists in this domain',
  v_voice_conversations_secretary_fk: "a call's secretary must be a secretary of the same domain",
  v_voice_conversations_ended_after_start: 'a call cannot end before it started',
  v_voice_messages_conversation_fk: 'the call does not exist in this domain',
  v_voice_documents_secretary_fk: "a document's secretary must be a secretary of the same domain",
  v_voice_transfer_rules_secretary_fk: "a transfer rule's secretary must be a secretary of the same domain",
  v_voice_transfer_rules_window: 'time_start and time_end go together and must differ: give both, or neither for all day',
};

/**
 * Turns an error thrown by `pg` into a typed `MordomoError`. Errors that are already typed pass through; anything
 * unrecognised becomes an `internal` error whose message hides the driver's text (which may quote SQL).
 */
export function mapDatabaseError(error: unknown): MordomoError {
  if (error instanceof MordomoError) return error;
  const err = (error ?? {}) as PgErrorLike;
  const code = err.code ?? '';
  const meaning = err.constraint ? CONSTRAINT_MESSAGES[err.constraint] : undefined;
  // A SQLSTATE is five characters; network errors (ECONNREFUSED…) carry other codes.
  const database: DatabaseFields | undefined = /^[0-9A-Z]{5}$/.test(code)
    ? { sqlstate: code, ...(err.table && { table: err.table }), ...(err.column && { column: err.column }), ...(err.constraint && { constraint: err.constraint }) }
    : undefined;
  const options = { cause: error, database };
  if (code === REFUSED_TRANSITION_SQLSTATE) return new ConflictError(err.message ?? 'change refused', options);
  if (code === '23505') return new ConflictError(meaning ?? `already exists: ${where(err)}`, options);
  if (code === '23503') return new ForeignKeyError(meaning ?? `refers to a row that does not exist: ${where(err)}`, options);
  if (code === '23514' || code === '23502' || code === '23P01') {
    return new InvalidInputError(meaning ?? `value not allowed by ${where(err)}`, options);
  }
  if (code === '22021' || code === '22P05') {
    return new InvalidInputError('text contains a character PostgreSQL cannot store (NUL byte?)', options);
  }
  if (code.startsWith('22')) return new InvalidInputError('value out of range or malformed', options);
  if (code === '40001' || code === '40P01') {
    return new ConflictError('concurrent change to the same rows; retry the operation', options);
  }
  if (code === '57014') return new TimeoutError('statement timed out (statement timeout)', options);
  if (code === '55P03') return new TimeoutError('could not obtain a lock in time', options);
  if (code === '28P01' || code === '28000') {
    return new UnavailableError('PostgreSQL refused the password: check POSTGRES_PASSWORD or DATABASE_URL', options);
  }
  if (code === '3D000') return new UnavailableError('the database named in the connection does not exist', options);
  if (code === '42P01' || code === '42883') return new MigrationError(notMigrated(err.message ?? ''), options);
  if (code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03' || NETWORK_CODES.has(code)) {
    return new UnavailableError('database unavailable; it may be restarting, retry shortly', options);
  }
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
  return /v_voice_|mordomo_api_keys/.test(name)
    ? `this database has no ${name}: the IVR module is not migrated here; run MORDOMO_MODULES=core,ivr mordomo-db migrate`
    : `this database has no ${name}: it is not migrated (or not for this module); run mordomo-db migrate`;
}

/** Runs `work` and rethrows any failure as a typed error. */
export async function mapErrors<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw mapDatabaseError(error);
  }
}
