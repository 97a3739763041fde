// Key rotation against a running service: clients keep creating, patching and reading provider configs while
// `rotateEncryptionKey` runs. No config may end up under the old key, and a partial rotation (configs under both
// keys, as the old code left them) can be finished or rolled back.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sql } from 'kysely';
import { createIvr, rotateEncryptionKey } from '../../src/ivr/ivr.ts';
import { rejectsWith } from '../harness/assertions.ts';
import { testDatabase } from '../harness/database.ts';
import { createDomain } from './fixtures.ts';

const { db } = await testDatabase('ivr_key_rotation');
const OLD = 'old-key-rotation-0123456789';
const NEW = 'new-key-rotation-0123456789';

/** Configs (of every domain) that do not decrypt with `key` alone. */
async function notUnder(key: string): Promise<number> {
  const { rows } = await sql<{
    provider_uuid: string;
    config: Buffer;
  }>`SELECT provider_uuid, config FROM v_voice_ai_providers WHERE config IS NOT NULL`.execute(db);
  let failing = 0;
  for (const row of rows) {
    await sql`SELECT pgp_sym_decrypt(${row.config}, ${key})`.execute(db).catch(() => failing++);
  }
  return failing;
}

/** Creates, patches and reads configs in a loop until `stop` resolves; returns the errors and operations done. */
async function providerTraffic(options: { encryptionKey: string; newEncryptionKey?: string }, domains: string[], stop: Promise<void>) {
  const ivr = createIvr(db, options);
  let running = true;
  void stop.then(() => (running = false));
  const errors: string[] = [];
  let done = 0;
  await Promise.all(
    domains.map(async (domain, worker) => {
      const tenant = ivr.forDomain(domain);
      for (let n = 0; running; n++) {
        try {
          const created = await tenant.createProvider({ provider_type: 'tts', provider_name: `w${worker}-${n}`, config: { api_key: `k${n}` } });
          await tenant.updateProvider(created.provider_uuid, { config: { api_key: `k${n}-patched` } });
          assert.deepEqual((await tenant.defaultProvider('llm')).config, { api_key: `llm-${worker}` });
          done++;
        } catch (error) {
          errors.push(`${(error as Error).message} ${String((error as Error).cause)}`);
          if (errors.length > 50) return;
        }
      }
    }),
  );
  return { errors, done };
}

async function domainsWithDefault(count: number, key: string): Promise<string[]> {
  const domains: string[] = [];
  for (let i = 0; i < count; i++) {
    const domain = await createDomain(db);
    await createIvr(db, { encryptionKey: key })
      .forDomain(domain)
      .createProvider({ provider_type: 'llm', provider_name: 'llm', config: { api_key: `llm-${i}` }, is_default: true });
    domains.push(domain);
  }
  return domains;
}

test('a service holding both keys serves without an error through a rotation, and every config ends under the new key alone', async () => {
  const domains = await domainsWithDefault(3, OLD);
  let stop!: () => void;
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  const traffic = providerTraffic({ encryptionKey: OLD, newEncryptionKey: NEW }, domains, stopped);
  await new Promise((resolve) => setTimeout(resolve, 500));
  const rotated = await rotateEncryptionKey(db, OLD, NEW);
  assert.ok(rotated >= 3, `configs re-encrypted: ${rotated}`);
  await new Promise((resolve) => setTimeout(resolve, 500));
  stop();
  const { errors, done } = await traffic;
  assert.deepEqual(errors, []);
  assert.ok(done > 10, `operations done: ${done}`);
  assert.equal(await notUnder(NEW), 0, 'every config decrypts with the new key alone');

  // Back again, for the next test.
  await rotateEncryptionKey(db, NEW, OLD);
  assert.equal(await notUnder(OLD), 0);
});

test('a service that holds only the old key is refused after a rotation commits: nothing is written under it', async () => {
  const domains = await domainsWithDefault(2, OLD);
  let stop!: () => void;
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  const traffic = providerTraffic({ encryptionKey: OLD }, domains, stopped);
  await new Promise((resolve) => setTimeout(resolve, 300));
  await rotateEncryptionKey(db, OLD, NEW);
  await new Promise((resolve) => setTimeout(resolve, 500));
  stop();
  const { errors } = await traffic;
  assert.ok(errors.length > 0, 'the old key was refused after the rotation');
  for (const message of errors) assert.match(message, /^the encryption key is not the one the provider configs are under/);
  assert.equal(await notUnder(NEW), 0, 'no config was written under the old key after the rotation');
  await rejectsWith(
    () => createIvr(db, { encryptionKey: OLD }).forDomain(domains[0]!).createProvider({ provider_type: 'stt', provider_name: 'late', config: {} }),
    'unavailable',
    /MORDOMO_NEW_ENCRYPTION_KEY/,
  );
  await rotateEncryptionKey(db, NEW, OLD);
});

test('a rotation left half done (configs under both keys) is finished by running it again, and rolled back by swapping the keys', async () => {
  const [domain] = await domainsWithDefault(1, OLD);
  // Configs under the new key that the database does not know of: what a service writing with the new key during
  // an interrupted rotation left before key ids were recorded (triggers off to write them as that code did).
  await db.transaction().execute(async (trx) => {
    await sql`SET LOCAL session_replication_role = replica`.execute(trx);
    for (let i = 0; i < 3; i++) {
      await sql`INSERT INTO v_voice_ai_providers (domain_uuid, provider_type, provider_name, config)
                VALUES (${domain}, 'stt', ${`half-${i}`}, pgp_sym_encrypt(${JSON.stringify({ n: i })}, ${NEW}))`.execute(trx);
    }
  });
  assert.ok((await notUnder(OLD)) >= 3 && (await notUnder(NEW)) > 0, 'configs are under both keys');

  await rotateEncryptionKey(db, OLD, NEW);
  assert.equal(await notUnder(NEW), 0, 'finished: every config under the new key');
  assert.equal(await rotateEncryptionKey(db, OLD, NEW), 0, 'running it again changes nothing');
  await rejectsWith(() => rotateEncryptionKey(db, 'a-third-key-0123456789', 'a-fourth-key-0123456789'), 'config', /not the one in use.*nothing was changed/);

  await rotateEncryptionKey(db, NEW, OLD);
  assert.equal(await notUnder(OLD), 0, 'rolled back: every config under the old key');
  const tenant = createIvr(db, { encryptionKey: OLD }).forDomain(domain!);
  assert.deepEqual((await tenant.defaultProvider('llm')).config, { api_key: 'llm-0' });
});
