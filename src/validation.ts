import { z } from 'zod';
import { InvalidInputError } from './errors.ts';
import type { JsonValue } from './db/schema.ts';

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

/**
 * What PostgreSQL's `uuid` type reads (uuid_in): 32 hex digits, in either case, optionally in braces, with a hyphen
 * allowed after any group of four. No version or variant is required: FusionPBX and other systems hand out ids
 * such as 11111111-1111-1111-1111-111111111111, which PostgreSQL stores and which must be addressable here.
 */
const POSTGRES_UUID = /^(?:[0-9a-f]{4}(?:-?[0-9a-f]{4}){7}|\{[0-9a-f]{4}(?:-?[0-9a-f]{4}){7}\})$/i;

/** The form PostgreSQL prints (lowercase, 8-4-4-4-12), so that ids compare equal in JavaScript as in SQL. */
function canonicalUuid(value: string): string {
  const hex = value.replace(/[{}-]/g, '').toLowerCase();
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** An id: any text PostgreSQL accepts as a uuid, given back in its canonical form. */
export const id = z
  .string({ message: 'must be a UUID' })
  .regex(POSTGRES_UUID, 'must be a UUID')
  .transform(canonicalUuid)
  .describe('a UUID, in any form PostgreSQL accepts (any version or variant; hyphens and braces optional)');

const MAX_JSON_BYTES = 256 * 1024;

/** Deepest nesting of objects and arrays accepted in a JSON value, far beyond any real metadata or provider config. */
const MAX_JSON_DEPTH = 100;

/**
 * What makes `value` unfit to be JSON, or undefined: anything but strings, finite numbers, booleans, null, arrays
 * and plain objects, or nesting past MAX_JSON_DEPTH. Walked without recursion, so that neither a deep value (a
 * 6 KB body nested 3,000 levels used to exhaust the stack: a 500 on every route with a JSON field) nor a cyclic
 * one can overflow or hang it.
 */
function jsonProblem(value: unknown): string | undefined {
  const pending: Array<[unknown, number]> = [[value, 0]];
  while (pending.length > 0) {
    const [current, depth] = pending.pop()!;
    if (current === null || typeof current === 'string' || typeof current === 'boolean') continue;
    if (typeof current === 'number' && Number.isFinite(current)) continue;
    const plain = Array.isArray(current) || (typeof current === 'object' && [Object.prototype, null].includes(Object.getPrototypeOf(current)));
    if (!plain) return 'must be a JSON value: strings, finite numbers, booleans, null, arrays and plain objects';
    if (depth >= MAX_JSON_DEPTH) return `nests deeper than ${MAX_JSON_DEPTH} levels of objects and arrays`;
    for (const child of Array.isArray(current) ? current : Object.values(current as object)) pending.push([child, depth + 1]);
  }
  return undefined;
}

/**
 * Any JSON value. A check rather than the recursive union it used to be: zod parses a schema that contains a
 * recursive one through a per-parse memo (to detect cycles), which was ~10% of the CPU of appending a turn in a
 * profile, and recursion is what a hostile value exhausts. Registered under a name, so the OpenAPI document has
 * one `JsonValue` component.
 */
export const jsonValue = z
  .unknown()
  .superRefine((value, ctx) => {
    const problem = jsonProblem(value);
    // Not continued: the checks chained after this one serialise the value, which only a JSON value survives.
    if (problem) ctx.addIssue({ code: 'custom', message: problem, continue: false });
  })
  .meta({ id: 'JsonValue', description: 'any JSON value' }) as unknown as z.ZodType<JsonValue>;

/** A JSON document jsonb accepts: no \u0000 inside strings, bounded in size. */
export const json = jsonValue.superRefine((value, ctx) => {
  const serialised = JSON.stringify(value);
  if (serialised.includes('\\u0000')) ctx.addIssue({ code: 'custom', message: 'must not contain NUL characters' });
  if (Buffer.byteLength(serialised) > MAX_JSON_BYTES) {
    ctx.addIssue({ code: 'custom', message: `must be at most ${MAX_JSON_BYTES} bytes as JSON` });
  }
}) as unknown as z.ZodType<JsonValue>;

/** A JSON object (metadata columns). */
export const jsonObject = json.refine((value) => typeof value === 'object' && value !== null && !Array.isArray(value), 'must be a JSON object') as z.ZodType<{
  [key: string]: JsonValue | undefined;
}>;

/** A timestamp given as a Date or an ISO 8601 string with a zone; returned as a Date. */
export const instant = z
  .union([z.date(), z.iso.datetime({ offset: true }).transform((value) => new Date(value))], {
    error: 'must be a Date or an ISO 8601 timestamp with a time zone, like 2026-11-23T14:05:00-03:00',
  })
  .refine((value) => !Number.isNaN(value.getTime()), 'must be a valid date');

export const limit = (max: number, fallback: number) => z.number().int().min(1).max(max).default(fallback);

/** Validates `input` against `schema`, throwing an `InvalidInputError` that names every offending field. */
export function parse<S extends z.ZodType>(schema: S, input: unknown, what: string): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  // A problem of the value as a whole is said once ("invalid value of x: must be…"), not prefixed with `what` again.
  const problems = result.error.issues.map((issue) => (issue.path.length ? `${issue.path.join('.')}: ${issue.message}` : issue.message));
  throw new InvalidInputError(`invalid ${what}: ${problems.join('; ')}`);
}

/**
 * Where a page of a list ended: the sort timestamp and the id of its last row. Lists take it to continue
 * strictly after that row (keyset pagination), which stays fast and stable however deep one pages.
 */
export const position = z.strictObject({ at: instant, id: z.union([id, z.string().regex(/^\d{1,19}$/, 'must be an id')]) });
export type Position = z.input<typeof position>;

/** A key the caller makes up for one logical request (see IdempotencyOptions in db/idempotency.ts). */
export const idempotencyKey = z
  .string()
  .min(1, 'must not be empty')
  .max(255, 'at most 255 characters')
  .regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces');
