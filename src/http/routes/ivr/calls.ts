import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { callEnding, callMessages, newCall } from '../../../ivr/calls.ts';
import { replies, WITH_BODY } from '../../responses.ts';
import {
  callMessageSchema,
  callSchema,
  callSummarySchema,
  idempotencyOf,
  idempotentHeaders,
  keysetPage,
  pageOf,
  pageQuery,
  uuidParams,
} from '../../schemas.ts';
import { domainOf } from './tenant.ts';

/** Calls the secretaries answer, and their transcripts. */
export async function callRoutes(app: FastifyInstance): Promise<void> {
  const api = app.withTypeProvider<ZodTypeProvider>();
  const tags = ['ivr calls'];

  api.post('/v1/ivr/calls', {
    schema: {
      operationId: 'startCall',
      tags,
      summary: 'Start a call',
      headers: idempotentHeaders,
      body: newCall.default({}),
      response: replies({ 201: callSchema }, 409, 422, ...WITH_BODY),
    },
    handler: async (request, reply) => reply.status(201).send(await domainOf(request).startCall(request.body, idempotencyOf(request))),
  });
  api.get('/v1/ivr/calls', {
    schema: {
      operationId: 'listCalls',
      tags,
      summary: 'Calls since a moment with their message counts, newest first (the seed query); next_cursor pages back in time',
      querystring: z.strictObject({ ...pageQuery, since: z.iso.datetime({ offset: true }) }),
      response: replies({ 200: pageOf(callSummarySchema) }),
    },
    handler: async (request) =>
      keysetPage(
        request.query,
        (page) => domainOf(request).callHistory(request.query.since, page),
        (row) => [row.started_at, row.conversation_uuid],
      ),
  });
  api.get('/v1/ivr/calls/:uuid', {
    schema: {
      operationId: 'getCall',
      tags,
      summary: 'A call with its messages',
      params: uuidParams,
      response: replies({ 200: callSchema.extend({ messages: z.array(callMessageSchema) }) }, 404),
    },
    handler: async (request) => domainOf(request).getCall(request.params.uuid),
  });
  api.post('/v1/ivr/calls/:uuid/messages', {
    schema: {
      operationId: 'appendCallMessages',
      tags,
      summary: 'Append messages to a call',
      params: uuidParams,
      headers: idempotentHeaders,
      body: z.strictObject({ messages: callMessages }),
      response: replies({ 201: z.object({ items: z.array(callMessageSchema) }) }, 404, 409, ...WITH_BODY),
    },
    handler: async (request, reply) =>
      reply.status(201).send({ items: await domainOf(request).appendCallMessages(request.params.uuid, request.body.messages, idempotencyOf(request)) }),
  });
  api.post('/v1/ivr/calls/:uuid/end', {
    schema: {
      operationId: 'endCall',
      tags,
      summary: 'End a call',
      params: uuidParams,
      body: callEnding.default({}),
      response: replies({ 200: callSchema }, 404, 409, ...WITH_BODY),
    },
    handler: async (request) => domainOf(request).endCall(request.params.uuid, request.body),
  });
}
