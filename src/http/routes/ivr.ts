import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { NotFoundError } from '../../errors.ts';
import type { IvrDomain } from '../../ivr/ivr.ts';
import * as calls from '../../ivr/calls.ts';
import * as documents from '../../ivr/documents.ts';
import { PROVIDER_TYPES, newProvider, providerPatch } from '../../ivr/providers.ts';
import * as secretaries from '../../ivr/secretaries.ts';
import * as rules from '../../ivr/transfer-rules.ts';
import type { IdempotencyOptions } from '../../db/idempotency.ts';
import { errorSchema, idempotencyOf, idempotentHeaders } from '../schemas.ts';

/** The tenant's handle, set by the API-key check of the IVR scope (see app.ts): the only source of the domain. */
export function domainOf(request: FastifyRequest): IvrDomain {
  const domain = (request as FastifyRequest & { ivrDomain?: IvrDomain }).ivrDomain;
  if (!domain) throw new NotFoundError('no IVR domain for this request');
  return domain;
}

const errors = { 400: errorSchema, 401: errorSchema, 404: errorSchema, 409: errorSchema };
// A row of the IVR module's tables, as the library types it (see src/ivr); documented by name, not field by field.
const row = z.any().describe('a row of the resource');
const rows = z.object({ items: z.array(row) });
const uuidParams = z.strictObject({ uuid: z.uuid({ message: 'must be a UUID' }) });

interface Resource {
  path: string;
  tag: string;
  create: z.ZodType;
  patch: z.ZodType;
  operations: {
    create(domain: IvrDomain, body: never, options: IdempotencyOptions): Promise<unknown>;
    list(domain: IvrDomain): Promise<unknown[]>;
    get(domain: IvrDomain, uuid: string): Promise<unknown>;
    update(domain: IvrDomain, uuid: string, body: never): Promise<unknown>;
    remove(domain: IvrDomain, uuid: string): Promise<unknown>;
  };
}

/** The five routes of a per-domain configuration resource; such sets are small, so a list is one page. */
function crud(api: FastifyInstance, { path, tag, create, patch, operations }: Resource): void {
  const typed = api.withTypeProvider<ZodTypeProvider>();
  typed.post(path, {
    schema: { tags: [tag], summary: `Create (${tag})`, headers: idempotentHeaders, body: create, response: { 201: row, ...errors } },
    handler: async (request, reply) => reply.status(201).send(await operations.create(domainOf(request), request.body as never, idempotencyOf(request))),
  });
  typed.get(path, {
    schema: { tags: [tag], summary: `List all (${tag}); a domain's set is small and comes whole`, response: { 200: rows, ...errors } },
    handler: async (request) => ({ items: await operations.list(domainOf(request)) }),
  });
  typed.get(`${path}/:uuid`, {
    schema: { tags: [tag], summary: `Get one (${tag})`, params: uuidParams, response: { 200: row, ...errors } },
    handler: async (request) => operations.get(domainOf(request), request.params.uuid),
  });
  typed.patch(`${path}/:uuid`, {
    schema: { tags: [tag], summary: `Change one (${tag})`, params: uuidParams, body: patch, response: { 200: row, ...errors } },
    handler: async (request) => operations.update(domainOf(request), request.params.uuid, request.body as never),
  });
  typed.delete(`${path}/:uuid`, {
    schema: { tags: [tag], summary: `Delete one (${tag})`, params: uuidParams, response: { 204: z.null(), ...errors } },
    handler: async (request, reply) => {
      await operations.remove(domainOf(request), request.params.uuid);
      return reply.status(204).send(null);
    },
  });
}

