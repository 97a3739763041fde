import type { Socket } from 'node:net';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { createJsonSchemaTransform, createJsonSchemaTransformObject, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { createIvr } from '../ivr/ivr.ts';
import { createApiKey, listApiKeys, revokeApiKey } from '../ivr/api-keys.ts';
import { dashboardReport } from '../ops/reports.ts';
import { bearer } from './auth.ts';
import type { ServiceContext } from './context.ts';
import { registerDashboard } from './dashboard.ts';
import { handleError, handleNotFound } from './errors.ts';
import { coreRoutes, readerFor } from './routes/core.ts';
import { ivrRoutes } from './routes/ivr.ts';
import { apiKeySchema, errorSchema, zodToJsonConfig } from './schemas.ts';
import { responseSerializer } from './serializer.ts';


const UNAUTHORIZED = 'missing or invalid credentials: send "Authorization: Bearer <token>"';

/** The address a failure is counted against. */
const clientOf = (request: FastifyRequest) => request.ip;

/**
 * Builds the HTTP service over an open database. Three scopes: public (health, docs, the dashboard's static
 * page), admin (every /v1 route of the core, /metrics: the admin bearer token) and IVR (/v1/ivr: a domain's API
 * key, which alone decides the domain).
 */
export async function buildApp(context: ServiceContext): Promise<FastifyInstance> {
  const { config, metrics, adminToken, authFailures, apiKeys } = context;
  const app = Fastify({
    loggerInstance: context.logger.child({ component: 'http' }) as FastifyBaseLogger,
    // Errors are logged by the error handler; a line per request would cost more than many requests do.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.http.bodyLimit,
    // Ids are UUIDs: a longer path parameter is a client mistake, answered before any work.
    routerOptions: { maxParamLength: 200 },
    return503OnClosing: true,
    // Errors the router raises before any route runs (a path parameter past maxParamLength, a malformed URL
    // encoding) leave in the same shape as every other error.
    frameworkErrors: handleError,
    // Requests Node refuses before Fastify sees them (headers over 16 KB, malformed HTTP) get the one error shape
    // too, instead of Node's bare status line.
    clientErrorHandler: answerClientError,
  });
  app.setValidatorCompiler(validatorCompiler);
  // Responses are rows typed by the compiler against the response schemas, and the tests check real responses
  // against the published document; re-checking every row with zod on the way out only cost throughput (a page
  // of 50 messages took longer to encode than to read from PostgreSQL). They are written by code generated from
  // the same schemas instead.
  app.setSerializerCompiler(({ schema }) => responseSerializer(schema));
  app.setErrorHandler(handleError);
  app.setNotFoundHandler(handleNotFound);

  // Every answer: no MIME sniffing, no referrer leaking a URL's ids, no framing (the dashboard and /docs are the
  // only pages; their scripts' sources are set by their own Content-Security-Policy).
  app.addHook('onSend', async (_request, reply) => {
    void reply.header('x-content-type-options', 'nosniff').header('referrer-policy', 'no-referrer').header('x-frame-options', 'DENY');
  });
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.httpDuration.observe({ method: request.method, route, status: String(reply.statusCode) }, reply.elapsedTime / 1000);
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'mordomo-db',
        version: '0.1.0',
        description:
          'The data API of the Mordomo assistant and the Voice AI IVR. Core routes take the admin token; /v1/ivr routes take a domain API key. Errors are {"error":{"code","message","request_id"}}.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
    transform: createJsonSchemaTransform({ zodToJsonConfig }),
    transformObject: createJsonSchemaTransformObject({ zodToJsonConfig }),
  });
  // staticCSP: /docs gets a Content-Security-Policy allowing only its own files (and the inline bits it needs).
  await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true });

  const api = app.withTypeProvider<ZodTypeProvider>();
  api.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  api.get('/healthz', {
    schema: { tags: ['health'], summary: 'The process is alive', security: [], response: { 200: z.object({ status: z.literal('ok') }) } },
    handler: async () => ({ status: 'ok' as const }),
  });
  api.get('/readyz', {
    schema: {
      tags: ['health'],
      summary: 'The database is reachable and its migrations are current',
      security: [],
      response: { 200: z.object({ status: z.literal('ready') }), 503: z.object({ status: z.literal('not ready'), reason: z.string() }) },
    },
    handler: async (_request, reply) => {
      const { ready, reason } = await context.readiness();
      return ready ? { status: 'ready' as const } : reply.status(503).send({ status: 'not ready' as const, reason: reason ?? 'unknown' });
    },
  });
  registerDashboard(app);
  if (config.http.metricsPublic) serveMetrics(app, context);

  await app.register(async (admin) => {
    admin.addHook('onRequest', async (request) => {
      const token = bearer(request.headers.authorization);
      if (!token || !adminToken.matches(token)) throw authFailures.refuse(clientOf(request), token, UNAUTHORIZED);
    });
    coreRoutes(admin, context);
    if (!config.http.metricsPublic) serveMetrics(admin, context);
    const typed = admin.withTypeProvider<ZodTypeProvider>();
    typed.get('/v1/dashboard', {
      schema: { tags: ['operations'], summary: "Every dataset of the operator's dashboard, from one snapshot", response: { 200: z.looseObject({}) } },
      handler: async (request) => dashboardReport((await readerFor(context, request)).pool, config.backupDir),
    });
    typed.get('/v1/reminders/stream', {
      schema: { tags: ['reminders'], summary: 'Server-Sent Events: each due reminder, once, as it falls due', querystring: z.strictObject({ user_id: z.uuid().optional() }) },
      handler: async (request, reply) => streamReminders(context, request, reply, request.query.user_id),
    });
    if (config.modules.includes('ivr')) {
      typed.post('/v1/admin/ivr/keys', {
        schema: {
          tags: ['ivr keys'],
          summary: 'Create an API key for a domain; the key is shown in this response only',
          body: z.strictObject({ domain_uuid: z.uuid(), name: z.string().min(1).max(100) }),
          response: { 201: apiKeySchema.extend({ key: z.string() }), 400: errorSchema, 422: errorSchema },
        },
        handler: async (request, reply) => reply.status(201).send(await createApiKey(context.db, request.body.domain_uuid, request.body.name)),
      });
      typed.get('/v1/admin/ivr/keys', {
        schema: { tags: ['ivr keys'], summary: 'API keys (never their secrets)', querystring: z.strictObject({ domain_uuid: z.uuid().optional() }) },
        handler: async (request) => ({ items: await listApiKeys(context.db, request.query.domain_uuid) }),
      });
      typed.delete('/v1/admin/ivr/keys/:uuid', {
        schema: {
          tags: ['ivr keys'],
          summary: 'Revoke an API key: refused from the next request on this service; other service instances (and revocations made with the CLI) take up to 5 s',
          params: z.strictObject({ uuid: z.uuid() }),
        },
        handler: async (request) => {
          const revoked = await revokeApiKey(context.db, request.params.uuid);
          apiKeys.forget();
          return revoked;
        },
      });
    }
  });

  if (config.modules.includes('ivr')) {
    const ivr = createIvr(context.db, { encryptionKey: config.encryptionKey, newEncryptionKey: config.newEncryptionKey });
    await app.register(async (tenant) => {
      tenant.decorateRequest('ivrDomain', null);
      tenant.addHook('onRequest', async (request) => {
        const key = bearer(request.headers.authorization);
        const domain = key ? await apiKeys.domainOf(key) : undefined;
        if (!domain) throw authFailures.refuse(clientOf(request), key, UNAUTHORIZED);
        (request as FastifyRequest & { ivrDomain: unknown }).ivrDomain = ivr.forDomain(domain);
      });
      ivrRoutes(tenant);
    });
  }
  return app;
}

/** See `clientErrorHandler` above: the status Node would send, with the error body every other refusal has. */
function answerClientError(error: Error & { code?: string }, socket: Socket): void {
  if (!socket.writable) return;
  const tooLarge = error.code === 'HPE_HEADER_OVERFLOW';
  const status = tooLarge ? 431 : 400;
  const message = tooLarge ? 'request headers too large (over 16 KB in all)' : 'malformed HTTP request';
  const body = JSON.stringify({ error: { code: 'invalid_input', message, request_id: 'none' } });
  socket.end(
    `HTTP/1.1 ${status} ${tooLarge ? 'Request Header Fields Too Large' : 'Bad Request'}\r\ncontent-type: application/json; charset=utf-8\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\nx-content-type-options: nosniff\r\nconnection: close\r\n\r\n${body}`,
  );
}

function serveMetrics(scope: FastifyInstance, { metrics }: ServiceContext): void {
  scope.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
    await metrics.refresh();
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
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
