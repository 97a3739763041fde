import { chownSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { embeddedUrl } from '../db/connect.ts';
import { binaries, runServerTool } from '../db/embedded-server.ts';
import { ConfigError, mapErrors, NotFoundError, UnavailableError } from '../errors.ts';
import { resolveServerUser } from '../db/os-user.ts';
import { portInUse } from '../db/postmaster.ts';
import type { Logger } from '../logger.ts';
import { fileStamp } from '../files.ts';

/**
 * Point-in-time recovery for the embedded server: base backups taken with the low-level API
 * (pg_backup_start/pg_backup_stop) while the server runs, plus the WAL it archives (MORDOMO_WAL_ARCHIVE_DIR),
 * rebuild the data directory as it was at any moment since the oldest base backup kept.
 */
export interface BaseBackup {
  dir: string;
  startedAt: Date;
  finishedAt: Date;
  /** The first WAL segment the backup needs; older archived segments serve no kept backup. */
  startWal: string;
}

/** Where base backups live: beside the logical backups. */
export const baseBackupRoot = (config: { backupDir: string }) => path.join(config.backupDir, 'base');

const BASE_NAME = /^base-(\d{8}T\d{6}Z)$/;
const WAL_SEGMENT = /^[0-9A-F]{24}$/;
const MANIFEST = 'mordomo-base-backup.json';

// Contents PostgreSQL recreates or must not see in a copy (the documentation's list for low-level backups).
const SKIP_CONTENTS = new Set(['pg_wal', 'pg_replslot', 'pg_dynshmem', 'pg_notify', 'pg_serial', 'pg_snapshots', 'pg_stat_tmp', 'pg_subtrans', 'log']);
const SKIP_FILES = new Set(['postmaster.pid', 'postmaster.opts', 'startup.log']);


/** Copies a live data directory: files may change (WAL replay repairs them) or vanish (then they are not needed). */
function copyDataDirectory(from: string, to: string): void {
  mkdirSync(to, { recursive: true, mode: 0o700 });
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    const source = path.join(from, entry.name);
    const target = path.join(to, entry.name);
    if (entry.isDirectory()) {
      if (SKIP_CONTENTS.has(entry.name)) mkdirSync(target, { mode: 0o700 });
      else if (!entry.name.startsWith('pgsql_tmp')) copyDataDirectory(source, target);
    } else if (!SKIP_FILES.has(entry.name)) {
      try {
        cpSync(source, target, { preserveTimestamps: true });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
    }
  }
}

/**
 * Takes a base backup of the embedded server at `pgData` into `outRoot/base-<time>/`: pg_backup_start, a copy of
 * the data directory, pg_backup_stop (which waits until the WAL the copy needs is archived), its backup_label
 * written into the copy. Written under a temporary name and renamed when complete.
 */
export async function takeBaseBackup(
  pool: pg.Pool,
  pgData: string,
  outRoot: string,
  logger: Logger,
  options: { requireArchive?: boolean } = {},
): Promise<BaseBackup> {
  const startedAt = new Date();
  const dir = path.join(outRoot, `base-${fileStamp(startedAt)}`);
  const partial = `${dir}.partial`;
  mkdirSync(outRoot, { recursive: true, mode: 0o700 });
  rmSync(partial, { recursive: true, force: true });
  const client = await mapErrors(() => pool.connect());
  try {
    const archiving = await client.query<{ archive_mode: string }>(`SELECT current_setting('archive_mode') AS archive_mode`);
    if (options.requireArchive !== false && archiving.rows[0]!.archive_mode === 'off') {
      throw new ConfigError('WAL archiving is off (MORDOMO_WAL_ARCHIVE_DIR=off, or not the embedded server): a base backup without archived WAL cannot be recovered');
    }
    // The session that starts a backup must stop it: one client, no pooling in between.
    await mapErrors(() => client.query(`SELECT pg_backup_start($1, true)`, [`mordomo-db ${fileStamp(startedAt)}`]));
    let label: string;
    try {
      logger.info({ dir }, 'copying the data directory for a base backup');
      copyDataDirectory(pgData, partial);
    } finally {
      const stopped = await mapErrors(() => client.query<{ labelfile: string }>(`SELECT labelfile FROM pg_backup_stop(true)`));
      label = stopped.rows[0]!.labelfile;
    }
    writeFileSync(path.join(partial, 'backup_label'), label, { mode: 0o600 });
    const startWal = /START WAL LOCATION: \S+ \(file ([0-9A-F]{24})\)/.exec(label)?.[1];
    if (!startWal) throw new UnavailableError('pg_backup_stop returned a backup label without its start WAL file');
    const finishedAt = new Date();
    writeFileSync(path.join(partial, MANIFEST), JSON.stringify({ startedAt, finishedAt, startWal }), { mode: 0o600 });
    renameSync(partial, dir);
    return { dir, startedAt, finishedAt, startWal };
  } catch (error) {
    rmSync(partial, { recursive: true, force: true });
    throw error;
  } finally {
    client.release();
  }
}

/** The complete base backups under `root`, newest first. */
export function listBaseBackups(root: string): BaseBackup[] {
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .filter((name) => BASE_NAME.test(name) && existsSync(path.join(root, name, MANIFEST)))
    .map((name) => {
      const manifest = JSON.parse(readFileSync(path.join(root, name, MANIFEST), 'utf8')) as { startedAt: string; finishedAt: string; startWal: string };
      return { dir: path.join(root, name), startedAt: new Date(manifest.startedAt), finishedAt: new Date(manifest.finishedAt), startWal: manifest.startWal };
    })
    .sort((a, b) => b.startedAt.getTime() - a.startedAt.getTime());
}

/**
 * Archive retention follows backup retention: base backups older than `maxAgeDays` go (never the newest), then
 * archived WAL segments older than what the oldest kept base backup needs.
 */
export function pruneBaseBackups(root: string, archiveDir: string, maxAgeDays: number, now = new Date()): { backups: number; segments: number } {
  const [newest, ...older] = listBaseBackups(root);
  if (!newest) return { backups: 0, segments: 0 };
  const cutoff = now.getTime() - maxAgeDays * 86_400_000;
  const expired = older.filter((backup) => backup.startedAt.getTime() < cutoff);
  for (const backup of expired) rmSync(backup.dir, { recursive: true, force: true });
  const kept = listBaseBackups(root);
  const oldestNeeded = kept[kept.length - 1]!.startWal;
  let segments = 0;
  if (existsSync(archiveDir)) {
    for (const name of readdirSync(archiveDir)) {
      // Segment names sort in WAL order within a timeline; history files are tiny and kept.
      if (WAL_SEGMENT.test(name) && name.slice(8) < oldestNeeded.slice(8)) {
        rmSync(path.join(archiveDir, name));
        segments++;
      }
    }
  }
  return { backups: expired.length, segments };
}

export interface PitrRestoreOptions {
  /** Folder of base backups (`takeBaseBackup`'s outRoot). */
  baseRoot: string;
  archiveDir: string;
  /** The moment to recover to: commits up to and including it are kept, later ones are not. */
  target: Date;
  /** A new mordomo-db data folder to create: `pg/` plus the password file, usable as MORDOMO_DATA_DIR. */
  outDir: string;
  /** The original server's superuser password (POSTGRES_PASSWORD or its file): the copy keeps the same roles. */
  password: string;
  port: number;
  osUser: string;
  logger: Logger;
}

/**
 * Rebuilds a data directory as it was at `target`: copies the newest base backup that finished before it, and has
 * PostgreSQL replay archived WAL up to that moment (recovery_target_time) on a private port, then stops it. The
 * result is a complete mordomo-db data folder: `MORDOMO_DATA_DIR=<outDir> mordomo-db start` runs it.
 */
export async function restoreToTime(options: PitrRestoreOptions): Promise<{ base: BaseBackup; pgData: string }> {
  const { target, outDir, logger } = options;
  if (Number.isNaN(target.getTime())) throw new ConfigError('the recovery target is not a valid time');
  if (target.getTime() > Date.now()) throw new ConfigError(`the recovery target ${target.toISOString()} is in the future`);
  const base = listBaseBackups(options.baseRoot).find((backup) => backup.finishedAt.getTime() <= target.getTime());
  if (!base) {
    throw new NotFoundError(`no base backup finished before ${target.toISOString()} in ${options.baseRoot}: the earliest moment recoverable is the end of the oldest one (mordomo-db pitr list)`);
  }
  if (existsSync(outDir) && readdirSync(outDir).length > 0) throw new ConfigError(`${outDir} is not empty: give a new folder with --out`);
  if (await portInUse(options.port)) throw new ConfigError(`port ${options.port} is in use: give a free one with --port`);
  const user = resolveServerUser(options.osUser);
  const pgData = path.join(outDir, 'pg');
  mkdirSync(outDir, { recursive: true, mode: 0o711 });
  logger.info({ base: base.dir, target: target.toISOString() }, 'copying the base backup');
  cpSync(base.dir, pgData, { recursive: true });
  rmSync(path.join(pgData, MANIFEST));
  writeFileSync(path.join(outDir, 'postgres-password'), `${options.password}\n`, { mode: 0o600 });
  if (user) chownTree(pgData, user.uid, user.gid);

  // Recovery settings go to postgresql.auto.conf for this one run and are taken out after, so that the folder
  // starts later as a normal primary. Archiving is off meanwhile: the recovered server must not write into the
  // archive of the server it was copied from.
  const autoConf = path.join(pgData, 'postgresql.auto.conf');
  const original = existsSync(autoConf) ? readFileSync(autoConf, 'utf8') : '';
  const archive = options.archiveDir;
  // recovery_target_time does not take ISO 8601's "T…Z" spelling; "YYYY-MM-DD HH:MM:SS.mmm+00" it does.
  if (/['"\n\\]/.test(archive)) throw new ConfigError('the WAL archive folder must not contain quotes, backslashes or newlines');
  writeFileSync(
    autoConf,
    `${original}\nrestore_command = 'cp "${archive}/%f" "%p"'\nrecovery_target_time = '${target.toISOString().replace('T', ' ').replace('Z', '+00')}'\nrecovery_target_action = 'promote'\narchive_mode = 'off'\n`,
  );
  writeFileSync(path.join(pgData, 'recovery.signal'), '');
  if (user) chownTree(pgData, user.uid, user.gid);

  const { pg_ctl } = await binaries();
  const log = path.join(pgData, 'startup.log');
  const { password } = options;
  try {
    await runServerTool(user, pg_ctl, ['start', '-D', pgData, '-l', log, '-w', '-t', '600', '-o', `-p ${options.port} -c unix_socket_directories='' -c listen_addresses=127.0.0.1 -c log_directory=log`]).catch(
      (error: Error) => {
        throw new UnavailableError(`recovery did not start: ${tail(log) || error.message}`);
      },
    );
    await waitForPromotion(embeddedUrl(options.port, password, 'postgres'), log);
  } finally {
    await runServerTool(user, pg_ctl, ['stop', '-D', pgData, '-m', 'fast', '-w']).catch(() => undefined);
    writeFileSync(autoConf, original);
    rmSync(path.join(pgData, 'recovery.signal'), { force: true });
  }
  logger.info({ pgData, target: target.toISOString() }, 'recovered');
  return { base, pgData };
}

async function waitForPromotion(url: string, log: string): Promise<void> {
  const deadline = Date.now() + 600_000;
  while (Date.now() < deadline) {
    const client = new pg.Client({ connectionString: url });
    client.on('error', () => undefined);
    try {
      await client.connect();
      const { rows } = await client.query<{ recovering: boolean }>('SELECT pg_is_in_recovery() AS recovering');
      if (!rows[0]!.recovering) return;
    } catch {
      // still starting, or replaying: try again
    } finally {
      await client.end().catch(() => undefined);
    }
    if (/FATAL|PANIC/.test(readFileSync(log, 'utf8'))) throw new UnavailableError(`recovery failed: ${tail(log)}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new UnavailableError(`recovery did not finish within 10 minutes: ${tail(log)}`);
}

function tail(log: string): string {
  if (!existsSync(log)) return '';
  return readFileSync(log, 'utf8').trim().split('\n').filter((line) => /FATAL|PANIC|ERROR|could not/.test(line)).slice(-3).join(' | ');
}

export function chownTree(dir: string, uid: number, gid: number): void {
  chownSync(dir, uid, gid);
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) chownTree(full, uid, gid);
    else chownSync(full, uid, gid);
  }
}

/** Size in bytes of a folder (for listings). */
export function folderBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    total += entry.isDirectory() ? folderBytes(full) : statSync(full).size;
  }
  return total;
}

/**
 * Makes the server archive the WAL it is writing now and waits until it has: a recovery then reaches every commit
 * made before this call, not only those in segments already full.
 */
export async function archiveCurrentWal(pool: pg.Pool, timeoutMs = 60_000): Promise<void> {
  await mapErrors(async () => {
    const { rows } = await pool.query<{ segment: string }>('SELECT pg_walfile_name(pg_switch_wal()) AS segment');
    const segment = rows[0]!.segment;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const status = await pool.query<{ last: string | null; failed: string | null }>(
        'SELECT last_archived_wal AS last, last_failed_wal AS failed FROM pg_stat_archiver',
      );
      const { last, failed } = status.rows[0]!;
      if (last && WAL_SEGMENT.test(last) && last.slice(8) >= segment.slice(8)) return;
      if (Date.now() > deadline) {
        throw new UnavailableError(`WAL segment ${segment} was not archived within ${timeoutMs / 1000} s${failed ? ` (last failure: ${failed}; see the server log)` : ''}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  });
}
