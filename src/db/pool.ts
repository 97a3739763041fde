import pg from 'pg';
import type { PoolSettings } from '../config.ts';
import type { Logger } from '../logger.ts';

// Return int8 (count(*), bigserial ids) as JS numbers: every int8 here is a row count or a log id that stays far
// below 2^53, and callers expect `number`.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));

/**
 * A `pg.Pool` with the seed's sizing and timeouts. An idle client that breaks (server restart) is dropped by
 * the pool and its error re-emitted on the pool: logging it here keeps a restart from crashing the process.
 */
export function createPool(connectionString: string, settings: PoolSettings, logger: Logger): pg.Pool {
  const pool = new pg.Pool({
    connectionString,
    min: settings.min,
    max: settings.max,
    connectionTimeoutMillis: settings.connectionTimeoutMs,
    idleTimeoutMillis: settings.idleTimeoutMs,
    statement_timeout: settings.statementTimeoutMs,
    application_name: settings.applicationName,
  });
  pool.on('error', (error) => logger.warn({ err: { message: error.message } }, 'idle database connection lost'));
  return pool;
}
