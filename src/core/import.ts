import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { mapDatabaseError } from '../db/errors.ts';

/** The columns of a bulk message import, in file order (COPY text format: tab-separated, \N for null). */
export const IMPORT_COLUMNS = ['conversation_id', 'role', 'content', 'timestamp', 'intent', 'confidence', 'latency_ms', 'metadata'] as const;

/**
 * Loads messages in bulk (history from another assistant, a migration) with COPY, in one transaction: every row
 * or none. The database still checks everything it checks for an append (roles, ranges, the conversation exists)
 * and the triggers keep `message_count` and `last_interaction_at`, once per statement.
 */
export async function importMessages(pool: pg.Pool, source: Readable): Promise<number> {
  const client = await pool.connect().catch((error) => {
    throw mapDatabaseError(error);
  });
  try {
    await client.query('BEGIN');
    await client.query("SET LOCAL statement_timeout = '0'");
    const copy = client.query(copyFrom(`COPY messages (${IMPORT_COLUMNS.join(', ')}) FROM STDIN`));
    await pipeline(source, copy);
    await client.query('COMMIT');
    return Number(copy.rowCount ?? 0);
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw mapDatabaseError(error);
  } finally {
    client.release();
  }
}
