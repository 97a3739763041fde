// Every exit code docs/cli.md documents, each from a real command that ends with it.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import pg from 'pg';
import { interruptCli, runCli } from './harness/cli.ts';
import { adminQuery, testDatabase } from './harness/database.ts';
import { tempDir } from './harness/temp-dir.ts';

const { url, name } = await testDatabase('exit_codes');
const env = { DATABASE_URL: url };
const dir = tempDir('exit-codes');

async function exitsWith(expected: number, args: string[], extra: Record<string, string> = {}) {
  const result = await runCli(args, { ...env, ...extra });
  assert.equal(result.code, expected, `mordomo-db ${args.join(' ')}:\n${result.stdout}${result.stderr}`);
  return result;
}

test('0 done, 1 a failed check, 64 usage, 65 data conflict, 66 not found', async () => {
  await exitsWith(0, ['migrate', 'status']);
  const damaged = path.join(dir, 'damaged.mdb.gz');
  writeFileSync(damaged, 'not a backup');
  await exitsWith(1, ['backup', 'verify', damaged]);
  const usage = await exitsWith(64, ['backup', 'list', '--no-such-option']);
  assert.match(usage.stderr, /unknown option '--no-such-option'/);
  await exitsWith(64, ['no-such-command']);
  await exitsWith(64, ['user', 'export', 'not-a-uuid']);
  const holder = new pg.Client({ connectionString: url });
  await holder.connect();
  await holder.query(`INSERT INTO users (name) VALUES ('Ana')`);
  await holder.end();
  await exitsWith(0, ['backup', '--out', dir]);
  const backup = path.join(dir, readdirSync(dir).find((file) => file.endsWith('.mdb.gz') && file !== 'damaged.mdb.gz')!);
  const conflict = await exitsWith(65, ['restore', backup]);
  assert.match(conflict.stderr, /not empty/);
  await exitsWith(66, ['scheduler', 'run', 'no-such-job']);
});

test('69 database unavailable, 70 migration refused, 78 configuration', async () => {
  await exitsWith(69, ['migrate', 'status'], { DATABASE_URL: 'postgresql://nobody:wrong@127.0.0.1:1/none', MORDOMO_CONNECT_TIMEOUT_MS: '500' });
  const edited = await testDatabase('exit_codes_edited');
  const admin = new pg.Client({ connectionString: edited.url });
  await admin.connect();
  await admin.query(`UPDATE mordomo_migrations SET checksum = 'edited' WHERE module = 'core' AND version = 1`);
  await admin.end();
  const refused = await exitsWith(70, ['migrate'], { DATABASE_URL: edited.url });
  assert.match(refused.stderr, /edited/);
  await exitsWith(78, ['migrate', 'status'], { MORDOMO_POOL_MAX: '1' });
});

test('130 when interrupted while working; the command stops cleanly', async () => {
  // VACUUM of a table this test holds locked: the command waits inside its work until the signal comes.
  const holder = new pg.Client({ connectionString: url });
  await holder.connect();
  await holder.query('BEGIN');
  await holder.query('LOCK TABLE users IN ACCESS EXCLUSIVE MODE');
  const { code } = await interruptCli(['maintenance', 'vacuum', 'users'], env, {
    // Asked outside the holder's transaction, whose view of pg_stat_activity is frozen at its first read.
    working: async () => {
      const { rows } = await adminQuery(
        `SELECT 1 FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock' AND application_name LIKE 'mordomo-db%'`,
        [name],
      );
      return rows.length > 0;
    },
    release: async () => {
      await holder.query('ROLLBACK');
      await holder.end();
    },
  });
  assert.equal(code, 130);
});

/** Scratch databases a verification would create and must drop. */
async function scratchDatabases(): Promise<string[]> {
  const { rows } = await adminQuery<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE 'mordomo_verify_%' ORDER BY 1`);
  return rows.map((r) => r.datname);
}

test('66 for a backup that is missing or a folder, before anything is started or written', async () => {
  const folder = path.join(dir, 'a-folder.mdb.gz');
  mkdirSync(folder);
  const restored = await exitsWith(66, ['restore', folder]);
  assert.match(restored.stderr, /a-folder\.mdb\.gz is a directory, not a backup file/);
  assert.doesNotMatch(restored.stderr, /unexpected|EISDIR/);

  const missing = path.join(dir, 'missing.mdb.gz');
  const before = await scratchDatabases();
  const verified = await exitsWith(66, ['backup', 'verify', missing]);
  assert.match(verified.stderr, /backup file .*missing\.mdb\.gz not found/);
  assert.equal(existsSync(missing), false, 'no file created');
  assert.equal(existsSync(`${missing}.verified`), false, 'no verification recorded for a file that is not there');
  assert.deepEqual(await scratchDatabases(), before, 'no scratch database left');

  // Without DATABASE_URL: refused before the embedded server's data folder is even created.
  const dataDir = path.join(dir, 'never-created');
  const embedded = await runCli(['backup', 'verify', missing], { MORDOMO_DATA_DIR: dataDir });
  assert.equal(embedded.code, 66, embedded.stderr);
  assert.equal(existsSync(dataDir), false, 'no data folder initialised');
});

test('78 for a data folder that is a file and for a log level that does not exist, naming the setting', async () => {
  const file = path.join(dir, 'not-a-folder');
  writeFileSync(file, 'a regular file');
  const dataDir = await runCli(['migrate', 'status'], { MORDOMO_DATA_DIR: file });
  assert.equal(dataDir.code, 78, dataDir.stderr);
  assert.match(dataDir.stderr, /MORDOMO_DATA_DIR: .*not-a-folder is a file, not a folder/);
  assert.doesNotMatch(dataDir.stderr, /unexpected|\n\s+at /);

  const level = await exitsWith(78, ['migrate', 'status'], { MORDOMO_LOG_LEVEL: 'loud' });
  assert.match(level.stderr, /MORDOMO_LOG_LEVEL/);
  assert.match(level.stderr, /fatal, error, warn, info, debug, trace, silent/);
  // The command-line flag is a usage error, like any bad option value.
  const flag = await exitsWith(64, ['migrate', 'status', '--log-level', 'loud']);
  assert.match(flag.stderr, /--log-level/);
});
