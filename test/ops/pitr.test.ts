// Point-in-time recovery for real: an embedded server archiving WAL, a base backup, writes before and after a
// noted moment, and a recovery to that moment that finds exactly the first writes.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, renameSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import pg from 'pg';
import { loadConfig } from '../../src/config.ts';
import { embeddedUrl, openDatabase } from '../../src/db/connect.ts';
import { createLogger } from '../../src/logger.ts';
import { listBaseBackups, pruneBaseBackups } from '../../src/ops/base-backups.ts';
import { restoreToTime } from '../../src/ops/pitr.ts';
import { exited, runCli, startService, stopServersAfter } from '../harness/cli.ts';
import { freePort } from '../harness/ports.ts';
import { tempDir } from '../harness/temp-dir.ts';

const root = tempDir('pitr');
const dataDir = path.join(root, 'data');
const port = await freePort();
const env = { MORDOMO_DATA_DIR: dataDir, MORDOMO_PG_PORT: String(port) };

stopServersAfter(path.join(dataDir, 'pg'), path.join(root, 'recovered', 'pg'));

async function insertUsers(names: string[]): Promise<void> {
  const password = readFileSync(path.join(dataDir, 'postgres-password'), 'utf8').trim();
  const client = new pg.Client({ connectionString: embeddedUrl(port, password) });
  await client.connect();
  try {
    for (const name of names) await client.query('INSERT INTO users (name) VALUES ($1)', [name]);
  } finally {
    await client.end();
  }
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Closes the WAL segment being written, so that the server archives it. */
async function switchWal(): Promise<void> {
  const password = readFileSync(path.join(dataDir, 'postgres-password'), 'utf8').trim();
  const client = new pg.Client({ connectionString: embeddedUrl(port, password) });
  await client.connect();
  try {
    await client.query('SELECT pg_switch_wal()');
  } finally {
    await client.end();
  }
}

test('recovering to a noted moment finds exactly the writes made before it', async () => {
  const service = await startService(env);
  try {
    const base = await runCli(['pitr', 'base-backup', '--json'], env);
    assert.equal(base.code, 0, base.stderr);
    assert.ok(existsSync(path.join(JSON.parse(base.stdout).dir, 'backup_label')));
    assert.ok(
      readdirSync(path.join(dataDir, 'wal-archive')).some((name) => /^[0-9A-F]{24}\.gz$/.test(name)),
      'WAL is archived',
    );

    await insertUsers(['antes 1', 'antes 2', 'antes 3']);
    await pause(1000);
    const moment = new Date();
    await pause(1000);
    await insertUsers(['depois 1', 'depois 2']);

    const out = path.join(root, 'recovered');
    const restored = await runCli(['pitr', 'restore', '--to', moment.toISOString(), '--out', out, '--port', String(await freePort())], env);
    assert.equal(restored.code, 0, restored.stderr);
    assert.match(restored.stdout, new RegExp(`MORDOMO_DATA_DIR=${out} mordomo-db start`));
    assert.match(restored.stdout, /\(last transaction kept: \d{4}-\d\d-\d\dT/);

    // The recovered folder is a data folder of its own: open it like MORDOMO_DATA_DIR.
    const recovered = await openDatabase(
      loadConfig({ MORDOMO_DATA_DIR: out, MORDOMO_PG_PORT: await freePort(), MORDOMO_WAL_ARCHIVE_DIR: 'off' }),
      createLogger('silent'),
    );
    try {
      const { rows } = await recovered.pool.query<{ name: string }>('SELECT name FROM users ORDER BY name');
      assert.deepEqual(
        rows.map((r) => r.name),
        ['antes 1', 'antes 2', 'antes 3'],
      );
      const { rows: state } = await recovered.pool.query('SELECT pg_is_in_recovery() AS recovering');
      assert.equal(state[0].recovering, false, 'a primary again, ready for writes');
    } finally {
      await recovered.close();
    }

    // The live server was not touched.
    const password = readFileSync(path.join(dataDir, 'postgres-password'), 'utf8').trim();
    const live = new pg.Client({ connectionString: embeddedUrl(port, password) });
    await live.connect();
    assert.equal((await live.query('SELECT count(*)::int AS n FROM users')).rows[0].n, 5);
    await live.end();
  } finally {
    service.child.kill('SIGTERM');
    await exited(service.child);
  }
});

test('a target after the last write recovers all and says when the last transaction was; a gap in the archive is refused first', async () => {
  let service = await startService(env);
  const archive = path.join(dataDir, 'wal-archive');
  try {
    // Nothing commits after the target in the archive: the last segment is archived, then the service stops.
    const wrote = new Date();
    await insertUsers(['o último']);
    await switchWal();
    await pause(1500);
    const afterLastWrite = new Date();
    service.child.kill('SIGTERM');
    await exited(service.child);
    const config = loadConfig({}, env);
    const out = path.join(root, 'after-last-write');
    // Before: "recovery did not start: pg_ctl exited with 1 … Examine the log output." and a half-filled folder.
    const result = await restoreToTime({
      baseRoot: path.join(config.backupDir, 'base'),
      archiveDir: archive,
      target: afterLastWrite,
      outDir: out,
      password: readFileSync(path.join(dataDir, 'postgres-password'), 'utf8').trim(),
      port: await freePort(),
      osUser: config.pgOsUser,
      logger: createLogger('silent'),
    });
    assert.equal(result.reachedTarget, false);
    assert.ok(
      result.lastTransaction && result.lastTransaction >= new Date(wrote.getTime() - 1000) && result.lastTransaction < afterLastWrite,
      `${result.lastTransaction?.toISOString()}`,
    );
    const recovered = await openDatabase(
      loadConfig({ MORDOMO_DATA_DIR: out, MORDOMO_PG_PORT: await freePort(), MORDOMO_WAL_ARCHIVE_DIR: 'off' }),
      createLogger('silent'),
    );
    try {
      assert.equal((await recovered.pool.query(`SELECT count(*)::int AS n FROM users WHERE name = 'o último'`)).rows[0].n, 1);
    } finally {
      await recovered.close();
    }

    // A segment lost from the middle of the archive: refused before anything is written, naming how far it reaches.
    service = await startService(env);
    for (let i = 0; i < 3; i++) {
      await insertUsers([`segmento ${i}`]);
      await switchWal();
    }
    await pause(1500);
    const newestBase = listBaseBackups(path.join(loadConfig({}, env).backupDir, 'base'))[0]!;
    const segments = readdirSync(archive)
      .filter((name) => /^[0-9A-F]{24}\.gz$/.test(name) && name.slice(8, 24) > newestBase.startWal.slice(8))
      .sort();
    assert.ok(segments.length >= 3, `segments after the base backup: ${segments}`);
    const lost = segments[1]!;
    renameSync(path.join(archive, lost), path.join(root, lost));
    try {
      const gapOut = path.join(root, 'gap');
      const refused = await runCli(['pitr', 'restore', '--to', new Date().toISOString(), '--out', gapOut, '--port', String(await freePort())], env);
      assert.equal(refused.code, 66, refused.stderr);
      assert.match(refused.stderr, new RegExp(`the WAL archive has a gap: segment ${lost.slice(0, 24)} is missing, .* can reach \\S+ at the latest`));
      assert.equal(existsSync(gapOut), false, 'nothing written');
    } finally {
      renameSync(path.join(root, lost), path.join(archive, lost));
    }
  } finally {
    service.child.kill('SIGTERM');
    await exited(service.child);
  }
});

test('pitr refuses what it cannot do, with what to do instead', async () => {
  const out = path.join(root, 'refused');
  const before = await runCli(['pitr', 'restore', '--to', '2001-01-01T00:00:00Z', '--out', out], env);
  assert.equal(before.code, 66);
  assert.match(before.stderr, /no base backup finished before 2001-01-01/);
  assert.equal(existsSync(out), false, 'nothing written');
  const future = await runCli(['pitr', 'restore', '--to', '2999-01-01T00:00:00Z', '--out', out], env);
  assert.equal(future.code, 78);
  assert.match(future.stderr, /in the future/);
  const zoneless = await runCli(['pitr', 'restore', '--to', '2026-11-23 14:05:00', '--out', out], env);
  assert.equal(zoneless.code, 64);
  assert.match(zoneless.stderr, /with its zone/);
  const notEmpty = await runCli(['pitr', 'restore', '--to', new Date().toISOString(), '--out', root], env);
  assert.equal(notEmpty.code, 78);
  assert.match(notEmpty.stderr, /is not empty/);
  const elsewhere = await runCli(['pitr', 'base-backup'], { DATABASE_URL: 'postgresql://x:y@127.0.0.1:1/z' });
  assert.notEqual(elsewhere.code, 0);
});

test('archive retention follows backup retention: old base backups go, then the WAL only they needed', async () => {
  const config = loadConfig({}, env);
  const baseRoot = path.join(config.backupDir, 'base');
  const second = await runCli(['pitr', 'base-backup', '--json'], env);
  assert.equal(second.code, 0, second.stderr);
  const bases = listBaseBackups(baseRoot);
  assert.equal(bases.length, 2);
  const archived = () =>
    readdirSync(config.walArchiveDir!)
      .filter((name) => /^[0-9A-F]{24}\.gz$/.test(name))
      .sort();
  const segmentsBefore = archived();
  // A day later with a retention of 0 days: everything but the newest base backup is expired.
  const gone = pruneBaseBackups(baseRoot, config.walArchiveDir!, 0, new Date(Date.now() + 86_400_000));
  assert.equal(gone.backups, 1);
  assert.ok(gone.segments > 0);
  assert.deepEqual(
    listBaseBackups(baseRoot).map((b) => b.dir),
    [bases[0]!.dir],
  );
  assert.ok(archived().every((name) => name.slice(8, 24) >= bases[0]!.startWal.slice(8)));
  assert.equal(archived().length, segmentsBefore.length - gone.segments);
});
