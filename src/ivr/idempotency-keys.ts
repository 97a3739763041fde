import type { Kysely } from 'kysely';
import { type KeyStore, pruneExpiredKeys } from '../db/idempotency.ts';
import type { DB } from '../db/schema.ts';
import { inDomain } from './domain-context.ts';

/** Where a domain's creates keep their idempotency keys: per domain, under row-level security (migrations/ivr/010). */
export function domainKeys(domain: string): KeyStore {
  return { table: 'v_voice_idempotency_keys', scope: { column: 'domain_uuid', value: domain } };
}

/** Forgets expired keys of every domain, each in the domain's own transaction (its table is under forced row-level security). */
export async function pruneDomainKeys(db: Kysely<DB>): Promise<number> {
  const domains = await db.selectFrom('v_domains').select('domain_uuid').execute();
  let pruned = 0;
  for (const { domain_uuid } of domains) pruned += await inDomain(db, domain_uuid, ({ trx }) => pruneExpiredKeys(trx, domainKeys(domain_uuid)));
  return pruned;
}
