// The tree is formatted and linted by Biome (biome.json): `npm run format` fixes what it can, this test fails on
// anything left, so that a change cannot land unformatted or with a lint error.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';

const root = path.join(import.meta.dirname, '..');
const biome = path.join(root, 'node_modules', '.bin', 'biome');

test('biome finds nothing to format or fix in the tree', () => {
  const run = spawnSync(biome, ['ci', '--colors=off', '--max-diagnostics=20', '.'], { cwd: root, encoding: 'utf8' });
  assert.equal(run.status, 0, `${run.stdout}${run.stderr}\nrun \`npm run format\` to fix what can be fixed`);
});
