import { z } from 'zod';
import { HTTP_ERROR_CODES } from './errors.ts';

/** The one error body (src/http/errors.ts writes it): a component of the document, `Error`. */
export const errorSchema = z
  .object({
    error: z.object({
      code: z.enum(HTTP_ERROR_CODES).describe('for programs: stable, one of a fixed set'),
      message: z.string().describe('for people: what was wrong, naming the field, and what to do'),
      request_id: z.string().describe("this request's id in the service's log"),
    }),
  })
  .meta({ id: 'Error', description: 'Every refusal and failure, whatever the route' });

/** What each status means, whichever operation answers it: the document's response descriptions. */
const STATUS_MEANING: Record<string, string> = {
  200: 'OK',
  201: 'Created (or, for a retry with the same Idempotency-Key, the first answer again)',
  204: 'Done; no body',
  400: 'invalid_input: a parameter, header or field is wrong (the message names it), or the body is not valid JSON',
  401: 'unauthorized: no credential, or not one this service accepts for this route',
  404: 'not_found: no such id (an id of another domain is answered the same)',
  409: 'conflict: the state forbids it (a duplicate, an ended conversation or call, a move the lifecycle refuses), or an Idempotency-Key reused with another body',
  413: "payload_too_large: the body is over the service's limit (MORDOMO_HTTP_BODY_LIMIT)",
  415: 'unsupported_media_type: send the body as JSON, with content-type: application/json',
  422: 'foreign_key: the body refers to a row that does not exist',
  429: 'rate_limited: too many failed authentications from this address or with this credential; retry after Retry-After seconds',
  500: 'internal or config: a fault of the service, logged under request_id',
  503: 'unavailable or migration: the database cannot be reached, or its schema is not current; retry after Retry-After seconds',
  504: 'timeout: the query ran past the statement timeout',
  507: "insufficient_storage: the database's disk is full; free space on the data or WAL file system and retry (Retry-After)",
};

/** Refusals only some operations give: by id (404), with a body (413, 415), on writes (409, 422). */
type Refusal = 404 | 409 | 413 | 415 | 422;
/** What every operation behind a credential can answer, whatever it does. */
const EVERY_OPERATION = [400, 401, 429, 500, 503, 504, 507] as const;

type ErrorReplies = { [S in (typeof EVERY_OPERATION)[number]]: typeof errorSchema } & { [S in Refusal]?: typeof errorSchema };

/** The statuses an operation that takes a JSON body adds. */
export const WITH_BODY = [413, 415] as const;

/**
 * The `response` of a route behind a credential: its successes, the refusals every such route can give, and the
 * ones it names. Every status is documented with the one `Error` schema; a test checks each response the suite
 * receives against it, so a status left out here fails the suite.
 */
export function replies<S extends Record<number, z.ZodType>>(success: S, ...refusals: Refusal[]): S & ErrorReplies {
  const errors = Object.fromEntries([...EVERY_OPERATION, ...refusals].map((status) => [status, errorSchema]));
  return { ...success, ...errors } as unknown as S & ErrorReplies;
}

type Responses = Record<string, { description?: string }>;
type OpenApiDocument = { paths?: object };

/** Gives each documented response the meaning of its status (fastify-swagger writes "Default Response"). */
export function describeResponses<D extends OpenApiDocument>(document: D): D {
  for (const operations of Object.values(document.paths ?? {}) as Record<string, { responses?: Responses }>[]) {
    for (const operation of Object.values(operations ?? {})) {
      for (const [status, response] of Object.entries(operation.responses ?? {})) {
        const meaning = STATUS_MEANING[status];
        if (meaning && (!response.description || response.description === 'Default Response')) response.description = meaning;
      }
    }
  }
  return document;
}

type Components = { components?: { schemas?: Record<string, unknown> } };

/**
 * Keeps only the components the operations use. Every schema registered by name gets an input and an output
 * variant (`UserInput` beside `User`); a client generator would turn each unused one into a type of its own.
 */
export function pruneComponents<D extends OpenApiDocument & Components>(document: D): D {
  const schemas = document.components?.schemas;
  if (!schemas) return document;
  const used = new Set<string>();
  const visit = (value: unknown) => {
    for (const [, name] of JSON.stringify(value).matchAll(/"#\/components\/schemas\/([^"]+)"/g)) {
      if (name && !used.has(name)) {
        used.add(name);
        visit(schemas[name]);
      }
    }
  };
  visit(document.paths);
  document.components!.schemas = Object.fromEntries(Object.entries(schemas).filter(([name]) => used.has(name)));
  return document;
}
