// `npm install` runs this (the prepare script), and `npm run build`: compiles src/ into dist/ as ESM JavaScript
// with declarations (tsconfig.build.json), which is what the package ships and what bin/mordomo-db.js runs.
// Plain JS: it runs before anything could compile TypeScript.
import { spawnSync } from 'node:child_process';
import { cpSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const root = path.join(import.meta.dirname, '..');
const dist = path.join(root, 'dist');
rmSync(dist, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const compiled = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
if (compiled.status !== 0) process.exit(compiled.status ?? 1);

// TypeScript rewrites `./x.ts` to `./x.js` in the JavaScript it emits but not in declarations, where a consumer's
// compiler would refuse the `.ts` paths (TS5097) unless it allowed importing them.
function declarations(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    return entry.isDirectory() ? declarations(full) : entry.name.endsWith('.d.ts') ? [full] : [];
  });
}
for (const file of declarations(dist)) {
  const text = readFileSync(file, 'utf8');
  const fixed = text.replace(/((?:from|import)\s*\(?\s*['"])(\.{1,2}\/[^'"]+)\.ts(['"])/g, '$1$2.js$3');
  if (fixed !== text) writeFileSync(file, fixed);
}

// The dashboard's static files are served from beside the compiled module.
cpSync(path.join(root, 'src', 'http', 'dashboard'), path.join(dist, 'http', 'dashboard'), { recursive: true });
