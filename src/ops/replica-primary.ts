// Which embedded server `replica create` copies, and with which password: the files can only be copied on the
// machine that holds them, so a remote primary is refused with the way to build its standby instead.
import path from 'node:path';
import type { Config } from '../config.ts';
import type { Database } from '../db/connect.ts';
import { SUPERUSER } from '../db/embedded-server.ts';
import { findRunningServer } from '../db/postmaster.ts';
import { redactUrl } from '../db/urls.ts';
import { ConfigError, InvalidInputError } from '../errors.ts';
import { clientToolsHint } from './pg-dump.ts';

function isEmbeddedPrimary(url: string, embeddedPort: number): boolean {
  try {
    const parsed = new URL(url);
    return ['127.0.0.1', 'localhost', '[::1]'].includes(parsed.hostname) && Number(parsed.port || 5432) === embeddedPort;
  } catch {
    throw new InvalidInputError('--primary: not a connection URL (postgresql://user@host:port/db)');
  }
}

/**
 * The embedded server to copy, with its superuser password: the one this command runs (password from
 * POSTGRES_PASSWORD or the data folder's file), or the one DATABASE_URL names when that is this machine's embedded
 * server of MORDOMO_DATA_DIR (password from the URL, which must name its superuser). Anything else is refused, as
 * is a `--primary` that is not this machine's embedded server.
 */
export function embeddedPrimary(database: Database, config: Config, primaryOption?: string): { pgData: string; port: number; password: string } {
  if (primaryOption !== undefined && !isEmbeddedPrimary(primaryOption, config.pgPort)) {
    throw new ConfigError(
      `${redactUrl(primaryOption)} is not this machine's embedded server: build its standby with pg_basebackup -R (${clientToolsHint(16)}) and a replication slot`,
    );
  }
  if (database.server) return { pgData: database.server.pgData, port: config.pgPort, password: database.server.superuserPassword() };
  const pgData = path.join(path.resolve(config.dataDir), 'pg');
  const running = findRunningServer(pgData);
  const url = config.databaseUrl ? new URL(config.databaseUrl) : undefined;
  if (url && running && isEmbeddedPrimary(config.databaseUrl!, running.port)) {
    if (decodeURIComponent(url.username) !== SUPERUSER) {
      throw new ConfigError(
        `replica create needs the embedded server's superuser: give DATABASE_URL as ${SUPERUSER}, or unset it (the password then comes from POSTGRES_PASSWORD or ${config.dataDir}/postgres-password)`,
      );
    }
    return { pgData, port: running.port, password: decodeURIComponent(url.password) };
  }
  throw new ConfigError(
    `replica create copies the embedded server's files; for a remote primary use pg_basebackup (${clientToolsHint(16)}) with a replication slot`,
  );
}
