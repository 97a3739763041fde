import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { id } from '../../validation.ts';
import { createApiKey, listApiKeys, revokeApiKey } from '../../ivr/api-keys.ts';
import type { ServiceContext } from '../context.ts';
import { replies, WITH_BODY } from '../responses.ts';
import { apiKeySchema, keysetPage, pageOf, pageQuery, uuidParams } from '../schemas.ts';

/** The admin's side of the IVR: the API keys that open /v1/ivr to one FusionPBX domain each. */
export async function ivrKeyRoutes(app: FastifyInstance, { context }: { context: ServiceContext }): Promise<void> {
  const { db, apiKeys } = context;
  const api = app.withTypeProvider<ZodTypeProvider>();
  const tags = ['ivr keys'];

  api.post('/v1/admin/ivr/keys', {
    schema: {
      operationId: 'createIvrKey',
      tags,
      summary: 'Create an API key for a domain; the key is shown in this response only',
      body: z.strictObject({ domain_uuid: id, name: z.string().min(1).max(100) }),
      response: replies({ 201: apiKeySchema.extend({ key: z.string().describe('the secret: store it now, it is never shown again') }) }, 422, ...WITH_BODY),
    },
    handler: async (request, reply) => reply.status(201).send(await createApiKey(db, request.body.domain_uuid, request.body.name)),
  });
  api.get('/v1/admin/ivr/keys', {
    schema: {
      operationId: 'listIvrKeys',
      tags,
      summary: 'API keys (never their secrets) in creation order, of one domain or all',
      querystring: z.strictObject({ ...pageQuery, domain_uuid: id.optional() }),
      response: replies({ 200: pageOf(apiKeySchema) }),
    },
    handler: async (request) =>
      keysetPage(
        request.query,
        (page) => listApiKeys(db, request.query.domain_uuid, page),
        (key) => [key.created_at, key.key_uuid],
      ),
  });
  api.delete('/v1/admin/ivr/keys/:uuid', {
    schema: {
      operationId: 'revokeIvrKey',
      tags,
      summary: 'Revoke an API key: refused from the next request on this service; other service instances (and revocations made with the CLI) take up to 5 s',
      params: uuidParams,
      response: replies({ 200: apiKeySchema }, 404, ...WITH_BODY),
    },
    handler: async (request) => {
      const revoked = await revokeApiKey(db, request.params.uuid);
      apiKeys.forget();
      return revoked;
    },
  });
}
