import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { InvalidInputError } from '../errors.ts';
import type { IdempotencyOptions } from '../db/idempotency.ts';
import { id, idempotencyKey, jsonValue, position, type Position } from '../validation.ts';

/**
 * Shapes of what the API sends back (request shapes are the library's own schemas). Responses are encoded through
 * them, and the OpenAPI document is generated from them; timestamps are Dates here and ISO 8601 strings on the
 * wire (see `openApiOverride`). The tests check real responses against the published document.
 */
const at = z.date();
const json = jsonValue;
const object = json.describe('a JSON object');
// Ids leave as PostgreSQL prints them: any version or variant (FusionPBX's included), always 8-4-4-4-12.
const uuid = z.guid();
// Status-like columns are text with a CHECK in the database, hence strings in the row types.
const oneOf = (values: string) => z.string().describe(`one of: ${values}`);

export const userSchema = z
  .object({
    id: uuid,
    name: z.string(),
    email: z.string().nullable(),
    voice_enrolled: z.boolean(),
    speaker_embedding_id: z.string().nullable(),
    created_at: at,
    updated_at: at,
    last_interaction_at: at.nullable(),
    is_active: z.boolean(),
    metadata: object,
  })
  .meta({ id: 'User' });

export const messageSchema = z
  .object({
    id: uuid,
    conversation_id: uuid,
    user_id: uuid.nullable().describe("the conversation's user, kept by the database"),
    role: oneOf('user, assistant, system'),
    content: z.string(),
    timestamp: at,
    latency_ms: z.number().nullable(),
    intent: z.string().nullable(),
    confidence: z.number().nullable(),
    rag_context: json.nullable(),
    audio_duration_ms: z.number().nullable(),
    transcription_model: z.string().nullable(),
    metadata: object,
  })
  .meta({ id: 'Message' });

export const conversationSchema = z
  .object({
    id: uuid,
    user_id: uuid.nullable(),
    started_at: at,
    ended_at: at.nullable(),
    duration_seconds: z.number().nullable(),
    message_count: z.number(),
    satisfaction_score: z.number().nullable(),
    metadata: object,
  })
  .meta({ id: 'Conversation' });

export const actionSchema = z
  .object({
    id: uuid,
    message_id: uuid.nullable(),
    conversation_id: uuid.nullable(),
    action_type: z.string(),
    action_name: z.string(),
    parameters: json,
    status: oneOf('pending, executing, success, failed'),
    result: json.nullable(),
    error_message: z.string().nullable(),
    created_at: at,
    executed_at: at.nullable(),
  })
  .meta({ id: 'Action' });

export const reminderSchema = z
  .object({
    id: uuid,
    user_id: uuid.nullable(),
    title: z.string(),
    description: z.string().nullable(),
    scheduled_at: at,
    status: oneOf('pending, triggered, cancelled'),
    created_at: at,
    triggered_at: at.nullable(),
    metadata: object,
  })
  .meta({ id: 'Reminder' });

export const configEntrySchema = z
  .object({
    key: z.string(),
    value: json.describe('JSON value, validated per key'),
    description: z.string().nullable(),
    updated_at: at,
    updated_by: z.string().nullable(),
  })
  .meta({ id: 'ConfigEntry' });

export const logLineSchema = z
  .object({
    id: z.number(),
    timestamp: at,
    level: oneOf('DEBUG, INFO, WARN, ERROR'),
    source: z.string(),
    message: z.string(),
    metadata: object,
  })
  .meta({ id: 'LogLine' });

export const apiKeySchema = z
  .object({
    key_uuid: uuid,
    domain_uuid: uuid,
    name: z.string(),
    created_at: at,
    last_used_at: at.nullable(),
    revoked_at: at.nullable(),
  })
  .meta({ id: 'ApiKey' });

