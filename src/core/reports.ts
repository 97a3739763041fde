import { CompiledQuery, type Kysely, sql } from 'kysely';
import { z } from 'zod';

import type { DB } from '../db/schema.ts';
import { parse } from '../validation.ts';

/**
 * Reports for the Dashboard UI: the seed's three useful queries with their window as a parameter, and the figures
 * an operator asks next. The SQL of the seed's three is shared with the dashboard and Grafana (src/ops/reports.ts),
 * which use fixed windows: `since` is the SQL of the window's start.
 */
export const SEED_REPORT_SQL = {
  /**
   * The seed's "most active users" (it used 7 days). The seed joined every message of the window's conversations
   * to count them; conversations.message_count holds that count (kept by the messages triggers), so the report
   * reads conversations only: at 10M messages, a week's conversations instead of a week's messages.
   */
  activeUsers: (since: string, limit: string) => `
    SELECT u.name, COUNT(c.id)::int AS conversations, COALESCE(SUM(c.message_count), 0)::int AS messages
      FROM users u
      JOIN conversations c ON u.id = c.user_id
     WHERE c.started_at > ${since}
     GROUP BY u.id, u.name ORDER BY messages DESC, u.name LIMIT ${limit}`,
  /**
   * The seed's "most common intents" (30 days), with their mean confidence; and its "mean latency per container"
   * (the source named in the message metadata). Both read the hourly sums of message_totals() (migration core
   * 011): rolled-up days from the rollup, the rest of the window from the messages, the same figures either way.
   */
  topIntents: (since: string, limit: string) => `
    SELECT intent, sum(messages)::int AS count,
           round((sum(confidence_sum) / nullif(sum(confidence_count), 0))::numeric, 3)::float AS avg_confidence
      FROM message_totals(${since})
     WHERE intent IS NOT NULL
     GROUP BY intent ORDER BY count DESC, intent LIMIT ${limit}`,
  latencyBySource: (since: string, limit: string) => `
    SELECT source, round(sum(latency_sum)::numeric / sum(latency_count))::int AS avg_latency_ms,
           max(latency_max) AS max_latency_ms
      FROM message_totals(${since})
     WHERE latency_count > 0
     GROUP BY source ORDER BY avg_latency_ms DESC LIMIT ${limit}`,
} as const;

const windowOptions = (days: number) =>
  z.strictObject({ days: z.number().int().min(1).max(3650).default(days), limit: z.number().int().min(1).max(1000).default(10) });
type Window = { days?: number; limit?: number };

const SINCE = 'now() - make_interval(days => $1)';

async function rows<T>(db: Kysely<DB>, text: string, values: unknown[]): Promise<T[]> {
  return (await db.executeQuery<T>(CompiledQuery.raw(text, values))).rows;
}

/** A row of the seed's most active users of the last 7 days. */
export interface ActiveUser {
  name: string;
  conversations: number;
  messages: number;
}
/** A row of the seed's most common intents of the last 30 days. */
export interface IntentCount {
  intent: string;
  count: number;
  avg_confidence: number | null;
}
/** A row of the seed's latency by container (metadata.source). */
export interface SourceLatency {
  source: string;
  avg_latency_ms: number;
  max_latency_ms: number;
}

/** Users with the most messages in conversations started in the last `days` (7). */
export async function activeUsers(db: Kysely<DB>, options: Window = {}): Promise<ActiveUser[]> {
  const { days, limit } = parse(windowOptions(7), options, 'report options');
  return rows(db, SEED_REPORT_SQL.activeUsers(SINCE, '$2'), [days, limit]);
}

/** The most frequent intents of the last `days` (30) with their mean confidence. */
export async function topIntents(db: Kysely<DB>, options: Window = {}): Promise<IntentCount[]> {
  const { days, limit } = parse(windowOptions(30), options, 'report options');
  return rows(db, SEED_REPORT_SQL.topIntents(SINCE, '$2'), [days, limit]);
}

/** Mean and maximum latency per source of the last `days` (30), slowest first. */
export async function latencyBySource(db: Kysely<DB>, options: Window = {}): Promise<SourceLatency[]> {
  const { days, limit } = parse(windowOptions(30), options, 'report options');
  return rows(db, SEED_REPORT_SQL.latencyBySource(SINCE, '$2'), [days, limit]);
}

const perOptions = z.strictObject({ unit: z.enum(['day', 'hour']).default('day'), days: z.number().int().min(1).max(366).default(30) });

/** Messages per UTC day or hour of the last `days`, empty periods included (a chart needs them). */
export async function messagesPer(db: Kysely<DB>, options: z.input<typeof perOptions> = {}): Promise<{ period: Date; messages: number }[]> {
  const { unit, days } = parse(perOptions, options, 'report options');
  const step = sql`make_interval(hours => ${unit === 'day' ? 24 : 1})`;
  const { rows: result } = await sql<{ period: Date; messages: number }>`
      WITH start AS (SELECT date_trunc(${unit}, now() - make_interval(days => ${days}), 'UTC') AS at),
           counted AS (SELECT date_trunc(${unit}, hour, 'UTC') AS period, sum(messages) AS messages
                         FROM start, message_totals(start.at, true) GROUP BY 1)
      SELECT period, coalesce(counted.messages, 0)::int AS messages
        FROM start, generate_series(start.at, now(), ${step}) AS period
        LEFT JOIN counted USING (period)
       ORDER BY period`.execute(db);
  return result;
}

const percentileOptions = z.strictObject({
  by: z.enum(['source', 'transcription_model']).default('source'),
  days: z.number().int().min(1).max(3650).default(30),
});

