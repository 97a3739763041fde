import { type Kysely, type Selectable, sql } from 'kysely';
import { z } from 'zod';
import { ConflictError, mapErrors, NotFoundError } from '../db/errors.ts';
import type { DB, Reminders } from '../db/schema.ts';
import { id, instant, jsonObject, limit, parse, requiredText, text } from '../db/validation.ts';

export type Reminder = Selectable<Reminders>;

const newReminder = z.strictObject({
  user_id: id.nullish(),
  title: requiredText(255),
  description: text(10_000).nullish(),
  scheduled_at: instant,
  metadata: jsonObject.optional(),
});
export type NewReminder = z.input<typeof newReminder>;

/** Creates a pending reminder. One scheduled in the past is simply due at once. */
export async function createReminder(db: Kysely<DB>, input: NewReminder): Promise<Reminder> {
  const values = parse(newReminder, input, 'reminder');
  return mapErrors(() => db.insertInto('reminders').values(values).returningAll().executeTakeFirstOrThrow());
}

/** Cancels a pending reminder; one already triggered or cancelled is a `ConflictError`. */
export async function cancelReminder(db: Kysely<DB>, reminderId: string): Promise<Reminder> {
  const key = parse(id, reminderId, 'reminder id');
  const cancelled = await mapErrors(() =>
    db
      .updateTable('reminders')
      .set({ status: 'cancelled' })
      .where('id', '=', key)
      .where('status', '=', 'pending')
      .returningAll()
      .executeTakeFirst(),
  );
  if (cancelled) return cancelled;
  const current = await mapErrors(() => db.selectFrom('reminders').select('status').where('id', '=', key).executeTakeFirst());
  if (!current) throw new NotFoundError(`reminder ${key} not found`);
  throw new ConflictError(`reminder ${key} is ${current.status}, only a pending reminder can be cancelled`);
}

const upcomingOptions = z.strictObject({ user_id: id.optional(), limit: limit(1000, 50) });
export type UpcomingOptions = z.input<typeof upcomingOptions>;

/** Pending reminders not yet due, soonest first. */
export async function upcomingReminders(db: Kysely<DB>, options: UpcomingOptions = {}): Promise<Reminder[]> {
  const { user_id, limit: count } = parse(upcomingOptions, options, 'upcoming options');
  return mapErrors(() => {
    let query = db
      .selectFrom('reminders')
      .selectAll()
      .where('status', '=', 'pending')
      .where('scheduled_at', '>', sql<Date>`now()`);
    if (user_id) query = query.where('user_id', '=', user_id);
    return query.orderBy('scheduled_at').orderBy('id').limit(count).execute();
  });
}

/**
 * Marks due reminders triggered and returns them. `FOR UPDATE SKIP LOCKED` lets several workers claim at once
 * without blocking each other or taking the same reminder twice.
 */
export async function claimDueReminders(db: Kysely<DB>, options: { limit?: number } = {}): Promise<Reminder[]> {
  const { limit: count } = parse(z.strictObject({ limit: limit(1000, 100) }), options, 'claim options');
  return mapErrors(async () => {
    const { rows } = await sql<Reminder>`
      UPDATE reminders r
         SET status = 'triggered', triggered_at = now()
        FROM (SELECT id FROM reminders
               WHERE status = 'pending' AND scheduled_at <= now()
               ORDER BY scheduled_at
               LIMIT ${count}
               FOR UPDATE SKIP LOCKED) due
       WHERE r.id = due.id
      RETURNING r.*`.execute(db);
    return rows.sort((a, b) => a.scheduled_at.getTime() - b.scheduled_at.getTime());
  });
}
