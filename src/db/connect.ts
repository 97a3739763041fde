import type { Kysely } from 'kysely';
import { createKysely } from './typed-errors.ts';
import { idempotencySecret } from './idempotency-secret.ts';
import pg from 'pg';
import type { Config, PoolSettings } from '../config.ts';
import type { Logger } from '../logger.ts';
import { EmbeddedServer, SUPERUSER } from './embedded-server.ts';
import { ConfigError, mapDatabaseError, MordomoError, SQLSTATE, UnavailableError } from '../errors.ts';
import { createPool } from './pool.ts';
import { ensureRuntimeLogin, RUNTIME_ROLE } from './runtime-role.ts';
import { ReadRouter } from './read-routing.ts';
import { redactUrl } from './urls.ts';
import { pgConnectionOptions } from './tls.ts';
import { tlsForcedOnLoopback } from './pg-hba.ts';
import type { DB } from './schema.ts';

export const DATABASE_NAME = 'mordomo';

/** A connection to the database as one role: the typed query builder, the pool under it, and how to reach it. */
export interface Connection {
  db: Kysely<DB>;
  pool: pg.Pool;
  /** Connection string including the password, for Prisma/psql users and child tools. Never log it. */
  url: string;
}

/**
 * An open mordomo-db database. `db`, `pool` and `url` are the runtime role's (least privilege: no superuser, owns
 * nothing, cannot bypass row-level security): what the assistant's work and the HTTP API go through. `owner` is
 * the schema owner's, for migrations, backups and the scheduled jobs; with DATABASE_URL alone (no
 * MORDOMO_RUNTIME_DATABASE_URL) both are the same connection.
 */
export interface Database extends Connection {
  owner: Connection;
  /** The owner's URL without the password (its password is in the data directory), safe to print. */
  displayUrl: string;
  /** Present when the package runs the embedded server. */
  server: EmbeddedServer | undefined;
  /** Where read-only work goes: a healthy replica of DATABASE_REPLICA_URL, else the primary (see read-routing.ts). */
  reads: ReadRouter;
  /** Ends the pool, then stops the embedded server if this process owns it. */
  close(): Promise<void>;
}

export { redactUrl } from './urls.ts';

function describeConnectFailure(error: unknown, displayUrl: string, embedded: boolean): MordomoError {
  const code = (error as { code?: string }).code ?? '';
  const target = embedded ? 'the embedded PostgreSQL' : `PostgreSQL at ${displayUrl} (DATABASE_URL)`;
  if (code === 'ECONNREFUSED' || code === 'EHOSTUNREACH' || code === 'ENOTFOUND' || code === 'ETIMEDOUT') {
    return new UnavailableError(`cannot reach ${target} (${code}): check that the server runs and the host and port are right`);
  }
  if (code === SQLSTATE.invalidPassword) {
    const fix = embedded
      ? 'POSTGRES_PASSWORD differs from the password the data directory was created with; unset it to use the stored one, or set the right one'
      : 'fix the password in DATABASE_URL';
    return new UnavailableError(`${target} refused the password for its user: ${fix}`);
  }
  if (code === '3D000') return new UnavailableError(`${target}: the database in the URL does not exist; create it first`);
  const tls = describeTlsFailure(error, target);
  if (tls) return tls;
  const mapped = mapDatabaseError(error);
  return mapped.code === 'internal' ? new UnavailableError(`cannot connect to ${target}: ${(error as Error).message}`) : mapped;
}

// Node's codes for a server certificate that does not verify against sslrootcert (or the system CAs).
const UNTRUSTED_CHAIN = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
]);

/** TLS refusals, both ways, as configuration errors (exit 78): each is fixed in the URL or the server's setup. */
function describeTlsFailure(error: unknown, target: string): MordomoError | undefined {
  const { code = '', message = '' } = error as { code?: string; message?: string };
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return new ConfigError(
      `${target}: the server's certificate does not name this host (sslmode=verify-full): connect by a name the certificate lists, or have the server's certificate reissued for this name`,
    );
  }
  if (UNTRUSTED_CHAIN.has(code)) {
    return new ConfigError(`${target}: the server's certificate is not trusted (${code}): give the CA that signed it with sslrootcert=<file>`);
  }
  if (/does not support SSL/i.test(message)) {
    return new ConfigError(`${target} does not accept TLS connections, which the URL's sslmode requires: turn ssl on at the server, or change sslmode`);
  }
  if (code === SQLSTATE.invalidAuthorization && /no encryption/.test(message)) {
    return new ConfigError(`${target} accepts only encrypted connections: add sslmode=verify-full&sslrootcert=<the server's CA file> to the URL`);
  }
  return undefined;
}

