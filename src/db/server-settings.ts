import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PACKAGE_ROOT } from '../paths.ts';

/** The single settings file shared by the embedded server and the Docker image. */
export const SETTINGS_FILE = path.join(PACKAGE_ROOT, 'deploy', 'postgresql.conf');

export const PREFERRED_LOCALE = 'pt_BR.UTF-8';
export const FALLBACK_LOCALE = 'C.UTF-8';

/** Normalises "pt_BR.UTF-8" / "pt_BR.utf8" so that `locale -a`'s spelling compares equal. */
function normaliseLocale(name: string): string {
  return name.toLowerCase().replace('utf-8', 'utf8');
}

/** The locales this machine has installed (`locale -a`); empty if the command is missing. */
export function installedLocales(): Set<string> {
  try {
    const out = execFileSync('locale', ['-a'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return new Set(
      out
        .split('\n')
        .map((line) => normaliseLocale(line.trim()))
        .filter(Boolean),
    );
  } catch {
    return new Set();
  }
}

export interface EmbeddedSettings {
  /** Contents for `mordomo.conf` inside the data directory. */
  text: string;
  /** The locale actually used for `lc_*` and initdb. */
  locale: string;
  /** Set when the seed's pt_BR locale is missing here and C.UTF-8 is used instead. */
  warning: string | undefined;
}

/**
 * The embedded server's shared_buffers: a quarter of the machine's memory, between the seed's 256MB and 8GB. The
 * seed's fixed 256MB left a long history's pages in the kernel's cache, so every search that read them paid a copy
 * into PostgreSQL's buffers per page; a quarter keeps the hot part of a large history in PostgreSQL's own cache
 * while leaving the kernel room for the rest (figures: bench/README.md, scale). PostgreSQL touches its shared
 * memory only as it reads pages, so a household's small database costs no more memory than its size whatever
 * this says.
 */
export function sharedBuffersFor(totalMemoryBytes: number): string {
  return `${Math.min(8192, Math.max(256, Math.floor(totalMemoryBytes / 4 / 2 ** 20)))}MB`;
}

/**
 * Reads `deploy/postgresql.conf` and adapts it for the embedded server: shared_buffers sized to this machine (or
 * as configured), and the pt_BR locale lines fall back to C.UTF-8 where that locale is not installed (PostgreSQL
 * refuses to start on an unknown lc_messages).
 */
export function embeddedSettings(locales: Set<string> = installedLocales(), sharedBuffers: string = sharedBuffersFor(os.totalmem())): EmbeddedSettings {
  const source = readFileSync(SETTINGS_FILE, 'utf8').replace(
    /^shared_buffers\s*=.*$/m,
    `shared_buffers = ${sharedBuffers}  # mordomo-db: MORDOMO_PG_SHARED_BUFFERS, or a quarter of this machine's memory`,
  );
  if (locales.has(normaliseLocale(PREFERRED_LOCALE))) return { text: source, locale: PREFERRED_LOCALE, warning: undefined };
  const text = source.replace(/^(lc_\w+\s*=\s*)'pt_BR\.UTF-8'/gm, `$1'${FALLBACK_LOCALE}'`);
  return {
    text,
    locale: FALLBACK_LOCALE,
    warning: `locale ${PREFERRED_LOCALE} is not installed on this machine; PostgreSQL uses ${FALLBACK_LOCALE} for messages, numbers and dates (install the pt_BR locale to follow the seed)`,
  };
}

/**
 * WAL archiving into `dir` (point-in-time recovery): a segment is copied under a temporary name and renamed, so
 * the archive never holds half a segment; an existing identical copy counts as done (a crash between the copy and
 * PostgreSQL noting it), a different one is refused rather than overwritten. `archive_timeout` bounds how long
 * a quiet server keeps commits only in pg_wal.
 */
export function archiveSettings(dir: string): string {
  // Compressed: a segment forced out by archive_timeout on a quiet server is 16 MB of mostly zeros, a few KB
  // gzipped. Written under .part and renamed, so a crash never leaves a torn segment under the real name; a
  // segment archived already with the same content counts as done (a retry after a crash), another content fails.
  const target = `${dir}/%f.gz`;
  const command = `test -f "${target}" && gunzip -c "${target}" | cmp -s - "%p" || { test ! -f "${target}" && gzip -c "%p" > "${target}.part" && mv "${target}.part" "${target}"; }`;
  return `\n# mordomo-db: WAL archiving (MORDOMO_WAL_ARCHIVE_DIR)\narchive_mode = on\narchive_command = '${command}'\narchive_timeout = 300\n`;
}

/**
 * Settings the embedded server must have whatever the file says: its own port, logs inside its data directory
 * (the Docker path /var/log/postgresql does not exist here), TCP only (no socket in a shared /tmp).
 */
export function embeddedOverrides(port: number, listenAddresses: string[] = ['127.0.0.1']): string {
  // pg_ctl hands this string to a shell, hence the quoting (the addresses are IP addresses, localhost or *: config.ts).
  return `-p ${port} -c unix_socket_directories='' -c log_directory=log -c listen_addresses='${listenAddresses.join(',')}'`;
}
