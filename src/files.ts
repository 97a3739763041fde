import { closeSync, fsyncSync, openSync, renameSync, writeFileSync } from 'node:fs';
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