/** The Voice AI IVR of the caller's domain (from its API key, never from the URL or the body). */
export function ivrRoutes(app: FastifyInstance): void {
  const api = app.withTypeProvider<ZodTypeProvider>();

  crud(app, {
    path: '/v1/ivr/providers',
    tag: 'ivr providers',
    create: newProvider,
    patch: providerPatch,
    operations: {
      create: (d, body, options) => d.createProvider(body, options),
      list: (d) => d.listProviders(),
      get: (d, uuid) => d.getProvider(uuid),
      update: (d, uuid, body) => d.updateProvider(uuid, body),
      remove: (d, uuid) => d.deleteProvider(uuid),
    },
  });
  api.get('/v1/ivr/providers/default/:type', {
    schema: {
      tags: ['ivr providers'],
      summary: 'The default enabled provider of a type, with its decrypted config (for the IVR engine)',
      params: z.strictObject({ type: z.enum(PROVIDER_TYPES) }),
      response: { 200: row, ...errors },
    },
    handler: async (request) => domainOf(request).defaultProvider(request.params.type),
  });

  crud(app, {
    path: '/v1/ivr/secretaries',
    tag: 'ivr secretaries',
    create: secretaries.newSecretary,
    patch: secretaries.secretaryPatch,
    operations: {
      create: (d, body, options) => d.createSecretary(body, options),
      list: (d) => d.listSecretaries(),
      get: (d, uuid) => d.getSecretary(uuid),
      update: (d, uuid, body) => d.updateSecretary(uuid, body),
      remove: (d, uuid) => d.deleteSecretary(uuid),
    },
  });
  api.get('/v1/ivr/extensions/:extension/secretary', {
    schema: {
      tags: ['ivr secretaries'],
      summary: 'The secretary answering an extension, with its providers',
      params: z.strictObject({ extension: z.string().regex(/^[0-9*#]{1,10}$/, 'must be 1 to 10 of 0-9, * and #') }),
      response: { 200: row, ...errors },
    },
    handler: async (request) => domainOf(request).secretaryByExtension(request.params.extension),
  });

  crud(app, {
    path: '/v1/ivr/documents',
    tag: 'ivr documents',
    create: documents.newDocument,
    patch: documents.documentPatch,
    operations: {
      create: (d, body, options) => d.createDocument(body, options),
      list: (d) => d.listDocuments(),
      get: (d, uuid) => d.getDocument(uuid),
      update: (d, uuid, body) => d.updateDocument(uuid, body),
      remove: (d, uuid) => d.deleteDocument(uuid),
    },
  });
  api.get('/v1/ivr/documents/search', {
    schema: {
      tags: ['ivr documents'],
      summary: 'Full-text search (Portuguese) of enabled documents',
      querystring: z.strictObject({
        q: z.string().min(1).max(1000),
        secretary_uuid: z.uuid().optional(),
        limit: z.coerce.number().int().min(1).max(100).default(10),
      }),
      response: { 200: rows, ...errors },
    },
    handler: async (request) => {
      const { q, ...options } = request.query;
      return { items: await domainOf(request).searchDocuments(q, options) };
    },
  });

  crud(app, {
    path: '/v1/ivr/transfer-rules',
    tag: 'ivr transfer rules',
    create: rules.newTransferRule,
    patch: rules.transferRulePatch,
    operations: {
      create: (d, body, options) => d.createTransferRule(body, options),
      list: (d) => d.listTransferRules(),
      get: (d, uuid) => d.getTransferRule(uuid),
      update: (d, uuid, body) => d.updateTransferRule(uuid, body),
      remove: (d, uuid) => d.deleteTransferRule(uuid),
    },
  });
  api.post('/v1/ivr/transfer-rules/match', {
    schema: {
      tags: ['ivr transfer rules'],
      summary: 'The rule that applies to an intent and utterance now (or at a given moment)',
      body: rules.transferQuery,
      response: { 200: z.object({ rule: row.nullable() }), ...errors },
    },
    handler: async (request) => ({ rule: (await domainOf(request).findTransferRule(request.body)) ?? null }),
  });

  api.post('/v1/ivr/calls', {
    schema: { tags: ['ivr calls'], summary: 'Start a call', headers: idempotentHeaders, body: calls.newCall.default({}), response: { 201: row, ...errors } },
    handler: async (request, reply) => reply.status(201).send(await domainOf(request).startCall(request.body, idempotencyOf(request))),
  });
  api.get('/v1/ivr/calls', {
    schema: {
      tags: ['ivr calls'],
      summary: 'Calls since a moment with their message counts, newest first (the seed query)',
      querystring: z.strictObject({ since: z.iso.datetime({ offset: true }) }),
      response: { 200: rows, ...errors },
    },
    handler: async (request) => ({ items: await domainOf(request).callHistory(request.query.since) }),
  });
  api.get('/v1/ivr/calls/:uuid', {
    schema: { tags: ['ivr calls'], summary: 'A call with its messages', params: uuidParams, response: { 200: row, ...errors } },
    handler: async (request) => domainOf(request).getCall(request.params.uuid),
  });
  api.post('/v1/ivr/calls/:uuid/messages', {
    schema: {
      tags: ['ivr calls'],
      summary: 'Append messages to a call',
      params: uuidParams,
      headers: idempotentHeaders,
      body: z.strictObject({ messages: calls.callMessages }),
      response: { 201: rows, ...errors },
    },
    handler: async (request, reply) =>
      reply.status(201).send({ items: await domainOf(request).appendCallMessages(request.params.uuid, request.body.messages, idempotencyOf(request)) }),
  });
  api.post('/v1/ivr/calls/:uuid/end', {
    schema: { tags: ['ivr calls'], summary: 'End a call', params: uuidParams, body: calls.callEnding.default({}), response: { 200: row, ...errors } },
    handler: async (request) => domainOf(request).endCall(request.params.uuid, request.body),
  });
}
