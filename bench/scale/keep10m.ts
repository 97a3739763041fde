// bench/scale: the Mordomo core at millions of messages. Generates realistic Portuguese turns (a vocabulary of
// a few thousand words, 10k users, a conversation per 10 messages, skewed intents) into a COPY file, loads it with
// the library's importMessages beside a plain COPY of the same file into a copy of the table, then measures the
// hot reads on the loaded data: last-50 history, a user's 7-day history, full-text search for a common and a rare
// word, every report, the bytes per message, and the same append and history through the peers a user would
// pick instead (Prisma Client, LangChain's and Mastra's Postgres memories; see peers.ts).
// Usage: npm run bench:scale [-- --messages 10000000 --skip-reference --skip-peers]
// (default 1,000,000 messages; 10M takes about an hour here, 25 minutes without the reference COPY and the peers)
import { createReadStream, createWriteStream, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { once } from 'node:events';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { from as copyFrom } from 'pg-copy-streams';
import { sql } from 'kysely';
import { importMessages } from '../../src/core/import.ts';
import { refreshMessageRollups } from '../../src/ops/rollups.ts';
import { conversationHistory, userHistory } from '../../src/core/messages.ts';
import * as reports from '../../src/core/reports.ts';
import { searchMessages } from '../../src/core/search.ts';
import { prismaClient } from '../../test/harness/prisma.ts';
import { AIMessage, HumanMessage } from '@langchain/core/messages';
import { MordomoChatMessageHistory } from '../../src/langchain.ts';
import { installPeers, langchainPeer, mastraPeer, type PeerOperations } from './peers.ts';
import { tempDir } from '../../test/harness/temp-dir.ts';
import { benchDatabase, machine, throughput } from '../harness.ts';
void machine; void throughput;
import type { Database } from '../../src/db/connect.ts';
import { appendTurn } from '../../src/core/conversations.ts';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '1000000' },
    // For a second look at reads and reports without the hour of loading twice and the peers.
    'skip-reference': { type: 'boolean', default: false },
    'skip-peers': { type: 'boolean', default: false },
  },
});
const MESSAGES = Number(values.messages);
const USERS = 10_000;
const CONVERSATIONS = Math.max(1, Math.floor(MESSAGES / 10));
const PEER_SECONDS = 10;

// A deterministic generator, so that two runs load the same data.
let seed = 42;
const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)]!;
/** Zipf-like skew: the first items are picked far more often than the last. */
const skewed = <T>(items: readonly T[]) => items[Math.floor(items.length * random() ** 3)]!;

const STEMS = ['lig', 'deslig', 'acend', 'apag', 'abr', 'fech', 'toc', 'par', 'aument', 'diminu', 'lembr', 'marc', 'cancel', 'compr', 'pergunt', 'respond', 'cham', 'mand', 'envi', 'agend', 'verific', 'mostr', 'procur', 'limp', 'regul', 'program', 'esquent', 'esfri', 'troc', 'pag'];
const ENDINGS = ['ar', 'ou', 'ando', 'ei', 'e', 'a', 'am', 'amos', 'aria', 'ado', 'ada', 'asse'];
const NOUNS = ['luz', 'lâmpada', 'sala', 'cozinha', 'quarto', 'varanda', 'garagem', 'portão', 'televisão', 'música', 'rádio', 'ar-condicionado', 'ventilador', 'persiana', 'cortina', 'alarme', 'câmera', 'geladeira', 'forno', 'cafeteira', 'remédio', 'consulta', 'reunião', 'aniversário', 'mercado', 'farmácia', 'escola', 'trabalho', 'previsão', 'tempo', 'chuva', 'temperatura', 'notícia', 'jogo', 'futebol', 'filme', 'série', 'receita', 'bolo', 'jantar', 'almoço', 'café', 'conta', 'boleto', 'pix', 'banco', 'carro', 'ônibus', 'trânsito', 'viagem', 'ação', 'atenção', 'informação', 'irrigação', 'iluminação', 'segurança', 'energia', 'água', 'gás', 'porta', 'janela', 'banheiro', 'piscina', 'jardim', 'planta', 'cachorro', 'gato', 'criança', 'avó', 'mãe', 'pai', 'vizinho'];
const FILLER = ['a', 'o', 'da', 'do', 'de', 'na', 'no', 'por', 'favor', 'agora', 'hoje', 'amanhã', 'depois', 'às', 'oito', 'nove', 'horas', 'um', 'pouco', 'mais', 'menos', 'também', 'ainda', 'já', 'me', 'você', 'pode', 'quero', 'preciso', 'que', 'e', 'com', 'para', 'meu', 'minha', 'todo', 'toda'];
// A few thousand distinct words: every stem with every ending, the nouns and fillers, and rare names.
const VERBS = STEMS.flatMap((stem) => ENDINGS.map((ending) => stem + ending));
const RARE = Array.from({ length: 2000 }, (_, i) => `zeta${i.toString(36)}`);
const INTENTS = ['iot_control', 'weather', 'music', 'reminder', 'smalltalk', 'shopping', 'news', 'calendar', 'timer', 'recipe', 'traffic', 'unknown'];
const SOURCES = ['brain', 'stt', 'tts', 'core-api'];
const MODELS = ['whisper-small', 'whisper-medium', 'vosk-pt'];

