import { CompiledQuery, type Kysely, type Selectable } from 'kysely';
import { z } from 'zod';
import { ConflictError, NotFoundError } from '../errors.ts';
import { type IdempotencyOptions, once } from '../db/idempotency.ts';
import { CORE_KEYS } from './idempotency-keys.ts';
import type { DB, Messages } from '../db/schema.ts';
import { id, instant, json, jsonObject, limit, parse, position, requiredText, text } from '../validation.ts';
import { columnList } from './columns.ts';
import { coalescedAppend, type QueuedTurn } from './append-batches.ts';

/** Every column of a message, named (see core/columns.ts). */
const MESSAGE_COLUMNS = columnList('messages');

// search_vector (the stored search lexemes, migration core 018) serves the search index and is never read back.
/** A message as stored (without its search lexemes). */
export type Message = Omit<Selectable<Messages>, 'search_vector'>;

/** Who said a message. */
export const ROLES = ['user', 'assistant', 'system'] as const;

export const newMessage = z.strictObject({
  role: z.enum(ROLES, { message: 'must be user, assistant or system' }),
  content: requiredText(1_000_000),
  latency_ms: z.number().int().min(0).max(2_147_483_647).nullish(),
  intent: text(100).nullish(),
  confidence: z.number().min(0).max(1).nullish(),
  rag_context: json.nullish(),
  audio_duration_ms: z.number().int().min(0).max(2_147_483_647).nullish(),
  transcription_model: text(50).nullish(),
  metadata: jsonObject.optional(),
});
/** A message to append: its content and what the pipeline measured of it. */
export type NewMessage = z.input<typeof newMessage>;

const newMessages = z.array(newMessage).min(1, 'at least one message').max(1000, 'at most 1000 messages per call');

/**
 * One statement appends the whole batch: the rows arrive as one jsonb parameter, and joining the conversation
 * both checks it exists and refuses an ended one without a second round trip. Timestamps have millisecond
 * precision (what a JS Date holds), so within a conversation each message gets a distinct, increasing one: the
 * batch's rows are 1 ms apart, starting after the conversation's latest message even when that is less than a
 * millisecond old. A timestamp is thus a usable history cursor and a turn reads back in the order it was given.
 * A fixed text, like the history reads below: the hot write of every turn is not rebuilt per call.
 */
const APPEND_MESSAGES = `
    INSERT INTO messages (conversation_id, role, content, timestamp, latency_ms, intent, confidence,
                          rag_context, audio_duration_ms, transcription_model, metadata)
    SELECT c.id, m.role, m.content, start.at + (m.ord - 1) * interval '1 millisecond', m.latency_ms, m.intent,
           m.confidence, m.rag_context, m.audio_duration_ms, m.transcription_model, COALESCE(m.metadata, '{}')
      FROM conversations c
     CROSS JOIN ROWS FROM (jsonb_to_recordset($1::jsonb)
               AS (role text, content text, latency_ms integer, intent text, confidence float8, rag_context jsonb,
                   audio_duration_ms integer, transcription_model text, metadata jsonb))
           WITH ORDINALITY AS m(role, content, latency_ms, intent, confidence, rag_context, audio_duration_ms,
                                transcription_model, metadata, ord)
     CROSS JOIN LATERAL (SELECT GREATEST(now(), max(timestamp) + interval '1 millisecond') AS at
                           FROM messages WHERE conversation_id = c.id) start
     WHERE c.id = $2::uuid AND c.ended_at IS NULL
    RETURNING ${MESSAGE_COLUMNS}`;

const appendStatement = (conversationId: string, rows: unknown[]) => CompiledQuery.raw(APPEND_MESSAGES, [JSON.stringify(rows), conversationId]);

/** The SQL text and parameters of an append, for benchmarks that replay it through pgbench. */
export function compileAppend(conversationId: string, messages: NewMessage[]) {
  return appendStatement(parse(id, conversationId, 'conversation id'), parse(newMessages, messages, 'messages'));
}

/**
 * Appends messages to an open conversation in one statement (so all or none are written). `message_count` and
 * the user's `last_interaction_at` follow by trigger. Unknown conversation: `NotFoundError`; ended: `ConflictError`.
 */
export async function appendMessages(db: Kysely<DB>, conversationId: string, messages: NewMessage[], options: IdempotencyOptions = {}): Promise<Message[]> {
  const key = parse(id, conversationId, 'conversation id');
  const rows = parse(newMessages, messages, 'messages');
  // Coalesced with other callers' turns (append-batches.ts) unless it must run in a transaction: the caller's own,
  // whose other statements must see it and roll back with it, or the key's, which claims the key beside the rows
  // (exactly-once: a batch would tie one caller's key check, replay or conflict to other callers' turns).
  if (db.isTransaction || options.idempotencyKey !== undefined) {
    return once(db, CORE_KEYS, options, ['appendMessages', key, rows], (trx) => append(trx, key, rows));
  }
  return coalescedAppend<Message>(db, { conversationId: key, rows }, appendAlone);
}

