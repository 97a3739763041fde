import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import * as reports from '../../core/reports.ts';
import type { DB } from '../../db/schema.ts';
import type { ServiceContext } from '../context.ts';
import { readerFor } from '../reads.ts';
import { replies } from '../responses.ts';

// Each report's parameters, with the bounds and defaults of the library function it calls (src/core/reports.ts):
// whatever the document offers, the library accepts.
const days = (fallback: number, max = 3650) => z.coerce.number().int().min(1).max(max).default(fallback).describe(`the window, in days (${fallback})`);
const limit = z.coerce.number().int().min(1).max(1000).default(10).describe('how many rows (10)');
const count = z.number().int();

interface Report {
  operationId: string;
  summary: string;
  query: z.ZodRawShape;
  item: z.ZodObject;
  run(db: Kysely<DB>, query: never): Promise<unknown[]>;
}

const REPORTS: Record<string, Report> = {
  'active-users': {
    operationId: 'reportActiveUsers',
    summary: "The seed's most active users: conversations started in the window and their messages",
    query: { days: days(7), limit },
    item: z.object({ name: z.string(), conversations: count, messages: count }),
    run: reports.activeUsers,
  },
  'top-intents': {
    operationId: 'reportTopIntents',
    summary: "The seed's most common intents, with their mean confidence",
    query: { days: days(30), limit },
    item: z.object({ intent: z.string(), count, avg_confidence: z.number().nullable() }),
    run: reports.topIntents,
  },
  'latency-by-source': {
    operationId: 'reportLatencyBySource',
    summary: "The seed's mean and worst latency per source (the message metadata's `source`)",
    query: { days: days(30), limit },
    item: z.object({ source: z.string().nullable(), avg_latency_ms: count, max_latency_ms: count }),
    run: reports.latencyBySource,
  },
  'messages-per': {
    operationId: 'reportMessagesPer',
    summary: 'Messages per day or hour',
    query: { unit: z.enum(['day', 'hour']).default('day'), days: days(30, 366) },
    item: z.object({ period: z.date(), messages: count }),
    run: reports.messagesPer,
  },
  'latency-percentiles': {
    operationId: 'reportLatencyPercentiles',
    summary: 'Latency p50/p95/p99 per source or transcription model',
    query: { by: z.enum(['source', 'transcription_model']).default('source'), days: days(30) },
    item: z.object({ key: z.string().nullable(), messages: count, p50: z.number(), p95: z.number(), p99: z.number() }),
    run: reports.latencyPercentiles,
  },
  'action-success': {
    operationId: 'reportActionSuccess',
    summary: 'Finished actions by type and success rate (0..1)',
    query: { days: days(30) },
    item: z.object({ action_type: z.string(), finished: count, succeeded: count, failed: count, success_rate: z.number() }),
    run: reports.actionSuccessByType,
  },
  'overdue-reminders': {
    operationId: 'reportOverdueReminders',
    summary: 'Pending reminders whose time has passed (nobody was told)',
    query: {},
    item: z.object({ id: z.guid(), title: z.string(), scheduled_at: z.date(), overdue_seconds: count }),
    run: (db) => reports.overdueReminders(db),
  },
  'satisfaction-by-week': {
    operationId: 'reportSatisfactionByWeek',
    summary: 'Mean satisfaction of the conversations ended in each ISO week',
    query: { weeks: z.coerce.number().int().min(1).max(520).default(12).describe('the window, in weeks (12)') },
    item: z.object({ week: z.date(), conversations: count, average: z.number() }),
    run: reports.satisfactionByWeek,
  },
  'conversation-lengths': {
    operationId: 'reportConversationLengths',
    summary: 'Conversations by number of messages (1, 2-5, 6-10, 11-20, 21+)',
    query: { days: days(30) },
    item: z.object({ bucket: z.string(), conversations: count }),
    run: reports.conversationLengths,
  },
};

/** The dashboard's reports, each on its own route with its own parameters; served by a replica when there is one. */
export async function reportRoutes(app: FastifyInstance, { context }: { context: ServiceContext }): Promise<void> {
  const api = app.withTypeProvider<ZodTypeProvider>();
  for (const [name, { operationId, summary, query, item, run }] of Object.entries(REPORTS)) {
    api.get(`/v1/reports/${name}`, {
      schema: { operationId, tags: ['reports'], summary, querystring: z.strictObject(query), response: replies({ 200: z.object({ items: z.array(item) }) }) },
      handler: async (request) => ({ items: await run((await readerFor(context, request)).db, request.query as never) }),
    });
  }
}
