import { readFileSync, unwatchFile, watchFile } from 'node:fs';
import { isIP } from 'node:net';
import type { Server as TlsServer } from 'node:tls';
import { createSecureContext } from 'node:tls';
import type { HttpSettings } from '../config.ts';
import { ConfigError } from '../errors.ts';
import type { Logger } from '../logger.ts';

/** HSTS for every HTTPS answer: browsers that saw the dashboard once never fall back to plain HTTP (a year). */
export const HSTS = 'max-age=31536000';

/** How often the certificate files are looked at: a renewal (certbot, a mounted secret) shows up within this. */
const WATCH_INTERVAL_MS = 1_000;

/** Loopback names and addresses: the only places plain HTTP is served without MORDOMO_HTTP_PLAINTEXT. */
export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, '$1');
  if (bare === 'localhost' || bare === '::1') return true;
  return isIP(bare) === 4 && bare.startsWith('127.');
}

/**
 * Refuses plain HTTP on a non-loopback address: the admin token and tenants' keys would cross the network in the
 * clear. The message says both ways out.
 */
export function checkTransport(http: HttpSettings): void {
  if (http.tls || http.plaintextAccepted || isLoopback(http.host)) return;
  throw new ConfigError(
    `refusing to serve plain HTTP on ${http.host}: bearer tokens would cross the network unencrypted. ` +
      'Give a certificate with MORDOMO_TLS_CERT_FILE and MORDOMO_TLS_KEY_FILE (a 0600 file), ' +
      'or set MORDOMO_HTTP_PLAINTEXT=1 when a TLS-terminating proxy in front of the service does the encryption',
  );
}

/** One line for the start banner and `doctor`: how the API is reached. */
export function describeTransport(http: HttpSettings): string {
  if (http.tls) return `HTTPS with ${http.tls.certFile} (reloaded when the file changes or on SIGHUP)`;
  if (isLoopback(http.host)) return 'plain HTTP on loopback only';
  return `plain HTTP on ${http.host} (MORDOMO_HTTP_PLAINTEXT=1: a TLS-terminating proxy must be in front)`;
}

/** The certificate chain and key, read now (at start and at every reload). */
export function readCertificate(tls: NonNullable<HttpSettings['tls']>): { cert: Buffer; key: Buffer } {
  try {
    const pair = { cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) };
    // Parsed here so that a broken pair is refused with its file names, not as Node's bare OpenSSL message.
    createSecureContext(pair);
    return pair;
  } catch (error) {
    throw new ConfigError(`the TLS certificate ${tls.certFile} or its key ${tls.keyFile} cannot be used: ${(error as Error).message}`);
  }
}

/**
 * Serves a renewed certificate without a restart: the files are watched (polling, which also sees a symlink or a
 * mounted secret swapped under the same name), and SIGHUP reloads at once. A pair that does not load (a renewal
 * caught half-written) is logged and the previous certificate stays in use. Returns the function that stops it.
 */
export function reloadCertificateOnChange(server: TlsServer, tls: NonNullable<HttpSettings['tls']>, logger: Logger): () => void {
  const reload = (why: string) => {
    try {
      server.setSecureContext(readCertificate(tls));
      logger.info({ certFile: tls.certFile, why }, 'TLS certificate reloaded');
    } catch (error) {
      logger.warn({ reason: (error as Error).message }, 'TLS certificate not reloaded; the previous one stays in use');
    }
  };
  const onChange = () => reload('file changed');
  const onHangup = () => reload('SIGHUP');
  for (const file of [tls.certFile, tls.keyFile]) watchFile(file, { interval: WATCH_INTERVAL_MS, persistent: false }, onChange);
  process.on('SIGHUP', onHangup);
  return () => {
    for (const file of [tls.certFile, tls.keyFile]) unwatchFile(file, onChange);
    process.off('SIGHUP', onHangup);
  };
}
