import type pg from 'pg';
import { query, withClient } from '../db/client.ts';
import { ConflictError, NotFoundError } from '../errors.ts';

/** The seed's monitoring queries (the unused-index one corrected) and a few more an operator needs. */
export const MONITOR_QUERIES = {
  /** Slowest statements of this database by mean time (pg_stat_statements). */
  slow: `SELECT query, calls, round(mean_exec_time::numeric, 2)::float AS mean_ms, round(total_exec_time::numeric, 1)::float AS total_ms
           FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
          ORDER BY mean_exec_time DESC LIMIT 10`,
  /** The seed's "largest tables". */
  tables: `SELECT schemaname, tablename, pg_size_pretty(pg_total_relation_size(schemaname||'.'||tablename)) AS size
             FROM pg_tables WHERE schemaname = 'public'
            ORDER BY pg_total_relation_size(schemaname||'.'||tablename) DESC`,
  /** The seed's unused-index query, with the columns pg_stat_user_indexes really has (relname, indexrelname). */
  'unused-indexes': `SELECT s.schemaname, s.relname AS tablename, s.indexrelname AS indexname, s.idx_scan,
                            pg_size_pretty(pg_relation_size(s.indexrelid)) AS size
                       FROM pg_stat_user_indexes s JOIN pg_index i ON i.indexrelid = s.indexrelid
                      WHERE s.idx_scan = 0 AND NOT i.indisunique
                      ORDER BY pg_relation_size(s.indexrelid) DESC`,
  /** The seed's running queries. */
  active: `SELECT pid, now() - query_start AS duration, query
             FROM pg_stat_activity WHERE state = 'active' ORDER BY duration DESC`,
  'cache-hit': `SELECT datname, blks_hit, blks_read,
                       round(100.0 * blks_hit / nullif(blks_hit + blks_read, 0), 2)::float AS hit_percent
                  FROM pg_stat_database WHERE datname = current_database()`,
  connections: `SELECT coalesce(state, 'background') AS state, count(*)::int AS connections
                  FROM pg_stat_activity GROUP BY 1 ORDER BY 2 DESC`,
  bloat: `SELECT relname AS table, n_live_tup AS live_rows, n_dead_tup AS dead_rows,
                 round(100.0 * n_dead_tup / nullif(n_live_tup + n_dead_tup, 0), 1)::float AS dead_percent,
                 last_autovacuum
            FROM pg_stat_user_tables ORDER BY n_dead_tup DESC LIMIT 20`,
  replication: `SELECT application_name, client_addr::text, state, sync_state,
                       pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint AS lag_bytes, replay_lag::text
                  FROM pg_stat_replication`,
} as const;

// What /metrics reads at each scrape, beside the reports above so that monitoring SQL lives in one place.
const DATABASE_STATS = `
  SELECT pg_database_size(current_database())::float8 AS size_bytes, xact_commit::float8, xact_rollback::float8,
         deadlocks::float8, blks_hit::float8, blks_read::float8,
         (SELECT coalesce(extract(epoch FROM max(now() - xact_start)), 0)::float8
            FROM pg_stat_activity WHERE xact_start IS NOT NULL AND backend_type = 'client backend') AS longest_xact_seconds,
         CASE WHEN pg_is_in_recovery()
              THEN coalesce(extract(epoch FROM now() - pg_last_xact_replay_timestamp()), 0)::float8
              ELSE (SELECT coalesce(max(extract(epoch FROM replay_lag)), 0)::float8 FROM pg_stat_replication)
         END AS replication_lag_seconds
    FROM pg_stat_database WHERE datname = current_database()`;
const TABLE_SIZES = `
  SELECT c.relname AS table_name, pg_total_relation_size(c.oid)::float8 AS bytes
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition`;
const SLOW_STATEMENTS = `
  SELECT queryid::text, left(regexp_replace(query, '\\s+', ' ', 'g'), 80) AS query, calls::float8,
         (mean_exec_time / 1000)::float8 AS mean_seconds
    FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
   ORDER BY mean_exec_time DESC LIMIT 10`;
