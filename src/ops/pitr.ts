// Point-in-time recovery for the embedded server: a base backup (base-backups.ts) plus the WAL the server archives
// (MORDOMO_WAL_ARCHIVE_DIR) rebuild the data directory as it was at any moment since the oldest base backup kept.
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { embeddedUrl } from '../db/connect.ts';
import { binaries, runServerTool } from '../db/embedded-server.ts';
import { ConfigError, NotFoundError, UnavailableError } from '../errors.ts';
import { resolveServerUser } from '../db/os-user.ts';
import { portInUse, serverGone } from '../db/postmaster.ts';
import type { Logger } from '../logger.ts';
import { chownTree } from '../files.ts';
import { type BaseBackup, listBaseBackups, MANIFEST, WAL_SEGMENT } from './base-backups.ts';

/** What a point-in-time recovery starts from and where it writes. */
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

export interface PitrResult {
  base: BaseBackup;
  pgData: string;
  /** When the last transaction recovered committed (null if none was replayed). */
  lastTransaction: Date | null;
  /** False when the archive ends before the target: everything was recovered, up to `lastTransaction`. */
  reachedTarget: boolean;
}

/** PostgreSQL's words when the archive ends before recovery_target_time: then everything there is gets recovered. */
const TARGET_AFTER_ARCHIVE = 'recovery ended before configured recovery target was reached';

/**
 * Rebuilds a data directory as it was at `target`: copies the newest base backup that finished before it, and has
 * PostgreSQL replay archived WAL up to that moment (recovery_target_time) on a private port, then stops it. The
 * result is a complete mordomo-db data folder: `MORDOMO_DATA_DIR=<outDir> mordomo-db start` runs it.
 */
export async function restoreToTime(options: PitrRestoreOptions): Promise<PitrResult> {
  const { target, outDir } = options;
  if (Number.isNaN(target.getTime())) throw new ConfigError('the recovery target is not a valid time');
  if (target.getTime() > Date.now()) throw new ConfigError(`the recovery target ${target.toISOString()} is in the future`);
  const base = listBaseBackups(options.baseRoot).find((backup) => backup.finishedAt.getTime() <= target.getTime());
  if (!base) {
    throw new NotFoundError(
      `no base backup finished before ${target.toISOString()} in ${options.baseRoot}: the earliest moment recoverable is the end of the oldest one (mordomo-db pitr list)`,
    );
  }
  const gap = archiveGap(options.archiveDir, base.startWal);
  if (gap && target.getTime() > gap.reachableUntil.getTime()) {
    throw new NotFoundError(
      `the WAL archive has a gap: segment ${gap.missing} is missing, so recovery from ${path.basename(base.dir)} can reach ${gap.reachableUntil.toISOString()} ` +
        `at the latest (when ${gap.lastBefore} was archived); give --to before that, or restore a later base backup's moments`,
    );
  }
  if (existsSync(outDir) && readdirSync(outDir).length > 0) throw new ConfigError(`${outDir} is not empty: give a new folder with --out`);
  if (await portInUse(options.port)) throw new ConfigError(`port ${options.port} is in use: give a free one with --port`);
  const created = !existsSync(outDir);
  try {
    return await recover(options, base);
  } catch (error) {
    // Nothing half-made is left behind: the folder is as it was (absent, or empty).
    if (created) rmSync(outDir, { recursive: true, force: true });
    else for (const entry of readdirSync(outDir)) rmSync(path.join(outDir, entry), { recursive: true, force: true });
    throw error;
  }
}

