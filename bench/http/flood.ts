// bench/http flood: a valid IVR tenant's latency while 64 connections from the same address send unique fake API
// keys (well-formed, so each is looked up) as fast as they are answered (issue 34, part 3). The tenant's GET /v1/ivr/secretaries runs on one
// sequential loop, alone and then under the flood, against `mordomo-db start` in its own process as `npm start`
// runs it; the flood comes from autocannon in a child process of its own. The target: the tenant's p95 under the
// flood, which the limiter throttles (429 past 20 failures a minute from the address), within 2x its unloaded p95.
// Beside it, the CPU the flood costs the service and PostgreSQL (from /proc) as a share of one core.
// Alone and flooded alternate, --rounds times, and the latencies of each side are pooled: on a shared machine one
// run of each drifts with whatever else the machine does.
// Usage: npm run bench:flood [-- --seconds 10 --connections 64 --rounds 2]
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { sql } from 'kysely';
import { freePort } from '../../test/harness/ports.ts';
import { tempDir } from '../../test/harness/temp-dir.ts';
import { benchDatabase, START_FLAGS, startBenchService, machine, processTicksUs, serverBusyUs } from '../harness.ts';

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '10' }, connections: { type: 'string', default: '64' }, rounds: { type: 'string', default: '2' } },
});
const seconds = Number(values.seconds);
const connections = Number(values.connections);
const rounds = Number(values.rounds);
if (![seconds, connections, rounds].every((n) => Number.isInteger(n) && n >= 1) || seconds < 3) {
  process.stderr.write('bench:flood: --seconds, --connections and --rounds take whole numbers of at least 3, 1 and 1\n');
  process.exit(2);
}
const TOKEN = 'bench-admin-token-0123456789abcdef';
const TARGET = 2;

function startService(url: string, port: number): Promise<ChildProcess> {
  return startBenchService({
    DATABASE_URL: url,
    MORDOMO_HTTP_PORT: String(port),
    MORDOMO_DATA_DIR: tempDir('bench-flood'),
    MORDOMO_ADMIN_TOKEN: TOKEN,
    MORDOMO_MODULES: 'core,ivr',
    MORDOMO_ENCRYPTION_KEY: 'bench-encryption-key-0123456789',
  });
}

// The flood in a process of its own, so that making it does not delay the tenant's loop in this one.
const FLOOD_SCRIPT = `
import { createRequire } from 'node:module';
const require = createRequire(process.argv[2]);
const autocannon = require('autocannon');
const [base, connections, seconds] = [process.argv[3], Number(process.argv[4]), Number(process.argv[5])];
let n = 0;
const result = await autocannon({
  url: base + '/v1/ivr/secretaries', connections, duration: seconds,
  requests: [{ setupRequest: (request) => ({ ...request, headers: { ...request.headers, authorization: 'Bearer mdbk_' + (process.pid.toString(16) + 'f' + (n++).toString(16)).padStart(32, '0') + '_' + 'A'.repeat(43) } }) }],
});
const statuses = Object.fromEntries(Object.entries(result.statusCodeStats).map(([status, stats]) => [status, stats.count]));
process.stdout.write(JSON.stringify({ requests: result.requests.total, statuses, errors: result.errors }));
`;

function flood(base: string): { done: Promise<{ requests: number; statuses: Record<string, number>; errors: number }>; child: ChildProcess } {
  const file = path.join(tempDir('flood'), 'flood.mjs');
  writeFileSync(file, FLOOD_SCRIPT);
  const child = spawn(process.execPath, [file, createRequire(import.meta.url).resolve('autocannon'), base, String(connections), String(seconds)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const done = new Promise<{ requests: number; statuses: Record<string, number>; errors: number }>((resolve, reject) =>
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(output)) : reject(new Error(`the flood exited with ${code}: ${output}`)))),
  );
  return { done, child };
}

/** The tenant's requests, one after another for `ms`: latencies in ms, and answers other than 200. */
async function tenant(base: string, key: string, ms: number): Promise<{ latencies: number[]; refused: number }> {
  const latencies: number[] = [];
  let refused = 0;
  const deadline = performance.now() + ms;
  while (performance.now() < deadline) {
    const began = performance.now();
    const response = await fetch(`${base}/v1/ivr/secretaries`, { headers: { authorization: `Bearer ${key}` } });
    await response.arrayBuffer();
    latencies.push(performance.now() - began);
    if (response.status !== 200) refused++;
  }
  return { latencies, refused };
}

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
};

