import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import { parseTimestamptz } from '../../src/db/timestamps.ts';
import { testDatabase } from '../harness/database.ts';

const postgresDate = pg.types.getTypeParser(pg.types.builtins.TIMESTAMPTZ, 'text') as (value: string) => Date | number | null;
const same = (text: string) => {
  const expected = postgresDate(text);
  const actual = parseTimestamptz(text);
  assert.equal(actual instanceof Date ? actual.getTime() : actual, expected instanceof Date ? expected.getTime() : expected, text);
};

test("the same instant as pg's own parser for what PostgreSQL writes, in every time zone and precision", async () => {
  const { pool } = await testDatabase('timestamps');
  const client = await pool.connect();
  try {
    let checked = 0;
    for (const zone of ['UTC', 'America/Sao_Paulo', 'Asia/Kolkata', 'America/St_Johns', 'Pacific/Chatham', 'Europe/Lisbon']) {
      await client.query(`SET TIME ZONE '${zone}'`);
      // Raw text, as the driver receives it: the instants around now, the epoch, leap days, DST changes, far dates.
      const { rows } = await client.query<{ at: string }>({
        text: `SELECT (t + (random() * 1000000)::int * interval '1 microsecond')::text AS at FROM (
                 SELECT generate_series(timestamptz '1000-01-01', timestamptz '9999-01-01', interval '97 years 13 days 7 hours 11 minutes') AS t
                 UNION ALL SELECT generate_series(now() - interval '2 years', now(), interval '3 days 1 hour 1 second')
                 UNION ALL SELECT unnest(ARRAY[timestamptz '1970-01-01 00:00:00+00', '2024-02-29 23:59:59.999+00', '2026-10-18 03:30:00-03']) ) s`,
        types: { getTypeParser: () => (value: string) => value },
      });
      for (const { at } of rows) same(at);
      for (const { at } of rows) same(at.replace(/\.\d+/, ''));
      checked += rows.length * 2;
    }
    assert.ok(checked > 1000);
  } finally {
    await client.query('RESET TIME ZONE');
    client.release();
  }
});

test("what it does not read by position goes to pg's parser, unchanged", () => {
  for (const text of [
    'infinity',
    '-infinity',
    '0099-03-01 10:00:00+00',
    '0500-01-01 00:00:00+00 BC',
    '12345-01-01 00:00:00+00',
    '2026-12-07 02:11:04+05:30:15',
    '2026-12-07 02:11:04.123456789+00',
    '2026-12-07 02:11:04.1-03',
    'garbage at 2026',
    '2026-13-45 99:99:99+00',
  ]) {
    same(text);
  }
});
