// The CLI's start-up: an older Node than package.json's engines gets one line and exit 78, and `--help` and
// `--version` run without loading the database, HTTP or logging libraries (each command loads its own code).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { enginesRange, satisfiesEngines, unsupportedNodeMessage } from '../bin/node-version.js';
import { CLI, cliEnv } from './harness/cli.ts';
import { tempDir } from './harness/temp-dir.ts';

const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string; engines: { node: string } };
const dir = tempDir('cli-start-up');

function cli(args: string[], nodeOptions: string[] = []) {
  return spawnSync(process.execPath, [...nodeOptions, CLI, ...args], { env: cliEnv({}), encoding: 'utf8' });
}

test('engines ranges: the forms package.json uses, against version strings', () => {
  const cases: [string, string, boolean][] = [
    ['v20.20.2', '>=20', true],
    ['v18.19.0', '>=20', false],
    ['v22.12.0', '>=22.12', true],
    ['v22.11.0', '>=22.12', false],
    ['v20.19.1', '^20.19 || >=22.12', true],
    ['v21.7.0', '^20.19 || >=22.12', false],
    ['v24.0.0', '^20.19 || >=22.12', true],
    ['v20.18.3', '^20.19 || >=22.12', false],
    ['v23.1.0', '>=20 <23', false],
    ['v22.1.0', '>=20 <23', true],
    ['v22.3.0', '~22.1', false],
    ['v22.1.4', '~22.1', true],
    ['v22.1.4', '22', true],
    ['v22.1.4', '22.x', true],
    ['v24.1.0', '22.x', false],
    ['v12.0.0', '', true],
    ['v12.0.0', '*', true],
  ];
  for (const [version, range, expected] of cases) assert.equal(satisfiesEngines(version, range), expected, `${version} in "${range}"`);
  assert.equal(unsupportedNodeMessage('v22.12.0', '>=20'), undefined);
  assert.match(unsupportedNodeMessage('v18.19.0', '>=20') ?? '', /^mordomo-db: needs Node\.js >=20 \(this is Node\.js v18\.19\.0\)/);
  // The check follows package.json, whatever the versions it names.
  assert.equal(enginesRange(new URL('../package.json', import.meta.url)), manifest.engines.node);
});

test('on an older Node than engines: one line, exit 78, no stack trace', () => {
  // This Node made to report a version below every supported one, before the CLI's first line runs.
  const fake = path.join(dir, 'old-node.mjs');
  writeFileSync(fake, "Object.defineProperty(process.versions, 'node', { value: '14.21.3' });\n");
  const result = cli(['--version'], ['--import', pathToFileURL(fake).href]);
  assert.equal(result.status, 78, result.stderr);
  assert.equal(result.stdout, '');
  assert.equal(
    result.stderr,
    `mordomo-db: needs Node.js ${manifest.engines.node} (this is Node.js 14.21.3); install a supported version (README, "Requirements")\n`,
  );
});

test('--version and --help answer without loading fastify, pg, kysely, zod, pino or the ops code', () => {
  // Module hooks that refuse the heavy libraries and the layers below the CLI: a command line that loaded one would
  // fail. Except the monitor's query texts (with the one small helper they use), which name `monitor`'s reports.
  const hooks = path.join(dir, 'refuse-hooks.mjs');
  writeFileSync(
    hooks,
    'export async function resolve(specifier, context, next) {\n' +
      '  if (/^(fastify|@fastify\\/.*|pg|kysely|zod|pino|pino-pretty|prom-client)$/.test(specifier) || (/\\/(ops|core|http|db)\\//.test(specifier) && !/(ops\\/monitor|db\\/client)\\.[jt]s$/.test(specifier))) {\n' +
      "    throw new Error('refused: ' + specifier);\n" +
      '  }\n' +
      '  return next(specifier, context);\n' +
      '}\n',
  );
  const register = path.join(dir, 'refuse.mjs');
  writeFileSync(register, `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(hooks).href)});\n`);
  const refusing = ['--import', pathToFileURL(register).href];
  const version = cli(['--version'], refusing);
  assert.equal(version.status, 0, version.stderr);
  assert.equal(version.stdout, `${manifest.version}\n`);
  const help = cli(['--help'], refusing);
  assert.equal(help.status, 0, help.stderr);
  for (const command of ['start', 'migrate', 'backup', 'restore', 'pitr', 'search', 'user', 'replica', 'maintenance', 'monitor', 'doctor']) {
    assert.match(help.stdout, new RegExp(`\\n  ${command}\\b`));
  }
  const subHelp = cli(['backup', 'verify', '--help'], refusing);
  assert.equal(subHelp.status, 0, subHelp.stderr);
  // The hooks do refuse: a command that needs the database fails on them.
  const search = cli(['search', 'luz'], refusing);
  assert.notEqual(search.status, 0);
  assert.match(search.stderr, /refused/);
});
