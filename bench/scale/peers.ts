// The peers of bench/scale: what a user would pick instead of mordomo-db for an assistant's memory —
// @langchain/community's PostgresChatMessageHistory and @mastra/pg's memory store — loaded with the same
// conversations and messages as mordomo-db, on the same server, and driven through their own APIs.
// They live in bench/scale/peers (their own package.json and lockfile, ~300 MB with Mastra's AI SDK),
// installed on the first run of the benchmark, so that the project's own `npm install` stays lean.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { randomUUID } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import type { DB } from '../../src/db/schema.ts';

const PEERS_DIR = fileURLToPath(new URL('./peers/', import.meta.url));

export function installPeers(): void {
  if (existsSync(`${PEERS_DIR}node_modules/@mastra/pg/package.json`) && existsSync(`${PEERS_DIR}node_modules/@langchain/community/package.json`)) return;
  process.stderr.write('installing the peers (bench/scale/peers: @langchain/community, @mastra/pg; about a minute)...\n');
  const installed = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: PEERS_DIR, stdio: ['ignore', 'inherit', 'inherit'] });
  if (installed.status !== 0) throw new Error(`npm ci in ${PEERS_DIR} failed (exit ${installed.status}); the peers need the npm registry`);
}

/** A module of the peers' own node_modules (not the project's), so each peer gets the versions it was locked with. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function peerModule(specifier: string): Promise<any> {
  const resolved = createRequire(`${PEERS_DIR}package.json`).resolve(specifier);
  return import(pathToFileURL(resolved).href);
}

export interface PeerOperations {
  name: string;
  appendTurn(conversationId: string, user: string, assistant: string): Promise<unknown>;
  lastMessages(conversationId: string, limit: number): Promise<unknown>;
  /** Work the appends left for later (a background job's), run to completion: it counts in the append's time. */
  catchUp?: () => Promise<unknown>;
  close(): Promise<void>;
}

/**
 * LangChain's PostgresChatMessageHistory over a copy of the messages (session = conversation). It creates its
 * table with no index on session_id, so every read would scan the whole table; we add that index, as anyone
 * running it at this size would. Its history has no limit: a conversation's messages, all of them.
 */
export async function langchainPeer(db: Kysely<DB>, poolConfig: { connectionString: string; max: number }): Promise<PeerOperations> {
  const { PostgresChatMessageHistory } = await peerModule('@langchain/community/stores/message/postgres');
  const { HumanMessage, AIMessage } = await peerModule('@langchain/core/messages');
  const { default: pg } = await peerModule('pg');
  const pool = new pg.Pool(poolConfig);
  await new PostgresChatMessageHistory({ pool, sessionId: 'setup' }).ensureTable();
  await sql`INSERT INTO langchain_chat_histories (session_id, message)
            SELECT conversation_id::text,
                   jsonb_build_object('type', CASE role WHEN 'user' THEN 'human' WHEN 'assistant' THEN 'ai' ELSE 'system' END,
                                      'content', content, 'additional_kwargs', '{}'::jsonb, 'response_metadata', '{}'::jsonb)
              FROM messages ORDER BY conversation_id, timestamp`.execute(db);
  await sql`CREATE INDEX ON langchain_chat_histories (session_id)`.execute(db);
  await sql`VACUUM ANALYZE langchain_chat_histories`.execute(db);
  const history = (sessionId: string) => new PostgresChatMessageHistory({ pool, sessionId });
  return {
    name: '@langchain/community PostgresChatMessageHistory',
    appendTurn: (conversationId, user, assistant) => history(conversationId).addMessages([new HumanMessage(user), new AIMessage(assistant)]),
    lastMessages: (conversationId) => history(conversationId).getMessages(),
    close: () => pool.end(),
  };
}

/** Mastra's memory store (@mastra/pg): threads = conversations, its messages = ours, in its own tables. */
export async function mastraPeer(db: Kysely<DB>, poolConfig: { connectionString: string; max: number }): Promise<PeerOperations> {
  const { PostgresStore } = await peerModule('@mastra/pg');
  const store = new PostgresStore({ id: 'bench', connectionString: poolConfig.connectionString, max: poolConfig.max });
  await store.init();
  const memory = await store.getStore('memory');
  await sql`INSERT INTO mastra_threads (id, "resourceId", title, metadata, "createdAt", "updatedAt")
            SELECT id::text, user_id::text, 'conversa', '{}', started_at, started_at FROM conversations`.execute(db);
  await sql`INSERT INTO mastra_messages (id, thread_id, content, role, type, "createdAt", "resourceId")
            SELECT m.id::text, m.conversation_id::text,
                   jsonb_build_object('format', 2, 'parts', jsonb_build_array(jsonb_build_object('type', 'text', 'text', m.content)))::text,
                   m.role, 'v2', m.timestamp, c.user_id::text
              FROM messages m JOIN conversations c ON c.id = m.conversation_id`.execute(db);
  await sql`VACUUM ANALYZE mastra_threads, mastra_messages`.execute(db);
  const message = (threadId: string, role: 'user' | 'assistant', text: string) => ({
    id: randomUUID(),
    threadId,
    resourceId: threadId,
    role,
    type: 'v2',
    createdAt: new Date(),
    content: { format: 2, parts: [{ type: 'text', text }] },
  });
  return {
    name: '@mastra/pg memory',
    appendTurn: (threadId, user, assistant) => memory.saveMessages({ messages: [message(threadId, 'user', user), message(threadId, 'assistant', assistant)] }),
    lastMessages: (threadId, limit) => memory.listMessages({ threadId, perPage: limit, page: 0, orderBy: { field: 'createdAt', direction: 'DESC' } }),
    close: () => store.close(),
  };
}
