import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { freePort } from './ports.ts';
import { tempDir } from './temp-dir.ts';

/** Debian's PostgreSQL 15 (`apt-get install postgresql-15`), for comparisons with its pg_dump and pg_restore. */
export const PG15_BIN = '/usr/lib/postgresql/15/bin';

export interface Pg15Server {
  /** Connection string of a database on it (trust authentication, user mordomo). */
  url(database: string): string;
  stop(): void;
}

/** Starts a throw-away PostgreSQL 15 in a temporary folder, as the `postgres` OS user when running as root. */
export async function startPg15(settings = ''): Promise<Pg15Server> {
  if (!existsSync(`${PG15_BIN}/initdb`)) throw new Error(`Debian's PostgreSQL 15 is not installed (${PG15_BIN}): apt-get install postgresql-15`);
  const dir = tempDir('pg15');
  const data = path.join(dir, 'data');
  const asUser = process.getuid?.() === 0 ? ['runuser', '-u', 'postgres', '--'] : [];
  if (asUser.length) chownSync(dir, Number(execFileSync('id', ['-u', 'postgres']).toString()), Number(execFileSync('id', ['-g', 'postgres']).toString()));
  const run = (command: string, args: string[]) =>
    execFileSync(asUser[0] ?? command, [...asUser.slice(1), ...(asUser.length ? [command] : []), ...args], { stdio: 'pipe' });
  const port = await freePort();
  run(`${PG15_BIN}/initdb`, ['-D', data, '-U', 'mordomo', '--auth=trust', '-E', 'UTF8', '--locale=C.UTF-8']);
  run(`${PG15_BIN}/pg_ctl`, [
    'start',
    '-D',
    data,
    '-w',
    '-l',
    path.join(data, 'log.txt'),
    '-o',
    `-p ${port} -c unix_socket_directories='' -c listen_addresses=127.0.0.1 ${settings}`,
  ]);
  return {
    url: (database) => `postgresql://mordomo@127.0.0.1:${port}/${database}`,
    stop: () => {
      run(`${PG15_BIN}/pg_ctl`, ['stop', '-D', data, '-m', 'fast', '-w']);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
