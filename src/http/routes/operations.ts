import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { dashboardReport } from '../../ops/reports.ts';
import type { ServiceContext } from '../context.ts';
import { readerFor } from '../reads.ts';
import { replies } from '../responses.ts';

/** The operator's view: what the dashboard page draws. */
export async function operationsRoutes(app: FastifyInstance, { context }: { context: ServiceContext }): Promise<void> {
  app.withTypeProvider<ZodTypeProvider>().get('/v1/dashboard', {
    schema: {
      operationId: 'getDashboard',
      tags: ['operations'],
      summary: "Every dataset of the operator's dashboard, from one snapshot (its shape follows the dashboard page, not a contract)",
      response: replies({ 200: z.looseObject({}).describe('datasets by name') }),
    },
    handler: async (request) => dashboardReport((await readerFor(context, request)).pool, context.config.backupDir),
  });
}
