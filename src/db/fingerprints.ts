import { createHash, createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import type { Kysely, KyselyPlugin, PluginTransformQueryArgs, PluginTransformResultArgs, QueryResult, RootOperationNode, UnknownRow } from 'kysely';
import { ConfigError } from '../errors.ts';
import type { DB } from './schema.ts';

// What an idempotency key's fingerprint is stored as. Version 1: this byte, then HMAC-SHA-256 of the request under
// a key derived from the service's idempotency secret, so that a stored fingerprint (in the table, in a backup)
// says nothing about a body that may hold a provider's plaintext config. Before it, the 32 bytes of the body's plain
// SHA-256 were stored; those are compared the old way until they expire (IDEMPOTENCY_KEY_TTL_HOURS), so that a
// retry across the upgrade is answered, not refused. The plain branch can go one release after.
const KEYED_V1 = 0x01;
const PLAIN_SHA256_BYTES = 32;
// Its own label: the secret given could be used for something else too, and this key must serve one job only.
const LABEL = 'mordomo-db idempotency fingerprint v1';

/**
 * Carries the fingerprint key on a Kysely instance: plugins travel into the instance's transactions and its
 * `withPlugin` copies, so `once()` finds the key on whatever `db` it is handed. It changes no query.
 */
class FingerprintKey implements KyselyPlugin {
  #key: Buffer | undefined;
  constructor(private readonly secret: () => string) {}
  get key(): Buffer {
    this.#key ??= Buffer.from(hkdfSync('sha256', this.secret(), Buffer.alloc(0), LABEL, 32));
    return this.#key;
  }
  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    return args.node;
  }
  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return args.result;
  }
}

/**
 * The plugin that gives a Kysely the fingerprint key derived from `secret`; given as a function, the secret is read
 * when a call with an idempotency key first needs it (so a command that never takes one leaves no secret file behind).
 */
export function fingerprintKeyPlugin(secret: string | (() => string)): KyselyPlugin {
  return new FingerprintKey(typeof secret === 'string' ? () => secret : secret);
}

function keyOf(db: Kysely<DB>): Buffer {
  // Kysely marks getExecutor() internal, but its executor's plugin list is the one place a transaction shares with
  // the instance it came from.
  const plugin = db.getExecutor().plugins.find((candidate): candidate is FingerprintKey => candidate instanceof FingerprintKey);
  if (!plugin) {
    throw new ConfigError(
      'idempotency keys need the idempotency secret: open the database with openDatabase, or make the Kysely with createKysely(pool, { idempotencySecret })',
    );
  }
  return plugin.key;
}

/** The fingerprint to store for `request` (the operation and its input) under `db`'s key. */
export function fingerprintOf(db: Kysely<DB>, request: unknown): Buffer {
  const mac = createHmac('sha256', keyOf(db)).update(JSON.stringify(request)).digest();
  return Buffer.concat([Buffer.of(KEYED_V1), mac]);
}

/** Whether `stored` is the fingerprint of `request`: keyed ones against `expected`, plain ones of before the old way. */
export function fingerprintMatches(stored: Buffer, expected: Buffer, request: unknown): boolean {
  const wanted = stored.length === PLAIN_SHA256_BYTES ? createHash('sha256').update(JSON.stringify(request)).digest() : expected;
  return stored.length === wanted.length && timingSafeEqual(stored, wanted);
}
