import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import * as reminders from '../../core/reminders.ts';
import { id } from '../../validation.ts';
import type { ServiceContext } from '../context.ts';
import { replies, WITH_BODY } from '../responses.ts';
import { idempotencyOf, idempotentHeaders, idParams, keysetPage, pageOf, pageQuery, reminderSchema } from '../schemas.ts';

const eventStream = {
  description: "Server-Sent Events: `event: reminder`, `id:` the reminder's id, `data:` the Reminder as JSON; a comment every 15 s",
  content: { 'text/event-stream': { schema: z.string() } },
};

/** Reminders: created by the assistant, announced once when due, over Server-Sent Events. */
export async function reminderRoutes(app: FastifyInstance, { context }: { context: ServiceContext }): Promise<void> {
  const { db } = context;
  const api = app.withTypeProvider<ZodTypeProvider>();
  const tags = ['reminders'];

  api.post('/v1/reminders', {
    schema: {
      operationId: 'createReminder',
      tags,
      summary: 'Create a reminder',
      headers: idempotentHeaders,
      body: reminders.newReminder,
      response: replies({ 201: reminderSchema }, 409, 422, ...WITH_BODY),
    },
    handler: async (request, reply) => reply.status(201).send(await reminders.createReminder(db, request.body, idempotencyOf(request))),
  });
  api.post('/v1/reminders/:id/cancel', {
    schema: {
      operationId: 'cancelReminder',
      tags,
      summary: 'Cancel a pending reminder',
      params: idParams,
      response: replies({ 200: reminderSchema }, 404, 409, ...WITH_BODY),
    },
    handler: async (request) => reminders.cancelReminder(db, request.params.id),
  });
  api.get('/v1/reminders/upcoming', {
    schema: {
      operationId: 'listUpcomingReminders',
      tags,
      summary: 'Pending reminders not yet due, soonest first',
      querystring: z.strictObject({ ...pageQuery, user_id: id.optional() }),
      response: replies({ 200: pageOf(reminderSchema) }),
    },
    handler: async (request) =>
      keysetPage(
        request.query,
        (page) => reminders.upcomingReminders(db, { ...page, user_id: request.query.user_id }),
        (reminder) => [reminder.scheduled_at, reminder.id],
      ),
  });
  api.get('/v1/reminders/stream', {
    schema: {
      operationId: 'streamReminders',
      tags,
      summary: 'Server-Sent Events: each due reminder, once, as it falls due',
      querystring: z.strictObject({ user_id: id.optional() }),
      response: replies({ 200: eventStream as never }),
    },
    handler: async (request, reply) => streamReminders(context, request, reply, request.query.user_id),
  });
}

/** One SSE stream: a comment every 15 s keeps proxies from closing it; each reminder is one `reminder` event. */
function streamReminders(context: ServiceContext, request: FastifyRequest, reply: FastifyReply, userId: string | undefined): void {
  reply.hijack();
  const out = reply.raw;
  const heartbeat = setInterval(() => out.write(': keep-alive\n\n'), 15_000);
  const unsubscribe = context.reminders.subscribe({
    deliver(reminder) {
      if (userId && reminder.user_id !== userId) return;
      out.write(`id: ${reminder.id}\nevent: reminder\ndata: ${JSON.stringify(reminder)}\n\n`);
    },
    end() {
      clearInterval(heartbeat);
      out.end();
    },
  });
  request.raw.on('close', () => {
    clearInterval(heartbeat);
    unsubscribe();
  });
  // Subscribed before the client hears back: nothing announced after the response began is missed.
  out.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
  out.write(': connected\n\n');
}
