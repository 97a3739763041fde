import type pg from 'pg';
import { SEED_REPORT_SQL } from '../core/reports.ts';
import { query, withClient } from '../db/client.ts';
import { listBackups } from './backup-files.ts';
import { MONITOR_QUERIES } from './monitor.ts';
import { inClientTransaction } from '../db/transaction.ts';

/**
 * The home operator's overview: the seed's report queries (active users, top intents, latency per source) and the
 * figures around them. Each query is one readable statement; the dashboard page and the Grafana JSON show these.
 */
export const REPORT_QUERIES = {
  /** Messages per UTC day of the last 30 days, days without messages included (from message_totals, core 011). */
  messagesPerDay: `
    WITH counted AS (
           SELECT (hour AT TIME ZONE 'UTC')::date AS day, sum(messages) AS messages
             FROM message_totals((((now() AT TIME ZONE 'UTC')::date - 29)::timestamp AT TIME ZONE 'UTC'), true)
            GROUP BY 1)
    SELECT to_char(day, 'YYYY-MM-DD') AS day, coalesce(counted.messages, 0)::int AS messages
      FROM (SELECT (now() AT TIME ZONE 'UTC')::date - back AS day FROM generate_series(0, 29) AS back) days
      LEFT JOIN counted USING (day)
     ORDER BY day`,
  /** The seed's three, with the windows it gave them (latency had none). */
  topIntents: SEED_REPORT_SQL.topIntents("NOW() - INTERVAL '30 days'", '10'),
  latencyBySource: SEED_REPORT_SQL.latencyBySource("'-infinity'::timestamptz", '20'),
  activeUsers: SEED_REPORT_SQL.activeUsers("NOW() - INTERVAL '7 days'", '10'),
  /** Actions of 30 days by status. */
  actionOutcomes: `
    SELECT status, count(*)::int AS actions FROM actions
     WHERE created_at > now() - interval '30 days' GROUP BY status ORDER BY status`,
  upcomingReminders: `
    SELECT id, title, scheduled_at FROM reminders
     WHERE status = 'pending' AND scheduled_at > now() ORDER BY scheduled_at, id LIMIT 10`,
  /** Daily size samples (see migration core 009) plus the size now. */
  databaseSize: `
    SELECT to_char(sampled_on, 'YYYY-MM-DD') AS day, bytes FROM database_size_history
     WHERE sampled_on > current_date - 90 AND sampled_on < current_date
    UNION ALL
    SELECT to_char(current_date, 'YYYY-MM-DD'), pg_database_size(current_database())
     ORDER BY day`,
} as const;

/** Records today's database size (the scheduler's daily `size` job). */
export async function sampleDatabaseSize(pool: pg.Pool): Promise<number> {
  const { rows } = await query<{ bytes: number }>(
    pool,
    `
    INSERT INTO database_size_history (sampled_on, bytes) VALUES (current_date, pg_database_size(current_database()))
    ON CONFLICT (sampled_on) DO UPDATE SET bytes = EXCLUDED.bytes, sampled_at = now()
    RETURNING bytes`,
  );
  return rows[0]!.bytes;
}

export type Report = Record<keyof typeof REPORT_QUERIES | 'slowQueries', Record<string, unknown>[]> & {
  backups: { file: string; bytes: number; created_at: string; verified: boolean | null; verified_at: string | null }[];
};

/** Every dataset of the dashboard, read in one repeatable-read snapshot so the figures agree with each other. */
export async function dashboardReport(pool: pg.Pool, backupDir: string): Promise<Report> {
  const result = await withClient(pool, (client) =>
    inClientTransaction(
      client,
      async () => {
        const read: Record<string, Record<string, unknown>[]> = {};
        for (const [name, text] of Object.entries(REPORT_QUERIES)) read[name] = (await client.query(text)).rows;
        // pg_stat_statements may be absent on a managed server: the rest of the report still stands.
        await client.query('SAVEPOINT slow');
        read.slowQueries = await client.query(MONITOR_QUERIES.slow).then(
          (r) => r.rows,
          async () => {
            await client.query('ROLLBACK TO SAVEPOINT slow');
            return [];
          },
        );
        return read;
      },
      'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY',
    ),
  );
  const backups = listBackups(backupDir)
    .slice(0, 10)
    .map((b) => ({
      file: b.file.split('/').pop()!,
      bytes: b.bytes,
      created_at: b.createdAt.toISOString(),
      verified: b.verified ? b.verified.ok : null,
      verified_at: b.verified?.at ?? null,
    }));
  return { ...(result as Omit<Report, 'backups'>), backups };
}
