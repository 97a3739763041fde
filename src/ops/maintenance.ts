import type pg from 'pg';
import { withClient } from '../db/client.ts';
import { quoteIdentifier } from '../db/identifiers.ts';
import { InvalidInputError } from '../errors.ts';
import { MODULE_TABLES } from './backup-tables.ts';

export type MaintenanceTask = 'vacuum' | 'analyze' | 'reindex';

/** Only this package's own tables may be named: identifiers reach SQL from this list, never from input. */
function checkedTable(table: string | undefined): string | undefined {
  if (table === undefined) return undefined;
  const known = [...MODULE_TABLES.core, ...MODULE_TABLES.ivr];
  if (!known.includes(table)) throw new InvalidInputError(`unknown table "${table}": choose one of ${known.join(', ')}`);
  return table;
}

/**
 * VACUUM (ANALYZE), ANALYZE or REINDEX of one table or of everything. REINDEX uses CONCURRENTLY so the assistant
 * keeps writing while indexes are rebuilt (a whole-database REINDEX is done table by table for the same reason).
 */
export async function runMaintenance(pool: pg.Pool, task: MaintenanceTask, table?: string): Promise<string[]> {
  const target = checkedTable(table);
  const tables = target ? [target] : [...MODULE_TABLES.core, ...MODULE_TABLES.ivr];
  const done: string[] = [];
  // VACUUM and REINDEX CONCURRENTLY cannot run inside a transaction, so the pool's statement timeout (30 s by
  // default, for the assistant's queries; a big table takes minutes) is turned off for this session, and back on
  // before the connection returns to the pool.
  await withClient(pool, async (client) => {
    await client.query('SET statement_timeout = 0');
    try {
      if (task !== 'reindex' && !target) {
        await client.query(task === 'vacuum' ? 'VACUUM (ANALYZE)' : 'ANALYZE');
        done.push('(all tables)');
        return;
      }
      for (const name of tables) {
        const { rows } = await client.query<{ exists: boolean }>('SELECT to_regclass($1) IS NOT NULL AS exists', [name]);
        if (!rows[0]!.exists) continue;
        const table = quoteIdentifier(name);
        const statement = { vacuum: `VACUUM (ANALYZE) ${table}`, analyze: `ANALYZE ${table}`, reindex: `REINDEX TABLE CONCURRENTLY ${table}` }[task];
        await client.query(statement);
        done.push(name);
      }
    } finally {
      // A RESET that fails fails the work, and withClient then closes the connection instead of pooling it.
      await client.query('RESET statement_timeout');
    }
  });
  return done;
}
