import type { Kysely } from 'kysely';
import type pg from 'pg';
import type { DB } from './schema.ts';

/**
 * Runs `work` in a transaction of its own, or inside the caller's when `db` already is one (Kysely refuses to nest
 * `transaction()`), so that a function can be both called alone and composed into a larger unit of work.
 */
export function inTransaction<T>(db: Kysely<DB>, work: (trx: Kysely<DB>) => Promise<T>): Promise<T> {
  return db.isTransaction ? work(db) : db.transaction().execute(work);
}

/**
 * The same on a raw `pg` client, for the work Kysely cannot do (COPY streams, migrations' multi-statement files):
 * `begin` (e.g. `BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY`), then `work`, then COMMIT; on any failure a
 * ROLLBACK (whose own failure, on a connection already lost, is not the error to report) and the failure rethrown.
 */
export async function inClientTransaction<T>(client: pg.ClientBase, work: () => Promise<T>, begin = 'BEGIN'): Promise<T> {
  await client.query(begin);
  try {
    const result = await work();
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}
