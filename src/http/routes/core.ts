import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import type { Reader } from '../../db/read-routing.ts';
import type { DB } from '../../db/schema.ts';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import * as actions from '../../core/actions.ts';
import * as settings from '../../core/config.ts';
import * as conversations from '../../core/conversations.ts';
import * as logs from '../../core/logs.ts';
import * as messages from '../../core/messages.ts';
import * as reminders from '../../core/reminders.ts';
import { eraseUser, exportUser } from '../../core/privacy.ts';
import * as reportsLib from '../../core/reports.ts';
import { searchMessages, searchPosition } from '../../core/search.ts';
import { InvalidInputError } from '../../errors.ts';
import * as users from '../../core/users.ts';
import { jsonValue } from '../../db/validation.ts';
import type { ServiceContext } from '../context.ts';
import {
  actionSchema,
  configEntrySchema,
  conversationSchema,
  decodeCursor,
  encodeCursor,
  errorSchema,
  idempotencyOf,
  idempotentHeaders,
  idParams,
  logLineSchema,
  messageSchema,
  pageFrom,
  pageOf,
  pageQuery,
  reminderSchema,
  fromCursor,
  toCursor,
  userSchema,
} from '../schemas.ts';

const errors = { 400: errorSchema, 404: errorSchema, 409: errorSchema };
const turnMessage = messages.newMessage.omit({ role: true });

