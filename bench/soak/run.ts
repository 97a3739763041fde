// `npm run bench:soak -- --minutes 30`: the service as `npm start` runs it (same node flags, its own embedded
// PostgreSQL with WAL archiving, core and IVR), under a steady trickle for as long as asked — a home (a turn every
// few seconds, and the history read that follows each) and an integrator (dozens of calls at once, a transcript
// line every couple of seconds each) — with the scheduled jobs moved to minutes (backup + verify + base backup +
// archive pruning, partitions, rollups, retention, disk usage). Every `--report` minutes and at the end it prints
// the growth of the data, backups and WAL archive, the service's RSS, failed jobs, and p99 of appends and history
// reads; the summary states them per hour and per day beside the targets, and the seed's resource budget: the CPU
// of PostgreSQL and Node together as a share of one core, and their memory together (Node's RSS plus the
// proportional set size of every PostgreSQL process, shared buffers included), beside seed 000's 10–20% and
// 256 MB–1 GB. `--profile home` is the home alone (no integrator calls); the embedded server has the seed's
// shared_buffers = 256MB unless `--shared-buffers` says otherwise. A benchmark, not a test: it asserts nothing and
// exits 0 unless the service itself fails.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { embeddedUrl } from '../../src/db/connect.ts';
import { folderBytes } from '../../src/files.ts';
import { freePort } from '../../test/harness/ports.ts';
import { tempDir } from '../../test/harness/temp-dir.ts';

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '30' },
    report: { type: 'string', default: '10' },
    calls: { type: 'string', default: '24' },
    'home-every': { type: 'string', default: '3' },
    keep: { type: 'boolean', default: false },
    profile: { type: 'string', default: 'mixed' },
    'shared-buffers': { type: 'string', default: '256MB' },
  },
});
if (args.profile !== 'home' && args.profile !== 'mixed') throw new Error('--profile is home or mixed');
const minutes = Number(args.minutes);
const reportMinutes = Number(args.report);
const concurrentCalls = args.profile === 'home' ? 0 : Number(args.calls);
const homeEverySeconds = Number(args['home-every']);

const root = path.join(import.meta.dirname, '..', '..');
const dataDir = tempDir('soak');
const pgPort = await freePort();
const adminToken = 'soak-admin-token-0123456789abcdef';
// Days compressed into minutes: a backup (verified, with a base backup and archive pruning) every 5 minutes, kept
// 15 minutes; the hourly and daily upkeep every few minutes; conversations kept a day (none expires in a run, but
// the retention job runs its queries).
const env = {
  ...process.env,
  MORDOMO_DATA_DIR: dataDir,
  MORDOMO_PG_PORT: String(pgPort),
  MORDOMO_HTTP_PORT: '0',
  MORDOMO_MODULES: 'core,ivr',
  MORDOMO_ENCRYPTION_KEY: 'soak-encryption-key-0123456789',
  MORDOMO_ADMIN_TOKEN: adminToken,
  MORDOMO_LOG_LEVEL: 'warn',
  MORDOMO_PG_SHARED_BUFFERS: args['shared-buffers'],
  MORDOMO_CONVERSATION_RETENTION_DAYS: '1',
  MORDOMO_BACKUP_RETENTION_DAYS: String(15 / 1440),
  MORDOMO_JOB_SCHEDULE:
    'backup=*/5 * * * *; partitions=*/3 * * * *; rollups=*/2 * * * *; retention=*/7 * * * *; size=*/6 * * * *; disk-usage=*/5 * * * *; idempotency-keys=*/4 * * * *',
};

/** `npm start`'s own command line (package.json), so that the soak runs the service as users do. */
function startCommand(): string[] {
  const script = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')).scripts.start as string;
  return script.split(/\s+/).slice(1);
}

function startServiceProcess(): Promise<{ child: ChildProcess; api: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, startCommand(), { cwd: root, env });
    let output = '';
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const api = /dashboard:\s+(http:\/\/\S+?)\/\n/.exec(output)?.[1];
      if (output.includes('Press Ctrl-C to stop') && api) resolve({ child, api });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (chunk: Buffer) => {
      onData(chunk);
      process.stderr.write(chunk);
    });
    child.on('exit', (code) => reject(new Error(`the service exited with ${code}:\n${output}`)));
  });
}

