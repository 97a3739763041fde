import { chmodSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * A fresh temporary folder the server's OS user can traverse: mkdtemp makes it 0700, which PostgreSQL running as
 * `postgres` (when tests run as root) could not enter.
 */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), `mordomo-${prefix}-`));
  chmodSync(dir, 0o711);
  return dir;
}
