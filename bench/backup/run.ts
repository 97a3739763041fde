// bench/backup: backup, verify and restore of 1M messages with mordomo-db (embedded PostgreSQL 16, no pg_dump),
// beside Debian's pg_dump -Fc / pg_restore 15 against Debian's PostgreSQL 15 server holding the same data.
// Usage: npm run bench:backup [-- --messages 1000000]
import { spawnSync } from 'node:child_process';
import { rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { createLogger } from '../../src/logger.ts';
import { migrate } from '../../src/migrate/runner.ts';
import { createBackup } from '../../src/ops/backup.ts';
import { restoreBackup, verifyBackup } from '../../src/ops/restore.ts';
import { PG15_BIN, startPg15 } from '../../test/harness/debian-pg15.ts';
import { tempDir } from '../../test/harness/temp-dir.ts';
import { benchDatabase, machine } from '../harness.ts';

const { values } = parseArgs({ options: { messages: { type: 'string', default: '1000000' } } });
const MESSAGES = Number(values.messages);
const logger = createLogger('warn');

/** The same data on either server: 10k conversations, MESSAGES messages, 100k log lines. */
async function load(pool: pg.Pool): Promise<void> {
  await pool.query(`INSERT INTO users (name, email) SELECT 'Usuário ' || u, 'u' || u || '@example.com' FROM generate_series(1, 100) u`);
  await pool.query(`INSERT INTO conversations (user_id) SELECT (SELECT id FROM users ORDER BY id OFFSET (c % 100) LIMIT 1) FROM generate_series(1, 10000) c`);
  await pool.query(`INSERT INTO messages (conversation_id, role, content, timestamp, latency_ms, intent, confidence)
                    SELECT c.id, (ARRAY['user','assistant'])[1 + i % 2], 'Liga a luz da sala número ' || i || ', por favor', now() - i * interval '1 second',
                           i % 2000, (ARRAY['iot_control','query','reminder'])[1 + i % 3], (i % 100) / 100.0
                      FROM (SELECT id, row_number() OVER () AS n FROM conversations) c
                      JOIN generate_series(1, ${MESSAGES}) i ON c.n = 1 + i % 10000`);
  await pool.query(`INSERT INTO system_logs (level, source, message) SELECT 'INFO', 'brain', 'linha ' || g FROM generate_series(1, 100000) g`);
  await pool.query('VACUUM ANALYZE');
}

const seconds = (start: number) => (performance.now() - start) / 1000;
const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);

async function ours() {
  const { database, cleanup } = await benchDatabase(4);
  const dir = tempDir('bench-backups');
  try {
    await load(database.pool);
    let t = performance.now();
    const backup = await createBackup(database.pool, { outDir: dir });
    const backupS = seconds(t);
    t = performance.now();
    const verified = await verifyBackup(database.url, backup.file, logger);
    const verifyS = seconds(t);
    if (!verified.ok) throw new Error('our backup failed verification');
    const target = `restore_${Date.now()}`;
    await database.pool.query(`CREATE DATABASE ${target}`);
    const pool = new pg.Pool({ connectionString: database.url.replace(/\/mordomo$/, `/${target}`), max: 2 });
    t = performance.now();
    await restoreBackup(pool, backup.file, logger);
    const restoreS = seconds(t);
    await pool.end();
    return { backupS, verifyS, restoreS, bytes: backup.bytes };
  } finally {
    await cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function pgDump15() {
  const server = await startPg15('-c shared_buffers=256MB -c max_wal_size=1GB');
  const dir = tempDir('bench-pg15-dump');
  try {
    const admin = new pg.Pool({ connectionString: server.url('postgres'), max: 1 });
    await admin.query('CREATE DATABASE mordomo');
    await admin.query('CREATE DATABASE restored');
    await admin.end();
    const pool = new pg.Pool({ connectionString: server.url('mordomo'), max: 2 });
    await migrate(pool, ['core'], logger);
    await load(pool);
    await pool.end();
    const file = path.join(dir, 'dump.pgc');
    let t = performance.now();
    const dump = spawnSync(`${PG15_BIN}/pg_dump`, ['-Fc', '-f', file, server.url('mordomo')], { encoding: 'utf8' });
    const dumpS = seconds(t);
    if (dump.status !== 0) throw new Error(dump.stderr);
    t = performance.now();
    const restore = spawnSync(`${PG15_BIN}/pg_restore`, ['-d', server.url('restored'), file], { encoding: 'utf8' });
    const restoreS = seconds(t);
    if (restore.status !== 0) throw new Error(restore.stderr);
    return { dumpS, restoreS, bytes: statSync(file).size };
  } finally {
    server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const a = await ours();
const b = await pgDump15();
process.stdout.write(
  `\nbackup: ${MESSAGES} messages, 10k conversations, 100k log lines; ${machine()}\n\n` +
    `| | mordomo-db (PG 16, no pg_dump) | pg_dump -Fc / pg_restore 15 (PG 15) | ratio | target |\n|---|---:|---:|---:|---|\n` +
    `| backup | ${a.backupS.toFixed(1)} s | ${b.dumpS.toFixed(1)} s | ${(b.dumpS / a.backupS).toFixed(2)}× | at least as fast |\n` +
    `| restore | ${a.restoreS.toFixed(1)} s | ${b.restoreS.toFixed(1)} s | ${(b.restoreS / a.restoreS).toFixed(2)}× | at least as fast |\n` +
    `| size | ${mb(a.bytes)} MB | ${mb(b.bytes)} MB | | |\n` +
    `| verify (restore to scratch + checksums) | ${a.verifyS.toFixed(1)} s | — | | |\n`,
);