/** Message i's text; every 20,000th carries one of the rare words, so each rare word is in a few messages. */
function sentence(i: number): string {
  const words = [pick(FILLER), skewed(VERBS), pick(FILLER), skewed(NOUNS), pick(FILLER), pick(FILLER), skewed(NOUNS)];
  if (i % 20_000 === 0) words.push(RARE[(i / 20_000) % 50]!);
  return words.join(' ');
}

const idOf = (prefix: string, n: number) => `${prefix}-0000-4000-8000-${String(n).padStart(12, '0')}`;
const userId = (n: number) => idOf('00000000', n);
const conversationId = (n: number) => idOf('10000000', n);

async function writeCopyFile(file: string): Promise<void> {
  const out = createWriteStream(file);
  const now = Date.now();
  const span = 90 * 86_400_000; // three months of history
  for (let i = 0; i < MESSAGES; i++) {
    const conversation = 1 + Math.floor(i / 10);
    const at = new Date(now - span + (i / MESSAGES) * span).toISOString();
    const user = i % 2 === 0;
    const line = user
      ? `${conversationId(conversation)}\tuser\t${sentence(i)}\t${at}\t${skewed(INTENTS)}\t${(0.5 + random() / 2).toFixed(3)}\t\\N\t{"source":"stt","model":"${pick(MODELS)}"}\n`
      : `${conversationId(conversation)}\tassistant\t${sentence(i)}\t${at}\t\\N\t\\N\t${Math.floor(200 + random() * 1500)}\t{"source":"${pick(SOURCES)}"}\n`;
    if (!out.write(line)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

const percentile = (samples: number[], p: number) => {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
};
async function timed(times: number, work: (i: number) => Promise<unknown>): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < times; i++) {
    const t = performance.now();
    await work(i);
    samples.push(performance.now() - t);
  }
  return samples;
}

const { database, cleanup } = await benchDatabase(4);
const { db, pool } = database;
const dir = tempDir('bench-scale');
const file = path.join(dir, 'messages.copy');
try {
  process.stderr.write(`generating ${MESSAGES} messages...\n`);
  await writeCopyFile(file);
  await sql`INSERT INTO users (id, name) SELECT ('00000000-0000-4000-8000-' || lpad(n::text, 12, '0'))::uuid, 'Pessoa ' || n FROM generate_series(1, ${USERS}) n`.execute(db);
  await sql`INSERT INTO conversations (id, user_id, started_at)
            SELECT ('10000000-0000-4000-8000-' || lpad(n::text, 12, '0'))::uuid,
                   ('00000000-0000-4000-8000-' || lpad((1 + n % ${USERS})::text, 12, '0'))::uuid,
                   now() - interval '91 days' + (n::float / ${CONVERSATIONS}) * interval '90 days'
              FROM generate_series(1, ${CONVERSATIONS}) n`.execute(db);

  // The reference: plain COPY of the same file into a copy of the table with the same indexes, no triggers or FKs.
  let copySeconds = Number.NaN;
  if (!values['skip-reference']) {
    await sql`CREATE TABLE messages_copy_reference (LIKE messages INCLUDING DEFAULTS INCLUDING INDEXES)`.execute(db);
    process.stderr.write('plain COPY...\n');
    const started = performance.now();
    const client = await pool.connect();
    try {
      await pipeline(createReadStream(file), client.query(copyFrom(`COPY messages_copy_reference (conversation_id, role, content, timestamp, intent, confidence, latency_ms, metadata) FROM STDIN`)));
    } finally {
      client.release();
    }
    copySeconds = (performance.now() - started) / 1000;
    await sql`DROP TABLE messages_copy_reference`.execute(db);
  }
  process.stderr.write('importMessages...\n');
  let t = performance.now();
  const imported = await importMessages(pool, createReadStream(file));
  const importSeconds = (performance.now() - t) / 1000;
  await sql`VACUUM ANALYZE`.execute(db);
  // Reads are timed at rest: not while the checkpoint of the gigabytes just loaded writes them out.
  await sql`CHECKPOINT`.execute(db);

  process.stdout.write(JSON.stringify({ url: database.url }) + '\n');
  await new Promise(() => {});
} finally {}