const appendAlone = (db: Kysely<DB>, turn: QueuedTurn) => append(db, turn.conversationId, turn.rows as z.output<typeof newMessages>);

async function append(db: Kysely<DB>, key: string, rows: z.output<typeof newMessages>): Promise<Message[]> {
  const result = await db.executeQuery<Message>(appendStatement(key, rows));
  if (result.rows.length === 0) {
    const conversation = await db.selectFrom('conversations').select('ended_at').where('id', '=', key).executeTakeFirst();
    if (!conversation) throw new NotFoundError(`conversation ${key} not found`);
    throw new ConflictError(`conversation ${key} has ended; start a new one to add messages`);
  }
  return result.rows.sort((a, b) => a.timestamp.getTime() - b.timestamp.getTime());
}

const historyOptions = z.strictObject({
  limit: limit(1000, 50),
  before: instant.optional(),
});
/** A page of a conversation: `limit`, and `before` to go back further. */
export type HistoryOptions = z.input<typeof historyOptions>;

// The hot read of every turn: fixed texts (prepared once per connection by the pool) rather than a query built
// per call. `id` breaks ties so that paging is deterministic.
const LAST_MESSAGES = `
  SELECT ${MESSAGE_COLUMNS} FROM messages
   WHERE conversation_id = $1
   ORDER BY timestamp DESC, id DESC
   LIMIT $2`;
const LAST_MESSAGES_BEFORE = `
  SELECT ${MESSAGE_COLUMNS} FROM messages
   WHERE conversation_id = $1 AND timestamp < $3
   ORDER BY timestamp DESC, id DESC
   LIMIT $2`;

/** The last `limit` messages of a conversation (before `before`, when given), oldest first, as an LLM reads them. */
export async function conversationHistory(db: Kysely<DB>, conversationId: string, options: HistoryOptions = {}): Promise<Message[]> {
  const key = parse(id, conversationId, 'conversation id');
  const { limit: count, before } = parse(historyOptions, options, 'history options');
  const query = before ? CompiledQuery.raw(LAST_MESSAGES_BEFORE, [key, count, before]) : CompiledQuery.raw(LAST_MESSAGES, [key, count]);
  const { rows } = await db.executeQuery<Message>(query);
  return rows.reverse();
}

/** The SQL of `conversationHistory`, for benchmarks that replay it through pgbench. */
export const HISTORY_SQL = LAST_MESSAGES;

const userHistoryOptions = z.strictObject({
  days: z.number().int().min(1).max(3650).default(7),
  limit: limit(1000, 50),
  before: position.optional(),
});
/** A page of a user's messages over the last `days`, newest first. */
export type UserHistoryOptions = z.input<typeof userHistoryOptions>;

// Fixed texts, as the last messages above. One range of idx_messages_user (migration core 013), whose cost does
// not grow with the number of the user's conversations. With a cursor, the first condition bounds the range and
// the second breaks ties within the cursor's millisecond.
const USER_MESSAGES = `
  SELECT ${MESSAGE_COLUMNS} FROM messages
   WHERE user_id = $1 AND timestamp >= now() - make_interval(days => $2)
   ORDER BY timestamp DESC, id DESC
   LIMIT $3`;
const USER_MESSAGES_BEFORE = `
  SELECT ${MESSAGE_COLUMNS} FROM messages
   WHERE user_id = $1 AND timestamp >= now() - make_interval(days => $2)
     AND timestamp <= $4 AND (timestamp, id) < ($4, $5)
   ORDER BY timestamp DESC, id DESC
   LIMIT $3`;

/**
 * The seed's Prisma query: a user's messages of the last `days` days, newest first, at most `limit`; `before`
 * continues after the last message of the previous page.
 */
export async function userHistory(db: Kysely<DB>, userId: string, options: UserHistoryOptions = {}): Promise<Message[]> {
  const { rows } = await db.executeQuery<Message>(userHistoryStatement(userId, options));
  return rows;
}

/** The statement of `userHistory`, for the test that checks its plan. */
export function userHistoryStatement(userId: string, options: UserHistoryOptions = {}): CompiledQuery {
  const key = parse(id, userId, 'user id');
  const { days, limit: count, before } = parse(userHistoryOptions, options, 'history options');
  return before ? CompiledQuery.raw(USER_MESSAGES_BEFORE, [key, days, count, before.at, before.id]) : CompiledQuery.raw(USER_MESSAGES, [key, days, count]);
}
