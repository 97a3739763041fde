import { type Kysely, sql } from 'kysely';
import { z } from 'zod';
import { InvalidInputError } from '../errors.ts';
import type { DB } from '../db/schema.ts';
import { PLANNED_PER_CALL } from '../db/pool.ts';
import { id, instant, limit, parse, text } from '../validation.ts';
import { ROLES } from './messages.ts';

/**
 * Search over messages in Portuguese (migrations core 010 and 017): the words people type, with their accents or
 * without, in any form of the verb ("ligar" finds "ligou", "liguei", and "fazer" finds "fiz"), with web-search
 * syntax (quotes, -word, or). A word no message has is taken for a typo and widened to the known words that sound
 * like it ("sossinha" finds "cozinha", migration core 020) or are spelt most like it ("lampda" finds "lâmpada"),
 * words written a minute ago included, and the result says so; when nothing is found, `reason` says which words
 * were like none written.
 */
export interface SearchHit {
  id: string;
  conversation_id: string;
  role: string;
  timestamp: Date;
  intent: string | null;
  /** The matching passage, matched words between « and ». */
  snippet: string;
  /** Higher is better (ts_rank). */
  rank: number;
}

export type SearchMode = 'fulltext' | 'similar' | 'none';

/** What a search found, and how (`mode`): its hits, the next page, and why nothing was found. */
export interface SearchResult {
  /** How the items were found: `similar` when a word of the query was taken for a typo of known words. */
  mode: SearchMode;
  items: SearchHit[];
  /**
   * Why nothing was found, when that is so: a query of stop words only, or the query's words that no message has
   * and that sound and are spelt like no word written.
   */
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
/** Where to search: one user, conversation, role or intent, a time range, and the page. */
export type SearchOptions = z.input<typeof searchOptions>;

const QUERY_MAX = 500;
// A common word matches a large share of a long history, and ranking reads every candidate. So results are the
// best-ranked among the most recent RECENT_MATCHES matches ("what did I say about the lamp last week?"); `from`/`to`
// reach further back. Rare words match fewer rows than this and are ranked in full. Candidates are tested and
// ranked on their stored lexemes (search_vector, migration core 018), never by parsing their text again; only the
// page's snippets parse it (ts_headline).
const RECENT_MATCHES = 200;
// Which plan finds the recent matches depends on how often the words occur together, which the planner guesses from
// each word's own frequency. When they are common together, walking the newest messages finds 200 within a few
// thousand rows; when they are rare together (a rare word, or common words that seldom meet), that walk reads much
// of the history (all of it, for a word that is rare everywhere) and the GIN index's matches, sorted, are the fast
// plan. A look at the newest NEWEST messages, one bounded index range whatever the history's length, tells which
// case a search is in (figures: bench/README.md, scale).
const NEWEST = 4000;
const SPARSE_IN_NEWEST = 5;

/** Searches messages; `query` uses web-search syntax. Bad queries give a clear InvalidInputError or no results. */
export function searchMessages(db: Kysely<DB>, query: string, options: SearchOptions = {}): Promise<SearchResult> {
  return searchMessagesPlanned(db, query, options, 'look');
}

/**
 * How a search over the whole history finds its recent matches: `look` (what searchMessages does) chooses by the
 * look at the newest messages; `planner` leaves it to PostgreSQL's estimates; `index` always takes the GIN index's
 * matches and sorts them. Searches with a filter leave it to the planner whatever is asked.
 */
export type RecentMatchesPlan = 'look' | 'planner' | 'index';

/** searchMessages with the plan of its recent matches fixed: for bench:scale, which times the look's choice against both. */
export async function searchMessagesPlanned(db: Kysely<DB>, query: string, options: SearchOptions, plan: RecentMatchesPlan): Promise<SearchResult> {
  const q = parse(
    text(QUERY_MAX).refine((value) => value.trim().length > 0, 'must not be empty'),
    query,
    'search query',
  );
  const o = parse(searchOptions, options, 'search options');
  if (o.from && o.to && o.from >= o.to) throw new InvalidInputError('invalid search options: from must be before to');

  // The query's tsquery, with every word's verb forms and, for an unknown word, its look-alikes (search_plan,
  // migration core 017): built once, then passed to the search, whose GIN index it probes.
  // Over the whole history, also how many of the newest NEWEST messages match (see run).
  const whole = !o.user_id && !o.conversation_id && !o.role && !o.intent && !o.from && !o.to;
  const look = whole && plan === 'look';
  const built = await sql<{ query: string; corrected: boolean; unmatched: string[]; nodes: number; newest: number | null }>`
    SELECT query::text AS query, corrected, unmatched, numnode(query) AS nodes,
           CASE WHEN ${look}::boolean THEN
             (SELECT count(*)::int FROM (SELECT search_vector FROM messages ORDER BY timestamp DESC LIMIT ${NEWEST}) newest
               WHERE newest.search_vector @@ s.query)
           END AS newest
      FROM search_plan(${q}) s`.execute(db);
  const { query: tsquery, corrected, unmatched, nodes, newest } = built.rows[0]!;
  // A query of stop words only ("de", "a o") is empty once parsed: no results, rather than a NOTICE and a scan.
  if (nodes === 0) {
    return { mode: 'none', items: [], next: undefined, reason: 'only very common words (like "de", "a", "o"): add a word that says what to look for' };
  }
  const mode = corrected ? 'similar' : 'fulltext';
  const sparse = look ? newest! <= SPARSE_IN_NEWEST : whole && plan === 'index';
  const rows = await run(db, tsquery, o, sparse);
  if (rows.length) return page(mode, rows, o.limit);
  return { mode: 'none', items: [], next: undefined, ...(unmatched.length ? { reason: unmatchedReason(unmatched) } : {}) };
}

function unmatchedReason(words: string[]): string {
  const quoted = words.map((word) => `"${word}"`).join(', ');
  return `no message has ${quoted}, nor a word that sounds or is spelt like ${words.length > 1 ? 'them' : 'it'}`;
}

function page(mode: 'fulltext' | 'similar', rows: SearchHit[], count: number): SearchResult {
  const items = rows.slice(0, count);
  const last = items[items.length - 1];
  return { mode, items, next: rows.length > count && last ? { mode, rank: last.rank, id: last.id } : undefined };
}

async function run(db: Kysely<DB>, query: string, o: z.output<typeof searchOptions>, sparse: boolean): Promise<SearchHit[]> {
  const tsquery = sql`${query}::tsquery`;
  const filters = [
    o.user_id ? sql`AND m.user_id = ${o.user_id}` : sql``,
    o.conversation_id ? sql`AND m.conversation_id = ${o.conversation_id}` : sql``,
    o.role ? sql`AND m.role = ${o.role}` : sql``,
    o.intent ? sql`AND m.intent = ${o.intent}` : sql``,
    o.from ? sql`AND m.timestamp >= ${o.from}` : sql``,
    o.to ? sql`AND m.timestamp < ${o.to}` : sql``,
  ];
  const after = o.after ? sql`WHERE (rank, id) < (${o.after.rank}::float4, ${o.after.id}::uuid)` : sql``;
  // Ranks for the recent matches only (not for every match a bitmap plan finds), snippets only for the page.
  // Sparse matches: an order no index gives (the same order), so that the plan takes the GIN index's matches.
  const newestFirst = sparse ? sql`m.timestamp + interval '0 seconds' DESC` : sql`m.timestamp DESC`;
  // Planned per call (db/pool.ts): which index serves a search depends on its words.
  const statement = sql<SearchHit>`${sql.raw(PLANNED_PER_CALL)}
    WITH hits AS (
      SELECT m.id, m.conversation_id, m.role, m.timestamp, m.intent, m.content, m.search_vector
        FROM messages m
       WHERE m.search_vector @@ ${tsquery} ${sql.join(filters, sql` `)}
       ORDER BY ${newestFirst}
       LIMIT ${RECENT_MATCHES}
    ), ranked AS (
      SELECT id, conversation_id, role, timestamp, intent, content, ts_rank(search_vector, ${tsquery})::float4 AS rank FROM hits
    )
    SELECT id, conversation_id, role, timestamp, intent, rank,
           ts_headline('mordomo_pt', content, ${tsquery}, 'StartSel=«, StopSel=», MaxWords=20, MinWords=8, MaxFragments=2') AS snippet
      FROM ranked ${after}
     ORDER BY rank DESC, id DESC
     LIMIT ${o.limit + 1}`;
  return (await statement.execute(db)).rows;
}
