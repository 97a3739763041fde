// bench/append-and-history/batch-split.ts: what an append costs per statement and what per row. pgbench runs the
// coalesced append (core/append-batches.ts) carrying 1, 2, 4, … 64 turns of different conversations, in the
// transaction the library wraps it in, beside the single-turn statement alone; it prints the server's CPU per turn
// at each size. If most of the cost is per statement, it falls with the batch size.
// Usage: npx tsx bench/append-and-history/batch-split.ts [-- --seconds 10 --messages 1000000 --clients 4]
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { tempDir } from '../../test/harness/temp-dir.ts';
import { benchDatabase, costed, loadConversations, machine, pgbenchAppend, pgbenchBatch, pgbenchTps } from '../harness.ts';

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '10' }, messages: { type: 'string', default: '1000000' }, clients: { type: 'string', default: '4' } },
});
const [seconds, totalMessages, clients] = [Number(values.seconds), Number(values.messages), Number(values.clients)];
if (![seconds, totalMessages, clients].every((n) => Number.isInteger(n) && n >= 1)) {
  process.stderr.write('batch-split: --seconds, --messages and --clients take whole numbers of at least 1\n');
  process.exit(2);
}
const CONVERSATIONS = 10_000;
const SIZES = [1, 2, 4, 8, 16, 32, 64];
const turn = [
  { role: 'user' as const, content: 'Liga a luz da sala, por favor', intent: 'iot_control', confidence: 0.93 },
  { role: 'assistant' as const, content: 'Pronto, a luz da sala está ligada.', latency_ms: 820 },
];

const { database, port, password, dataDir, cleanup } = await benchDatabase(4);
try {
  await loadConversations(database.db, CONVERSATIONS, totalMessages);
  const dir = tempDir('batch-split');
  const run = async (name: string, script: string, turns: number) => {
    const file = path.join(dir, `${name}.sql`);
    writeFileSync(file, script);
    const figures = await costed(seconds, () => pgbenchTps(file, { port, password }, clients, seconds), dataDir);
    const row = `| ${name.padEnd(22)} | ${figures.rate.toFixed(0).padStart(6)} | ${(figures.rate * turns).toFixed(0).padStart(7)} | ${(figures.serverUs / turns).toFixed(0).padStart(5)} | ${(figures.machineUs / turns).toFixed(0).padStart(5)} |`;
    process.stderr.write(`${row}\n`);
    return row;
  };
  const rows = [
    await run(
      'single-turn statement',
      `\\set n random(1, ${CONVERSATIONS})\n${pgbenchAppend(turn, "('00000000-0000-4000-8000-' || lpad(:n::text, 12, '0'))::uuid").replace(/\s+/g, ' ').trim()};\n`,
      1,
    ),
  ];
  for (const size of SIZES) rows.push(await run(`batch of ${size}`, pgbenchBatch(turn, size, CONVERSATIONS), size));
  process.stdout.write(
    `\nbatch-split: pgbench -M prepared -c ${clients} -j 2, ${seconds} s each, ${totalMessages} messages in ${CONVERSATIONS} conversations; ${machine()}\n\n` +
      '| statement | statements/s | turns/s | server µs per turn | machine µs per turn |\n|---|---:|---:|---:|---:|\n' +
      `${rows.join('\n')}\n`,
  );
} finally {
  await cleanup();
}
