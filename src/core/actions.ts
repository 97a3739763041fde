import { type Kysely, type Selectable, sql } from 'kysely';
import { z } from 'zod';
import { ConflictError, NotFoundError } from '../errors.ts';
import { type IdempotencyOptions, once } from '../db/idempotency.ts';
import { CORE_KEYS } from './idempotency-keys.ts';
import type { Actions, DB } from '../db/schema.ts';
import { id, json, parse, requiredText, text } from '../validation.ts';
import { COLUMNS } from './columns.ts';

/** An action a message asked for, as stored. */
export type Action = Selectable<Actions>;
/** Where an action is: pending → executing → success | failed. */
export type ActionStatus = 'pending' | 'executing' | 'success' | 'failed';

export const newAction = z.strictObject({
  message_id: id,
  action_type: requiredText(100),
  action_name: requiredText(255),
  parameters: json,
});
/** An action to record for a message. */
export type NewAction = z.input<typeof newAction>;

/** Records an action requested by a message; its conversation is taken from the message. */
export async function recordAction(db: Kysely<DB>, input: NewAction, options: IdempotencyOptions = {}): Promise<Action> {
  const values = parse(newAction, input, 'action');
  return once(db, CORE_KEYS, options, ['recordAction', values], (trx) => insertAction(trx, values));
}

async function insertAction(db: Kysely<DB>, values: z.output<typeof newAction>): Promise<Action> {
  const inserted = await db
    .insertInto('actions')
    .columns(['message_id', 'conversation_id', 'action_type', 'action_name', 'parameters'])
    .expression((eb) =>
      eb
        .selectFrom('messages')
        .select([
          'id',
          'conversation_id',
          sql.val(values.action_type).as('action_type'),
          sql.val(values.action_name).as('action_name'),
          sql`${JSON.stringify(values.parameters)}::jsonb`.as('parameters'),
        ])
        .where('id', '=', values.message_id),
    )
    .returning(COLUMNS.actions)
    .executeTakeFirst();
  if (!inserted) throw new NotFoundError(`message ${values.message_id} not found`);
  return inserted;
}

const NEXT: Record<ActionStatus, ActionStatus[]> = {
  pending: ['executing'],
  executing: ['success', 'failed'],
  success: [],
  failed: [],
};

export const outcome = z.strictObject({
  result: json.nullish(),
  error_message: text(10_000).nullish(),
});
/** How an action ended: its result, or its error message. */
export type ActionOutcome = z.input<typeof outcome>;

/**
 * Moves an action forward: pending → executing → success | failed. Any other move is a `ConflictError` that names
 * the current state; the database refuses it too (trigger), whoever the client is.
 */
export async function transitionAction(db: Kysely<DB>, actionId: string, to: ActionStatus, details: ActionOutcome = {}): Promise<Action> {
  const key = parse(id, actionId, 'action id');
  const target = parse(z.enum(['pending', 'executing', 'success', 'failed']), to, 'action status');
  const { result, error_message } = parse(outcome, details, 'action outcome');
  const from = (Object.keys(NEXT) as ActionStatus[]).find((state) => NEXT[state].includes(target));
  if (from) {
    const updated = await db
      .updateTable('actions')
      .set({
        status: target,
        ...(result !== undefined ? { result: result === null ? null : sql`${JSON.stringify(result)}::jsonb` } : {}),
        ...(error_message !== undefined ? { error_message } : {}),
      })
      .where('id', '=', key)
      .where('status', '=', from)
      .returning(COLUMNS.actions)
      .executeTakeFirst();
    if (updated) return updated;
  }
  const current = await db.selectFrom('actions').select('status').where('id', '=', key).executeTakeFirst();
  if (!current) throw new NotFoundError(`action ${key} not found`);
  throw new ConflictError(`action ${key} cannot go from ${current.status} to ${target} (allowed: pending -> executing -> success | failed)`);
}

/** The action with this id, or `NotFoundError`. */
export async function getAction(db: Kysely<DB>, actionId: string): Promise<Action> {
  const key = parse(id, actionId, 'action id');
  const action = await db.selectFrom('actions').select(COLUMNS.actions).where('id', '=', key).executeTakeFirst();
  if (!action) throw new NotFoundError(`action ${key} not found`);
  return action;
}