const JOB_RUNS = `
  SELECT DISTINCT ON (job) job, outcome, extract(epoch FROM coalesce(finished_at, started_at))::float8 AS at
    FROM mordomo_job_runs WHERE to_regclass('mordomo_job_runs') IS NOT NULL ORDER BY job, started_at DESC`;

/** The database's figures /metrics exports, read at each scrape. */
export interface DatabaseStatistics {
  sizeBytes: number;
  commits: number;
  rollbacks: number;
  deadlocks: number;
  blocksHit: number;
  blocksRead: number;
  longestTransactionSeconds: number;
  replicationLagSeconds: number;
  connections: { state: string; connections: number }[];
  tables: { table: string; bytes: number }[];
  /** The last run of each scheduled job; none before the scheduler's table exists. */
  jobs: { job: string; outcome: string; at: number }[];
  /** The 10 slowest statements; none where pg_stat_statements is missing (a managed server, say). */
  slowStatements: { queryid: string; query: string; calls: number; meanSeconds: number }[];
}

/** Reads every figure of DatabaseStatistics; fails as a whole when the database does not answer. */
export async function readDatabaseStatistics(pool: pg.Pool): Promise<DatabaseStatistics> {
  const [stats, states, tables, jobs] = await Promise.all([
    pool.query(DATABASE_STATS),
    pool.query<{ state: string; connections: number }>(MONITOR_QUERIES.connections),
    pool.query<{ table_name: string; bytes: number }>(TABLE_SIZES),
    pool.query<{ job: string; outcome: string; at: number }>(JOB_RUNS).catch(() => ({ rows: [] })),
  ]);
  const slow = await pool.query<{ queryid: string; query: string; calls: number; mean_seconds: number }>(SLOW_STATEMENTS).catch(() => ({ rows: [] }));
  const s = stats.rows[0];
  return {
    sizeBytes: s.size_bytes,
    commits: s.xact_commit,
    rollbacks: s.xact_rollback,
    deadlocks: s.deadlocks,
    blocksHit: s.blks_hit,
    blocksRead: s.blks_read,
    longestTransactionSeconds: s.longest_xact_seconds,
    replicationLagSeconds: s.replication_lag_seconds,
    connections: states.rows,
    tables: tables.rows.map((row) => ({ table: row.table_name, bytes: row.bytes })),
    jobs: jobs.rows,
    slowStatements: slow.rows.map((row) => ({ queryid: row.queryid, query: row.query, calls: row.calls, meanSeconds: row.mean_seconds })),
  };
}

export type MonitorReport = keyof typeof MONITOR_QUERIES;

export async function monitor(pool: pg.Pool, report: MonitorReport): Promise<Record<string, unknown>[]> {
  return (await query(pool, MONITOR_QUERIES[report])).rows;
}

/**
 * Ends another backend. Refuses the caller's own connection, and backends of other databases or other
 * applications than mordomo-db, unless `force`: an operator should not kill FusionPBX's sessions by a typo.
 */
export async function terminateBackend(pool: pg.Pool, pid: number, force = false): Promise<void> {
  // One client for both statements: "own connection" is the one that would terminate.
  await withClient(pool, async (client) => {
    const { rows } = await client.query<{ mine: boolean; same_db: boolean; app: string }>(
      `SELECT pid = pg_backend_pid() AS mine, datname = current_database() AS same_db, coalesce(application_name, '') AS app
         FROM pg_stat_activity WHERE pid = $1`,
      [pid],
    );
    const backend = rows[0];
    if (!backend) throw new NotFoundError(`no backend with pid ${pid}`);
    if (backend.mine) throw new ConflictError('refusing to terminate this command’s own connection');
    if (!force && (!backend.same_db || !backend.app.startsWith('mordomo'))) {
      throw new ConflictError(
        `backend ${pid} is not a mordomo-db connection of this database (application "${backend.app}"); use --force to terminate it anyway`,
      );
    }
    await client.query('SELECT pg_terminate_backend($1)', [pid]);
  });
}
