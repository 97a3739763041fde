import type pg from 'pg';
import type { Config } from '../config.ts';
import { query } from '../db/client.ts';
import type { Finding } from './doctor.ts';

const LOOPBACK = /^(127\.|::1$|localhost$)/;

/** How the HTTP API is reached: HTTPS, loopback only, or plain HTTP accepted behind a proxy (MORDOMO_HTTP_PLAINTEXT). */
export function httpTransport(config: Config): Finding {
  const check = 'http transport';
  if (config.http.tls) return { check, status: 'ok', detail: `HTTPS with ${config.http.tls.certFile}`, fix: '' };
  if (LOOPBACK.test(config.http.host)) return { check, status: 'ok', detail: `plain HTTP on ${config.http.host} (loopback only)`, fix: '' };
  return {
    check,
    status: 'warn',
    detail: `plain HTTP on ${config.http.host}, accepted by MORDOMO_HTTP_PLAINTEXT=1`,
    fix: 'make sure a TLS-terminating proxy is the only way in, or give MORDOMO_TLS_CERT_FILE and MORDOMO_TLS_KEY_FILE',
  };
}

/**
 * Whether this connection to PostgreSQL is encrypted (pg_stat_ssl), warning when it crosses a network in the clear:
 * a server that is neither on loopback nor behind a Unix socket.
 */
export async function databaseTransport(pool: pg.Pool): Promise<Finding> {
  const check = 'database transport';
  const { rows } = await query<{ ssl: boolean | null; server: string | null; version: string | null }>(
    pool,
    'SELECT s.ssl, host(inet_server_addr()) AS server, s.version FROM pg_stat_ssl s WHERE s.pid = pg_backend_pid()',
  );
  const [row] = rows;
  if (!row) return { check, status: 'ok', detail: 'not known (pg_stat_ssl shows nothing for this session)', fix: '' };
  if (row.ssl) return { check, status: 'ok', detail: `encrypted (${row.version})`, fix: '' };
  if (row.server === null || LOOPBACK.test(row.server)) return { check, status: 'ok', detail: 'not encrypted, on this machine only', fix: '' };
  return {
    check,
    status: 'warn',
    detail: `the connection to PostgreSQL at ${row.server} is NOT encrypted`,
    fix: 'add sslmode=verify-full&sslrootcert=<the server CA file> to DATABASE_URL (and the other database URLs), and hostssl lines to its pg_hba.conf',
  };
}
