import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { schemaTypesCommand } from '../../scripts/schema-types.ts';
import { testDatabase } from '../harness/database.ts';

const { url } = await testDatabase('schema_types');

test('src/db/schema.ts matches the migrated database (regenerate with npm run db:types)', () => {
  const [command, args] = schemaTypesCommand(url, true);
  const result = spawnSync(command, args, { encoding: 'utf8' });
  assert.equal(result.status, 0, `kysely-codegen --verify reports drift:\n${result.stdout}\n${result.stderr}`);
});
