import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { PROVIDER_TYPES, newProvider, providerPatch } from '../../../ivr/providers.ts';
import { replies, WITH_BODY } from '../../responses.ts';
import { idempotencyOf, idempotentHeaders, keysetPage, pageOf, pageQuery, providerSchema, providerWithConfigSchema, uuidParams } from '../../schemas.ts';
import { domainOf } from './tenant.ts';

/** The domain's AI providers (speech to text, text to speech, LLM…); configs are stored encrypted and write-only. */
export async function providerRoutes(app: FastifyInstance): Promise<void> {
  const api = app.withTypeProvider<ZodTypeProvider>();
  const tags = ['ivr providers'];

  api.post('/v1/ivr/providers', {
    schema: {
      operationId: 'createProvider',
      tags,
      summary: 'Add a provider; its config (API keys) is encrypted in the database and never listed',
      headers: idempotentHeaders,
      body: newProvider,
      response: replies({ 201: providerSchema }, 409, ...WITH_BODY),
    },
    handler: async (request, reply) => reply.status(201).send(await domainOf(request).createProvider(request.body, idempotencyOf(request))),
  });
  api.get('/v1/ivr/providers', {
    schema: {
      operationId: 'listProviders',
      tags,
      summary: "The domain's providers in creation order",
      querystring: z.strictObject(pageQuery),
      response: replies({ 200: pageOf(providerSchema) }),
    },
    handler: async (request) =>
      keysetPage(
        request.query,
        (page) => domainOf(request).listProviders(page),
        (row) => [row.created_at, row.provider_uuid],
      ),
  });
  api.get('/v1/ivr/providers/:uuid', {
    schema: {
      operationId: 'getProvider',
      tags,
      summary: 'One provider (without its config)',
      params: uuidParams,
      response: replies({ 200: providerSchema }, 404),
    },
    handler: async (request) => domainOf(request).getProvider(request.params.uuid),
  });
  api.patch('/v1/ivr/providers/:uuid', {
    schema: {
      operationId: 'updateProvider',
      tags,
      summary: 'Change a provider; a new config replaces the old',
      params: uuidParams,
      body: providerPatch,
      response: replies({ 200: providerSchema }, 404, 409, ...WITH_BODY),
    },
    handler: async (request) => domainOf(request).updateProvider(request.params.uuid, request.body),
  });
  api.delete('/v1/ivr/providers/:uuid', {
    schema: {
      operationId: 'deleteProvider',
      tags,
      summary: 'Delete a provider',
      params: uuidParams,
      response: replies({ 204: z.null() }, 404, 409, ...WITH_BODY),
    },
    handler: async (request, reply) => {
      await domainOf(request).deleteProvider(request.params.uuid);
      return reply.status(204).send(null);
    },
  });
  api.get('/v1/ivr/providers/default/:type', {
    schema: {
      operationId: 'getDefaultProvider',
      tags,
      summary: 'The default enabled provider of a type, with its decrypted config (for the IVR engine)',
      params: z.strictObject({ type: z.enum(PROVIDER_TYPES) }),
      response: replies({ 200: providerWithConfigSchema }, 404),
    },
    handler: async (request) => domainOf(request).defaultProvider(request.params.type),
  });
}
