import { CompiledQuery, type Selectable, sql } from 'kysely';
import { z } from 'zod';
import { ConflictError, NotFoundError } from '../errors.ts';
import type { DB } from '../db/schema.ts';
import { id, instant, parse, requiredText, text } from '../validation.ts';
import { pageOptions, type PageOptions } from '../db/paging.ts';
import type { DomainContext } from './domain-context.ts';
import { operation } from './operation.ts';

type CallRow = Selectable<DB['v_voice_conversations']>;
type MessageRow = Selectable<DB['v_voice_messages']>;

/** A call a secretary answered (or none did): the seed's IVR conversation. */
export type Call = Pick<CallRow, (typeof CALL_COLUMNS)[number]>;

/** A line of a call's transcript. */
export interface CallMessage extends Pick<MessageRow, Exclude<(typeof MESSAGE_COLUMNS)[number], 'role'>> {
  role: Role;
}

/** A call in the history, with its message count. */
export interface CallSummary extends Pick<CallRow, 'conversation_uuid' | 'caller_id' | 'started_at' | 'ended_at' | 'resolution'> {
  /** null for a call that no secretary answered (the seed's inner join left such calls out of the history). */
  secretary_name: string | null;
  message_count: number;
}

// The column is text under a CHECK, which the generated types read as any string.
type Role = z.output<typeof messageRole>;
const messageRole = z.enum(['user', 'assistant', 'system'], { message: 'must be user, assistant or system' });

export const newCall = z.strictObject({
  secretary_uuid: id.nullish(),
  caller_id: text(50).nullish(),
  call_uuid: text(100).nullish(),
});
export type NewCall = z.input<typeof newCall>;

export const callMessages = z
  .array(
    z.strictObject({
      role: messageRole,
      content: requiredText(1_000_000),
      latency_ms: z.number().int().min(0).max(2_147_483_647).nullish(),
      intent: text(100).nullish(),
      confidence: z.number().min(0).max(1).nullish(),
    }),
  )
  .min(1, 'at least one message')
  .max(1000, 'at most 1000 messages per call');
export type NewCallMessage = z.input<typeof callMessages>[number];

export const callEnding = z.strictObject({
  resolution: text(50).nullish(),
  transferred_to: text(50).nullish(),
});
export type CallEnding = z.input<typeof callEnding>;

/** The seed's conversation-history query, verbatim: calls since a time with their message counts. */
export const CALL_HISTORY_SQL = `
SELECT 
    c.conversation_uuid,
    c.caller_id,
    c.started_at,
    c.ended_at,
    c.resolution,
    s.name as secretary_name,
    COUNT(m.message_uuid) as message_count
FROM v_voice_conversations c
JOIN v_voice_secretaries s ON c.secretary_uuid = s.secretary_uuid
LEFT JOIN v_voice_messages m ON c.conversation_uuid = m.conversation_uuid
WHERE c.domain_uuid = $1
  AND c.started_at >= $2
GROUP BY c.conversation_uuid, s.name
ORDER BY c.started_at DESC;`;

// Named rather than `*`: a prepared `SELECT *` fails once a migration adds a column under a running service.
const CALL_COLUMNS = [
  'conversation_uuid',
  'domain_uuid',
  'secretary_uuid',
  'caller_id',
  'call_uuid',
  'started_at',
  'ended_at',
  'resolution',
  'transferred_to',
] as const;
const MESSAGE_COLUMNS = ['message_uuid', 'domain_uuid', 'conversation_uuid', 'role', 'content', 'created_at', 'latency_ms', 'intent', 'confidence'] as const;

/**
 * The seed's history query as the library runs it, a page at a time: newest first, continuing before the last call
 * of the previous page ($3, $4: its id and start). Two fixes: a call no secretary answered is listed (the seed's
 * inner join dropped it), and the secretary is joined within the domain.
 */
const CALL_HISTORY_PAGE_SQL = `
SELECT c.conversation_uuid, c.caller_id, c.started_at, c.ended_at, c.resolution,
       s.name AS secretary_name,
       COUNT(m.message_uuid)::int AS message_count
  FROM v_voice_conversations c
  LEFT JOIN v_voice_secretaries s ON s.domain_uuid = c.domain_uuid AND s.secretary_uuid = c.secretary_uuid
  LEFT JOIN v_voice_messages m ON m.domain_uuid = c.domain_uuid AND m.conversation_uuid = c.conversation_uuid
 WHERE c.domain_uuid = $1
   AND c.started_at >= $2
   AND ($3::uuid IS NULL OR (c.started_at, c.conversation_uuid) <
        (coalesce((SELECT started_at FROM v_voice_conversations WHERE conversation_uuid = $3::uuid), $4::timestamptz), $3::uuid))
 GROUP BY c.conversation_uuid, s.name
 ORDER BY c.started_at DESC, c.conversation_uuid DESC
 LIMIT $5`;

async function startCall({ trx, domain }: DomainContext, values: z.output<typeof newCall>): Promise<Call> {
  return trx
    .insertInto('v_voice_conversations')
    .values({ ...values, domain_uuid: domain })
    .returning(CALL_COLUMNS)
    .executeTakeFirstOrThrow();
}

