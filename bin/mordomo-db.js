#!/usr/bin/env node
// Runs the compiled CLI (dist/cli.js). In a clone whose sources were edited since the last build, it runs the
// TypeScript sources through tsx (a dev dependency) instead, which behave the same.
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

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