/**
 * Latency p50/p95/p99 per source (metadata) or per transcription model, of the last `days`. Computed from how many
 * messages had each latency (message_latencies(), rolled up per day), exactly as percentile_cont would: the
 * value at rank f·(n−1), interpolated between the two neighbouring ranks.
 */
export async function latencyPercentiles(
  db: Kysely<DB>,
  options: z.input<typeof percentileOptions> = {},
): Promise<{ key: string; messages: number; p50: number; p95: number; p99: number }[]> {
  const { by, days } = parse(percentileOptions, options, 'report options');
  const { rows: result } = await sql<{ key: string; messages: number; p50: number; p95: number; p99: number }>`
      WITH counts AS (
             SELECT key, latency_ms, sum(messages) OVER (PARTITION BY key ORDER BY latency_ms) AS up_to,
                    sum(messages) OVER (PARTITION BY key) AS total
               FROM message_latencies(now() - make_interval(days => ${days}), ${by})),
           ranks AS (
             SELECT k.key, k.total, q.f, q.f * (k.total - 1)::float8 AS rank
               FROM (SELECT DISTINCT key, total FROM counts) k
              CROSS JOIN (VALUES (0.5::float8), (0.95::float8), (0.99::float8)) AS q(f)),
           valued AS (
             SELECT r.key, r.total, r.f, r.rank,
                    (SELECT c.latency_ms FROM counts c WHERE c.key = r.key AND c.up_to > floor(r.rank) ORDER BY c.latency_ms LIMIT 1)::float8 AS below,
                    (SELECT c.latency_ms FROM counts c WHERE c.key = r.key AND c.up_to > ceil(r.rank) ORDER BY c.latency_ms LIMIT 1)::float8 AS above
               FROM ranks r),
           percentiles AS (
             SELECT key, total, f, below + (above - below) * (rank - floor(rank)) AS value FROM valued)
      SELECT key, total::int AS messages,
             max(value) FILTER (WHERE f = 0.5) AS p50,
             max(value) FILTER (WHERE f = 0.95) AS p95,
             max(value) FILTER (WHERE f = 0.99) AS p99
        FROM percentiles
       GROUP BY key, total
       ORDER BY p95 DESC, key`.execute(db);
  return result;
}

/** Finished actions of the last `days` by type: how many succeeded, failed, and the success rate (0..1). */
export async function actionSuccessByType(
  db: Kysely<DB>,
  options: { days?: number } = {},
): Promise<{ action_type: string; finished: number; succeeded: number; failed: number; success_rate: number }[]> {
  const { days } = parse(z.strictObject({ days: z.number().int().min(1).max(3650).default(30) }), options, 'report options');
  const { rows: result } = await sql<{ action_type: string; finished: number; succeeded: number; failed: number; success_rate: number }>`
      SELECT action_type, count(*)::int AS finished,
             count(*) FILTER (WHERE status = 'success')::int AS succeeded,
             count(*) FILTER (WHERE status = 'failed')::int AS failed,
             round(count(*) FILTER (WHERE status = 'success')::numeric / count(*), 4)::float AS success_rate
        FROM actions
       WHERE status IN ('success', 'failed') AND created_at > now() - make_interval(days => ${days})
       GROUP BY action_type ORDER BY action_type`.execute(db);
  return result;
}

/** Pending reminders whose time has passed (nobody was told: the service was down, or nothing listens). */
export async function overdueReminders(db: Kysely<DB>): Promise<{ id: string; title: string; scheduled_at: Date; overdue_seconds: number }[]> {
  const { rows: result } = await sql<{ id: string; title: string; scheduled_at: Date; overdue_seconds: number }>`
      SELECT id, title, scheduled_at, extract(epoch FROM now() - scheduled_at)::int AS overdue_seconds
        FROM reminders WHERE status = 'pending' AND scheduled_at < now() ORDER BY scheduled_at, id`.execute(db);
  return result;
}

/** Mean satisfaction of conversations ended in each ISO week (Monday, UTC) of the last `weeks`. */
export async function satisfactionByWeek(db: Kysely<DB>, options: { weeks?: number } = {}): Promise<{ week: Date; conversations: number; average: number }[]> {
  const { weeks } = parse(z.strictObject({ weeks: z.number().int().min(1).max(520).default(12) }), options, 'report options');
  const { rows: result } = await sql<{ week: Date; conversations: number; average: number }>`
      SELECT date_trunc('week', ended_at, 'UTC') AS week, count(*)::int AS conversations,
             round(avg(satisfaction_score)::numeric, 3)::float AS average
        FROM conversations
       WHERE satisfaction_score IS NOT NULL AND ended_at > now() - make_interval(weeks => ${weeks})
       GROUP BY 1 ORDER BY 1`.execute(db);
  return result;
}

/** How many conversations of the last `days` have 1, 2–5, 6–10, 11–20 and more than 20 messages. */
export async function conversationLengths(db: Kysely<DB>, options: { days?: number } = {}): Promise<{ bucket: string; conversations: number }[]> {
  const { days } = parse(z.strictObject({ days: z.number().int().min(1).max(3650).default(30) }), options, 'report options');
  const { rows: result } = await sql<{ bucket: string; conversations: number }>`
      SELECT b.bucket, count(c.id)::int AS conversations
        FROM (VALUES (1, '1', 1, 1), (2, '2-5', 2, 5), (3, '6-10', 6, 10), (4, '11-20', 11, 20), (5, '21+', 21, 2147483647))
             AS b(ord, bucket, low, high)
        LEFT JOIN conversations c ON c.message_count BETWEEN b.low AND b.high AND c.started_at > now() - make_interval(days => ${days})
       GROUP BY b.ord, b.bucket ORDER BY b.ord`.execute(db);
  return result;
}
