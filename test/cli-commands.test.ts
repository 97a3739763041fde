// Every command group loads its code when its action runs (src/cli.ts, src/cli/*): each command here runs for real
// against a database and ends with its documented code, none with "unexpected error" or a module it could not load.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import pg from 'pg';
import { runCli } from './harness/cli.ts';
import { testDatabase } from './harness/database.ts';
import { tempDir } from './harness/temp-dir.ts';

const { url } = await testDatabase('cli_commands');
const dir = tempDir('cli-commands');
const env = { DATABASE_URL: url, MORDOMO_DATA_DIR: dir, MORDOMO_MODULES: 'core,ivr' };

async function runs(expected: number, args: string[]) {
  const result = await runCli(args, env);
  const output = `mordomo-db ${args.join(' ')}:\n${result.stdout}${result.stderr}`;
  assert.equal(result.code, expected, output);
  assert.doesNotMatch(result.stderr, /unexpected error|Cannot find module|ERR_MODULE_NOT_FOUND/, output);
  return result;
}

test('each command runs its own code after loading it on demand', async () => {
  await runs(0, ['migrate']);
  await runs(0, ['migrate', 'status']);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const { rows } = await client.query<{ id: string }>(`INSERT INTO users (name) VALUES ('Ana') RETURNING id`);
  await client.end();
  const user = rows[0]!.id;
  assert.match((await runs(0, ['search', 'luz da sala'])).stdout, /no messages found|similar|\S/);
  assert.match((await runs(0, ['user', 'export', user])).stdout, /"Ana"/);
  await runs(0, ['monitor', 'connections']);
  await runs(0, ['maintenance', 'analyze', 'users']);
  await runs(0, ['maintenance', 'partitions']);
  await runs(0, ['scheduler', 'run', 'size']);
  await runs(0, ['replica', 'status']);
  await runs(0, ['pitr', 'list']);
  await runs(0, ['ivr', 'defaults']);
  await runs(0, ['ivr', 'key', 'list']);
  await runs(78, ['ivr', 'rotate-key']);
  await runs(0, ['token', 'rotate']);
  const out = path.join(dir, 'backups');
  await runs(0, ['backup', '--out', out]);
  const file = path.join(out, readdirSync(out).find((name) => name.endsWith('.mdb.gz'))!);
  await runs(0, ['backup', 'verify', file]);
  await runs(0, ['backup', 'list']);
  await runs(0, ['backup', 'prune', '--keep', '5']);
  const target = await runs(64, ['restore', file, '--target', 'mysql://elsewhere']);
  assert.match(target.stderr, /must be a postgres:\/\/ or postgresql:\/\/ URL/);
  assert.match((await runs(0, ['user', 'erase', user, '--yes'])).stdout, /^erased: /);
  const doctor = await runCli(['doctor'], env);
  assert.ok(doctor.code === 0 || doctor.code === 1, `${doctor.stdout}${doctor.stderr}`);
  assert.match(doctor.stdout, /backups|disk/);
});
