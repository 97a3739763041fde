import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import * as conversations from '../../core/conversations.ts';
import * as messages from '../../core/messages.ts';
import type { ServiceContext } from '../context.ts';
import { readerFor, stampLsn } from '../reads.ts';
import { replies, WITH_BODY } from '../responses.ts';
import { conversationSchema, decodeCursor, encodeCursor, idempotencyOf, idempotentHeaders, idParams, messageSchema, pageOf, pageQuery } from '../schemas.ts';

const turnMessage = messages.newMessage.omit({ role: true });
const appended = z.object({ messages: z.array(messageSchema) });

/** Conversations and their messages: the hot path of every turn (append, then read the last messages). */
export async function conversationRoutes(app: FastifyInstance, { context }: { context: ServiceContext }): Promise<void> {
  const { db, metrics } = context;
  const api = app.withTypeProvider<ZodTypeProvider>();
  const tags = ['conversations'];

  api.post('/v1/conversations', {
    schema: {
      operationId: 'startConversation',
      tags,
      summary: 'Start a conversation',
      headers: idempotentHeaders,
      body: conversations.newConversation.default({}),
      response: replies({ 201: conversationSchema }, 409, 422, ...WITH_BODY),
    },
    handler: async (request, reply) => reply.status(201).send(await conversations.startConversation(db, request.body, idempotencyOf(request))),
  });
  api.get('/v1/conversations/:id', {
    schema: {
      operationId: 'getConversation',
      tags,
      summary: 'A conversation with all its messages',
      params: idParams,
      response: replies({ 200: conversationSchema.extend({ messages: z.array(messageSchema) }) }, 404),
    },
    handler: async (request) => conversations.getConversation((await readerFor(context, request)).db, request.params.id),
  });
  api.post('/v1/conversations/:id/turns', {
    schema: {
      operationId: 'appendTurn',
      tags,
      summary: "Append a turn: the user's utterance and the assistant's answer, both or neither",
      params: idParams,
      headers: idempotentHeaders,
      body: z.strictObject({ user: turnMessage, assistant: turnMessage }),
      response: replies({ 201: appended }, 404, 409, ...WITH_BODY),
    },
    handler: async (request, reply) => {
      const { user, assistant } = request.body;
      const turn = await conversations.appendTurn(db, request.params.id, user, assistant, idempotencyOf(request));
      metrics.messagesAppended.inc(turn.length);
      await stampLsn(context, reply);
      return reply.status(201).send({ messages: turn });
    },
  });
  api.post('/v1/conversations/:id/messages', {
    schema: {
      operationId: 'appendMessages',
      tags,
      summary: 'Append messages in one transaction',
      params: idParams,
      headers: idempotentHeaders,
      body: z.strictObject({ messages: z.array(messages.newMessage).min(1).max(1000) }),
      response: replies({ 201: appended }, 404, 409, ...WITH_BODY),
    },
    handler: async (request, reply) => {
      const batch = await messages.appendMessages(db, request.params.id, request.body.messages, idempotencyOf(request));
      metrics.messagesAppended.inc(batch.length);
      await stampLsn(context, reply);
      return reply.status(201).send({ messages: batch });
    },
  });
  api.get('/v1/conversations/:id/messages', {
    schema: {
      operationId: 'listMessages',
      tags,
      summary: 'The latest messages, oldest first; next_cursor pages back in time',
      params: idParams,
      querystring: z.strictObject(pageQuery),
      response: replies({ 200: pageOf(messageSchema) }, 404),
    },
    handler: async (request) => {
      const { limit, cursor } = request.query;
      const reader = await readerFor(context, request);
      return latestPage(await messages.conversationHistory(reader.db, request.params.id, { limit: limit + 1, before: decodeCursor(cursor)?.at }), limit);
    },
  });
  api.post('/v1/conversations/:id/end', {
    schema: {
      operationId: 'endConversation',
      tags,
      summary: 'End a conversation',
      params: idParams,
      body: conversations.ending.default({}),
      response: replies({ 200: conversationSchema }, 404, 409, ...WITH_BODY),
    },
    handler: async (request) => conversations.endConversation(db, request.params.id, request.body),
  });
}

/** A page of the latest messages, oldest first, from `limit + 1` rows: the extra row, when there is one, is the first. */
function latestPage(rows: messages.Message[], limit: number) {
  const items = rows.length > limit ? rows.slice(1) : rows;
  const oldest = items[0];
  return { items, next_cursor: rows.length > limit && oldest ? encodeCursor(oldest.timestamp, oldest.id) : null };
}
