import type pg from 'pg';
import { query } from '../db/client.ts';

/** Messages read per statement: one transaction of a few seconds at most, whatever the backlog. */
const BATCH = 100_000;

/**
 * Teaches the search vocabulary (migration core 017) the words of the messages written since its last run, in
 * batches, until it has caught up or `budgetMs` has passed (the next run goes on). The scheduler's search-words job,
 * every minute; search corrects typos against this vocabulary. Messages younger than `settleSeconds` wait for the
 * next run (a transaction still open may hold an older id). Returns how many messages were read.
 */
export async function learnSearchWords(pool: pg.Pool, { budgetMs = 50_000, settleSeconds = 60 } = {}): Promise<number> {
  const started = Date.now();
  let total = 0;
  for (;;) {
    const { rows } = await query<{ read: number }>(pool, 'SELECT learn_search_words($1::int, make_interval(secs => $2)) AS read', [BATCH, settleSeconds]);
    total += rows[0]!.read;
    if (rows[0]!.read < BATCH || Date.now() - started > budgetMs) return total;
  }
}

/**
 * Empties the vocabulary and sends the job back to the first message: what a restore does, since the restored
 * messages' ids may be older than the mark (migration core 017).
 */
export const FORGET_SEARCH_WORDS = "TRUNCATE search_words; UPDATE search_words_learned SET up_to = '00000000-0000-0000-0000-000000000000'";
