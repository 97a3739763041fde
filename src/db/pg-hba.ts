// The embedded server's pg_hba.conf when it is on the network (MORDOMO_PG_CLIENT_NETWORKS): written from the
// settings at each start, so that a network taken out of them is no longer let in.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const MARKER = '# mordomo-db: written from MORDOMO_PG_CLIENT_NETWORKS at each start; edits here are lost.';
const LOOPBACK = ['127.0.0.1/32', '::1/128'];

/** Whether the settings take the plain loopback lines out, so that this machine's own clients must use TLS too. */
export function tlsForcedOnLoopback(networks: string[]): boolean {
  return networks.includes(LOOPBACK[0]!);
}

/**
 * pg_hba.conf's lines: this machine's own connections as initdb writes them (plain, over loopback; the Unix
 * socket is off), then for each client network `hostssl` lines only, for sessions and for replication (a standby).
 * A loopback network named in the settings loses its plain lines: TLS is then forced on loopback too.
 */
export function hbaText(networks: string[]): string {
  const lines = [MARKER, '# TYPE   DATABASE     USER  ADDRESS  METHOD'];
  for (const address of LOOPBACK.filter((a) => !networks.includes(a))) {
    lines.push(`host     all          all   ${address}  scram-sha-256`, `host     replication  all   ${address}  scram-sha-256`);
  }
  for (const network of networks) {
    lines.push(`hostssl  all          all   ${network}  scram-sha-256`, `hostssl  replication  all   ${network}  scram-sha-256`);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * Writes pg_hba.conf for `networks`. Without networks a file the package did not write (initdb's, or the
 * operator's own) is left as it is; the first time the package writes it, the previous one is kept beside it as
 * pg_hba.conf.before-mordomo.
 */
export function writeHba(pgData: string, networks: string[]): string | undefined {
  const file = path.join(pgData, 'pg_hba.conf');
  const current = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const ours = current.startsWith(MARKER);
  if (!networks.length && !ours) return undefined;
  const text = hbaText(networks);
  if (text === current) return file;
  if (current && !ours) renameSync(file, `${file}.before-mordomo`);
  writeFileSync(file, text, { mode: 0o600 });
  return file;
}
