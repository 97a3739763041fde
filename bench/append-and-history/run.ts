// bench/append-and-history: appending a turn and reading the last 50 messages at 16 concurrent clients, through
// the library and through pgbench running the same SQL on the same server and data (1M messages).
// Library, driver and pgbench run alternately, --rounds times, and the medians are compared: on a shared machine
// one run of each drifts with whatever else the machine does.
// Usage: npm run bench:append [-- --seconds 15 --messages 1000000 --clients 16 --rounds 3]
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { sql } from 'kysely';
import pg from 'pg';
import { TYPES } from '../../src/db/pool.ts';
import { compileAppend, conversationHistory, HISTORY_SQL } from '../../src/core/messages.ts';
import { appendTurn } from '../../src/core/conversations.ts';
import { tempDir } from '../../test/harness/temp-dir.ts';
import { watchAppendBatches } from '../../src/core/append-batches.ts';
import {
  benchDatabase,
  type Costed,
  costed,
  idOf,
  loadConversations,
  machine,
  median,
  pgbenchAppend,
  pgbenchBatch,
  pgbenchScripts,
  pgbenchTps,
  throughput,
} from '../harness.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '15' },
    messages: { type: 'string', default: '1000000' },
    clients: { type: 'string', default: '16' },
    rounds: { type: 'string', default: '3' },
  },
});
const seconds = Number(values.seconds);
const clients = Number(values.clients);
const totalMessages = Number(values.messages);
const rounds = Number(values.rounds);
if (![seconds, clients, totalMessages, rounds].every((n) => Number.isInteger(n) && n >= 1)) {
  process.stderr.write('bench:append: --seconds, --messages, --clients and --rounds take whole numbers of at least 1\n');
  process.exit(2);
}
const CONVERSATIONS = 10_000;

// Conversation n has a predictable id so pgbench (whose \set only makes numbers) can address the same rows.
const ID_SQL = `('00000000-0000-4000-8000-' || lpad(:n::text, 12, '0'))::uuid`;

