import type { DB } from '../db/schema.ts';

/**
 * The columns the library reads from each core table, named rather than `*`. Statements run prepared (db/pool.ts),
 * and PostgreSQL refuses to run a prepared `SELECT *` or `RETURNING *` whose result gained a column ("cached plan
 * must not change result type"): a migration adding a column under a running service would turn every such read
 * into a 500 until the service restarted. With the columns named, the result keeps its shape and the new column is
 * read once the code asks for it. A test holds these lists equal to the tables as migrated.
 */
export const COLUMNS = {
  users: ['id', 'name', 'email', 'voice_enrolled', 'speaker_embedding_id', 'created_at', 'updated_at', 'last_interaction_at', 'is_active', 'metadata'],
  conversations: ['id', 'user_id', 'started_at', 'ended_at', 'duration_seconds', 'message_count', 'satisfaction_score', 'metadata'],
  messages: [
    'id',
    'conversation_id',
    'user_id',
    'role',
    'content',
    'timestamp',
    'latency_ms',
    'intent',
    'confidence',
    'rag_context',
    'audio_duration_ms',
    'transcription_model',
    'metadata',
  ],
  actions: [
    'id',
    'message_id',
    'conversation_id',
    'action_type',
    'action_name',
    'parameters',
    'status',
    'result',
    'error_message',
    'created_at',
    'executed_at',
  ],
  reminders: ['id', 'user_id', 'title', 'description', 'scheduled_at', 'status', 'created_at', 'triggered_at', 'metadata'],
  config: ['key', 'value', 'description', 'updated_at', 'updated_by'],
  system_logs: ['id', 'timestamp', 'level', 'source', 'message', 'metadata'],
} as const satisfies { [T in keyof DB]?: readonly (keyof DB[T] & string)[] };

/** The columns of `table` as SQL text, for the fixed statements written as strings; `alias` qualifies them. */
export function columnList(table: keyof typeof COLUMNS, alias?: string): string {
  return COLUMNS[table].map((column) => (alias ? `${alias}.${column}` : column)).join(', ');
}
