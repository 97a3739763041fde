import { CompiledQuery, type Selectable, sql } from 'kysely';
import { z } from 'zod';
import { NotFoundError } from '../errors.ts';
import type { DB } from '../db/schema.ts';
import { id, json, parse } from '../validation.ts';
import { afterPosition, pageOptions, type PageOptions } from '../db/paging.ts';
import type { DomainContext } from './domain-context.ts';
import { operation } from './operation.ts';

export const PROVIDER_TYPES = ['stt', 'tts', 'llm', 'embeddings', 'realtime'] as const;
/** What an AI provider does for a secretary. */
export type ProviderType = (typeof PROVIDER_TYPES)[number];

type ProviderRow = Selectable<DB['v_voice_ai_providers']>;

/** A provider as callers see it: the encrypted config never leaves the database; `configured` says if it is set. */
export interface Provider
  extends Pick<ProviderRow, 'provider_uuid' | 'domain_uuid' | 'provider_name' | 'is_default' | 'is_enabled' | 'created_at' | 'updated_at'> {
  provider_type: ProviderType;
  configured: boolean;
}

/** A provider with its config decrypted (the seed's query), for the IVR engine. */
export interface ProviderWithConfig extends Pick<ProviderRow, 'provider_uuid' | 'provider_name'> {
  config: unknown;
}

const providerType = z.enum(PROVIDER_TYPES, { message: 'must be stt, tts, llm, embeddings or realtime' });
const providerName = z
  .string()
  .max(50)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'letters, digits, dot, dash or underscore');
const providerConfig = json.refine((value) => typeof value === 'object' && value !== null && !Array.isArray(value), 'must be a JSON object');

export const newProvider = z.strictObject({
  provider_type: providerType,
  provider_name: providerName,
  config: providerConfig.optional(),
  is_default: z.boolean().default(false),
  is_enabled: z.boolean().default(true),
});
export type NewProvider = z.input<typeof newProvider>;

export const providerPatch = z.strictObject({
  provider_name: providerName.optional(),
  config: providerConfig.optional(),
  is_default: z.boolean().optional(),
  is_enabled: z.boolean().optional(),
});
export type ProviderPatch = z.input<typeof providerPatch>;

const PUBLIC_COLUMNS = sql`provider_uuid, domain_uuid, provider_type, provider_name, config IS NOT NULL AS configured,
                           is_default, is_enabled, created_at, updated_at`;

// The plaintext config arrives as the transaction setting app.provider_config (see inDomain), never as a
// parameter of the INSERT or UPDATE, which a server still on the seed's log_statement = 'mod' would log.
const ENCRYPTED_CONFIG = sql`pgp_sym_encrypt(current_setting('app.provider_config'), current_setting('app.encryption_key'), 'cipher-algo=aes256')`;

/** The seed's query, verbatim: the default (else any) enabled provider of a type, with its config decrypted. */
export const DEFAULT_PROVIDER_SQL = `
SELECT 
    p.provider_uuid,
    p.provider_name,
    pgp_sym_decrypt(p.config::bytea, current_setting('app.encryption_key'))::json as config
FROM v_voice_ai_providers p
WHERE p.domain_uuid = $1
  AND p.provider_type = $2
  AND p.is_enabled = true
ORDER BY p.is_default DESC
LIMIT 1;`;

/** At most one default per type: making one the default demotes the previous one in the same transaction. */
async function demoteDefault({ trx, domain }: DomainContext, type: ProviderType, except?: string): Promise<void> {
  await sql`UPDATE v_voice_ai_providers SET is_default = false
             WHERE domain_uuid = ${domain} AND provider_type = ${type} AND is_default
               AND provider_uuid IS DISTINCT FROM ${except ?? null}::uuid`.execute(trx);
}

async function createProvider(context: DomainContext, values: z.output<typeof newProvider>): Promise<Provider> {
  if (values.is_default) await demoteDefault(context, values.provider_type);
  const { rows } = await sql<Provider>`
    INSERT INTO v_voice_ai_providers (domain_uuid, provider_type, provider_name, config, is_default, is_enabled)
    VALUES (${context.domain}, ${values.provider_type}, ${values.provider_name},
            ${values.config === undefined ? sql`NULL` : ENCRYPTED_CONFIG}, ${values.is_default}, ${values.is_enabled})
    RETURNING ${PUBLIC_COLUMNS}`.execute(context.trx);
  return rows[0]!;
}

