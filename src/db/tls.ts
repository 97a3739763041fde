import { readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ConnectionOptions } from 'node:tls';
import type pg from 'pg';
import { ConfigError } from '../errors.ts';

/**
 * libpq's TLS settings in a connection URL (`sslmode`, `sslrootcert`, `sslcert`, `sslkey`), turned into
 * node-postgres' `ssl` option with libpq's meaning. node-postgres' own reading (pg-connection-string) differs: it
 * takes `require` and `verify-ca` as `verify-full` against the system's CAs, so a `require` that works with psql
 * fails here and a `verify-ca` checks a name libpq would not. The parameters are therefore taken out of the URL and
 * given as `ssl` instead (node-postgres lets the URL's win otherwise).
 *
 *   disable, allow, prefer, absent   no TLS (node-postgres cannot retry without it, as libpq's allow/prefer do)
 *   require                          encrypted, not verified; with a root certificate file, verified as verify-ca
 *   verify-ca                        encrypted, the chain verified against sslrootcert, the name not checked
 *   verify-full                      encrypted, chain and host name verified
 *
 * As in libpq, sslrootcert defaults to ~/.postgresql/root.crt, sslcert and sslkey to ~/.postgresql/postgresql.crt
 * and .key (sent when present), `sslrootcert=system` means the system's trusted CAs (with verify-full only), and a
 * Unix socket never uses TLS. As in libpq, PGSSLMODE, PGSSLROOTCERT, PGSSLCERT and PGSSLKEY stand in for a parameter the
 * URL does not give (the URL's win).
 */
export function pgConnectionOptions(url: string, env: NodeJS.ProcessEnv = process.env): Pick<pg.ClientConfig, 'connectionString' | 'ssl'> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { connectionString: url };
  }
  const params = parsed.searchParams;
  const fromEnv = (name: string) => env[name] || null;
  const mode = params.get('sslmode') ?? fromEnv('PGSSLMODE') ?? 'prefer';
  const given = {
    rootcert: params.get('sslrootcert') ?? fromEnv('PGSSLROOTCERT'),
    cert: params.get('sslcert') ?? fromEnv('PGSSLCERT'),
    key: params.get('sslkey') ?? fromEnv('PGSSLKEY'),
  };
  for (const name of ['sslmode', 'sslrootcert', 'sslcert', 'sslkey', 'ssl', 'uselibpqcompat']) params.delete(name);
  const connectionString = parsed.toString();
  if (!['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'].includes(mode)) {
    throw new ConfigError(`invalid sslmode "${mode}" in a database URL: use disable, require, verify-ca or verify-full`);
  }
  const host = params.get('host') ?? parsed.hostname;
  if (mode === 'disable' || mode === 'allow' || mode === 'prefer' || host.startsWith('/')) return { connectionString, ssl: false };

  const home = path.join(os.homedir(), '.postgresql');
  const ssl: ConnectionOptions = {};
  const certFile = given.cert ?? path.join(home, 'postgresql.crt');
  if (given.cert !== null || exists(certFile)) {
    ssl.cert = readTlsFile(certFile, 'client certificate (sslcert)');
    const keyFile = given.key ?? path.join(home, 'postgresql.key');
    checkKeyPermissions(keyFile);
    ssl.key = readTlsFile(keyFile, 'client key (sslkey)');
  }

  const rootFile = given.rootcert ?? path.join(home, 'root.crt');
  if (rootFile === 'system') {
    if (mode !== 'verify-full') throw new ConfigError(`sslmode=${mode} may not be used with sslrootcert=system: use sslmode=verify-full`);
    return { connectionString, ssl }; // Node's own trusted CAs, chain and name checked
  }
  const haveRoot = given.rootcert !== null || exists(rootFile);
  if (mode === 'require' && !haveRoot) return { connectionString, ssl: { ...ssl, rejectUnauthorized: false } };
  if (!haveRoot) {
    throw new ConfigError(
      `sslmode=${mode} needs the server's CA: the root certificate file "${rootFile}" does not exist. ` +
        'Give it with sslrootcert=<file>, use the system CAs with sslrootcert=system, or use sslmode=require (no verification)',
    );
  }
  ssl.ca = readTlsFile(rootFile, 'root certificate (sslrootcert)');
  // require with a root certificate and verify-ca check the chain only, as libpq does.
  if (mode !== 'verify-full') ssl.checkServerIdentity = () => undefined;
  return { connectionString, ssl };
}

function exists(file: string): boolean {
  try {
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

function readTlsFile(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read the ${what} file "${file}" named by a database URL (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

/** libpq's rule for sslkey: no access for group or others (0600), or 0640 when the file belongs to root. */
function checkKeyPermissions(file: string): void {
  let stats: ReturnType<typeof statSync>;
  try {
    stats = statSync(file);
  } catch {
    throw new ConfigError(`the client key file (sslkey) "${file}" does not exist`);
  }
  const mode = Number(stats.mode) & 0o777;
  const allowed = Number(stats.uid) === 0 ? 0o640 : 0o600;
  if (mode & ~allowed) {
    throw new ConfigError(`the client key file "${file}" has group or world access (mode ${mode.toString(8)}): run "chmod 600 ${file}"`);
  }
}