async function recover(options: PitrRestoreOptions, base: BaseBackup): Promise<PitrResult> {
  const { target, outDir, logger } = options;
  const user = resolveServerUser(options.osUser);
  const pgData = path.join(outDir, 'pg');
  mkdirSync(outDir, { recursive: true, mode: 0o711 });
  logger.info({ base: base.dir, target: target.toISOString() }, 'copying the base backup');
  cpSync(base.dir, pgData, { recursive: true });
  // PostgreSQL refuses a data directory open to others, and Node 22's cpSync makes the top folder with the default
  // mode (0755) where Node 20 and 24 copy the source's 0700.
  chmodSync(pgData, 0o700);
  rmSync(path.join(pgData, MANIFEST));
  writeFileSync(path.join(outDir, 'postgres-password'), `${options.password}\n`, { mode: 0o600 });
  if (user) chownTree(pgData, user.uid, user.gid);

  // Recovery settings go to postgresql.auto.conf for this one run and are taken out after, so that the folder
  // starts later as a normal primary. Archiving is off meanwhile: the recovered server must not write into the
  // archive of the server it was copied from.
  const autoConf = path.join(pgData, 'postgresql.auto.conf');
  const original = existsSync(autoConf) ? readFileSync(autoConf, 'utf8') : '';
  const archive = options.archiveDir;
  if (/['"\n\\]/.test(archive)) throw new ConfigError('the WAL archive folder must not contain quotes, backslashes or newlines');
  // Segments are archived compressed (server-settings.ts); older archives hold them as they are.
  const restoreCommand = `test -f "${archive}/%f.gz" && gunzip -c "${archive}/%f.gz" > "%p" || cp "${archive}/%f" "%p"`;
  // recovery_target_time does not take ISO 8601's "T…Z" spelling; "YYYY-MM-DD HH:MM:SS.mmm+00" it does.
  const targetSetting = `recovery_target_time = '${target.toISOString().replace('T', ' ').replace('Z', '+00')}'\n`;
  const configure = (untilTarget: boolean) =>
    writeFileSync(
      autoConf,
      `${original}\nrestore_command = '${restoreCommand}'\n${untilTarget ? targetSetting : ''}recovery_target_action = 'promote'\narchive_mode = 'off'\n`,
    );
  configure(true);
  writeFileSync(path.join(pgData, 'recovery.signal'), '');
  if (user) chownTree(pgData, user.uid, user.gid);

  const url = embeddedUrl(options.port, options.password, 'postgres');
  let reachedTarget = true;
  try {
    try {
      await runRecovery(user, pgData, options.port, url);
    } catch (error) {
      // The target is after the last commit the archive holds: recover all of it, and say up to when.
      if (!serverLog(pgData).includes(TARGET_AFTER_ARCHIVE)) throw error;
      logger.info({ target: target.toISOString() }, 'the archive ends before the target: recovering all of it');
      reachedTarget = false;
      configure(false);
      // The first run's FATAL would read as this one's.
      rmSync(path.join(pgData, 'startup.log'), { force: true });
      rmSync(path.join(pgData, 'log'), { recursive: true, force: true });
      // The first run's postmaster stops itself and may still be exiting: its lock file would refuse this one.
      await serverGone(pgData);
      await runRecovery(user, pgData, options.port, url);
    }
    const lastTransaction = await lastReplayedCommit(url);
    logger.info({ pgData, target: target.toISOString(), lastTransaction }, 'recovered');
    return { base, pgData, lastTransaction, reachedTarget };
  } finally {
    const { pg_ctl } = await binaries();
    await runServerTool(user, pg_ctl, ['stop', '-D', pgData, '-m', 'fast', '-w']).catch(() => undefined);
    writeFileSync(autoConf, original);
    rmSync(path.join(pgData, 'recovery.signal'), { force: true });
  }
}

/** Starts the copy on its private port and waits until recovery has promoted it; failures quote PostgreSQL's log. */
async function runRecovery(user: ReturnType<typeof resolveServerUser>, pgData: string, port: number, url: string): Promise<void> {
  const { pg_ctl } = await binaries();
  const log = path.join(pgData, 'startup.log');
  await runServerTool(user, pg_ctl, [
    'start',
    '-D',
    pgData,
    '-l',
    log,
    '-w',
    '-t',
    '600',
    '-o',
    `-p ${port} -c unix_socket_directories='' -c listen_addresses=127.0.0.1 -c log_directory=log`,
  ]).catch((error: Error) => {
    throw new UnavailableError(`recovery failed: ${reason(pgData) || error.message}`);
  });
  await waitForPromotion(url, pgData);
}

/** The time of the last transaction recovery applied (kept by the server until it restarts). */
async function lastReplayedCommit(url: string): Promise<Date | null> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return (await client.query<{ at: Date | null }>('SELECT pg_last_xact_replay_timestamp() AS at')).rows[0]!.at;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * The first segment missing from the archive after `startWal` (the base backup's first), if any: recovery stops
 * there, so it can reach at most the moment the segment before it was archived. Segment names of 16 MB segments
 * count 256 to a log file; compressed ones end in .gz.
 */
export function archiveGap(archiveDir: string, startWal: string): { missing: string; lastBefore: string; reachableUntil: Date } | undefined {
  if (!existsSync(archiveDir)) return undefined;
  const number = (name: string) => parseInt(name.slice(8, 16), 16) * 256 + parseInt(name.slice(16, 24), 16);
  const segments = new Map<number, string>();
  for (const file of readdirSync(archiveDir)) {
    const name = file.replace(/\.gz$/, '');
    if (WAL_SEGMENT.test(name) && number(name) >= number(startWal)) segments.set(number(name), file);
  }
  const numbers = [...segments.keys()].sort((a, b) => a - b);
  for (let n = number(startWal); n < (numbers[numbers.length - 1] ?? 0); n++) {
    if (segments.has(n)) continue;
    const before = segments.get(n - 1);
    const name = (k: number) =>
      `${startWal.slice(0, 8)}${Math.floor(k / 256)
        .toString(16)
        .toUpperCase()
        .padStart(8, '0')}${(k % 256).toString(16).toUpperCase().padStart(8, '0')}`;
    const reachableUntil = before ? statSync(path.join(archiveDir, before)).mtime : new Date(0);
    return { missing: name(n), lastBefore: before ?? name(n - 1), reachableUntil };
  }
  return undefined;
}

async function waitForPromotion(url: string, pgData: string): Promise<void> {
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
    if (/FATAL|PANIC/.test(serverLog(pgData))) throw new UnavailableError(`recovery failed: ${reason(pgData)}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new UnavailableError(`recovery did not finish within 10 minutes: ${reason(pgData)}`);
}

/** What the recovering server logged: pg_ctl's startup log, then the logging collector's files (log/). */
function serverLog(pgData: string): string {
  const logDir = path.join(pgData, 'log');
  const files = [
    path.join(pgData, 'startup.log'),
    ...(existsSync(logDir)
      ? readdirSync(logDir)
          .sort()
          .map((name) => path.join(logDir, name))
      : []),
  ];
  return files
    .filter((file) => existsSync(file))
    .map((file) => readFileSync(file, 'utf8'))
    .join('\n');
}

/** PostgreSQL's own reason for a failed recovery: its last FATAL or PANIC lines (and errors before them). */
function reason(pgData: string): string {
  const lines = serverLog(pgData)
    .trim()
    .split('\n')
    .filter((line) => /FATAL|PANIC|ERROR|could not/.test(line));
  return lines
    .slice(-3)
    .map((line) => line.replace(/^.*?(FATAL|PANIC|ERROR|LOG):\s*/, '$1: '))
    .join(' | ');
}
