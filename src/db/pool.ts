import { createHash } from 'node:crypto';
import pg from 'pg';
import type { PoolSettings } from '../config.ts';
import { parseTimestamptz } from './timestamps.ts';
import { pgConnectionOptions } from './tls.ts';
import type { Logger } from '../logger.ts';

/**
 * The type parsers of every connection this package opens: int8 (count(*), bigserial ids) as JS numbers, since
 * every int8 here is a row count or a log id far below 2^53 and callers expect `number`; timestamptz by position
 * (timestamps.ts), the same Dates as pg's parser gives, for less CPU per row read. Given per pool or client
 * (node-postgres' `types` option), never set on the global `pg.types`: another `pg` user in the same process keeps
 * its own parsing.
 */
export const TYPES: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    if (format === 'binary') return pg.types.getTypeParser(oid, format);
    if (oid === pg.types.builtins.INT8) return (value: string) => Number(value);
    if (oid === pg.types.builtins.TIMESTAMPTZ) return parseTimestamptz;
    return pg.types.getTypeParser(oid, format);
  }) as pg.CustomTypesConfig['getTypeParser'],
};

/** Distinct statements a connection keeps prepared; past this, new shapes run unprepared (no unbounded growth). */
const MAX_PREPARED_PER_CONNECTION = 256;
const prepared = new WeakMap<pg.Client, Set<string>>();

// Statement texts seen by this process and their names. A name is a digest of the text (the same on every
// connection); remembering it spares a SHA-1 of the text on every query, the hot ones being fixed texts. Bounded
// like the per-connection sets (past the limit it starts over rather than growing with every ad hoc text), and
// long texts (multi-row inserts, whose text grows with the rows) are digested each time rather than kept.
const MAX_REMEMBERED_NAMES = 1024;
const MAX_REMEMBERED_TEXT = 4096;
const names = new Map<string, string>();

function statementName(text: string): string {
  const remembered = names.get(text);
  if (remembered !== undefined) return remembered;
  const name = `mdb_${createHash('sha1').update(text).digest('base64url').slice(0, 20)}`;
  if (text.length <= MAX_REMEMBERED_TEXT) {
    if (names.size >= MAX_REMEMBERED_NAMES) names.clear();
    names.set(text, name);
  }
  return name;
}

/**
 * Statements that begin with this comment are never prepared: each run is planned for its own parameter values.
 * For statements whose best plan depends on the values (a search: a rare word wants its index, a common one the
 * walk of the newest messages), a prepared statement's generic plan, chosen once for all values, can be the
 * wrong one for most of them.
 */
export const PLANNED_PER_CALL = '/* planned per call */';

/**
 * Parameterised statements run as named prepared statements, parsed and planned once per connection instead of
 * on every call, as postgres.js does by default. The library's queries come in a few fixed shapes (Kysely output),
 * so the set per connection stays small; statements without parameters (BEGIN, migrations) are left alone.
 */
function autoPrepare(client: pg.PoolClient): void {
  if (prepared.has(client)) return;
  const known = new Set<string>();
  prepared.set(client, known);
  const original = client.query.bind(client) as (...args: unknown[]) => unknown;
  const run = (...args: unknown[]) => {
    const result = original(...args);
    return result instanceof Promise ? result.catch((error: unknown) => endIfFatal(client, error)) : result;
  };
  (client as { query: unknown }).query = (config: unknown, values?: unknown, callback?: unknown) => {
    if (typeof config === 'string' && Array.isArray(values) && values.length > 0 && typeof callback !== 'function' && !config.startsWith(PLANNED_PER_CALL)) {
      const name = statementName(config);
      if (known.has(name) || known.size < MAX_PREPARED_PER_CONNECTION) {
        known.add(name);
        return run({ name, text: config, values });
      }
    }
    return run(config, values, callback);
  };
}

/**
 * A statement that failed because the server ended the session (a FATAL error: the backend was terminated, the
 * server is shutting down) leaves a client whose socket closes a moment later. Released before that, the pool would
 * hand the dead client to the next caller, whose statement then fails too; ended now, the pool discards it.
 */
function endIfFatal(client: pg.PoolClient, error: unknown): never {
  if ((error as { severity?: string }).severity === 'FATAL') client.end().catch(() => undefined);
  throw error;
}

/**
 * Lifts the pool's statement timeout for the rest of a transaction. The timeout (30 s by default) is for the
 * assistant's queries; bulk work (a backup's COPY, a restore, an import, an index build, a migration) takes minutes
 * on a big database and would be cancelled.
 */
export const WITHOUT_STATEMENT_TIMEOUT = "SET LOCAL statement_timeout = '0'";

/**
 * node-postgres reports a connection's death (postmaster exit, `pg_terminate_backend`, a network cut) as an
 * 'error' event on its Client. pg-pool listens for it only while the client is idle in the pool: a checked-out
 * client (between two statements of a transaction, a scheduled job's lock client) would throw it as an unhandled
 * 'error' event and end the process. With a listener of its own, the statement that runs next on that client fails
 * (and is answered as "unavailable"), and the pool discards the client when it is released.
 */
export function surviveLostConnections(pool: pg.Pool, onLost: (error: Error) => void): void {
  pool.on('connect', (client) => client.on('error', onLost));
  pool.on('error', onLost);
}

/**
 * A `pg.Pool` with the seed's sizing and timeouts, whose connections can die at any moment without taking the
 * process with them (see `surviveLostConnections`); the pool reconnects once the server answers again.
 */
export function createPool(connectionString: string, settings: PoolSettings, logger: Logger): pg.Pool {
  const pool = new pg.Pool({
    ...pgConnectionOptions(connectionString),
    min: settings.min,
    max: settings.max,
    connectionTimeoutMillis: settings.connectionTimeoutMs,
    idleTimeoutMillis: settings.idleTimeoutMs,
    statement_timeout: settings.statementTimeoutMs,
    application_name: settings.applicationName,
    types: TYPES,
  });
  pool.on('connect', autoPrepare);
  surviveLostConnections(pool, (error) => {
    // pool.end() resolves before its sockets have closed; a server stopped right after terminates them. Expected.
    if (pool.ending) return;
    // The cause in a line, no stack: pg-pool's error carries the whole client (its prepared statements' SQL, a few
    // KB) as an enumerable property, and every pooled connection reports the same loss at once.
    const code = (error as { code?: unknown }).code;
    logger.warn({ cause: error.message, ...(typeof code === 'string' && { code }) }, 'database connection lost');
  });
  return pool;
}
