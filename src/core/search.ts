import { type Kysely, sql } from 'kysely';
import { z } from 'zod';
import { InvalidInputError, mapErrors } from '../errors.ts';
import type { DB } from '../db/schema.ts';
import { id, instant, limit, parse, text } from '../db/validation.ts';
import { ROLES } from './messages.ts';

/**
 * Search over messages in Portuguese (migration core 010): the words people type, with their accents or without,
 * in any form of the verb ("ligar" finds "ligou"), with web-search syntax (quotes, -word, or). When full text
 * finds nothing, trigram similarity catches typos, and the result says it did.
 */
export interface SearchHit {
  id: string;
  conversation_id: string;
  role: string;
  timestamp: Date;
  intent: string | null;
  /** The matching passage, matched words between « and ». */
  snippet: string;
  /** Higher is better: ts_rank for full text, similarity (0..1) for the fallback. */
  rank: number;
}

export type SearchMode = 'fulltext' | 'similar' | 'none';

export interface SearchResult {
  /** How the items were found: `similar` when full text found nothing and trigram similarity was used. */
  mode: SearchMode;
  items: SearchHit[];
  /** Why there is nothing to search for, when that is so (a query of stop words only). */
  reason?: string;
  /** Pass back as `after` for the next page; undefined on the last one. */
  next: { mode: 'fulltext' | 'similar'; rank: number; id: string } | undefined;
}

/** Where a page of results ended (`next`), to continue after it. */
export const searchPosition = z.strictObject({ mode: z.enum(['fulltext', 'similar']), rank: z.number().finite(), id });

const searchOptions = z.strictObject({
  user_id: id.optional(),
  conversation_id: id.optional(),
  role: z.enum(ROLES, { message: 'must be user, assistant or system' }).optional(),
  intent: text(100).optional(),
  from: instant.optional(),
  to: instant.optional(),
  limit: limit(100, 20),
  after: searchPosition.optional(),
});
export type SearchOptions = z.input<typeof searchOptions>;

const QUERY_MAX = 500;
// Ranking needs each candidate's text parsed again; a common word matches a large share of a long history. So
// results are the best-ranked among the most recent RECENT_MATCHES matches ("what did I say about the lamp last
// week?"); `from`/`to` reach further back. Rare words match fewer rows than this and are ranked in full.
const RECENT_MATCHES = 200;
// How alike a typo must be to a word of the message (pg_trgm word similarity, 0..1; its default 0.6 misses
// "lampda" for "lâmpada").
const SIMILARITY_THRESHOLD = 0.3;

/** Searches messages; `query` uses web-search syntax. Bad queries give a clear InvalidInputError or no results. */
export async function searchMessages(db: Kysely<DB>, query: string, options: SearchOptions = {}): Promise<SearchResult> {
  const q = parse(text(QUERY_MAX).refine((value) => value.trim().length > 0, 'must not be empty'), query, 'search query');
  const o = parse(searchOptions, options, 'search options');
  if (o.from && o.to && o.from >= o.to) throw new InvalidInputError('invalid search options: from must be before to');

  return mapErrors(async () => {
    // A query of stop words only ("de", "a o") is empty once parsed: no results, rather than a NOTICE and a scan.
    if (o.after) return page(o.after.mode, await run(db, o.after.mode, q, o), o.limit);
    const parsed = await sql<{ nodes: number }>`SELECT numnode(websearch_to_tsquery('mordomo_pt', ${q})) AS nodes`.execute(db);
    if (parsed.rows[0]!.nodes === 0) {
      return { mode: 'none', items: [], next: undefined, reason: 'only very common words (like "de", "a", "o"): add a word that says what to look for' };
    }
    const fulltext = await run(db, 'fulltext', q, o);
    if (fulltext.length > 0) return page('fulltext', fulltext, o.limit);
    const similar = await run(db, 'similar', q, o);
    return similar.length ? page('similar', similar, o.limit) : { mode: 'none', items: [], next: undefined };
  });
}

function page(mode: 'fulltext' | 'similar', rows: SearchHit[], count: number): SearchResult {
  const items = rows.slice(0, count);
  const last = items[items.length - 1];
  return { mode, items, next: rows.length > count && last ? { mode, rank: last.rank, id: last.id } : undefined };
}

async function run(db: Kysely<DB>, mode: 'fulltext' | 'similar', q: string, o: z.output<typeof searchOptions>): Promise<SearchHit[]> {
  const match =
    mode === 'fulltext'
      ? sql`to_tsvector('mordomo_pt'::regconfig, m.content) @@ websearch_to_tsquery('mordomo_pt', ${q})`
      : sql`mordomo_fold(${q}) <% mordomo_fold(m.content)`;
  const rank =
    mode === 'fulltext'
      ? sql`ts_rank(to_tsvector('mordomo_pt'::regconfig, m.content), websearch_to_tsquery('mordomo_pt', ${q}))`
      : sql`word_similarity(mordomo_fold(${q}), mordomo_fold(m.content))`;
  const filters = [
    o.user_id ? sql`AND c.user_id = ${o.user_id}` : sql``,
    o.conversation_id ? sql`AND m.conversation_id = ${o.conversation_id}` : sql``,
    o.role ? sql`AND m.role = ${o.role}` : sql``,
    o.intent ? sql`AND m.intent = ${o.intent}` : sql``,
    o.from ? sql`AND m.timestamp >= ${o.from}` : sql``,
    o.to ? sql`AND m.timestamp < ${o.to}` : sql``,
  ];
  const after = o.after ? sql`WHERE (rank, id) < (${o.after.rank}::float4, ${o.after.id}::uuid)` : sql``;
  // Snippets only for the page: ts_headline re-parses the text, the costliest part of a search.
  const statement = sql<SearchHit>`
    WITH hits AS (
      SELECT m.id, m.conversation_id, m.role, m.timestamp, m.intent, m.content, (${rank})::float4 AS rank
        FROM messages m JOIN conversations c ON c.id = m.conversation_id
       WHERE ${match} ${sql.join(filters, sql` `)}
       ORDER BY m.timestamp DESC
       LIMIT ${RECENT_MATCHES}
    )
    SELECT id, conversation_id, role, timestamp, intent, rank,
           ${
             mode === 'fulltext'
               ? sql`ts_headline('mordomo_pt', content, websearch_to_tsquery('mordomo_pt', ${q}), 'StartSel=«, StopSel=», MaxWords=20, MinWords=8, MaxFragments=2')`
               : sql`left(content, 160)`
           } AS snippet
      FROM hits ${after}
     ORDER BY rank DESC, id DESC
     LIMIT ${o.limit + 1}`;
  if (mode === 'fulltext') return (await statement.execute(db)).rows;
  return db.transaction().execute(async (trx) => {
    await sql`SELECT set_config('pg_trgm.word_similarity_threshold', ${String(SIMILARITY_THRESHOLD)}, true)`.execute(trx);
    return (await statement.execute(trx)).rows;
  });
}
