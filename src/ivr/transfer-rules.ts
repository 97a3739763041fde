import { type Selectable, sql } from 'kysely';
import { z } from 'zod';
import { NotFoundError } from '../errors.ts';
import type { DB } from '../db/schema.ts';
import { id, instant, parse, requiredText, text } from '../validation.ts';
import { afterPosition, pageOptions, type PageOptions } from '../db/paging.ts';
import type { DomainContext } from './domain-context.ts';
import { operation } from './operation.ts';

type TransferRuleRow = Selectable<DB['v_voice_transfer_rules']>;

/** When a call goes to a person: by intent or keyword, weekday and hour in the rule's time zone, by priority. */
export interface TransferRule extends Pick<TransferRuleRow, Exclude<(typeof COLUMNS)[number], 'destination_type'>> {
  destination_type: DestinationType;
}

// The column is text under a CHECK, which the generated types read as any string.
type DestinationType = z.output<typeof fields.destination_type>;
type Narrowed = { destination_type: DestinationType };

const timeOfDay = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?$/, 'must be HH:MM or HH:MM:SS');
const timezone = z
  .string()
  .max(64)
  .refine((zone) => {
    try {
      new Intl.DateTimeFormat('en', { timeZone: zone });
      return true;
    } catch {
      return false;
    }
  }, 'must be an IANA time zone such as America/Sao_Paulo');

