import { BaseListChatMessageHistory } from '@langchain/core/chat_history';
import { AIMessage, type BaseMessage, HumanMessage, SystemMessage } from '@langchain/core/messages';
import { CompiledQuery, type Kysely } from 'kysely';
import { appendMessages, type NewMessage } from './core/messages.ts';
import { InvalidInputError, NotFoundError } from './errors.ts';
import type { DB } from './db/schema.ts';
import { id, parse } from './validation.ts';

/**
 * LangChain chat memory kept in mordomo-db: one conversation's messages are the history. Import from
 * `mordomo-db/langchain`; `@langchain/core` is an optional peer dependency, needed only here.
 *
 *   const history = new MordomoChatMessageHistory({ db, conversationId });
 *   new RunnableWithMessageHistory({ runnable, getMessageHistory: () => history, ... })
 */
export class MordomoChatMessageHistory extends BaseListChatMessageHistory {
  lc_namespace = ['mordomo-db', 'langchain'];
  private readonly db: Kysely<DB>;
  private readonly conversationId: string;

  constructor(fields: { db: Kysely<DB>; conversationId: string }) {
    super(fields);
    this.db = fields.db;
    this.conversationId = parse(id, fields.conversationId, 'conversation id');
  }

  /**
   * The conversation's messages in order, as LangChain messages. One statement, one round trip, and only the
   * columns a LangChain message holds: this runs before every model call.
   */
  async getMessages(): Promise<BaseMessage[]> {
    const { rows } = await this.db.executeQuery<HistoryRow>(CompiledQuery.raw(HISTORY, [this.conversationId]));
    if (rows.length === 0) throw new NotFoundError(`conversation ${this.conversationId} not found`);
    return rows
      .filter((row): row is HistoryRow & { id: string } => row.id !== null)
      .map((row) => {
        const fields = { content: row.content, id: row.id, additional_kwargs: langchainKwargs(row.metadata) };
        if (row.role === 'user') return new HumanMessage(fields);
        if (row.role === 'assistant') return new AIMessage(fields);
        return new SystemMessage(fields);
      });
  }

  async addMessage(message: BaseMessage): Promise<void> {
    await this.addMessages([message]);
  }

  /** Appends in one statement: all or none. */
  override async addMessages(messages: BaseMessage[]): Promise<void> {
    if (messages.length === 0) return;
    await appendMessages(this.db, this.conversationId, messages.map(toNewMessage));
  }

  /** Deletes the conversation's messages (the conversation itself stays, with its counters at zero). */
  override async clear(): Promise<void> {
    await this.db.deleteFrom('messages').where('conversation_id', '=', this.conversationId).execute();
  }
}

// The conversation's row is joined so that an unknown conversation (no row) differs from an empty one (one row
// of NULLs) without a second query.
const HISTORY = `
  SELECT m.id, m.role, m.content, m.metadata
    FROM conversations c LEFT JOIN messages m ON m.conversation_id = c.id
   WHERE c.id = $1
   ORDER BY m.timestamp, m.id`;
type HistoryRow = { id: string | null; role: string; content: string; metadata: unknown };

const ROLE_OF: Record<string, NewMessage['role']> = { human: 'user', ai: 'assistant', system: 'system' };

function toNewMessage(message: BaseMessage): NewMessage {
  const role = ROLE_OF[message.getType()];
  if (!role) {
    throw new InvalidInputError(`mordomo-db keeps human, ai and system messages; got a ${message.getType()} message`);
  }
  const content = typeof message.content === 'string' ? message.content : message.content.map((part) => ('text' in part ? part.text : '')).join('');
  const kwargs =
    message.additional_kwargs && Object.keys(message.additional_kwargs).length ? { langchain: { additional_kwargs: message.additional_kwargs } } : undefined;
  return { role, content, ...(kwargs ? { metadata: JSON.parse(JSON.stringify(kwargs)) } : {}) };
}

function langchainKwargs(metadata: unknown): Record<string, unknown> {
  const stored = (metadata as { langchain?: { additional_kwargs?: Record<string, unknown> } } | null)?.langchain?.additional_kwargs;
  return stored ?? {};
}
