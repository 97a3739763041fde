import { type Kysely, sql, type Transaction } from 'kysely';
import { ConfigError, databaseMessage, mapDatabaseError, SQLSTATE, sqlstateOf, UnavailableError } from '../errors.ts';
import type { DB } from '../db/schema.ts';
// Says what this module's constraints mean, for the errors its statements raise.
import './constraints.ts';

/** The role every IVR transaction runs as: owns nothing, so the tables' forced row-level security applies. */
export const IVR_ROLE = 'mordomo_ivr';

export interface DomainContext {
  trx: Transaction<DB>;
  domain: string;
}

/** The key given is not the database's current one: a rotation moved the configs to another key. */
export class KeyNotCurrentError extends UnavailableError {}

/** Settings an IVR transaction may carry besides its domain; each is '' when not given. */
export interface DomainSecrets {
  /** `app.encryption_key`: the key provider configs are under (the database derives its id, migrations/ivr/012). */
  encryptionKey?: string;
  /** `app.provider_config`: a plaintext config that the statement encrypts, so it is never a parameter of a write. */
  providerConfig?: string;
}

/**
 * Makes `trx` the domain's: the IVR role, `app.domain_uuid` (which the row-level security policies read) and the
 * secrets. The one place the IVR sets its tenant. All are transaction-local settings passed as bind parameters of
 * a SELECT: the key never appears in SQL text, our server never logs parameters (`log_parameter_max_length = 0`),
 * and a server on the seed's `log_statement = 'mod'` does not log SELECTs.
 */
export async function enterDomain(trx: Transaction<DB>, domain: string, secrets: DomainSecrets = {}): Promise<void> {
  await sql`SELECT set_config('role', ${IVR_ROLE}, true),
                   set_config('app.domain_uuid', ${domain}, true),
                   set_config('app.encryption_key', ${secrets.encryptionKey ?? ''}, true),
                   set_config('app.provider_config', ${secrets.providerConfig ?? ''}, true)`.execute(trx);
}

/**
 * Runs `work` in one transaction of the domain (see enterDomain). A transaction that writes a config claims the
 * key before any provider row is touched: the order a rotation takes its locks in (migrations/ivr/009).
 */
export async function inDomain<T>(db: Kysely<DB>, domain: string, work: (context: DomainContext) => Promise<T>, secrets: DomainSecrets = {}): Promise<T> {
  try {
    return await db.transaction().execute(async (trx) => {
      await enterDomain(trx, domain, secrets);
      if (secrets.providerConfig !== undefined) await sql`SELECT v_voice_claim_encryption_key()`.execute(trx);
      return work({ trx, domain });
    });
  } catch (error) {
    const code = sqlstateOf(error);
    if ((code === SQLSTATE.wrongKey && /wrong key|corrupt data/i.test(databaseMessage(error))) || code === SQLSTATE.keyNotCurrent) {
      throw new KeyNotCurrentError(
        'the encryption key is not the one the provider configs are under (rotated with mordomo-db ivr rotate-key?): ' +
          'set MORDOMO_ENCRYPTION_KEY to the current key, or give the service both keys during a rotation (MORDOMO_NEW_ENCRYPTION_KEY); ' +
          'if no rotation was ever run, `mordomo-db ivr repair-key` records the key every config opens with',
        { cause: error },
      );
    }
    throw mapDatabaseError(error);
  }
}

/**
 * Keys a service holds during a rotation (the current one and the next), tried in turn: a transaction refused for
 * its key (not current, or cannot decrypt) runs again under the other, and the one that worked is tried first from
 * then on. Work is retried only when the database refused it for the key, so nothing was written.
 */
export class KeyRing {
  private readonly keys: string[];

  constructor(keys: (string | undefined)[]) {
    this.keys = [...new Set(keys.filter((key): key is string => Boolean(key)))];
  }

  async run<T>(work: (key: string) => Promise<T>): Promise<T> {
    const order = [requireKey(this.keys[0]), ...this.keys.slice(1)];
    // Each key twice, in turn, when there are two: a rotation that commits between the first two attempts refuses
    // the key tried first (not current yet) and then the other (no longer current), and the next attempt runs
    // after it. A refusal for the key means nothing was written, so running again is safe.
    const attempts = order.length > 1 ? order.length * 2 : 1;
    for (let attempt = 0; ; attempt++) {
      const key = order[attempt % order.length]!;
      try {
        const result = await work(key);
        // Promote the key that worked, unless another call already did.
        if (key !== order[0] && this.keys[0] === order[0]) this.keys.reverse();
        return result;
      } catch (error) {
        if (!(error instanceof KeyNotCurrentError) || attempt + 1 >= attempts) throw error;
      }
    }
  }
}

/** Refuses work that needs the key when none is configured, before anything runs. */
export function requireKey(key: string | undefined): string {
  if (!key) {
    throw new ConfigError('no encryption key: set MORDOMO_ENCRYPTION_KEY or MORDOMO_ENCRYPTION_KEY_FILE to read or write provider configs');
  }
  return key;
}
