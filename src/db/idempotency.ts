import { type Kysely, sql } from 'kysely';
import { ConflictError } from '../errors.ts';
import { fingerprintMatches, fingerprintOf } from './fingerprints.ts';
import type { DB } from './schema.ts';
import { inTransaction } from './transaction.ts';
import { idempotencyKey, parse } from '../validation.ts';

/** How long a key is remembered: a retry within this time returns the first result; after it, the key is new again. */
export const IDEMPOTENCY_KEY_TTL_HOURS = 24;

/** Options of a create that may be retried. */
export interface IdempotencyOptions {
  /**
   * A key the caller makes up for one logical request (a UUID, say). Retrying the call with the same key and the
   * same input returns the first call's result without writing again, for 24 hours; the same key with other input
   * is a `ConflictError`. The HTTP API takes it as the `Idempotency-Key` header.
   */
  idempotencyKey?: string;
}

/**
 * Where a module keeps its keys: a table of (key, fingerprint, result, created_at), and for a tenant's table the
 * column that scopes keys with its value (a key is unique within the scope). Names come from code, never input.
 */
export interface KeyStore {
  table: string;
  scope?: { column: string; value: string };
}

// Results are kept as JSON; Dates are tagged so that a replay returns the same types as the first call.
const DATE_TAG = '$mordomo-date';

function serialise(result: unknown): string {
  return JSON.stringify(result ?? null, function (this: Record<string, unknown>, key, value) {
    const raw = this[key];
    return raw instanceof Date ? { [DATE_TAG]: raw.toISOString() } : value;
  });
}

function revive(text: string): unknown {
  return JSON.parse(text, (_key, value) => {
    const tagged = value !== null && typeof value === 'object' && typeof value[DATE_TAG] === 'string' && Object.keys(value).length === 1;
    return tagged ? new Date(value[DATE_TAG]) : value;
  });
}

function keyCondition(store: KeyStore, key: string) {
  return store.scope ? sql`${sql.ref(store.scope.column)} = ${store.scope.value} AND key = ${key}` : sql`key = ${key}`;
}

/**
 * Runs `work` at most once per key: the key is claimed in the same transaction as the work's writes and its result
 * recorded there too, so both commit or neither does. A concurrent call with the same key waits for the first to
 * commit, then returns its result. `request` (the operation and its input) is fingerprinted, keyed by the service's
 * idempotency secret (fingerprints.ts), to tell a retry from a different request under a reused key. Without a key,
 * `work` just runs.
 */
export async function once<T>(
  db: Kysely<DB>,
  store: KeyStore,
  options: IdempotencyOptions,
  request: unknown,
  work: (db: Kysely<DB>) => Promise<T>,
): Promise<T> {
  if (options.idempotencyKey === undefined) return work(db);
  const key = parse(idempotencyKey, options.idempotencyKey, 'idempotency key');
  const fingerprint = fingerprintOf(db, request);
  const table = sql.table(store.table);
  const [columns, values, conflict] = store.scope
    ? [sql`${sql.ref(store.scope.column)}, key, fingerprint`, sql`${store.scope.value}, ${key}, ${fingerprint}`, sql`${sql.ref(store.scope.column)}, key`]
    : [sql`key, fingerprint`, sql`${key}, ${fingerprint}`, sql`key`];
  return inTransaction(db, async (trx) => {
    // Claimed when new, or when the key's last use has expired.
    const claimed = await sql`INSERT INTO ${table} (${columns}) VALUES (${values})
          ON CONFLICT (${conflict}) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, result = NULL, created_at = now()
           WHERE ${table}.created_at < now() - make_interval(hours => ${IDEMPOTENCY_KEY_TTL_HOURS})
          RETURNING true AS claimed`.execute(trx);
    if (claimed.rows.length === 0) {
      const { rows } = await sql<{
        fingerprint: Buffer;
        result: string;
      }>`SELECT fingerprint, result::text AS result FROM ${table} WHERE ${keyCondition(store, key)}`.execute(trx);
      if (!fingerprintMatches(rows[0]!.fingerprint, fingerprint, request)) {
        throw new ConflictError(`idempotency key ${key} was already used for a different request; send a new key with a new request`);
      }
      return revive(rows[0]!.result) as T;
    }
    const result = await work(trx);
    await sql`UPDATE ${table} SET result = ${serialise(result)}::jsonb WHERE ${keyCondition(store, key)}`.execute(trx);
    return result;
  });
}

/** Forgets the store's keys older than IDEMPOTENCY_KEY_TTL_HOURS; returns how many. */
export async function pruneExpiredKeys(db: Kysely<DB>, store: KeyStore): Promise<number> {
  const scope = store.scope ? sql`${sql.ref(store.scope.column)} = ${store.scope.value} AND ` : sql``;
  const result =
    await sql`DELETE FROM ${sql.table(store.table)} WHERE ${scope}created_at < now() - make_interval(hours => ${IDEMPOTENCY_KEY_TTL_HOURS})`.execute(db);
  return Number(result.numAffectedRows ?? 0n);
}