const { database, port, password, dataDir, cleanup } = await benchDatabase(clients);
const { db } = database;
try {
  await loadConversations(db, CONVERSATIONS, totalMessages);

  const random = () => 1 + Math.floor(Math.random() * CONVERSATIONS);
  const user = { content: 'Liga a luz da sala, por favor', intent: 'iot_control', confidence: 0.93 };
  const assistant = { content: 'Pronto, a luz da sala está ligada.', latency_ms: 820 };

  // The library's own SQL text, with its parameters replaced by pgbench variables.
  const turnMessages = [
    { ...user, role: 'user' as const },
    { ...assistant, role: 'assistant' as const },
  ];
  const append = compileAppend(idOf(1), [
    { ...user, role: 'user' },
    { ...assistant, role: 'assistant' },
  ]);
  const appendSql = pgbenchAppend(
    [
      { ...user, role: 'user' },
      { ...assistant, role: 'assistant' },
    ],
    ID_SQL,
  );
  const historySql = HISTORY_SQL.replace('$1', ID_SQL).replace('$2', '50');
  const dir = tempDir('pgbench');
  const pgbench = (name: string, statement: string): number => {
    const file = path.join(dir, `${name}.sql`);
    writeFileSync(file, `\\set n random(1, ${CONVERSATIONS})\n${statement.replace(/\s+/g, ' ').trim()};\n`);
    return pgbenchTps(file, { port, password }, clients, seconds);
  };

  // Each operation three ways: the library; the driver alone on the same statements (prepared, as the pool does),
  // to show how much of the gap is the client's own cost of receiving and decoding rows in one Node process,
  // which pgbench does not pay; and pgbench.
  // The library's appends coalesce (core/append-batches.ts): how many turns each of its statements carried.
  const batchSizes = new Map<number, number>();
  let fallbacks = 0;
  watchAppendBatches(db, { batch: (turns) => batchSizes.set(turns, (batchSizes.get(turns) ?? 0) + 1), fallback: () => fallbacks++ });
  const operations = {
    append: {
      library: () => throughput(clients, seconds, () => appendTurn(db, idOf(random()), user, assistant)),
      driver: () =>
        throughput(clients, seconds, () => database.pool.query({ name: 'bench_append', text: append.sql, values: [append.parameters[0], idOf(random())] })),
      pgbench: () => pgbench('append', appendSql),
    },
    history: {
      library: () => throughput(clients, seconds, () => conversationHistory(db, idOf(random()), { limit: 50 })),
      driver: () => throughput(clients, seconds, () => database.pool.query({ name: 'bench_history', text: HISTORY_SQL, values: [idOf(random()), 50] })),
      pgbench: () => pgbench('history', historySql),
    },
  };
  type Side = keyof (typeof operations)['append'];
  const figures: Record<string, Record<Side, Costed[]>> = {};
  for (const [name, sides] of Object.entries(operations)) {
    const samples: Record<Side, Costed[]> = { library: [], driver: [], pgbench: [] };
    figures[name] = samples;
    for (let round = 0; round < rounds; round++) {
      for (const side of ['library', 'driver', 'pgbench'] as const) samples[side].push(await costed(seconds, sides[side], dataDir));
      const last = (side: Side) => samples[side].at(-1)!.rate.toFixed(0);
      process.stderr.write(`${name}, round ${round + 1} of ${rounds}: library ${last('library')}, driver ${last('driver')}, pgbench ${last('pgbench')} tx/s\n`);
    }
  }

  // pgbench replaying the library's statements at the sizes the library produced, in the same proportions: one
  // script per size, weighted by how many statements had it (a size of one is the single-turn statement).
  const sizes = [...batchSizes.entries()].sort(([a], [b]) => a - b);
  const statements = sizes.reduce((sum, [, count]) => sum + count, 0);
  const turnsSent = sizes.reduce((sum, [size, count]) => sum + size * count, 0);
  const files = sizes.map(([size, count]) => {
    const file = path.join(dir, `batch-${size}.sql`);
    const turn = [
      { ...user, role: 'user' as const },
      { ...assistant, role: 'assistant' as const },
    ];
    writeFileSync(
      file,
      size === 1 ? `\\set n random(1, ${CONVERSATIONS})\n${appendSql.replace(/\s+/g, ' ').trim()};\n` : pgbenchBatch(turn, size, CONVERSATIONS),
    );
    return `${file}@${Math.max(1, Math.round((count / statements) * 1000))}`;
  });
  const replays: Costed[] = [];
  for (let round = 0; round < rounds; round++) {
    replays.push(
      await costed(
        seconds,
        () => {
          const { perScript } = pgbenchScripts(files, { port, password }, clients, seconds);
          return perScript.reduce((sum, tps, i) => sum + tps * (perScript.length === sizes.length ? sizes[i]![0] : turnsSent / statements), 0);
        },
        dataDir,
      ),
    );
    process.stderr.write(`batched replay, round ${round + 1} of ${rounds}: pgbench ${replays.at(-1)!.rate.toFixed(0)} turns/s\n`);
  }
  const libraryTurns = median(figures.append!.library.map((sample) => sample.rate));
  const replayTurns = median(replays.map((sample) => sample.rate));
  const distribution = sizes.map(([size, count]) => `${size}: ${count}`).join(', ');
  const replayLine =
    `\nCoalesced appends: ${statements} statements carried ${turnsSent} turns (mean ${(turnsSent / Math.max(1, statements)).toFixed(1)}), ${fallbacks} fell back; turns per statement → statements: ${distribution}\n` +
    `pgbench replaying those statements at those sizes (weighted): ${replayTurns.toFixed(0)} turns/s (median), server ${median(replays.map((r) => r.serverUs)).toFixed(0)} + client ${median(replays.map((r) => r.clientUs)).toFixed(0)} / machine ${median(replays.map((r) => r.machineUs)).toFixed(0)} µs per turn; ` +
    `library ${libraryTurns.toFixed(0)} turns/s = ${((libraryTurns / replayTurns) * 100).toFixed(0)}% of it (target ≥ 95%)\n`;

  // One client, nothing else in flight: every append goes out at once, alone. Its latency through the library (the
  // coalescer's batch of one) beside the single-turn statement run directly as before group commit, alternately.
  const direct = () => db.executeQuery(compileAppend(idOf(random()), turnMessages));
  const viaLibrary = () => appendTurn(db, idOf(random()), user, assistant);
  const idle: Record<'library' | 'direct', number[]> = { library: [], direct: [] };
  for (let round = 0; round < rounds; round++) {
    for (const [side, work] of [
      ['library', viaLibrary],
      ['direct', direct],
    ] as const) {
      const latencies: number[] = [];
      await throughput(1, Math.min(seconds, 10), work, latencies);
      idle[side].push(median(latencies));
    }
  }
  const [idleLibrary, idleDirect] = [median(idle.library), median(idle.direct)];
  const idleLine =
    `\n1 client: median append latency ${(idleLibrary * 1000).toFixed(0)} µs through the library, ${(idleDirect * 1000).toFixed(0)} µs for the single-turn statement run directly ` +
    `(${((idleLibrary / idleDirect - 1) * 100).toFixed(1)}%; target within 5%; per round ${idle.library.map((l, i) => `${(l * 1000).toFixed(0)}/${(idle.direct[i]! * 1000).toFixed(0)}`).join(', ')} µs)\n`;

  const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM messages`.execute(db);
  const rates = (samples: Costed[]) => samples.map((sample) => sample.rate);
  const middle = (samples: Costed[], of: (sample: Costed) => number) => median(samples.map(of)).toFixed(0).padStart(5);
  const row = (label: string, { library, driver, pgbench }: Record<Side, Costed[]>) => {
    const [lib, ref, alone] = [median(rates(library)), median(rates(pgbench)), median(rates(driver))];
    const perRound = library.map((sample, i) => ((sample.rate / pgbench[i]!.rate) * 100).toFixed(0)).join(' / ');
    const split = (samples: Costed[]) =>
      `${middle(samples, (s) => s.serverUs)} + ${middle(samples, (s) => s.clientUs)} / ${middle(samples, (s) => s.machineUs)}`;
    return (
      `| ${label.padEnd(26)} | ${lib.toFixed(0).padStart(6)} | ${ref.toFixed(0).padStart(6)} | ${((lib / ref) * 100).toFixed(0).padStart(4)}% | ${perRound}% | ${alone.toFixed(0).padStart(6)} | ${((lib / alone) * 100).toFixed(0).padStart(4)}% | ` +
      `${split(library)} | ${split(driver)} | ${split(pgbench)} |`
    );
  };
  process.stdout.write(
    `\nappend-and-history: ${clients} clients, ${rounds} rounds of ${seconds} s per side, ${rows[0]!.n} messages at the end; ${machine()}\n\n` +
      `| operation | library tx/s | pgbench tx/s | library/pgbench (medians) | each round | pg driver alone tx/s | library/driver | CPU per tx, µs: server + client / machine, library | driver alone | pgbench |\n` +
      `|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n` +
      `${row('append a turn (2 messages)', figures.append!)}\n${row('last 50 messages', figures.history!)}\n\n` +
      'Targets: last 50 messages ≥ 50% of pgbench and ≥ 95% of the driver alone; append ≥ 95% of pgbench.\n' +
      'Server: every PostgreSQL process (the postmaster, its backends, those it reaped); client: the Node process, or pgbench\n' +
      '(reaped by it); machine: every process and the kernel over the run (/proc/stat), so machine − server − client is the\n' +
      "kernel's work outside both (loopback TCP, scheduling) and anything else running. Once the cores are saturated,\n" +
      'tx/s is the cores divided by the machine figure.\n',
  );
  process.stdout.write(replayLine + idleLine);
  process.stdout.write(await decodeCosts());
} finally {
  await cleanup();
}

/**
 * What decoding one read's rows costs in this process, apart from the wire and the protocol: the text values of 50
 * messages as the server sends them, made into row objects through pg's own type parsers, through the package's
 * (TYPES: timestamptz by position), and with no parsing at all (strings, the floor of any decoder).
 */
async function decodeCosts(): Promise<string> {
  const raw = await database.pool.query<unknown[]>({
    text: HISTORY_SQL,
    values: [idOf(1), 50],
    rowMode: 'array',
    types: { getTypeParser: () => (value: string) => value },
  });
  const decoder = (parserOf: (oid: number) => (value: string) => unknown) => {
    const parsers = raw.fields.map((field) => parserOf(field.dataTypeID));
    const names = raw.fields.map((field) => field.name);
    return () =>
      raw.rows.map((values) => {
        const row: Record<string, unknown> = {};
        for (let i = 0; i < names.length; i++) row[names[i]!] = values[i] === null ? null : parsers[i]!(values[i] as string);
        return row;
      });
  };
  const timed = (decode: () => unknown) => {
    let reads = 0;
    const started = performance.now();
    while (performance.now() - started < 2000) {
      decode();
      reads++;
    }
    return ((performance.now() - started) * 1000) / reads;
  };
  const ways = {
    "pg's parsers": decoder((oid) => pg.types.getTypeParser(oid, 'text') as (value: string) => unknown),
    "the package's parsers (TYPES)": decoder((oid) => TYPES.getTypeParser(oid, 'text') as (value: string) => unknown),
    'no parsing (strings)': decoder(() => (value: string) => value),
  };
  const lines = Object.entries(ways).map(([name, decode]) => `| ${name} | ${timed(decode).toFixed(1)} |`);
  return `\nDecoding one read's ${raw.rows.length} rows into objects, in this process (no wire, no protocol):\n\n| parsers | µs per read |\n|---|---:|\n${lines.join('\n')}\n`;
}