const { child, api } = await startServiceProcess();
process.stderr.write(`service ${child.pid} at ${api}; soaking for ${minutes} minutes\n`);
const owner = new pg.Pool({ connectionString: embeddedUrl(pgPort, readFileSync(path.join(dataDir, 'postgres-password'), 'utf8').trim()), max: 2 });
owner.on('error', () => undefined);

async function call(method: string, route: string, token: string, body?: unknown): Promise<any> {
  const response = await fetch(`${api}${route}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${method} ${route}: ${response.status} ${await response.text()}`);
  return response.status === 204 ? undefined : response.json();
}

// The integrator's tenant: a FusionPBX domain (inserted as FusionPBX would), a key, an LLM provider, a secretary.
const domain = '5a0a0000-0000-4000-8000-000000000001';
await owner.query(`INSERT INTO v_domains (domain_uuid, domain_name) VALUES ($1, 'soak.example.com')`, [domain]);
const ivrKey = (await call('POST', '/v1/admin/ivr/keys', adminToken, { domain_uuid: domain, name: 'soak' })).key as string;
const llm = await call('POST', '/v1/ivr/providers', ivrKey, {
  provider_type: 'llm',
  provider_name: 'openai',
  config: { api_key: 'sk-soak' },
  is_default: true,
});
const secretary = await call('POST', '/v1/ivr/secretaries', ivrKey, { name: 'Recepção', extension: '8000', llm_provider_uuid: llm.provider_uuid });

const latencies = { append: [] as number[], history: [] as number[] };
let errors = 0;
let running = true;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
async function timed(kind: keyof typeof latencies, work: () => Promise<unknown>): Promise<void> {
  const start = performance.now();
  try {
    await work();
    latencies[kind].push(performance.now() - start);
  } catch (error) {
    errors++;
    process.stderr.write(`${(error as Error).message}\n`);
  }
}

/** A home: a turn every few seconds, each followed by the read of the conversation's last messages. */
async function home(): Promise<void> {
  const user = await call('POST', '/v1/users', adminToken, { name: 'Casa' });
  let conversation = await call('POST', '/v1/conversations', adminToken, { user_id: user.id });
  for (let turn = 1; running; turn++) {
    if (turn % 20 === 0) conversation = await call('POST', '/v1/conversations', adminToken, { user_id: user.id });
    await timed('append', () =>
      call('POST', `/v1/conversations/${conversation.id}/turns`, adminToken, {
        user: { content: `Liga a luz da sala, por favor (${turn})`, intent: 'iot_control', confidence: 0.9 },
        assistant: { content: 'Pronto, a luz da sala está acesa.', latency_ms: 800 },
      }),
    );
    await timed('history', () => call('GET', `/v1/conversations/${conversation.id}/messages?limit=20`, adminToken));
    await sleep(homeEverySeconds * 1000);
  }
}

/** One line of an integrator's calls: a call of 10 to 30 transcript lines a couple of seconds apart, then the next. */
async function caller(line: number): Promise<void> {
  await sleep(line * 150);
  while (running) {
    const started = await call('POST', '/v1/ivr/calls', ivrKey, {
      secretary_uuid: secretary.secretary_uuid,
      caller_id: `+55119${String(line).padStart(8, '0')}`,
    });
    const lines = 10 + Math.floor(Math.random() * 20);
    for (let i = 0; i < lines && running; i++) {
      await timed('append', () =>
        call('POST', `/v1/ivr/calls/${started.conversation_uuid}/messages`, ivrKey, {
          messages: [{ role: i % 2 ? 'assistant' : 'user', content: i % 2 ? 'Claro, vou verificar.' : 'Quero falar sobre a minha conta', latency_ms: 600 }],
        }),
      );
      await sleep(1000 + Math.random() * 2000);
    }
    await call('POST', `/v1/ivr/calls/${started.conversation_uuid}/end`, ivrKey, { resolution: 'resolved' }).catch(() => errors++);
  }
}

