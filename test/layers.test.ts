// The layers hold by test: every import of src/ is checked against docs/layers.json, the one place the parts and
// their arrows are written (docs/architecture.md explains them), so the picture and the code cannot drift.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

const root = path.join(import.meta.dirname, '..');

interface Part {
  files: string[];
  imports: string[];
  /** Parts this one may take types from (`import type`), never values. */
  typesFrom?: string[];
}
interface Layers {
  parts: Record<string, Part>;
  exceptions: Record<string, string>;
}

const layers = JSON.parse(readFileSync(path.join(root, 'docs', 'layers.json'), 'utf8')) as Layers;

function sourceFiles(dir: string): string[] {
  return readdirSync(path.join(root, dir), { withFileTypes: true }).flatMap((entry) => {
    const relative = `${dir}/${entry.name}`;
    if (entry.isDirectory()) return sourceFiles(relative);
    return entry.name.endsWith('.ts') ? [relative] : [];
  });
}

/** The part a file of src/ belongs to (a folder entry ends with "/"), or undefined when none claims it. */
export function partOf(file: string, parts: Record<string, Part> = layers.parts): string | undefined {
  return Object.entries(parts).find(([, part]) => part.files.some((entry) => (entry.endsWith('/') ? file.startsWith(entry) : file === entry)))?.[0];
}

interface Import {
  target: string;
  typeOnly: boolean;
}

/** Every relative import and re-export of a file's text, and whether it brings types only. */
export function importsOf(file: string, text: string): Import[] {
  const found: Import[] = [];
  const statement = /^\s*(import|export)\s+(type\s+)?([^'";]*?)\s*(?:from\s+)?['"](\.[^'"]+)['"]/gm;
  for (const match of text.matchAll(statement)) {
    const [, , typeKeyword, clause = '', specifier = ''] = match;
    const names = /\{([^}]*)\}/.exec(clause)?.[1];
    const everyNameIsType =
      names !== undefined &&
      !/^\s*\w/.test(clause) &&
      names
        .split(',')
        .map((name) => name.trim())
        .filter(Boolean)
        .every((name) => name.startsWith('type '));
    found.push({ target: path.posix.normalize(path.posix.join(path.posix.dirname(file), specifier)), typeOnly: Boolean(typeKeyword) || everyNameIsType });
  }
  // The CLI loads what a command runs when it runs (`await import('./x.ts')`): a value import like any other.
  for (const [, specifier = ''] of text.matchAll(/\bimport\(\s*['"](\.[^'"]+)['"]\s*\)/g)) {
    found.push({ target: path.posix.normalize(path.posix.join(path.posix.dirname(file), specifier)), typeOnly: false });
  }
  return found;
}

/** The imports of `files` that the layers do not allow, as "from -> to (part -> part)" lines. */
export function violations(files: Map<string, string>, rules: Layers = layers): string[] {
  const wrong: string[] = [];
  for (const [file, text] of files) {
    const from = partOf(file, rules.parts);
    if (!from) {
      wrong.push(`${file}: in no part of docs/layers.json`);
      continue;
    }
    for (const { target, typeOnly } of importsOf(file, text)) {
      const to = partOf(target, rules.parts);
      if (!to || to === from) continue;
      const part = rules.parts[from]!;
      const allowed = part.imports.includes(to) || (typeOnly && part.typesFrom?.includes(to));
      if (!allowed && !rules.exceptions[`${file} -> ${target}`]) wrong.push(`${file} -> ${target} (${from} -> ${to}${typeOnly ? ', types' : ''})`);
    }
  }
  return wrong;
}

const sources = new Map(sourceFiles('src').map((file) => [file, readFileSync(path.join(root, file), 'utf8')]));

test('every import of src/ follows the arrows of docs/layers.json', () => {
  assert.deepEqual(violations(sources), []);
});

