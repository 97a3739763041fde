import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type MordomoError, sqlstateOf } from '../../src/errors.ts';
import { type RawBuilder, sql } from 'kysely';
import pg from 'pg';
import { createIvr, insertDefaultProviders, rotateEncryptionKey } from '../../src/ivr/ivr.ts';
import { DEFAULT_PROVIDER_SQL } from '../../src/ivr/providers.ts';
import { rejectsWith } from '../harness/assertions.ts';
import { testDatabase } from '../harness/database.ts';
import { createDomain, KEY } from './fixtures.ts';

const { db, url } = await testDatabase('ivr_providers');

/** Runs a write with triggers off, as data written before migrations/ivr/009 (or by hand) can be. */
async function writeUnchecked(statement: RawBuilder<unknown>): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await sql`SET LOCAL session_replication_role = replica`.execute(trx);
    await statement.execute(trx);
  });
}
const ivr = createIvr(db, { encryptionKey: KEY });

test('a provider config is stored encrypted and the seed query decrypts it verbatim with app.encryption_key', async () => {
  const domain = await createDomain(db);
  const tenant = ivr.forDomain(domain);
  const created = await tenant.createProvider({
    provider_type: 'llm',
    provider_name: 'openai-prod',
    config: { api_key: 'sk-live-abc123', model: 'gpt-4o' },
    is_default: true,
  });
  assert.equal(created.configured, true);
  assert.equal('config' in created, false, 'the encrypted config never leaves the database');
  const { rows: raw } = await sql<{ config: Buffer }>`SELECT config FROM v_voice_ai_providers WHERE provider_uuid = ${created.provider_uuid}`.execute(db);
  assert.ok(Buffer.isBuffer(raw[0]!.config));
  assert.ok(!raw[0]!.config.toString('latin1').includes('sk-live-abc123'));

  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('BEGIN');
    await client.query(`SELECT set_config('app.encryption_key', $1, true)`, [KEY]);
    const { rows } = await client.query(DEFAULT_PROVIDER_SQL, [domain, 'llm']);
    assert.deepEqual(rows[0].config, { api_key: 'sk-live-abc123', model: 'gpt-4o' });
    await client.query('COMMIT');
  } finally {
    await client.end();
  }
  assert.deepEqual(await tenant.defaultProvider('llm'), {
    provider_uuid: created.provider_uuid,
    provider_name: 'openai-prod',
    config: { api_key: 'sk-live-abc123', model: 'gpt-4o' },
  });
});

test('the default comes first, a new default demotes the old one, and disabled providers are skipped', async () => {
  const tenant = ivr.forDomain(await createDomain(db));
  const a = await tenant.createProvider({ provider_type: 'tts', provider_name: 'piper', config: { voice: 'faber' }, is_default: true });
  const b = await tenant.createProvider({ provider_type: 'tts', provider_name: 'elevenlabs', config: { api_key: 'el-1' } });
  assert.equal((await tenant.defaultProvider('tts')).provider_name, 'piper');
  await tenant.updateProvider(b.provider_uuid, { is_default: true });
  assert.equal((await tenant.getProvider(a.provider_uuid)).is_default, false);
  assert.equal((await tenant.defaultProvider('tts')).provider_name, 'elevenlabs');
  await tenant.updateProvider(b.provider_uuid, { is_enabled: false });
  assert.equal((await tenant.defaultProvider('tts')).provider_name, 'piper');
  await tenant.updateProvider(a.provider_uuid, { is_enabled: false });
  await rejectsWith(() => tenant.defaultProvider('tts'), 'not_found', /no enabled tts provider/);
});

test('refuses duplicates, unknown types, an enabled provider without config, and a second default in raw SQL', async () => {
  const domain = await createDomain(db);
  const tenant = ivr.forDomain(domain);
  await tenant.createProvider({ provider_type: 'stt', provider_name: 'whisper', config: {}, is_default: true });
  await rejectsWith(
    () => tenant.createProvider({ provider_type: 'stt', provider_name: 'whisper', config: {} }),
    'conflict',
    /already has a provider of this type with this name/,
  );
  await rejectsWith(() => tenant.createProvider({ provider_type: 'vision' as never, provider_name: 'x' }), 'invalid_input', /provider_type/);
  await rejectsWith(() => tenant.createProvider({ provider_type: 'stt', provider_name: 'x y' }), 'invalid_input', /provider_name/);
  await rejectsWith(() => tenant.createProvider({ provider_type: 'stt', provider_name: 'bare' }), 'invalid_input', /cannot be enabled without a config/);
  await rejectsWith(() => tenant.createProvider({ provider_type: 'stt', provider_name: 'arr', config: [] as never }), 'invalid_input', /config/);
  await assert.rejects(
    sql`INSERT INTO v_voice_ai_providers (domain_uuid, provider_type, provider_name, is_default, is_enabled) VALUES (${domain}, 'stt', 'second', true, false)`.execute(
      db,
    ),
    (e) => sqlstateOf(e) === '23505' && (e as MordomoError).database?.constraint === 'idx_providers_one_default',
  );
});

