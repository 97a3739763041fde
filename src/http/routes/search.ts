import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import * as messages from '../../core/messages.ts';
import { searchMessages, searchPosition } from '../../core/search.ts';
import { id } from '../../validation.ts';
import type { ServiceContext } from '../context.ts';
import { readerFor } from '../reads.ts';
import { replies } from '../responses.ts';
import { fromCursor, toCursor } from '../schemas.ts';

const hit = z
  .object({
    id: z.guid(),
    conversation_id: z.guid(),
    role: z.string(),
    timestamp: z.date(),
    intent: z.string().nullable(),
    snippet: z.string(),
    rank: z.number(),
  })
  .meta({ id: 'SearchHit' });

const found = z.object({
  mode: z.enum(['fulltext', 'similar', 'none']).describe('similar: full text found nothing, these are close spellings'),
  reason: z.string().optional(),
  items: z.array(hit),
  next_cursor: z.string().nullable(),
});

/** Search over the messages, in Portuguese. */
export async function searchRoutes(app: FastifyInstance, { context }: { context: ServiceContext }): Promise<void> {
  const api = app.withTypeProvider<ZodTypeProvider>();
  api.get('/v1/search', {
    schema: {
      operationId: 'searchMessages',
      tags: ['search'],
      summary: 'Search messages in Portuguese (accents ignored, words stemmed, web-search syntax); typos fall back to similarity',
      querystring: z.strictObject({
        q: z.string().max(500),
        user_id: id.optional(),
        conversation_id: id.optional(),
        role: z.enum(messages.ROLES).optional(),
        intent: z.string().max(100).optional(),
        from: z.iso.datetime({ offset: true }).optional(),
        to: z.iso.datetime({ offset: true }).optional(),
        limit: z.coerce.number().int().min(1).max(100).default(20),
        cursor: z.string().max(300).optional(),
      }),
      response: replies({ 200: found }),
    },
    handler: async (request) => {
      const { q, cursor, ...filters } = request.query;
      const result = await searchMessages((await readerFor(context, request)).db, q, { ...filters, after: fromCursor(cursor, searchPosition) });
      return {
        mode: result.mode,
        ...(result.reason ? { reason: result.reason } : {}),
        items: result.items,
        next_cursor: result.next ? toCursor(result.next) : null,
      };
    },
  });
}
