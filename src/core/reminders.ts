import { type Kysely, type Selectable, sql } from 'kysely';
import { z } from 'zod';
import { ConflictError, NotFoundError } from '../errors.ts';
import { type IdempotencyOptions, once } from '../db/idempotency.ts';
import { CORE_KEYS } from './idempotency-keys.ts';
import type { DB, Reminders } from '../db/schema.ts';
import { id, instant, jsonObject, limit, parse, position, requiredText, text } from '../validation.ts';
import { COLUMNS, columnList } from './columns.ts';
import { afterPosition } from '../db/paging.ts';

/** A reminder as stored. */
export type Reminder = Selectable<Reminders>;

export const newReminder = z.strictObject({
  user_id: id.nullish(),
  title: requiredText(255),
  description: text(10_000).nullish(),
  scheduled_at: instant,
  metadata: jsonObject.optional(),
});
/** A reminder to create: whose, what, and when it is due. */
export type NewReminder = z.input<typeof newReminder>;

/** Creates a pending reminder. One scheduled in the past is simply due at once. */
export async function createReminder(db: Kysely<DB>, input: NewReminder, options: IdempotencyOptions = {}): Promise<Reminder> {
  const values = parse(newReminder, input, 'reminder');
  return once(db, CORE_KEYS, options, ['createReminder', values], (trx) =>
    trx.insertInto('reminders').values(values).returning(COLUMNS.reminders).executeTakeFirstOrThrow(),
  );
}

/** Cancels a pending reminder; one already triggered or cancelled is a `ConflictError`. */
export async function cancelReminder(db: Kysely<DB>, reminderId: string): Promise<Reminder> {
  const key = parse(id, reminderId, 'reminder id');
  const cancelled = await db
    .updateTable('reminders')
    .set({ status: 'cancelled' })
    .where('id', '=', key)
    .where('status', '=', 'pending')
    .returning(COLUMNS.reminders)
    .executeTakeFirst();
  if (cancelled) return cancelled;
  const current = await db.selectFrom('reminders').select('status').where('id', '=', key).executeTakeFirst();
  if (!current) throw new NotFoundError(`reminder ${key} not found`);
  throw new ConflictError(`reminder ${key} is ${current.status}, only a pending reminder can be cancelled`);
}

const upcomingOptions = z.strictObject({ user_id: id.optional(), limit: limit(1000, 50), after: position.optional() });
/** A page of pending reminders not yet due, for one user or all. */
export type UpcomingOptions = z.input<typeof upcomingOptions>;

/** Pending reminders not yet due, soonest first; `after` continues from the last one of the previous page. */
export async function upcomingReminders(db: Kysely<DB>, options: UpcomingOptions = {}): Promise<Reminder[]> {
  const { user_id, limit: count, after } = parse(upcomingOptions, options, 'upcoming options');
  let query = db.selectFrom('reminders').select(COLUMNS.reminders).where('status', '=', 'pending').where('scheduled_at', '>', sql<Date>`now()`);
  if (user_id) query = query.where('user_id', '=', user_id);
  // The position's own row gives the exact timestamp; `at` serves only if that row is gone.
  if (after) query = query.where(afterPosition('reminders', 'id', after, 'scheduled_at'));
  return query.orderBy('scheduled_at').orderBy('id').limit(count).execute();
}

/** The channel on which claimed reminders are announced (`LISTEN mordomo_reminders` from any database client). */
export const REMINDER_CHANNEL = 'mordomo_reminders';

/**
 * Marks due reminders triggered. `FOR UPDATE SKIP LOCKED` lets several workers claim at once without blocking
 * each other or taking the same reminder twice.
 */
const claimDue = (count: number) => sql`
  UPDATE reminders r
     SET status = 'triggered', triggered_at = now()
    FROM (SELECT id FROM reminders
           WHERE status = 'pending' AND scheduled_at <= now()
           ORDER BY scheduled_at
           LIMIT ${count}
           FOR UPDATE SKIP LOCKED) due
   WHERE r.id = due.id
  RETURNING ${sql.raw(columnList('reminders', 'r'))}`;

const claimOptions = z.strictObject({ limit: limit(1000, 100) });

/** Claims due reminders (see `claimDue`) and returns them, soonest first. */
export async function claimDueReminders(db: Kysely<DB>, options: { limit?: number } = {}): Promise<Reminder[]> {
  const { limit: count } = parse(claimOptions, options, 'claim options');
  const { rows } = await claimDue(count).execute(db);
  return (rows as Reminder[]).sort((a, b) => a.scheduled_at.getTime() - b.scheduled_at.getTime());
}

/** What `announceDueReminders` sends on `REMINDER_CHANNEL` (NOTIFY payloads are capped at 8000 bytes). */
export interface ReminderAnnouncement {
  id: string;
  user_id: string | null;
  title: string;
  scheduled_at: string;
  triggered_at: string;
}

/**
 * Claims due reminders and announces each on `REMINDER_CHANNEL` in the same statement: the NOTIFY is sent when the
 * claim commits and not otherwise, so every due reminder is announced exactly once, however many services run.
 */
export async function announceDueReminders(db: Kysely<DB>, options: { limit?: number } = {}): Promise<number> {
  const { limit: count } = parse(claimOptions, options, 'claim options');
  const { rows } = await sql<{ announced: number }>`
    WITH claimed AS (${claimDue(count)})
    SELECT count(pg_notify(${REMINDER_CHANNEL}, json_build_object(
             'id', id, 'user_id', user_id, 'title', title, 'scheduled_at', scheduled_at, 'triggered_at', triggered_at)::text))::int
             AS announced
      FROM claimed`.execute(db);
  return rows[0]?.announced ?? 0;
}
