import assert from 'node:assert/strict';
import { chmodSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { loadConfig } from '../src/config.ts';
import { ConfigError } from '../src/errors.ts';
import { embeddedSettings, sharedBuffersFor } from '../src/db/server-settings.ts';
import { tempDir } from './harness/temp-dir.ts';

test('defaults follow the seed: port 5432, ./data, pool 5..20, 30 s statements, 300 s idle, module core', () => {
  const config = loadConfig({}, {});
  assert.equal(config.pgPort, 5432);
  assert.equal(config.dataDir, path.resolve('data'));
  assert.deepEqual(config.modules, ['core']);
  assert.deepEqual(config.pool, {
    min: 5,
    max: 20,
    connectionTimeoutMs: 10_000,
    statementTimeoutMs: 30_000,
    idleTimeoutMs: 300_000,
    applicationName: 'mordomo-db',
  });
  assert.equal(config.databaseUrl, undefined);
  assert.equal(config.encryptionKey, undefined);
});

test('flags win over the environment, and empty variables count as unset', () => {
  const config = loadConfig(
    { MORDOMO_PG_PORT: '6000', MORDOMO_MODULES: 'core, ivr' },
    { MORDOMO_PG_PORT: '7000', MORDOMO_DATA_DIR: '', MORDOMO_POOL_MAX: '3' },
  );
  assert.equal(config.pgPort, 6000);
  assert.deepEqual(config.modules, ['core', 'ivr']);
  assert.equal(config.dataDir, path.resolve('data'));
  assert.equal(config.pool.min, 3, 'a smaller pool lowers the default minimum with it');
});

test('bad values are refused with the variable named', () => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ MORDOMO_PG_PORT: 'abc' }, /MORDOMO_PG_PORT/],
    [{ MORDOMO_PG_PORT: '0' }, /MORDOMO_PG_PORT/],
    [{ DATABASE_URL: 'mysql://x' }, /DATABASE_URL: must start with postgres/],
    [{ MORDOMO_MODULES: 'billing' }, /MORDOMO_MODULES/],
    [{ MORDOMO_POOL_MIN: '10', MORDOMO_POOL_MAX: '5' }, /MORDOMO_POOL_MIN must not exceed/],
    [{ MORDOMO_POOL_MAX: '1' }, /MORDOMO_POOL_MAX: must be at least 2: a scheduled job holds one connection/],
    [{ MORDOMO_ENCRYPTION_KEY: 'short' }, /MORDOMO_ENCRYPTION_KEY: must be at least 16/],
    [{ MORDOMO_PG_OS_USER: 'root; rm -rf /' }, /MORDOMO_PG_OS_USER/],
    [{ MORDOMO_PG_SHARED_BUFFERS: '4G' }, /MORDOMO_PG_SHARED_BUFFERS: a size in MB or GB/],
    [{ MORDOMO_PG_SHARED_BUFFERS: "1GB' -c fsync=off" }, /MORDOMO_PG_SHARED_BUFFERS/],
  ];
  for (const [env, message] of cases)
    assert.throws(
      () => loadConfig({}, env),
      (e: unknown) => e instanceof ConfigError && message.test(e.message),
    );
});

test('the encryption key file must be 0600 and hold a long enough key', () => {
  const dir = tempDir('config-key');
  const file = path.join(dir, 'key');
  writeFileSync(file, 'a-long-enough-secret-key\n', { mode: 0o600 });
  assert.equal(loadConfig({}, { MORDOMO_ENCRYPTION_KEY_FILE: file }).encryptionKey, 'a-long-enough-secret-key');
  chmodSync(file, 0o640);
  assert.throws(() => loadConfig({}, { MORDOMO_ENCRYPTION_KEY_FILE: file }), /readable by others \(mode 640\)/);
  writeFileSync(path.join(dir, 'short'), 'tiny', { mode: 0o600 });
  assert.throws(() => loadConfig({}, { MORDOMO_ENCRYPTION_KEY_FILE: path.join(dir, 'short') }), /at least 16 characters/);
  assert.throws(() => loadConfig({}, { MORDOMO_ENCRYPTION_KEY_FILE: path.join(dir, 'missing') }), /cannot be read/);
});

test("the embedded server's shared_buffers: a quarter of the machine's memory between the seed's 256MB and 8GB, or as set", () => {
  const GiB = 2 ** 30;
  assert.equal(sharedBuffersFor(512 * 2 ** 20), '256MB');
  assert.equal(sharedBuffersFor(4 * GiB), '1024MB');
  assert.equal(sharedBuffersFor(24 * GiB), '6144MB');
  assert.equal(sharedBuffersFor(128 * GiB), '8192MB');
  const settings = embeddedSettings(new Set(), '3GB').text;
  assert.deepEqual(settings.match(/^shared_buffers\s*=\s*\S+/gm), ['shared_buffers = 3GB'], 'one line, the one set');
  assert.equal(loadConfig({}, { MORDOMO_PG_SHARED_BUFFERS: '512MB' }).pgSharedBuffers, '512MB');
});

test('MORDOMO_PATRONI_URL: the nodes REST APIs, comma-separated; anything else is refused by name', () => {
  assert.deepEqual(loadConfig({}, {}).patroniUrls, []);
  assert.deepEqual(loadConfig({}, { MORDOMO_PATRONI_URL: 'http://10.0.0.1:8008/, http://10.0.0.2:8008' }).patroniUrls, [
    'http://10.0.0.1:8008',
    'http://10.0.0.2:8008',
  ]);
  for (const bad of ['10.0.0.1:8008', 'http://10.0.0.1:8008/cluster', 'postgresql://10.0.0.1/x']) {
    assert.throws(
      () => loadConfig({}, { MORDOMO_PATRONI_URL: bad }),
      (error: Error) => error instanceof ConfigError && /MORDOMO_PATRONI_URL/.test(error.message),
    );
  }
});
