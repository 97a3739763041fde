import { type Kysely, sql, type Transaction } from 'kysely';
import { ConfigError, mapDatabaseError } from '../db/errors.ts';
import type { DB } from '../db/schema.ts';

/** The role every IVR transaction runs as: owns nothing, so the tables' forced row-level security applies. */
export const IVR_ROLE = 'mordomo_ivr';

export interface DomainContext {
  trx: Transaction<DB>;
  domain: string;
}

/**
 * Runs `work` in one transaction as the IVR role with `app.domain_uuid` set to `domain` (and, when given,
 * `app.encryption_key` to the key). All three are transaction-local settings passed as bind parameters in a SELECT:
 * the key never appears in SQL text, and `log_statement = 'mod'` does not log SELECTs, so neither the key nor a
 * provider's plaintext config reaches the server log.
 */
export async function inDomain<T>(
  db: Kysely<DB>,
  domain: string,
  work: (context: DomainContext) => Promise<T>,
  secrets: { encryptionKey?: string; providerConfig?: string } = {},
): Promise<T> {
  try {
    return await db.transaction().execute(async (trx) => {
      await sql`SELECT set_config('role', ${IVR_ROLE}, true),
                       set_config('app.domain_uuid', ${domain}, true),
                       set_config('app.encryption_key', ${secrets.encryptionKey ?? ''}, true),
                       set_config('app.provider_config', ${secrets.providerConfig ?? ''}, true)`.execute(trx);
      return work({ trx, domain });
    });
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === '39000' && /wrong key|corrupt data/i.test((error as Error).message)) {
      throw new ConfigError('cannot decrypt provider config: wrong encryption key (check MORDOMO_ENCRYPTION_KEY)');
    }
    throw mapDatabaseError(error);
  }
}

/** Refuses work that needs the key when none is configured, before anything runs. */
export function requireKey(key: string | undefined): string {
  if (!key) {
    throw new ConfigError('no encryption key: set MORDOMO_ENCRYPTION_KEY or MORDOMO_ENCRYPTION_KEY_FILE to read or write provider configs');
  }
  return key;
}
