import type pg from 'pg';
import { SQLSTATE, sqlstateOf } from '../errors.ts';
import { withClient } from '../db/client.ts';
import { WITHOUT_STATEMENT_TIMEOUT } from '../db/pool.ts';
import { inClientTransaction } from '../db/transaction.ts';

/** Tables derived from messages (migration core 011): a restore empties them, the rollups job fills them again. */
export const ROLLUP_TABLES = ['message_rollup_hourly', 'message_rollup_latency', 'message_rollup_days', 'message_rollup_dirty'];

/**
 * Rolls up the complete days not rolled up yet, or changed since (see migrations/core/011_message_rollups.sql), at
 * most `maxDays` per call, newest first. The scheduler's `rollups` job; reports are exact whether it ran or not,
 * only faster once it has. Returns how many days were rolled up, or null when a concurrent write to one of those
 * days made this snapshot stale (the next run does them).
 */
export async function refreshMessageRollups(pool: pg.Pool, maxDays = 31): Promise<number | null> {
  try {
    return await withClient(pool, (client) =>
      inClientTransaction(
        client,
        async () => {
          await client.query(WITHOUT_STATEMENT_TIMEOUT);
          const { rows } = await client.query<{ days: number }>('SELECT refresh_message_rollups($1::int) AS days', [maxDays]);
          return rows[0]!.days;
        },
        'BEGIN ISOLATION LEVEL REPEATABLE READ',
      ),
    );
  } catch (error) {
    if (sqlstateOf(error) === SQLSTATE.serializationFailure) return null;
    throw error;
  }
}