async function getCall({ trx, domain }: DomainContext, conversationUuid: string): Promise<Call & { messages: CallMessage[] }> {
  const key = parse(id, conversationUuid, 'conversation id');
  const call = await trx
    .selectFrom('v_voice_conversations')
    .select(CALL_COLUMNS)
    .where('domain_uuid', '=', domain)
    .where('conversation_uuid', '=', key)
    .executeTakeFirst();
  if (!call) throw new NotFoundError(`call ${key} not found`);
  const messages = await trx
    .selectFrom('v_voice_messages')
    .select(MESSAGE_COLUMNS)
    .where('domain_uuid', '=', domain)
    .where('conversation_uuid', '=', key)
    .orderBy('created_at')
    .orderBy('message_uuid')
    .$narrowType<{ role: Role }>()
    .execute();
  return { ...call, messages };
}

// One statement, with distinct increasing times (as core messages).
async function appendCallMessages({ trx, domain }: DomainContext, conversationUuid: string, messages: z.output<typeof callMessages>): Promise<CallMessage[]> {
  const key = parse(id, conversationUuid, 'conversation id');
  const { rows } = await sql<CallMessage>`
    INSERT INTO v_voice_messages (domain_uuid, conversation_uuid, role, content, created_at, latency_ms, intent, confidence)
    SELECT c.domain_uuid, c.conversation_uuid, m.role, m.content, start.at + (m.ord - 1) * interval '1 millisecond',
           m.latency_ms, m.intent, m.confidence
      FROM v_voice_conversations c
     CROSS JOIN ROWS FROM (jsonb_to_recordset(${JSON.stringify(messages)}::jsonb)
               AS (role text, content text, latency_ms integer, intent text, confidence float8))
           WITH ORDINALITY AS m(role, content, latency_ms, intent, confidence, ord)
     CROSS JOIN LATERAL (SELECT GREATEST(now(), max(created_at) + interval '1 millisecond') AS at
                           FROM v_voice_messages WHERE conversation_uuid = c.conversation_uuid AND domain_uuid = c.domain_uuid) start
     WHERE c.domain_uuid = ${domain} AND c.conversation_uuid = ${key} AND c.ended_at IS NULL
    RETURNING ${sql.join(MESSAGE_COLUMNS.map((column) => sql.ref(column)))}`.execute(trx);
  if (rows.length === 0) return refuseClosedCall(trx, domain, key, 'has ended');
  return rows.sort((a, b) => a.created_at.getTime() - b.created_at.getTime());
}

async function endCall({ trx, domain }: DomainContext, conversationUuid: string, values: z.output<typeof callEnding>): Promise<Call> {
  const key = parse(id, conversationUuid, 'conversation id');
  const ended = await trx
    .updateTable('v_voice_conversations')
    .set((eb) => ({ ...values, ended_at: eb.fn<Date>('now') }))
    .where('domain_uuid', '=', domain)
    .where('conversation_uuid', '=', key)
    .where('ended_at', 'is', null)
    .returning(CALL_COLUMNS)
    .executeTakeFirst();
  if (ended) return ended;
  return refuseClosedCall(trx, domain, key, 'has already ended');
}

/** Why a change to an open call touched no row: the call is not in this domain (not found), or it `ended`. */
async function refuseClosedCall(trx: DomainContext['trx'], domain: string, key: string, ended: string): Promise<never> {
  const call = await trx
    .selectFrom('v_voice_conversations')
    .select('ended_at')
    .where('domain_uuid', '=', domain)
    .where('conversation_uuid', '=', key)
    .executeTakeFirst();
  if (!call) throw new NotFoundError(`call ${key} not found`);
  throw new ConflictError(`call ${key} ${ended}`);
}

async function callHistory({ trx, domain }: DomainContext, since: Date | string, options: PageOptions = {}): Promise<CallSummary[]> {
  const from = parse(instant, since, 'since');
  const { limit, after } = parse(pageOptions(50), options, 'list options');
  const { rows } = await trx.executeQuery<CallSummary>(CompiledQuery.raw(CALL_HISTORY_PAGE_SQL, [domain, from, after?.id ?? null, after?.at ?? null, limit]));
  return rows;
}

/** What a domain handle does with calls (see ivr.ts: each runs in the domain's transaction). */
export const callOperations = {
  /** Starts a call, answered by a secretary of the domain or by none. */
  startCall: operation({ input: newCall.prefault({}), what: 'call', idempotent: true }, startCall),
  /** Appends transcript lines to an open call, in order; an ended call refuses them (`ConflictError`). */
  appendCallMessages: operation({ input: callMessages, what: 'call messages', idempotent: true }, appendCallMessages),
  /** Ends an open call with its resolution; a call ends once (`ConflictError` after). */
  endCall: operation({ input: callEnding.prefault({}), what: 'call ending' }, endCall),
  /** A call with its transcript in order. */
  getCall: operation({}, getCall),
  /** Calls since `since` with message counts, newest first (the seed's query); `{ limit, after }` pages (50 by default). */
  callHistory: operation({}, callHistory),
};
