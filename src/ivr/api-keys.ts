import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import { NotFoundError } from '../errors.ts';
import type { DB } from '../db/schema.ts';
import { id, parse, requiredText } from '../validation.ts';
import { afterPosition, pageOptions, type PageOptions } from '../db/paging.ts';
// Says what this module's constraints mean, for the errors its statements raise.
import './constraints.ts';

/**
 * Per-domain API keys of the HTTP service. A key reads `mdbk_<key id>_<secret>`: the id finds the row, the secret
 * (32 random bytes) is compared by its SHA-256 in constant time. The plaintext is shown once, at creation.
 */
export type ApiKey = Pick<Selectable<DB['mordomo_api_keys']>, (typeof COLUMNS)[number]>;

// Everything but the secret's hash, which never leaves this module.
const COLUMNS = ['key_uuid', 'domain_uuid', 'name', 'created_at', 'last_used_at', 'revoked_at'] as const;

const PREFIX = 'mdbk';
const KEY_SHAPE = /^mdbk_([0-9a-f]{32})_([A-Za-z0-9_-]{43})$/;
const sha256 = (value: string) => createHash('sha256').update(value).digest();
const asUuid = (hex: string) => `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;

/** Creates a key for a domain; returns it with its plaintext, which is not stored and cannot be shown again. */
export async function createApiKey(db: Kysely<DB>, domainUuid: string, name: string): Promise<ApiKey & { key: string }> {
  const domain = parse(id, domainUuid, 'domain id');
  const label = parse(requiredText(100), name, 'key name');
  const secret = randomBytes(32).toString('base64url');
  const row = await db
    .insertInto('mordomo_api_keys')
    .values({ domain_uuid: domain, name: label, secret_sha256: sha256(secret) })
    .returning(COLUMNS)
    .executeTakeFirstOrThrow();
  return { ...row, key: `${PREFIX}_${row.key_uuid.replaceAll('-', '')}_${secret}` };
}

/** The keys of a domain (all domains when omitted), without secrets, in creation order; `{ limit, after }` pages. */
export async function listApiKeys(db: Kysely<DB>, domainUuid?: string, options: PageOptions = {}): Promise<ApiKey[]> {
  const domain = domainUuid === undefined ? undefined : parse(id, domainUuid, 'domain id');
  const { limit, after } = parse(pageOptions(1000), options, 'list options');
  let query = db
    .selectFrom('mordomo_api_keys')
    .select(COLUMNS)
    .where(afterPosition('mordomo_api_keys', 'key_uuid', after));
  if (domain) query = query.where('domain_uuid', '=', domain);
  return query.orderBy('created_at').orderBy('key_uuid').limit(limit).execute();
}

/** Revokes a key at once; revoking twice is harmless. */
export async function revokeApiKey(db: Kysely<DB>, keyUuid: string): Promise<ApiKey> {
  const key = parse(id, keyUuid, 'key id');
  const row = await db
    .updateTable('mordomo_api_keys')
    .set((eb) => ({ revoked_at: eb.fn.coalesce('revoked_at', eb.fn<Date>('now')) }))
    .where('key_uuid', '=', key)
    .returning(COLUMNS)
    .executeTakeFirst();
  if (!row) throw new NotFoundError(`API key ${key} not found`);
  return row;
}

// Compared against when the key id is unknown, so that a miss costs the same work as a wrong secret.
const DECOY = sha256('decoy');

/** The domain a presented key belongs to, or undefined for a malformed, unknown, wrong or revoked key. */
export async function domainOfApiKey(db: Kysely<DB>, presented: string): Promise<string | undefined> {
  const [, hex, secret] = KEY_SHAPE.exec(presented) ?? [];
  if (hex === undefined || secret === undefined) return undefined;
  const key = asUuid(hex);
  const row = await db
    .selectFrom('mordomo_api_keys')
    .select(['domain_uuid', 'secret_sha256', 'last_used_at'])
    .where('key_uuid', '=', key)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  const expected = row?.secret_sha256 ?? DECOY;
  if (!timingSafeEqual(sha256(secret), expected) || !row) return undefined;
  // Recording use at most once a minute keeps a busy key from rewriting its row on every request.
  if (!row.last_used_at || Date.now() - row.last_used_at.getTime() > 60_000) {
    await db.updateTable('mordomo_api_keys').set({ last_used_at: new Date() }).where('key_uuid', '=', key).execute();
  }
  return row.domain_uuid;
}
