import assert from 'node:assert/strict';
import { mkdirSync, statfsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import pg from 'pg';
import { loadConfig } from '../../src/config.ts';
import { createBackup } from '../../src/ops/backup.ts';
import { recordVerification } from '../../src/ops/backup-files.ts';
import { sampleDiskUsage } from '../../src/ops/disk-usage.ts';
import { doctor } from '../../src/ops/doctor.ts';
import { runCli } from '../harness/cli.ts';
import { testDatabase } from '../harness/database.ts';
import { tempDir } from '../harness/temp-dir.ts';

const { pool, url } = await testDatabase('doctor');

const byCheck = async (backupDir: string) =>
  Object.fromEntries((await doctor(pool, loadConfig({ DATABASE_URL: url, MORDOMO_BACKUP_DIR: backupDir }, {}))).map((f) => [f.check, f]));

test('without a backup the doctor warns and says how to take one; a verified fresh backup is fine', async () => {
  const dir = tempDir('doctor-backups');
  let findings = await byCheck(dir);
  assert.equal(findings.backups!.status, 'warn');
  assert.match(findings.backups!.fix, /mordomo-db backup/);
  assert.equal(findings.autovacuum!.status, 'ok');
  assert.equal(findings['log partitions']!.status, 'ok');
  assert.equal(findings['long transactions']!.status, 'ok');
  const backup = await createBackup(pool, { outDir: dir });
  assert.match((await byCheck(dir)).backups!.detail, /never verified/);
  recordVerification(backup.file, true);
  assert.equal((await byCheck(dir)).backups!.status, 'ok');
  recordVerification(backup.file, false);
  findings = await byCheck(dir);
  assert.equal(findings.backups!.status, 'fail');
  assert.match(findings.backups!.detail, new RegExp(`${path.basename(backup.file)} FAILED verification`));
});

test('a transaction open longer than the limit is reported with its pid, application and the fix', async () => {
  const client = new pg.Client({ connectionString: url, application_name: 'stuck-brain' });
  await client.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT 1');
    const pid = (await client.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
    const config = loadConfig({ DATABASE_URL: url, MORDOMO_BACKUP_DIR: tempDir('d2') }, {});
    const young = await doctor(pool, config);
    assert.equal(young.find((f) => f.check === 'long transactions')!.status, 'ok', 'a transaction under 5 minutes is fine');
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const old = (await doctor(pool, config, { longTransactionSeconds: 1 })).find((f) => f.check === 'long transactions')!;
    assert.equal(old.status, 'warn');
    assert.match(old.detail, new RegExp(`pid ${pid} \\(stuck-brain\\) open 0 min`));
    assert.match(old.fix, /monitor terminate PID/);
    await client.query('ROLLBACK');
  } finally {
    await client.end();
  }
});

test('mordomo-db doctor prints findings with fixes and exits 1 only on a failure', async () => {
  const dir = tempDir('doctor-cli');
  const healthy = await runCli(['doctor'], { DATABASE_URL: url, MORDOMO_BACKUP_DIR: dir });
  assert.equal(healthy.code, 0, healthy.stderr);
  assert.match(healthy.stdout, /WARN {2}backups: no backup in .*\n\s+→ run `mordomo-db backup` now/);
  assert.match(healthy.stdout, /ok {4}autovacuum: on/);
  const backup = await createBackup(pool, { outDir: dir });
  recordVerification(backup.file, false);
  const failing = await runCli(['doctor', '--json'], { DATABASE_URL: url, MORDOMO_BACKUP_DIR: dir });
  assert.equal(failing.code, 1);
  assert.equal((JSON.parse(failing.stdout) as Array<{ check: string; status: string }>).find((f) => f.check === 'backups')!.status, 'fail');
});

test('the disk-usage job samples the folders that grow, and the doctor warns when one would fill its disk within a week', async () => {
  const dataDir = tempDir('doctor-disk');
  const config = loadConfig({ DATABASE_URL: url, MORDOMO_DATA_DIR: dataDir, MORDOMO_WAL_ARCHIVE_DIR: path.join(dataDir, 'wal-archive') }, {});
  mkdirSync(config.backupDir, { recursive: true });
  mkdirSync(config.walArchiveDir!, { recursive: true });
  writeFileSync(path.join(config.walArchiveDir!, '000000010000000000000001.gz'), Buffer.alloc(4096));
  const [backups, archive] = sampleDiskUsage(config);
  assert.deepEqual([backups!.location, archive!.location, archive!.usedBytes], ['backups', 'archive', 4096]);
  assert.ok(archive!.freeBytes > 0);
  assert.match((await doctorOf(config))['disk growth']!.detail, /not measured yet/);

  // Three days of samples: the archive gained a third of the room left each day; the backups none.
  const free = statfsSync(config.walArchiveDir!).bavail * statfsSync(config.walArchiveDir!).bsize;
  const day = (n: number) => new Date(Date.now() - n * 86_400_000).toISOString();
  const samples = [3, 2, 1, 0].flatMap((ago) => [
    { at: day(ago), location: 'archive', path: config.walArchiveDir!, usedBytes: (3 - ago) * Math.floor(free / 3), freeBytes: free },
    { at: day(ago), location: 'backups', path: config.backupDir, usedBytes: 1000, freeBytes: free },
  ]);
  writeFileSync(path.join(dataDir, 'disk-usage.json'), JSON.stringify(samples));
  const findings = await doctorOf(config);
  assert.equal(findings['disk growth (archive)']!.status, 'warn');
  assert.match(
    findings['disk growth (archive)']!.detail,
    /grows [\d.]+ MiB\/day \(measured over 3\.0 days\): its file system, [\d.]+ MiB free, is full in [0-9.]+ days/,
  );
  assert.match(findings['disk growth (archive)']!.fix!, /MORDOMO_BACKUP_RETENTION_DAYS/);
  assert.equal(findings['disk growth (backups)']!.status, 'ok');
  assert.match(findings['disk growth (backups)']!.detail, /not growing/);
  assert.ok(findings['disk (archive)'], "the archive's file system is checked too");
});

const doctorOf = async (config: ReturnType<typeof loadConfig>) => Object.fromEntries((await doctor(pool, config)).map((f) => [f.check, f]));
