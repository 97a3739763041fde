import type { Kysely } from 'kysely';
import type { DB } from './schema.ts';

/**
 * Runs `work` in a transaction of its own, or inside the caller's when `db` already is one (Kysely refuses to nest
 * `transaction()`), so that a function can be both called alone and composed into a larger unit of work.
 */
export function inTransaction<T>(db: Kysely<DB>, work: (trx: Kysely<DB>) => Promise<T>): Promise<T> {
  return db.isTransaction ? work(db) : db.transaction().execute(work);
}
