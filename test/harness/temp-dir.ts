import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const made: string[] = [];

// A process (a test file, a benchmark) that ends well removes every folder it made; one that fails keeps them for
// inspection (their paths are in its output).
process.on('exit', (code) => {
  if (code !== 0) return;
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

/**
 * A fresh temporary folder the server's OS user can traverse: mkdtemp makes it 0700, which PostgreSQL running as
 * `postgres` (when tests run as root) could not enter. Removed when the process exits with 0.
 */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), `mordomo-${prefix}-`));
  chmodSync(dir, 0o711);
  made.push(dir);
  return dir;
}
