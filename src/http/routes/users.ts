import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import * as messages from '../../core/messages.ts';
import { eraseUser, exportUser } from '../../core/privacy.ts';
import * as users from '../../core/users.ts';
import type { ServiceContext } from '../context.ts';
import type { Position } from '../../validation.ts';
import { readerFor } from '../reads.ts';
import { replies, WITH_BODY } from '../responses.ts';
import {
  actionSchema,
  conversationSchema,
  idempotencyOf,
  idempotentHeaders,
  idParams,
  keysetPage,
  logLineSchema,
  messageSchema,
  pageOf,
  pageQuery,
  reminderSchema,
  userSchema,
} from '../schemas.ts';

const exported = z.object({
  exported_at: z.string(),
  user: userSchema,
  conversations: z.array(conversationSchema.extend({ messages: z.array(messageSchema), actions: z.array(actionSchema) })),
  reminders: z.array(reminderSchema),
  log_lines: z.array(logLineSchema),
});
const erased = z.object({ conversations: z.number(), messages: z.number(), actions: z.number(), reminders: z.number(), log_lines: z.number() });

/** Users: who talks to the assistant, their history, and what LGPD asks (export, erasure). */
export async function userRoutes(app: FastifyInstance, { context }: { context: ServiceContext }): Promise<void> {
  const { db } = context;
  const api = app.withTypeProvider<ZodTypeProvider>();
  const tags = ['users'];

  api.post('/v1/users', {
    schema: {
      operationId: 'createUser',
      tags,
      summary: 'Create a user',
      headers: idempotentHeaders,
      body: users.newUser,
      response: replies({ 201: userSchema }, 409, ...WITH_BODY),
    },
    handler: async (request, reply) => reply.status(201).send(await users.createUser(db, request.body, idempotencyOf(request))),
  });
  api.get('/v1/users', {
    schema: {
      operationId: 'listUsers',
      tags,
      summary: 'List users in creation order',
      querystring: z.strictObject({ ...pageQuery, active: z.enum(['true', 'false']).optional() }),
      response: replies({ 200: pageOf(userSchema) }),
    },
    handler: async (request) => {
      const { active } = request.query;
      const filter = active === undefined ? {} : { active: active === 'true' };
      return keysetPage(
        request.query,
        (page) => users.listUsers(db, { ...page, ...filter }),
        (user) => [user.created_at, user.id],
      );
    },
  });
  api.get('/v1/users/:id', {
    schema: { operationId: 'getUser', tags, summary: 'Get a user', params: idParams, response: replies({ 200: userSchema }, 404) },
    handler: async (request) => users.getUser(db, request.params.id),
  });
  api.patch('/v1/users/:id', {
    schema: {
      operationId: 'updateUser',
      tags,
      summary: 'Change a user',
      params: idParams,
      body: users.userPatch,
      response: replies({ 200: userSchema }, 404, 409, ...WITH_BODY),
    },
    handler: async (request) => users.updateUser(db, request.params.id, request.body),
  });
  api.get('/v1/users/:id/export', {
    schema: {
      operationId: 'exportUser',
      tags,
      summary: 'Everything stored about a user, as one document (LGPD)',
      params: idParams,
      response: replies({ 200: exported }, 404),
    },
    handler: async (request) => exportUser(db, request.params.id),
  });
  api.delete('/v1/users/:id', {
    schema: {
      operationId: 'eraseUser',
      tags,
      summary: 'Erase a user and everything about them in one transaction (LGPD); counts come back, an audit line keeps only those',
      params: idParams,
      response: replies({ 200: erased }, 404, ...WITH_BODY),
    },
    handler: async (request) => eraseUser(db, request.params.id),
  });
  api.get('/v1/users/:id/history', {
    schema: {
      operationId: 'getUserHistory',
      tags,
      summary: "A user's messages of the last days, newest first (the seed's history query)",
      params: idParams,
      querystring: z.strictObject({ ...pageQuery, days: z.coerce.number().int().min(1).max(3650).default(7) }),
      response: replies({ 200: pageOf(messageSchema) }, 404),
    },
    handler: async (request) => {
      const reader = await readerFor(context, request);
      const history = ({ limit, after }: { limit: number; after?: Position }) =>
        messages.userHistory(reader.db, request.params.id, { days: request.query.days, limit, before: after });
      return keysetPage(request.query, history, (message) => [message.timestamp, message.id]);
    },
  });
}
