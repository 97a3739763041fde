import type pg from 'pg';
import { mapDatabaseError, MordomoError, sqlstateOf } from '../errors.ts';

/** A failure of the database typed; any other failure of the work (a caller's callback, a file) as it was. */
function typedIfFromDatabase(error: unknown): unknown {
  const mapped = mapDatabaseError(error);
  return error instanceof MordomoError || mapped.code !== 'internal' || sqlstateOf(error) ? mapped : error;
}

/**
 * Runs `work` on a client of `pool` checked out for it: for what a single Kysely statement cannot do (COPY streams,
 * session settings, advisory locks held across statements). The client goes back with `work`'s error, so that a
 * connection that failed mid-work is closed rather than handed to the next caller; failures are typed.
 */
export async function withClient<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (error) {
    throw mapDatabaseError(error);
  }
  try {
    const result = await work(client);
    client.release();
    return result;
  } catch (error) {
    client.release(error instanceof Error ? error : new Error(String(error)));
    throw typedIfFromDatabase(error);
  }
}

/** One statement on any client of `pool`, its failure typed: for statements outside Kysely (ops' catalog reads). */
export async function query<R extends pg.QueryResultRow>(pool: pg.Pool, text: string, values?: unknown[]): Promise<pg.QueryResult<R>> {
  try {
    return await pool.query<R>(text, values);
  } catch (error) {
    throw mapDatabaseError(error);
  }
}