test('a wrong key gives a clear error, never garbage, and a missing key is refused before SQL', async () => {
  const domain = await createDomain(db);
  await ivr.forDomain(domain).createProvider({ provider_type: 'llm', provider_name: 'llm1', config: { api_key: 'k' } });
  await rejectsWith(
    () => createIvr(db, { encryptionKey: 'another-key-0123456789' }).forDomain(domain).defaultProvider('llm'),
    'unavailable',
    /^the encryption key is not the one the provider configs are under/,
  );
  await rejectsWith(() => createIvr(db).forDomain(domain).defaultProvider('llm'), 'config', /no encryption key/);
  await rejectsWith(
    () => createIvr(db).forDomain(domain).createProvider({ provider_type: 'llm', provider_name: 'x', config: {} }),
    'config',
    /no encryption key/,
  );
});

test('key rotation re-encrypts every domain in one transaction; a failure half-way leaves the old key working', async () => {
  const d1 = await createDomain(db);
  const d2 = await createDomain(db);
  await ivr.forDomain(d1).createProvider({ provider_type: 'llm', provider_name: 'r1', config: { api_key: 'one' }, is_default: true });
  await ivr.forDomain(d2).createProvider({ provider_type: 'llm', provider_name: 'r2', config: { api_key: 'two' }, is_default: true });
  // A config under a stray key (written before key ids were recorded: triggers off, as the old code could) makes
  // the rotation fail part-way through.
  const stray = await createDomain(db);
  await writeUnchecked(sql`INSERT INTO v_voice_ai_providers (domain_uuid, provider_type, provider_name, config)
                           VALUES (${stray}, 'llm', 'odd', pgp_sym_encrypt('{}', 'stray-key-0123456789'))`);
  await rejectsWith(
    () => rotateEncryptionKey(db, KEY, 'new-key-0123456789abc'),
    'config',
    /cannot decrypt a provider config with either key.*nothing was changed/,
  );
  assert.deepEqual((await ivr.forDomain(d1).defaultProvider('llm')).config, { api_key: 'one' });
  assert.deepEqual((await ivr.forDomain(d2).defaultProvider('llm')).config, { api_key: 'two' });

  await sql`DELETE FROM v_voice_ai_providers WHERE domain_uuid = ${stray}`.execute(db);
  const rotated = await rotateEncryptionKey(db, KEY, 'new-key-0123456789abc');
  assert.ok(rotated >= 2);
  const next = createIvr(db, { encryptionKey: 'new-key-0123456789abc' });
  assert.deepEqual((await next.forDomain(d1).defaultProvider('llm')).config, { api_key: 'one' });
  assert.deepEqual((await next.forDomain(d2).defaultProvider('llm')).config, { api_key: 'two' });
  await rejectsWith(() => ivr.forDomain(d1).defaultProvider('llm'), 'unavailable', /not the one the provider configs are under/);
  await rotateEncryptionKey(db, 'new-key-0123456789abc', KEY);
});

test('every domain gets the five disabled default providers once; new domains get them on request', async () => {
  const domain = await createDomain(db);
  const added = await insertDefaultProviders(db);
  assert.ok(added >= 5);
  assert.equal(await insertDefaultProviders(db), 0);
  // Lists come in creation order, and the five are created together: compared by type.
  const list = (await ivr.forDomain(domain).listProviders()).sort((a, b) => a.provider_type.localeCompare(b.provider_type));
  assert.deepEqual(
    list.map((p) => [p.provider_type, p.provider_name, p.is_enabled, p.configured, p.is_default]),
    [
      ['embeddings', 'openai-embeddings', false, false, true],
      ['llm', 'openai', false, false, true],
      ['realtime', 'openai-realtime', false, false, true],
      ['stt', 'openai-whisper', false, false, true],
      ['tts', 'elevenlabs', false, false, true],
    ],
  );
  const openai = list.find((p) => p.provider_name === 'openai')!;
  await ivr.forDomain(domain).updateProvider(openai.provider_uuid, { config: { api_key: 'sk-filled' }, is_enabled: true });
  assert.deepEqual((await ivr.forDomain(domain).defaultProvider('llm')).config, { api_key: 'sk-filled' });
});
