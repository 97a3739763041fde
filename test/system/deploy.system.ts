// Needs Debian's `prometheus` package (promtool): run by `npm run test:system`.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';

test('promtool accepts deploy/prometheus.yml', () => {
  const file = path.join(import.meta.dirname, '..', '..', 'deploy', 'prometheus.yml');
  const result = spawnSync('promtool', ['check', 'config', file], { encoding: 'utf8' });
  assert.equal(result.error, undefined, 'promtool must be installed (apt-get install prometheus)');
  assert.equal(result.status, 0, result.stdout + result.stderr);
  assert.match(result.stdout, /SUCCESS/);
});
