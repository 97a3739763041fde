// A small file system of the test's own (tmpfs, root only) to fill for real; where mounting is refused the tests
// that need it are skipped with the reason.
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync, statfsSync, writeSync } from 'node:fs';
import path from 'node:path';
import { tempDir } from './temp-dir.ts';

export interface SmallDisk {
  /** Where it is mounted; undefined when it could not be (then `skip` says why). */
  mountPoint: string | undefined;
  skip: string | false;
  /** Unmounts it (retried while a process still holds it, then detached lazily); safe to call twice. */
  unmount(): void;
}

/** Mounts a tmpfs of `megabytes` under a fresh temporary folder. */
export function mountSmallDisk(label: string, megabytes: number): SmallDisk {
  const mountPoint = path.join(tempDir(label), 'small');
  mkdirSync(mountPoint, { recursive: true });
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${megabytes}m,mode=0755`, 'tmpfs', mountPoint], { stdio: 'pipe' });
  } catch (error) {
    const why = `cannot mount a tmpfs here (${(error as Error).message.split('\n')[0]}): run as root to test a full disk`;
    return { mountPoint: undefined, skip: why, unmount: () => undefined };
  }
  let mounted = true;
  return {
    mountPoint,
    skip: false,
    unmount() {
      if (!mounted) return;
      for (let attempt = 0; attempt < 20; attempt++) {
        try {
          execFileSync('umount', [mountPoint], { stdio: 'pipe' });
          mounted = false;
          return;
        } catch {
          execFileSync('sleep', ['0.25']);
        }
      }
      execFileSync('umount', ['-l', mountPoint], { stdio: 'pipe' });
      mounted = false;
    },
  };
}

/** Writes `file` until its file system has no room left (ENOSPC); returns the bytes written. Remove it to free them. */
export function fillUp(file: string): number {
  const chunk = Buffer.alloc(1024 * 1024, 0x5a);
  const fd = openSync(file, 'w');
  let written = 0;
  try {
    for (;;) written += writeSync(fd, chunk);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
  } finally {
    closeSync(fd);
  }
  // The last partial megabyte: the file system's remaining blocks, so it is full to the byte.
  const small = Buffer.alloc(4096, 0x5a);
  const tail = openSync(file, 'a');
  try {
    for (;;) written += writeSync(tail, small);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
  } finally {
    closeSync(tail);
  }
  return written;
}

/** Free bytes of the file system holding `folder`. */
export function freeOn(folder: string): number {
  const stats = statfsSync(folder);
  return stats.bavail * stats.bsize;
}

export function removeFiller(file: string): void {
  rmSync(file, { force: true });
}
