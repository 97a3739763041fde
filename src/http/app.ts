import type { Socket } from 'node:net';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify';
import { createJsonSchemaTransform, createJsonSchemaTransformObject, validatorCompiler } from 'fastify-type-provider-zod';
import { databaseMessage, sqlstateOf } from '../errors.ts';
import { createIvr } from '../ivr/ivr.ts';
import { bearer } from './auth.ts';
import type { ServiceContext } from './context.ts';
import { registerDashboard } from './dashboard.ts';
import { handleError, handleNotFound, refuseWhileClosing } from './errors.ts';
import { describeResponses, pruneComponents } from './responses.ts';
import { actionRoutes } from './routes/actions.ts';
import { configRoutes } from './routes/config.ts';
import { conversationRoutes } from './routes/conversations.ts';
import { healthRoutes } from './routes/health.ts';
import { callRoutes } from './routes/ivr/calls.ts';
import { documentRoutes } from './routes/ivr/documents.ts';
import { providerRoutes } from './routes/ivr/providers.ts';
import { secretaryRoutes } from './routes/ivr/secretaries.ts';
import { transferRuleRoutes } from './routes/ivr/transfer-rules.ts';
import { ivrKeyRoutes } from './routes/ivr-keys.ts';
import { logRoutes } from './routes/logs.ts';
import { operationsRoutes } from './routes/operations.ts';
import { reminderRoutes } from './routes/reminders.ts';
import { reportRoutes } from './routes/reports.ts';
import { searchRoutes } from './routes/search.ts';
import { userRoutes } from './routes/users.ts';
import { zodToJsonConfig } from './schemas.ts';
import { FRAME_ANCESTORS, securityHeaderLines, sendSecurityHeaders } from './security-headers.ts';
import { responseSerializer } from './serializer.ts';
import { RouteMethods } from './route-methods.ts';
import { readCertificate } from './tls.ts';

/** The zod schemas registered by name (User, Message, Error…) become the document's components. */
const toComponents = createJsonSchemaTransformObject({ zodToJsonConfig });

const UNAUTHORIZED = 'missing or invalid credentials: send "Authorization: Bearer <token>"';

/** The address a failure is counted against. */
const clientOf = (request: FastifyRequest) => request.ip;

/**
 * Builds the HTTP service over an open database. Three scopes: public (health, docs, the dashboard's static
 * page), admin (every /v1 route of the core, /metrics: the admin bearer token) and IVR (/v1/ivr: a domain's API
 * key, which alone decides the domain).
 */
/** Methods whose success means the database took a write. */
const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export async function buildApp(context: ServiceContext): Promise<FastifyInstance> {
  const { config, metrics } = context;
  const app = Fastify({
    loggerInstance: context.logger.child({ component: 'http' }) as FastifyBaseLogger,
    // Errors are logged by the error handler; a line per request would cost more than many requests do.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.http.bodyLimit,
    // Ids are UUIDs: a longer path parameter is a client mistake, answered before any work.
    routerOptions: { maxParamLength: 200 },
    // Fastify's own 503 while closing has a body of its own shape; the onRequest hook below answers in ours.
    return503OnClosing: false,
    // Errors the router raises before any route runs (a path parameter past maxParamLength, a malformed URL
    // encoding) leave in the same shape as every other error.
    frameworkErrors: handleError,
    // Requests Node refuses before Fastify sees them (headers over 16 KB, malformed HTTP) get the one error shape
    // too, instead of Node's bare status line.
    clientErrorHandler: (error: Error & { code?: string }, socket: Socket) => answerClientError(error, socket, Boolean(config.http.tls)),
    // HTTPS when a certificate is configured: the API, the dashboard, /metrics and health on the one listener.
    ...(config.http.tls ? { https: readCertificate(config.http.tls) } : {}),
  });
  app.setValidatorCompiler(validatorCompiler);
  // Responses are rows typed by the compiler against the response schemas, and the tests check real responses
  // against the published document; re-checking every row with zod on the way out would find nothing those checks
  // do not, and encoding through zod costs more per page than reading it from PostgreSQL (bench/README.md, http).
  // They are written by code generated from the same schemas instead.
  app.setSerializerCompiler(({ schema }) => responseSerializer(schema));
  app.setErrorHandler(handleError);
  const methods = new RouteMethods();
  app.addHook('onRoute', (route) => methods.add(route.method, route.url));
  app.setNotFoundHandler((request, reply) => handleNotFound(request, reply, methods.allowed(request.url)));
  // Requests that come once closing has begun (pipelined, or on a keep-alive connection) are refused before any work.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onRequest', async (_request, reply) => {
    if (closing) throw refuseWhileClosing(reply);
  });

  // Every answer carries the same security headers (security-headers.ts), set on the raw response so that what
  // Fastify or a hijacked reply writes has them too; answers Node refuses before that get them in answerClientError.
  sendSecurityHeaders(app.server, Boolean(config.http.tls));
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.httpDuration.observe({ method: request.method, route, status: String(reply.statusCode) }, reply.elapsedTime / 1000);
    if (WRITES.has(request.method) && reply.statusCode < 300) context.refusedWrites.succeeded();
  });
  // A request the database refused for lack of space or another resource (class 53) keeps /readyz unready until a
  // write commits: the one signal of a full disk that statfs cannot see (an external server's).
  app.addHook('onError', async (_request, _reply, error) => context.refusedWrites.failed(sqlstateOf(error), databaseMessage(error)));

  // JSON only: Fastify also parses text/plain, which would turn a JSON document sent as text into a 400 naming
  // fields; a body in any other type is refused as what it is, 415.
  app.removeContentTypeParser('text/plain');

  await publishDocument(app);
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  await app.register(healthRoutes, { context });
  registerDashboard(app);
  if (config.http.metricsPublic) serveMetrics(app, context);
  await app.register(adminScope, { context });
  if (config.modules.includes('ivr')) await app.register(tenantScope, { context });
  return app;
}

