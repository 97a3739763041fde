import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmodSync, statSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { sql } from 'kysely';
import { loadConfig } from '../../src/config.ts';
import { CORE_KEYS } from '../../src/core/idempotency-keys.ts';
import { idempotencySecret } from '../../src/db/idempotency-secret.ts';
import { once } from '../../src/db/idempotency.ts';
import { createKysely } from '../../src/db/typed-errors.ts';
import { rejectsWith } from '../harness/assertions.ts';
import { testDatabase } from '../harness/database.ts';
import { tempDir } from '../harness/temp-dir.ts';

const { db, pool } = await testDatabase('idempotency_fingerprints');
const other = createKysely(pool, { idempotencySecret: 'another service, another secret' });

// A provider's config as the IVR fingerprints it: the body holds a plaintext API key.
const request = ['createProvider', { name: 'openai', config: { api_key: 'sk-live-0123456789abcdef' } }];
const plainSha256 = createHash('sha256').update(JSON.stringify(request)).digest();

const storedFingerprint = async (key: string): Promise<Buffer> =>
  (await sql<{ fingerprint: Buffer }>`SELECT fingerprint FROM mordomo_idempotency_keys WHERE key = ${key}`.execute(db)).rows[0]!.fingerprint;

test("a stored fingerprint is keyed by the service's secret: not the body's SHA-256, and another secret gives another", async () => {
  await once(db, CORE_KEYS, { idempotencyKey: 'keyed-1' }, request, async () => 'first');
  await once(other, CORE_KEYS, { idempotencyKey: 'keyed-2' }, request, async () => 'first');
  const [mine, theirs] = [await storedFingerprint('keyed-1'), await storedFingerprint('keyed-2')];
  assert.ok(!mine.includes(plainSha256), 'the body’s plain SHA-256 is not stored');
  assert.ok(!theirs.includes(plainSha256));
  assert.notDeepEqual(mine, theirs, 'the same body under another secret has another fingerprint');
});

test('a replay with the same body returns the first result; another body under the key is refused', async () => {
  assert.equal(await once(db, CORE_KEYS, { idempotencyKey: 'replay' }, request, async () => 'first'), 'first');
  assert.equal(await once(db, CORE_KEYS, { idempotencyKey: 'replay' }, request, async () => 'second'), 'first');
  const changed = ['createProvider', { name: 'openai', config: { api_key: 'sk-live-another' } }];
  await rejectsWith(() => once(db, CORE_KEYS, { idempotencyKey: 'replay' }, changed, async () => 'third'), 'conflict', /already used for a different request/);
});

test('a fingerprint stored before keyed fingerprints (a plain SHA-256) is still honoured until it expires', async () => {
  await sql`INSERT INTO mordomo_idempotency_keys (key, fingerprint, result) VALUES ('from-before', ${plainSha256}, '"first"'::jsonb)`.execute(db);
  assert.equal(await once(db, CORE_KEYS, { idempotencyKey: 'from-before' }, request, async () => 'second'), 'first');
  await rejectsWith(
    () => once(db, CORE_KEYS, { idempotencyKey: 'from-before' }, ['createProvider', {}], async () => 'third'),
    'conflict',
    /already used for a different request/,
  );
});

test('a Kysely made without a secret refuses a keyed call with a clear error and writes nothing, and runs unkeyed calls', async () => {
  const bare = createKysely(pool);
  assert.equal(await once(bare, CORE_KEYS, {}, request, async () => 'ran'), 'ran');
  await rejectsWith(() => once(bare, CORE_KEYS, { idempotencyKey: 'no-secret' }, request, async () => 'ran'), 'config', /idempotency secret/);
  const { rows } = await sql`SELECT 1 FROM mordomo_idempotency_keys WHERE key = 'no-secret'`.execute(db);
  assert.equal(rows.length, 0);
});

test('with no setting, the secret is generated once into the data folder (0600) and read back after; a setting wins; a readable file is refused', () => {
  const dataDir = path.join(tempDir('idempotency-secret'), 'data');
  const config = loadConfig({ MORDOMO_DATA_DIR: dataDir }, {});
  const first = idempotencySecret(config);
  const file = path.join(dataDir, 'idempotency-secret');
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.ok(first.length >= 32);
  assert.equal(idempotencySecret(loadConfig({ MORDOMO_DATA_DIR: dataDir }, {})), first, 'the same secret after a restart');
  assert.equal(
    idempotencySecret(loadConfig({ MORDOMO_DATA_DIR: dataDir, MORDOMO_IDEMPOTENCY_SECRET: 'given by the operator, long enough' }, {})),
    'given by the operator, long enough',
  );
  chmodSync(file, 0o644);
  assert.throws(() => idempotencySecret(loadConfig({ MORDOMO_DATA_DIR: dataDir }, {})), /readable by others/);
  assert.throws(() => loadConfig({ MORDOMO_IDEMPOTENCY_SECRET_FILE: file }, {}), /readable by others/);
});
