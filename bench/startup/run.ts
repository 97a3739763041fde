// bench/startup: how long `mordomo-db start` takes from a fresh folder to /readyz 200 (first start) and again on the
// same folder (restart), split into phases from the service's own log lines; `--version`, `--help`, and `search`
// against the running service; each beside a floor measured in the same run: `node -e 0` for the CLI, and bare
// initdb + pg_ctl start of the same PostgreSQL binaries for the server. Medians of --runs runs, per Node binary
// (--node, repeatable; default the one running this), with Node's compile cache on and off where Node has it.
// Usage: npm run bench:startup [-- --runs 5 --node /path/to/node22 --node /path/to/node24]
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { binaries } from '../../src/db/embedded-server.ts';
import { cliEnv } from '../../test/harness/cli.ts';
import { freePort } from '../../test/harness/ports.ts';
import { machine, median } from '../harness.ts';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' }, node: { type: 'string', multiple: true } } });
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) {
  process.stderr.write('bench:startup: --runs takes a whole number of at least 1\n');
  process.exit(2);
}
const nodes = values.node?.length ? values.node : [process.execPath];
const root = path.join(import.meta.dirname, '..', '..');
const CLI = path.join(root, 'bin', 'mordomo-db.js');

function newest(dir: string): number {
  return Math.max(
    0,
    ...readdirSync(dir, { withFileTypes: true }).map((e) => (e.isDirectory() ? newest(path.join(dir, e.name)) : statSync(path.join(dir, e.name)).mtimeMs)),
  );
}
const compiled = path.join(root, 'dist', 'cli.js');
if (!existsSync(compiled) || statSync(compiled).mtimeMs < newest(path.join(root, 'src'))) {
  process.stderr.write('bench:startup: dist/ is older than src/ (the CLI would run the sources through tsx): run `npm run build` first\n');
  process.exit(2);
}

const ms = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e6;
const scratch = () => mkdtempSync(path.join(os.tmpdir(), 'mordomo-startup-'));

/** Wall time of one command to its exit. */
function timed(command: string, args: string[], env: NodeJS.ProcessEnv): number {
  const start = process.hrtime.bigint();
  const result = spawnSync(command, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} exited ${result.status}: ${result.stderr}`);
  return ms(start);
}

interface Started {
  child: ChildProcess;
  phases: Record<string, number>;
}

/** `mordomo-db start` on `dataDir` until /readyz answers 200; phases in ms since the spawn, from its log lines. */
async function start(node: string, dataDir: string, env: NodeJS.ProcessEnv, pgPort: number): Promise<Started> {
  const httpPort = await freePort();
  const spawnedAt = Date.now();
  const started = process.hrtime.bigint();
  const child = spawn(node, ['--max-old-space-size=128', '--max-semi-space-size=8', CLI, 'start'], {
    env: {
      ...env,
      MORDOMO_DATA_DIR: dataDir,
      MORDOMO_PG_PORT: String(pgPort),
      MORDOMO_HTTP_PORT: String(httpPort),
      MORDOMO_LOG_LEVEL: 'info',
      MORDOMO_LOG_FORMAT: 'json',
    },
  });
  let log = '';
  child.stdout!.on('data', (chunk: Buffer) => (log += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (log += chunk.toString()));
  let exited = false;
  child.once('exit', () => (exited = true));
  for (;;) {
    if (exited) throw new Error(`mordomo-db start exited before it was ready:\n${log}`);
    const ready = await fetch(`http://127.0.0.1:${httpPort}/readyz`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ready) break;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const total = ms(started);
  const at = (message: RegExp, last = false) => {
    const lines = log.split('\n').filter((line) => message.test(line));
    const line = last ? lines.at(-1) : lines[0];
    const time = line ? (JSON.parse(line) as { time: number }).time : undefined;
    return time === undefined ? Number.NaN : time - spawnedAt;
  };
  const pgStarted = at(/embedded PostgreSQL started|adopting|joining/);
  const schemaDone = at(/"job":"size"/);
  const listening = at(/Server listening/);
  const initdbAt = at(/initialising a new PostgreSQL data directory/);
  return {
    child,
    phases: {
      // Until the first line of the server's start (initdb's, or the server started): Node loading the modules the
      // database needs; the HTTP API's load from then on, beside PostgreSQL.
      'node + modules': Number.isNaN(initdbAt) ? Number.NaN : initdbAt,
      'to PostgreSQL up': pgStarted,
      'migrations + jobs': schemaDone - pgStarted,
      'HTTP API built + listening': listening - schemaDone,
      '/readyz 200 (total)': total,
    },
  };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const gone = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await gone;
}

