import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { setImmediate as tick } from 'node:timers/promises';
import { tempDir } from './harness/temp-dir.ts';

const root = path.join(import.meta.dirname, '..');

// A copy of what the build reads, with the worktree's dist/ as the "old" build: the test never touches the dist/
// other test files run from.
const copy = tempDir('build');
for (const part of ['scripts', 'src', 'tsconfig.json', 'tsconfig.build.json', 'package.json'])
  cpSync(path.join(root, part), path.join(copy, part), { recursive: true });
symlinkSync(path.join(root, 'node_modules'), path.join(copy, 'node_modules'), 'dir');
cpSync(path.join(root, 'dist'), path.join(copy, 'dist'), { recursive: true });
const dist = path.join(copy, 'dist');
const watched = ['cli.js', 'index.js', 'http/app.js', 'http/dashboard/index.html'].map((file) => path.join(dist, file));

/** Runs scripts/build.mjs of the copy, checking all the while that every watched file of dist/ is there. */
async function buildWatching(): Promise<{ code: number | null; checks: number; missing: string[] }> {
  const child = spawn(process.execPath, [path.join(copy, 'scripts', 'build.mjs')], { stdio: 'ignore' });
  let done = false;
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      done = true;
      resolve(code);
    }),
  );
  const missing = new Set<string>();
  let checks = 0;
  while (!done) {
    for (const file of watched) if (!existsSync(file)) missing.add(path.relative(dist, file));
    checks++;
    await tick();
  }
  return { code: await exited, checks, missing: [...missing] };
}

const leftovers = () => readdirSync(copy).filter((name) => name.startsWith('.dist-build-'));

test('rebuilding dist/ never leaves it or any of its files missing, and removes what the sources no longer have', async () => {
  writeFileSync(path.join(dist, 'stale.js'), '// from an older build\n');
  writeFileSync(path.join(copy, 'src', 'build-probe.ts'), 'export const probe = 1;\n');
  const { code, checks, missing } = await buildWatching();
  assert.equal(code, 0);
  assert.ok(checks > 1, 'dist/ was checked while the build ran');
  assert.deepEqual(missing, []);
  assert.ok(existsSync(path.join(dist, 'build-probe.js')), 'the new build is in place');
  assert.equal(existsSync(path.join(dist, 'stale.js')), false, 'a file of the old build only is gone');
  assert.deepEqual(leftovers(), []);
});

test('a build that fails leaves the old dist/ as it was', async () => {
  writeFileSync(path.join(dist, 'marker.txt'), 'old build\n');
  writeFileSync(path.join(copy, 'src', 'broken.ts'), "export const broken: number = 'not a number';\n");
  const { code, missing } = await buildWatching();
  assert.notEqual(code, 0);
  assert.deepEqual(missing, []);
  assert.ok(existsSync(path.join(dist, 'marker.txt')), 'the old dist/ is untouched');
  assert.equal(existsSync(path.join(dist, 'broken.js')), false);
  assert.deepEqual(leftovers(), []);
});