async function getProvider({ trx, domain }: DomainContext, providerUuid: string): Promise<Provider> {
  const key = parse(id, providerUuid, 'provider id');
  const { rows } = await sql<Provider>`
    SELECT ${PUBLIC_COLUMNS} FROM v_voice_ai_providers WHERE domain_uuid = ${domain} AND provider_uuid = ${key}`.execute(trx);
  if (!rows[0]) throw new NotFoundError(`provider ${key} not found`);
  return rows[0];
}

async function listProviders({ trx, domain }: DomainContext, options: PageOptions = {}): Promise<Provider[]> {
  const { limit, after } = parse(pageOptions(1000), options, 'list options');
  const { rows } = await sql<Provider>`
    SELECT ${PUBLIC_COLUMNS} FROM v_voice_ai_providers
     WHERE domain_uuid = ${domain} AND ${afterPosition('v_voice_ai_providers', 'provider_uuid', after)}
     ORDER BY created_at, provider_uuid LIMIT ${limit}`.execute(trx);
  return rows;
}

async function updateProvider(context: DomainContext, providerUuid: string, patch: z.output<typeof providerPatch>): Promise<Provider> {
  const current = await getProvider(context, providerUuid);
  if (patch.is_default) await demoteDefault(context, current.provider_type, current.provider_uuid);
  const { rows } = await sql<Provider>`
    UPDATE v_voice_ai_providers
       SET provider_name = COALESCE(${patch.provider_name ?? null}, provider_name),
           config = ${patch.config === undefined ? sql`config` : ENCRYPTED_CONFIG},
           is_default = COALESCE(${patch.is_default ?? null}::boolean, is_default),
           is_enabled = COALESCE(${patch.is_enabled ?? null}::boolean, is_enabled)
     WHERE domain_uuid = ${context.domain} AND provider_uuid = ${current.provider_uuid}
    RETURNING ${PUBLIC_COLUMNS}`.execute(context.trx);
  return rows[0]!;
}

async function deleteProvider({ trx, domain }: DomainContext, providerUuid: string): Promise<void> {
  const key = parse(id, providerUuid, 'provider id');
  const result = await sql`DELETE FROM v_voice_ai_providers WHERE domain_uuid = ${domain} AND provider_uuid = ${key}`.execute(trx);
  if (!result.numAffectedRows) throw new NotFoundError(`provider ${key} not found`);
}

async function defaultProvider({ trx, domain }: DomainContext, type: ProviderType): Promise<ProviderWithConfig> {
  const checked = parse(providerType, type, 'provider type');
  const { rows } = await trx.executeQuery<ProviderWithConfig>(CompiledQuery.raw(DEFAULT_PROVIDER_SQL, [domain, checked]));
  if (!rows[0]) throw new NotFoundError(`no enabled ${checked} provider in this domain`);
  return rows[0];
}

/** What a domain handle does with providers (see ivr.ts: each runs in the domain's transaction). */
export const providerOperations = {
  /** Adds a provider; its config (API keys), when given, is stored encrypted under the key and never listed. */
  createProvider: operation({ input: newProvider, what: 'provider', key: 'write', idempotent: true }, createProvider),
  /** Changes a provider; a new config replaces the old one, encrypted under the key. */
  updateProvider: operation({ input: providerPatch, what: 'provider change', key: 'write' }, updateProvider),
  /** One provider, without its config (`configured` says whether it has one). */
  getProvider: operation({}, getProvider),
  /** In creation order; `{ limit, after }` pages (see paging.ts). */
  listProviders: operation({}, listProviders),
  /** Deletes a provider; secretaries that used it are left without one of its type. */
  deleteProvider: operation({}, deleteProvider),
  /** The default enabled provider of a type with its config decrypted (the seed's query), or `NotFoundError` when none is enabled. */
  defaultProvider: operation({ key: 'read' }, defaultProvider),
};
