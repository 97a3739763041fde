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

/**
 * How long a write refused for lack of a resource keeps the service unready when nothing else says so: statfs cannot
 * see an external server's disk (DATABASE_URL), so the refusal itself is the signal. A
 * load balancer then sends no writes, so it lapses after this long and the next write tries again: refused, it
 * is unready anew; committed, space is back.
 */
export const REFUSED_WRITE_HOLDS_MS = 30_000;

/**
 * The last write's outcome as far as space and resources go: a request refused with SQLSTATE class 53 (disk full,
 * too many connections, out of memory) makes `reason()` say why until a write commits or REFUSED_WRITE_HOLDS_MS pass.
 */
export class RefusedWrites {
  private refused: { reason: string; at: number } | undefined;

  /** Notes a failed request's SQLSTATE and PostgreSQL's message; other classes than 53 say nothing of space. */
  failed(sqlstate: string | undefined, message: string, now = Date.now()): void {
    if (!sqlstate?.startsWith('53')) return;
    const what = sqlstate === '53100' ? 'disk full' : 'out of a resource';
    this.refused = { reason: `${what}: the database refused the last write with SQLSTATE ${sqlstate} (${message})`, at: now };
  }

  /** A write committed: whatever refused the last one is past. */
  succeeded(): void {
    this.refused = undefined;
  }

  reason(now = Date.now()): string | undefined {
    if (!this.refused || now - this.refused.at > REFUSED_WRITE_HOLDS_MS) return undefined;
    const clears = Math.ceil((REFUSED_WRITE_HOLDS_MS - (now - this.refused.at)) / 1000);
    return `${this.refused.reason}; free space on the database server (ready again when a write commits, or in ${clears} s when the next write may try)`;
  }
}
