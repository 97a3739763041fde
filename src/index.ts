/**
 * The public library API of mordomo-db (ESM only; README, "Library"). Everything else in the package is internal.
 * The LangChain chat memory is its own entry point, `mordomo-db/langchain`.
 */

/** Settings from the environment (`loadConfig`), validated in one place; `Config` is their parsed shape. */
export { loadConfig, type Config, type ConfigOverrides, type Module } from './config.ts';
/** The structured logger (pino) every function that logs takes, with secrets redacted. */
export { createLogger, type Logger } from './logger.ts';
/**
 * Opens the database (`DATABASE_URL`, or the embedded PostgreSQL under `MORDOMO_DATA_DIR`): `db` as the runtime
 * role for the assistant's work, `owner` for migrations and operations. `redactUrl` hides a URL's password.
 */
export { openDatabase, redactUrl, type Connection, type Database } from './db/connect.ts';
/** A Kysely over a pool of your own whose failures are typed errors, as the library's functions expect. */
export { createKysely } from './db/typed-errors.ts';
/** Typed errors: every failure is a `MordomoError` with a `code`, the driver's error as `cause` and `database` fields. */
export {
  ConfigError,
  ConflictError,
  type DatabaseFields,
  ERROR_CODES,
  type ErrorCode,
  ForeignKeyError,
  InvalidInputError,
  MigrationError,
  MordomoError,
  NotFoundError,
  sqlstateOf,
  TimeoutError,
  UnavailableError,
} from './errors.ts';
/** Options of every create: `idempotencyKey` makes a retried call return the first result without writing again. */
export { IDEMPOTENCY_KEY_TTL_HOURS, type IdempotencyOptions } from './db/idempotency.ts';
/** The database's tables as Kysely types, generated from the migrations. */
export type { DB } from './library/schema.ts';
/** Applies the migrations of the given modules (as the owner) and reports their state. */
export { migrate, migrationStatus, type MigrationStatus } from './migrate/runner.ts';
/** Users of the assistant. */
export * as users from './library/users.ts';
/** Conversations and their turns. */
export * as conversations from './library/conversations.ts';
/** Messages: appends in one statement, history pages. */
export * as messages from './library/messages.ts';
/** Actions a message asked for, moving pending → executing → success | failed. */
export * as actions from './library/actions.ts';
/** Reminders, and claiming the due ones exactly once. */
export * as reminders from './library/reminders.ts';
/** The assistant's settings, each validated by its own rule. */
export * as config from './library/config.ts';
/** System log lines in daily partitions. */
export * as logs from './library/logs.ts';
/** The reports behind the dashboard and the seed's analytics queries. */
export * as reports from './library/reports.ts';
/** History from elsewhere as COPY text, in one transaction. */
export { importMessages, IMPORT_COLUMNS } from './core/import.ts';
/** Portuguese full-text search over messages, with a typo fallback. */
export { searchMessages, type SearchHit, type SearchOptions, type SearchResult } from './core/search.ts';
/** LGPD: everything about a person, and erasing it. */
export { eraseUser, exportUser, type Erasure, type UserExport } from './core/privacy.ts';
/** The Voice AI IVR: a per-domain handle (`createIvr(db).forDomain(uuid)`), default providers, key rotation. */
export { createIvr, IvrDomain, insertDefaultProviders, rotateEncryptionKey, type IvrOptions } from './ivr/ivr.ts';
/** Rows of the IVR, as the handle returns them. */
export type { Provider, ProviderType, ProviderWithConfig } from './ivr/providers.ts';
export type { Secretary, SecretaryWithProviders } from './ivr/secretaries.ts';
export type { Call, CallMessage, CallSummary } from './ivr/calls.ts';
export type { Document, DocumentHit } from './ivr/documents.ts';
export type { TransferRule } from './ivr/transfer-rules.ts';
export type { PageOptions } from './db/paging.ts';
