import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ServiceContext } from '../context.ts';

/** Public probes for a supervisor or load balancer: no credential, no data. */
export async function healthRoutes(app: FastifyInstance, { context }: { context: ServiceContext }): Promise<void> {
  const api = app.withTypeProvider<ZodTypeProvider>();
  api.get('/healthz', {
    schema: {
      operationId: 'checkHealth',
      tags: ['health'],
      summary: 'The process is alive',
      security: [],
      response: { 200: z.object({ status: z.literal('ok') }) },
    },
    handler: async () => ({ status: 'ok' as const }),
  });
  api.get('/readyz', {
    schema: {
      operationId: 'checkReadiness',
      tags: ['health'],
      summary: 'The database is reachable and its migrations are current',
      security: [],
      response: {
        200: z.object({ status: z.literal('ready') }),
        503: z.object({ status: z.literal('not ready'), reason: z.string() }).describe('not ready, and why'),
      },
    },
    handler: async (_request, reply) => {
      const { ready, reason } = await context.readiness();
      return ready ? { status: 'ready' as const } : reply.status(503).send({ status: 'not ready' as const, reason: reason ?? 'unknown' });
    },
  });
}
