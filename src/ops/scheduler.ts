import { Cron } from 'croner';
import type pg from 'pg';
import { query, withClient } from '../db/client.ts';
import type { Config } from '../config.ts';
import { ConfigError, errorLogFields, mapDatabaseError, MordomoError } from '../errors.ts';
import { pruneExpiredKeys } from '../db/idempotency.ts';
import { CORE_KEYS } from '../core/idempotency-keys.ts';
import { pruneDomainKeys } from '../ivr/idempotency-keys.ts';
import type { Connection } from '../db/connect.ts';
import type { Logger } from '../logger.ts';
import { createBackup } from './backup.ts';
import { pruneBackups, recordVerification } from './backup-files.ts';
import { maintainPartitions } from './partitions.ts';
import { verifyBackup } from './restore.ts';
import { baseBackupRoot, pruneBaseBackups, takeBaseBackup } from './base-backups.ts';
import { refreshMessageRollups } from './rollups.ts';
import { learnSearchWords } from './search-words.ts';
import { sampleDiskUsage } from './disk-usage.ts';
import { sampleDatabaseSize } from './reports.ts';
import { expireConversations } from './retention.ts';

// The ledger lives beside the migration ledger and is created the same way, so the scheduler works whatever
// modules are installed (an IVR-only FusionPBX database has no core tables).
const CREATE_RUNS = `
CREATE TABLE IF NOT EXISTS mordomo_job_runs (
    id bigserial PRIMARY KEY,
    job text NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    outcome text NOT NULL CHECK (outcome IN ('running', 'success', 'failed', 'skipped')),
    detail text
)`;
// The dashboard and /metrics, which run as the runtime role (migrations/core/016), show the runs.
const GRANT_RUNS = `
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'mordomo_app') THEN
        GRANT SELECT ON mordomo_job_runs TO mordomo_app;
    END IF;
END $$`;

export interface Job {
  name: string;
  /** Cron expression in the server's local time (croner syntax). */
  cron: string;
  run: () => Promise<string>;
}

export type JobOutcome = 'success' | 'failed' | 'skipped';

/**
 * The jobs of a deployment: the seed's nightly backup (verified, then pruned), log partition upkeep, a daily
 * database size sample for the dashboard's growth chart, the message rollups behind the reports (every 10
 * minutes), the search vocabulary's new words (every minute) and, when an operator set
 * MORDOMO_CONVERSATION_RETENTION_DAYS, conversation retention.
 */
/** Jobs that exist only under a setting, and the setting: said when one is asked for and is not there. */
const WHY_ABSENT: Record<string, string | undefined> = {
  retention: 'it runs only when MORDOMO_CONVERSATION_RETENTION_DAYS is set (how many days of conversations to keep)',
  size: 'it samples the core tables: add core to MORDOMO_MODULES',
  rollups: 'it rolls up the core tables: add core to MORDOMO_MODULES',
  'search-words': 'it reads the core tables: add core to MORDOMO_MODULES',
  partitions: "it keeps the core's log partitions: add core to MORDOMO_MODULES",
};

/** Why `name` is not among `jobs`, and which are. */
const noSuchJob = (name: string, jobs: Job[]) =>
  `no job named ${name}${WHY_ABSENT[name] ? `: ${WHY_ABSENT[name]}` : ''}; the jobs here are ${jobs.map((job) => job.name).join(', ')}`;

export function defaultJobs(owner: Connection, config: Config, logger: Logger, pgData?: string): Job[] {
  const { db, pool, url: databaseUrl } = owner;
  // With the embedded server archiving WAL, the nightly job also takes a base backup for point-in-time recovery.
  const archive = pgData && config.walArchiveDir ? { pgData, dir: config.walArchiveDir } : undefined;
  const retentionDays = config.conversationRetentionDays;
  const retention: Job[] = retentionDays
    ? [
        {
          name: 'retention',
          cron: '30 3 * * *',
          run: async () => {
            const result = await expireConversations(pool, retentionDays);
            return `${result.conversations} conversations older than ${retentionDays} days deleted in ${result.batches} batches`;
          },
        },
      ]
    : [];
  // Log partitions and size samples are of core tables, absent from an IVR-only FusionPBX database.
  const coreJobs: Job[] = config.modules.includes('core')
    ? [
        { name: 'size', cron: '5 0 * * *', run: async () => `${await sampleDatabaseSize(pool)} bytes recorded` },
        {
          name: 'rollups',
          cron: '*/10 * * * *',
          run: async () => {
            const days = await refreshMessageRollups(pool);
            return days === null ? 'a write to one of the days came in meanwhile; next run' : `${days} days of messages rolled up`;
          },
        },
        {
          name: 'search-words',
          cron: '* * * * *',
          run: async () => `${await learnSearchWords(pool)} new messages read for the search vocabulary`,
        },
        {
          name: 'partitions',
          cron: '15 * * * *',
          run: async () => {
            const result = await maintainPartitions(pool);
            return `${result.created} created, ${result.dropped} dropped, ${result.ahead} days ahead`;
          },
        },
      ]
    : [];
  const jobs: Job[] = [
    ...retention,
    ...coreJobs,
    {
      name: 'disk-usage',
      cron: '10 0 * * *',
      run: async () => {
        const samples = sampleDiskUsage(config);
        return samples.map((sample) => `${sample.location} ${sample.usedBytes} bytes (${sample.freeBytes} free)`).join(', ') || 'no folder to measure';
      },
    },
    {
      name: 'idempotency-keys',
      cron: '50 * * * *',
      run: async () => {
        const core = config.modules.includes('core') ? await pruneExpiredKeys(db, CORE_KEYS) : 0;
        const ivr = config.modules.includes('ivr') ? await pruneDomainKeys(db) : 0;
        return `${core + ivr} expired idempotency keys forgotten`;
      },
    },
    {
      name: 'backup',
      cron: config.backupCron,
      run: async () => {
        const backup = await createBackup(pool, { outDir: config.backupDir });
        const verified = await verifyBackup(databaseUrl, backup.file, logger);
        recordVerification(backup.file, verified.ok);
        if (!verified.ok) throw new MordomoError('internal', `backup ${backup.file} failed verification`);
        const pruned = pruneBackups(config.backupDir, { maxAgeDays: config.backupRetentionDays });
        let pitr = '';
        if (archive) {
          const baseRoot = baseBackupRoot(config);
          await takeBaseBackup(pool, archive.pgData, baseRoot, logger);
          const gone = pruneBaseBackups(baseRoot, archive.dir, config.backupRetentionDays);
          pitr = `; base backup taken, ${gone.backups} old base backups and ${gone.segments} archived WAL segments pruned`;
        }
        return `${backup.file} verified; ${pruned.length} old backups pruned${pitr}`;
      },
    },
  ];
  // MORDOMO_JOB_SCHEDULE moves a job's schedule (a soak run compresses a day into minutes); a name that is not a
  // job here is refused, with the reason when it exists only under a setting.
  for (const name of Object.keys(config.jobSchedule)) {
    if (!jobs.some((job) => job.name === name)) {
      throw new ConfigError(`MORDOMO_JOB_SCHEDULE: ${noSuchJob(name, jobs)}`);
    }
  }
  return jobs.map((job) => ({ ...job, cron: config.jobSchedule[job.name] ?? job.cron }));
}