/** The Mordomo core: users, conversations and their messages, actions, reminders, settings and logs. */
export function coreRoutes(app: FastifyInstance, context: ServiceContext): void {
  const { db, metrics } = context;
  const api = app.withTypeProvider<ZodTypeProvider>();
  const reader = (request: FastifyRequest) => readerFor(context, request);
  /** With replicas, a write tells the caller its WAL position, to pass back as x-mordomo-after-lsn. */
  const stampLsn = async (reply: FastifyReply) => {
    if (context.reads.hasReplicas) void reply.header('x-mordomo-lsn', await context.reads.writeLsn());
  };

  api.post('/v1/users', {
    schema: { tags: ['users'], summary: 'Create a user', headers: idempotentHeaders, body: users.newUser, response: { 201: userSchema, ...errors } },
    handler: async (request, reply) => reply.status(201).send(await users.createUser(db, request.body, idempotencyOf(request))),
  });
  api.get('/v1/users', {
    schema: {
      tags: ['users'],
      summary: 'List users in creation order',
      querystring: z.strictObject({ ...pageQuery, active: z.enum(['true', 'false']).optional() }),
      response: { 200: pageOf(userSchema), ...errors },
    },
    handler: async (request) => {
      const { limit, cursor, active } = request.query;
      const rows = await users.listUsers(db, {
        limit: limit + 1,
        after: decodeCursor(cursor),
        active: active === undefined ? undefined : active === 'true',
      });
      return pageFrom(rows, limit, (user) => encodeCursor(user.created_at, user.id));
    },
  });
  api.get('/v1/users/:id', {
    schema: { tags: ['users'], summary: 'Get a user', params: idParams, response: { 200: userSchema, ...errors } },
    handler: async (request) => users.getUser(db, request.params.id),
  });
  api.patch('/v1/users/:id', {
    schema: { tags: ['users'], summary: 'Change a user', params: idParams, body: users.userPatch, response: { 200: userSchema, ...errors } },
    handler: async (request) => users.updateUser(db, request.params.id, request.body),
  });
  api.get('/v1/users/:id/export', {
    schema: {
      tags: ['users'],
      summary: 'Everything stored about a user, as one document (LGPD)',
      params: idParams,
      response: {
        200: z.object({
          exported_at: z.string(),
          user: userSchema,
          conversations: z.array(conversationSchema.extend({ messages: z.array(messageSchema), actions: z.array(actionSchema) })),
          reminders: z.array(reminderSchema),
          log_lines: z.array(logLineSchema),
        }),
        ...errors,
      },
    },
    handler: async (request) => exportUser(db, request.params.id),
  });
  api.delete('/v1/users/:id', {
    schema: {
      tags: ['users'],
      summary: 'Erase a user and everything about them in one transaction (LGPD); counts come back, an audit line keeps only those',
      params: idParams,
      response: { 200: z.object({ conversations: z.number(), messages: z.number(), actions: z.number(), reminders: z.number(), log_lines: z.number() }), ...errors },
    },
    handler: async (request) => eraseUser(db, request.params.id),
  });
  api.get('/v1/users/:id/history', {
    schema: {
      tags: ['users'],
      summary: "A user's messages of the last days, newest first (the seed's history query)",
      params: idParams,
      querystring: z.strictObject({ ...pageQuery, days: z.coerce.number().int().min(1).max(3650).default(7) }),
      response: { 200: pageOf(messageSchema), ...errors },
    },
    handler: async (request) => {
      const { limit, cursor, days } = request.query;
      const rows = await messages.userHistory((await reader(request)).db, request.params.id, { days, limit: limit + 1, before: decodeCursor(cursor) });
      return pageFrom(rows, limit, (message) => encodeCursor(message.timestamp, message.id));
    },
  });

  api.post('/v1/conversations', {
    schema: {
      tags: ['conversations'],
      summary: 'Start a conversation',
      headers: idempotentHeaders,
      body: conversations.newConversation.default({}),
      response: { 201: conversationSchema, ...errors },
    },
    handler: async (request, reply) => reply.status(201).send(await conversations.startConversation(db, request.body, idempotencyOf(request))),
  });
  api.get('/v1/conversations/:id', {
    schema: {
      tags: ['conversations'],
      summary: 'A conversation with all its messages',
      params: idParams,
      response: { 200: conversationSchema.extend({ messages: z.array(messageSchema) }), ...errors },
    },
    handler: async (request) => conversations.getConversation((await reader(request)).db, request.params.id),
  });
  api.post('/v1/conversations/:id/turns', {
    schema: {
      tags: ['conversations'],
      summary: "Append a turn: the user's utterance and the assistant's answer, both or neither",
      params: idParams,
      headers: idempotentHeaders,
      body: z.strictObject({ user: turnMessage, assistant: turnMessage }),
      response: { 201: z.object({ messages: z.array(messageSchema) }), ...errors },
    },
    handler: async (request, reply) => {
      const appended = await conversations.appendTurn(db, request.params.id, request.body.user, request.body.assistant, idempotencyOf(request));
      metrics.messagesAppended.inc(appended.length);
      await stampLsn(reply);
      return reply.status(201).send({ messages: appended });
    },
  });
  api.post('/v1/conversations/:id/messages', {
    schema: {
      tags: ['conversations'],
      summary: 'Append messages in one transaction',
      params: idParams,
      headers: idempotentHeaders,
      body: z.strictObject({ messages: z.array(messages.newMessage).min(1).max(1000) }),
      response: { 201: z.object({ messages: z.array(messageSchema) }), ...errors },
    },
    handler: async (request, reply) => {
      const appended = await messages.appendMessages(db, request.params.id, request.body.messages, idempotencyOf(request));
      metrics.messagesAppended.inc(appended.length);
      await stampLsn(reply);
      return reply.status(201).send({ messages: appended });
    },
  });
  api.get('/v1/conversations/:id/messages', {
    schema: {
      tags: ['conversations'],
      summary: 'The latest messages, oldest first; next_cursor pages back in time',
      params: idParams,
      querystring: z.strictObject(pageQuery),
      response: { 200: pageOf(messageSchema), ...errors },
    },
    handler: async (request) => {
      const { limit, cursor } = request.query;
      const rows = await messages.conversationHistory((await reader(request)).db, request.params.id, { limit: limit + 1, before: decodeCursor(cursor)?.at });
      // Oldest first: the extra row, when there is one, is the first.
      const items = rows.length > limit ? rows.slice(1) : rows;
      const oldest = items[0];
      return { items, next_cursor: rows.length > limit && oldest ? encodeCursor(oldest.timestamp, oldest.id) : null };
    },
  });
  api.post('/v1/conversations/:id/end', {
    schema: {
      tags: ['conversations'],
      summary: 'End a conversation',
      params: idParams,
      body: conversations.ending.default({}),
      response: { 200: conversationSchema, ...errors },
    },
    handler: async (request) => conversations.endConversation(db, request.params.id, request.body),
  });

  api.post('/v1/actions', {
    schema: {
      tags: ['actions'],
      summary: 'Record an action a message asked for',
      headers: idempotentHeaders,
      body: actions.newAction,
      response: { 201: actionSchema, ...errors },
    },
    handler: async (request, reply) => reply.status(201).send(await actions.recordAction(db, request.body, idempotencyOf(request))),
  });
  api.get('/v1/actions/:id', {
    schema: { tags: ['actions'], summary: 'Get an action', params: idParams, response: { 200: actionSchema, ...errors } },
    handler: async (request) => actions.getAction(db, request.params.id),
  });
  api.post('/v1/actions/:id/transition', {
    schema: {
      tags: ['actions'],
      summary: 'Move an action: pending → executing → success | failed',
      params: idParams,
      body: actions.outcome.extend({ status: z.enum(['pending', 'executing', 'success', 'failed']) }),
      response: { 200: actionSchema, ...errors },
    },
    handler: async (request) => {
      const { status, ...details } = request.body;
      return actions.transitionAction(db, request.params.id, status, details);
    },
  });

  api.post('/v1/reminders', {
    schema: { tags: ['reminders'], summary: 'Create a reminder', headers: idempotentHeaders, body: reminders.newReminder, response: { 201: reminderSchema, ...errors } },
    handler: async (request, reply) => reply.status(201).send(await reminders.createReminder(db, request.body, idempotencyOf(request))),
  });
  api.post('/v1/reminders/:id/cancel', {
    schema: { tags: ['reminders'], summary: 'Cancel a pending reminder', params: idParams, response: { 200: reminderSchema, ...errors } },
    handler: async (request) => reminders.cancelReminder(db, request.params.id),
  });
  api.get('/v1/reminders/upcoming', {
    schema: {
      tags: ['reminders'],
      summary: 'Pending reminders not yet due, soonest first',
      querystring: z.strictObject({ ...pageQuery, user_id: z.uuid({ message: 'must be a UUID' }).optional() }),
      response: { 200: pageOf(reminderSchema), ...errors },
    },
    handler: async (request) => {
      const { limit, cursor, user_id } = request.query;
      const rows = await reminders.upcomingReminders(db, { user_id, limit: limit + 1, after: decodeCursor(cursor) });
      return pageFrom(rows, limit, (reminder) => encodeCursor(reminder.scheduled_at, reminder.id));
    },
  });

  const configKey = z.strictObject({ key: z.enum(Object.keys(settings.CONFIG_KEYS) as [settings.ConfigKey, ...settings.ConfigKey[]]) });
  api.get('/v1/config', {
    schema: { tags: ['config'], summary: 'Every setting (a short, fixed set: not paged)', response: { 200: z.object({ items: z.array(configEntrySchema) }) } },
    handler: async () => ({ items: await settings.listConfig(db) }),
  });
  api.get('/v1/config/:key', {
    schema: { tags: ['config'], summary: 'One setting', params: configKey, response: { 200: z.object({ key: z.string(), value: jsonValue }), ...errors } },
    handler: async (request) => ({ key: request.params.key, value: await settings.getConfig(db, request.params.key) }),
  });
  api.put('/v1/config/:key', {
    schema: {
      tags: ['config'],
      summary: 'Set one setting (validated per key)',
      params: configKey,
      body: z.strictObject({ value: jsonValue, updated_by: z.string().max(100).optional() }),
      response: { 200: configEntrySchema, ...errors },
    },
    handler: async (request) =>
      settings.setConfig(db, request.params.key, request.body.value as never, request.body.updated_by ?? 'http'),
  });

  api.post('/v1/logs', {
    schema: {
      tags: ['logs'],
      summary: 'Write log lines in one statement',
      headers: idempotentHeaders,
      body: z.strictObject({ lines: z.array(logs.newLog).min(1).max(10_000) }),
      response: { 201: z.object({ written: z.number() }), ...errors },
    },
    handler: async (request, reply) => reply.status(201).send({ written: await logs.writeLogs(db, request.body.lines, idempotencyOf(request)) }),
  });
  api.get('/v1/logs', {
    schema: {
      tags: ['logs'],
      summary: 'Log lines by level, source and time, newest first',
      querystring: z.strictObject({
        ...pageQuery,
        level: z.enum(logs.LEVELS).optional(),
        source: z.string().max(100).optional(),
        from: z.iso.datetime({ offset: true }).optional(),
        to: z.iso.datetime({ offset: true }).optional(),
      }),
      response: { 200: pageOf(logLineSchema), ...errors },
    },
    handler: async (request) => {
      const { limit, cursor, ...filters } = request.query;
      const rows = await logs.queryLogs(db, { ...filters, limit: limit + 1, before: decodeCursor(cursor) });
      return pageFrom(rows, limit, (line) => encodeCursor(line.timestamp, line.id));
    },
  });

  api.get('/v1/search', {
    schema: {
      tags: ['search'],
      summary: 'Search messages in Portuguese (accents ignored, words stemmed, web-search syntax); typos fall back to similarity',
      querystring: z.strictObject({
        q: z.string().max(500),
        user_id: z.uuid().optional(),
        conversation_id: z.uuid().optional(),
        role: z.enum(messages.ROLES).optional(),
        intent: z.string().max(100).optional(),
        from: z.iso.datetime({ offset: true }).optional(),
        to: z.iso.datetime({ offset: true }).optional(),
        limit: z.coerce.number().int().min(1).max(100).default(20),
        cursor: z.string().max(300).optional(),
      }),
      response: {
        200: z.object({
          mode: z.enum(['fulltext', 'similar', 'none']).describe('similar: full text found nothing, these are close spellings'),
          reason: z.string().optional(),
          items: z.array(
            z.object({ id: z.uuid(), conversation_id: z.uuid(), role: z.string(), timestamp: z.date(), intent: z.string().nullable(), snippet: z.string(), rank: z.number() }),
          ),
          next_cursor: z.string().nullable(),
        }),
        ...errors,
      },
    },
    handler: async (request) => {
      const { q, cursor, ...filters } = request.query;
      const result = await searchMessages((await reader(request)).db, q, { ...filters, after: fromCursor(cursor, searchPosition) });
      return {
        mode: result.mode,
        ...(result.reason ? { reason: result.reason } : {}),
        items: result.items,
        next_cursor: result.next ? toCursor(result.next) : null,
      };
    },
  });

  const windowQuery = z.strictObject({
    days: z.coerce.number().int().min(1).max(3650).optional(),
    limit: z.coerce.number().int().min(1).max(1000).optional(),
    unit: z.enum(['day', 'hour']).optional(),
    by: z.enum(['source', 'transcription_model']).optional(),
    weeks: z.coerce.number().int().min(1).max(520).optional(),
  });
  // Each report takes the query parameters it knows; the library refuses the others by name.
  type ReportRun = (on: Kysely<DB>, query: z.output<typeof windowQuery>) => Promise<unknown[]>;
  const REPORTS: Record<string, [string, ReportRun]> = {
    'active-users': ["The seed's most active users (days=7, limit)", (on, q) => reportsLib.activeUsers(on, q)],
    'top-intents': ["The seed's most common intents with mean confidence (days=30, limit)", (on, q) => reportsLib.topIntents(on, q)],
    'latency-by-source': ["The seed's latency per source (days=30, limit)", (on, q) => reportsLib.latencyBySource(on, q)],
    'messages-per': ['Messages per day or hour (unit, days)', (on, q) => reportsLib.messagesPer(on, q)],
    'latency-percentiles': ['Latency p50/p95/p99 per source or transcription model (by, days)', (on, q) => reportsLib.latencyPercentiles(on, q)],
    'action-success': ['Finished actions by type and success rate (days)', (on, q) => reportsLib.actionSuccessByType(on, q)],
    'overdue-reminders': ['Pending reminders whose time has passed', (on) => reportsLib.overdueReminders(on)],
    'satisfaction-by-week': ['Mean satisfaction per week (weeks)', (on, q) => reportsLib.satisfactionByWeek(on, q)],
    'conversation-lengths': ['Conversations by number of messages (days)', (on, q) => reportsLib.conversationLengths(on, q)],
  };
  for (const [name, [summary, run]] of Object.entries(REPORTS)) {
    api.get(`/v1/reports/${name}`, {
      schema: { tags: ['reports'], summary, querystring: windowQuery, response: { 200: z.object({ items: z.array(z.any()) }), ...errors } },
      handler: async (request) => ({ items: await run((await reader(request)).db, request.query) }),
    });
  }
}

const LSN = /^[0-9A-F]{1,8}\/[0-9A-F]{1,8}$/i;

/** The reader for a read-only request; `x-mordomo-after-lsn` (from a write's `x-mordomo-lsn`) asks to see that write. */
export function readerFor(context: ServiceContext, request: FastifyRequest): Promise<Reader> {
  const after = request.headers['x-mordomo-after-lsn'];
  if (after !== undefined && (typeof after !== 'string' || !LSN.test(after))) {
    throw new InvalidInputError('x-mordomo-after-lsn: must be a WAL position as given in x-mordomo-lsn, like 0/16B3748');
  }
  return context.reads.reader({ afterLsn: after });
}

