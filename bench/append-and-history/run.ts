// bench/append-and-history: appending a turn and reading the last 50 messages at 16 concurrent clients, through
// the library and through pgbench running the same SQL on the same server and data (1M messages).
// Usage: npm run bench:append [-- --seconds 15 --messages 1000000]
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { sql } from 'kysely';
import { compileAppend, conversationHistory, HISTORY_SQL } from '../../src/core/messages.ts';
import { appendTurn } from '../../src/core/conversations.ts';
import { tempDir } from '../../test/harness/temp-dir.ts';
import { benchDatabase, idOf, loadConversations, machine, pgbenchTps, throughput } from '../harness.ts';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '15' }, messages: { type: 'string', default: '1000000' }, clients: { type: 'string', default: '16' } } });
const seconds = Number(values.seconds);
const clients = Number(values.clients);
const totalMessages = Number(values.messages);
const CONVERSATIONS = 10_000;

// Conversation n has a predictable id so pgbench (whose \set only makes numbers) can address the same rows.
const ID_SQL = `('00000000-0000-4000-8000-' || lpad(:n::text, 12, '0'))::uuid`;

const { database, port, password, cleanup } = await benchDatabase(clients);
const { db } = database;
try {
  await loadConversations(db, CONVERSATIONS, totalMessages);

  const random = () => 1 + Math.floor(Math.random() * CONVERSATIONS);
  const user = { content: 'Liga a luz da sala, por favor', intent: 'iot_control', confidence: 0.93 };
  const assistant = { content: 'Pronto, a luz da sala está ligada.', latency_ms: 820 };

  const libraryAppend = await throughput(clients, seconds, () => appendTurn(db, idOf(random()), user, assistant));
  const libraryHistory = await throughput(clients, seconds, () => conversationHistory(db, idOf(random()), { limit: 50 }));
  // The driver alone on the same statements (prepared, as the pool does): how much of the gap is the client's
  // own cost of receiving and decoding rows in one Node process, which pgbench does not pay.
  const append0 = compileAppend(db, idOf(1), [{ ...user, role: 'user' }, { ...assistant, role: 'assistant' }]);
  const driverAppend = await throughput(clients, seconds, () =>
    database.pool.query({ name: 'bench_append', text: append0.sql, values: [append0.parameters[0], idOf(random())] }));
  const driverHistory = await throughput(clients, seconds, () =>
    database.pool.query({ name: 'bench_history', text: HISTORY_SQL, values: [idOf(random()), 50] }));

  // The library's own SQL text, with its parameters replaced by pgbench variables.
  const append = compileAppend(db, idOf(1), [{ ...user, role: 'user' }, { ...assistant, role: 'assistant' }]);
  const appendSql = append.sql.replace('$1::jsonb', `'${String(append.parameters[0]).replace(/'/g, "''")}'::jsonb`).replace('$2::uuid', ID_SQL);
  const historySql = HISTORY_SQL.replace('$1', ID_SQL).replace('$2', '50');

  const dir = tempDir('pgbench');
  const pgbench = (name: string, statement: string): number => {
    const file = path.join(dir, `${name}.sql`);
    writeFileSync(file, `\\set n random(1, ${CONVERSATIONS})\n${statement.replace(/\s+/g, ' ').trim()};\n`);
    return pgbenchTps(file, { port, password }, clients, seconds);
  };
  const pgbenchAppend = pgbench('append', appendSql);
  const pgbenchHistory = pgbench('history', historySql);

  const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM messages`.execute(db);
  const row = (name: string, lib: number, ref: number, driver: number) =>
    `| ${name.padEnd(26)} | ${lib.toFixed(0).padStart(8)} | ${ref.toFixed(0).padStart(8)} | ${((lib / ref) * 100).toFixed(0).padStart(5)}% | ≥ 90% | ${driver.toFixed(0).padStart(8)} | ${((lib / driver) * 100).toFixed(0).padStart(4)}% |`;
  process.stdout.write(
    `\nappend-and-history: ${clients} clients, ${seconds} s per run, ${rows[0]!.n} messages at the end; ${machine()}\n\n` +
      `| operation                  | library tx/s | pgbench tx/s | library/pgbench | target | pg driver alone tx/s | library/driver |\n|---|---:|---:|---:|---|---:|---:|\n` +
      `${row('append a turn (2 messages)', libraryAppend, pgbenchAppend, driverAppend)}\n${row('last 50 messages', libraryHistory, pgbenchHistory, driverHistory)}\n`,
  );
} finally {
  await cleanup();
}
