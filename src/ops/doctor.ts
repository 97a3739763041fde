import { existsSync, statfsSync } from 'node:fs';
import type pg from 'pg';
import { embeddedSettings } from '../db/server-settings.ts';
import type { Config } from '../config.ts';
import { query } from '../db/client.ts';
import { listBackups } from './backup-files.ts';
import { partitionsAhead } from './partitions.ts';
import { freeBytes, projectDiskUsage, readDiskSamples, WARN_WITHIN_DAYS } from './disk-usage.ts';
import { readReplicaStates } from './replica.ts';
import { databaseTransport, httpTransport } from './transport-checks.ts';
import { clusterProblems, clusterStatus } from './patroni.ts';
import { archiverState } from './wal-archiving.ts';
import { FULL_BELOW_BYTES } from './disk-space.ts';

export interface Finding {
  check: string;
  status: 'ok' | 'warn' | 'fail';
  detail: string;
  /** What to do about it (empty when all is well). */
  fix: string;
}

const ok = (check: string, detail: string): Finding => ({ check, status: 'ok', detail, fix: '' });

function backups(config: Config, now: Date): Finding {
  const [newest] = listBackups(config.backupDir);
  if (!newest)
    return {
      check: 'backups',
      status: 'warn',
      detail: `no backup in ${config.backupDir}`,
      fix: 'run `mordomo-db backup` now; `npm start` takes one nightly at 02:00',
    };
  const hours = (now.getTime() - newest.createdAt.getTime()) / 3_600_000;
  if (newest.verified && !newest.verified.ok) {
    return {
      check: 'backups',
      status: 'fail',
      detail: `the newest backup ${newest.file} FAILED verification`,
      fix: 'take a new backup and run `mordomo-db backup verify` on it; check the server log',
    };
  }
  if (hours > 26)
    return {
      check: 'backups',
      status: 'warn',
      detail: `the newest backup is ${hours.toFixed(0)} hours old`,
      fix: 'is the scheduler running? run `mordomo-db backup`',
    };
  if (!newest.verified)
    return {
      check: 'backups',
      status: 'warn',
      detail: `the newest backup (${hours.toFixed(1)} h old) was never verified`,
      fix: `run \`mordomo-db backup verify ${newest.file}\``,
    };
  return ok('backups', `newest backup ${hours.toFixed(1)} h old, verified`);
}

function disk(label: string, dir: string): Finding {
  if (!existsSync(dir)) return ok(`disk (${label})`, `${dir} does not exist yet`);
  const stats = statfsSync(dir);
  const freePercent = (100 * stats.bavail) / stats.blocks;
  const free = stats.bavail * stats.bsize;
  const freeGb = free / 2 ** 30;
  const detail = `${freeGb.toFixed(1)} GiB free (${freePercent.toFixed(0)}%) at ${dir}`;
  // What /readyz and /metrics call full (disk-space.ts), whatever share of a large disk that is.
  if (free < FULL_BELOW_BYTES) {
    return {
      check: `disk (${label})`,
      status: 'fail',
      detail: `full: ${free} bytes free at ${dir}`,
      fix: 'free space now: prune backups (`mordomo-db backup prune`), drop old logs, or grow the disk',
    };
  }
  if (freePercent < 5)
    return {
      check: `disk (${label})`,
      status: 'fail',
      detail,
      fix: 'free space now: prune backups (`mordomo-db backup prune`), drop old logs, or grow the disk',
    };
  if (freePercent < 15) return { check: `disk (${label})`, status: 'warn', detail, fix: 'plan more space; `mordomo-db backup prune --keep N` frees backups' };
  return ok(`disk (${label})`, detail);
}

