import type pg from 'pg';
import { query } from '../db/client.ts';

/** Daily system_logs partitions that exist from today (UTC) on, i.e. how many days ahead inserts are covered. */
export async function partitionsAhead(pool: pg.Pool): Promise<number> {
  const { rows } = await query<{ ahead: number }>(
    pool,
    `
    SELECT count(*)::int AS ahead
      FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = 'system_logs'::regclass
       AND c.relname ~ '^system_logs_y\\d{4}m\\d{2}d\\d{2}$'
       AND to_date(substring(c.relname FROM 14), 'YYYY"m"MM"d"DD') >= (now() AT TIME ZONE 'UTC')::date`,
  );
  return rows[0]!.ahead;
}

export interface PartitionMaintenance {
  created: number;
  dropped: number;
  ahead: number;
}

/**
 * Creates the daily log partitions for today and the next `daysAhead` days (moving rows that fell into the
 * default partition) and drops whole partitions older than `retentionDays`.
 */
export async function maintainPartitions(pool: pg.Pool, daysAhead = 7, retentionDays = 30): Promise<PartitionMaintenance> {
  const made = await query<{ n: number }>(pool, 'SELECT create_system_logs_partitions($1::int) AS n', [daysAhead]);
  const gone = await query<{ n: number }>(pool, 'SELECT cleanup_old_logs(make_interval(days => $1::int)) AS n', [retentionDays]);
  return { created: made.rows[0]!.n, dropped: gone.rows[0]!.n, ahead: await partitionsAhead(pool) };
}