test('the check fails on an arrow against the design: a route importing the pool, core importing the IVR, config importing db', () => {
  const planted = new Map([
    ['src/http/routes/users.ts', "import { createPool } from '../../db/pool.ts';\n"],
    ['src/core/users.ts', "import { inDomain } from '../ivr/domain-context.ts';\n"],
    ['src/config.ts', "export { sharedBuffersFor } from './db/server-settings.ts';\n"],
    ['src/http/context.ts', "import type { DB } from '../db/schema.ts';\nimport { type Pool, createPool } from '../db/pool.ts';\n"],
    ['src/new-folder/thing.ts', ''],
    ['src/cli/data.ts', "const { createPool } = await import('../db/pool.ts');\n"],
  ]);
  assert.deepEqual(violations(planted), [
    'src/http/routes/users.ts -> src/db/pool.ts (http -> db)',
    'src/core/users.ts -> src/ivr/domain-context.ts (core -> ivr)',
    'src/config.ts -> src/db/server-settings.ts (settings -> db)',
    'src/http/context.ts -> src/db/pool.ts (http -> db)',
    'src/new-folder/thing.ts: in no part of docs/layers.json',
    'src/cli/data.ts -> src/db/pool.ts (service -> db)',
  ]);
});

test('every exception of docs/layers.json is an import that exists', () => {
  const existing = new Set([...sources].flatMap(([file, text]) => importsOf(file, text).map(({ target }) => `${file} -> ${target}`)));
  for (const exception of Object.keys(layers.exceptions)) assert.ok(existing.has(exception), `${exception} is no longer imported: drop the exception`);
});

// Tables that the modules' migrations create, and the transaction settings (app.*) they read.
const moduleTables = [
  ...new Set(
    readdirSync(path.join(root, 'migrations'), { recursive: true, encoding: 'utf8' })
      .filter((file) => file.endsWith('.sql'))
      .flatMap((file) =>
        [...readFileSync(path.join(root, 'migrations', file), 'utf8').matchAll(/CREATE TABLE IF NOT EXISTS (\w+)/g)].map((match) => match[1]!),
      ),
  ),
];

/** Where a db/ file names a module's table (in SQL) or setting. */
function moduleNames(text: string): string[] {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
  const tables = moduleTables.filter((table) =>
    table.includes('_')
      ? new RegExp(`\\b${table}\\b`).test(code)
      : new RegExp(`\\b(FROM|JOIN|INTO|UPDATE|TABLE)\\s+${table}\\b|selectFrom\\('${table}'\\)`, 'i').test(code),
  );
  return [...tables, ...(code.match(/app\.\w+/g) ?? [])];
}

test("db/ names no module's table or setting (each module hands db/ its own)", () => {
  assert.ok(moduleTables.includes('v_voice_idempotency_keys') && moduleTables.includes('users'), 'the tables are read from the migrations');
  const named = [...sources]
    .filter(([file]) => file.startsWith('src/db/') && file !== 'src/db/schema.ts')
    .flatMap(([file, text]) => moduleNames(text).map((name) => `${file}: ${name}`));
  assert.deepEqual(named, []);
  // biome-ignore lint/suspicious/noTemplateCurlyInString: the text of a template literal, as a db/ file would hold it
  assert.deepEqual(moduleNames("await sql`SELECT set_config('app.domain_uuid', ${d}, true)`; db.selectFrom('v_domains')"), ['v_domains', 'app.domain_uuid']);
});

test('the HTTP service and the CLI run no SQL of their own: monitoring SQL lives in ops', () => {
  // A string or template that starts as a statement does.
  const statements = /[`'"]\s*(SELECT\s|INSERT\s+INTO\s|DELETE\s+FROM\s|UPDATE\s+\w+\s+SET\s|WITH\s+\w+\s+AS\s)/i;
  assert.ok(
    statements.test("const CONNECTIONS = `SELECT coalesce(state, 'background')`") && !statements.test('`comes back, run SELECT pg_drop_replication_slot`'),
  );
  const withSql = [...sources].filter(([file, text]) => /^src\/(http|cli)\/|^src\/(cli|service)\.ts$/.test(file) && statements.test(text));
  assert.deepEqual(
    withSql.map(([file]) => file),
    [],
  );
});
