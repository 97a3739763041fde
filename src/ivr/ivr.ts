import { type Kysely, sql } from 'kysely';
import { ConfigError, databaseMessage, mapDatabaseError, SQLSTATE, sqlstateOf } from '../errors.ts';
import { type IdempotencyOptions, once } from '../db/idempotency.ts';
import type { DB } from '../db/schema.ts';
import { id, parse } from '../validation.ts';
import { callOperations } from './calls.ts';
import { documentOperations } from './documents.ts';
import { type DomainContext, enterDomain, inDomain, KeyRing } from './domain-context.ts';
import { domainKeys } from './idempotency-keys.ts';
import type { Operation, Scoped } from './operation.ts';
import { providerOperations } from './providers.ts';
import { secretaryOperations } from './secretaries.ts';
import { transferRuleOperations } from './transfer-rules.ts';

/** The keys the IVR module reads and writes provider configs with. */
export interface IvrOptions {
  /** Key of the providers' encrypted configs (MORDOMO_ENCRYPTION_KEY); needed only to read or write configs. */
  encryptionKey?: string;
  /**
   * The key a rotation moves to (MORDOMO_NEW_ENCRYPTION_KEY). With both, configs keep working before, during and
   * after `rotateEncryptionKey`, whichever key is current.
   */
  newEncryptionKey?: string;
}

// Every operation of the handle; a module adds one to its table and it is a method here.
const OPERATIONS: Record<string, Operation> = {
  ...providerOperations,
  ...secretaryOperations,
  ...callOperations,
  ...documentOperations,
  ...transferRuleOperations,
};

// The methods' types, from the same tables (declaration merging with the class below). Listed table by table, not as
// `typeof OPERATIONS`: the declarations emitted for a spread object drop the doc comment of each operation.
export interface IvrDomain
  extends Scoped<typeof providerOperations>,
    Scoped<typeof secretaryOperations>,
    Scoped<typeof callOperations>,
    Scoped<typeof documentOperations>,
    Scoped<typeof transferRuleOperations> {}

/**
 * Everything one tenant (FusionPBX domain) may do. This handle is the only way in: each call runs in its own
 * transaction as the IVR role with the domain set (row-level security), and every query also filters by the
 * domain itself, so isolation holds twice. Ids of another domain behave exactly like ids that do not exist.
 * Its methods are the modules' operations (providers.ts, secretaries.ts, calls.ts, documents.ts, transfer-rules.ts).
 */
export class IvrDomain {
  readonly #db: Kysely<DB>;
  readonly #keys: KeyRing;

  constructor(
    db: Kysely<DB>,
    readonly domainUuid: string,
    keys: KeyRing,
  ) {
    this.#db = db;
    this.#keys = keys;
  }

  static {
    for (const [name, operation] of Object.entries(OPERATIONS)) {
      // A named method on the prototype, as a class's own would be (non-enumerable, and named in stack traces).
      const { [name]: method } = {
        [name](this: IvrDomain, ...args: unknown[]) {
          return this.#call(name, operation, args);
        },
      };
      Object.defineProperty(IvrDomain.prototype, name, { value: method, writable: true, configurable: true });
    }
  }

  /** Runs one operation: its input checked before any SQL, at most once per idempotency key, with the key it needs. */
  async #call(name: string, { needs, arity, run }: Operation, args: unknown[]): Promise<unknown> {
    // Without an input or options, the arguments go through as given (the function's own defaults apply).
    const given = needs.input || needs.idempotent ? args.slice(0, arity) : args;
    if (needs.input) given[arity - 1] = parse(needs.input, given[arity - 1], needs.what);
    const work = (context: DomainContext) => run(context, ...given);
    // The options as a default parameter would take them; their key is checked by once().
    const options = args[arity] === undefined ? {} : (args[arity] as IdempotencyOptions);
    const scoped = needs.idempotent
      ? (context: DomainContext) => once(context.trx, domainKeys(context.domain), options, [name, ...given], () => work(context))
      : work;
    if (needs.key === 'read') return this.#keys.run((encryptionKey) => inDomain(this.#db, this.domainUuid, scoped, { encryptionKey }));
    const config = needs.key === 'write' ? configOf(given[arity - 1]) : undefined;
    if (config === undefined) return inDomain(this.#db, this.domainUuid, scoped);
    const providerConfig = JSON.stringify(config);
    return this.#keys.run((encryptionKey) => inDomain(this.#db, this.domainUuid, scoped, { encryptionKey, providerConfig }));
  }
}

/** The plaintext config a parsed input carries, if any. */
function configOf(input: unknown): unknown {
  return typeof input === 'object' && input !== null && 'config' in input ? input.config : undefined;
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
  const { rows } = await sql<{ added: number }>`SELECT v_voice_insert_default_providers() AS added`.execute(db);
  return rows[0]!.added;
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
      await sql`SELECT set_config('app.old_key', ${oldKey}, true)`.execute(trx);
      const domains = await trx.selectFrom('v_domains').select('domain_uuid').orderBy('domain_uuid').execute();
      let rotated = 0;
      for (const { domain_uuid } of domains) {
        await enterDomain(trx, domain_uuid, { encryptionKey: newKey });
        const result = await sql`
          UPDATE v_voice_ai_providers
             SET config = pgp_sym_encrypt(v_voice_decrypt_either(config, current_setting('app.old_key'), current_setting('app.encryption_key')),
                                          current_setting('app.encryption_key'), 'cipher-algo=aes256')
           WHERE domain_uuid = ${domain_uuid} AND config IS NOT NULL AND key_id IS DISTINCT FROM v_voice_key_id(current_setting('app.encryption_key'))`.execute(
          trx,
        );
        rotated += Number(result.numAffectedRows ?? 0n);
      }
      return rotated;
    });
  } catch (error) {
    const code = sqlstateOf(error);
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
    if (sqlstateOf(error) === SQLSTATE.keyNotInUse) {
      throw new ConfigError(`${databaseMessage(error)}; nothing was changed (give the key the configs were written with)`);
    }
    throw mapDatabaseError(error);
  }
}
