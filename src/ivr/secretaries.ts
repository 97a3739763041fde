import { CompiledQuery, type Selectable } from 'kysely';
import { z } from 'zod';
import { NotFoundError } from '../errors.ts';
import type { DB } from '../db/schema.ts';
import { id, parse, requiredText, text } from '../validation.ts';
import { afterPosition, pageOptions, type PageOptions } from '../db/paging.ts';
import type { DomainContext } from './domain-context.ts';
import { operation } from './operation.ts';

type SecretaryRow = Selectable<DB['v_voice_secretaries']>;

/** A secretary: who answers an extension, with which prompts and providers. */
export interface Secretary extends Pick<SecretaryRow, Exclude<(typeof COLUMNS)[number], 'processing_mode'>> {
  processing_mode: ProcessingMode;
}

/** A secretary found by extension, with the names of its providers (the seed's query). */
export interface SecretaryWithProviders extends Secretary {
  stt_provider: string | null;
  tts_provider: string | null;
  llm_provider: string | null;
}

// The column is text under a CHECK, which the generated types read as any string.
type ProcessingMode = z.output<typeof fields.processing_mode>;
type Narrowed = { processing_mode: ProcessingMode };

const fields = {
  name: requiredText(100),
  extension: z
    .string()
    .regex(/^[0-9*#]{1,10}$/, 'must be 1 to 10 digits, * or #')
    .nullish(),
  processing_mode: z.enum(['turn_based', 'realtime'], { message: 'must be turn_based or realtime' }),
  system_prompt: text(100_000).nullish(),
  greeting: text(10_000).nullish(),
  farewell: text(10_000).nullish(),
  stt_provider_uuid: id.nullish(),
  tts_provider_uuid: id.nullish(),
  llm_provider_uuid: id.nullish(),
  realtime_provider_uuid: id.nullish(),
};

export const newSecretary = z.strictObject({ ...fields, processing_mode: fields.processing_mode.default('turn_based') });
export type NewSecretary = z.input<typeof newSecretary>;
export const secretaryPatch = z.strictObject(fields).partial();
export type SecretaryPatch = z.input<typeof secretaryPatch>;

const COLUMNS = [
  'secretary_uuid',
  'domain_uuid',
  'name',
  'extension',
  'processing_mode',
  'system_prompt',
  'greeting',
  'farewell',
  'stt_provider_uuid',
  'tts_provider_uuid',
  'llm_provider_uuid',
  'realtime_provider_uuid',
  'created_at',
  'updated_at',
] as const;

/**
 * The seed's query, with two changes that keep its results and give row-level security the superuser's plan.
 * The tenant is read from the transaction's setting, which the policies read too: bound again as a parameter,
 * it gives the planner two values it must prove equal, and it does that with a gating node above every table,
 * which was most of what row-level security cost this lookup (bench/README.md, ivr). And each provider is joined on its
 * domain as well, which the composite foreign keys already guarantee, so that the policy's condition is the
 * join's and not a filter. The secretary's columns are named rather than `s.*`, which a prepared statement cannot
 * survive a migration adding one (see db/columns.ts), and which brought the *_provider_type columns that only pin
 * the composite foreign keys. The seed's own text runs unchanged too (tested).
 */
export const SECRETARY_BY_EXTENSION_SQL = `
SELECT ${COLUMNS.map((column) => `s.${column}`).join(', ')},
       p_stt.provider_name as stt_provider,
       p_tts.provider_name as tts_provider,
       p_llm.provider_name as llm_provider
FROM v_voice_secretaries s
LEFT JOIN v_voice_ai_providers p_stt ON p_stt.domain_uuid = s.domain_uuid AND s.stt_provider_uuid = p_stt.provider_uuid
LEFT JOIN v_voice_ai_providers p_tts ON p_tts.domain_uuid = s.domain_uuid AND s.tts_provider_uuid = p_tts.provider_uuid
LEFT JOIN v_voice_ai_providers p_llm ON p_llm.domain_uuid = s.domain_uuid AND s.llm_provider_uuid = p_llm.provider_uuid
WHERE s.domain_uuid = v_voice_current_domain()
  AND s.extension = $1;`;

async function createSecretary({ trx, domain }: DomainContext, values: z.output<typeof newSecretary>): Promise<Secretary> {
  return trx
    .insertInto('v_voice_secretaries')
    .values({ ...values, domain_uuid: domain })
    .returning(COLUMNS)
    .$narrowType<Narrowed>()
    .executeTakeFirstOrThrow();
}

async function getSecretary({ trx, domain }: DomainContext, secretaryUuid: string): Promise<Secretary> {
  const key = parse(id, secretaryUuid, 'secretary id');
  const row = await trx
    .selectFrom('v_voice_secretaries')
    .select(COLUMNS)
    .where('domain_uuid', '=', domain)
    .where('secretary_uuid', '=', key)
    .$narrowType<Narrowed>()
    .executeTakeFirst();
  if (!row) throw new NotFoundError(`secretary ${key} not found`);
  return row;
}

async function listSecretaries({ trx, domain }: DomainContext, options: PageOptions = {}): Promise<Secretary[]> {
  const { limit, after } = parse(pageOptions(1000), options, 'list options');
  return trx
    .selectFrom('v_voice_secretaries')
    .select(COLUMNS)
    .where('domain_uuid', '=', domain)
    .where(afterPosition('v_voice_secretaries', 'secretary_uuid', after))
    .orderBy('created_at')
    .orderBy('secretary_uuid')
    .limit(limit)
    .$narrowType<Narrowed>()
    .execute();
}

async function updateSecretary({ trx, domain }: DomainContext, secretaryUuid: string, patch: z.output<typeof secretaryPatch>): Promise<Secretary> {
  const key = parse(id, secretaryUuid, 'secretary id');
  if (Object.keys(patch).length === 0) return getSecretary({ trx, domain }, key);
  const row = await trx
    .updateTable('v_voice_secretaries')
    .set(patch)
    .where('domain_uuid', '=', domain)
    .where('secretary_uuid', '=', key)
    .returning(COLUMNS)
    .$narrowType<Narrowed>()
    .executeTakeFirst();
  if (!row) throw new NotFoundError(`secretary ${key} not found`);
  return row;
}

async function deleteSecretary({ trx, domain }: DomainContext, secretaryUuid: string): Promise<void> {
  const key = parse(id, secretaryUuid, 'secretary id');
  const result = await trx.deleteFrom('v_voice_secretaries').where('domain_uuid', '=', domain).where('secretary_uuid', '=', key).executeTakeFirst();
  if (!result.numDeletedRows) throw new NotFoundError(`secretary ${key} not found`);
}

async function secretaryByExtension({ trx }: DomainContext, extension: string): Promise<SecretaryWithProviders> {
  const checked = parse(fields.extension.unwrap().unwrap(), extension, 'extension');
  const { rows } = await trx.executeQuery<SecretaryWithProviders>(CompiledQuery.raw(SECRETARY_BY_EXTENSION_SQL, [checked]));
  if (!rows[0]) throw new NotFoundError(`no secretary on extension ${checked}`);
  return rows[0];
}

/** What a domain handle does with secretaries (see ivr.ts: each runs in the domain's transaction). */
export const secretaryOperations = {
  /** Creates a secretary; its providers must be of the domain and of the type each slot names. */
  createSecretary: operation({ input: newSecretary, what: 'secretary', idempotent: true }, createSecretary),
  /** Changes the fields given; an empty change returns the secretary as it is. */
  updateSecretary: operation({ input: secretaryPatch, what: 'secretary change' }, updateSecretary),
  /** One secretary. */
  getSecretary: operation({}, getSecretary),
  /** In creation order; `{ limit, after }` pages (see paging.ts). */
  listSecretaries: operation({}, listSecretaries),
  /** Deletes a secretary with its documents and transfer rules; its calls stay, answered by no secretary. */
  deleteSecretary: operation({}, deleteSecretary),
  /** The secretary on an extension with its providers' names (the seed's query), or `NotFoundError`. */
  secretaryByExtension: operation({}, secretaryByExtension),
};