const rssBytes = () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
const bytesOf = (folder: string) => (existsSync(path.join(dataDir, folder)) ? folderBytes(path.join(dataDir, folder)) : 0);
// The data folder apart from pg_wal (tables, indexes, catalogs), and pg_wal itself: kept WAL plateaus (checkpoints
// recycle it, wal_keep_size and max_wal_size bound it) where tables grow with what is written.
const sizes = () => ({ data: bytesOf('pg') - bytesOf('pg/pg_wal'), wal: bytesOf('pg/pg_wal'), backups: bytesOf('backups'), archive: bytesOf('wal-archive') });
async function failedJobs(): Promise<{ runs: number; failed: number; names: string }> {
  const { rows } = await owner.query<{ runs: number; failed: number; names: string | null }>(
    `SELECT count(*)::int AS runs, count(*) FILTER (WHERE outcome = 'failed')::int AS failed,
            string_agg(DISTINCT job, ',') FILTER (WHERE outcome = 'failed') AS names FROM mordomo_job_runs`,
  );
  return { ...rows[0]!, names: rows[0]!.names ?? '' };
}
// The seed's budget counts the database's whole footprint: every PostgreSQL process (the postmaster, its backends,
// checkpointer, WAL writer, archiver...) and the Node service. CPU from /proc/<pid>/stat in clock ticks (100 a
// second on Linux): each live process's own time, and the postmaster's reaped children's (cutime/cstime), so that
// backends that came and went are counted. Memory: Node's RSS plus each PostgreSQL process's Pss from smaps_rollup,
// which splits a shared page between the processes that map it, so the sum counts shared buffers once (the pages
// touched so far: PostgreSQL maps all 256MB but the kernel backs only those used).
const TICKS_PER_SECOND = 100;
function statOf(pid: number): { ppid: number; ticks: number; children: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]), children: Number(fields[13]) + Number(fields[14]) };
  } catch {
    return undefined; // exited meanwhile
  }
}
function postgresPids(): number[] {
  const postmaster = Number(readFileSync(path.join(dataDir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0]);
  const children = readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .filter((pid) => statOf(pid)?.ppid === postmaster);
  return [postmaster, ...children];
}
const pssBytes = (pid: number) => {
  try {
    return Number(/^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1] ?? 0) * 1024;
  } catch {
    return 0;
  }
};
function resources(): { at: number; ticks: number; memory: number; node: number; postgres: number } {
  const pids = postgresPids();
  const node = statOf(child.pid!);
  const postmaster = statOf(pids[0]!);
  const ticks = (node?.ticks ?? 0) + (postmaster?.children ?? 0) + pids.reduce((sum, pid) => sum + (statOf(pid)?.ticks ?? 0), 0);
  const postgres = pids.reduce((sum, pid) => sum + pssBytes(pid), 0);
  const nodeRss = rssBytes();
  return { at: performance.now(), ticks, memory: nodeRss + postgres, node: nodeRss, postgres };
}

const p99 = (values: number[]) => (values.length ? [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(values.length * 0.99))]! : NaN);
const p95 = (values: number[]) => (values.length ? [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(values.length * 0.95))]! : NaN);
const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(1);

const start = Date.now();
const first = sizes();
const rssSamples: number[] = [rssBytes()];
const resourceSamples = [resources()];
const rssTimer = setInterval(() => {
  rssSamples.push(rssBytes());
  resourceSamples.push(resources());
}, 10_000);
const load = [home(), ...Array.from({ length: concurrentCalls }, (_, line) => caller(line))].map((loop) =>
  loop.catch((error: Error) => {
    errors++;
    process.stderr.write(`load loop ended: ${error.message}\n`);
  }),
);