// The IVR module's rows, as src/ivr types them.
export const providerSchema = z
  .object({
    provider_uuid: uuid,
    domain_uuid: uuid,
    provider_type: oneOf('stt, tts, llm, embeddings, realtime'),
    provider_name: z.string(),
    configured: z.boolean().describe('whether a config is stored; the config itself is write-only (encrypted, never listed)'),
    is_default: z.boolean(),
    is_enabled: z.boolean(),
    created_at: at,
    updated_at: at,
  })
  .meta({ id: 'Provider' });

export const providerWithConfigSchema = z
  .object({ provider_uuid: uuid, provider_name: z.string(), config: object.describe('the decrypted config, for the IVR engine') })
  .meta({ id: 'ProviderWithConfig' });

const secretaryFields = {
  secretary_uuid: uuid,
  domain_uuid: uuid,
  name: z.string(),
  extension: z.string().nullable(),
  processing_mode: oneOf('turn_based, realtime'),
  system_prompt: z.string().nullable(),
  greeting: z.string().nullable(),
  farewell: z.string().nullable(),
  stt_provider_uuid: uuid.nullable(),
  tts_provider_uuid: uuid.nullable(),
  llm_provider_uuid: uuid.nullable(),
  realtime_provider_uuid: uuid.nullable(),
  created_at: at,
  updated_at: at,
};
export const secretarySchema = z.object(secretaryFields).meta({ id: 'Secretary' });
export const secretaryWithProvidersSchema = z
  .object({ ...secretaryFields, stt_provider: z.string().nullable(), tts_provider: z.string().nullable(), llm_provider: z.string().nullable() })
  .meta({ id: 'SecretaryWithProviders' });

export const documentSchema = z
  .object({
    document_uuid: uuid,
    domain_uuid: uuid,
    secretary_uuid: uuid.nullable(),
    title: z.string(),
    content: z.string(),
    source: z.string().nullable(),
    mime_type: z.string(),
    is_enabled: z.boolean(),
    created_at: at,
    updated_at: at,
  })
  .meta({ id: 'Document' });

export const documentHitSchema = z
  .object({ document_uuid: uuid, secretary_uuid: uuid.nullable(), title: z.string(), rank: z.number(), snippet: z.string() })
  .meta({ id: 'DocumentHit' });

export const transferRuleSchema = z
  .object({
    rule_uuid: uuid,
    domain_uuid: uuid,
    secretary_uuid: uuid.nullable(),
    name: z.string(),
    match_intents: z.array(z.string()),
    match_keywords: z.array(z.string()),
    destination_type: oneOf('extension, number, voicemail'),
    destination: z.string(),
    priority: z.number(),
    weekdays: z.array(z.number()).nullable().describe('ISO weekdays, 1 = Monday'),
    time_start: z.string().nullable().describe("HH:MM:SS in the rule's time zone"),
    time_end: z.string().nullable(),
    timezone: z.string(),
    is_enabled: z.boolean(),
    created_at: at,
    updated_at: at,
  })
  .meta({ id: 'TransferRule' });

export const callSchema = z
  .object({
    conversation_uuid: uuid,
    domain_uuid: uuid,
    secretary_uuid: uuid.nullable(),
    caller_id: z.string().nullable(),
    call_uuid: z.string().nullable(),
    started_at: at,
    ended_at: at.nullable(),
    resolution: z.string().nullable(),
    transferred_to: z.string().nullable(),
  })
  .meta({ id: 'Call' });

export const callMessageSchema = z
  .object({
    message_uuid: uuid,
    domain_uuid: uuid,
    conversation_uuid: uuid,
    role: oneOf('user, assistant, system'),
    content: z.string(),
    created_at: at,
    latency_ms: z.number().nullable(),
    intent: z.string().nullable(),
    confidence: z.number().nullable(),
  })
  .meta({ id: 'CallMessage' });

export const callSummarySchema = z
  .object({
    conversation_uuid: uuid,
    caller_id: z.string().nullable(),
    started_at: at,
    ended_at: at.nullable(),
    resolution: z.string().nullable(),
    secretary_name: z.string().nullable().describe('null for a call no secretary answered'),
    message_count: z.number(),
  })
  .meta({ id: 'CallSummary' });

