import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { newSecretary, secretaryPatch } from '../../../ivr/secretaries.ts';
import { replies, WITH_BODY } from '../../responses.ts';
import { idempotencyOf, idempotentHeaders, keysetPage, pageOf, pageQuery, secretarySchema, secretaryWithProvidersSchema, uuidParams } from '../../schemas.ts';
import { domainOf } from './tenant.ts';

/** The domain's AI secretaries: who answers an extension, with which prompt and providers. */
export async function secretaryRoutes(app: FastifyInstance): Promise<void> {
  const api = app.withTypeProvider<ZodTypeProvider>();
  const tags = ['ivr secretaries'];

  api.post('/v1/ivr/secretaries', {
    schema: {
      operationId: 'createSecretary',
      tags,
      summary: 'Create a secretary',
      headers: idempotentHeaders,
      body: newSecretary,
      response: replies({ 201: secretarySchema }, 409, 422, ...WITH_BODY),
    },
    handler: async (request, reply) => reply.status(201).send(await domainOf(request).createSecretary(request.body, idempotencyOf(request))),
  });
  api.get('/v1/ivr/secretaries', {
    schema: {
      operationId: 'listSecretaries',
      tags,
      summary: "The domain's secretaries in creation order",
      querystring: z.strictObject(pageQuery),
      response: replies({ 200: pageOf(secretarySchema) }),
    },
    handler: async (request) =>
      keysetPage(
        request.query,
        (page) => domainOf(request).listSecretaries(page),
        (row) => [row.created_at, row.secretary_uuid],
      ),
  });
  api.get('/v1/ivr/secretaries/:uuid', {
    schema: { operationId: 'getSecretary', tags, summary: 'One secretary', params: uuidParams, response: replies({ 200: secretarySchema }, 404) },
    handler: async (request) => domainOf(request).getSecretary(request.params.uuid),
  });
  api.patch('/v1/ivr/secretaries/:uuid', {
    schema: {
      operationId: 'updateSecretary',
      tags,
      summary: 'Change a secretary',
      params: uuidParams,
      body: secretaryPatch,
      response: replies({ 200: secretarySchema }, 404, 409, 422, ...WITH_BODY),
    },
    handler: async (request) => domainOf(request).updateSecretary(request.params.uuid, request.body),
  });
  api.delete('/v1/ivr/secretaries/:uuid', {
    schema: {
      operationId: 'deleteSecretary',
      tags,
      summary: 'Delete a secretary',
      params: uuidParams,
      response: replies({ 204: z.null() }, 404, 409, ...WITH_BODY),
    },
    handler: async (request, reply) => {
      await domainOf(request).deleteSecretary(request.params.uuid);
      return reply.status(204).send(null);
    },
  });
  api.get('/v1/ivr/extensions/:extension/secretary', {
    schema: {
      operationId: 'getSecretaryByExtension',
      tags,
      summary: 'The secretary answering an extension, with the names of its providers',
      params: z.strictObject({ extension: z.string().regex(/^[0-9*#]{1,10}$/, 'must be 1 to 10 of 0-9, * and #') }),
      response: replies({ 200: secretaryWithProvidersSchema }, 404),
    },
    handler: async (request) => domainOf(request).secretaryByExtension(request.params.extension),
  });
}
