import { chownSync, closeSync, fsyncSync, openSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** A moment as a file-name stamp in UTC, `20261206T061345Z`, so that the names of backups and dumps sort by age. */
export function fileStamp(at: Date): string {
  return at
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
}

function fsyncPath(target: string): void {
  const fd = openSync(target, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Makes the finished file `partial` the file `target`: flushed to disk, renamed, and the rename itself flushed, so
 * that a crash or a power cut leaves either no `target` (or the previous one) or the whole new one, never a part.
 */
export function commitFile(partial: string, target: string): void {
  fsyncPath(partial);
  renameSync(partial, target);
  fsyncPath(path.dirname(target));
}

/** Writes `text` to `file` through `commitFile`: readers see the old content or the new, never half of it. */
export function writeFileAtomic(file: string, text: string, mode = 0o600): void {
  const partial = `${file}.partial`;
  writeFileSync(partial, text, { mode });
  commitFile(partial, file);
}

/** Gives a folder and everything in it to the OS user `uid`:`gid` (the server's, when running as root). */
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