async function database(pool: pg.Pool, config: Config, longTransactionSeconds: number): Promise<Finding[]> {
  const findings: Finding[] = [];
  const ahead = await partitionsAhead(pool).catch(() => undefined);
  if (ahead !== undefined) {
    findings.push(
      ahead < 2
        ? {
            check: 'log partitions',
            status: 'warn',
            detail: `${ahead} days of system_logs partitions ahead`,
            fix: 'run `mordomo-db maintenance partitions` (the scheduler does it hourly)',
          }
        : ok('log partitions', `${ahead} days ahead`),
    );
  }
  const settings = Object.fromEntries(
    (
      await query<{ name: string; setting: string }>(
        pool,
        `SELECT name, setting FROM pg_settings WHERE name IN ('autovacuum', 'max_connections', 'shared_preload_libraries')`,
      )
    ).rows.map((r) => [r.name, r.setting]),
  );
  findings.push(
    settings.autovacuum === 'on'
      ? ok('autovacuum', 'on')
      : {
          check: 'autovacuum',
          status: 'fail',
          detail: 'autovacuum is off: tables bloat and transaction ids wrap around',
          fix: 'set autovacuum = on in deploy/postgresql.conf and restart',
        },
  );
  const maxConnections = Number(settings.max_connections);
  findings.push(
    config.pool.max > maxConnections - 10
      ? {
          check: 'connections',
          status: 'warn',
          detail: `MORDOMO_POOL_MAX ${config.pool.max} leaves little of max_connections ${maxConnections}`,
          fix: 'lower MORDOMO_POOL_MAX or raise max_connections',
        }
      : ok('connections', `pool max ${config.pool.max} of max_connections ${maxConnections}`),
  );
  if (!String(settings.shared_preload_libraries).includes('pg_stat_statements')) {
    findings.push({
      check: 'slow-query monitoring',
      status: 'warn',
      detail: 'pg_stat_statements is not preloaded',
      fix: "add shared_preload_libraries = 'pg_stat_statements' and restart",
    });
  }
  const { rows: long } = await query<{ pid: number; minutes: number; application_name: string }>(
    pool,
    `SELECT pid, floor(extract(epoch FROM now() - xact_start) / 60)::int AS minutes, application_name
       FROM pg_stat_activity WHERE xact_start < now() - make_interval(secs => $1) AND pid <> pg_backend_pid() ORDER BY xact_start`,
    [longTransactionSeconds],
  );
  findings.push(
    long.length
      ? {
          check: 'long transactions',
          status: 'warn',
          detail: long.map((t) => `pid ${t.pid} (${t.application_name || 'unnamed'}) open ${t.minutes} min`).join('; '),
          fix: 'they hold back vacuum; end them with `mordomo-db monitor terminate PID` if stuck',
        }
      : ok('long transactions', `none over ${longTransactionSeconds / 60} minutes`),
  );
  const { rows: slots } = await query<{ slot_name: string; retained: string }>(
    pool,
    `SELECT slot_name, pg_size_pretty(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)) AS retained FROM pg_replication_slots WHERE NOT active`,
  );
  findings.push(
    slots.length
      ? {
          check: 'replication',
          status: 'warn',
          detail: slots.map((s) => `inactive slot ${s.slot_name} retains ${s.retained} of WAL`).join('; '),
          fix: 'bring the standby back or drop the slot (pg_drop_replication_slot) before WAL fills the disk',
        }
      : ok('replication', 'no inactive replication slots'),
  );
  if (config.replicaUrls.length) {
    const replicas = await readReplicaStates(pool, config.replicaUrls, { bytes: config.replicaMaxLagBytes, seconds: config.replicaMaxLagSeconds });
    const out = replicas.filter((replica) => !replica.healthy);
    findings.push(
      out.length
        ? {
            check: 'read replicas',
            status: 'warn',
            detail: out.map((r) => `${r.name} is out of rotation (${r.reason})`).join('; '),
            fix: "reads go to the primary meanwhile; see mordomo-db replica status, and the standby's own log",
          }
        : ok('read replicas', `${replicas.length} in rotation`),
    );
  }
  if (config.walArchiveDir) findings.push(await archiving(pool, config.walArchiveDir));
  if (config.patroniUrls.length) findings.push(await cluster(config));
  const { rows: jobs } = await query<{ job: string; outcome: string; detail: string }>(
    pool,
    `SELECT DISTINCT ON (job) job, outcome, coalesce(detail, '') AS detail FROM mordomo_job_runs WHERE outcome <> 'skipped' ORDER BY job, id DESC`,
  ).catch(() => ({ rows: [] as Array<{ job: string; outcome: string; detail: string }> }));
  for (const job of jobs.filter((j) => j.outcome === 'failed')) {
    findings.push({
      check: `job ${job.job}`,
      status: 'warn',
      detail: `last run failed: ${job.detail}`,
      fix: `run \`mordomo-db scheduler run ${job.job}\` and read its log`,
    });
  }
  return findings;
}

