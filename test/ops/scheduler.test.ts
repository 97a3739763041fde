import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/logger.ts';
import { listBackups } from '../../src/ops/backup-files.ts';
import { defaultJobs, type Job, Scheduler } from '../../src/ops/scheduler.ts';
import { runCli } from '../harness/cli.ts';
import { adminQuery, testDatabase, urlFor } from '../harness/database.ts';
import { tempDir } from '../harness/temp-dir.ts';

const database = await testDatabase('scheduler');
const { pool, url } = database;
const logger = createLogger('silent');

const runs = async () =>
  (await pool.query(`SELECT job, outcome, detail FROM mordomo_job_runs ORDER BY id`)).rows as Array<{ job: string; outcome: string; detail: string }>;

test('two schedulers on one database never run the same job at once: the second records a skip', async () => {
  let active = 0;
  let overlap = false;
  const slow: Job = {
    name: 'slow',
    cron: '0 0 1 1 *',
    run: async () => {
      active++;
      if (active > 1) overlap = true;
      await new Promise((resolve) => setTimeout(resolve, 300));
      active--;
      return 'done';
    },
  };
  const a = new Scheduler(pool, [slow], logger);
  const b = new Scheduler(pool, [slow], logger);
  await a.start();
  await b.start();
  const outcomes = await Promise.all([a.runJob('slow'), b.runJob('slow')]);
  assert.deepEqual(outcomes.sort(), ['skipped', 'success']);
  assert.equal(overlap, false);
  assert.equal(await a.runJob('slow'), 'success', 'the lock is released after the run');
  await Promise.all([a.stop(), b.stop()]);
  assert.deepEqual(
    (await runs())
      .filter((r) => r.job === 'slow')
      .map((r) => r.outcome)
      .sort(),
    ['skipped', 'success', 'success'],
  );
});

test('a failing job is recorded as failed with its message, and does not stop the scheduler', async () => {
  const scheduler = new Scheduler(
    pool,
    [
      {
        name: 'broken',
        cron: '0 0 1 1 *',
        run: async () => {
          throw new Error('boom');
        },
      },
    ],
    logger,
  );
  await scheduler.start();
  assert.equal(await scheduler.runJob('broken'), 'failed');
  assert.equal(await scheduler.runJob('broken'), 'failed');
  await scheduler.stop();
  assert.deepEqual(
    (await runs()).filter((r) => r.job === 'broken').map((r) => [r.outcome, r.detail]),
    [
      ['failed', 'boom'],
      ['failed', 'boom'],
    ],
  );
});

test('the nightly backup job writes, verifies and prunes; partitions keep days ahead; backup is due at 02:00', async () => {
  const backupDir = tempDir('scheduled-backups');
  const config = loadConfig({ MORDOMO_BACKUP_DIR: backupDir }, {});
  const scheduler = new Scheduler(pool, defaultJobs(database, config, logger), logger);
  await scheduler.start();
  const next = scheduler.nextRuns().backup!;
  assert.deepEqual([next.getHours(), next.getMinutes()], [2, 0]);
  assert.equal(await scheduler.runJob('backup'), 'success');
  const [backup] = listBackups(backupDir);
  assert.ok(backup && existsSync(backup.file));
  assert.equal(backup.verified?.ok, true);
  assert.equal(await scheduler.runJob('partitions'), 'success');
  await scheduler.stop();
  assert.match((await runs()).find((r) => r.job === 'partitions')!.detail, /days ahead/);
});

test('scheduler run JOB works from the command line; a bad cron expression is refused by name', async () => {
  const ran = await runCli(['scheduler', 'run', 'partitions'], { DATABASE_URL: url });
  assert.equal(ran.code, 0, ran.stderr);
  assert.match(ran.stdout, /partitions: success/);
  const unknown = await runCli(['scheduler', 'run', 'nope'], { DATABASE_URL: url });
  assert.equal(unknown.code, 66);
  assert.match(unknown.stderr, /no job named nope; the jobs here are .*partitions.*backup/);
  // A job that exists only under a setting says which.
  const retention = await runCli(['scheduler', 'run', 'retention'], { DATABASE_URL: url });
  assert.equal(retention.code, 66);
  assert.match(retention.stderr, /no job named retention: it runs only when MORDOMO_CONVERSATION_RETENTION_DAYS is set/);
  assert.throws(() => loadConfig({ MORDOMO_BACKUP_CRON: 'every night' }, {}), /MORDOMO_BACKUP_CRON: must be a cron expression/);
});

test('scheduler run on a database never migrated migrates it first (the jobs call functions the migrations create)', async () => {
  const name = `t_scheduler_fresh_${process.pid}`;
  await adminQuery(`CREATE DATABASE ${name}`);
  const ran = await runCli(['scheduler', 'run', 'rollups'], { DATABASE_URL: urlFor(name) });
  assert.equal(ran.code, 0, ran.stderr);
  assert.match(ran.stdout, /rollups: success/);
});

test('MORDOMO_JOB_SCHEDULE moves jobs to other schedules, and refuses a job or a cron it does not know', () => {
  const config = loadConfig({}, { DATABASE_URL: url, MORDOMO_JOB_SCHEDULE: 'rollups=*/2 * * * *; backup=*/10 * * * *' });
  const jobs = Object.fromEntries(defaultJobs(database, config, createLogger('silent')).map((job) => [job.name, job.cron]));
  assert.equal(jobs.rollups, '*/2 * * * *');
  assert.equal(jobs.backup, '*/10 * * * *');
  assert.equal(jobs.partitions, '15 * * * *', 'the others keep theirs');
  assert.throws(() => loadConfig({}, { MORDOMO_JOB_SCHEDULE: 'rollups every minute' }), /MORDOMO_JOB_SCHEDULE: "rollups every minute": give job=cron pairs/);
  assert.throws(() => loadConfig({}, { MORDOMO_JOB_SCHEDULE: 'rollups=*/99 * * *' }), /give job=cron pairs/);
  const retention = loadConfig({}, { DATABASE_URL: url, MORDOMO_JOB_SCHEDULE: 'retention=* * * * *' });
  assert.throws(
    () => defaultJobs(database, retention, createLogger('silent')),
    /no job named retention: it runs only when MORDOMO_CONVERSATION_RETENTION_DAYS is set/,
  );
  assert.equal(loadConfig({}, { MORDOMO_BACKUP_RETENTION_DAYS: '0.5' }).backupRetentionDays, 0.5);
});
