import type pg from 'pg';
import { mapDatabaseError } from '../errors.ts';
import { WITHOUT_STATEMENT_TIMEOUT } from '../db/pool.ts';
import { inClientTransaction } from '../db/transaction.ts';
import { withClient } from '../db/client.ts';

/**
 * Indexes a restore leaves to be built after its data is committed, so that two can be built at once: PostgreSQL 16
 * builds a GIN index on one core, and the two of message search are most of a restore. A row leaves this table in
 * the transaction that builds its index, so a crash loses none: the next migration run (every command and the
 * service start with one) builds what is left.
 */
export const CREATE_PENDING_INDEXES = `
CREATE TABLE IF NOT EXISTS mordomo_pending_indexes (
    name text PRIMARY KEY,
    table_name text NOT NULL,
    definition text NOT NULL,
    queued_at timestamptz NOT NULL DEFAULT now()
)`;

export interface IndexDefinition {
  name: string;
  definition: string;
}

export async function queueIndexBuilds(client: pg.ClientBase, table: string, indexes: IndexDefinition[]): Promise<void> {
  if (!indexes.length) return;
  await client.query(
    `INSERT INTO mordomo_pending_indexes (name, table_name, definition)
     SELECT name, $1, definition FROM unnest($2::text[], $3::text[]) AS queued (name, definition)
     ON CONFLICT (name) DO UPDATE SET table_name = EXCLUDED.table_name, definition = EXCLUDED.definition, queued_at = now()`,
    [table, indexes.map((i) => i.name), indexes.map((i) => i.definition)],
  );
}

// The longest builds first, so that the last one to finish is short: GIN before B-tree, big tables before small.
// SKIP LOCKED lets builders on other connections (or processes) take the next one instead of waiting.
const NEXT = `
SELECT name, definition, to_regclass(name) IS NOT NULL OR to_regclass(table_name) IS NULL AS settled
  FROM mordomo_pending_indexes
 ORDER BY definition LIKE '% USING gin %' DESC, pg_total_relation_size(to_regclass(table_name)) DESC NULLS LAST, name
 LIMIT 1 FOR UPDATE SKIP LOCKED`;

export interface BuildOptions {
  /** Called after each index is built and committed. */
  onIndex?: (name: string, ms: number) => void;
  /** Asked before each index: another builder failed, so stop after the current one. */
  stopped?: () => boolean;
}

/** Builds queued indexes one after another on `client`, each in its own transaction with the removal of its row. */
export async function buildQueuedIndexes(client: pg.ClientBase, options: BuildOptions = {}): Promise<number> {
  let built = 0;
  while (!options.stopped?.()) {
    const started = performance.now();
    const name = await inClientTransaction(client, async () => {
      await client.query(WITHOUT_STATEMENT_TIMEOUT);
      await client.query(`SET LOCAL maintenance_work_mem = '256MB'`);
      const { rows } = await client.query<{ name: string; definition: string; settled: boolean }>(NEXT);
      const next = rows[0];
      if (!next) return undefined;
      // Already built (by hand, say), or its table is gone: only the queue entry was left, and a build that cannot
      // succeed would otherwise fail every later start.
      if (!next.settled) await client.query(next.definition);
      await client.query('DELETE FROM mordomo_pending_indexes WHERE name = $1', [next.name]);
      return next.name;
    }).catch((error: unknown) => {
      throw mapDatabaseError(error);
    });
    if (name === undefined) return built;
    built++;
    options.onIndex?.(name, performance.now() - started);
  }
  return built;
}

/**
 * Builds the queued indexes on `connections` connections of `pool` at once. When one builder fails the others stop
 * after their current index, and the first error is thrown; what is left stays queued.
 */
export async function buildPendingIndexes(pool: pg.Pool, connections: number, options: Pick<BuildOptions, 'onIndex'> = {}): Promise<number> {
  let failed = false;
  const builder = async () => {
    try {
      // One session per builder: CREATE INDEX CONCURRENTLY runs outside a transaction, one at a time per connection.
      return await withClient(pool, (client) => buildQueuedIndexes(client, { ...options, stopped: () => failed }));
    } catch (error) {
      failed = true;
      throw error;
    }
  };
  const results = await Promise.allSettled(Array.from({ length: connections }, builder));
  const error = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (error) throw error.reason;
  return results.reduce((sum, r) => sum + (r as PromiseFulfilledResult<number>).value, 0);
}
