// `npm install` runs this (the prepare script), and `npm run build`: compiles src/ into dist/ as ESM JavaScript
// with declarations (tsconfig.build.json), which is what the package ships and what bin/mordomo-db.js runs.
// Plain JS: it runs before anything could compile TypeScript.
//
// It builds into a sibling folder and moves the result into dist/ file by file (each a rename, atomic), so a
// running `npm start` or a test reading dist/ never finds it, or any of its files, missing while it is rebuilt;
// a failed build leaves the old dist/ as it was.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const root = path.join(import.meta.dirname, '..');
const dist = path.join(root, 'dist');
// Beside dist/ on the same file system, so moving its files is a rename; one per build, so two builds do not mix.
const staging = path.join(root, `.dist-build-${process.pid}`);
rmSync(staging, { recursive: true, force: true });
try {
  build(staging);
  moveInto(staging, dist);
} finally {
  rmSync(staging, { recursive: true, force: true });
}

function build(out) {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const compiled = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json'), '--outDir', out], { stdio: 'inherit' });
  if (compiled.status !== 0) {
    rmSync(staging, { recursive: true, force: true });
    process.exit(compiled.status ?? 1);
  }
  // TypeScript rewrites `./x.ts` to `./x.js` in the JavaScript it emits but not in declarations, where a consumer's
  // compiler would refuse the `.ts` paths (TS5097) unless it allowed importing them.
  for (const file of files(out).filter((name) => name.endsWith('.d.ts'))) {
    const text = readFileSync(file, 'utf8');
    const fixed = text.replace(/((?:from|import)\s*\(?\s*['"])(\.{1,2}\/[^'"]+)\.ts(['"])/g, '$1$2.js$3');
    if (fixed !== text) writeFileSync(file, fixed);
  }
  // The dashboard's static files are served from beside the compiled module.
  cpSync(path.join(root, 'src', 'http', 'dashboard'), path.join(out, 'http', 'dashboard'), { recursive: true });
}

function files(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    return entry.isDirectory() ? files(full) : [full];
  });
}

/** Renames every file of `from` over its namesake in `to`, then removes what the new build no longer has. */
function moveInto(from, to) {
  const fresh = new Set();
  for (const file of files(from)) {
    const target = path.join(to, path.relative(from, file));
    mkdirSync(path.dirname(target), { recursive: true });
    renameSync(file, target);
    fresh.add(target);
  }
  if (!existsSync(to)) return;
  for (const file of files(to)) if (!fresh.has(file)) rmSync(file, { force: true });
  removeEmptyFolders(to);
}

function removeEmptyFolders(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const full = path.join(dir, entry.name);
    removeEmptyFolders(full);
    if (readdirSync(full).length === 0) rmSync(full, { recursive: true });
  }
}
