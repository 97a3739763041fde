import { type RawBuilder, sql } from 'kysely';
import { z } from 'zod';
import { limit, position } from '../validation.ts';

/**
 * Keyset pages in creation order: `limit` rows after a position (the creation time and id of the last row of the
 * previous page), so a page never repeats or skips a row however the set changes between calls. The IVR's lists
 * take these options: without them a list is whole up to 1000 rows, which a domain's configuration never
 * reaches; calls grow without bound and default to 50.
 */
export const pageOptions = (fallback: number) => z.strictObject({ limit: limit(1000, fallback), after: position.optional() });
/** A page of a list: `limit`, and `after`, the position the previous page ended at (its `next_cursor`). */
export type PageOptions = z.input<ReturnType<typeof pageOptions>>;

/**
 * Rows strictly after `after` in (`order`, key) order, `order` being created_at unless said. The position's own row
 * gives the exact (microsecond) timestamp, which a Date in a cursor has lost; `at` serves only if that row is gone.
 * The one keyset condition of uuid-keyed lists; system_logs (bigint ids, newest first, a window that lets
 * PostgreSQL skip partitions) and the IVR's call history (a fixed statement the benchmark replays) write their own.
 */
export function afterPosition(table: string, key: string, after: z.output<typeof position> | undefined, order = 'created_at'): RawBuilder<boolean> {
  if (!after) return sql<boolean>`true`;
  const [column, id, ordered] = [sql.ref(key), after.id, sql.ref(order)];
  return sql<boolean>`(${ordered}, ${column}) > (coalesce((SELECT ${ordered} FROM ${sql.table(table)} WHERE ${column} = ${id}::uuid), ${after.at}), ${id}::uuid)`;
}
