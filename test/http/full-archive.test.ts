// The WAL archive's own file system full (a tmpfs the test mounts; root only, skipped with the reason elsewhere):
// archive_command fails, and PostgreSQL keeps the WAL in pg_wal and goes on committing. The primary keeps serving
// writes (201) and stays ready, while /metrics and `doctor` warn naming the archive folder.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import pg from 'pg';
import { embeddedUrl } from '../../src/db/connect.ts';
import { eventually } from '../harness/assertions.ts';
import { runCli } from '../harness/cli.ts';
import { drivenService } from '../harness/fault-load.ts';
import { freePort } from '../harness/ports.ts';
import { tempDir } from '../harness/temp-dir.ts';
import { fillUp, mountSmallDisk, removeFiller } from '../harness/tmpfs.ts';

const disk = mountSmallDisk('full-archive', 24);
after(() => disk.unmount());

test('a full WAL archive: writes go on (201) and /readyz stays ready, while /metrics and doctor name the archive folder', { skip: disk.skip }, async () => {
  const dataDir = path.join(tempDir('full-archive'), 'data');
  const archiveDir = path.join(disk.mountPoint as string, 'archive');
  const pgPort = await freePort();
  const env = { MORDOMO_DATA_DIR: dataDir, MORDOMO_PG_PORT: String(pgPort), MORDOMO_WAL_ARCHIVE_DIR: archiveDir };
  const { service, headers, startWriters } = await drivenService(env, 2);
  const superuser = new pg.Client({ connectionString: embeddedUrl(pgPort, readFileSync(path.join(dataDir, 'postgres-password'), 'utf8').trim()) });
  superuser.on('error', () => undefined);
  await superuser.connect();
  after(() => superuser.end());

  const filler = path.join(disk.mountPoint as string, 'filler');
  fillUp(filler);
  const writers = startWriters();
  // Segments to archive: each switch hands a finished segment to archive_command, which cannot write its copy.
  await eventually(
    'archive_command failing on the full file system',
    async () => {
      await superuser.query(`SELECT pg_logical_emit_message(false, 'full-archive', 'x'), pg_switch_wal()`);
      const { rows } = await superuser.query<{ failed: number }>('SELECT failed_count::int AS failed FROM pg_stat_archiver');
      return rows[0]!.failed > 0;
    },
    60_000,
  );
  const before = writers.successes;
  await eventually('writes acknowledged while the archive is full', async () => writers.successes > before + 10, 30_000);

  const ready = await fetch(`${service.api}/readyz`);
  assert.equal(ready.status, 200, await ready.clone().text());
  const metrics = await (await fetch(`${service.api}/metrics`, { headers })).text();
  assert.ok(
    metrics.includes(`mordomo_disk_full{role="wal-archive",folder="${archiveDir}"} 1`),
    metrics
      .split('\n')
      .filter((l) => l.includes('disk'))
      .join('\n'),
  );
  assert.ok(metrics.includes('mordomo_wal_archive_failing 1'), 'the archiver reports its failure');

  const doctor = await runCli(['doctor', '--json'], env);
  const findings = Object.fromEntries((JSON.parse(doctor.stdout) as { check: string; status: string; detail: string }[]).map((f) => [f.check, f]));
  assert.equal(findings['disk (archive)']?.status, 'fail');
  assert.match(findings['disk (archive)']!.detail, new RegExp(`^full: \\d+ bytes free at ${archiveDir}`));
  assert.equal(findings['wal archiving']?.status, 'warn', JSON.stringify(findings['wal archiving']));
  assert.match(findings['wal archiving']!.detail, new RegExp(archiveDir));

  // Space freed: the archiver catches up by itself, and the warning clears.
  removeFiller(filler);
  await superuser.query('SELECT pg_switch_wal()');
  await eventually(
    'the archiver to catch up',
    async () => (await fetch(`${service.api}/metrics`, { headers }).then((r) => r.text())).includes('mordomo_wal_archive_failing 0'),
    60_000,
  );
  await writers.stop();
  assert.deepEqual(writers.unexpected.slice(0, 10), [], 'no write failed');
  assert.deepEqual([...writers.failures], [], 'no write failed');
});
