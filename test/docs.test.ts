// The docs are reference, and the tables in them that mirror code are checked against the code, so that a new
// setting, command, option, job, library function, IVR migration or dependency cannot be missing from them (or
// stay in them after it is gone). The TypeScript examples the docs include are type-checked and run, and every
// link between the pages resolves.
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, test } from 'node:test';
import { loadConfig } from '../src/config.ts';
import type { Connection } from '../src/db/connect.ts';
import * as library from '../src/index.ts';
import { createLogger } from '../src/logger.ts';
import { defaultJobs } from '../src/ops/scheduler.ts';
import { CLI } from './harness/cli.ts';
import { runtimeUrlFor, testDatabase } from './harness/database.ts';

const root = path.join(import.meta.dirname, '..');
const read = (file: string) => readFileSync(path.join(root, file), 'utf8');

/** The rows of the first table under the heading `heading` of a Markdown text, as trimmed cells (header and rule dropped). */
function tableUnder(markdown: string, heading: string): string[][] {
  const lines = markdown.split('\n');
  const start = lines.findIndex((line) => /^#+ /.test(line) && line.replace(/^#+ /, '').trim() === heading);
  assert.ok(start >= 0, `no heading "${heading}"`);
  const first = lines.findIndex((line, i) => i > start && line.startsWith('|'));
  assert.ok(first > start, `no table under "${heading}"`);
  const rows: string[][] = [];
  for (const line of lines.slice(first + 2)) {
    if (!line.startsWith('|')) break;
    // Cells split on pipes that are not escaped (`mordomo\|pg_dump`).
    rows.push(
      line
        .slice(1, -1)
        .split(/(?<!\\)\|/)
        .map((cell) => cell.trim()),
    );
  }
  return rows;
}

/** The `code` spans of a Markdown text. */
const codeSpans = (text: string) => [...text.matchAll(/`([^`]+)`/g)].map((match) => match[1]!);

/** The difference between what the code has and what the docs say, as a message naming both sides. */
function assertSameSet(inCode: Iterable<string>, inDocs: Iterable<string>, what: string) {
  const code = new Set(inCode);
  const docs = new Set(inDocs);
  const missing = [...code].filter((name) => !docs.has(name)).sort();
  const extra = [...docs].filter((name) => !code.has(name)).sort();
  assert.deepEqual(
    { missing, extra },
    { missing: [], extra: [] },
    `${what}: missing from the docs ${JSON.stringify(missing)}, in the docs but not in the code ${JSON.stringify(extra)}`,
  );
}

// ---------------------------------------------------------------------------------------------------------------
// The CLI as commander defines it, read from the help of every command.

interface CliCommand {
  path: string[];
  description: string;
  /** Long option names (`--json`), without --help. */
  options: string[];
  /** The variable each option reads, from commander's "(env: X)". */
  env: Record<string, string>;
  children: string[];
}

const execFileAsync = promisify(execFile);

/** The entries (first column) of a section of commander's help: `Options:` or `Commands:`. */
function helpSection(text: string, name: string): string[] {
  const lines = text.split('\n');
  const start = lines.indexOf(`${name}:`);
  if (start < 0) return [];
  const entries: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (!line.startsWith('  ')) break;
    if (line.startsWith('   ')) {
      entries[entries.length - 1] += ` ${line.trim()}`; // a wrapped description
      continue;
    }
    entries.push(line.trim());
  }
  return entries;
}

async function describeCommand(commandPath: string[]): Promise<CliCommand> {
  const { stdout } = await execFileAsync(process.execPath, [CLI, ...commandPath, '--help'], { encoding: 'utf8' });
  const description = stdout.split('\n\n')[1]?.replace(/\s+/g, ' ').trim() ?? '';
  const options: string[] = [];
  const env: Record<string, string> = {};
  for (const entry of helpSection(stdout, 'Options')) {
    const flag = /--[a-z][a-z-]*/.exec(entry)?.[0];
    if (!flag || flag === '--help') continue;
    options.push(flag);
    const variable = /env: ([A-Z_]+)/.exec(entry)?.[1];
    if (variable) env[flag] = variable;
  }
  const children = helpSection(stdout, 'Commands')
    .map((entry) => entry.split(' ')[0]!)
    .filter((name) => name !== 'help');
  return { path: commandPath, description, options, env, children };
}

/** Every command of `mordomo-db`, the root first. */
async function cliCommands(): Promise<CliCommand[]> {
  const all: CliCommand[] = [];
  let level = [await describeCommand([])];
  while (level.length) {
    all.push(...level);
    level = await Promise.all(level.flatMap((command) => command.children.map((child) => describeCommand([...command.path, child]))));
  }
  return all;
}

const commands = cliCommands();

// ---------------------------------------------------------------------------------------------------------------

test('the settings table of docs/configuration.md lists exactly the variables loadConfig reads', () => {
  const variables = new Set<string>();
  const env = new Proxy({} as NodeJS.ProcessEnv, {
    get(_target, key) {
      if (typeof key === 'string') variables.add(key);
      return undefined;
    },
  });
  loadConfig({}, env);
  const rows = tableUnder(read('docs/configuration.md'), 'Settings');
  const documented = rows.map((row) => codeSpans(row[0]!)[0]!);
  assert.equal(new Set(documented).size, documented.length, 'a variable is listed twice');
  assertSameSet(variables, documented, 'settings');
});

test('the settings table names the flag that sets each variable, as the CLI defines it', async () => {
  const byVariable = new Map<string, Set<string>>();
  for (const command of await commands) {
    for (const [flag, variable] of Object.entries(command.env)) {
      byVariable.set(variable, (byVariable.get(variable) ?? new Set()).add(flag));
    }
  }
  for (const row of tableUnder(read('docs/configuration.md'), 'Settings')) {
    const variable = codeSpans(row[0]!)[0]!;
    assert.deepEqual(codeSpans(row[1]!).sort(), [...(byVariable.get(variable) ?? [])].sort(), `the flag of ${variable}`);
  }
});

test('docs/cli.md has a row for every command, naming every option it takes, and no command or option the CLI lacks', async () => {
  const all = await commands;
  const byName = new Map(all.map((command) => [command.path.join(' '), command]));
  const rows = tableUnder(read('docs/cli.md'), 'Commands').map((row) => codeSpans(row[0]!)[0]!);
  const documented = new Map<string, string>();
  for (const usage of rows) {
    const words = usage.split(' ');
    assert.equal(words[0], 'mordomo-db', usage);
    const name: string[] = [];
    for (const word of words.slice(1)) {
      if (!/^[a-z][a-z-]*$/.test(word)) break; // arguments are upper case, options start with - or [
      name.push(word);
    }
    documented.set(name.join(' '), usage);
  }
  // Every command that has no sub-commands needs a row; a group may have one (when it runs something itself).
  const leaves = all.filter((command) => command.path.length && !command.children.length).map((command) => command.path.join(' '));
  assertSameSet(
    leaves,
    [...documented.keys()].filter((name) => !byName.get(name)?.children.length),
    'commands',
  );
  for (const [name, usage] of documented) {
    const command = byName.get(name);
    assert.ok(command, `docs/cli.md documents "${name}", which the CLI does not have`);
    // Options of a group without a row of its own (monitor's --json) may be named in its commands' rows: commander
    // accepts them there, though not every command uses them (monitor terminate prints no report).
    const inherited = command.path.slice(1).flatMap((_, i) => {
      const parent = command.path.slice(0, i + 1).join(' ');
      return documented.has(parent) ? [] : (byName.get(parent)?.options ?? []);
    });
    const mentioned = usage.match(/--[a-z][a-z-]*/g) ?? [];
    assertSameSet([...command.options, ...mentioned.filter((option) => inherited.includes(option))], mentioned, `options of ${name}`);
  }
  // ... and each such group option is named in the row of at least one of its commands.
  for (const group of all.filter((command) => command.path.length && command.children.length && !documented.has(command.path.join(' ')))) {
    const rowsOfGroup = [...documented].filter(([name]) => name.startsWith(`${group.path.join(' ')} `)).map(([, usage]) => usage);
    for (const option of group.options)
      assert.ok(
        rowsOfGroup.some((usage) => usage.includes(option)),
        `${group.path.join(' ')} ${option} is documented`,
      );
  }
  // The global options are written once, above the table.
  for (const option of all[0]!.options) assert.match(read('docs/cli.md'), new RegExp(`\`${option} `), `global option ${option}`);
});

