import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';
import { ConfigError } from '../errors.ts';

/** The OS identity PostgreSQL runs under: `undefined` means "this process's own" (not root). */
export interface ServerUser {
  name: string;
  uid: number;
  gid: number;
}

function lookup(name: string): ServerUser | undefined {
  try {
    const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
    const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
    return { name, uid, gid };
  } catch {
    return undefined;
  }
}

/**
 * PostgreSQL refuses to run as root (containers, CI). As root we run it as `name`, creating that system user
 * when it does not exist, as the official Docker image does.
 */
export function resolveServerUser(name: string): ServerUser | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const existing = lookup(name);
  if (existing) return existing;
  try {
    execFileSync('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', name], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
  } catch (error) {
    throw new ConfigError(
      `running as root, PostgreSQL needs an unprivileged OS user "${name}", which does not exist and could not be ` +
        `created (${(error as Error).message.split('\n')[0]}); create it, or set MORDOMO_PG_OS_USER to an existing user`,
    );
  }
  const created = lookup(name);
  if (!created) throw new ConfigError(`OS user "${name}" was created but cannot be looked up`);
  return created;
}

/** True when `user` may search (`x`) `dir`, checked by the kernel itself rather than by reading mode bits. */
function canSearch(user: ServerUser, dir: string): boolean {
  return spawnSync('test', ['-x', dir], { uid: user.uid, gid: user.gid, stdio: 'ignore' }).status === 0;
}

/**
 * Fails with an actionable message when `user` cannot reach `target` (a `mkdtemp` folder is 0700, a home
 * directory often too): every ancestor must be searchable for the server to open its data directory.
 */
export function assertReachable(user: ServerUser, target: string, what: string): void {
  const ancestors: string[] = [];
  for (let dir = path.dirname(path.resolve(target)); ; dir = path.dirname(dir)) {
    ancestors.unshift(dir);
    if (dir === path.dirname(dir)) break;
  }
  for (const dir of ancestors) {
    if (!canSearch(user, dir)) {
      throw new ConfigError(
        `PostgreSQL runs as OS user "${user.name}" (this process is root) and cannot reach the ${what} ${target}: ` +
          `"${dir}" is not searchable by that user. Run "chmod o+x ${dir}", or choose a location under a ` +
          `world-searchable folder (MORDOMO_DATA_DIR), or run as a non-root user.`,
      );
    }
  }
}
