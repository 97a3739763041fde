// bench/http: appending a turn and reading the last 50 messages over HTTP (wrk or autocannon against `mordomo-db start`
// in its own process) beside the same operations through the library directly, in the same run, on the same
// server and data; plus the service's resident memory under that load. Each pair runs alternately, --rounds times,
// and the medians are compared: on a shared machine one run of each drifts with whatever else the machine does.
// Usage: npm run bench:http [-- --seconds 10 --messages 200000 --rounds 3]
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { appendTurn } from '../../src/core/conversations.ts';
import { conversationHistory } from '../../src/core/messages.ts';
import { freePort } from '../../test/harness/ports.ts';
import { tempDir } from '../../test/harness/temp-dir.ts';
import { benchDatabase, START_FLAGS, startBenchService, idOf, loadConversations, machine, median, throughput } from '../harness.ts';

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '10' }, messages: { type: 'string', default: '200000' }, rounds: { type: 'string', default: '3' } },
});
const seconds = Number(values.seconds);
const totalMessages = Number(values.messages);
const rounds = Number(values.rounds);
if (![seconds, totalMessages, rounds].every((n) => Number.isInteger(n) && n >= 1)) {
  process.stderr.write('bench:http: --seconds, --messages and --rounds take whole numbers of at least 1\n');
  process.exit(2);
}
const CONVERSATIONS = 10_000;
const POOL = 20; // the service's default pool; the library gets the same
const TOKEN = 'bench-admin-token-0123456789abcdef';
const RSS_LIMIT_MB = 150;

const randomId = () => idOf(1 + Math.floor(Math.random() * CONVERSATIONS));
const user = { content: 'Liga a luz da sala, por favor', intent: 'iot_control', confidence: 0.93 };
const assistant = { content: 'Pronto, a luz da sala está ligada.', latency_ms: 820 };

function startService(url: string, port: number): Promise<ChildProcess> {
  return startBenchService({
    DATABASE_URL: url,
    MORDOMO_HTTP_PORT: String(port),
    MORDOMO_DATA_DIR: tempDir('bench-http'),
    MORDOMO_ADMIN_TOKEN: TOKEN,
    MORDOMO_POOL_MAX: String(POOL),
  });
}

/** Highest resident set size of `pid` while `work` runs, in MB (sampled every 100 ms from /proc). */
async function peakRss<T>(pid: number, work: () => Promise<T>): Promise<{ result: T; peakMb: number }> {
  let peak = 0;
  const sample = () => {
    const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
    peak = Math.max(peak, kb / 1024);
  };
  const timer = setInterval(sample, 100);
  try {
    const result = await work();
    sample();
    return { result, peakMb: peak };
  } finally {
    clearInterval(timer);
  }
}

// wrk (C, `apt-get install wrk`) costs the two cores of this machine far less than autocannon (Node) does, so the
// service, not the load generator, sets the pace; autocannon is the fallback when wrk is absent.
const WRK = spawnSync('wrk', ['--version'], { encoding: 'utf8' }).error === undefined;

function wrkScript(kind: 'append' | 'history'): string {
  const file = path.join(tempDir('wrk'), `${kind}.lua`);
  const body = JSON.stringify({ user, assistant }).replace(/\\/g, '\\\\').replace(/"/g, '\\"');
  writeFileSync(
    file,
    `wrk.headers["authorization"] = "Bearer ${TOKEN}"\nwrk.headers["content-type"] = "application/json"\n` +
      `math.randomseed(os.time())\n` +
      `request = function()\n  local id = string.format("00000000-0000-4000-8000-%012d", math.random(1, ${CONVERSATIONS}))\n` +
      (kind === 'append'
        ? `  return wrk.format("POST", "/v1/conversations/" .. id .. "/turns", nil, "${body}")\nend\n`
        : `  return wrk.format("GET", "/v1/conversations/" .. id .. "/messages?limit=50")\nend\n`),
  );
  return file;
}

function overWrk(base: string, connections: number, kind: 'append' | 'history'): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn('wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, '-s', wrkScript(kind), base], { stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('close', () => {
      const rate = /Requests\/sec:\s+([\d.]+)/.exec(output);
      const failed = /Non-2xx or 3xx responses: (\d+)/.exec(output);
      if (!rate || failed) reject(new Error(`wrk ${kind}: ${output}`));
      else resolve(Number(rate[1]));
    });
  });
}

async function overHttp(base: string, connections: number, kind: 'append' | 'history'): Promise<number> {
  if (WRK) return overWrk(base, connections, kind);
  const result = await autocannon({
    url: base,
    connections,
    duration: seconds,
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    requests: [
      kind === 'append'
        ? {
            method: 'POST',
            setupRequest: (request) => ({ ...request, path: `/v1/conversations/${randomId()}/turns`, body: JSON.stringify({ user, assistant }) }),
          }
        : { method: 'GET', setupRequest: (request) => ({ ...request, path: `/v1/conversations/${randomId()}/messages?limit=50` }) },
    ],
  });
  if (result.non2xx || result.errors) throw new Error(`${kind}: ${result.non2xx} non-2xx answers and ${result.errors} errors`);
  return result.requests.average;
}

const { database, cleanup } = await benchDatabase(POOL);
const { db } = database;
let service: ChildProcess | undefined;
try {
  await loadConversations(db, CONVERSATIONS, totalMessages);

  const port = await freePort();
  service = await startService(database.url, port);
  const base = `http://127.0.0.1:${port}`;
  const rows: string[] = [];
  let peak = 0;
  for (const connections of [16, 64]) {
    for (const kind of ['append', 'history'] as const) {
      const libraries: number[] = [];
      const https: number[] = [];
      let peakHere = 0;
      for (let round = 0; round < rounds; round++) {
        libraries.push(
          await throughput(connections, seconds, () =>
            kind === 'append' ? appendTurn(db, randomId(), user, assistant) : conversationHistory(db, randomId(), { limit: 50 }),
          ),
        );
        const { result, peakMb } = await peakRss(service.pid!, () => overHttp(base, connections, kind));
        https.push(result);
        peakHere = Math.max(peakHere, peakMb);
      }
      peak = Math.max(peak, peakHere);
      const [library, http] = [median(libraries), median(https)];
      const perRound = libraries.map((l, i) => ((https[i]! / l) * 100).toFixed(0)).join(' / ');
      const label = kind === 'append' ? 'append a turn' : 'last 50 messages';
      rows.push(
        `| ${label.padEnd(16)} | ${String(connections).padStart(3)} | ${library.toFixed(0).padStart(6)} | ${http.toFixed(0).padStart(6)} | ${((http / library) * 100).toFixed(0).padStart(4)}% | ${perRound}% | ≥ 50% | ${peakHere.toFixed(0).padStart(4)} MB |`,
      );
    }
  }
  process.stdout.write(
    `\nhttp: ${rounds} rounds of ${seconds} s per side, pool ${POOL}, ${totalMessages} messages loaded, load by ${WRK ? 'wrk -t1' : 'autocannon'}, service flags: ${START_FLAGS.join(' ') || 'none'}; ${machine()}\n\n` +
      `| operation | connections | library ops/s (median) | HTTP req/s (median) | HTTP/library | each round | target | service peak RSS |\n|---|---:|---:|---:|---:|---:|---|---:|\n${rows.join('\n')}\n\n` +
      `service peak RSS over all runs: ${peak.toFixed(0)} MB (limit ${RSS_LIMIT_MB} MB)\n`,
  );
} finally {
  if (service && service.exitCode === null) {
    service.kill('SIGTERM');
    await new Promise((resolve) => service!.once('exit', resolve));
  }
  await cleanup();
}