/** Bare initdb + pg_ctl start -w (+ stop) of the same binaries, as the OS user the service would use. */
async function serverFloor(pgPort: number): Promise<{ initdb: number; start: number; restart: number }> {
  const { initdb, pg_ctl } = await binaries();
  const dir = scratch();
  chmodSync(dir, 0o777);
  const pw = path.join(dir, 'pw');
  writeFileSync(pw, 'floor\n', { mode: 0o644 });
  const asUser = (bin: string, args: string[]): [string, string[]] =>
    process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args];
  const pgData = path.join(dir, 'pg');
  const env = { ...process.env, LC_ALL: 'C.UTF-8' };
  try {
    const initMs = timed(
      ...asUser(initdb, [
        `--pgdata=${pgData}`,
        '--username=postgres',
        `--pwfile=${pw}`,
        '--auth=scram-sha-256',
        '--encoding=UTF8',
        '--locale=C.UTF-8',
        '--data-checksums',
      ]),
      env,
    );
    const options = `-p ${pgPort} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${dir}`;
    const startMs = timed(...asUser(pg_ctl, ['start', '-D', pgData, '-w', '-o', options, '-l', path.join(dir, 'log')]), env);
    timed(...asUser(pg_ctl, ['stop', '-D', pgData, '-m', 'fast', '-w']), env);
    const restartMs = timed(...asUser(pg_ctl, ['start', '-D', pgData, '-w', '-o', options, '-l', path.join(dir, 'log')]), env);
    timed(...asUser(pg_ctl, ['stop', '-D', pgData, '-m', 'fast', '-w']), env);
    return { initdb: initMs, start: startMs, restart: restartMs };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const hasCompileCache = (node: string) =>
  spawnSync(node, ['-p', "typeof require('node:module').enableCompileCache"], { encoding: 'utf8' }).stdout.trim() === 'function';

const fmt = (n: number) => (Number.isNaN(n) ? '-' : `${Math.round(n)} ms`.padStart(8));
const rows: string[] = [];
const row = (label: string, samples: number[], extra = '') => {
  const value = median(samples);
  rows.push(`  ${label.padEnd(44)} ${fmt(value)}  (runs: ${samples.map((s) => Math.round(s)).join(', ')})${extra}`);
  process.stdout.write(`${rows.at(-1)}\n`);
};

process.stdout.write(
  `bench:startup  ${machine()}  runs=${runs}  load average ${os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}\n`,
);
const pgPort = await freePort();
const floors: { initdb: number[]; start: number[]; restart: number[] } = { initdb: [], start: [], restart: [] };
for (let i = 0; i < runs; i++) {
  const floor = await serverFloor(pgPort);
  floors.initdb.push(floor.initdb);
  floors.start.push(floor.start);
  floors.restart.push(floor.restart);
}
process.stdout.write('floor: the same PostgreSQL binaries, bare\n');
row('initdb', floors.initdb);
row('pg_ctl start -w (fresh folder)', floors.start);
row('pg_ctl start -w (again)', floors.restart);
row(
  'initdb + start (first-start floor)',
  floors.initdb.map((n, i) => n + floors.start[i]!),
);

for (const node of nodes) {
  const version = spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim();
  const cacheModes = hasCompileCache(node) ? ['compile cache on', 'compile cache off'] : ['no compile cache in this Node'];
  for (const mode of cacheModes) {
    process.stdout.write(`\nNode ${version}, ${mode}\n`);
    const cacheDir = scratch();
    const env = cliEnv({
      NODE_COMPILE_CACHE: cacheDir,
      ...(mode === 'compile cache off' ? { NODE_DISABLE_COMPILE_CACHE: '1' } : {}),
    });
    // The cache fills on the first run of each command line; the medians are of the runs after it, as a user's are.
    timed(node, [CLI, '--version'], env);
    row(
      'node -e 0 (floor)',
      Array.from({ length: runs }, () => timed(node, ['-e', '0'], env)),
    );
    row(
      'mordomo-db --version',
      Array.from({ length: runs }, () => timed(node, [CLI, '--version'], env)),
    );
    row(
      'mordomo-db --help',
      Array.from({ length: runs }, () => timed(node, [CLI, '--help'], env)),
    );
    const first: Record<string, number>[] = [];
    const again: Record<string, number>[] = [];
    const search: number[] = [];
    for (let i = 0; i < runs; i++) {
      const dataDir = scratch();
      try {
        const a = await start(node, dataDir, env, pgPort);
        first.push(a.phases);
        await stop(a.child);
        const b = await start(node, dataDir, env, pgPort);
        again.push(b.phases);
        try {
          // Against the running service: the command joins its server instead of starting one.
          search.push(timed(node, [CLI, 'search', 'luz da sala'], { ...env, MORDOMO_DATA_DIR: dataDir, MORDOMO_PG_PORT: String(pgPort) }));
        } finally {
          await stop(b.child);
        }
      } finally {
        rmSync(dataDir, { recursive: true, force: true });
      }
    }
    rmSync(cacheDir, { recursive: true, force: true });
    row('search against the running service', search);
    process.stdout.write('  first start (fresh folder), ms since spawn:\n');
    for (const phase of Object.keys(first[0]!))
      row(
        `  ${phase}`,
        first.map((p) => p[phase]!),
      );
    process.stdout.write('  restart (same folder):\n');
    for (const phase of Object.keys(again[0]!).filter((p) => p !== 'node + modules'))
      row(
        `  ${phase}`,
        again.map((p) => p[phase]!),
      );
  }
}
process.stdout.write(
  `\nload average at the end ${os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}\n`,
);
