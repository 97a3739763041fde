// bench/partitions: retention of system_logs at 30 days × 1M rows a day. Dropping the expired day the way
// mordomo-db does (cleanup_old_logs: detach and drop its partition) beside the seed's row-by-row DELETE of the
// same day, on the same server and data, in the same run (the DELETE is rolled back, so both see the same rows).
// Usage: npm run bench:partitions [-- --days 30 --rows-per-day 1000000]
import { closeSync, fsyncSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { benchDatabase, machine } from '../harness.ts';

const { values } = parseArgs({ options: { days: { type: 'string', default: '30' }, 'rows-per-day': { type: 'string', default: '1000000' } } });
const DAYS = Number(values.days);
const PER_DAY = Number(values['rows-per-day']);
const LIMIT_MS = 100;

const { database, cleanup } = await benchDatabase(2);
const { pool } = database;
try {
  // Partitions for the DAYS days before today (UTC), oldest first, then one day of rows in each.
  await pool.query("SELECT create_system_logs_partitions($1::int, ((now() AT TIME ZONE 'UTC')::date - $2::int))", [DAYS, DAYS]);
  const started = performance.now();
  for (let day = DAYS; day >= 1; day--) {
    process.stderr.write(`\rloading day -${day} (${PER_DAY} rows)...   `);
    await pool.query(
      `INSERT INTO system_logs (timestamp, level, source, message, metadata)
       SELECT ((now() AT TIME ZONE 'UTC')::date - $1::int)::timestamp AT TIME ZONE 'UTC' + (i * (86399.0 / $2)) * interval '1 second',
              (ARRAY['DEBUG', 'INFO', 'WARN', 'ERROR'])[1 + i % 4], (ARRAY['brain', 'stt', 'tts', 'core-api'])[1 + i % 4],
              'linha de log número ' || i, '{}'
         FROM generate_series(0, $2::int - 1) i`,
      [day, PER_DAY],
    );
  }
  await pool.query('VACUUM ANALYZE system_logs');
  process.stderr.write(`\rloaded ${DAYS * PER_DAY} rows in ${((performance.now() - started) / 1000).toFixed(0)} s\n`);

  // Keeping DAYS - 1 days expires exactly the oldest day.
  const retention = `${DAYS - 1} days`;
  const client = await pool.connect();
  let deleteMs: number;
  let deleted: number;
  try {
    await client.query('BEGIN');
    const t = performance.now();
    // The seed's statement, its cutoff set at the end of the oldest day so that it removes that day's rows exactly.
    const result = await client.query(
      `DELETE FROM system_logs WHERE timestamp < ((now() AT TIME ZONE 'UTC')::date - $1::int + 1)::timestamp AT TIME ZONE 'UTC'`,
      [DAYS],
    );
    deleteMs = performance.now() - t;
    deleted = result.rowCount ?? 0;
    await client.query('ROLLBACK');
  } finally {
    client.release();
  }
  const t = performance.now();
  const { rows } = await pool.query<{ dropped: number }>('SELECT cleanup_old_logs($1::interval) AS dropped', [retention]);
  const dropMs = performance.now() - t;
  // Where the time goes, on the next oldest day: the detach (the moment writers to system_logs wait on its lock)
  // and the drop (removing ~a quarter of a GB of files of a table no one sees any more).
  const { rows: next } = await pool.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
      WHERE i.inhparent = 'system_logs'::regclass AND c.relname ~ '^system_logs_y' ORDER BY c.relname LIMIT 1`,
  );
  const partition = next[0]!.name;
  const { rows: size } = await pool.query<{ mb: number }>(`SELECT (pg_total_relation_size($1::regclass) / 1048576)::int AS mb`, [partition]);
  let t2 = performance.now();
  await pool.query(`ALTER TABLE system_logs DETACH PARTITION ${partition}`);
  const detachMs = performance.now() - t2;
  t2 = performance.now();
  await pool.query(`DROP TABLE ${partition}`);
  const dropOnlyMs = performance.now() - t2;
  const { rows: left } = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM system_logs');
  const { rows: dataDir } = await pool.query<{ data_directory: string }>('SHOW data_directory');
  const floorMs = fileSystemFloor(dataDir[0]!.data_directory, size[0]!.mb);

  process.stdout.write(
    `\npartitions: ${DAYS} days × ${PER_DAY} rows; ${machine()}\n\n` +
      `| dropping the oldest day | time | rows gone | target |\n|---|---:|---:|---|\n` +
      `| mordomo-db cleanup_old_logs (detach + drop partition) | ${dropMs.toFixed(1)} ms | ${PER_DAY} (${rows[0]!.dropped} partition) | < ${LIMIT_MS} ms |\n` +
      `| seed: DELETE … WHERE timestamp < cutoff (rolled back) | ${deleteMs.toFixed(0)} ms | ${deleted} | |\n\n` +
      `rows left: ${left[0]!.n}; ratio ${(deleteMs / dropMs).toFixed(0)}× faster\n` +
      `next day (${size[0]!.mb} MB with indexes): DETACH ${detachMs.toFixed(1)} ms, then DROP ${dropOnlyMs.toFixed(1)} ms\n` +
      `the file system's own floor: deleting a ${size[0]!.mb} MB file from the data directory's file system takes ${floorMs.toFixed(1)} ms` +
      ` (mount options: ${mountOptions(dataDir[0]!.data_directory)})\n`,
  );
} finally {
  await cleanup();
}

/**
 * What freeing that many bytes costs the file system alone, measured beside the data directory: a DROP TABLE
 * cannot return a partition's files faster than this (with the `discard` mount option the kernel trims the freed
 * blocks synchronously, in the unlink or truncate itself).
 */
function fileSystemFloor(dataDirectory: string, megabytes: number): number {
  const file = path.join(dataDirectory, '..', 'floor.bin');
  const fd = openSync(file, 'w');
  const block = Buffer.alloc(1 << 20, 7);
  for (let i = 0; i < megabytes; i++) writeSync(fd, block);
  fsyncSync(fd);
  closeSync(fd);
  const t = performance.now();
  unlinkSync(file);
  return performance.now() - t;
}

function mountOptions(directory: string): string {
  const mounts = readFileSync('/proc/mounts', 'utf8')
    .trim()
    .split('\n')
    .map((line) => line.split(' '));
  const mount = mounts.filter(([, point]) => directory.startsWith(point!)).sort((a, b) => b[1]!.length - a[1]!.length)[0];
  return mount ? `${mount[1]} ${mount[2]} ${mount[3]}` : 'unknown';
}
