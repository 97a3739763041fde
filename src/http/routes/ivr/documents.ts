import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { id } from '../../../validation.ts';
import { documentPatch, newDocument } from '../../../ivr/documents.ts';
import { replies, WITH_BODY } from '../../responses.ts';
import { documentHitSchema, documentSchema, idempotencyOf, idempotentHeaders, keysetPage, pageOf, pageQuery, uuidParams } from '../../schemas.ts';
import { domainOf } from './tenant.ts';

/** The domain's knowledge base: documents a secretary answers from, searched in Portuguese. */
export async function documentRoutes(app: FastifyInstance): Promise<void> {
  const api = app.withTypeProvider<ZodTypeProvider>();
  const tags = ['ivr documents'];

  api.post('/v1/ivr/documents', {
    schema: {
      operationId: 'createDocument',
      tags,
      summary: 'Add a document',
      headers: idempotentHeaders,
      body: newDocument,
      response: replies({ 201: documentSchema }, 409, 422, ...WITH_BODY),
    },
    handler: async (request, reply) => reply.status(201).send(await domainOf(request).createDocument(request.body, idempotencyOf(request))),
  });
  api.get('/v1/ivr/documents', {
    schema: {
      operationId: 'listDocuments',
      tags,
      summary: "The domain's documents in creation order",
      querystring: z.strictObject(pageQuery),
      response: replies({ 200: pageOf(documentSchema) }),
    },
    handler: async (request) =>
      keysetPage(
        request.query,
        (page) => domainOf(request).listDocuments(page),
        (row) => [row.created_at, row.document_uuid],
      ),
  });
  api.get('/v1/ivr/documents/search', {
    schema: {
      operationId: 'searchDocuments',
      tags,
      summary: 'Full-text search (Portuguese) of enabled documents, best first; `limit` bounds the answer (ranked, not paged)',
      querystring: z.strictObject({
        q: z.string().min(1).max(1000),
        secretary_uuid: id.optional(),
        limit: z.coerce.number().int().min(1).max(100).default(10),
      }),
      response: replies({ 200: z.object({ items: z.array(documentHitSchema) }) }),
    },
    handler: async (request) => {
      const { q, ...options } = request.query;
      return { items: await domainOf(request).searchDocuments(q, options) };
    },
  });
  api.get('/v1/ivr/documents/:uuid', {
    schema: { operationId: 'getDocument', tags, summary: 'One document', params: uuidParams, response: replies({ 200: documentSchema }, 404) },
    handler: async (request) => domainOf(request).getDocument(request.params.uuid),
  });
  api.patch('/v1/ivr/documents/:uuid', {
    schema: {
      operationId: 'updateDocument',
      tags,
      summary: 'Change a document',
      params: uuidParams,
      body: documentPatch,
      response: replies({ 200: documentSchema }, 404, 409, 422, ...WITH_BODY),
    },
    handler: async (request) => domainOf(request).updateDocument(request.params.uuid, request.body),
  });
  api.delete('/v1/ivr/documents/:uuid', {
    schema: { operationId: 'deleteDocument', tags, summary: 'Delete a document', params: uuidParams, response: replies({ 204: z.null() }, 404, ...WITH_BODY) },
    handler: async (request, reply) => {
      await domainOf(request).deleteDocument(request.params.uuid);
      return reply.status(204).send(null);
    },
  });
}
