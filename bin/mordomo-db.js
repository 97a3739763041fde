#!/usr/bin/env node
// Runs the compiled CLI (dist/cli.js). In a clone whose sources were edited since the last build, it runs the
// TypeScript sources through tsx (a dev dependency) instead, which behave the same.
import module from 'node:module';
import { enginesRange, unsupportedNodeMessage } from './node-version.js';

// First, before anything an older Node could trip over: one clear line and EX_CONFIG (docs/cli.md, "Exit codes").
const refusal = unsupportedNodeMessage(process.versions.node, enginesRange(new URL('../package.json', import.meta.url)));
if (refusal) {
  process.stderr.write(`${refusal}\n`);
  process.exit(78);
}

// Node 22.1 and later keep V8's compiled code of the modules on disk: later runs skip most of the parsing
// (docs/cli.md, "Start-up"). NODE_DISABLE_COMPILE_CACHE=1 turns it off.
module.enableCompileCache?.();

const { existsSync, readdirSync, statSync } = await import('node:fs');
const { default: path } = await import('node:path');
const root = path.join(import.meta.dirname, '..');
const compiled = path.join(root, 'dist', 'cli.js');
const sources = path.join(root, 'src');

function newestSource(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSource(full) : statSync(full).mtimeMs);
  }
  return newest;
}

if (!existsSync(sources) || (existsSync(compiled) && statSync(compiled).mtimeMs >= newestSource(sources))) {
  await import(compiled);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli.ts');
}