console.log(
  `| minute | data MB | pg_wal MB | backups MB | archive MB | RSS MB | job runs | failed jobs | appends | p99 append ms | history reads | p99 history ms |`,
);
console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
let previous = { at: start, sizes: first };
for (let minute = reportMinutes; minute <= minutes; minute += reportMinutes) {
  await sleep(start + minute * 60_000 - Date.now());
  const now = sizes();
  const jobs = await failedJobs();
  const [appends, reads] = [latencies.append.splice(0), latencies.history.splice(0)];
  console.log(
    `| ${minute} | ${mb(now.data)} | ${mb(now.wal)} | ${mb(now.backups)} | ${mb(now.archive)} | ${mb(rssBytes())} | ${jobs.runs} | ${jobs.failed}${jobs.names ? ` (${jobs.names})` : ''} | ` +
      `${appends.length} | ${p99(appends).toFixed(1)} | ${reads.length} | ${p99(reads).toFixed(1)} |`,
  );
  previous = { at: Date.now(), sizes: now };
}
running = false;
clearInterval(rssTimer);
await Promise.all(load);

const hours = (previous.at - start) / 3_600_000;
const perDay = (from: number, to: number) => ((to - from) / hours) * 24;
const jobs = await failedJobs();
const rssFirstHalf = rssSamples.slice(1, Math.ceil(rssSamples.length / 2));
const rssSecondHalf = rssSamples.slice(Math.ceil(rssSamples.length / 2));
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;
console.log(
  `\nsoak of ${(hours * 60).toFixed(0)} minutes, ${args.profile} profile: ${concurrentCalls} concurrent calls and a home turn every ${homeEverySeconds} s; ` +
    `${errors} failed requests\n`,
);
console.log('| figure | measured | per day at this pace | target |');
console.log('|---|---:|---:|---|');
console.log(
  `| data folder growth, without pg_wal | ${mb(previous.sizes.data - first.data)} MB | ${mb(perDay(first.data, previous.sizes.data))} MB | what is written (retention bounds it) |`,
);
console.log(`| pg_wal | ${mb(first.wal)} → ${mb(previous.sizes.wal)} MB | — | plateaus (wal_keep_size 64MB, max_wal_size 1GB) |`);
console.log(`| backups folder (kept ${15} min) | ${mb(previous.sizes.backups)} MB at the end | — | bounded by retention |`);
console.log(
  `| WAL archive growth | ${mb(previous.sizes.archive - first.archive)} MB | ${mb(perDay(first.archive, previous.sizes.archive))} MB | bounded by retention (pruned with base backups) |`,
);
console.log(`| service RSS, median of first half → second half | ${mb(median(rssFirstHalf))} → ${mb(median(rssSecondHalf))} MB | — | flat |`);
// CPU between consecutive samples (share of one core), and the memory of each sample; the load's start is left out.
const cpuShares = resourceSamples
  .slice(1)
  .map((sample, i) => (sample.ticks - resourceSamples[i]!.ticks) / TICKS_PER_SECOND / ((sample.at - resourceSamples[i]!.at) / 1000));
const last = resourceSamples[resourceSamples.length - 1]!;
const cpuAll = (last.ticks - resourceSamples[0]!.ticks) / TICKS_PER_SECOND / ((last.at - resourceSamples[0]!.at) / 1000);
const percentOf = (share: number) => `${(share * 100).toFixed(1)}%`;
const memories = resourceSamples.map((sample) => sample.memory);
console.log(
  `| CPU, PostgreSQL + Node, share of one core: whole run (p95 of 10 s windows) | ${percentOf(cpuAll)} (${percentOf(p95(cpuShares))}) | — | seed 000: 10–20% |`,
);
console.log(
  `| memory, Node RSS + PostgreSQL Pss (shared_buffers = ${args['shared-buffers']}): median (max) | ${mb(median(memories))} (${mb(Math.max(...memories))}) MB; ` +
    `at the end Node ${mb(last.node)} + PostgreSQL ${mb(last.postgres)} MB | — | seed 000: 256 MB–1 GB |`,
);
console.log(`| job runs, failed | ${jobs.runs}, ${jobs.failed}${jobs.names ? ` (${jobs.names})` : ''} | — | 0 failed |`);

await owner.end();
child.kill('SIGTERM');
const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
console.log(`\nservice stopped with exit code ${code}`);
if (!args.keep) rmSync(dataDir, { recursive: true, force: true });
else console.log(`data kept in ${dataDir}`);
process.exit(code === 0 ? 0 : 1);
