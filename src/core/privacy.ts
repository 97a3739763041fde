import { type Kysely, sql } from 'kysely';
import { NotFoundError } from '../errors.ts';
import type { DB } from '../db/schema.ts';
import { id, parse } from '../validation.ts';
import type { Action } from './actions.ts';
import type { Conversation } from './conversations.ts';
import type { LogLine } from './logs.ts';
import type { Message } from './messages.ts';
import type { Reminder } from './reminders.ts';
import type { User } from './users.ts';

/**
 * LGPD (Brazil's data-protection law): everything stored about one person, exported as one document or erased
 * in one transaction. A log line is theirs when its metadata names them or one of their conversations.
 */
const THEIR_LOG_LINES = (userId: string) => sql<boolean>`
  (metadata->>'user_id' = ${userId}
   OR metadata->>'conversation_id' IN (SELECT id::text FROM conversations WHERE user_id = ${userId}::uuid))`;

/** Everything stored about a person (LGPD access): the user, their conversations with messages and actions, reminders. */
export interface UserExport {
  exported_at: string;
  user: User;
  conversations: (Conversation & { messages: Message[]; actions: Action[] })[];
  reminders: Reminder[];
  log_lines: LogLine[];
}

/** Everything about one user, read in one snapshot. */
export async function exportUser(db: Kysely<DB>, userId: string): Promise<UserExport> {
  const key = parse(id, userId, 'user id');
  return db
    .transaction()
    .setIsolationLevel('repeatable read')
    .execute(async (trx) => {
      const user = await trx.selectFrom('users').selectAll().where('id', '=', key).executeTakeFirst();
      if (!user) throw new NotFoundError(`user ${key} not found`);
      const conversations = await trx.selectFrom('conversations').selectAll().where('user_id', '=', key).orderBy('started_at').execute();
      const ids = conversations.map((c) => c.id);
      const messages = ids.length ? await trx.selectFrom('messages').selectAll().where('conversation_id', 'in', ids).orderBy('timestamp').execute() : [];
      const actions = ids.length ? await trx.selectFrom('actions').selectAll().where('conversation_id', 'in', ids).orderBy('created_at').execute() : [];
      const reminders = await trx.selectFrom('reminders').selectAll().where('user_id', '=', key).orderBy('scheduled_at').execute();
      const logLines = await trx.selectFrom('system_logs').selectAll().where(THEIR_LOG_LINES(key)).orderBy('timestamp').execute();
      return {
        exported_at: new Date().toISOString(),
        user,
        conversations: conversations.map((c) => ({
          ...c,
          messages: messages.filter((m) => m.conversation_id === c.id),
          actions: actions.filter((a) => a.conversation_id === c.id),
        })),
        reminders,
        log_lines: logLines,
      };
    });
}

/** What erasing a person removed, table by table. */
export interface Erasure {
  conversations: number;
  messages: number;
  actions: number;
  reminders: number;
  log_lines: number;
}

/**
 * Removes a user and everything about them in one transaction (all or nothing), then records that an erasure
 * happened, with counts only: the audit line holds no id, name or text of theirs. Backups taken before keep the
 * data until they age out (MORDOMO_BACKUP_RETENTION_DAYS).
 */
export async function eraseUser(db: Kysely<DB>, userId: string): Promise<Erasure> {
  const key = parse(id, userId, 'user id');
  return db.transaction().execute(async (trx) => {
    const user = await trx.selectFrom('users').select('id').where('id', '=', key).forUpdate().executeTakeFirst();
    if (!user) throw new NotFoundError(`user ${key} not found`);
    const { rows } = await sql<Erasure>`
        SELECT (SELECT count(*)::int FROM conversations WHERE user_id = ${key}) AS conversations,
               (SELECT count(*)::int FROM messages m JOIN conversations c ON c.id = m.conversation_id WHERE c.user_id = ${key}) AS messages,
               (SELECT count(*)::int FROM actions a JOIN conversations c ON c.id = a.conversation_id WHERE c.user_id = ${key}) AS actions,
               (SELECT count(*)::int FROM reminders WHERE user_id = ${key}) AS reminders`.execute(trx);
    const { rows: words } = await sql<{ word: string }>`
        SELECT DISTINCT w AS word FROM messages m JOIN conversations c ON c.id = m.conversation_id, search_words_of(m.content) AS w
         WHERE c.user_id = ${key}`.execute(trx);
    const logs = await trx.deleteFrom('system_logs').where(THEIR_LOG_LINES(key)).executeTakeFirst();
    // Conversations (with their messages and actions) and reminders go by ON DELETE CASCADE.
    await trx.deleteFrom('users').where('id', '=', key).execute();
    // Their words leave the search vocabulary (migration core 017) unless a remaining message has them: a name
    // said once would otherwise outlive the erase. Each word is looked up by its lexeme in the search index, then
    // confirmed in the text. Stop words (no lexeme) are nobody's.
    await sql`
        DELETE FROM search_words s
         WHERE s.word = ANY (${words.map((row) => row.word)}::text[]) AND s.lexeme IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM messages m
                            WHERE m.search_vector @@ search_lexeme_query(s.lexeme)
                              AND s.word IN (SELECT search_words_of(m.content)))`.execute(trx);
    const erasure = { ...rows[0]!, log_lines: Number(logs.numDeletedRows) };
    await trx
      .insertInto('system_logs')
      .values({ level: 'INFO', source: 'privacy', message: 'a user was erased at their request (LGPD)', metadata: JSON.stringify({ erased: erasure }) })
      .execute();
    return erasure;
  });
}
