import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { query } from '../db/client.ts';
import { embeddedUrl, probeDatabase } from '../db/connect.ts';
import { tlsForcedOnLoopback } from '../db/pg-hba.ts';
import { type LagLimits, lsnToBigInt, type ReplicaHealth, replicaState } from '../db/read-routing.ts';
import { redactUrl } from '../db/urls.ts';
import { pgConnectionOptions } from '../db/tls.ts';
import { binaries, EmbeddedServer, runServerTool } from '../db/embedded-server.ts';
import { ConfigError, ConflictError, SQLSTATE, UnavailableError } from '../errors.ts';
import { resolveServerUser } from '../db/os-user.ts';
import type { Logger } from '../logger.ts';
import { chownTree } from '../files.ts';
import { takeBaseBackup } from './base-backups.ts';

/**
 * A streaming hot standby of the embedded server, built from the same base backup as point-in-time recovery
 * (the embedded server ships no pg_basebackup): a replication role and a physical slot on the primary, both the
 * standby's own (the slot keeps WAL while the standby is down; `doctor` warns before a dead slot fills the disk),
 * `standby.signal` and `primary_conninfo` in the copy, then the standby started as an embedded server of its own
 * data folder.
 */

export interface ReplicaOptions {
  primaryPgData: string;
  primaryPort: number;
  /**
   * The primary's superuser password, whether it came from POSTGRES_PASSWORD or the password file: the copy keeps
   * the same roles, and gets it in its own `postgres-password` (0600).
   */
  primaryPassword: string;
  /** A new data folder for the standby (`pg/`, password files), usable as MORDOMO_DATA_DIR. */
  dataDir: string;
  port: number;
  osUser: string;
  logger: Logger;
  /**
   * TLS for the standby's streaming connection, from the primary's URL (primaryTls): its primary_conninfo gets
   * this sslmode and the root certificate, copied into the standby's data folder. Unset: plain, over loopback.
   */
  tls?: PrimaryTls;
}

export interface PrimaryTls {
  /** The URL's sslmode (or PGSSLMODE): require, verify-ca or verify-full, as libpq means them. */
  mode: 'require' | 'verify-ca' | 'verify-full';
  /** sslrootcert (or PGSSLROOTCERT): the CA that signed the primary's certificate. */
  rootCertFile: string | undefined;
  /** The URL, to check before anything is made that the primary answers with these settings. */
  url: string;
}

/**
 * The TLS a standby's walreceiver uses towards its primary, read from the primary's URL as libpq reads it
 * (parameters, else PGSSLMODE / PGSSLROOTCERT). The walreceiver runs in the standby server, whose environment
 * holds none of ours (serverEnvironment), so the settings are written into primary_conninfo. undefined: no TLS.
 */
export function primaryTls(url: string | undefined, env: NodeJS.ProcessEnv = process.env): PrimaryTls | undefined {
  if (!url) return undefined;
  const params = new URL(url).searchParams;
  const mode = params.get('sslmode') ?? (env.PGSSLMODE || undefined);
  if (mode !== 'require' && mode !== 'verify-ca' && mode !== 'verify-full') return undefined;
  const rootCertFile = params.get('sslrootcert') ?? (env.PGSSLROOTCERT || undefined);
  if (rootCertFile === 'system')
    throw new ConfigError('replica create: give the CA file of the primary as sslrootcert=<file> (the standby cannot use sslrootcert=system)');
  return { mode, rootCertFile: rootCertFile ? path.resolve(rootCertFile) : undefined, url };
}

/**
 * With TLS forced on loopback (MORDOMO_PG_CLIENT_NETWORKS names 127.0.0.1/32) a plain walreceiver is refused, so a
 * standby made without `--primary …sslmode=…` is encrypted as the service's own connections are: `require`, since
 * on this machine there is no network to put a false server on.
 */
export function loopbackTls(clientNetworks: string[], port: number, password: string): PrimaryTls | undefined {
  if (!tlsForcedOnLoopback(clientNetworks)) return undefined;
  return { mode: 'require', rootCertFile: undefined, url: `${embeddedUrl(port, password)}?sslmode=require` };
}

/**
 * The slot and the replication role of a standby data folder, named after its folder: two standbys never share
 * either, so creating one never changes another's password (with one shared role, the second standby's new
 * password locked the first out at the primary's next restart). The role's prefix keeps it apart from the
 * package's own roles whatever the folder is called.
 */
export function standbyNames(dataDir: string): { slot: string; role: string } {
  const folder = path
    .basename(path.resolve(dataDir))
    .toLowerCase()
    .replace(/[^a-z0-9_]/g, '_')
    .slice(0, 40);
  return { slot: `mordomo_${folder}`, role: `mordomo_repl_${folder}` };
}

