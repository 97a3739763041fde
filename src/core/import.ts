import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { ForeignKeyError } from '../errors.ts';
import { WITHOUT_STATEMENT_TIMEOUT } from '../db/pool.ts';
import { inClientTransaction } from '../db/transaction.ts';
import { withClient } from '../db/client.ts';
import { COLUMNS } from './columns.ts';

/** Every column of `messages` but `user_id`, which the database keeps (migration core 013). */
// Every stored column of a message but user_id, which the staging insert takes from the conversation. COLUMNS holds
// every column the table has (a test checks it against the migrated table), so nothing is dropped by the bulk import.
const MESSAGE_COLUMNS = COLUMNS.messages.filter((column) => column !== 'user_id');

/** The columns of a bulk message import, in file order (COPY text format: tab-separated, \N for null). */
export const IMPORT_COLUMNS = ['conversation_id', 'role', 'content', 'timestamp', 'intent', 'confidence', 'latency_ms', 'metadata'] as const;

/**
 * Loads messages in bulk (history from another assistant, a migration) with COPY, in one transaction: every row
 * or none. The database still checks everything it checks for an append (types, roles, ranges, the
 * conversation exists) and `message_count` / `last_interaction_at` follow.
 *
 * When the role may set `session_replication_role` (a superuser, as the embedded server's owner is, or a role
 * granted SET on it), the rows go through a staging table and the per-row work is done once for the whole file:
 * PostgreSQL checks a foreign key with one query per inserted row, a cost a plain COPY does not have, where one
 * query checks the whole file (figures: bench/README.md, scale). Otherwise
 * the file is copied straight into `messages` and the triggers and foreign key do the same work row by row.
 */
export async function importMessages(pool: pg.Pool, source: Readable): Promise<number> {
  // One client for the transaction and its COPY stream.
  return withClient(pool, (client) =>
    inClientTransaction(client, async () => {
      await client.query(WITHOUT_STATEMENT_TIMEOUT);
      const { rows } = await client.query<{ bulk: boolean }>("SELECT has_parameter_privilege('session_replication_role', 'SET') AS bulk");
      return rows[0]!.bulk ? await importInBulk(client, source) : await copyInto(client, 'messages', source);
    }),
  );
}

async function copyInto(client: pg.PoolClient, table: string, source: Readable): Promise<number> {
  const copy = client.query(copyFrom(`COPY ${table} (${IMPORT_COLUMNS.join(', ')}) FROM STDIN`));
  await pipeline(source, copy);
  return Number(copy.rowCount ?? 0);
}

async function importInBulk(client: pg.PoolClient, source: Readable): Promise<number> {
  // Same column types and defaults, no indexes: parse errors surface here as they would in messages.
  await client.query('CREATE TEMP TABLE import_staging (LIKE messages INCLUDING DEFAULTS) ON COMMIT DROP');
  const copied = await copyInto(client, 'import_staging', source);

  // Sized, so that the statements below hash the file's conversations rather than scan them once per row, with
  // the memory to keep the hash whole.
  await client.query('ANALYZE import_staging');
  await client.query("SET LOCAL work_mem = '256MB'");

  // The foreign key, for the whole file at once: every conversation exists, and is locked against deletion until
  // we commit, as the per-row check's FOR KEY SHARE would. Their owners are kept for the insert below.
  await client.query(
    `CREATE TEMP TABLE import_owners ON COMMIT DROP AS
       SELECT id, user_id FROM conversations WHERE id IN (SELECT conversation_id FROM import_staging) FOR KEY SHARE`,
  );
  await client.query('ANALYZE import_owners');
  const { rows: missing } = await client.query<{ conversation_id: string }>(
    'SELECT conversation_id FROM import_staging s WHERE NOT EXISTS (SELECT 1 FROM import_owners o WHERE o.id = s.conversation_id) LIMIT 1',
  );
  if (missing[0]) {
    throw new ForeignKeyError(`refers to a row that does not exist: messages (messages_conversation_id_fkey), conversation ${missing[0].conversation_id}`);
  }

  // Replica mode skips the triggers: the foreign key's, checked above, and the counters' and rollup marks', kept
  // below from the staging table with the same statements as messages_after_insert() (migrations/core/011).
  await client.query('SET LOCAL session_replication_role = replica');
  // Every column as staged and the owner, which the skipped messages_set_user() would have copied from the
  // conversation (migration core 013). One hash of the file's conversations, probed in file order, rather than
  // a lookup per row (a fifth of the import's time at 1M messages); a conversation's messages stay together on
  // disk, as its history reads them.
  await client.query(
    `INSERT INTO messages (${MESSAGE_COLUMNS.join(', ')}, user_id)
     SELECT ${MESSAGE_COLUMNS.map((column) => `s.${column}`).join(', ')}, o.user_id
       FROM import_staging s JOIN import_owners o ON o.id = s.conversation_id`,
  );
  await client.query('SET LOCAL session_replication_role = origin');
  await client.query(
    `UPDATE conversations c
        SET message_count = c.message_count + n.added
       FROM (SELECT conversation_id, count(*)::integer AS added FROM import_staging GROUP BY conversation_id) n
      WHERE c.id = n.conversation_id`,
  );
  await client.query(
    `UPDATE users u
        SET last_interaction_at = GREATEST(u.last_interaction_at, latest.at)
       FROM (SELECT o.user_id, max(n.timestamp) AS at
               FROM import_staging n JOIN import_owners o ON o.id = n.conversation_id
              WHERE o.user_id IS NOT NULL
              GROUP BY o.user_id) latest
      WHERE u.id = latest.user_id
        AND u.last_interaction_at IS DISTINCT FROM GREATEST(u.last_interaction_at, latest.at)`,
  );
  // And the days of the rollups (migration core 011) the file wrote into, as the insert trigger marks them.
  await client.query(
    `SELECT message_rollup_mark(array_agg(DISTINCT (timestamp AT TIME ZONE 'UTC')::date))
       FROM import_staging WHERE timestamp < date_trunc('day', clock_timestamp(), 'UTC') HAVING count(*) > 0`,
  );
  return copied;
}
