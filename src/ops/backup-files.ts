import { accessSync, constants, existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { NotFoundError } from '../errors.ts';

export interface BackupFile {
  file: string;
  bytes: number;
  createdAt: Date;
  /** Result of the last `backup verify` of this file, if any. */
  verified: { ok: boolean; at: string } | undefined;
}

const NAME = /^mordomo-(\d{8}T\d{6}Z)\.mdb\.gz$/;

function parseStamp(stamp: string): Date {
  const iso = `${stamp.slice(0, 4)}-${stamp.slice(4, 6)}-${stamp.slice(6, 8)}T${stamp.slice(9, 11)}:${stamp.slice(11, 13)}:${stamp.slice(13, 15)}Z`;
  return new Date(iso);
}

/** The finished backups in `dir`, newest first (partial files of an interrupted backup are not listed). */
export function listBackups(dir: string): BackupFile[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .flatMap((name) => {
      const match = NAME.exec(name);
      if (!match) return [];
      const file = path.join(dir, name);
      const sidecar = `${file}.verified`;
      const verified = existsSync(sidecar) ? (JSON.parse(readFileSync(sidecar, 'utf8')) as { ok: boolean; at: string }) : undefined;
      return [{ file, bytes: statSync(file).size, createdAt: parseStamp(match[1]!), verified }];
    })
    .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime());
}

export function recordVerification(file: string, ok: boolean, at = new Date()): void {
  writeFileSync(`${file}.verified`, JSON.stringify({ ok, at: at.toISOString() }), { mode: 0o600 });
}

export interface PruneOptions {
  maxAgeDays: number;
  /** Keep at most this many backups, newest first. */
  keep?: number;
  now?: Date;
}

/**
 * Deletes backups older than `maxAgeDays` or beyond the newest `keep`, but never the newest backup whose
 * verification succeeded: retention must not leave an operator with only unproven backups.
 */
export function pruneBackups(dir: string, options: PruneOptions): BackupFile[] {
  const now = options.now ?? new Date();
  const backups = listBackups(dir);
  const protectedFile = backups.find((b) => b.verified?.ok)?.file;
  const cutoff = now.getTime() - options.maxAgeDays * 86_400_000;
  const doomed = backups.filter(
    (b, index) => b.file !== protectedFile && (b.createdAt.getTime() < cutoff || (options.keep !== undefined && index >= options.keep)),
  );
  for (const backup of doomed) {
    rmSync(backup.file, { force: true });
    rmSync(`${backup.file}.verified`, { force: true });
  }
  return doomed;
}

/**
 * Refuses, before anything is started or written, a backup path that is not a readable file: missing, a folder,
 * or unreadable (EX_NOINPUT, 66, on the command line). Reading one would fail later, after a scratch database or
 * an embedded server was made for it, with the system's own words.
 */
export function checkBackupFile(file: string): void {
  let isFile: boolean;
  try {
    isFile = statSync(file).isFile();
  } catch {
    throw new NotFoundError(`backup file ${file} not found`);
  }
  if (!isFile) throw new NotFoundError(`${file} is a directory, not a backup file`);
  try {
    accessSync(file, constants.R_OK);
  } catch {
    throw new NotFoundError(`backup file ${file} cannot be read (check its permissions)`);
  }
}
