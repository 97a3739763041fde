import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import { runMaintenance } from '../../src/ops/maintenance.ts';
import { monitor, MONITOR_QUERIES, type MonitorReport, terminateBackend } from '../../src/ops/monitor.ts';
import { maintainPartitions, partitionsAhead } from '../../src/ops/partitions.ts';
import { rejectsWith } from '../harness/assertions.ts';
import { runCli } from '../harness/cli.ts';
import { testDatabase } from '../harness/database.ts';

const { pool, url } = await testDatabase('operations');

test('partition maintenance keeps N days ready and drops whole expired days', async () => {
  assert.equal(await partitionsAhead(pool), 8, 'migration made today + 7 days');
  await pool.query(`SELECT create_system_logs_partitions(0, ((now() - interval '40 days') AT TIME ZONE 'UTC')::date)`);
  await pool.query(`INSERT INTO system_logs (timestamp, level, source, message) VALUES (now() - interval '40 days', 'INFO', 'x', 'old')`);
  const result = await maintainPartitions(pool, 10, 30);
  assert.deepEqual(result, { created: 3, dropped: 1, ahead: 11 });
  assert.equal((await pool.query(`SELECT count(*)::int AS n FROM system_logs WHERE message = 'old'`)).rows[0].n, 0);
  assert.deepEqual(await maintainPartitions(pool, 10, 30), { created: 0, dropped: 0, ahead: 11 });
});

test('vacuum, analyze and reindex run on named tables of the package only', async () => {
  assert.deepEqual(await runMaintenance(pool, 'vacuum', 'messages'), ['messages']);
  assert.deepEqual(await runMaintenance(pool, 'analyze'), ['(all tables)']);
  assert.deepEqual(await runMaintenance(pool, 'reindex', 'system_logs'), ['system_logs']);
  const reindexed = await runMaintenance(pool, 'reindex');
  assert.ok(reindexed.includes('users') && reindexed.includes('v_voice_messages'));
  await rejectsWith(() => runMaintenance(pool, 'vacuum', 'pg_authid'), 'invalid_input', /unknown table "pg_authid"/);
  await rejectsWith(() => runMaintenance(pool, 'reindex', 'users"; DROP TABLE users; --'), 'invalid_input', /unknown table/);
});

test('every monitoring report runs; the corrected unused-index query works where the seed’s fails', async () => {
  for (const report of Object.keys(MONITOR_QUERIES) as MonitorReport[]) assert.ok(Array.isArray(await monitor(pool, report)), report);
  const tables = (await monitor(pool, 'tables')).map((r) => r.tablename);
  assert.ok(tables.includes('messages') && tables.includes('v_voice_ai_providers'));
  assert.ok((await monitor(pool, 'unused-indexes')).every((r) => typeof r.indexname === 'string'));
  await assert.rejects(
    pool.query(`SELECT schemaname, tablename, indexname, idx_scan FROM pg_stat_user_indexes WHERE idx_scan = 0`),
    (e: { code?: string }) => e.code === '42703',
  );
  const [hit] = await monitor(pool, 'cache-hit');
  assert.ok(typeof hit!.hit_percent === 'number' && hit!.hit_percent >= 0 && hit!.hit_percent <= 100);
});

test('terminate ends a mordomo-db backend, refuses its own connection and other applications unless forced', async () => {
  const open = async (application_name: string) => {
    const client = new pg.Client({ connectionString: url, application_name });
    client.on('error', () => undefined);
    await client.connect();
    const pid = (await client.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
    return { client, pid };
  };
  const ours = await open('mordomo-db-brain');
  const theirs = await open('fusionpbx');
  try {
    await rejectsWith(() => terminateBackend(pool, theirs.pid), 'conflict', /not a mordomo-db connection.*--force/);
    await terminateBackend(pool, ours.pid);
    await assert.rejects(ours.client.query('SELECT 1'));
    await terminateBackend(pool, theirs.pid, true);
    await assert.rejects(theirs.client.query('SELECT 1'));
    await rejectsWith(() => terminateBackend(pool, 999_999), 'not_found');
  } finally {
    await ours.client.end().catch(() => undefined);
    await theirs.client.end().catch(() => undefined);
  }
});

test('the commands print readable tables, or JSON with --json', async () => {
  const env = { DATABASE_URL: url };
  const tables = await runCli(['monitor', 'tables'], env);
  assert.equal(tables.code, 0, tables.stderr);
  assert.match(tables.stdout, /^schemaname\s+tablename\s+size\n/);
  const json = JSON.parse((await runCli(['monitor', 'connections', '--json'], env)).stdout) as Array<{ state: string; connections: number }>;
  assert.ok(json.some((row) => row.state === 'active'));
  const partitions = await runCli(['maintenance', 'partitions', '--days-ahead', '3'], env);
  assert.match(partitions.stdout, /partitions: 0 created, 0 dropped, 11 days covered from today/);
  const bad = await runCli(['monitor', 'terminate', 'abc'], env);
  assert.equal(bad.code, 64);
  assert.match(bad.stderr, /pid must be a positive whole number/);
});

test("vacuum and reindex of a big table run past the pool's statement timeout, which comes back afterwards", async () => {
  await pool.query(`INSERT INTO system_logs (level, source, message) SELECT 'INFO', 'brain', 'linha ' || g FROM generate_series(1, 300000) g`);
  const impatient = new pg.Pool({ connectionString: url, max: 1, statement_timeout: 100 });
  try {
    await assert.rejects(impatient.query(`SELECT count(*) FROM system_logs a, system_logs b WHERE a.id < 1000`), /statement timeout/);
    assert.deepEqual(await runMaintenance(impatient, 'reindex', 'system_logs'), ['system_logs']);
    assert.deepEqual(await runMaintenance(impatient, 'vacuum'), ['(all tables)']);
    assert.equal((await impatient.query('SHOW statement_timeout')).rows[0].statement_timeout, '100ms');
  } finally {
    await impatient.end();
  }
});
