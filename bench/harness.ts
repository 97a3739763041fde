// Shared by the benchmarks: a throw-away embedded server with the production settings (fsync on), and a timer.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type Kysely, sql } from 'kysely';
import { loadConfig } from '../src/config.ts';
import type { DB } from '../src/db/schema.ts';
import { type Database, openDatabase } from '../src/db/connect.ts';
import { createLogger } from '../src/logger.ts';
import { migrate } from '../src/migrate/runner.ts';
import { compileAppend, type NewMessage } from '../src/core/messages.ts';
import { batchStatement } from '../src/core/append-batches.ts';
import { CLI, cliEnv } from '../test/harness/cli.ts';
import { freePort } from '../test/harness/ports.ts';
import { tempDir } from '../test/harness/temp-dir.ts';

export async function benchDatabase(
  poolMax: number,
): Promise<{ database: Database; port: number; password: string; dataDir: string; cleanup: () => Promise<void> }> {
  const dataDir = tempDir('bench');
  const port = await freePort();
  const logger = createLogger('warn');
  const database = await openDatabase(
    // WAL archiving off: it copies finished segments in the background, off the measured paths, and loading
    // millions of rows would fill the disk with archived WAL of a throw-away server.
    loadConfig({
      MORDOMO_DATA_DIR: dataDir,
      MORDOMO_PG_PORT: port,
      MORDOMO_POOL_MAX: poolMax,
      POSTGRES_PASSWORD: 'bench',
      MORDOMO_STATEMENT_TIMEOUT_MS: 0,
      MORDOMO_WAL_ARCHIVE_DIR: 'off',
    }),
    logger,
  );
  await migrate(database.owner.pool, ['core'], logger);
  return {
    // The owner's connection throughout: the benchmarks set up data, vacuum and checkpoint, and pgbench beside
    // them connects as the same role, so both sides pay the same per-role costs.
    database: { ...database, ...database.owner },
    port,
    password: 'bench',
    dataDir,
    cleanup: async () => {
      await database.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Conversation n has a predictable id, so that load generators (and pgbench's numeric \set) can address it. */
export const idOf = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

/** Loads `conversations` conversations (ids from `idOf`) and `messages` messages spread over them, one a second. */
export async function loadConversations(db: Kysely<DB>, conversations: number, messages: number): Promise<void> {
  process.stderr.write(`loading ${messages} messages in ${conversations} conversations...\n`);
  await sql`INSERT INTO conversations (id) SELECT ('00000000-0000-4000-8000-' || lpad(n::text, 12, '0'))::uuid FROM generate_series(1, ${conversations}) n`.execute(
    db,
  );
  await sql`INSERT INTO messages (conversation_id, role, content, timestamp)
            SELECT ('00000000-0000-4000-8000-' || lpad((1 + i % ${conversations})::text, 12, '0'))::uuid,
                   (ARRAY['user', 'assistant'])[1 + i % 2], 'mensagem de teste número ' || i, now() - (${messages} - i) * interval '1 second'
              FROM generate_series(1, ${messages}) i`.execute(db);
  await sql`VACUUM ANALYZE`.execute(db);
}

/** Runs `work` on `clients` concurrent loops for `seconds`, returning completed operations per second. */
export async function throughput(clients: number, seconds: number, work: (client: number) => Promise<unknown>, latencies?: number[]): Promise<number> {
  const deadline = performance.now() + seconds * 1000;
  let done = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async (_, client) => {
      while (performance.now() < deadline) {
        const began = performance.now();
        await work(client);
        latencies?.push(performance.now() - began);
        done++;
      }
    }),
  );
  return done / ((performance.now() - start) / 1000);
}

/** CPU time used by the whole machine (every process and the kernel) so far, in µs, from /proc/stat. */
function machineBusyUs(): number {
  const [, ...ticks] = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).map(Number);
  const idle = ticks[3]! + ticks[4]!; // idle and iowait
  return ((ticks.reduce((sum, tick) => sum + tick, 0) - idle) * 1e6) / 100; // USER_HZ is 100 on Linux
}

export interface Costed {
  /** Operations per second. */
  rate: number;
  /** CPU of the whole machine per operation, µs: on a saturated machine, what sets the rate. */
  machineUs: number;
  /** CPU of this Node process per operation, µs (meaningless when the work runs in another process). */
  processUs: number;
  /** CPU of PostgreSQL's processes per operation, µs (when `costed` is given the data folder). */
  serverUs: number;
  /** CPU of the client per operation, µs: this Node process and the children it waited for (pgbench). */
  clientUs: number;
}

const CLOCK_TICK_US = 1e6 / 100; // USER_HZ is 100 on Linux

/** utime + stime (+ cutime + cstime: children reaped) of a process from /proc/<pid>/stat, in µs. */
export function processTicksUs(pid: number | 'self', withChildren: boolean): number {
  try {
    // The command name (field 2) may hold spaces; the fields after its closing parenthesis are fixed.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat
      .slice(stat.lastIndexOf(')') + 2)
      .split(' ')
      .map(Number);
    const [utime, stime, cutime, cstime] = [fields[11]!, fields[12]!, fields[13]!, fields[14]!];
    return (utime + stime + (withChildren ? cutime + cstime : 0)) * CLOCK_TICK_US;
  } catch {
    return 0; // exited between the listing and the read: its time is in the postmaster's cutime now
  }
}

function parentOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ', 2)[1]);
  } catch {
    return 0;
  }
}