export async function createReplica(primary: pg.Pool, options: ReplicaOptions): Promise<{ slot: string; port: number }> {
  const { dataDir, logger } = options;
  if (existsSync(dataDir) && readdirSync(dataDir).length > 0) throw new ConfigError(`${dataDir} is not empty: give a new folder with --standby-dir`);
  const { slot, role } = standbyNames(dataDir);
  // A CA that did not sign the primary's certificate (or a server without TLS) is refused here, before a role, a
  // slot or a copy exists, rather than left to the standby's walreceiver failing in its log.
  if (options.tls) await probeDatabase(options.tls.url, 5000);
  const password = randomBytes(24).toString('base64url');
  // Role and slot: created, or refreshed when a previous attempt for this same folder left them.
  const { rows } = await query(primary, 'SELECT 1 FROM pg_roles WHERE rolname = $1', [role]);
  const verb = rows.length ? 'ALTER' : 'CREATE';
  const literal = (await query<{ q: string }>(primary, 'SELECT quote_literal($1) AS q', [password])).rows[0]!.q;
  // Role DDL takes no parameters; the literal is quoted by the server, and the statement is not logged with it.
  await query(primary, `${verb} ROLE ${role} WITH REPLICATION LOGIN PASSWORD ${literal}`);
  const existing = await query<{ active: boolean }>(primary, 'SELECT active FROM pg_replication_slots WHERE slot_name = $1', [slot]);
  if (existing.rows[0]?.active) throw new ConflictError(`replication slot ${slot} is in use by a running standby`);
  if (!existing.rows.length) await query(primary, 'SELECT pg_create_physical_replication_slot($1, true)', [slot]);

  const staging = path.join(dataDir, 'staging');
  mkdirSync(dataDir, { recursive: true, mode: 0o711 });
  // The slot already keeps the WAL the copy needs, so the primary need not archive for this.
  const base = await takeBaseBackup(primary, options.primaryPgData, staging, logger, { requireArchive: false });
  const pgData = path.join(dataDir, 'pg');
  renameSync(base.dir, pgData);
  rmSync(staging, { recursive: true, force: true });
  rmSync(path.join(pgData, 'mordomo-base-backup.json'));
  writeFileSync(path.join(dataDir, 'postgres-password'), `${options.primaryPassword}\n`, { mode: 0o600 });
  writeFileSync(path.join(dataDir, 'replication-password'), `${password}\n`, { mode: 0o600 });

  const autoConf = path.join(pgData, 'postgresql.auto.conf');
  // verify-full checks the name the URL used (127.0.0.1, localhost or ::1: this machine's server, replica-primary.ts).
  const host = options.tls ? new URL(options.tls.url).hostname.replace(/^\[|\]$/g, '') : '127.0.0.1';
  const conninfo = `host=${host} port=${options.primaryPort} user=${role} password=${password} application_name=${slot}${standbyTls(pgData, options.tls)}`;
  writeFileSync(autoConf, `${existsSync(autoConf) ? readFileSync(autoConf, 'utf8') : ''}\nprimary_conninfo = '${conninfo}'\nprimary_slot_name = '${slot}'\n`, {
    mode: 0o600,
  });
  writeFileSync(path.join(pgData, 'standby.signal'), '');
  const user = resolveServerUser(options.osUser);
  if (user) chownTree(pgData, user.uid, user.gid);

  // Started as an embedded server of its own folder; it keeps running after this command (adopted by a later
  // `MORDOMO_DATA_DIR=<dir> mordomo-db start`). No WAL archiving of its own: a standby archives nothing.
  const server = new EmbeddedServer({ dataDir, port: options.port, password: undefined, osUser: options.osUser, logger });
  await server.ensureRunning();
  return { slot, port: options.port };
}

/**
 * primary_conninfo's TLS keywords. The root certificate is copied into the standby's data folder (owned by the
 * server's user with it, see chownTree) so that the walreceiver can read it wherever the operator keeps theirs.
 */
