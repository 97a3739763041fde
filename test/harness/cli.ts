import { type ChildProcess, spawn } from 'node:child_process';
import { after } from 'node:test';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { findRunningServer } from '../../src/db/postmaster.ts';
import { freePort } from './ports.ts';
import { tempDir } from './temp-dir.ts';

export const CLI = fileURLToPath(new URL('../../bin/mordomo-db.js', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Environment for a CLI run that ignores whatever the developer's shell exports. */
export function cliEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  // Port 0: each service a test starts listens on a free port of its own (it prints which).
  const env: NodeJS.ProcessEnv = { ...process.env, MORDOMO_LOG_LEVEL: 'warn', MORDOMO_HTTP_PORT: '0' };
  for (const key of ['DATABASE_URL', 'POSTGRES_PASSWORD', 'MORDOMO_DATA_DIR', 'MORDOMO_PG_PORT', 'MORDOMO_MODULES', 'MORDOMO_ADMIN_TOKEN']) delete env[key];
  return { ...env, ...extra };
}

/** Runs `mordomo-db ARGS` to completion. */
export function runCli(args: string[], env: Record<string, string>): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: cliEnv(env) });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Starts `mordomo-db start` and resolves once it prints that it is ready; `api` is the URL it printed. */
export function startService(env: Record<string, string>): Promise<{ child: ChildProcess; output: () => string; api: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'start'], { env: cliEnv(env) });
    let output = '';
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const api = /dashboard:\s+(http:\/\/\S+?)\/\n/.exec(output)?.[1];
      if (output.includes('Press Ctrl-C to stop') && api) resolve({ child, output: () => output, api });
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('close', (code) => reject(new Error(`mordomo-db start exited with ${code} before it was ready:\n${output}`)));
  });
}

/** Resolves with the exit code once `child` has exited. */
export function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

/** After the file's tests, stops any server still running on these data directories, whatever a failure skipped. */
export function stopServersAfter(...pgDataDirs: string[]): void {
  after(() => {
    for (const dir of pgDataDirs) {
      const running = findRunningServer(dir);
      if (running) process.kill(running.pid, 'SIGINT');
    }
  });
}

/**
 * Folders and ports for a primary (embedded, run through the CLI with `env`) and a standby beside it, in a fresh
 * temporary folder; whatever server is left on either is stopped after the file's tests.
 */
export async function primaryAndStandby(label: string) {
  const root = tempDir(label);
  const dataDir = path.join(root, 'primary');
  const standbyDir = path.join(root, 'standby');
  const port = await freePort();
  const standbyPort = await freePort();
  stopServersAfter(path.join(dataDir, 'pg'), path.join(standbyDir, 'pg'));
  return { root, dataDir, standbyDir, port, standbyPort, env: { MORDOMO_DATA_DIR: dataDir, MORDOMO_PG_PORT: String(port) } };
}

/**
 * Runs `mordomo-db <args>` and sends `signal` the moment its standard output matches `pattern` (in the same event
 * as the output, so the signal lands right after what printed it); resolves with how it ended.
 */
export async function signalOnOutput(args: string[], env: Record<string, string>, pattern: RegExp, signal: NodeJS.Signals): Promise<CliResult> {
  const child = spawn(process.execPath, [CLI, ...args], { env: cliEnv(env) });
  const code = exited(child);
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout.on('data', (chunk: Buffer) => {
    const matched = pattern.test(stdout);
    stdout += chunk.toString();
    if (!matched && pattern.test(stdout)) child.kill(signal);
  });
  return { code: await code, stdout, stderr };
}

/**
 * Runs `mordomo-db ARGS`, waits until `working()` says the command is inside its work (waiting on a lock the test
 * holds, say), sends it `signal`, waits for its log to say it is stopping, then runs `release` (the lock let go;
 * given the command's exit, to tell whether it ended first), and resolves with how it ended. No sleeps: each step waits for what the command did.
 */
export async function interruptCli(
  args: string[],
  env: Record<string, string>,
  options: { working: () => Promise<boolean>; signal?: NodeJS.Signals; release?: (ended: Promise<number | null>) => Promise<void> },
): Promise<CliResult> {
  const { eventually } = await import('./assertions.ts');
  const child = spawn(process.execPath, [CLI, ...args], { env: cliEnv({ MORDOMO_LOG_LEVEL: 'info', ...env }) });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = exited(child);
  try {
    await eventually(`mordomo-db ${args[0]} to be at work`, options.working);
    child.kill(options.signal ?? 'SIGINT');
    await eventually(`mordomo-db ${args[0]} to take the signal`, async () => /stopping/.test(stderr) || child.exitCode !== null);
  } finally {
    await options.release?.(code);
  }
  return { code: await code, stdout, stderr };
}
