import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import type pg from 'pg';
import { serverEnvironment } from '../db/embedded-server.ts';
import { ConfigError, MordomoError } from '../errors.ts';
import { query } from '../db/client.ts';
import { commitFile, fileStamp } from '../files.ts';

/**
 * `backup --format pg_dump`: a standard custom-format archive for people who restore with pg_restore. It needs a
 * pg_dump of the server's major version (an older one refuses a newer server; a newer one writes archives older
 * pg_restores cannot read); the embedded server ships none, so the option says what to install instead.
 */
function pgDumpMajor(binary: string): number | undefined {
  const run = spawnSync(binary, ['--version'], { encoding: 'utf8' });
  const match = /\(PostgreSQL\) (\d+)/.exec(run.stdout ?? '');
  return run.status === 0 && match ? Number(match[1]) : undefined;
}

/**
 * Where PostgreSQL `major`'s client tools (pg_dump, pg_basebackup) come from on Debian: Debian 12 packages only
 * PostgreSQL 15, so for 16 it is the PostgreSQL project's own apt repository (the embedded binaries from npm have
 * the server, not the client tools).
 */
export function clientToolsHint(major: number): string {
  return major === 15
    ? 'Debian 12: apt-get install postgresql-client-15'
    : `Debian 12 packages only PostgreSQL 15: add the PostgreSQL apt repository (https://wiki.postgresql.org/wiki/Apt), then apt-get install postgresql-client-${major}`;
}

/** The pg_dump to use for a server of `major`: the one on PATH, or Debian's versioned one; else a ConfigError. */
export function findPgDump(major: number, candidates = ['pg_dump', `/usr/lib/postgresql/${major}/bin/pg_dump`]): string {
  const found: string[] = [];
  for (const binary of candidates) {
    const version = pgDumpMajor(binary);
    if (version === major) return binary;
    if (version !== undefined) found.push(`pg_dump ${version} (${binary})`);
  }
  throw new ConfigError(
    `--format pg_dump needs pg_dump ${major}, the server's major version; ${found.length ? `found only ${found.join(', ')}` : 'no pg_dump is on PATH'}. ` +
      `Install the PostgreSQL ${major} client tools (${clientToolsHint(major)}), or use the default format, which needs no pg_dump`,
  );
}

/** Runs pg_dump -Fc into `outDir`, written under a temporary name, fsynced, then renamed. */
export async function pgDumpBackup(pool: pg.Pool, databaseUrl: string, outDir: string): Promise<{ file: string; bytes: number }> {
  const { rows } = await query<{ v: string }>(pool, `SELECT current_setting('server_version_num') AS v`);
  const binary = findPgDump(Math.floor(Number(rows[0]!.v) / 10_000));
  mkdirSync(outDir, { recursive: true, mode: 0o700 });
  const file = path.join(outDir, `mordomo-${fileStamp(new Date())}.dump`);
  const partial = `${file}.partial`;
  // The password travels in the environment, never on a command line others can read in `ps`.
  const url = new URL(databaseUrl);
  const password = decodeURIComponent(url.password);
  url.password = '';
  const run = spawnSync(binary, ['--format=custom', '--file', partial, url.toString()], {
    encoding: 'utf8',
    env: { ...serverEnvironment(), PGPASSWORD: password },
  });
  if (run.status !== 0) {
    rmSync(partial, { force: true });
    throw new MordomoError('internal', `pg_dump failed: ${(run.stderr || run.error?.message || '').trim().split('\n').slice(-2).join(' | ')}`);
  }
  commitFile(partial, file);
  if (!existsSync(file)) throw new MordomoError('internal', `pg_dump wrote nothing to ${file}`);
  return { file, bytes: statSync(file).size };
}
