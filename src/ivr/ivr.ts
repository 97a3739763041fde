import { type Kysely, sql } from 'kysely';
import { ConfigError, mapDatabaseError, SQLSTATE } from '../errors.ts';
import { type IdempotencyOptions, once } from '../db/idempotency.ts';
import type { DB } from '../db/schema.ts';
import { id, parse } from '../validation.ts';
import * as calls from './calls.ts';
import * as documents from './documents.ts';
import { domainKeys } from './idempotency-keys.ts';
import { type DomainContext, IVR_ROLE, inDomain, KeyRing } from './domain-context.ts';
import type { PageOptions } from '../db/paging.ts';
import * as providers from './providers.ts';
import * as secretaries from './secretaries.ts';
import * as rules from './transfer-rules.ts';

export interface IvrOptions {
  /** Key of the providers' encrypted configs (MORDOMO_ENCRYPTION_KEY); needed only to read or write configs. */
  encryptionKey?: string;
  /**
   * The key a rotation moves to (MORDOMO_NEW_ENCRYPTION_KEY). With both, configs keep working before, during and
   * after `rotateEncryptionKey`, whichever key is current.
   */
  newEncryptionKey?: string;
}

/** `work` at most once per idempotency key of the domain (see db/idempotency.ts), in the domain's transaction. */
function onlyOnce<T>(options: IdempotencyOptions, request: unknown, work: (context: DomainContext) => Promise<T>) {
  return (context: DomainContext) => once(context.trx, domainKeys(context.domain), options, request, () => work(context));
}

/**
 * Everything one tenant (FusionPBX domain) may do. This handle is the only way in: each call runs in its own
 * transaction as the IVR role with the domain set (row-level security), and every query also filters by the
 * domain itself, so isolation holds twice. Ids of another domain behave exactly like ids that do not exist.
 */
export class IvrDomain {
  constructor(
    private readonly db: Kysely<DB>,
    readonly domainUuid: string,
    private readonly keys: KeyRing,
  ) {}

