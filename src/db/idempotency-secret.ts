import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { type Config, readKeyFile } from '../config.ts';
import { ConfigError } from '../errors.ts';

/**
 * The secret that keys idempotency fingerprints: MORDOMO_IDEMPOTENCY_SECRET(_FILE) when given, else the one kept in
 * the data folder's `idempotency-secret` (0600), generated on first use as the embedded server's passwords are, so a
 * home install needs no step. Its own secret rather than one derived from the encryption key: the core has no
 * encryption key, and rotating that key must not refuse the retries of the day before.
 */
export function idempotencySecret(config: Pick<Config, 'idempotencySecret' | 'idempotencySecretFile'>): string {
  if (config.idempotencySecret) return config.idempotencySecret;
  const file = config.idempotencySecretFile;
  try {
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    // 'wx': of two processes starting together, one writes it and both read that one.
    writeFileSync(file, `${randomBytes(32).toString('base64url')}\n`, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EEXIST') {
      throw new ConfigError(`cannot keep the idempotency secret in ${file} (${code}): make its folder writable, or set MORDOMO_IDEMPOTENCY_SECRET_FILE`);
    }
  }
  return readKeyFile(file);
}