/** A page of a list: `next_cursor`, when not null, fetches the next page. */
export const pageOf = <T extends z.ZodType>(item: T) => z.object({ items: z.array(item), next_cursor: z.string().nullable() });

/**
 * The `Idempotency-Key` header of the POSTs that create rows (IETF httpapi draft): a retry with the same key and
 * body answers the first result without writing again (for 24 hours); the same key with another body is a 409.
 */
export const idempotentHeaders = z.object({
  'idempotency-key': idempotencyKey
    .optional()
    .describe(
      'A key of your own for this request (a UUID, say): a retry with the same key and body returns the first answer and writes nothing; kept 24 hours',
    ),
});

/** The library's option from the request's `Idempotency-Key` header (validated by `idempotentHeaders`). */
export function idempotencyOf(request: FastifyRequest): IdempotencyOptions {
  const key = request.headers['idempotency-key'];
  return typeof key === 'string' ? { idempotencyKey: key } : {};
}

/** The path parameter of a core resource's id (any form PostgreSQL reads as a uuid). */
export const idParams = z.strictObject({ id });
/** The path parameter of an IVR resource's id. */
export const uuidParams = z.strictObject({ uuid: id });

/** Query parameters every list takes. */
export const pageQuery = {
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().max(200).optional(),
};

const BAD_CURSOR = 'cursor: not a cursor this API gave out; pass next_cursor from the previous page unchanged';

/** An opaque cursor: any position, as base64url JSON. */
export const toCursor = (position: unknown): string => Buffer.from(JSON.stringify(position)).toString('base64url');

/** The position in a cursor, checked against `schema`; anything else is the same clear InvalidInputError. */
export function fromCursor<S extends z.ZodType>(cursor: string | undefined, schema: S): z.output<S> | undefined {
  if (cursor === undefined) return undefined;
  try {
    const parsed = schema.safeParse(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')));
    if (parsed.success) return parsed.data;
  } catch {
    // falls through to the error below
  }
  throw new InvalidInputError(BAD_CURSOR);
}

/** Cursor of a keyset list: the sort timestamp and id of the last item of a page. */
export const encodeCursor = (at: Date, id: string | number): string => toCursor({ at: at.toISOString(), id: String(id) });
export const decodeCursor = (cursor: string | undefined): Position | undefined => fromCursor(cursor, position);

/** A page of `rows` fetched with `limit + 1`: the extra row only says whether there is a next page. */
export function pageFrom<T>(rows: T[], limit: number, cursorOf: (row: T) => string): { items: T[]; next_cursor: string | null } {
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  return { items, next_cursor: rows.length > limit && last ? cursorOf(last) : null };
}

/**
 * A page of a keyset list: asks `list` for one row more than the query's limit, after the cursor's position, and
 * gives out the cursor of the last row kept when there is more (the row's sort time and id, from `positionOf`).
 */
export async function keysetPage<T>(
  query: { limit: number; cursor?: string },
  list: (page: { limit: number; after?: Position }) => Promise<T[]>,
  positionOf: (row: T) => [Date, string | number],
): Promise<{ items: T[]; next_cursor: string | null }> {
  const rows = await list({ limit: query.limit + 1, after: decodeCursor(query.cursor) });
  return pageFrom(rows, query.limit, (row) => encodeCursor(...positionOf(row)));
}

/** Dates have no JSON Schema of their own: on the wire they are ISO 8601 strings, and the document says so. */
function openApiOverride(context: { zodSchema: { _zod: { def: { type: string } } }; jsonSchema: Record<string, unknown> }): void {
  if (context.zodSchema._zod.def.type === 'date') {
    context.jsonSchema.type = 'string';
    context.jsonSchema.format = 'date-time';
  }
}

/** How the response schemas become JSON Schema, for the OpenAPI document and for the response serializer. */
export const zodToJsonConfig = { unrepresentable: 'any' as const, override: openApiOverride as never };
