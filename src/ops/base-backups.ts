// Base backups of the embedded server for point-in-time recovery (pitr.ts recovers from them): copies of the data
// directory taken with the low-level API (pg_backup_start/pg_backup_stop) while the server runs, listed and pruned with
// the WAL segments only they needed, and the switch that makes the WAL written so far archived.
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type pg from 'pg';
import { query, withClient } from '../db/client.ts';
import { ConfigError, UnavailableError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { fileStamp } from '../files.ts';

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
export const WAL_SEGMENT = /^[0-9A-F]{24}$/;
export const MANIFEST = 'mordomo-base-backup.json';

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
  try {
    // The session that starts a backup must stop it: one client, no pooling in between.
    return await withClient(pool, async (client) => {
      const archiving = await client.query<{ archive_mode: string }>(`SELECT current_setting('archive_mode') AS archive_mode`);
      if (options.requireArchive !== false && archiving.rows[0]!.archive_mode === 'off') {
        throw new ConfigError(
          'WAL archiving is off (MORDOMO_WAL_ARCHIVE_DIR=off, or not the embedded server): a base backup without archived WAL cannot be recovered',
        );
      }
      await client.query(`SELECT pg_backup_start($1, true)`, [`mordomo-db ${fileStamp(startedAt)}`]);
      let label: string;
      try {
        logger.info({ dir }, 'copying the data directory for a base backup');
        copyDataDirectory(pgData, partial);
      } finally {
        const stopped = await client.query<{ labelfile: string }>(`SELECT labelfile FROM pg_backup_stop(true)`);
        label = stopped.rows[0]!.labelfile;
      }
      writeFileSync(path.join(partial, 'backup_label'), label, { mode: 0o600 });
      const startWal = /START WAL LOCATION: \S+ \(file ([0-9A-F]{24})\)/.exec(label)?.[1];
      if (!startWal) throw new UnavailableError('pg_backup_stop returned a backup label without its start WAL file');
      const finishedAt = new Date();
      writeFileSync(path.join(partial, MANIFEST), JSON.stringify({ startedAt, finishedAt, startWal }), { mode: 0o600 });
      renameSync(partial, dir);
      return { dir, startedAt, finishedAt, startWal };
    });
  } catch (error) {
    rmSync(partial, { recursive: true, force: true });
    throw error;
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
 * Archive retention follows backup retention, so that point-in-time recovery covers the whole window of
 * `maxAgeDays` and no more: a moment at the window's start needs the newest base backup that finished before it,
 * which is kept with every later one (and the newest always); the older ones go, then the archived WAL segments
 * older than what the oldest kept base backup needs.
 */
export function pruneBaseBackups(root: string, archiveDir: string, maxAgeDays: number, now = new Date()): { backups: number; segments: number } {
  const backups = listBaseBackups(root);
  if (!backups.length) return { backups: 0, segments: 0 };
  const cutoff = now.getTime() - maxAgeDays * 86_400_000;
  const coveringStart = backups.findIndex((backup) => backup.finishedAt.getTime() <= cutoff);
  const expired = coveringStart === -1 ? [] : backups.slice(coveringStart + 1);
  for (const backup of expired) rmSync(backup.dir, { recursive: true, force: true });
  const kept = listBaseBackups(root);
  const oldestNeeded = kept[kept.length - 1]!.startWal;
  let segments = 0;
  if (existsSync(archiveDir)) {
    for (const name of readdirSync(archiveDir)) {
      // Segment names sort in WAL order within a timeline; history files are tiny and kept.
      const segment = name.replace(/\.gz$/, '');
      if (WAL_SEGMENT.test(segment) && segment.slice(8) < oldestNeeded.slice(8)) {
        rmSync(path.join(archiveDir, name));
        segments++;
      }
    }
  }
  return { backups: expired.length, segments };
}

/**
 * Makes the server archive the WAL it is writing now and waits until it has: a recovery then reaches every commit
 * made before this call, not only those in segments already full.
 */
export async function archiveCurrentWal(pool: pg.Pool, timeoutMs = 60_000): Promise<void> {
  const { rows } = await query<{ segment: string }>(pool, 'SELECT pg_walfile_name(pg_switch_wal()) AS segment');
  const segment = rows[0]!.segment;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = await query<{ last: string | null; failed: string | null }>(
      pool,
      'SELECT last_archived_wal AS last, last_failed_wal AS failed FROM pg_stat_archiver',
    );
    const { last, failed } = status.rows[0]!;
    if (last && WAL_SEGMENT.test(last) && last.slice(8) >= segment.slice(8)) return;
    if (Date.now() > deadline) {
      throw new UnavailableError(
        `WAL segment ${segment} was not archived within ${timeoutMs / 1000} s${failed ? ` (last failure: ${failed}; see the server log)` : ''}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
