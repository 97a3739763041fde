import type pg from 'pg';
import { query } from '../db/client.ts';
import { InvalidInputError } from '../errors.ts';

// One batch per statement and transaction: each holds row locks on at most `batch` conversations for a moment,
// so the assistant keeps appending turns while years of history are cleared. Messages and actions go by cascade.
const DELETE_BATCH = `
DELETE FROM conversations
 WHERE id IN (SELECT id FROM conversations
               WHERE started_at < now() - make_interval(days => $1::int)
               ORDER BY started_at
               LIMIT $2
               FOR UPDATE SKIP LOCKED)`;

export interface RetentionResult {
  conversations: number;
  batches: number;
}

/**
 * Deletes conversations started more than `days` ago, with their messages and actions, in bounded batches.
 * Opt-in (MORDOMO_CONVERSATION_RETENTION_DAYS): nothing calls it unless an operator asked for retention.
 */
export async function expireConversations(pool: pg.Pool, days: number, batch = 1000): Promise<RetentionResult> {
  if (!Number.isInteger(days) || days < 1) throw new InvalidInputError('retention days must be a whole number of at least 1');
  if (!Number.isInteger(batch) || batch < 1 || batch > 100_000) throw new InvalidInputError('batch size must be between 1 and 100000');
  let conversations = 0;
  let batches = 0;
  for (;;) {
    const { rowCount } = await query(pool, DELETE_BATCH, [days, batch]);
    if (!rowCount) return { conversations, batches };
    conversations += rowCount;
    batches++;
  }
}