/** Connects once to `url` and runs SELECT 1; a refusal as the service would report it (TLS ones exit 78). */
export function probeDatabase(url: string, timeoutMs: number): Promise<void> {
  return probe(url, redactUrl(url), false, timeoutMs);
}

async function probe(url: string, displayUrl: string, embedded: boolean, timeoutMs: number): Promise<void> {
  const client = new pg.Client({ ...pgConnectionOptions(url), connectionTimeoutMillis: timeoutMs });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
  } catch (error) {
    throw describeConnectFailure(error, displayUrl, embedded);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Creates the `mordomo` database on a fresh embedded cluster (initdb makes only `postgres`). */
async function ensureDatabase(adminUrl: string): Promise<void> {
  const client = new pg.Client(pgConnectionOptions(adminUrl));
  client.on('error', () => undefined);
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE_NAME]);
    if (!rowCount)
      await client.query(`CREATE DATABASE ${DATABASE_NAME}`).catch((error: { code?: string }) => {
        if (error.code !== SQLSTATE.duplicateDatabase) throw error; // another process created it meanwhile
      });
  } finally {
    await client.end();
  }
}

export function embeddedUrl(port: number, password: string, database = DATABASE_NAME, user = SUPERUSER): string {
  return `postgresql://${user}:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`;
}

/**
 * Opens the database the configuration names: `DATABASE_URL` when set, else the embedded server under
 * `MORDOMO_DATA_DIR`, started (or adopted, or joined) for as long as this handle is open.
 */
export async function openDatabase(config: Config, logger: Logger): Promise<Database> {
  let server: EmbeddedServer | undefined;
  let url: string;
  let runtimeUrl: string | undefined;
  if (config.databaseUrl) {
    url = config.databaseUrl;
    await probe(url, redactUrl(url), false, config.pool.connectionTimeoutMs);
    runtimeUrl = config.runtimeDatabaseUrl;
    if (runtimeUrl) await probe(runtimeUrl, redactUrl(runtimeUrl), false, config.pool.connectionTimeoutMs);
  } else {
    server = new EmbeddedServer({
      dataDir: config.dataDir,
      port: config.pgPort,
      password: config.postgresPassword,
      osUser: config.pgOsUser,
      logger,
      walArchiveDir: config.walArchiveDir,
      sharedBuffers: config.pgSharedBuffers,
      network: config.pgNetwork,
    });
    const handle = await server.ensureRunning();
    // A loopback network in MORDOMO_PG_CLIENT_NETWORKS takes the plain loopback lines out of pg_hba.conf: this
    // process then reaches its own server over TLS as well (encrypted; loopback needs no name check).
    const tlsOnLoopback = tlsForcedOnLoopback(config.pgNetwork.clientNetworks);
    const local = (...args: Parameters<typeof embeddedUrl>) => `${embeddedUrl(...args)}${tlsOnLoopback ? '?sslmode=require' : ''}`;
    try {
      await probe(local(handle.port, handle.password, 'postgres'), '', true, config.pool.connectionTimeoutMs);
      await ensureDatabase(local(handle.port, handle.password, 'postgres'));
      const runtimePassword = server.runtimePassword();
      await ensureRuntimeLogin(local(handle.port, handle.password), runtimePassword);
      runtimeUrl = local(handle.port, runtimePassword, DATABASE_NAME, RUNTIME_ROLE);
    } catch (error) {
      await server.stop().catch(() => undefined);
      throw error instanceof MordomoError ? error : new ConfigError((error as Error).message);
    }
    url = local(handle.port, handle.password);
  }
  // The owner's sessions are named apart, so that pg_stat_activity (and `monitor`) tell its work from requests'.
  const secret = () => idempotencySecret(config);
  const owner = connection(
    url,
    runtimeUrl ? { ...config.pool, applicationName: `${config.pool.applicationName.slice(0, 50)} owner` } : config.pool,
    logger,
    secret,
  );
  const runtime = runtimeUrl ? connection(runtimeUrl, config.pool, logger, secret) : owner;
  const owningServer = server;
  const reads = new ReadRouter(runtime, config.replicaUrls, config.pool, logger, { bytes: config.replicaMaxLagBytes, seconds: config.replicaMaxLagSeconds });
  await reads.start();
  return {
    ...runtime,
    owner,
    displayUrl: redactUrl(owner.url),
    server,
    reads,
    async close() {
      await reads.stop();
      for (const { db, pool } of new Set([runtime, owner])) {
        // Kysely ends the pool only if it ever ran a query itself; the migrator and raw callers use the pool directly.
        await db.destroy();
        if (!pool.ended) await pool.end();
      }
      await owningServer?.stop();
    },
  };
}

function connection(url: string, settings: PoolSettings, logger: Logger, secret: () => string): Connection {
  const pool = createPool(url, settings, logger);
  return { db: createKysely(pool, { idempotencySecret: secret }), pool, url };
}
