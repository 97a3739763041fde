import { type Kysely, type Selectable, sql } from 'kysely';
import { z } from 'zod';

import { type IdempotencyOptions, once } from '../db/idempotency.ts';
import { CORE_KEYS } from './idempotency-keys.ts';
import type { DB, SystemLogs } from '../db/schema.ts';
import { instant, jsonObject, limit, parse, position, requiredText } from '../validation.ts';
import { COLUMNS } from './columns.ts';

/** A system log line as stored. */
export type LogLine = Selectable<SystemLogs>;
/** The levels a log line may have. */
export const LEVELS = ['DEBUG', 'INFO', 'WARN', 'ERROR'] as const;

export const newLog = z.strictObject({
  level: z.enum(LEVELS, { message: 'must be DEBUG, INFO, WARN or ERROR' }),
  source: requiredText(100),
  message: requiredText(100_000),
  metadata: jsonObject.optional(),
});
/** A log line to write. */
export type NewLogLine = z.input<typeof newLog>;

const batch = z.array(newLog).min(1, 'at least one log line').max(10_000, 'at most 10000 log lines per call');

/**
 * Writes log lines in one statement (all or none); the rows travel as one jsonb parameter, so a batch of
 * thousands costs one round trip and no parameter-count limit applies.
 */
export async function writeLogs(db: Kysely<DB>, lines: NewLogLine[], options: IdempotencyOptions = {}): Promise<number> {
  const rows = parse(batch, lines, 'log lines');
  return once(db, CORE_KEYS, options, ['writeLogs', rows], (trx) => insertLogs(trx, rows));
}

async function insertLogs(db: Kysely<DB>, rows: z.output<typeof batch>): Promise<number> {
  const result = await sql`
    INSERT INTO system_logs (level, source, message, metadata)
    SELECT level, source, message, COALESCE(metadata, '{}')
      FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb)
        AS l(level text, source text, message text, metadata jsonb)`.execute(db);
  return Number(result.numAffectedRows ?? 0n);
}

/** Writes one log line. */
export async function writeLog(db: Kysely<DB>, line: NewLogLine): Promise<void> {
  await writeLogs(db, [line]);
}

const logQuery = z.strictObject({
  level: z.enum(LEVELS).optional(),
  source: requiredText(100).optional(),
  from: instant.optional(),
  to: instant.optional(),
  limit: limit(10_000, 100),
  before: position.optional(),
});
/** Filters of a log query: level, source, time range, and the page. */
export type LogQuery = z.input<typeof logQuery>;

/** Log lines matching the filters, newest first; the time range lets PostgreSQL skip whole day partitions. */
export async function queryLogs(db: Kysely<DB>, query: LogQuery = {}): Promise<LogLine[]> {
  const q = parse(logQuery, query, 'log query');
  let select = db.selectFrom('system_logs').select(COLUMNS.system_logs);
  if (q.level) select = select.where('level', '=', q.level);
  if (q.source) select = select.where('source', '=', q.source);
  if (q.from) select = select.where('timestamp', '>=', q.from);
  if (q.to) select = select.where('timestamp', '<', q.to);
  const before = q.before;
  // `at` narrows the lookup of the position's row (and its exact timestamp) to the partitions around it.
  if (before) {
    select = select.where(
      sql<boolean>`(timestamp, id) < (coalesce((SELECT timestamp FROM system_logs WHERE id = ${before.id}::bigint AND timestamp BETWEEN ${before.at}::timestamptz - interval '1 millisecond' AND ${before.at}::timestamptz + interval '1 millisecond'), ${before.at}), ${before.id}::bigint)`,
    );
  }
  return select.orderBy('timestamp', 'desc').orderBy('id', 'desc').limit(q.limit).execute();
}