/**
 * CPU used so far by the PostgreSQL server of `dataDir`, µs: the postmaster with the backends it has reaped
 * (pgbench's, which exit before the second reading), plus every live backend. A backend that exits between two
 * readings moves from the second term to the first, so differences stay right.
 */
export function serverBusyUs(dataDir: string): number {
  const postmaster = Number(readFileSync(path.join(dataDir, 'pg', 'postmaster.pid'), 'utf8').split('\n', 1)[0]);
  const children = readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry) && parentOf(Number(entry)) === postmaster)
    .map(Number);
  return processTicksUs(postmaster, true) + children.reduce((sum, pid) => sum + processTicksUs(pid, false), 0);
}

/** Runs `measure` (which returns operations per second over `seconds`) and adds what each operation cost in CPU. */
export async function costed(seconds: number, measure: () => Promise<number> | number, dataDir?: string): Promise<Costed> {
  const server = () => (dataDir ? serverBusyUs(dataDir) : Number.NaN);
  const [machineBefore, processBefore, serverBefore, clientBefore] = [machineBusyUs(), process.cpuUsage(), server(), processTicksUs('self', true)];
  const rate = await measure();
  const [machineUsed, processUsed] = [machineBusyUs() - machineBefore, process.cpuUsage(processBefore)];
  const [serverUsed, clientUsed] = [server() - serverBefore, processTicksUs('self', true) - clientBefore];
  const operations = rate * seconds;
  return {
    rate,
    machineUs: machineUsed / operations,
    processUs: (processUsed.user + processUsed.system) / operations,
    serverUs: serverUsed / operations,
    clientUs: clientUsed / operations,
  };
}

export function machine(): string {
  return `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
}

/**
 * The library's append of `messages` (compileAppend) as pgbench runs it: the messages' JSON inlined, the
 * conversation id computed from pgbench's random number by `conversationIdSql` (pgbench variables are numbers).
 */
export function pgbenchAppend(messages: NewMessage[], conversationIdSql: string): string {
  const append = compileAppend('00000000-0000-4000-8000-000000000001', messages);
  return append.sql.replace('$1::jsonb', `'${String(append.parameters[0]).replace(/'/g, "''")}'::jsonb`).replace('$2::uuid', conversationIdSql);
}

/** Runs a pgbench script file against the bench server and returns its transactions per second. */
export function pgbenchTps(file: string, server: { port: number; password: string }, clients: number, seconds: number): number {
  return pgbenchRun([`${file}`], server, clients, seconds).tps;
}

