import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import pg from 'pg';
import { createUser } from '../../src/core/users.ts';
import { runCli } from '../harness/cli.ts';
import { adminQuery, testDatabase, urlFor } from '../harness/database.ts';
import { tempDir } from '../harness/temp-dir.ts';

const { db, url } = await testDatabase('backup_cli');
await createUser(db, { name: 'Operadora' });
const backupDir = tempDir('cli-backups');
const env = { DATABASE_URL: url, MORDOMO_BACKUP_DIR: backupDir, MORDOMO_MODULES: 'core,ivr' };

test('backup, list, verify and prune work from the command line, with --json for scripts', async () => {
  const taken = await runCli(['backup', '--json'], env);
  assert.equal(taken.code, 0, taken.stderr);
  const result = JSON.parse(taken.stdout) as { file: string; manifest: { tables: Array<{ name: string; rows: number }> } };
  assert.equal(path.dirname(result.file), backupDir);
  assert.equal(result.manifest.tables.find((t) => t.name === 'users')!.rows, 1);

  const verified = await runCli(['backup', 'verify', result.file], env);
  assert.equal(verified.code, 0, verified.stderr);
  assert.match(verified.stdout, /^backup verified\n\s+ok\s+users\s+1\/1 rows/);

  const listed = JSON.parse((await runCli(['backup', 'list', '--json'], env)).stdout) as Array<{ file: string; verified: { ok: boolean } }>;
  assert.deepEqual(
    listed.map((b) => [b.file, b.verified.ok]),
    [[result.file, true]],
  );

  const pruned = await runCli(['backup', 'prune', '--keep', '1'], env);
  assert.equal(pruned.code, 0, pruned.stderr);
  assert.match(pruned.stdout, /nothing to prune/);
  const bad = await runCli(['backup', 'prune', '--keep', 'zero'], env);
  assert.equal(bad.code, 64);
  assert.match(bad.stderr, /--max-age-days and --keep take whole numbers/);
});

test('verify exits 1 on a damaged backup and says why; restore refuses a non-empty database', async () => {
  const damaged = path.join(backupDir, 'damaged.mdb.gz');
  writeFileSync(damaged, 'not a backup at all');
  const verified = await runCli(['backup', 'verify', damaged], env);
  assert.equal(verified.code, 1);
  assert.match(verified.stdout, /backup FAILED verification: corrupt or truncated backup/);
  const taken = JSON.parse((await runCli(['backup', '--json'], env)).stdout) as { file: string };
  const restored = await runCli(['restore', taken.file], env);
  assert.equal(restored.code, 65); // a data conflict (docs/cli.md, exit codes)
  assert.match(restored.stderr, /the target database is not empty \(table users has rows\)/);
  assert.doesNotMatch(restored.stderr, /\n\s+at /);
});

test('restore --target loads into another database, not the configured one (which holds data and would refuse)', async () => {
  const taken = JSON.parse((await runCli(['backup', '--json'], env)).stdout) as { file: string };
  await adminQuery('CREATE DATABASE t_restore_target');
  const restored = await runCli(['restore', taken.file, '--target', urlFor('t_restore_target'), '--json'], env);
  assert.equal(restored.code, 0, restored.stderr);
  assert.equal((JSON.parse(restored.stdout) as { tables: Array<{ name: string; rows: number }> }).tables.find((t) => t.name === 'users')!.rows, 1);
  const target = new pg.Pool({ connectionString: urlFor('t_restore_target'), max: 1 });
  assert.deepEqual(await target.query(`SELECT name FROM users`).then((r) => r.rows), [{ name: 'Operadora' }]);
  await target.end();
  const bad = await runCli(['restore', taken.file, '--target', 'mysql://somewhere/db'], env);
  assert.equal(bad.code, 64); // a usage error, as for every other command
  assert.match(bad.stderr, /--target <url>.*must be a postgres:\/\/ or postgresql:\/\/ URL/);
});
