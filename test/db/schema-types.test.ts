import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { schemaTypesCommand } from '../../scripts/schema-types.ts';
import { COLUMNS } from '../../src/core/columns.ts';
import { testDatabase } from '../harness/database.ts';

const { url } = await testDatabase('schema_types');

test('src/db/schema.ts matches the migrated database (regenerate with npm run db:types)', () => {
  const [command, args] = schemaTypesCommand(url, true);
  const result = spawnSync(command, args, { encoding: 'utf8' });
  assert.equal(result.status, 0, `kysely-codegen --verify reports drift:\n${result.stdout}\n${result.stderr}`);
});

// Generated columns (the stored search lexemes of messages) are there for an index and never read back.
test('the columns the library names (src/core/columns.ts) are every stored, non-generated column of each table as migrated', async () => {
  const { pool } = await testDatabase('columns');
  for (const [table, columns] of Object.entries(COLUMNS)) {
    const { rows } = await pool.query<{ column_name: string }>(
      `SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1 AND is_generated = 'NEVER'`,
      [table],
    );
    assert.deepEqual([...columns].sort(), rows.map((row) => row.column_name).sort(), table);
  }
});