/**
 * Runs pgbench scripts together, each `file@weight` (pgbench picks one per transaction by weight); returns the total
 * transactions per second and each script's.
 */
export function pgbenchScripts(
  files: string[],
  server: { port: number; password: string },
  clients: number,
  seconds: number,
): { tps: number; perScript: number[] } {
  return pgbenchRun(files, server, clients, seconds);
}

function pgbenchRun(files: string[], server: { port: number; password: string }, clients: number, seconds: number): { tps: number; perScript: number[] } {
  const run = spawnSync(
    'pgbench',
    [
      '-n',
      '-M',
      'prepared',
      '-c',
      String(clients),
      '-j',
      '2',
      '-T',
      String(seconds),
      ...files.flatMap((file) => ['-f', file]),
      '-h',
      '127.0.0.1',
      '-p',
      String(server.port),
      '-U',
      'mordomo',
      'mordomo',
    ],
    { encoding: 'utf8', env: { ...process.env, PGPASSWORD: server.password } },
  );
  const tps = /tps = ([\d.]+) \(without initial connection time\)/.exec(run.stdout);
  if (!tps) throw new Error(`pgbench failed (is Debian's postgresql client installed?): ${run.stdout}\n${run.stderr}`);
  const perScript = [...run.stdout.matchAll(/SQL script \d+:[^\n]*\n[^\n]*tps = ([\d.]+)/g)].map((match) => Number(match[1]));
  return { tps: Number(tps[1]), perScript: perScript.length === files.length ? perScript : [Number(tps[1])] };
}

/** The middle of a set of measurements (the upper middle for an even count): steadier than one run on a shared machine. */
export const median = (samples: number[]) => [...samples].sort((a, b) => a - b)[Math.floor(samples.length / 2)]!;

/**
 * The coalesced append of `turns` turns of different conversations (core/append-batches.ts) as pgbench runs it, in
 * the transaction the library wraps it in: the messages' JSON inlined, conversation i drawn by pgbench from its own
 * slice of 1..`conversations` (so the turns' conversations differ, as a batch's mostly do).
 */
export function pgbenchBatch(messages: NewMessage[], turns: number, conversations: number): string {
  const slice = Math.floor(conversations / turns);
  const statement = batchStatement(Array.from({ length: turns }, (_, i) => ({ conversationId: idOf(i + 1), rows: messages as Record<string, unknown>[] })));
  const ids = Array.from({ length: turns }, (_, i) => `('00000000-0000-4000-8000-' || lpad(:c${i + 1}::text, 12, '0'))::uuid`).join(', ');
  const sets = Array.from({ length: turns }, (_, i) => `\\set c${i + 1} random(${i * slice + 1}, ${(i + 1) * slice})`).join('\n');
  const text = statement.sql
    .replace('$1::jsonb', `'${String(statement.parameters[0]).replace(/'/g, "''")}'::jsonb`)
    .replaceAll('$2::uuid[]', `ARRAY[${ids}]::uuid[]`)
    .replace(/\s+/g, ' ')
    .trim();
  return `${sets}\nBEGIN;\n${text};\nCOMMIT;\n`;
}

/** The V8 flags of `npm start` (package.json's start script), or BENCH_NODE_FLAGS (e.g. to add `--cpu-prof`). */
export const START_FLAGS =
  process.env.BENCH_NODE_FLAGS?.split(' ').filter(Boolean) ??
  (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).scripts.start as string).split(' ').filter((part) => part.startsWith('--'));

/** `mordomo-db start` in a process of its own, exactly as `npm start` runs it, with `env`; resolved once it serves. */
export function startBenchService(env: Record<string, string>): Promise<ChildProcess> {
  const child = spawn(process.execPath, [...START_FLAGS, CLI, 'start'], { env: cliEnv(env), stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Press Ctrl-C')) resolve(child);
    });
    child.on('exit', (code) => reject(new Error(`the service exited with ${code}: ${output}`)));
  });
}
