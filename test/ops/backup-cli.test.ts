import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import pg from 'pg';
import { createUser } from '../../src/core/users.ts';
import { eventually } from '../harness/assertions.ts';
import { CLI, cliEnv, exited, runCli, stopServersAfter } from '../harness/cli.ts';
import { adminQuery, testDatabase, urlFor } from '../harness/database.ts';
import { freePort } from '../harness/ports.ts';
import { tempDir } from '../harness/temp-dir.ts';

const { db, url, name } = await testDatabase('backup_cli');
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

test('a backup interrupted before its file is in place leaves nothing and exits 130', async () => {
  const out = tempDir('cli-backup-interrupted');
  // The backup waits for this lock on its last core table, its partial file half written, until the signal comes.
  const holder = new pg.Client({ connectionString: url });
  await holder.connect();
  await holder.query('BEGIN');
  await holder.query('LOCK TABLE config IN ACCESS EXCLUSIVE MODE');
  const child = spawn(process.execPath, [CLI, 'backup', '--out', out], { env: cliEnv(env) });
  const code = exited(child);
  try {
    await eventually('the backup to wait for the lock', async () => {
      const { rows } = await adminQuery(`SELECT 1 FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock' AND query LIKE 'COPY%config%'`, [name]);
      return rows.length > 0;
    });
    assert.ok(
      readdirSync(out).some((file) => file.endsWith('.partial')),
      'the partial file exists while the backup works',
    );
    child.kill('SIGINT');
    await new Promise((resolve) => setTimeout(resolve, 300));
  } finally {
    await holder.query('ROLLBACK');
    await holder.end();
  }
  assert.equal(await code, 130);
  assert.deepEqual(readdirSync(out), [], 'neither a partial file nor one that looks like a backup');
});

test('a signal that comes once the backup file is in place changes nothing: exit 0, the file kept', async () => {
  // The embedded server, so that stopping it after the backup leaves the signal a window to come in.
  const dataDir = path.join(tempDir('cli-backup-late-signal'), 'data');
  stopServersAfter(path.join(dataDir, 'pg'));
  const embedded = { MORDOMO_DATA_DIR: dataDir, MORDOMO_PG_PORT: String(await freePort()), MORDOMO_LOG_LEVEL: 'info' };
  const migrated = await runCli(['migrate'], embedded);
  assert.equal(migrated.code, 0, migrated.stderr);
  const child = spawn(process.execPath, [CLI, 'backup'], { env: cliEnv(embedded) });
  const code = exited(child);
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const file = await new Promise<string>((resolve) => {
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const written = /backup written: (\S+)/.exec(stdout)?.[1];
      if (written) {
        child.kill('SIGTERM');
        resolve(written);
      }
    });
  });
  assert.equal(await code, 0, stderr);
  assert.match(stderr, /the work is done; finishing/, 'the signal came while the command was still running');
  assert.ok(existsSync(file), 'the backup is kept');
  assert.ok(!existsSync(`${file}.partial`));
});
