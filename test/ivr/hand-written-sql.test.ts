// Hand-written SQL is a contract: the statements seed 004 shows (and the config write its decrypting query implies)
// sent as text, the way psql or a FusionPBX PHP page sends them, with only the settings docs/ivr.md lists. As the
// owner (FusionPBX's own login) and as the runtime role taking mordomo_ivr (the service's login).
import assert from 'node:assert/strict';
import { createHmac, randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { sql } from 'kysely';
import pg from 'pg';
import { createIvr, repairEncryptionKey } from '../../src/ivr/ivr.ts';
import { rejectsWith } from '../harness/assertions.ts';
import { runCli } from '../harness/cli.ts';
import { seedStatement } from '../harness/seed-statements.ts';
import { tempDir } from '../harness/temp-dir.ts';
import { runtimeUrlFor, testDatabase } from '../harness/database.ts';
import { createDomain } from './fixtures.ts';

const KEY = 'hand-written-sql-key-0123456789';
const OTHER_KEY = 'another-key-entirely-0123456789';

// Seed 004, "Queries Comuns", verbatim.
const PROVIDER_CONFIG = seedStatement('provider_config');

const SECRETARY_BY_EXTENSION = seedStatement('secretary_by_extension');

const CONVERSATION_HISTORY = seedStatement('conversation_history');

/** The write seed 004's decrypting query implies, with the values a PHP page would interpolate as parameters. */
const WRITE_CONFIG = `
INSERT INTO v_voice_ai_providers (domain_uuid, provider_type, provider_name, config, is_default, is_enabled)
VALUES ($1, 'llm', $2, pgp_sym_encrypt($3, current_setting('app.encryption_key')), true, true)
RETURNING provider_uuid`;

type Login = 'owner' | 'runtime';

/** One session as psql would hold it: statements as text, settings by set_config, BEGIN and COMMIT by hand. */
async function session<T>(database: string, login: Login, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const { url } = login === 'owner' ? target : { url: runtimeUrlFor(database) };
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** BEGIN, the settings a hand-written IVR transaction needs (the runtime role also takes mordomo_ivr), work, COMMIT. */
async function inTransaction<T>(client: pg.Client, login: Login, settings: Record<string, string>, work: () => Promise<T>): Promise<T> {
  await client.query('BEGIN');
  try {
    if (login === 'runtime') await client.query(`SET LOCAL role mordomo_ivr`);
    for (const [name, value] of Object.entries(settings)) await client.query('SELECT set_config($1, $2, true)', [name, value]);
    const result = await work();
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK');
    throw error;
  }
}

const target = await testDatabase('hand_written_sql');

/** The recorded current key's id, and every config's, as the owner sees them (row security needs no domain here). */
async function recordedKeyIds(): Promise<{ current: string | undefined }> {
  const { rows } = await sql<{ key_id: string }>`SELECT key_id FROM mordomo_ivr_encryption_key`.execute(target.db);
  return { current: rows[0]?.key_id };
}

for (const login of ['owner', 'runtime'] as const) {
  test(`as the ${login}: a config written with only app.encryption_key and app.domain_uuid set is read back by the seed's query`, async () => {
    await sql`DELETE FROM mordomo_ivr_encryption_key`.execute(target.db);
    const domain = await createDomain(target.db);
    const settings = { 'app.encryption_key': KEY, 'app.domain_uuid': domain };
    const name = `hand-${login}`;
    await session(target.name, login, async (client) => {
      await inTransaction(client, login, settings, () => client.query(WRITE_CONFIG, [domain, name, JSON.stringify({ api_key: 'sk-hand' })]));
      const { rows } = await inTransaction(client, login, settings, () => client.query(PROVIDER_CONFIG, [domain, 'llm']));
      assert.equal(rows.length, 1);
      assert.equal(rows[0].provider_name, name);
      assert.deepEqual(rows[0].config, { api_key: 'sk-hand' });
    });
    // The database worked the key's id out itself, and the library (which holds the same key) carries on with it.
    const tenant = createIvr(target.db, { encryptionKey: KEY }).forDomain(domain);
    await tenant.createProvider({ provider_type: 'tts', provider_name: `lib-${login}`, config: { api_key: 'sk-lib' }, is_default: true });
    assert.deepEqual((await tenant.defaultProvider('tts')).config, { api_key: 'sk-lib' });
    const { rows: ids } = await sql<{ key_id: string }>`SELECT DISTINCT key_id FROM v_voice_ai_providers WHERE config IS NOT NULL`.execute(target.db);
    assert.deepEqual(
      ids.map((row) => row.key_id),
      [(await recordedKeyIds()).current],
    );
  });

  test(`as the ${login}: a config written under a key that is not the current one is refused as such, and nothing is written`, async () => {
    await sql`DELETE FROM mordomo_ivr_encryption_key`.execute(target.db);
    const domain = await createDomain(target.db);
    await createIvr(target.db, { encryptionKey: KEY })
      .forDomain(domain)
      .createProvider({ provider_type: 'stt', provider_name: 'first', config: { a: 1 } });
    const before = await recordedKeyIds();
    await session(target.name, login, async (client) => {
      await assert.rejects(
        inTransaction(client, login, { 'app.encryption_key': OTHER_KEY, 'app.domain_uuid': domain }, () => client.query(WRITE_CONFIG, [domain, 'stale', '{}'])),
        (error: pg.DatabaseError) => error.code === 'MDB02' && /not the current one/.test(error.message),
      );
      // A config encrypted with some other key than the one the transaction names is refused too: the row would
      // claim the current key while no holder of that key could read it.
      await assert.rejects(
        inTransaction(client, login, { 'app.encryption_key': KEY, 'app.domain_uuid': domain }, () =>
          client.query(
            `INSERT INTO v_voice_ai_providers (domain_uuid, provider_type, provider_name, config) VALUES ($1, 'llm', 'mixed', pgp_sym_encrypt('{}', $2))`,
            [domain, OTHER_KEY],
          ),
        ),
        (error: pg.DatabaseError) => error.code === 'MDB04' && /not encrypted with app.encryption_key/.test(error.message),
      );
      // Encrypted without app.encryption_key set: said so, by name.
      await assert.rejects(
        inTransaction(client, login, { 'app.domain_uuid': domain }, () =>
          client.query(
            `INSERT INTO v_voice_ai_providers (domain_uuid, provider_type, provider_name, config) VALUES ($1, 'llm', 'keyless', pgp_sym_encrypt('{}', $2))`,
            [domain, KEY],
          ),
        ),
        (error: pg.DatabaseError) => error.code === 'MDB02' && /app\.encryption_key/.test(error.message),
      );
    });
    const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM v_voice_ai_providers WHERE provider_name IN ('stale', 'mixed', 'keyless')`.execute(
      target.db,
    );
    assert.equal(rows[0]!.n, 0);
    assert.deepEqual(await recordedKeyIds(), before);
  });

  test(`as the ${login}: a guessed app.key_id can never become the recorded current key`, async () => {
    await sql`DELETE FROM mordomo_ivr_encryption_key`.execute(target.db);
    const domain = await createDomain(target.db);
    await session(target.name, login, async (client) => {
      await assert.rejects(
        inTransaction(client, login, { 'app.encryption_key': KEY, 'app.key_id': 'v1', 'app.domain_uuid': domain }, () =>
          client.query(WRITE_CONFIG, [domain, 'guess', '{}']),
        ),
        (error: pg.DatabaseError) => error.code === 'MDB02' && /app\.key_id/.test(error.message),
      );
    });
    assert.deepEqual(await recordedKeyIds(), { current: undefined });
    // The service's own writes go on as on a fresh install.
    const tenant = createIvr(target.db, { encryptionKey: KEY }).forDomain(domain);
    await tenant.createProvider({ provider_type: 'llm', provider_name: 'after-guess', config: { ok: true } });
  });

  test(`as the ${login}: seed 004's secretary and history queries run as written, within the domain set`, async () => {
    const domain = await createDomain(target.db);
    const elsewhere = await createDomain(target.db);
    for (const where of [domain, elsewhere]) {
      const tenant = createIvr(target.db, { encryptionKey: KEY }).forDomain(where);
      const secretary = await tenant.createSecretary({ name: `Ana ${where.slice(0, 4)}`, extension: '1001' });
      const call = await tenant.startCall({ secretary_uuid: secretary.secretary_uuid, caller_id: '+5511999990000', call_uuid: randomUUID() });
      await tenant.appendCallMessages(call.conversation_uuid, [{ role: 'user', content: 'Quero a segunda via do boleto' }]);
    }
    await session(target.name, login, async (client) => {
      await inTransaction(client, login, { 'app.domain_uuid': domain }, async () => {
        const secretaries = await client.query(SECRETARY_BY_EXTENSION, [domain, '1001']);
        assert.deepEqual(
          secretaries.rows.map((row) => [row.domain_uuid, row.extension]),
          [[domain, '1001']],
        );
        const history = await client.query(CONVERSATION_HISTORY, [domain, new Date(Date.now() - 3_600_000)]);
        assert.deepEqual(
          history.rows.map((row) => [row.secretary_name, Number(row.message_count)]),
          [[`Ana ${domain.slice(0, 4)}`, 1]],
        );
        // As the runtime role, another domain's rows stay out of reach even when the filter names them (the test's
        // owner is a superuser, whom row-level security does not bind).
        if (login === 'runtime') assert.equal((await client.query(SECRETARY_BY_EXTENSION, [elsewhere, '1001'])).rows.length, 0);
      });
    });
  });
}

test('a database whose recorded key was guessed is repaired by repairEncryptionKey, only with the key every config opens with', async () => {
  await sql`DELETE FROM mordomo_ivr_encryption_key`.execute(target.db);
  const domain = await createDomain(target.db);
  const tenant = createIvr(target.db, { encryptionKey: KEY }).forDomain(domain);
  await tenant.createProvider({ provider_type: 'llm', provider_name: 'before-lock', config: { api_key: 'x' }, is_default: true });
  // The state an earlier version let a guessed app.key_id leave behind: the current key recorded as 'v1'.
  await sql`UPDATE mordomo_ivr_encryption_key SET key_id = 'v1'`.execute(target.db);
  await rejectsWith(() => tenant.createProvider({ provider_type: 'tts', provider_name: 'locked', config: {} }), 'unavailable', /repair-key/);
  // A key the configs are not under repairs nothing.
  await rejectsWith(() => repairEncryptionKey(target.db, OTHER_KEY), 'config', /does not open/);
  assert.deepEqual(await recordedKeyIds(), { current: 'v1' });
  assert.equal(await repairEncryptionKey(target.db, KEY), await countConfigs());
  await tenant.createProvider({ provider_type: 'tts', provider_name: 'unlocked', config: {} });
  assert.deepEqual((await tenant.defaultProvider('llm')).config, { api_key: 'x' });
});

test('`mordomo-db ivr repair-key` repairs a guessed recorded key with the key file, and exits 78 changing nothing with another key', async () => {
  await sql`DELETE FROM mordomo_ivr_encryption_key`.execute(target.db);
  const domain = await createDomain(target.db);
  await createIvr(target.db, { encryptionKey: KEY })
    .forDomain(domain)
    .createProvider({ provider_type: 'stt', provider_name: 'cli', config: { k: 1 } });
  await sql`UPDATE mordomo_ivr_encryption_key SET key_id = 'v1'`.execute(target.db);
  const dir = tempDir('repair-key');
  const keyFile = path.join(dir, 'key');
  writeFileSync(keyFile, KEY, { mode: 0o600 });
  const wrong = await runCli(['ivr', 'repair-key'], { DATABASE_URL: target.url, MORDOMO_ENCRYPTION_KEY: OTHER_KEY });
  assert.equal(wrong.code, 78, wrong.stderr);
  assert.match(wrong.stderr, /does not open with this key.*nothing was changed/);
  assert.deepEqual(await recordedKeyIds(), { current: 'v1' });
  const repaired = await runCli(['ivr', 'repair-key'], { DATABASE_URL: target.url, MORDOMO_ENCRYPTION_KEY_FILE: keyFile });
  assert.equal(repaired.code, 0, repaired.stderr);
  assert.match(repaired.stdout, new RegExp(`^${await countConfigs()} provider configs open with this key`));
  assert.ok(!(repaired.stdout + repaired.stderr + wrong.stdout + wrong.stderr).includes(KEY), 'the key is never printed');
  assert.deepEqual(await recordedKeyIds(), { current: migration009KeyId(KEY) });
});

test('the key id the database derives is the one migration 009 recorded, so existing installs keep their current key', async () => {
  const { rows } = await sql<{ id: string }>`SELECT v_voice_key_id(${KEY}) AS id`.execute(target.db);
  assert.equal(rows[0]!.id, migration009KeyId(KEY));
});

/** How the TypeScript code named a key under migration 009 (an HMAC of a fixed text under the key, 32 hex digits). */
function migration009KeyId(key: string): string {
  return createHmac('sha256', key).update('mordomo-db provider config key').digest('hex').slice(0, 32);
}

async function countConfigs(): Promise<number> {
  const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM v_voice_ai_providers WHERE config IS NOT NULL`.execute(target.db);
  return rows[0]!.n;
}
