import { randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { DB } from '../../src/db/schema.ts';

export const KEY = 'test-encryption-key-0123456789';

/** A FusionPBX domain, inserted the way FusionPBX does (as the owner, outside the IVR role). */
export async function createDomain(db: Kysely<DB>, name = `d-${randomUUID().slice(0, 8)}.example.com`, domain: string = randomUUID()): Promise<string> {
  await sql`INSERT INTO v_domains (domain_uuid, domain_name) VALUES (${domain}, ${name})`.execute(db);
  return domain;
}
