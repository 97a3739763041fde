import type { Kysely } from 'kysely';
import type pg from 'pg';
import { folderSpaces } from '../ops/disk-space.ts';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Module } from '../config.ts';
import { listBackups } from '../ops/backup-files.ts';
import { readDatabaseStatistics } from '../ops/monitor.ts';
import { partitionsAhead } from '../ops/partitions.ts';
import { clusterStatus } from '../ops/patroni.ts';
import { archiverState } from '../ops/wal-archiving.ts';
import { OUT_OF_ROTATION, type ReadRouter } from '../db/read-routing.ts';
import { MAX_TURNS, watchAppendBatches } from '../core/append-batches.ts';
import type { DB } from '../db/schema.ts';

/**
 * The service's Prometheus metrics: what postgres_exporter would report for this database (same metric names
 * where it has one), backups, log partitions, scheduled jobs, and the application's own. Database figures are
 * read at scrape time, so /metrics is always current and costs nothing between scrapes.
 */
export interface AppMetrics {
  registry: Registry;
  httpDuration: Histogram<'method' | 'route' | 'status'>;
  messagesAppended: Counter;
  /** Reads the database and backup figures; called by the /metrics route before rendering. */
  refresh(): Promise<void>;
}

export function createMetrics(
  pool: pg.Pool,
  options: {
    backupDir: string;
    modules: Module[];
    reads?: ReadRouter;
    pgData?: string;
    walArchiveDir?: string;
    patroniUrls?: string[];
    /** The handle whose coalesced appends are shown. */
    appends?: Kysely<DB>;
  },
): AppMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'mordomo_' });
  // prom-client names these gauges *_total, which Prometheus reserves for counters (promtool flags them).
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
    registry.removeSingleMetric(`mordomo_${name}`);
  }
  const gauge = <L extends string>(name: string, help: string, labelNames: L[] = []) => new Gauge<L>({ name, help, labelNames, registers: [registry] });

  const up = gauge('pg_up', 'Whether the database answered the last scrape (1) or not (0)');
  const connections = gauge('pg_stat_activity_connections', 'Server connections by state (postgres_exporter: pg_stat_activity_count)', ['state']);
  const databaseSize = gauge('pg_database_size_bytes', 'Size of the mordomo database');
  const tableSize = gauge('mordomo_table_size_bytes', 'Total size of each table, indexes and TOAST included', ['table']);
  const commits = gauge('pg_stat_database_xact_commit', 'Transactions committed since the statistics reset');
  const rollbacks = gauge('pg_stat_database_xact_rollback', 'Transactions rolled back since the statistics reset');
  const deadlocks = gauge('pg_stat_database_deadlocks', 'Deadlocks detected since the statistics reset');
  const cacheHit = gauge('mordomo_cache_hit_ratio', 'Share of block reads served from shared buffers (0..1)');
  const longest = gauge('mordomo_longest_transaction_seconds', 'Age of the oldest open transaction');
  const lag = gauge('mordomo_replication_lag_seconds', 'Replay lag: of the slowest standby on a primary, of this server on a standby');
  const slowMean = gauge('mordomo_statement_mean_seconds', 'Mean execution time of the 10 slowest statements (pg_stat_statements)', ['queryid', 'query']);
  const slowCalls = gauge('mordomo_statement_calls', 'Calls of the 10 slowest statements', ['queryid', 'query']);
  const backupAge = gauge('mordomo_backup_last_age_seconds', 'Age of the newest backup');
  const backupSize = gauge('mordomo_backup_last_size_bytes', 'Size of the newest backup');
  const backupVerified = gauge('mordomo_backup_last_verified', 'Verification of the newest backup: 1 passed, 0 failed, -1 not verified');
  const backupCount = gauge('mordomo_backups', 'Backups kept in the backup folder');
  const partitions = gauge('mordomo_log_partitions_ahead', 'Daily system_logs partitions that exist from today on (days of inserts covered)');
  const jobOutcome = gauge('mordomo_job_last_outcome', 'Outcome of the last run of each scheduled job (1 for the outcome it had)', ['job', 'outcome']);
  const jobAt = gauge('mordomo_job_last_run_timestamp_seconds', 'When each scheduled job last ran', ['job']);
  const replicaLag = gauge('mordomo_replica_lag_bytes', 'WAL bytes each read replica is behind the primary', ['replica']);
  const replicaHealthy = gauge('mordomo_replica_healthy', 'Whether each read replica is in rotation (1) or skipped (0)', ['replica']);
  const replicaLagSeconds = gauge('mordomo_replica_lag_seconds', 'Seconds of received WAL each read replica has not replayed yet', ['replica']);
  const replicaOut = gauge('mordomo_replica_out_of_rotation', `Why each skipped read replica is out (1 for its reason: ${OUT_OF_ROTATION.join(', ')})`, [
    'replica',
    'reason',
  ]);
  const reads = gauge('mordomo_reads', 'Read-only requests served, by where they went', ['target']);
  const diskFree = gauge('mordomo_disk_free_bytes', 'Free bytes of the file system of each folder PostgreSQL writes (data, wal, wal-archive)', [
    'role',
    'folder',
  ]);
  const diskFull = gauge('mordomo_disk_full', 'Whether the file system of each folder is full (1: under 16 MB free, writes fail there)', ['role', 'folder']);
  const archiveFailing = gauge(
    'mordomo_wal_archive_failing',
    'Whether archive_command\'s last attempt failed (1: WAL piles up in pg_wal until it succeeds; see mordomo_disk_full{role="wal-archive"})',
  );
  const clusterUp = gauge('mordomo_cluster_api_up', 'Whether a Patroni REST API of MORDOMO_PATRONI_URL answered the last scrape (1) or not (0)');
  const clusterMember = gauge('mordomo_cluster_member', 'Each Patroni cluster member, 1 for its current role and state', ['member', 'role', 'state']);
  const clusterLag = gauge('mordomo_cluster_member_lag_bytes', "WAL bytes each Patroni standby is behind the leader (Patroni's view)", ['member']);
  const clusterTimeline = gauge('mordomo_cluster_member_timeline', 'The timeline each Patroni member is on (a failover starts a new one)', ['member']);
  const poolConnections = gauge('mordomo_pool_connections', "The service's pool: connections in use, idle, and requests waiting", ['state']);

  const httpDuration = new Histogram({
    name: 'mordomo_http_request_duration_seconds',
    help: 'HTTP request duration by route and status',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
    registers: [registry],
  });
  const messagesAppended = new Counter({
    name: 'mordomo_messages_appended_total',
    help: 'Messages appended through the API',
    registers: [registry],
  });

  // Group commit (core/append-batches.ts): how many turns each append statement carried, and how often a batch
  // failed as a whole and its turns were retried alone.
  const batchTurns = new Histogram({
    name: 'mordomo_append_batch_turns',
    help: 'Turns carried by each append statement (1: a turn alone; more: turns coalesced while another was in flight)',
    buckets: [1, 2, 4, 8, 16, 32, MAX_TURNS],
    registers: [registry],
  });
  const batchFallbacks = new Counter({
    name: 'mordomo_append_batch_fallbacks_total',
    help: 'Coalesced append statements that failed as a whole and whose turns were retried one by one',
    registers: [registry],
  });
  if (options.appends) watchAppendBatches(options.appends, { batch: (turns) => batchTurns.observe(turns), fallback: () => batchFallbacks.inc() });

  const databaseGauges = [
    connections,
    databaseSize,
    tableSize,
    commits,
    rollbacks,
    deadlocks,
    cacheHit,
    longest,
    lag,
    slowMean,
    slowCalls,
    partitions,
    jobOutcome,
    jobAt,
    archiveFailing,
  ];

  async function readDatabase(): Promise<void> {
    const readings = await readDatabaseStatistics(pool);
    databaseSize.set(readings.sizeBytes);
    commits.set(readings.commits);
    rollbacks.set(readings.rollbacks);
    deadlocks.set(readings.deadlocks);
    const reads = readings.blocksHit + readings.blocksRead;
    cacheHit.set(reads === 0 ? 1 : readings.blocksHit / reads);
    longest.set(readings.longestTransactionSeconds);
    lag.set(readings.replicationLagSeconds);
    for (const row of readings.connections) connections.set({ state: row.state }, row.connections);
    for (const row of readings.tables) tableSize.set({ table: row.table }, row.bytes);
    for (const row of readings.jobs) {
      jobOutcome.set({ job: row.job, outcome: row.outcome }, 1);
      jobAt.set({ job: row.job }, row.at);
    }
    for (const row of readings.slowStatements) {
      slowMean.set({ queryid: row.queryid, query: row.query }, row.meanSeconds);
      slowCalls.set({ queryid: row.queryid, query: row.query }, row.calls);
    }
    if (options.modules.includes('core')) partitions.set(await partitionsAhead(pool));
    if (options.walArchiveDir) archiveFailing.set((await archiverState(pool)).failing ? 1 : 0);
  }

  async function readCluster(urls: string[]) {
    for (const metric of [clusterMember, clusterLag, clusterTimeline]) metric.reset();
    try {
      const status = await clusterStatus(urls);
      clusterUp.set(1);
      for (const member of status.members) {
        clusterMember.set({ member: member.name, role: member.role, state: member.state }, 1);
        if (member.lagBytes !== null) clusterLag.set({ member: member.name }, member.lagBytes);
        if (member.timeline !== null) clusterTimeline.set({ member: member.name }, member.timeline);
      }
    } catch {
      clusterUp.set(0);
    }
  }

  return {
    registry,
    httpDuration,
    messagesAppended,
    async refresh() {
      for (const metric of databaseGauges) metric.reset();
      try {
        await readDatabase();
        up.set(1);
      } catch {
        for (const metric of databaseGauges) metric.reset();
        up.set(0);
      }
      // Read from the file systems, so a full disk is named even while PostgreSQL cannot start.
      for (const space of folderSpaces(options.pgData, options.walArchiveDir)) {
        if (space.freeBytes !== undefined) diskFree.set({ role: space.role, folder: space.folder }, space.freeBytes);
        diskFull.set({ role: space.role, folder: space.folder }, space.full ? 1 : 0);
      }
      poolConnections.set({ state: 'in_use' }, pool.totalCount - pool.idleCount);
      poolConnections.set({ state: 'idle' }, pool.idleCount);
      poolConnections.set({ state: 'waiting' }, pool.waitingCount);
      if (options.reads) {
        for (const metric of [replicaLag, replicaLagSeconds, replicaOut]) metric.reset();
        reads.set({ target: 'primary' }, options.reads.primaryReads);
        for (const replica of options.reads.health()) {
          if (replica.lagBytes !== null) replicaLag.set({ replica: replica.name }, replica.lagBytes);
          if (replica.lagSeconds !== null) replicaLagSeconds.set({ replica: replica.name }, replica.lagSeconds);
          if (replica.cause) replicaOut.set({ replica: replica.name, reason: replica.cause }, 1);
          replicaHealthy.set({ replica: replica.name }, replica.healthy ? 1 : 0);
          reads.set({ target: replica.name }, replica.reads);
        }
      }
      if (options.patroniUrls?.length) await readCluster(options.patroniUrls);
      const backups = listBackups(options.backupDir);
      backupCount.set(backups.length);
      for (const metric of [backupAge, backupSize, backupVerified]) metric.reset();
      const newest = backups[0];
      if (newest) {
        backupAge.set((Date.now() - newest.createdAt.getTime()) / 1000);
        backupSize.set(newest.bytes);
        backupVerified.set(newest.verified ? (newest.verified.ok ? 1 : 0) : -1);
      }
    },
  };
}
