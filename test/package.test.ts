// The package as a user gets it: `npm pack`, installed into a fresh project, then imported from plain Node (ESM),
// type-checked by a strict TypeScript consumer (NodeNext and bundler resolution, without skipLibCheck), and
// checked by publint and @arethetypeswrong/cli.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { testDatabase } from './harness/database.ts';
import { tempDir } from './harness/temp-dir.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const work = tempDir('package');
const consumer = path.join(work, 'consumer');
const { url } = await testDatabase('package');
let tarball = '';

function run(command: string, args: string[], cwd: string, env: Record<string, string> = {}) {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', env: { ...process.env, ...env }, timeout: 300_000 });
  return { code: result.status, out: `${result.stdout}${result.stderr}` };
}

function mustRun(command: string, args: string[], cwd: string, env: Record<string, string> = {}): string {
  const { code, out } = run(command, args, cwd, env);
  assert.equal(code, 0, `${command} ${args.join(' ')} failed:\n${out.slice(-4000)}`);
  return out;
}

before(
  () => {
    mustRun('npm', ['pack', '--pack-destination', work, '--ignore-scripts'], root);
    tarball = path.join(work, readdirSync(work).find((name) => name.endsWith('.tgz'))!);
    mkdirSync(consumer);
    writeFileSync(path.join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
    // Versions the project itself uses, so that the npm cache of `npm install` serves them.
    const own = (name: string) => `${name}@${JSON.parse(mustRun('npm', ['pkg', 'get', `devDependencies.${name}`, '--json'], root))}`;
    mustRun(
      'npm',
      ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball, own('@langchain/core'), own('typescript'), own('@types/node')],
      consumer,
    );
  },
  { timeout: 300_000 },
);

