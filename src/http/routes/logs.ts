import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import * as logs from '../../core/logs.ts';
import type { ServiceContext } from '../context.ts';
import { replies, WITH_BODY } from '../responses.ts';
import { idempotencyOf, idempotentHeaders, keysetPage, logLineSchema, pageOf, pageQuery } from '../schemas.ts';

/** System logs: the assistant's components write here; partitioned by month, kept by the retention job. */
export async function logRoutes(app: FastifyInstance, { context }: { context: ServiceContext }): Promise<void> {
  const { db } = context;
  const api = app.withTypeProvider<ZodTypeProvider>();
  const tags = ['logs'];

  api.post('/v1/logs', {
    schema: {
      operationId: 'writeLogs',
      tags,
      summary: 'Write log lines in one statement',
      headers: idempotentHeaders,
      body: z.strictObject({ lines: z.array(logs.newLog).min(1).max(10_000) }),
      response: replies({ 201: z.object({ written: z.number() }) }, 409, ...WITH_BODY),
    },
    handler: async (request, reply) => reply.status(201).send({ written: await logs.writeLogs(db, request.body.lines, idempotencyOf(request)) }),
  });
  api.get('/v1/logs', {
    schema: {
      operationId: 'queryLogs',
      tags,
      summary: 'Log lines by level, source and time, newest first',
      querystring: z.strictObject({
        ...pageQuery,
        level: z.enum(logs.LEVELS).optional(),
        source: z.string().max(100).optional(),
        from: z.iso.datetime({ offset: true }).optional(),
        to: z.iso.datetime({ offset: true }).optional(),
      }),
      response: replies({ 200: pageOf(logLineSchema) }),
    },
    handler: async (request) => {
      const { limit: _limit, cursor: _cursor, ...filters } = request.query;
      return keysetPage(
        request.query,
        ({ limit, after }) => logs.queryLogs(db, { ...filters, limit, before: after }),
        (line) => [line.timestamp, line.id],
      );
    },
  });
}