/**
 * Runs jobs on their schedules and records every run in `mordomo_job_runs`. A job takes a session advisory lock
 * named after it first, so two schedulers on one database (two service instances) never run it at once: the
 * second records the run as skipped.
 */
export class Scheduler {
  private readonly crons: Cron[] = [];
  private readonly running = new Set<Promise<unknown>>();

  constructor(
    private readonly pool: pg.Pool,
    private readonly jobs: Job[],
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    await query(this.pool, CREATE_RUNS);
    await query(this.pool, GRANT_RUNS);
    for (const job of this.jobs) {
      this.crons.push(new Cron(job.cron, { protect: true }, () => void this.track(this.runScheduled(job.name))));
    }
  }

  /** Stops scheduling and waits for runs in progress to finish. */
  async stop(): Promise<void> {
    for (const cron of this.crons) cron.stop();
    await Promise.allSettled([...this.running]);
  }

  /** When each job runs next. */
  nextRuns(): Record<string, Date | null> {
    return Object.fromEntries(this.jobs.map((job, i) => [job.name, this.crons[i]?.nextRun() ?? null]));
  }

  private track<T>(promise: Promise<T>): Promise<T> {
    this.running.add(promise);
    void promise.finally(() => this.running.delete(promise));
    return promise;
  }

  /**
   * A run its schedule started: nobody awaits it, so a failure to even record the run (the database is down or
   * its connection died mid-job) is logged here; the next scheduled run tries again.
   */
  private async runScheduled(name: string): Promise<void> {
    try {
      await this.runJob(name);
    } catch (error) {
      this.logger.warn({ job: name, ...errorLogFields(error) }, 'scheduled job could not run');
    }
  }

  /** Runs one job now (as its schedule would), returning how it ended. */
  async runJob(name: string): Promise<JobOutcome> {
    const job = this.jobs.find((j) => j.name === name);
    if (!job) throw new MordomoError('not_found', noSuchJob(name, this.jobs));
    return this.runLocked(job);
  }

  private async runLocked(job: Job): Promise<JobOutcome> {
    const name = job.name;
    // One client holds the job's advisory lock from try to unlock: a session-level lock belongs to its connection.
    return withClient(this.pool, async (client) => {
      // On a standby (the leader changed and this connection reached a demoted node) nothing can be recorded and
      // the job is the new leader's: skipped. A job cut off mid-run by a failover fails; its next run is on the leader.
      const { rows: recovery } = await client.query<{ standby: boolean }>('SELECT pg_is_in_recovery() AS standby');
      if (recovery[0]!.standby) {
        this.logger.warn({ job: name }, 'scheduled job skipped: the database is a standby (jobs run on the leader)');
        return 'skipped';
      }
      const { rows } = await client.query<{ locked: boolean }>(`SELECT pg_try_advisory_lock(hashtext('mordomo-db:job:' || $1)) AS locked`, [name]);
      if (!rows[0]!.locked) {
        await client.query(`INSERT INTO mordomo_job_runs (job, finished_at, outcome, detail) VALUES ($1, now(), 'skipped', 'already running elsewhere')`, [
          name,
        ]);
        return 'skipped';
      }
      try {
        const { rows: run } = await client.query<{ id: number }>(`INSERT INTO mordomo_job_runs (job, outcome) VALUES ($1, 'running') RETURNING id`, [name]);
        let outcome: JobOutcome = 'success';
        let detail: string;
        try {
          detail = await job.run();
        } catch (error) {
          outcome = 'failed';
          detail = error instanceof Error ? error.message : String(error);
          this.logger.error({ job: name, err: error }, 'scheduled job failed');
        }
        await client.query(`UPDATE mordomo_job_runs SET finished_at = now(), outcome = $2, detail = $3 WHERE id = $1`, [run[0]!.id, outcome, detail]);
        this.logger.info({ job: name, outcome, detail }, 'scheduled job finished');
        return outcome;
      } finally {
        await client.query(`SELECT pg_advisory_unlock(hashtext('mordomo-db:job:' || $1))`, [name]);
      }
    });
  }
}
