import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

test('the whole project type-checks under strict TypeScript', () => {
  const tsc = path.join(path.dirname(createRequire(import.meta.url).resolve('typescript/package.json')), 'bin', 'tsc');
  const result = spawnSync(process.execPath, [tsc, '--noEmit', '-p', root], { encoding: 'utf8' });
  assert.equal(result.status, 0, result.stdout + result.stderr);
});

test('mordomo-db --help lists the commands and the settings they read', () => {
  const result = spawnSync(process.execPath, [path.join(root, 'bin', 'mordomo-db.js'), '--help'], { encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  for (const expected of ['start', 'migrate', 'MORDOMO_DATA_DIR', 'MORDOMO_PG_PORT', 'MORDOMO_MODULES']) assert.match(result.stdout, new RegExp(expected));
});

test('every command answers --help with a description', () => {
  const commands = [
    ['start'],
    ['migrate'],
    ['migrate', 'status'],
    ['backup'],
    ['backup', 'verify'],
    ['backup', 'list'],
    ['backup', 'prune'],
    ['restore'],
    ['maintenance', 'partitions'],
    ['maintenance', 'vacuum'],
    ['maintenance', 'reindex'],
    ['monitor', 'slow'],
    ['monitor', 'terminate'],
    ['doctor'],
    ['scheduler'],
    ['scheduler', 'run'],
    ['ivr', 'defaults'],
    ['ivr', 'rotate-key'],
    ['ivr', 'repair-key'],
  ];
  for (const command of commands) {
    const result = spawnSync(process.execPath, [path.join(root, 'bin', 'mordomo-db.js'), ...command, '--help'], { encoding: 'utf8' });
    assert.equal(result.status, 0, `${command.join(' ')}: ${result.stderr}`);
    assert.match(result.stdout, new RegExp(`Usage: mordomo-db ${command.join(' ')}`), command.join(' '));
    assert.ok(result.stdout.split('\n')[2]!.trim().length > 10, `${command.join(' ')} has no description`);
  }
});
