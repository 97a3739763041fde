import path from 'node:path';
import { freeBytes } from './disk-usage.ts';

/**
 * Below this many free bytes a file system counts as full: PostgreSQL needs a WAL segment (16 MB) of room to go on
 * writing, and fails every write (53100) or cannot start (xlogtemp… No space left on device) short of it.
 */
export const FULL_BELOW_BYTES = 16 * 1024 * 1024;

/** A folder the service writes to, what it holds, and its file system's free bytes (undefined: cannot be read). */
export interface FolderSpace {
  role: 'data' | 'wal' | 'wal-archive';
  folder: string;
  freeBytes: number | undefined;
  full: boolean;
}

/**
 * The space of the folders an embedded server writes (its data folder and pg_wal, which may be a link to another
 * file system) and of the WAL archive. Read from the file systems themselves, so it is known even while PostgreSQL
 * cannot start.
 */
export function folderSpaces(pgData: string | undefined, walArchiveDir: string | undefined): FolderSpace[] {
  const folders: [FolderSpace['role'], string][] = [];
  if (pgData) folders.push(['data', pgData], ['wal', path.join(pgData, 'pg_wal')]);
  if (walArchiveDir) folders.push(['wal-archive', walArchiveDir]);
  return folders.map(([role, folder]) => {
    const free = readableFreeBytes(folder);
    return { role, folder, freeBytes: free, full: free !== undefined && free < FULL_BELOW_BYTES };
  });
}

/** Free bytes, or undefined for a folder not made yet (the WAL archive before its first segment) or not readable. */
function readableFreeBytes(folder: string): number | undefined {
  try {
    return freeBytes(folder);
  } catch {
    return undefined;
  }
}

/** Why writes cannot succeed for lack of space (the data or WAL file system full), or undefined. */
export function diskFullReason(spaces: FolderSpace[]): string | undefined {
  const full = spaces.find((space) => space.full && space.role !== 'wal-archive');
  if (!full) return undefined;
  return `disk full: the ${full.role} folder ${full.folder} has ${full.freeBytes} bytes free; free space on its file system (writes resume by themselves)`;
}
