import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { PACKAGE_ROOT } from '../paths.ts';
import type { Module } from '../config.ts';
import { MigrationError } from '../errors.ts';

export const MIGRATIONS_ROOT = path.join(PACKAGE_ROOT, 'migrations');

/** One `migrations/<module>/NNN_name.sql` file. */
export interface MigrationFile {
  module: Module;
  version: number;
  name: string;
  file: string;
  sql: string;
  checksum: string;
}

const FILE_NAME = /^(\d{3})_([a-z0-9_]+)\.sql$/;

/**
 * Line endings are normalised before hashing so that a checkout with CRLF (Windows, some editors) is not taken for
 * an edited migration.
 */
export function checksum(sql: string): string {
  return createHash('sha256').update(sql.replace(/\r\n/g, '\n')).digest('hex');
}

// The service's watchdog compares the files with the database every few seconds: a file is read and hashed again
// only when its size or modification time (to the nanosecond) changed since the last read.
const read = new Map<string, { stamp: string; sql: string; checksum: string }>();

function readOnce(file: string): { sql: string; checksum: string } {
  const stat = statSync(file, { bigint: true });
  const stamp = `${stat.size}:${stat.mtimeNs}:${stat.ino}`;
  const known = read.get(file);
  if (known?.stamp === stamp) return known;
  const sql = readFileSync(file, 'utf8');
  const fresh = { stamp, sql, checksum: checksum(sql) };
  read.set(file, fresh);
  return fresh;
}

/** The migration files of `module`, in version order; refuses gaps, duplicates and badly named files. */
export function readMigrations(module: Module, root: string = MIGRATIONS_ROOT): MigrationFile[] {
  const dir = path.join(root, module);
  if (!existsSync(dir)) throw new MigrationError(`no migrations folder for module "${module}" (${dir})`);
  const files = readdirSync(dir)
    .filter((name) => name.endsWith('.sql'))
    .sort();
  return files.map((name, index) => {
    const match = FILE_NAME.exec(name);
    if (!match) throw new MigrationError(`migration file ${module}/${name} is not named NNN_lowercase_name.sql`);
    const version = Number(match[1]);
    if (version !== index + 1) {
      throw new MigrationError(`migration ${module}/${name} breaks the sequence: expected version ${String(index + 1).padStart(3, '0')}`);
    }
    const file = path.join(dir, name);
    const { sql, checksum } = readOnce(file);
    return { module, version, name: match[2]!, file, sql, checksum };
  });
}
