import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

/** What `postmaster.pid` says about a server that may still be running from an earlier, killed process. */
export interface RunningServer {
  pid: number;
  port: number;
}

/** True when `pid` names a live process (signal 0 probes without signalling). */
export function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to another user, as the server does when we are not root.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function looksLikePostgres(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('postgres');
  } catch {
    return true; // no /proc (macOS): trust the pid file and the liveness probe
  }
}

/**
 * Reads `postmaster.pid` (line 1 pid, line 4 port, line 8 status) and returns the server it describes when that
 * process is alive and is PostgreSQL. A pid file left by a killed server, whose pid may since have been reused,
 * yields `undefined`; PostgreSQL removes such a stale file itself on its next start.
 */
export function findRunningServer(pgData: string): RunningServer | undefined {
  const file = path.join(pgData, 'postmaster.pid');
  if (!existsSync(file)) return undefined;
  const lines = readFileSync(file, 'utf8').split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!isAlive(pid) || !looksLikePostgres(pid)) return undefined;
  return { pid, port };
}

/** Resolves once no live PostgreSQL holds `pgData` (one that stopped itself may still be exiting), or after `timeoutMs`. */
export async function serverGone(pgData: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (findRunningServer(pgData) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
}

/** Resolves when something accepts TCP connections on 127.0.0.1:`port`. */
export function portInUse(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.setTimeout(1000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
}