test('the tarball holds the compiled package and its files, nothing of tests or benchmarks', () => {
  const listing = mustRun('tar', ['-tzf', tarball], work)
    .split('\n')
    .filter(Boolean)
    .map((entry) => entry.replace(/^package\//, ''));
  for (const expected of [
    'dist/index.js',
    'dist/index.d.ts',
    'dist/langchain.js',
    'dist/cli.js',
    'dist/http/dashboard/index.html',
    'migrations/core/001_extensions.sql',
    'prisma/schema.prisma',
    'deploy/postgresql.conf',
    'bin/mordomo-db.js',
    'README.md',
    'LICENSE',
  ]) {
    assert.ok(listing.includes(expected), `${expected} is in the tarball`);
  }
  assert.deepEqual(
    listing.filter((entry) => /^(src|test|bench|scripts|\.ci)\//.test(entry)),
    [],
  );
});

test('plain Node imports it as ESM: a turn appended and read back, LangChain messages round-trip, the global pg parsers untouched', () => {
  writeFileSync(
    path.join(consumer, 'app.mjs'),
    `import { openDatabase, loadConfig, createLogger, conversations, messages } from 'mordomo-db';
import { MordomoChatMessageHistory } from 'mordomo-db/langchain';
import { AIMessage, HumanMessage } from '@langchain/core/messages';
import pg from 'pg';
const database = await openDatabase(loadConfig({}, { DATABASE_URL: process.env.URL }), createLogger('silent'));
const conversation = await conversations.startConversation(database.db);
await conversations.appendTurn(database.db, conversation.id, { content: 'Liga a luz' }, { content: 'Ligada.' });
const history = await messages.conversationHistory(database.db, conversation.id);
const memory = new MordomoChatMessageHistory({ db: database.db, conversationId: (await conversations.startConversation(database.db)).id });
await memory.addMessages([new HumanMessage('Que horas são?'), new AIMessage('Meio-dia.')]);
const remembered = await memory.getMessages();
const counted = await database.db.selectFrom('messages').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
const other = new pg.Client({ connectionString: process.env.URL });
await other.connect();
const big = (await other.query("SELECT '9007199254740993'::int8 AS n")).rows[0].n;
await other.end();
await database.close();
console.log(JSON.stringify({ history: history.map((m) => m.content), remembered: remembered.map((m) => [m.getType(), m.content]), countType: typeof counted.n, big }));
`,
  );
  const out = mustRun(process.execPath, ['app.mjs'], consumer, { URL: url });
  assert.deepEqual(JSON.parse(out.trim().split('\n').at(-1)!), {
    history: ['Liga a luz', 'Ligada.'],
    remembered: [
      ['human', 'Que horas são?'],
      ['ai', 'Meio-dia.'],
    ],
    countType: 'number',
    big: '9007199254740993',
  });
});

test('importing the package starts nothing and writes nothing', () => {
  const empty = path.join(work, 'empty');
  mkdirSync(empty);
  // The script resolves the package from the consumer's folder; it runs in a folder of its own, where the default
  // data directory (./data) or anything else written relative to it would appear.
  writeFileSync(
    path.join(consumer, 'import-only.mjs'),
    "await import('mordomo-db');\nawait import('mordomo-db/langchain');\nconsole.log(JSON.stringify(process.getActiveResourcesInfo()));\n",
  );
  const out = mustRun(process.execPath, [path.join(consumer, 'import-only.mjs')], empty);
  assert.deepEqual(readdirSync(empty), [], 'no file was written');
  // Its own stdout and the loader's file reads aside: no timer, socket, server or child process.
  const started = (JSON.parse(out.trim().split('\n').at(-1)!) as string[]).filter((kind) => /Timeout|Immediate|TCP|UDP|Process|Signal/.test(kind));
  assert.deepEqual(started, [], 'nothing was started');
});

test('require() either works or gets the clear message Node gives for an ES module', () => {
  const { code, out } = run(process.execPath, ['-e', "require('mordomo-db')"], consumer);
  if (code !== 0) assert.match(out, /ERR_REQUIRE_ESM|require\(\) of ES Module/);
});

test('a strict TypeScript consumer type-checks against the shipped declarations, without skipLibCheck, and real type errors fail', () => {
  const tsc = path.join(consumer, 'node_modules', 'typescript', 'bin', 'tsc');
  writeFileSync(
    path.join(consumer, 'use.ts'),
    `import { openDatabase, loadConfig, createLogger, conversations, createIvr, MordomoError, type Database } from 'mordomo-db';
import { MordomoChatMessageHistory } from 'mordomo-db/langchain';
export async function turn(database: Database): Promise<string[]> {
  const conversation = await conversations.startConversation(database.db, {}, { idempotencyKey: 'k' });
  const messages = await conversations.appendTurn(database.db, conversation.id, { content: 'oi' }, { content: 'olá', latency_ms: 3 });
  const tenant = createIvr(database.db, { encryptionKey: 'x'.repeat(16) }).forDomain('11111111-1111-1111-1111-111111111111');
  const provider = await tenant.defaultProvider('llm');
  new MordomoChatMessageHistory({ db: database.db, conversationId: conversation.id });
  return [...messages.map((m) => m.content), provider.provider_name, String(new MordomoError('conflict', 'x').code)];
}
export const open = () => openDatabase(loadConfig({}), createLogger('silent'));
`,
  );
  const strict = { strict: true, noEmit: true, skipLibCheck: false, types: ['node'], target: 'ES2022' };
  const configs = {
    'tsconfig.nodenext.json': { compilerOptions: { ...strict, module: 'NodeNext', moduleResolution: 'NodeNext' }, files: ['use.ts'] },
    'tsconfig.bundler.json': { compilerOptions: { ...strict, module: 'ESNext', moduleResolution: 'bundler' }, files: ['use.ts'] },
  };
  for (const [file, config] of Object.entries(configs)) {
    writeFileSync(path.join(consumer, file), JSON.stringify(config));
    mustRun(process.execPath, [tsc, '-p', file], consumer);
  }
  // The types are real: a wrong argument is an error.
  writeFileSync(
    path.join(consumer, 'wrong.ts'),
    `import { conversations, type Database } from 'mordomo-db';\nexport const bad = (d: Database) => conversations.appendTurn(d.db, 42, { content: 'x' }, { content: 'y' });\n`,
  );
  writeFileSync(path.join(consumer, 'tsconfig.wrong.json'), JSON.stringify({ ...configs['tsconfig.nodenext.json'], files: ['wrong.ts'] }));
  const wrong = run(process.execPath, [tsc, '-p', 'tsconfig.wrong.json'], consumer);
  assert.notEqual(wrong.code, 0);
  assert.match(wrong.out, /wrong\.ts.*error TS2345/);
});

test('publint and @arethetypeswrong/cli find no problem in the package', () => {
  mustRun(process.execPath, [path.join(root, 'node_modules', 'publint', 'src', 'cli.js'), '--strict'], root);
  // ESM only (docs/library.md): the profile that does not ask for CommonJS entry points.
  mustRun(process.execPath, [path.join(root, 'node_modules', '@arethetypeswrong', 'cli', 'dist', 'index.js'), tarball, '--profile', 'esm-only'], work);
});
