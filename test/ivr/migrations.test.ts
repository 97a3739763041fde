// The IVR migrations in their two situations: inside an existing FusionPBX database, and standalone.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import pg from 'pg';
import { createLogger } from '../../src/logger.ts';
import { readMigrations } from '../../src/migrate/files.ts';
import { migrate } from '../../src/migrate/runner.ts';
import { runCli } from '../harness/cli.ts';
import { adminQuery, urlFor } from '../harness/database.ts';

const logger = createLogger('silent');

async function emptyDatabase(label: string): Promise<pg.Pool> {
  const name = `t_ivr_${label}_${randomUUID().slice(0, 6)}`;
  await adminQuery(`CREATE DATABASE ${name}`);
  return new pg.Pool({ connectionString: urlFor(name), max: 2 });
}

// FusionPBX's own v_domains (its enabled flag is text in FusionPBX 4.x/5.x schemas) and a neighbour table.
const FUSIONPBX = `
CREATE TABLE v_domains (
    domain_uuid uuid PRIMARY KEY,
    domain_parent_uuid uuid,
    domain_name text,
    domain_enabled text,
    domain_description text,
    insert_date timestamptz,
    insert_user uuid,
    update_date timestamptz,
    update_user uuid
);
CREATE TABLE v_extensions (extension_uuid uuid PRIMARY KEY, domain_uuid uuid REFERENCES v_domains, extension text);
INSERT INTO v_domains (domain_uuid, domain_name, domain_enabled, domain_description) VALUES
    ('11111111-1111-4111-8111-111111111111', 'pbx.cliente-a.com.br', 'true', 'Cliente A'),
    ('22222222-2222-4222-8222-222222222222', 'pbx.cliente-b.com.br', 'false', 'Cliente B');
INSERT INTO v_extensions VALUES ('33333333-3333-4333-8333-333333333333', '11111111-1111-4111-8111-111111111111', '1000');`;

async function shape(pool: pg.Pool, table: string) {
  const { rows } = await pool.query(
    `SELECT column_name, data_type, is_nullable, column_default FROM information_schema.columns WHERE table_name = $1 ORDER BY ordinal_position`,
    [table],
  );
  return rows;
}

test('on an existing FusionPBX database: uses its v_domains, touches nothing of FusionPBX, migrates cleanly twice', async () => {
  const pool = await emptyDatabase('fusionpbx');
  try {
    await pool.query(FUSIONPBX);
    const domainsBefore = { shape: await shape(pool, 'v_domains'), rows: (await pool.query('SELECT * FROM v_domains ORDER BY domain_uuid')).rows };
    const extensionsBefore = (await pool.query('SELECT * FROM v_extensions')).rows;
    const triggersBefore = (await pool.query(`SELECT tgname FROM pg_trigger WHERE tgrelid = 'v_domains'::regclass AND NOT tgisinternal`)).rows;
    await migrate(pool, ['ivr'], logger);
    const second = await migrate(pool, ['ivr'], logger);
    assert.ok(second.every((s) => s.state === 'applied'));
    assert.deepEqual(await shape(pool, 'v_domains'), domainsBefore.shape);
    assert.deepEqual((await pool.query('SELECT * FROM v_domains ORDER BY domain_uuid')).rows, domainsBefore.rows);
    assert.deepEqual((await pool.query('SELECT * FROM v_extensions')).rows, extensionsBefore);
    assert.deepEqual((await pool.query(`SELECT tgname FROM pg_trigger WHERE tgrelid = 'v_domains'::regclass AND NOT tgisinternal`)).rows, triggersBefore);
    const { rows } = await pool.query(`SELECT domain_uuid::text AS d, count(*)::int AS n FROM v_voice_ai_providers GROUP BY 1 ORDER BY 1`);
    assert.deepEqual(rows, [
      { d: '11111111-1111-4111-8111-111111111111', n: 5 },
      { d: '22222222-2222-4222-8222-222222222222', n: 5 },
    ]);
  } finally {
    await pool.end();
  }
});

test('standalone: creates a FusionPBX-compatible v_domains, and every file run again by hand inserts nothing twice', async () => {
  const pool = await emptyDatabase('standalone');
  try {
    await migrate(pool, ['core', 'ivr'], logger);
    const columns = (await shape(pool, 'v_domains')).map((c) => c.column_name);
    assert.deepEqual(columns, [
      'domain_uuid',
      'domain_parent_uuid',
      'domain_name',
      'domain_enabled',
      'domain_description',
      'insert_date',
      'insert_user',
      'update_date',
      'update_user',
    ]);
    await pool.query(`INSERT INTO v_domains (domain_uuid, domain_name) VALUES ('44444444-4444-4444-8444-444444444444', 'casa.local')`);
    for (let round = 0; round < 2; round++) for (const file of readMigrations('ivr')) await pool.query(file.sql);
    const { rows } = await pool.query(`SELECT count(*)::int AS n FROM v_voice_ai_providers`);
    assert.equal(rows[0].n, 5, 'the new domain got its defaults once');
    await assert.rejects(pool.query(`INSERT INTO v_domains (domain_uuid, domain_name) VALUES ($1, 'casa.local')`, [randomUUID()]), /duplicate key/);
  } finally {
    await pool.end();
  }
});

test('every v_voice_* table forces row-level security and every unique key of it includes domain_uuid', async () => {
  const pool = await emptyDatabase('rls');
  try {
    await migrate(pool, ['ivr'], logger);
    const { rows: tables } = await pool.query(
      `SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class WHERE relname LIKE 'v_voice_%' AND relkind = 'r' ORDER BY 1`,
    );
    assert.equal(tables.length, 7);
    assert.ok(
      tables.every((t) => t.relrowsecurity && t.relforcerowsecurity),
      JSON.stringify(tables),
    );
    const { rows: keys } = await pool.query(`
      SELECT c.conrelid::regclass::text AS t, c.conname, array_agg(a.attname::text) AS cols
        FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
       WHERE c.contype = 'u' AND c.conrelid::regclass::text LIKE 'v_voice_%' GROUP BY 1, 2`);
    assert.ok(keys.length >= 5);
    for (const key of keys) assert.ok(key.cols.includes('domain_uuid'), `${key.t}.${key.conname} lacks domain_uuid`);
    const { rows: columns } = await pool.query(
      `SELECT table_name FROM information_schema.columns WHERE table_name LIKE 'v_voice_%' AND column_name = 'domain_uuid' AND is_nullable = 'NO'`,
    );
    assert.equal(columns.length, 7);
  } finally {
    await pool.end();
  }
});

test('IVR commands on a database migrated for the core only say how to migrate the IVR module', async () => {
  const pool = await emptyDatabase('core_only');
  await migrate(pool, ['core'], logger);
  const url = urlFor((await pool.query<{ name: string }>('SELECT current_database() AS name')).rows[0]!.name);
  await pool.end();
  for (const command of [
    ['ivr', 'defaults'],
    ['ivr', 'key', 'list'],
  ]) {
    const result = await runCli(command, { DATABASE_URL: url, MORDOMO_MODULES: 'core' });
    // Before: "internal database error", exit 1.
    assert.equal(result.code, 70, `${command.join(' ')}: ${result.stderr}`);
    assert.match(result.stderr, /the IVR module is not migrated here; run MORDOMO_MODULES=core,ivr mordomo-db migrate/);
  }
});