/** The OpenAPI document (`/openapi.json`) generated from the routes' schemas, and `/docs` to read it. */
async function publishDocument(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'mordomo-db',
        version: '0.1.0',
        license: { name: 'MIT', identifier: 'MIT' },
        description:
          'The data API of the Mordomo assistant and the Voice AI IVR. Core routes take the admin token; /v1/ivr routes take a domain API key. Every error is an `Error`: {"error":{"code","message","request_id"}}. Lists are pages: pass `next_cursor` back as `cursor`.',
      },
      servers: [{ url: '/' }],
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
    transform: createJsonSchemaTransform({ zodToJsonConfig }),
    transformObject: (document) => pruneComponents(describeResponses(toComponents(document))),
  });
  // staticCSP: /docs gets a Content-Security-Policy allowing only its own files (and the inline bits it needs). Its
  // `frame-ancestors 'self'` would contradict X-Frame-Options: DENY; the page is framed by nobody, like the rest.
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    staticCSP: true,
    transformStaticCSP: (policy) => policy.replace(/frame-ancestors [^;]*/, FRAME_ANCESTORS),
  });
}

/** The admin scope: the Mordomo core, operations and the IVR's keys, behind the admin token. */
async function adminScope(admin: FastifyInstance, { context }: { context: ServiceContext }): Promise<void> {
  const { config, adminToken, authFailures } = context;
  admin.addHook('onRequest', async (request) => {
    const token = bearer(request.headers.authorization);
    if (!token || !adminToken.matches(token)) throw await authFailures.refuseHeld(clientOf(request), token, UNAUTHORIZED);
  });
  if (!config.http.metricsPublic) serveMetrics(admin, context);
  for (const routes of [userRoutes, conversationRoutes, actionRoutes, reminderRoutes, configRoutes, logRoutes, searchRoutes, reportRoutes, operationsRoutes]) {
    await admin.register(routes, { context });
  }
  if (config.modules.includes('ivr')) await admin.register(ivrKeyRoutes, { context });
}

/** The tenant scope: /v1/ivr, where a domain's API key alone decides the domain. */
async function tenantScope(tenant: FastifyInstance, { context }: { context: ServiceContext }): Promise<void> {
  const { config, apiKeys, authFailures } = context;
  const ivr = createIvr(context.db, { encryptionKey: config.encryptionKey, newEncryptionKey: config.newEncryptionKey });
  tenant.decorateRequest('ivrDomain', null);
  tenant.addHook('onRequest', async (request) => {
    const key = bearer(request.headers.authorization);
    const domain = key ? await apiKeys.domainOf(key) : undefined;
    if (!domain) throw await authFailures.refuseHeld(clientOf(request), key, UNAUTHORIZED);
    (request as FastifyRequest & { ivrDomain: unknown }).ivrDomain = ivr.forDomain(domain);
  });
  for (const routes of [providerRoutes, secretaryRoutes, documentRoutes, transferRuleRoutes, callRoutes]) await tenant.register(routes);
}

/** See `clientErrorHandler` above: the status Node would send, with the error body every other refusal has. */
function answerClientError(error: Error & { code?: string }, socket: Socket, tls: boolean): void {
  if (!socket.writable) return;
  const tooLarge = error.code === 'HPE_HEADER_OVERFLOW';
  const status = tooLarge ? 431 : 400;
  const message = tooLarge ? 'request headers too large (over 16 KB in all)' : 'malformed HTTP request';
  const body = JSON.stringify({ error: { code: 'invalid_input', message, request_id: 'none' } });
  socket.end(
    `HTTP/1.1 ${status} ${tooLarge ? 'Request Header Fields Too Large' : 'Bad Request'}\r\ncontent-type: application/json; charset=utf-8\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\n${securityHeaderLines(tls)}connection: close\r\n\r\n${body}`,
  );
}

function serveMetrics(scope: FastifyInstance, { metrics }: ServiceContext): void {
  scope.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
    await metrics.refresh();
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
}
