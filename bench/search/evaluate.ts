// Runs the evaluation set (cases.ts) three ways on the same messages: plain Snowball (PostgreSQL's `portuguese`
// configuration), Snowball after unaccent (the project's `mordomo_pt`, its full text before migration core 017),
// and the project's search (searchMessages: verb forms and typos). Each case is loaded into a conversation of its
// own and searched there, so that its judgements are complete: every utterance it may return is judged.
import { type Kysely, sql } from 'kysely';
import { startConversation } from '../../src/core/conversations.ts';
import { appendMessages } from '../../src/core/messages.ts';
import { searchMessages } from '../../src/core/search.ts';
import type { DB } from '../../src/db/schema.ts';
import type { SearchCase } from './cases.ts';

export type Method = 'Snowball (portuguese)' | 'Snowball + unaccent (mordomo_pt)' | 'mordomo-db search';
export const METHODS: Method[] = ['Snowball (portuguese)', 'Snowball + unaccent (mordomo_pt)', 'mordomo-db search'];

export interface Score {
  /** Relevant utterances in the top 20, over all relevant utterances. */
  recall: number;
  /** Relevant utterances returned, over all utterances returned. */
  precision: number;
  /** The cases with a relevant utterance missing from the top 20. */
  missed: SearchCase[];
  /** Milliseconds per search, one per case. */
  times: number[];
}

const LIMIT = 20;

export async function loadCases(db: Kysely<DB>, cases: SearchCase[]): Promise<string[]> {
  const conversations: string[] = [];
  for (const c of cases) {
    const conversation = await startConversation(db, {});
    const utterances = [...c.relevant, ...(c.irrelevant ?? [])];
    await appendMessages(
      db,
      conversation.id,
      utterances.map((content) => ({ role: 'user' as const, content })),
    );
    conversations.push(conversation.id);
  }
  // The vocabulary of typos learns in the background (the search-words job); here, at once.
  await sql`SELECT learn_search_words(1000000, interval '0')`.execute(db);
  return conversations;
}

async function found(db: Kysely<DB>, method: Method, query: string, conversationId: string): Promise<string[]> {
  if (method === 'mordomo-db search') {
    const { items } = await searchMessages(db, query, { conversation_id: conversationId, limit: LIMIT });
    if (items.length === 0) return [];
    const { rows } = await sql<{ content: string }>`SELECT content FROM messages WHERE id = ANY (${items.map((hit) => hit.id)}::uuid[])`.execute(db);
    return rows.map((row) => row.content);
  }
  const config = method === 'Snowball (portuguese)' ? 'portuguese' : 'mordomo_pt';
  const { rows } = await sql<{ content: string }>`
    SELECT content FROM messages
     WHERE conversation_id = ${conversationId}
       AND to_tsvector(${config}::regconfig, content) @@ websearch_to_tsquery(${config}::regconfig, ${query})
     LIMIT ${LIMIT}`.execute(db);
  return rows.map((row) => row.content);
}

export async function evaluate(db: Kysely<DB>, cases: SearchCase[], conversations: string[], method: Method): Promise<Score> {
  let [relevantFound, relevantTotal, returned] = [0, 0, 0];
  const missed: SearchCase[] = [];
  const times: number[] = [];
  for (const [i, c] of cases.entries()) {
    const started = performance.now();
    const contents = await found(db, method, c.query, conversations[i]!);
    times.push(performance.now() - started);
    const hits = c.relevant.filter((utterance) => contents.includes(utterance)).length;
    relevantFound += hits;
    relevantTotal += c.relevant.length;
    returned += contents.length;
    if (hits < c.relevant.length) missed.push(c);
  }
  return { recall: relevantFound / relevantTotal, precision: returned ? relevantFound / returned : 1, missed, times };
}