  #run<T>(work: (context: DomainContext) => Promise<T>): Promise<T> {
    return inDomain(this.db, this.domainUuid, work);
  }

  /** Runs with the key (and a plaintext config to encrypt) as transaction settings, never as statement text. */
  #withKey<T>(work: (context: DomainContext) => Promise<T>, config?: unknown): Promise<T> {
    if (config === undefined) return this.keys.run((encryptionKey) => inDomain(this.db, this.domainUuid, work, { encryptionKey }));
    const providerConfig = JSON.stringify(config);
    // The key is claimed before any provider row is touched: the order a rotation takes its locks in.
    const write = async (context: DomainContext) => {
      await sql`SELECT v_voice_claim_encryption_key()`.execute(context.trx);
      return work(context);
    };
    return this.keys.run((encryptionKey) => inDomain(this.db, this.domainUuid, write, { encryptionKey, providerConfig }));
  }

  async createProvider(input: providers.NewProvider, options: IdempotencyOptions = {}): Promise<providers.Provider> {
    const values = parse(providers.newProvider, input, 'provider');
    const create = onlyOnce(options, ['createProvider', values], (context) => providers.createProvider(context, values));
    return values.config === undefined ? this.#run(create) : this.#withKey(create, values.config);
  }
  async updateProvider(providerUuid: string, input: providers.ProviderPatch): Promise<providers.Provider> {
    const patch = parse(providers.providerPatch, input, 'provider change');
    const update = (context: DomainContext) => providers.updateProvider(context, providerUuid, patch);
    return patch.config === undefined ? this.#run(update) : this.#withKey(update, patch.config);
  }
  async getProvider(providerUuid: string) {
    return this.#run((c) => providers.getProvider(c, providerUuid));
  }
  /** In creation order; `{ limit, after }` pages (see paging.ts). */
  async listProviders(options: PageOptions = {}) {
    return this.#run((c) => providers.listProviders(c, options));
  }
  async deleteProvider(providerUuid: string) {
    return this.#run((c) => providers.deleteProvider(c, providerUuid));
  }
  /** The default enabled provider of a type with its config decrypted (the seed's query). */
  async defaultProvider(type: providers.ProviderType) {
    return this.#withKey((c) => providers.defaultProvider(c, type));
  }

  async createSecretary(input: secretaries.NewSecretary, options: IdempotencyOptions = {}) {
    const values = parse(secretaries.newSecretary, input, 'secretary');
    return this.#run(onlyOnce(options, ['createSecretary', values], (c) => secretaries.createSecretary(c, values)));
  }
  async updateSecretary(secretaryUuid: string, input: secretaries.SecretaryPatch) {
    const patch = parse(secretaries.secretaryPatch, input, 'secretary change');
    return this.#run((c) => secretaries.updateSecretary(c, secretaryUuid, patch));
  }
  async getSecretary(secretaryUuid: string) {
    return this.#run((c) => secretaries.getSecretary(c, secretaryUuid));
  }
  /** In creation order; `{ limit, after }` pages (see paging.ts). */
  async listSecretaries(options: PageOptions = {}) {
    return this.#run((c) => secretaries.listSecretaries(c, options));
  }
  async deleteSecretary(secretaryUuid: string) {
    return this.#run((c) => secretaries.deleteSecretary(c, secretaryUuid));
  }
  /** The secretary on an extension with its providers' names (the seed's query). */
  async secretaryByExtension(extension: string) {
    return this.#run((c) => secretaries.secretaryByExtension(c, extension));
  }

  async startCall(input: calls.NewCall = {}, options: IdempotencyOptions = {}) {
    const values = parse(calls.newCall, input, 'call');
    return this.#run(onlyOnce(options, ['startCall', values], (c) => calls.startCall(c, values)));
  }
  async appendCallMessages(conversationUuid: string, input: calls.NewCallMessage[], options: IdempotencyOptions = {}) {
    const messages = parse(calls.callMessages, input, 'call messages');
    return this.#run(onlyOnce(options, ['appendCallMessages', conversationUuid, messages], (c) => calls.appendCallMessages(c, conversationUuid, messages)));
  }
  async endCall(conversationUuid: string, input: calls.CallEnding = {}) {
    const values = parse(calls.callEnding, input, 'call ending');
    return this.#run((c) => calls.endCall(c, conversationUuid, values));
  }
  async getCall(conversationUuid: string) {
    return this.#run((c) => calls.getCall(c, conversationUuid));
  }
  /** Calls since `since` with message counts, newest first (the seed's query); `{ limit, after }` pages (50 by default). */
  async callHistory(since: Date | string, options: PageOptions = {}) {
    return this.#run((c) => calls.callHistory(c, since, options));
  }

  async createDocument(input: documents.NewDocument, options: IdempotencyOptions = {}) {
    const values = parse(documents.newDocument, input, 'document');
    return this.#run(onlyOnce(options, ['createDocument', values], (c) => documents.createDocument(c, values)));
  }
  async updateDocument(documentUuid: string, input: documents.DocumentPatch) {
    const patch = parse(documents.documentPatch, input, 'document change');
    return this.#run((c) => documents.updateDocument(c, documentUuid, patch));
  }
  async getDocument(documentUuid: string) {
    return this.#run((c) => documents.getDocument(c, documentUuid));
  }
  /** In creation order; `{ limit, after }` pages (see paging.ts). */
  async listDocuments(options: PageOptions = {}) {
    return this.#run((c) => documents.listDocuments(c, options));
  }
  async deleteDocument(documentUuid: string) {
    return this.#run((c) => documents.deleteDocument(c, documentUuid));
  }
  async searchDocuments(query: string, options: documents.DocumentSearchOptions = {}) {
    const checked = parse(documents.documentSearch, options, 'search options');
    return this.#run((c) => documents.searchDocuments(c, query, checked));
  }

  async createTransferRule(input: rules.NewTransferRule, options: IdempotencyOptions = {}) {
    const values = parse(rules.newTransferRule, input, 'transfer rule');
    return this.#run(onlyOnce(options, ['createTransferRule', values], (c) => rules.createTransferRule(c, values)));
  }
  async updateTransferRule(ruleUuid: string, input: rules.TransferRulePatch) {
    const patch = parse(rules.transferRulePatch, input, 'transfer rule change');
    return this.#run((c) => rules.updateTransferRule(c, ruleUuid, patch));
  }
  async getTransferRule(ruleUuid: string) {
    return this.#run((c) => rules.getTransferRule(c, ruleUuid));
  }
  /** In creation order; `{ limit, after }` pages (see paging.ts). */
  async listTransferRules(options: PageOptions = {}) {
    return this.#run((c) => rules.listTransferRules(c, options));
  }
  async deleteTransferRule(ruleUuid: string) {
    return this.#run((c) => rules.deleteTransferRule(c, ruleUuid));
  }
  /** The transfer rule that applies to an intent and utterance at a moment (default now), if any. */
  async findTransferRule(input: rules.TransferQuery) {
    const query = parse(rules.transferQuery, input, 'transfer query');
    return this.#run((c) => rules.findTransferRule(c, query));
  }
}

