// Whether WAL archiving is keeping up: archive_command failing (a full or missing archive folder) does not stop
// commits, PostgreSQL keeps the segments in pg_wal instead, so nothing a client sees says so until pg_wal fills the
// data disk. The archiver's own statistics do.
import type pg from 'pg';
import { query } from '../db/client.ts';

export interface ArchiverState {
  /** The archiver's last attempt failed (and no later one succeeded). */
  failing: boolean;
  /** The segment it last failed to archive, and when. */
  lastFailedWal: string | null;
  lastFailedAt: Date | null;
  lastArchivedAt: Date | null;
  /** Attempts that failed since the statistics reset. */
  failedCount: number;
}

// A failure newer than the last success: the archiver retries the same segment until it succeeds, so this holds
// for as long as archiving is stuck and clears with the first segment archived after it.
const ARCHIVER = `
  SELECT failed_count::int AS failed_count, last_failed_wal, last_failed_time, last_archived_time,
         (last_failed_time IS NOT NULL AND (last_archived_time IS NULL OR last_failed_time > last_archived_time)) AS failing
    FROM pg_stat_archiver`;

export async function archiverState(pool: pg.Pool): Promise<ArchiverState> {
  const { rows } = await query<{
    failed_count: number;
    last_failed_wal: string | null;
    last_failed_time: Date | null;
    last_archived_time: Date | null;
    failing: boolean;
  }>(pool, ARCHIVER);
  const row = rows[0]!;
  return {
    failing: row.failing,
    lastFailedWal: row.last_failed_wal,
    lastFailedAt: row.last_failed_time,
    lastArchivedAt: row.last_archived_time,
    failedCount: row.failed_count,
  };
}
