/** The public library API of mordomo-db. */
export { loadConfig, type Config, type ConfigOverrides, type Module } from './config.ts';
export { createLogger, type Logger } from './logger.ts';
export { openDatabase, redactUrl, type Database } from './db/connect.ts';
export * from './db/errors.ts';
export type { DB } from './db/schema.ts';
export { migrate, migrationStatus, type MigrationStatus } from './migrate/runner.ts';
export * as users from './core/users.ts';
export * as conversations from './core/conversations.ts';
export * as messages from './core/messages.ts';
export * as actions from './core/actions.ts';
export * as reminders from './core/reminders.ts';
export * as config from './core/config.ts';
export * as logs from './core/logs.ts';
