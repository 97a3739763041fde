// docs/scale-out.md promises that the IVR tables can be distributed by domain_uuid on Citus without a redesign:
// what can be checked on the schema is checked here.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { testDatabase } from '../harness/database.ts';

const { pool } = await testDatabase('scale_out');

test('every v_voice_* table carries domain_uuid, NOT NULL', async () => {
  const { rows } = await pool.query<{ table_name: string; nullable: string | null }>(`
    SELECT t.table_name, c.is_nullable AS nullable
      FROM information_schema.tables t
      LEFT JOIN information_schema.columns c ON c.table_name = t.table_name AND c.column_name = 'domain_uuid'
     WHERE t.table_schema = 'public' AND t.table_name LIKE 'v\\_voice\\_%' AND t.table_type = 'BASE TABLE'`);
  assert.ok(rows.length >= 6);
  for (const row of rows) assert.equal(row.nullable, 'NO', `${row.table_name}.domain_uuid`);
});

test('every foreign key between v_voice_* tables includes domain_uuid on both sides (colocation)', async () => {
  const { rows } = await pool.query<{ name: string; source: string; target: string; from_cols: string[]; to_cols: string[] }>(`
    SELECT c.conname AS name, c.conrelid::regclass::text AS source, c.confrelid::regclass::text AS target,
           (SELECT array_agg(a.attname::text) FROM pg_attribute a WHERE a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)) AS from_cols,
           (SELECT array_agg(a.attname::text) FROM pg_attribute a WHERE a.attrelid = c.confrelid AND a.attnum = ANY (c.confkey)) AS to_cols
      FROM pg_constraint c
     WHERE c.contype = 'f' AND c.conrelid::regclass::text LIKE 'v_voice_%' AND c.confrelid::regclass::text LIKE 'v_voice_%'`);
  assert.ok(rows.length >= 5, 'the IVR tables reference each other');
  for (const fk of rows) {
    assert.ok(fk.from_cols.includes('domain_uuid') && fk.to_cols.includes('domain_uuid'), `${fk.source}.${fk.name} → ${fk.target} lacks domain_uuid`);
  }
});

test('outside the IVR tables, v_voice_* foreign keys only reach v_domains (a reference table on Citus)', async () => {
  const { rows } = await pool.query<{ target: string }>(`
    SELECT DISTINCT c.confrelid::regclass::text AS target FROM pg_constraint c
     WHERE c.contype = 'f' AND c.conrelid::regclass::text LIKE 'v_voice_%' AND c.confrelid::regclass::text NOT LIKE 'v_voice_%'`);
  assert.deepEqual(
    rows.map((r) => r.target),
    ['v_domains'],
  );
});
