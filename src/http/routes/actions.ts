import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import * as actions from '../../core/actions.ts';
import type { ServiceContext } from '../context.ts';
import { replies, WITH_BODY } from '../responses.ts';
import { actionSchema, idempotencyOf, idempotentHeaders, idParams } from '../schemas.ts';

/** Actions a message asked for (turn on a light, send a message) and their lifecycle. */
export async function actionRoutes(app: FastifyInstance, { context }: { context: ServiceContext }): Promise<void> {
  const { db } = context;
  const api = app.withTypeProvider<ZodTypeProvider>();
  const tags = ['actions'];

  api.post('/v1/actions', {
    schema: {
      operationId: 'recordAction',
      tags,
      summary: 'Record an action a message asked for',
      headers: idempotentHeaders,
      body: actions.newAction,
      response: replies({ 201: actionSchema }, 404, 409, 422, ...WITH_BODY),
    },
    handler: async (request, reply) => reply.status(201).send(await actions.recordAction(db, request.body, idempotencyOf(request))),
  });
  api.get('/v1/actions/:id', {
    schema: { operationId: 'getAction', tags, summary: 'Get an action', params: idParams, response: replies({ 200: actionSchema }, 404) },
    handler: async (request) => actions.getAction(db, request.params.id),
  });
  api.post('/v1/actions/:id/transition', {
    schema: {
      operationId: 'transitionAction',
      tags,
      summary: 'Move an action: pending → executing → success | failed',
      params: idParams,
      body: actions.outcome.extend({ status: z.enum(['pending', 'executing', 'success', 'failed']) }),
      response: replies({ 200: actionSchema }, 404, 409, ...WITH_BODY),
    },
    handler: async (request) => {
      const { status, ...details } = request.body;
      return actions.transitionAction(db, request.params.id, status, details);
    },
  });
}