/** WAL archiving keeps up: a failing archive_command does not stop commits, but PITR ends there and pg_wal grows. */
async function archiving(pool: pg.Pool, dir: string): Promise<Finding> {
  const state = await archiverState(pool);
  if (!state.failing)
    return ok('wal archiving', state.lastArchivedAt ? `last segment archived ${new Date(state.lastArchivedAt).toISOString()}` : 'nothing to archive yet');
  return {
    check: 'wal archiving',
    status: 'warn',
    detail: `archive_command fails into ${dir} (segment ${state.lastFailedWal}, ${state.failedCount} failed attempts): writes go on, but point-in-time recovery stops at the last archived segment and the WAL stays in pg_wal until it is archived`,
    fix: `free space on the file system of ${dir} (or make the folder writable); the archiver catches up by itself, and the server log says why each attempt failed`,
  };
}

/** The Patroni cluster (MORDOMO_PATRONI_URL): a leader, a synchronous standby, every member running within the lag limit. */
async function cluster(config: Config): Promise<Finding> {
  try {
    const status = await clusterStatus(config.patroniUrls);
    const problems = clusterProblems(status, config.replicaMaxLagBytes);
    const summary = `leader ${status.leader ?? 'none'}, synchronous ${status.synchronous.join(', ') || 'none'}, ${status.members.length} members`;
    if (!problems.length) return ok('cluster', summary);
    return {
      check: 'cluster',
      status: status.leader ? 'warn' : 'fail',
      detail: `${summary}: ${problems.join('; ')}`,
      fix: "see `patronictl list` and the member's Patroni log; a member that stays behind: patronictl reinit <cluster> <member>",
    };
  } catch (error) {
    return {
      check: 'cluster',
      status: 'fail',
      detail: (error as Error).message,
      fix: 'check that Patroni runs on the nodes and MORDOMO_PATRONI_URL names their REST API',
    };
  }
}

/** Everything an operator of a home box should worry about, each with what to do. */
export async function doctor(pool: pg.Pool, config: Config, options: { now?: Date; longTransactionSeconds?: number } = {}): Promise<Finding[]> {
  const now = options.now ?? new Date();
  const fromDatabase = await database(pool, config, options.longTransactionSeconds ?? 300);
  const disks = [
    ...(config.databaseUrl ? [] : [disk('data', config.dataDir)]),
    disk('backups', config.backupDir),
    ...(config.walArchiveDir ? [disk('archive', config.walArchiveDir)] : []),
  ];
  const transport = [
    httpTransport(config),
    ...(await databaseTransport(pool)
      .then((finding) => [finding])
      .catch(() => [])),
  ];
  return [backups(config, now), ...disks, ...growth(config, now), ...fromDatabase, ...transport, ...(config.databaseUrl ? [] : [locale()])];
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

/** Whether a folder's measured growth fills its file system within a week (samples: the daily disk-usage job). */
function growth(config: Config, now: Date): Finding[] {
  const projections = projectDiskUsage(readDiskSamples(config), freeBytes, now);
  if (!projections.length) return [ok('disk growth', 'not measured yet: the daily disk-usage job needs samples a day apart')];
  return projections.map((p) => {
    const check = `disk growth (${p.location})`;
    const pace = `${p.path} grows ${mib(p.bytesPerDay)}/day (measured over ${p.measuredDays.toFixed(1)} days)`;
    if (p.daysLeft !== null && p.daysLeft < WARN_WITHIN_DAYS) {
      return {
        check,
        status: 'warn' as const,
        detail: `${pace}: its file system, ${mib(p.freeBytes)} free, is full in ${p.daysLeft.toFixed(1)} days`,
        fix:
          p.location === 'archive' || p.location === 'backups'
            ? 'shorten MORDOMO_BACKUP_RETENTION_DAYS (backups, base backups and WAL go together), or move the folder to a bigger disk'
            : 'set MORDOMO_CONVERSATION_RETENTION_DAYS, or grow the disk',
      };
    }
    return ok(check, p.daysLeft === null ? `${pace}: not growing` : `${pace}: ${Math.floor(p.daysLeft)} days of room`);
  });
}

/** The embedded server's locale: the seed's pt_BR, or the C.UTF-8 fallback (said once at first start, and here). */
function locale(): Finding {
  const { warning, locale: used } = embeddedSettings();
  return warning
    ? { check: 'locale', status: 'warn', detail: warning, fix: 'install it (Debian: locales, then dpkg-reconfigure locales) and restart' }
    : ok('locale', used);
}
