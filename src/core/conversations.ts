import type { Kysely, Selectable } from 'kysely';
import { z } from 'zod';
import { ConflictError, NotFoundError } from '../errors.ts';
import { type IdempotencyOptions, once } from '../db/idempotency.ts';
import { CORE_KEYS } from './idempotency-keys.ts';
import type { Conversations, DB } from '../db/schema.ts';
import { appendMessages, type Message, type NewMessage } from './messages.ts';
import { id, jsonObject, parse } from '../validation.ts';
import { COLUMNS } from './columns.ts';
// Says what this module's constraints mean, for the errors its statements raise.
import './constraints.ts';

/** A conversation as stored; `message_count` is kept by the database. */
export type Conversation = Selectable<Conversations>;
/** A conversation with its messages, oldest first. */
export type ConversationWithMessages = Conversation & { messages: Message[] };

export const newConversation = z.strictObject({
  user_id: id.nullish(),
  metadata: jsonObject.optional(),
});
/** A conversation to start, for a user or none. */
export type NewConversation = z.input<typeof newConversation>;

export const ending = z.strictObject({
  satisfaction_score: z.number().min(0, 'must be between 0 and 1').max(1, 'must be between 0 and 1').nullish(),
});
/** How a conversation ended: its satisfaction score, if the user gave one. */
export type Ending = z.input<typeof ending>;

/** Starts a conversation, for a known user or (no `user_id`) a speaker the assistant did not recognise. */
export async function startConversation(db: Kysely<DB>, input: NewConversation = {}, options: IdempotencyOptions = {}): Promise<Conversation> {
  const values = parse(newConversation, input, 'conversation');
  return once(db, CORE_KEYS, options, ['startConversation', values], (trx) => {
    const insert = trx.insertInto('conversations');
    const withValues = Object.keys(values).length ? insert.values(values) : insert.defaultValues();
    return withValues.returning(COLUMNS.conversations).executeTakeFirstOrThrow();
  });
}

/** Appends a user utterance and the assistant's answer as one turn (both written or neither). */
export async function appendTurn(
  db: Kysely<DB>,
  conversationId: string,
  user: Omit<NewMessage, 'role'>,
  assistant: Omit<NewMessage, 'role'>,
  options: IdempotencyOptions = {},
): Promise<Message[]> {
  return appendMessages(
    db,
    conversationId,
    [
      { ...user, role: 'user' },
      { ...assistant, role: 'assistant' },
    ],
    options,
  );
}

/** Ends an open conversation; `duration_seconds` is computed by the database. Ending twice is a `ConflictError`. */
export async function endConversation(db: Kysely<DB>, conversationId: string, input: Ending = {}): Promise<Conversation> {
  const key = parse(id, conversationId, 'conversation id');
  const { satisfaction_score } = parse(ending, input, 'conversation ending');
  const ended = await db
    .updateTable('conversations')
    .set((eb) => ({ ended_at: eb.fn<Date>('now'), satisfaction_score: satisfaction_score ?? null }))
    .where('id', '=', key)
    .where('ended_at', 'is', null)
    .returning(COLUMNS.conversations)
    .executeTakeFirst();
  if (ended) return ended;
  await getConversationRow(db, key);
  throw new ConflictError(`conversation ${key} has already ended`);
}

async function getConversationRow(db: Kysely<DB>, key: string): Promise<Conversation> {
  const row = await db.selectFrom('conversations').select(COLUMNS.conversations).where('id', '=', key).executeTakeFirst();
  if (!row) throw new NotFoundError(`conversation ${key} not found`);
  return row;
}

/** A conversation with all its messages in order, read in one snapshot. */
export async function getConversation(db: Kysely<DB>, conversationId: string): Promise<ConversationWithMessages> {
  const key = parse(id, conversationId, 'conversation id');
  return db
    .transaction()
    .setIsolationLevel('repeatable read')
    .execute(async (trx) => {
      const conversation = await getConversationRow(trx, key);
      const messages = await trx
        .selectFrom('messages')
        .select(COLUMNS.messages)
        .where('conversation_id', '=', key)
        .orderBy('timestamp')
        .orderBy('id')
        .execute();
      return { ...conversation, messages };
    });
}
