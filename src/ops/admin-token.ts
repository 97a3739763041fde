import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { HttpSettings } from '../config.ts';
import { ConfigError } from '../errors.ts';
import { writeFileAtomic } from '../files.ts';

/** Writes a new random admin token to `file` (0600, its folder 0700) and returns it. */
export function writeTokenFile(file: string): string {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const token = randomBytes(32).toString('base64url');
  writeFileAtomic(file, `${token}\n`); // a reader sees the old token or the new one, never half of one
  return token;
}

/** Replaces the admin token file with a new random token; the running service picks it up on its next request. */
export function rotateAdminToken(settings: HttpSettings): string {
  if (settings.adminToken) {
    throw new ConfigError('the admin token comes from MORDOMO_ADMIN_TOKEN; change that variable and restart the service instead');
  }
  writeTokenFile(settings.adminTokenFile);
  return settings.adminTokenFile;
}