function standbyTls(pgData: string, tls: PrimaryTls | undefined): string {
  if (!tls) return '';
  let keywords = ` sslmode=${tls.mode}`;
  if (tls.rootCertFile) {
    const target = path.join(pgData, 'primary-root.crt');
    // primary_conninfo holds the path unquoted, inside the setting's own quotes.
    if (/['"\\\s]/.test(target)) throw new ConfigError(`the standby folder ${pgData} must not contain spaces, quotes or backslashes`);
    try {
      copyFileSync(tls.rootCertFile, target);
    } catch (error) {
      throw new ConfigError(`cannot read the primary's CA file ${tls.rootCertFile} (sslrootcert): ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
    }
    keywords += ` sslrootcert=${target}`;
  }
  return keywords;
}

export interface ReplicaStatus {
  application_name: string;
  state: string;
  sync_state: string;
  sent_lsn: string;
  /** Written and flushed to the standby's disk (received), then replayed. */
  flush_lsn: string | null;
  replay_lsn: string | null;
  lag_bytes: number | null;
  replay_lag_seconds: number | null;
}

export interface SlotStatus {
  slot_name: string;
  active: boolean;
  retained_bytes: number | null;
  wal_status: string | null;
}

/** What the primary sees: each connected standby's lag, and each slot (a standby that is away keeps WAL there). */
export async function replicaStatus(primary: pg.Pool): Promise<{ standbys: ReplicaStatus[]; slots: SlotStatus[] }> {
  const standbys = await query<ReplicaStatus>(
    primary,
    `
    SELECT application_name, state, sync_state, sent_lsn::text, flush_lsn::text, replay_lsn::text,
           pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint AS lag_bytes,
           extract(epoch FROM replay_lag)::float AS replay_lag_seconds
      FROM pg_stat_replication ORDER BY application_name`,
  );
  const slots = await query<SlotStatus>(
    primary,
    `
    SELECT slot_name, active, pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint AS retained_bytes, wal_status
      FROM pg_replication_slots WHERE slot_type = 'physical' ORDER BY slot_name`,
  );
  return { standbys: standbys.rows, slots: slots.rows };
}

/**
 * Promotes the standby in `dataDir` to a primary. Refuses while its primary still answers (two primaries would
 * each take writes the other never sees) unless `force`: stop or fence the old primary first.
 */
export async function promoteReplica(
  dataDir: string,
  osUser: string,
  options: { force?: boolean } = {},
): Promise<{ slot: string | null; slotDropped: boolean }> {
  const pgData = path.join(dataDir, 'pg');
  if (!existsSync(path.join(pgData, 'standby.signal'))) throw new ConfigError(`${pgData} is not a standby (no standby.signal)`);
  const autoConf = readFileSync(path.join(pgData, 'postgresql.auto.conf'), 'utf8');
  const conninfo = /primary_conninfo = '([^']*)'/.exec(autoConf)?.[1] ?? '';
  const slot = /primary_slot_name = '([^']*)'/.exec(autoConf)?.[1] ?? null;
  const port = Number(/port=(\d+)/.exec(conninfo)?.[1]);
  const user = /user=(\S+)/.exec(conninfo)?.[1] ?? '';
  const password = /password=(\S+)/.exec(conninfo)?.[1] ?? '';
  const primary = { host: '127.0.0.1', port, user, password, database: 'postgres', connectionTimeoutMillis: 3000 };
  if (!options.force && port) {
    const probe = new pg.Client(primary);
    probe.on('error', () => undefined);
    const alive = await probe.connect().then(
      () => true,
      (error: { code?: string }) => error.code !== 'ECONNREFUSED' && error.code !== 'ETIMEDOUT' && error.code !== SQLSTATE.cannotConnectNow,
    );
    await probe.end().catch(() => undefined);
    if (alive) {
      throw new ConflictError(`the primary on port ${port} still answers: stop it (or fence it) before promoting, or pass --force if it is really gone`);
    }
  }
  const { pg_ctl } = await binaries();
  await runServerTool(resolveServerUser(osUser), pg_ctl, ['promote', '-D', pgData, '-w', '-t', '120']).catch((error: Error) => {
    throw new UnavailableError(`promotion failed: ${error.message}`);
  });
  return { slot, slotDropped: slot !== null && port > 0 && (await dropSlot(primary, slot)) };
}

/**
 * The old primary's slot for a standby that is now a primary of its own would keep WAL there for ever. Dropped
 * when the old primary still answers (a forced promotion; the replication role may drop slots); otherwise the
 * caller reports it, to drop once that server is back or rebuilt.
 */
async function dropSlot(primary: pg.ClientConfig, slot: string): Promise<boolean> {
  const client = new pg.Client(primary);
  client.on('error', () => undefined);
  try {
    await client.connect();
    const dropped = await client.query('SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active', [slot]);
    return (dropped.rowCount ?? 0) > 0;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The read replicas (DATABASE_REPLICA_URL) as read routing judges them now: in rotation, or out and why. */
export async function readReplicaStates(primary: pg.Pool, urls: string[], limits: LagLimits): Promise<Omit<ReplicaHealth, 'reads'>[]> {
  const { rows } = await query<{ lsn: string }>(primary, 'SELECT pg_current_wal_insert_lsn()::text AS lsn');
  const primaryLsn = lsnToBigInt(rows[0]!.lsn);
  return Promise.all(
    urls.map(async (url) => {
      const pool = new pg.Pool({ ...pgConnectionOptions(url), max: 1, connectionTimeoutMillis: 3000 });
      pool.on('error', () => undefined);
      try {
        const { healthy, lagBytes, lagSeconds, cause, reason } = await replicaState(pool, primaryLsn, limits);
        return { name: redactUrl(url), healthy, lagBytes, lagSeconds, cause, reason };
      } finally {
        await pool.end().catch(() => undefined);
      }
    }),
  );
}

/** A connection string to the standby of `dataDir` (its own port), for checks and tests. */
export function replicaUrl(dataDir: string, port: number): string {
  return embeddedUrl(port, readFileSync(path.join(dataDir, 'postgres-password'), 'utf8').trim());
}
