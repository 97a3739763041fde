import { type Selectable, sql } from 'kysely';
import { z } from 'zod';
import { NotFoundError } from '../errors.ts';
import type { DB } from '../db/schema.ts';
import { id, limit, parse, requiredText, text } from '../validation.ts';
import { afterPosition, pageOptions, type PageOptions } from '../db/paging.ts';
import type { DomainContext } from './domain-context.ts';
import { operation } from './operation.ts';

type DocumentRow = Selectable<DB['v_voice_documents']>;

/** A document of the domain's knowledge base (its search vector stays in the database). */
export type Document = Pick<DocumentRow, (typeof COLUMNS)[number]>;

/** A document that matches a search, ranked, with the matching passage highlighted. */
export interface DocumentHit extends Pick<DocumentRow, 'document_uuid' | 'secretary_uuid' | 'title'> {
  rank: number;
  snippet: string;
}

const fields = {
  secretary_uuid: id.nullish(),
  title: requiredText(255),
  content: requiredText(5_000_000),
  source: text(500).nullish(),
  mime_type: z.string().regex(/^[a-z]+\/[a-z0-9.+-]+$/, 'must be a MIME type like text/plain'),
  is_enabled: z.boolean(),
};
export const newDocument = z.strictObject({ ...fields, mime_type: fields.mime_type.default('text/plain'), is_enabled: fields.is_enabled.default(true) });
export type NewDocument = z.input<typeof newDocument>;
export const documentPatch = z.strictObject(fields).partial();
export type DocumentPatch = z.input<typeof documentPatch>;
export const documentSearch = z.strictObject({ secretary_uuid: id.optional(), limit: limit(100, 10) });
export type DocumentSearchOptions = z.input<typeof documentSearch>;

const COLUMNS = [
  'document_uuid',
  'domain_uuid',
  'secretary_uuid',
  'title',
  'content',
  'source',
  'mime_type',
  'is_enabled',
  'created_at',
  'updated_at',
] as const;

async function createDocument({ trx, domain }: DomainContext, values: z.output<typeof newDocument>): Promise<Document> {
  return trx
    .insertInto('v_voice_documents')
    .values({ ...values, domain_uuid: domain })
    .returning(COLUMNS)
    .executeTakeFirstOrThrow();
}

async function getDocument({ trx, domain }: DomainContext, documentUuid: string): Promise<Document> {
  const key = parse(id, documentUuid, 'document id');
  const row = await trx.selectFrom('v_voice_documents').select(COLUMNS).where('domain_uuid', '=', domain).where('document_uuid', '=', key).executeTakeFirst();
  if (!row) throw new NotFoundError(`document ${key} not found`);
  return row;
}

async function listDocuments({ trx, domain }: DomainContext, options: PageOptions = {}): Promise<Document[]> {
  const { limit, after } = parse(pageOptions(1000), options, 'list options');
  return trx
    .selectFrom('v_voice_documents')
    .select(COLUMNS)
    .where('domain_uuid', '=', domain)
    .where(afterPosition('v_voice_documents', 'document_uuid', after))
    .orderBy('created_at')
    .orderBy('document_uuid')
    .limit(limit)
    .execute();
}

async function updateDocument({ trx, domain }: DomainContext, documentUuid: string, patch: z.output<typeof documentPatch>): Promise<Document> {
  const key = parse(id, documentUuid, 'document id');
  if (Object.keys(patch).length === 0) return getDocument({ trx, domain }, key);
  const row = await trx
    .updateTable('v_voice_documents')
    .set(patch)
    .where('domain_uuid', '=', domain)
    .where('document_uuid', '=', key)
    .returning(COLUMNS)
    .executeTakeFirst();
  if (!row) throw new NotFoundError(`document ${key} not found`);
  return row;
}

async function deleteDocument({ trx, domain }: DomainContext, documentUuid: string): Promise<void> {
  const key = parse(id, documentUuid, 'document id');
  const result = await trx.deleteFrom('v_voice_documents').where('domain_uuid', '=', domain).where('document_uuid', '=', key).executeTakeFirst();
  if (!result.numDeletedRows) throw new NotFoundError(`document ${key} not found`);
}

async function searchDocuments({ trx, domain }: DomainContext, query: string, options: z.output<typeof documentSearch>): Promise<DocumentHit[]> {
  const q = parse(requiredText(1000), query, 'search query');
  const { rows } = await sql<DocumentHit>`
    SELECT d.document_uuid, d.secretary_uuid, d.title,
           ts_rank(d.search_vector, q.query) AS rank,
           ts_headline('mordomo_pt', d.content, q.query, 'MaxFragments=2, MaxWords=30, MinWords=10, StartSel=«, StopSel=»') AS snippet
      FROM v_voice_documents d, websearch_to_tsquery('mordomo_pt', ${q}) AS q(query)
     WHERE d.domain_uuid = ${domain} AND d.is_enabled AND d.search_vector @@ q.query
       AND (${options.secretary_uuid ?? null}::uuid IS NULL OR d.secretary_uuid IS NULL OR d.secretary_uuid = ${options.secretary_uuid ?? null}::uuid)
     ORDER BY rank DESC, d.document_uuid
     LIMIT ${options.limit}`.execute(trx);
  return rows;
}

/** What a domain handle does with documents (see ivr.ts: each runs in the domain's transaction). */
export const documentOperations = {
  /** Adds a document, for every secretary of the domain or for one. */
  createDocument: operation({ input: newDocument, what: 'document', idempotent: true }, createDocument),
  /** Changes the fields given; an empty change returns the document as it is. */
  updateDocument: operation({ input: documentPatch, what: 'document change' }, updateDocument),
  /** One document. */
  getDocument: operation({}, getDocument),
  /** In creation order; `{ limit, after }` pages (see paging.ts). */
  listDocuments: operation({}, listDocuments),
  /** Deletes a document. */
  deleteDocument: operation({}, deleteDocument),
  /**
   * Portuguese full-text search over the enabled documents, accent-blind, in web-search syntax (quotes, -word, or),
   * ranked, with the matching passage highlighted; `secretary_uuid` adds that secretary's documents to the domain's
   * shared ones, `limit` (10) bounds the answer. A query with no searchable word finds nothing rather than failing.
   */
  searchDocuments: operation({ input: documentSearch.prefault({}), what: 'search options' }, searchDocuments),
};
