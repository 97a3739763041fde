import type pg from 'pg';
import { ConflictError, mapErrors, NotFoundError } from '../errors.ts';

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

export type MonitorReport = keyof typeof MONITOR_QUERIES;

export async function monitor(pool: pg.Pool, report: MonitorReport): Promise<Record<string, unknown>[]> {
  return mapErrors(async () => (await pool.query(MONITOR_QUERIES[report])).rows);
}

/**
 * Ends another backend. Refuses the caller's own connection, and backends of other databases or other
 * applications than mordomo-db, unless `force`: an operator should not kill FusionPBX's sessions by a typo.
 */
export async function terminateBackend(pool: pg.Pool, pid: number, force = false): Promise<void> {
  await mapErrors(async () => {
    const client = await pool.connect();
    try {
      const { rows } = await client.query<{ mine: boolean; same_db: boolean; app: string }>(
        `SELECT pid = pg_backend_pid() AS mine, datname = current_database() AS same_db, coalesce(application_name, '') AS app
           FROM pg_stat_activity WHERE pid = $1`,
        [pid],
      );
      const backend = rows[0];
      if (!backend) throw new NotFoundError(`no backend with pid ${pid}`);
      if (backend.mine) throw new ConflictError('refusing to terminate this command’s own connection');
      if (!force && (!backend.same_db || !backend.app.startsWith('mordomo'))) {
        throw new ConflictError(`backend ${pid} is not a mordomo-db connection of this database (application "${backend.app}"); use --force to terminate it anyway`);
      }
      await client.query('SELECT pg_terminate_backend($1)', [pid]);
    } finally {
      client.release();
    }
  });
}
