import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sql } from 'kysely';
import { queryLogs, writeLog, writeLogs } from '../../src/core/logs.ts';
import { rejectsWith, rowCounts } from '../harness/assertions.ts';
import { testDatabase } from '../harness/database.ts';

const { db } = await testDatabase('logs');

async function partitions(): Promise<string[]> {
  const { rows } = await sql<{ name: string }>`
    SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = 'system_logs'::regclass ORDER BY 1`.execute(db);
  return rows.map((r) => r.name);
}

const utcDay = (offsetDays: number) => {
  const d = new Date(Date.now() + offsetDays * 86_400_000);
  return `system_logs_y${d.getUTCFullYear()}m${String(d.getUTCMonth() + 1).padStart(2, '0')}d${String(d.getUTCDate()).padStart(2, '0')}`;
};

test('migration created a default partition and daily partitions for today and the next 7 days', async () => {
  const names = await partitions();
  assert.ok(names.includes('system_logs_default'));
  for (let i = 0; i <= 7; i++) assert.ok(names.includes(utcDay(i)), `missing ${utcDay(i)}`);
  const { rows } = await sql<{ n: number }>`SELECT create_system_logs_partitions(7) AS n`.execute(db);
  assert.equal(rows[0]!.n, 0, 'a second run must create nothing');
});

test('a batch lands in its day partition and is queried by level, source and time', async () => {
  const written = await writeLogs(db, [
    { level: 'INFO', source: 'brain', message: 'modelo carregado' },
    { level: 'ERROR', source: 'tts', message: 'voz ausente', metadata: { voice: 'x' } },
    { level: 'WARN', source: 'brain', message: 'lento' },
  ]);
  assert.equal(written, 3);
  await writeLog(db, { level: 'DEBUG', source: 'stt', message: 'chunk' });
  const { rows } = await sql<{ part: string; n: number }>`
    SELECT tableoid::regclass::text AS part, count(*)::int AS n FROM system_logs GROUP BY 1`.execute(db);
  assert.deepEqual(rows, [{ part: utcDay(0), n: 4 }]);
  assert.deepEqual((await queryLogs(db, { source: 'brain' })).map((l) => l.message).sort(), ['lento', 'modelo carregado']);
  assert.deepEqual(
    (await queryLogs(db, { level: 'ERROR' })).map((l) => l.metadata),
    [{ voice: 'x' }],
  );
  assert.equal((await queryLogs(db, { from: new Date(Date.now() + 60_000) })).length, 0);
});

test('rows in the default partition move into a day partition created later, and cleanup drops expired days whole', async () => {
  await sql`INSERT INTO system_logs (timestamp, level, source, message) VALUES
            (now() - interval '40 days', 'INFO', 'old', 'antigo'), (now() - interval '3 days', 'INFO', 'x', 'recente')`.execute(db);
  const { rows: created } = await sql<{ n: number }>`
    SELECT create_system_logs_partitions(0, ((now() - interval '40 days') AT TIME ZONE 'UTC')::date) AS n`.execute(db);
  assert.equal(created[0]!.n, 1);
  const { rows: placed } = await sql<{ part: string }>`SELECT tableoid::regclass::text AS part FROM system_logs WHERE source = 'old'`.execute(db);
  assert.deepEqual(placed, [{ part: utcDay(-40) }]);
  const { rows: dropped } = await sql<{ n: number }>`SELECT cleanup_old_logs() AS n`.execute(db);
  assert.equal(dropped[0]!.n, 1);
  assert.ok(!(await partitions()).includes(utcDay(-40)));
  const remaining = await sql<{ message: string }>`SELECT message FROM system_logs WHERE source IN ('old', 'x')`.execute(db);
  assert.deepEqual(remaining.rows, [{ message: 'recente' }]);
});

test('refuses bad log lines as a whole batch', async () => {
  const before = await rowCounts(db);
  await rejectsWith(
    () =>
      writeLogs(db, [
        { level: 'INFO', source: 'a', message: 'ok' },
        { level: 'FATAL' as never, source: 'a', message: 'x' },
      ]),
    'invalid_input',
    /1.level/,
  );
  await rejectsWith(() => writeLogs(db, [{ level: 'INFO', source: 'x'.repeat(101), message: 'x' }]), 'invalid_input', /source/);
  await rejectsWith(() => writeLogs(db, [{ level: 'INFO', source: 'a', message: 'a\u0000' }]), 'invalid_input', /NUL/);
  await rejectsWith(() => queryLogs(db, { limit: -1 }), 'invalid_input', /limit/);
  assert.deepEqual(await rowCounts(db), before);
});