/** The IVR module over a database; `forDomain` gives the per-tenant handle. */
export function createIvr(db: Kysely<DB>, options: IvrOptions = {}) {
  // One ring for every domain handle, so that what one call learned about the current key the next one uses.
  const keys = new KeyRing([options.encryptionKey, options.newEncryptionKey]);
  return {
    forDomain(domainUuid: string): IvrDomain {
      return new IvrDomain(db, parse(id, domainUuid, 'domain id'), keys);
    },
  };
}

/** Adds the disabled default providers to every domain that lacks them (new FusionPBX domains); returns how many. */
export async function insertDefaultProviders(db: Kysely<DB>): Promise<number> {
  try {
    const { rows } = await sql<{ added: number }>`SELECT v_voice_insert_default_providers() AS added`.execute(db);
    return rows[0]!.added;
  } catch (error) {
    throw mapDatabaseError(error);
  }
}

/**
 * Re-encrypts every provider config of every domain to `newKey` in one transaction: either all configs move to
 * the new key or, on any failure, none does and the old key keeps working. The database's current key moves first
 * (migrations/ivr/009), so writers still holding the old key wait and are then refused: no config is written under
 * the old key after this commits. A config already under the new key is left as it is and one under neither key
 * refuses the whole rotation, so running it again finishes a rotation whatever state it is in, and running it with
 * the keys swapped rolls it back. Keys travel only as transaction settings. Returns how many configs moved.
 */
export async function rotateEncryptionKey(db: Kysely<DB>, oldKey: string, newKey: string): Promise<number> {
  try {
    return await db.transaction().execute(async (trx) => {
      await sql`SELECT v_voice_start_key_rotation(v_voice_key_id(${oldKey}), v_voice_key_id(${newKey}))`.execute(trx);
      await sql`SELECT set_config('role', ${IVR_ROLE}, true), set_config('app.old_key', ${oldKey}, true),
                       set_config('app.encryption_key', ${newKey}, true)`.execute(trx);
      const domains = await trx.selectFrom('v_domains').select('domain_uuid').orderBy('domain_uuid').execute();
      let rotated = 0;
      for (const { domain_uuid } of domains) {
        await sql`SELECT set_config('app.domain_uuid', ${domain_uuid}, true)`.execute(trx);
        const result = await sql`
          UPDATE v_voice_ai_providers
             SET config = pgp_sym_encrypt(v_voice_decrypt_either(config, current_setting('app.old_key'), current_setting('app.encryption_key')),
                                          current_setting('app.encryption_key'), 'cipher-algo=aes256')
           WHERE domain_uuid = ${domain_uuid} AND config IS NOT NULL AND key_id IS DISTINCT FROM v_voice_key_id(current_setting('app.encryption_key'))`.execute(trx);
        rotated += Number(result.numAffectedRows ?? 0n);
      }
      return rotated;
    });
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === SQLSTATE.wrongKey) {
      throw new ConfigError('cannot decrypt a provider config with either key: the current key given is not the one in use; nothing was changed');
    }
    if (code === SQLSTATE.keyNotInUse) {
      throw new ConfigError(
        'the current key given is not the one in use (the database records another); nothing was changed. ' +
          'If no rotation was ever run, `mordomo-db ivr repair-key` records the key every config opens with',
      );
    }
    throw mapDatabaseError(error);
  }
}

/**
 * Records `key` as the database's current encryption key after checking that every provider config of every
 * domain opens with it, in one transaction (migrations/ivr/012): the way out of a recorded key id that names no key
 * in use. Nothing changes when any config does not open. Returns how many configs were checked.
 */
export async function repairEncryptionKey(db: Kysely<DB>, key: string): Promise<number> {
  try {
    return await db.transaction().execute(async (trx) => {
      await sql`SELECT set_config('app.encryption_key', ${key}, true)`.execute(trx);
      const { rows } = await sql<{ checked: number }>`SELECT v_voice_repair_encryption_key() AS checked`.execute(trx);
      return rows[0]!.checked;
    });
  } catch (error) {
    if ((error as { code?: string }).code === SQLSTATE.keyNotInUse) {
      throw new ConfigError(`${(error as Error).message}; nothing was changed (give the key the configs were written with)`);
    }
    throw mapDatabaseError(error);
  }
}