const fields = {
  secretary_uuid: id.nullish(),
  name: requiredText(100),
  match_intents: z.array(requiredText(100)).max(100),
  match_keywords: z.array(requiredText(100)).max(100),
  destination_type: z.enum(['extension', 'number', 'voicemail'], { message: 'must be extension, number or voicemail' }),
  destination: z.string().regex(/^\+?[0-9*#]{1,49}$/, 'must be an extension or a phone number (digits, * #, optional leading +)'),
  priority: z.number().int().min(0).max(10_000),
  weekdays: z.array(z.number().int().min(1).max(7)).min(1).max(7).nullish(),
  time_start: timeOfDay.nullish(),
  time_end: timeOfDay.nullish(),
  timezone,
  is_enabled: z.boolean(),
};
const windowIsWhole = (rule: { time_start?: string | null; time_end?: string | null }) => (rule.time_start == null) === (rule.time_end == null);

export const newTransferRule = z
  .strictObject({
    ...fields,
    match_intents: fields.match_intents.default([]),
    match_keywords: fields.match_keywords.default([]),
    priority: fields.priority.default(100),
    timezone: fields.timezone.default('America/Sao_Paulo'),
    is_enabled: fields.is_enabled.default(true),
  })
  .refine(windowIsWhole, { message: 'give both time_start and time_end, or neither', path: ['time_end'] });
export type NewTransferRule = z.input<typeof newTransferRule>;
export const transferRulePatch = z.strictObject(fields).partial();
export type TransferRulePatch = z.input<typeof transferRulePatch>;

export const transferQuery = z.strictObject({
  intent: text(100).optional(),
  utterance: text(10_000).optional(),
  secretary_uuid: id.optional(),
  at: instant.optional(),
});
export type TransferQuery = z.input<typeof transferQuery>;

// Named rather than `*`: a prepared `SELECT *` fails once a migration adds a column under a running service.
const COLUMNS = [
  'rule_uuid',
  'domain_uuid',
  'secretary_uuid',
  'name',
  'match_intents',
  'match_keywords',
  'destination_type',
  'destination',
  'priority',
  'weekdays',
  'time_start',
  'time_end',
  'timezone',
  'is_enabled',
  'created_at',
  'updated_at',
] as const;

async function createTransferRule({ trx, domain }: DomainContext, values: z.output<typeof newTransferRule>): Promise<TransferRule> {
  return trx
    .insertInto('v_voice_transfer_rules')
    .values({ ...values, domain_uuid: domain })
    .returning(COLUMNS)
    .$narrowType<Narrowed>()
    .executeTakeFirstOrThrow();
}

async function getTransferRule({ trx, domain }: DomainContext, ruleUuid: string): Promise<TransferRule> {
  const key = parse(id, ruleUuid, 'rule id');
  const row = await trx
    .selectFrom('v_voice_transfer_rules')
    .select(COLUMNS)
    .where('domain_uuid', '=', domain)
    .where('rule_uuid', '=', key)
    .$narrowType<Narrowed>()
    .executeTakeFirst();
  if (!row) throw new NotFoundError(`transfer rule ${key} not found`);
  return row;
}

async function listTransferRules({ trx, domain }: DomainContext, options: PageOptions = {}): Promise<TransferRule[]> {
  const { limit, after } = parse(pageOptions(1000), options, 'list options');
  return trx
    .selectFrom('v_voice_transfer_rules')
    .select(COLUMNS)
    .where('domain_uuid', '=', domain)
    .where(afterPosition('v_voice_transfer_rules', 'rule_uuid', after))
    .orderBy('created_at')
    .orderBy('rule_uuid')
    .limit(limit)
    .$narrowType<Narrowed>()
    .execute();
}

async function updateTransferRule({ trx, domain }: DomainContext, ruleUuid: string, patch: z.output<typeof transferRulePatch>): Promise<TransferRule> {
  const key = parse(id, ruleUuid, 'rule id');
  if (Object.keys(patch).length === 0) return getTransferRule({ trx, domain }, key);
  const row = await trx
    .updateTable('v_voice_transfer_rules')
    .set(patch)
    .where('domain_uuid', '=', domain)
    .where('rule_uuid', '=', key)
    .returning(COLUMNS)
    .$narrowType<Narrowed>()
    .executeTakeFirst();
  if (!row) throw new NotFoundError(`transfer rule ${key} not found`);
  return row;
}

async function deleteTransferRule({ trx, domain }: DomainContext, ruleUuid: string): Promise<void> {
  const key = parse(id, ruleUuid, 'rule id');
  const result = await trx.deleteFrom('v_voice_transfer_rules').where('domain_uuid', '=', domain).where('rule_uuid', '=', key).executeTakeFirst();
  if (!result.numDeletedRows) throw new NotFoundError(`transfer rule ${key} not found`);
}

async function findTransferRule({ trx, domain }: DomainContext, query: z.output<typeof transferQuery>): Promise<TransferRule | undefined> {
  const at = query.at ?? null;
  const { rows } = await sql<TransferRule>`
    SELECT ${sql.join(COLUMNS.map((column) => sql.ref(`r.${column}`)))}
      FROM v_voice_transfer_rules r,
           LATERAL (SELECT COALESCE(${at}::timestamptz, now()) AT TIME ZONE r.timezone AS local) l
     WHERE r.domain_uuid = ${domain} AND r.is_enabled
       AND (r.secretary_uuid IS NULL OR r.secretary_uuid = ${query.secretary_uuid ?? null}::uuid)
       AND (   (cardinality(r.match_intents) = 0 AND cardinality(r.match_keywords) = 0)
            OR ${query.intent ?? null}::text = ANY (r.match_intents)
            OR EXISTS (SELECT 1 FROM unnest(r.match_keywords) AS k(word)
                        WHERE position(lower(unaccent(k.word)) IN lower(unaccent(${query.utterance ?? ''}::text))) > 0))
       AND (r.weekdays IS NULL OR extract(isodow FROM l.local)::smallint = ANY (r.weekdays))
       AND (   r.time_start IS NULL
            OR (r.time_start < r.time_end AND l.local::time >= r.time_start AND l.local::time < r.time_end)
            OR (r.time_start > r.time_end AND (l.local::time >= r.time_start OR l.local::time < r.time_end)))
     ORDER BY r.priority, r.secretary_uuid IS NULL, r.created_at, r.rule_uuid
     LIMIT 1`.execute(trx);
  return rows[0];
}

/** What a domain handle does with transfer rules (see ivr.ts: each runs in the domain's transaction). */
export const transferRuleOperations = {
  /** Creates a transfer rule, for every secretary of the domain or for one. */
  createTransferRule: operation({ input: newTransferRule, what: 'transfer rule', idempotent: true }, createTransferRule),
  /** Changes the fields given; an empty change returns the rule as it is. */
  updateTransferRule: operation({ input: transferRulePatch, what: 'transfer rule change' }, updateTransferRule),
  /** One transfer rule. */
  getTransferRule: operation({}, getTransferRule),
  /** In creation order; `{ limit, after }` pages (see paging.ts; `findTransferRule` applies priorities). */
  listTransferRules: operation({}, listTransferRules),
  /** Deletes a transfer rule. */
  deleteTransferRule: operation({}, deleteTransferRule),
  /**
   * The rule that applies to a caller's intent and words at a moment (default: now), or `undefined`. Weekday and
   * time window are read in each rule's own time zone; a window like 22:00–06:00 crosses midnight. Keywords match
   * case- and accent-blind anywhere in the utterance.
   */
  findTransferRule: operation({ input: transferQuery, what: 'transfer query' }, findTransferRule),
};
