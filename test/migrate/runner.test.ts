import assert from 'node:assert/strict';
import { cpSync, mkdirSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import pg from 'pg';
import { MigrationError } from '../../src/errors.ts';
import { createLogger } from '../../src/logger.ts';
import { MIGRATIONS_ROOT, readMigrations } from '../../src/migrate/files.ts';
import { migrate, migrationStatus } from '../../src/migrate/runner.ts';
import { adminQuery, urlFor } from '../harness/database.ts';
import { tempDir } from '../harness/temp-dir.ts';

const logger = createLogger('silent');

async function emptyDatabase(label: string): Promise<pg.Pool> {
  const name = `t_migrate_${label}_${Date.now() % 1_000_000}`;
  await adminQuery(`CREATE DATABASE ${name}`);
  return new pg.Pool({ connectionString: urlFor(name), max: 4 });
}

test('applies every core migration once, records checksum and duration, and a second run changes nothing', async () => {
  const pool = await emptyDatabase('once');
  try {
    const first = await migrate(pool, ['core'], logger);
    assert.equal(first.length, readMigrations('core').length);
    assert.ok(first.every((s) => s.state === 'applied'));
    const { rows } = await pool.query('SELECT module, version, name, checksum, duration_ms FROM mordomo_migrations ORDER BY version');
    assert.deepEqual(
      rows.map((r) => r.checksum),
      readMigrations('core').map((m) => m.checksum),
    );
    assert.ok(rows.every((r) => r.duration_ms >= 0));
    const second = await migrate(pool, ['core'], logger);
    assert.deepEqual(
      second.map((s) => s.appliedAt),
      first.map((s) => s.appliedAt),
    );
  } finally {
    await pool.end();
  }
});

test('two migrators at once serialise on the advisory lock: each migration applied exactly once', async () => {
  const pool = await emptyDatabase('race');
  const other = new pg.Pool({ connectionString: (pool.options as { connectionString: string }).connectionString, max: 2 });
  try {
    const [a, b] = await Promise.all([migrate(pool, ['core'], logger), migrate(other, ['core'], logger)]);
    assert.deepEqual(a, b);
    const { rows } = await pool.query('SELECT count(*)::int AS n FROM mordomo_migrations');
    assert.equal(rows[0].n, readMigrations('core').length);
  } finally {
    await other.end();
    await pool.end();
  }
});

test('every migration file is idempotent: running them all again by hand succeeds and changes no data', async () => {
  const pool = await emptyDatabase('rerun');
  try {
    await migrate(pool, ['core'], logger);
    await pool.query(`UPDATE config SET value = '0.9' WHERE key = 'wake_word.sensitivity'`);
    for (const file of readMigrations('core')) await pool.query(file.sql);
    const { rows } = await pool.query(`SELECT value FROM config WHERE key = 'wake_word.sensitivity'`);
    assert.equal(rows[0].value, 0.9);
  } finally {
    await pool.end();
  }
});

test('refuses to run when an applied migration was edited, naming the file, and applies nothing', async () => {
  const pool = await emptyDatabase('edited');
  const root = tempDir('migrations');
  try {
    await migrate(pool, ['core'], logger);
    cpSync(path.join(MIGRATIONS_ROOT, 'core'), path.join(root, 'core'), { recursive: true });
    const edited = path.join(root, 'core', '003_conversations.sql');
    writeFileSync(edited, `${readFileSync(edited, 'utf8')}\n-- a later edit\n`);
    const next = String(readdirSync(path.join(root, 'core')).length + 1).padStart(3, '0');
    writeFileSync(path.join(root, 'core', `${next}_later.sql`), 'CREATE TABLE later (id int);');
    await assert.rejects(
      () => migrate(pool, ['core'], logger, root),
      (e: unknown) => e instanceof MigrationError && /edited after being applied: migrations\/core\/003_conversations.sql/.test(e.message),
    );
    const status = await migrationStatus(pool, ['core'], root);
    assert.deepEqual(
      status.filter((s) => s.state !== 'applied').map((s) => [s.name, s.state]),
      [
        ['conversations', 'edited'],
        ['later', 'pending'],
      ],
    );
    const { rows } = await pool.query(`SELECT to_regclass('later') AS t`);
    assert.equal(rows[0].t, null);
  } finally {
    await pool.end();
  }
});

test('a badly named or out-of-sequence file is refused before anything runs', () => {
  const root = tempDir('migrations-bad');
  mkdirSync(path.join(root, 'core'));
  writeFileSync(path.join(root, 'core', '001_ok.sql'), 'SELECT 1;');
  writeFileSync(path.join(root, 'core', '003_gap.sql'), 'SELECT 1;');
  assert.throws(
    () => readMigrations('core', root),
    (e: unknown) => e instanceof MigrationError && /003_gap.sql breaks the sequence/.test(e.message),
  );
  writeFileSync(path.join(root, 'core', '002_Bad-Name.sql'), 'SELECT 1;');
  assert.throws(() => readMigrations('core', root), /002_Bad-Name.sql is not named NNN_lowercase_name.sql/);
});

test('migration files are read and hashed again only when they change (the watchdog compares them every few seconds)', () => {
  const root = tempDir('migration-cache');
  mkdirSync(path.join(root, 'core'));
  const file = path.join(root, 'core', '001_first.sql');
  const stamp = new Date('2026-01-01T00:00:00Z');
  writeFileSync(file, 'SELECT 1;\n');
  utimesSync(file, stamp, stamp);
  const first = readMigrations('core', root)[0]!;
  // Same size and the same modification time restored: taken as unchanged, so the first read's text is kept.
  writeFileSync(file, 'SELECT 2;\n');
  utimesSync(file, stamp, stamp);
  assert.equal(readMigrations('core', root)[0]!.checksum, first.checksum);
  // A real edit moves the modification time: read and hashed again.
  writeFileSync(file, 'SELECT 3;\n');
  utimesSync(file, stamp, new Date(stamp.getTime() + 1000));
  const edited = readMigrations('core', root)[0]!;
  assert.equal(edited.sql, 'SELECT 3;\n');
  assert.notEqual(edited.checksum, first.checksum);
});
