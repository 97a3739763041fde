import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { noteOutage } from './outages.ts';
import { ERROR_CODES, type ErrorCode, MordomoError, SQLSTATE } from '../errors.ts';

/** Every `code` an error body can carry: the library's, and those only the HTTP layer produces. */
export const HTTP_ERROR_CODES = [
  ...ERROR_CODES,
  'unauthorized',
  'rate_limited',
  'payload_too_large',
  'unsupported_media_type',
  'insufficient_storage',
  'method_not_allowed',
] as const;
export type HttpErrorCode = (typeof HTTP_ERROR_CODES)[number];

/** An error the HTTP layer raises itself (auth, rate limit), carried to the error handler like a library error. */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: HttpErrorCode,
    message: string,
    /** Seconds after which a retry may succeed (a 429's window end): sent as Retry-After. */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}

/** Retry-After of a 503 or 507: the watchdog restarts PostgreSQL within seconds, and space freed is used at once. */
const RETRY_UNAVAILABLE_SECONDS = 2;

const STATUS: Record<ErrorCode, number> = {
  invalid_input: 400,
  not_found: 404,
  conflict: 409,
  foreign_key: 422,
  timeout: 504,
  unavailable: 503,
  migration: 503,
  config: 500,
  internal: 500,
};

export interface ErrorBody {
  error: { code: HttpErrorCode; message: string; request_id: string };
}

function classify(error: FastifyError | Error): { status: number; code: HttpErrorCode; message: string } {
  if (error instanceof HttpError) return { status: error.statusCode, code: error.code, message: error.message };
  if (error instanceof MordomoError) {
    // A full disk is the operator's to fix, not a restart to wait out: 507 with what to do (errors.ts says it).
    if (error.database?.sqlstate === SQLSTATE.diskFull) return { status: 507, code: 'insufficient_storage', message: error.message };
    const status = STATUS[error.code];
    // The message of a server-side failure may describe internals; the client gets a generic one.
    return { status, code: error.code, message: status >= 500 && error.code !== 'unavailable' ? 'internal error' : error.message };
  }
  if (hasZodFastifySchemaValidationErrors(error)) {
    const where = error.validationContext ?? 'request';
    const problems = error.validation.map((issue) => `${where}${issue.instancePath.replaceAll('/', '.').replace(/\.$/, '')}: ${issue.message}`);
    return { status: 400, code: 'invalid_input', message: problems.join('; ') };
  }
  const fastifyError = error as FastifyError;
  const status = fastifyError.statusCode ?? 500;
  if (fastifyError.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return { status: 413, code: 'payload_too_large', message: 'request body too large' };
  if (fastifyError.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    return { status: 415, code: 'unsupported_media_type', message: 'send JSON with content-type: application/json' };
  }
  // A path parameter past maxParamLength: ids are short, so it is a bad id, refused like any other (400, not 414).
  if (status === 414) return { status: 400, code: 'invalid_input', message: 'a path parameter is too long (ids are UUIDs)' };
  // Fastify's own 4xx (malformed JSON, bad content length, …) have safe messages.
  if (status >= 400 && status < 500) return { status, code: 'invalid_input', message: fastifyError.message };
  return { status: 500, code: 'internal', message: 'internal error' };
}

/** The one error handler: every failure leaves as `{ error: { code, message, request_id } }`, never a stack or SQL. */
export function handleError(error: FastifyError | Error, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const { status, code, message } = classify(error);
  // Logged with its stack and cause (pino's serializer): the server-side failures an operator must see. The database
  // being down or full is expected to pass: one warning with its cause per outage (outages.ts), not a stack per request.
  // The HTTP layer's own refusals (auth, limits, the service closing) are no failure and no outage of the database.
  if (error instanceof HttpError) {
    // not logged
  } else if (code === 'unavailable' || code === 'insufficient_storage') noteOutage(request.log, error);
  else if (status >= 500) request.log.error({ err: error }, 'request failed');
  const body: ErrorBody = { error: { code, message, request_id: String(request.id) } };
  if (status === 401) void reply.header('www-authenticate', 'Bearer');
  if (status === 429) void reply.header('retry-after', String((error instanceof HttpError && error.retryAfterSeconds) || 60));
  if (status === 503 || status === 507) void reply.header('retry-after', String(RETRY_UNAVAILABLE_SECONDS));
  return reply.status(status).type('application/json').send(body);
}

/**
 * Unknown routes answer in the same shape: 404 when no route has the path, 405 with `Allow` when the path is served
 * under other methods (`allowed`).
 */
export function handleNotFound(request: FastifyRequest, reply: FastifyReply, allowed: string[] = []): FastifyReply {
  const path = request.url.split('?')[0];
  if (allowed.length && !allowed.includes(request.method)) {
    void reply.header('allow', allowed.join(', '));
    return handleError(new HttpError(405, 'method_not_allowed', `${path} does not take ${request.method}; it takes ${allowed.join(', ')}`), request, reply);
  }
  return handleError(new HttpError(404, 'not_found', `no route ${request.method} ${path}`), request, reply);
}

/** What a request that arrives while the service closes is answered (503, the one shape, and Connection: close). */
export function refuseWhileClosing(reply: FastifyReply): HttpError {
  void reply.header('connection', 'close');
  return new HttpError(503, 'unavailable', 'the service is shutting down: retry in a moment, or on another instance');
}