test("the scheduled jobs table of docs/operations.md lists every job with its default schedule, and scheduler run's help names them all", async () => {
  const config = loadConfig({}, { MORDOMO_MODULES: 'core,ivr', MORDOMO_CONVERSATION_RETENTION_DAYS: '30' });
  // Only the jobs' names and schedules are read: nothing runs, so no connection is needed.
  const owner = { db: undefined, pool: undefined, url: '' } as unknown as Connection;
  const jobs = defaultJobs(owner, config, createLogger('silent'));
  const rows = tableUnder(read('docs/operations.md'), 'Scheduled jobs');
  const documented = new Map(rows.map((row) => [codeSpans(row[0]!)[0]!, row[1]!]));
  assertSameSet(
    jobs.map((job) => job.name),
    documented.keys(),
    'scheduled jobs',
  );
  for (const job of jobs) assert.ok(codeSpans(documented.get(job.name)!).includes(job.cron), `the schedule of ${job.name} is ${job.cron}`);
  const help = (await commands).find((command) => command.path.join(' ') === 'scheduler run')!.description;
  for (const job of jobs) assert.match(help, new RegExp(`\\b${job.name}\\b`), `scheduler run --help names ${job.name}`);
});

test("docs/library.md's module table lists every function each module of the package exports", () => {
  const rows = tableUnder(read('docs/library.md'), 'Modules');
  // The functions of a row are its code spans outside parentheses (which say what a function does).
  const documented = new Map(rows.map((row) => [codeSpans(row[0]!)[0]!, codeSpans(row[1]!.replace(/\([^)]*\)/g, ''))]));
  for (const [name, functions] of documented) {
    const module = (library as Record<string, unknown>)[name];
    assert.equal(typeof module, 'object', `the package exports no module ${name}`);
    const exported = Object.entries(module as Record<string, unknown>)
      .filter(([, value]) => typeof value === 'function')
      .map(([key]) => key);
    assertSameSet(exported, functions, `functions of ${name}`);
  }
  const modules = Object.entries(library).filter(
    ([, value]) => typeof value === 'object' && value !== null && Object.values(value).some((v) => typeof v === 'function'),
  );
  assertSameSet(
    modules.map(([name]) => name),
    documented.keys(),
    'modules',
  );
});

