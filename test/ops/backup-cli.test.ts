import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { sql } from 'kysely';
import pg from 'pg';
import { createUser } from '../../src/core/users.ts';
import { CLI, cliEnv, exited, interruptCli, runCli, signalOnOutput, stopServersAfter } from '../harness/cli.ts';
import { adminQuery, TEMPLATE_DATABASE, testDatabase, urlFor } from '../harness/database.ts';
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
  let partialSeen = false;
  const { code } = await interruptCli(['backup', '--out', out], env, {
    working: async () => {
      const { rows } = await adminQuery(`SELECT 1 FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock' AND query LIKE 'COPY%config%'`, [name]);
      partialSeen = rows.length > 0 && readdirSync(out).some((file) => file.endsWith('.partial'));
      return rows.length > 0;
    },
    release: async () => {
      await holder.query('ROLLBACK');
      await holder.end();
    },
  });
  assert.ok(partialSeen, 'the partial file exists while the backup works');
  assert.equal(code, 130);
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

/** A database from the migrated template holding one user of its own, for a restore --force to replace. */
async function targetWithData(label: string): Promise<{ url: string; names: () => Promise<string[]> }> {
  await adminQuery(`CREATE DATABASE ${label} TEMPLATE ${TEMPLATE_DATABASE}`);
  const target = new pg.Client({ connectionString: urlFor(label) });
  await target.connect();
  await target.query(`INSERT INTO users (name) VALUES ('Antiga')`);
  await target.end();
  return {
    url: urlFor(label),
    names: async () => (await adminQueryIn(label, 'SELECT name FROM users ORDER BY name')).map((r) => r.name as string),
  };
}

async function adminQueryIn(database: string, text: string): Promise<Array<Record<string, unknown>>> {
  const client = new pg.Client({ connectionString: urlFor(database) });
  await client.connect();
  try {
    return (await client.query(text)).rows;
  } finally {
    await client.end();
  }
}

test('a restore interrupted inside its transaction rolls back at once and exits 130: the target keeps its own data', async () => {
  const taken = JSON.parse((await runCli(['backup', '--json'], env)).stdout) as { file: string };
  const target = await targetWithData('t_restore_interrupted');
  // The restore, its tables truncated and its first table loaded, waits on this lock to queue an index build.
  const holder = new pg.Client({ connectionString: target.url });
  await holder.connect();
  await holder.query('BEGIN');
  await holder.query('LOCK TABLE mordomo_pending_indexes IN EXCLUSIVE MODE');
  let exitedBeforeRelease = false;
  const { code, stderr } = await interruptCli(['restore', taken.file, '--target', target.url, '--force'], env, {
    working: async () => {
      const { rows } = await adminQuery(
        `SELECT 1 FROM pg_stat_activity WHERE datname = 't_restore_interrupted' AND wait_event_type = 'Lock' AND query LIKE 'INSERT INTO mordomo_pending_indexes%'`,
      );
      return rows.length > 0;
    },
    release: async (ended) => {
      // It gives up without waiting for the lock: its connection is closed, which ends the statement waiting. (The
      // bound only keeps a restore that would wait for the lock from hanging the test.)
      exitedBeforeRelease = await Promise.race([ended.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 60_000))]);
      await holder.query('ROLLBACK');
      await holder.end();
    },
  });
  assert.equal(code, 130, stderr);
  assert.ok(exitedBeforeRelease);
  assert.doesNotMatch(stderr, /\n\s+at /);
  assert.deepEqual(await target.names(), ['Antiga'], 'nothing of the backup, nothing of the target lost');
});

test('a restore whose data is committed when the signal comes reports its success', async () => {
  const taken = JSON.parse((await runCli(['backup', '--json'], env)).stdout) as { file: string };
  // Into the embedded server, so that stopping it after the restore leaves the signal a window to come in.
  const dataDir = path.join(tempDir('cli-restore-late-signal'), 'data');
  stopServersAfter(path.join(dataDir, 'pg'));
  const embedded = { MORDOMO_DATA_DIR: dataDir, MORDOMO_PG_PORT: String(await freePort()), MORDOMO_LOG_LEVEL: 'info', MORDOMO_MODULES: 'core,ivr' };
  const { code, stderr } = await signalOnOutput(['restore', taken.file], embedded, /restored \d+ rows/, 'SIGTERM');
  assert.equal(code, 0, stderr);
  assert.match(stderr, /the work is done; finishing/, 'the signal came while the command was still running');
});

test('a verification interrupted exits 130, records nothing beside the file and drops its scratch database', async () => {
  // About 40 MB of messages: the verification is still loading or checking them when the signal comes.
  const big = await testDatabase('backup_cli_big');
  await sql`WITH u AS (INSERT INTO users (name) VALUES ('Ana') RETURNING id),
                 c AS (INSERT INTO conversations (user_id) SELECT id FROM u RETURNING id)
            INSERT INTO messages (conversation_id, role, content)
            SELECT c.id, 'user', 'mensagem ' || n || ' ' || md5(n::text) || repeat('a', 1000) FROM c, generate_series(1, 40000) AS n`.execute(big.db);
  const bigEnv = { DATABASE_URL: big.url, MORDOMO_BACKUP_DIR: tempDir('cli-verify-interrupted') };
  const taken = await runCli(['backup', '--json'], bigEnv);
  assert.equal(taken.code, 0, taken.stderr);
  const file = (JSON.parse(taken.stdout) as { file: string }).file;
  let scratch: string | undefined;
  const { code, stderr } = await interruptCli(['backup', 'verify', file], bigEnv, {
    working: async () => {
      const { rows } = await adminQuery<{ datname: string }>(
        `SELECT datname FROM pg_stat_activity WHERE datname LIKE 'mordomo_verify_%' AND query LIKE 'COPY %messages%FROM STDIN%'`,
      );
      scratch = rows[0]?.datname;
      return scratch !== undefined;
    },
  });
  assert.equal(code, 130, stderr);
  assert.ok(!existsSync(`${file}.verified`), 'an interrupted verification proves nothing and records nothing');
  const { rows } = await adminQuery(`SELECT 1 FROM pg_database WHERE datname = $1`, [scratch]);
  assert.equal(rows.length, 0, `the scratch database ${scratch} is dropped`);
});

test('a verification already recorded when the signal comes reports its success', async () => {
  const taken = JSON.parse((await runCli(['backup', '--json'], env)).stdout) as { file: string };
  // On the embedded server, so that stopping it after the verification leaves the signal a window to come in.
  const dataDir = path.join(tempDir('cli-verify-late-signal'), 'data');
  stopServersAfter(path.join(dataDir, 'pg'));
  const embedded = { MORDOMO_DATA_DIR: dataDir, MORDOMO_PG_PORT: String(await freePort()), MORDOMO_LOG_LEVEL: 'info' };
  const { code, stderr } = await signalOnOutput(['backup', 'verify', taken.file], embedded, /backup verified/, 'SIGINT');
  assert.equal(code, 0, stderr);
  assert.match(stderr, /the work is done; finishing/, 'the signal came while the command was still running');
  assert.ok(existsSync(`${taken.file}.verified`), 'the verification is recorded');
});
