import type pg from 'pg';
import { mapDatabaseError } from '../errors.ts';

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
    throw mapDatabaseError(error);
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
