import { z } from 'zod';
import { InvalidInputError } from './errors.ts';
import type { JsonValue } from './schema.ts';

/**
 * Shared input rules. Everything is checked before SQL so that a bad value gets a message naming the field,
 * and nothing reaches the database half-valid.
 */

const NUL = '\u0000';

/** Text PostgreSQL can store: no NUL byte (text columns refuse it), at most `max` characters. */
export const text = (max: number) =>
  z
    .string()
    .max(max, `at most ${max} characters`)
    .refine((value) => !value.includes(NUL), 'must not contain NUL bytes');

/** Non-empty, trimmed-non-empty text. */
export const requiredText = (max: number) => text(max).refine((value) => value.trim().length > 0, 'must not be empty');

export const id = z.uuid({ message: 'must be a UUID' });

const MAX_JSON_BYTES = 256 * 1024;

/**
 * Any JSON value. Recursive, so it is registered under a name: the OpenAPI document then refers to one
 * `JsonValue` component instead of repeating (or losing) the definition.
 */
export const jsonValue: z.ZodType<JsonValue> = z
  .lazy(() => z.union([z.string(), z.number(), z.boolean(), z.null(), z.array(jsonValue), z.record(z.string(), jsonValue)]))
  .meta({ id: 'JsonValue' });

/** A JSON document jsonb accepts: no \u0000 inside strings, bounded in size. */
export const json = jsonValue.superRefine((value, ctx) => {
  const serialised = JSON.stringify(value);
  if (serialised.includes('\\u0000')) ctx.addIssue({ code: 'custom', message: 'must not contain NUL characters' });
  if (Buffer.byteLength(serialised) > MAX_JSON_BYTES) {
    ctx.addIssue({ code: 'custom', message: `must be at most ${MAX_JSON_BYTES} bytes as JSON` });
  }
}) as unknown as z.ZodType<JsonValue>;

/** A JSON object (metadata columns). */
export const jsonObject = json.refine(
  (value) => typeof value === 'object' && value !== null && !Array.isArray(value),
  'must be a JSON object',
) as z.ZodType<{ [key: string]: JsonValue | undefined }>;

/** A timestamp given as a Date or an ISO 8601 string with a zone; returned as a Date. */
export const instant = z
  .union([z.date(), z.iso.datetime({ offset: true }).transform((value) => new Date(value))], {
    error: 'must be a Date or an ISO 8601 timestamp with a time zone, like 2026-11-23T14:05:00-03:00',
  })
  .refine((value) => !Number.isNaN(value.getTime()), 'must be a valid date');

export const limit = (max: number, fallback: number) => z.number().int().min(1).max(max).default(fallback);

/**
 * Deepest nesting of objects and arrays accepted in any input. The JSON checks above are recursive: a body of a
 * few kilobytes nested 3,000 levels deep exhausted the stack (a 500 on every route with a JSON field). A hundred
 * levels is far beyond any real metadata or provider config.
 */
export const MAX_INPUT_DEPTH = 100;

/** Whether `value` nests objects or arrays deeper than `limit`, found without recursion so that it cannot overflow. */
export function nestsDeeperThan(value: unknown, limit: number): boolean {
  const pending: Array<[unknown, number]> = [[value, 0]];
  while (pending.length > 0) {
    const [current, depth] = pending.pop()!;
    if (current === null || typeof current !== 'object') continue;
    if (depth >= limit) return true;
    for (const child of Array.isArray(current) ? current : Object.values(current)) pending.push([child, depth + 1]);
  }
  return false;
}

export const TOO_DEEP = `nests deeper than ${MAX_INPUT_DEPTH} levels of objects and arrays`;

/** Validates `input` against `schema`, throwing an `InvalidInputError` that names every offending field. */
export function parse<S extends z.ZodType>(schema: S, input: unknown, what: string): z.output<S> {
  if (nestsDeeperThan(input, MAX_INPUT_DEPTH)) throw new InvalidInputError(`invalid ${what}: ${TOO_DEEP}`);
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const field = issue.path.length ? issue.path.join('.') : what;
    return `${field}: ${issue.message}`;
  });
  throw new InvalidInputError(`invalid ${what}: ${problems.join('; ')}`);
}

/**
 * Where a page of a list ended: the sort timestamp and the id of its last row. Lists take it to continue
 * strictly after that row (keyset pagination), which stays fast and stable however deep one pages.
 */
export const position = z.strictObject({ at: instant, id: z.union([id, z.string().regex(/^\d{1,19}$/, 'must be an id')]) });
export type Position = z.input<typeof position>;