/** CPU of the service process and of PostgreSQL while `work` runs, each as a share of one core. */
async function cpuDuring<T>(pid: number, dataDir: string, work: () => Promise<T>): Promise<{ result: T; service: number; postgres: number }> {
  const [serviceBefore, postgresBefore, began] = [processTicksUs(pid, false), serverBusyUs(dataDir), performance.now()];
  const result = await work();
  const elapsedUs = (performance.now() - began) * 1000;
  return { result, service: (processTicksUs(pid, false) - serviceBefore) / elapsedUs, postgres: (serverBusyUs(dataDir) - postgresBefore) / elapsedUs };
}

type FloodResult = { requests: number; statuses: Record<string, number>; errors: number };
const { database, dataDir, cleanup } = await benchDatabase(20);
const measured = (pid: number, base: string, key: string, ms: number) => cpuDuring(pid, dataDir, () => tenant(base, key, ms));
const port = await freePort();
let service: ChildProcess | undefined;
let floodChild: ChildProcess | undefined;
try {
  service = await startService(database.url, port);
  const base = `http://127.0.0.1:${port}`;
  const domain = '00000000-0000-4000-8000-00000000d0b0';
  await sql`INSERT INTO v_domains (domain_uuid, domain_name) VALUES (${domain}, 'flood.example.com')`.execute(database.db);
  const created = await fetch(`${base}/v1/admin/ivr/keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ domain_uuid: domain, name: 'tenant b' }),
  });
  const { key } = (await created.json()) as { key: string };
  await tenant(base, key, 2000); // warm-up: JIT, the key cache, the pool

  const runs: { alone: Awaited<ReturnType<typeof measured>>; loaded: Awaited<ReturnType<typeof measured>>; flood: FloodResult }[] = [];
  for (let round = 0; round < rounds; round++) {
    const alone = await measured(service.pid!, base, key, seconds * 1000);
    const started = flood(base);
    floodChild = started.child;
    await new Promise((resolve) => setTimeout(resolve, 1000)); // the flood at full rate before measuring
    const loaded = await measured(service.pid!, base, key, (seconds - 2) * 1000);
    runs.push({ alone, loaded, flood: await started.done });
  }
  const pooled = (side: 'alone' | 'loaded') => ({
    result: { latencies: runs.flatMap((run) => run[side].result.latencies), refused: runs.reduce((sum, run) => sum + run[side].result.refused, 0) },
    service: runs.reduce((sum, run) => sum + run[side].service, 0) / runs.length,
    postgres: runs.reduce((sum, run) => sum + run[side].postgres, 0) / runs.length,
  });
  const [alone, loaded] = [pooled('alone'), pooled('loaded')];
  const flooded = {
    requests: runs.reduce((sum, run) => sum + run.flood.requests, 0),
    statuses: runs.reduce<Record<string, number>>((all, run) => {
      for (const [status, count] of Object.entries(run.flood.statuses)) all[status] = (all[status] ?? 0) + count;
      return all;
    }, {}),
    errors: runs.reduce((sum, run) => sum + run.flood.errors, 0),
  };
  const perRound = runs.map((run) => (percentile(run.loaded.result.latencies, 95) / percentile(run.alone.result.latencies, 95)).toFixed(2)).join(' / ');

  const row = (label: string, run: ReturnType<typeof pooled>) =>
    `| ${label} | ${run.result.latencies.length} | ${run.result.refused} | ${percentile(run.result.latencies, 50).toFixed(2)} | ${percentile(run.result.latencies, 95).toFixed(2)} | ${(run.service * 100).toFixed(0)}% | ${(run.postgres * 100).toFixed(0)}% |`;
  const ratio = percentile(loaded.result.latencies, 95) / percentile(alone.result.latencies, 95);
  const floodRate = flooded.requests / (seconds * rounds);
  process.stdout.write(
    `\nflood: ${connections} connections of unique fake API keys from 127.0.0.1 (the tenant's address too), ${rounds} rounds of ${seconds} s alone and ${seconds} s flooded, ` +
      `tenant B on one sequential loop (GET /v1/ivr/secretaries); service flags: ${START_FLAGS.join(' ') || 'none'}; ${machine()}\n\n` +
      `| tenant B | requests | refused | p50 ms | p95 ms | service CPU (of one core) | PostgreSQL CPU |\n|---|---:|---:|---:|---:|---:|---:|\n` +
      `${row('alone', alone)}\n${row('under the flood', loaded)}\n\n` +
      `flood: ${flooded.requests} requests (${floodRate.toFixed(0)}/s), answers ${JSON.stringify(flooded.statuses)}, ${flooded.errors} errors\n` +
      `tenant B p95 under the flood / alone: ${ratio.toFixed(2)}x pooled, ${perRound} per round (target <= ${TARGET}x: ${ratio <= TARGET ? 'met' : 'missed'})\n`,
  );
} finally {
  floodChild?.kill('SIGTERM');
  if (service && service.exitCode === null) {
    service.kill('SIGTERM');
    await new Promise((resolve) => service!.once('exit', resolve));
  }
  await cleanup();
}