test('docs/ivr.md lists every IVR migration', () => {
  const files = readdirSync(path.join(root, 'migrations', 'ivr')).filter((file) => file.endsWith('.sql'));
  const documented = tableUnder(read('docs/ivr.md'), 'Migrations').map((row) => codeSpans(row[0]!)[0]!);
  assertSameSet(files, documented, 'IVR migrations');
});

test("the README's dependency table names every dependency of package.json", () => {
  const manifest = JSON.parse(read('package.json')) as Record<string, Record<string, string> | undefined>;
  const names = [manifest.dependencies, manifest.devDependencies].flatMap((deps) => Object.keys(deps ?? {}));
  const listed = new Set(tableUnder(read('README.md'), 'Dependencies').flatMap((row) => codeSpans(row[0]!)));
  const missing = names.filter((name) => !listed.has(name) && !(name.startsWith('@types/') && listed.has('@types/*')));
  assert.deepEqual(missing, [], 'dependencies the README does not list with a reason');
});

test('the README stays a front door: at most 250 lines', () => {
  assert.ok(read('README.md').split('\n').length <= 250);
});

// ---------------------------------------------------------------------------------------------------------------
// The TypeScript examples of the docs.

/** The TypeScript blocks of a Markdown text. */
const typescriptBlocks = (markdown: string) => [...markdown.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((match) => match[1]!);

const EXAMPLES: Record<string, string[]> = {
  'examples/library.ts': ['README.md', 'docs/library.md'],
  'examples/ivr-call.ts': ['docs/ivr.md'],
};

test('the docs include the examples verbatim', () => {
  for (const [example, pages] of Object.entries(EXAMPLES)) {
    for (const page of pages) assert.ok(typescriptBlocks(read(page)).includes(read(example)), `${page} includes ${example} as it is`);
  }
});

test("the examples type-check as a package user's code, with exactOptionalPropertyTypes", () => {
  // Against the package's own declarations (dist/, as `import 'mordomo-db'` resolves), under the repository's
  // compiler options made stricter.
  const dir = mkdtempSync(path.join(os.tmpdir(), 'docs-examples-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(
    path.join(dir, 'tsconfig.json'),
    JSON.stringify({
      extends: path.join(root, 'tsconfig.json'),
      compilerOptions: { exactOptionalPropertyTypes: true, noUnusedLocals: true, typeRoots: [path.join(root, 'node_modules', '@types')] },
      include: Object.keys(EXAMPLES).map((example) => path.join(root, example)),
    }),
  );
  const tsc = path.join(path.dirname(createRequire(import.meta.url).resolve('typescript/package.json')), 'bin', 'tsc');
  const result = spawnSync(process.execPath, [tsc, '--noEmit', '-p', dir], { encoding: 'utf8' });
  assert.equal(result.status, 0, result.stdout + result.stderr);
});

const { name: database, url, pool } = await testDatabase('docs');

test('examples/library.ts runs against a real database as the README shows it', async () => {
  const env = { ...process.env, DATABASE_URL: url, MORDOMO_RUNTIME_DATABASE_URL: runtimeUrlFor(database), MORDOMO_LOG_LEVEL: 'silent' };
  await execFileAsync(process.execPath, ['--import', 'tsx', path.join(root, 'examples', 'library.ts')], { cwd: root, env });
  // Run twice, as a reader trying it would: the second run finds Ana instead of failing on her e-mail.
  await execFileAsync(process.execPath, ['--import', 'tsx', path.join(root, 'examples', 'library.ts')], { cwd: root, env });
  const { rows } = await pool.query<{ users: number; conversations: number; messages: number }>(
    `SELECT (SELECT count(*)::int FROM users WHERE email = 'ana@example.com') AS users,
            (SELECT count(*)::int FROM conversations) AS conversations, (SELECT count(*)::int FROM messages) AS messages`,
  );
  assert.deepEqual(rows[0], { users: 1, conversations: 2, messages: 4 });
});

test('examples/ivr-call.ts answers a call: secretary, decrypted LLM config, transcript and transfer rule', async () => {
  const { answerCall } = await import('../examples/ivr-call.ts');
  const { createIvr, openDatabase, loadConfig: load, createLogger: logger } = await import('mordomo-db');
  const handle = await openDatabase(load({}, { DATABASE_URL: url, MORDOMO_RUNTIME_DATABASE_URL: runtimeUrlFor(database) }), logger('silent'));
  after(() => handle.close());
  const domainUuid = '11111111-1111-1111-1111-111111111111';
  await handle.owner.pool.query(`INSERT INTO v_domains (domain_uuid, domain_name) VALUES ($1, 'docs.example.com')`, [domainUuid]);
  const key = 'a-docs-example-key-of-32-chars!!';
  const tenant = createIvr(handle.db, { encryptionKey: key }).forDomain(domainUuid);
  const llm = await tenant.createProvider({ provider_type: 'llm', provider_name: 'openai', config: { api_key: 'sk-docs' }, is_default: true });
  const secretary = await tenant.createSecretary({ name: 'Recepção', extension: '8000', llm_provider_uuid: llm.provider_uuid });
  await tenant.createTransferRule({ name: 'financeiro', match_intents: ['transfer_finance'], destination_type: 'extension', destination: '8100' });

  const answered = await answerCall(handle, key, {
    domainUuid,
    extension: '8000',
    callerId: '+5511999990000',
    callUuid: 'call-docs-1',
    utterance: 'Quero o financeiro',
  });
  assert.equal(answered.secretary.secretary_uuid, secretary.secretary_uuid);
  assert.deepEqual(answered.llm.config, { api_key: 'sk-docs' });
  assert.equal(answered.rule?.destination, '8100');
  const call = await tenant.getCall(answered.call.conversation_uuid);
  assert.deepEqual(
    call.messages.map((message) => message.content),
    ['Quero o financeiro'],
  );
});

// ---------------------------------------------------------------------------------------------------------------
// Links between the pages.

function markdownFiles(): string[] {
  const inDir = (dir: string) =>
    readdirSync(path.join(root, dir))
      .filter((file) => file.endsWith('.md'))
      .map((file) => path.posix.join(dir, file));
  return ['README.md', 'CHANGELOG.md', ...inDir('docs'), 'bench/README.md', ...inDir('bench/results')];
}

/** GitHub's anchors of a page: its headings' slugs (numbered when repeated) and its explicit `<a id>`s. */
function anchors(markdown: string): Set<string> {
  const text = markdown.replace(/^```[\s\S]*?^```$/gm, '');
  const found = new Set<string>();
  const seen = new Map<string, number>();
  for (const match of text.matchAll(/^#{1,6} (.+)$/gm)) {
    const slug = match[1]!
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\- _]/gu, '')
      .replace(/ /g, '-');
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    found.add(count ? `${slug}-${count}` : slug);
  }
  for (const match of text.matchAll(/<a id="([^"]+)"><\/a>/g)) found.add(match[1]!);
  return found;
}

test('every link between the pages leads to a file and heading that exist', () => {
  const problems: string[] = [];
  for (const file of markdownFiles()) {
    const text = read(file).replace(/^```[\s\S]*?^```$/gm, '');
    for (const match of text.matchAll(/\[[^\]]*\]\(([^)\s]+)\)/g)) {
      const link = match[1]!;
      if (/^[a-z]+:/.test(link)) continue; // https:, mailto:
      const [target = '', anchor] = link.split('#');
      const resolved = target ? path.posix.normalize(path.posix.join(path.posix.dirname(file), target)) : file;
      if (!existsSync(path.join(root, resolved))) {
        problems.push(`${file}: ${link} (no such file)`);
        continue;
      }
      if (anchor && !anchors(read(resolved)).has(anchor)) problems.push(`${file}: ${link} (no such heading in ${resolved})`);
    }
  }
  assert.deepEqual(problems, []);
});
