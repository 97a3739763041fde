// A known key and a known provider secret, used for real, must then be found nowhere: not in the server log
// (which logs every INSERT/UPDATE/DELETE with its parameters, log_statement = 'mod'), not in
// pg_stat_statements, not in error messages, not in the CLI's output or logs, not in the stored bytes.
import assert from 'node:assert/strict';
import { chmodSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { sql } from 'kysely';
import { MordomoError } from '../../src/errors.ts';
import { createIvr } from '../../src/ivr/ivr.ts';
import { runCli } from '../harness/cli.ts';
import { testDatabase } from '../harness/database.ts';
import { tempDir } from '../harness/temp-dir.ts';
import { createDomain } from './fixtures.ts';

const { db, url } = await testDatabase('ivr_secrets');
const KEY = 'KEY-7f3a9c1e-never-logged';
const NEW_KEY = 'NEWKEY-2b8d4f6a-never-logged';
const SECRET = 'sk-SECRET-5d2e8b1f9a';
const secrets = [KEY, NEW_KEY, SECRET];

function assertAbsent(text: string, where: string): void {
  for (const secret of secrets) assert.ok(!text.includes(secret), `${secret} found in ${where}`);
}

test('after real use, rotation and failures, no key or provider secret appears anywhere', async () => {
  const domain = await createDomain(db);
  const tenant = createIvr(db, { encryptionKey: KEY }).forDomain(domain);
  const provider = await tenant.createProvider({ provider_type: 'llm', provider_name: 'openai', config: { api_key: SECRET }, is_default: true });
  await tenant.updateProvider(provider.provider_uuid, { config: { api_key: SECRET, model: 'gpt-4o' } });
  assert.equal((await tenant.defaultProvider('llm')).config && SECRET, SECRET);
  const errors: string[] = [];
  for (const attempt of [
    () => createIvr(db, { encryptionKey: NEW_KEY }).forDomain(domain).defaultProvider('llm'),
    () => tenant.createProvider({ provider_type: 'llm', provider_name: 'openai', config: { api_key: SECRET } }),
    () => tenant.createProvider({ provider_type: 'llm', provider_name: 'bad name', config: { api_key: SECRET } }),
  ]) {
    await attempt().then(
      () => assert.fail('expected a failure'),
      (error: unknown) => {
        assert.ok(error instanceof MordomoError);
        errors.push(`${error.message} ${JSON.stringify(error)}`);
      },
    );
  }
  assertAbsent(errors.join('\n'), 'error messages');

  const dir = tempDir('keys');
  const keyFile = path.join(dir, 'key');
  const newKeyFile = path.join(dir, 'new-key');
  writeFileSync(keyFile, KEY, { mode: 0o600 });
  writeFileSync(newKeyFile, NEW_KEY, { mode: 0o600 });
  const rotation = await runCli(['ivr', 'rotate-key'], {
    DATABASE_URL: url,
    MORDOMO_ENCRYPTION_KEY_FILE: keyFile,
    MORDOMO_NEW_ENCRYPTION_KEY_FILE: newKeyFile,
    MORDOMO_LOG_LEVEL: 'trace',
  });
  assert.equal(rotation.code, 0, rotation.stderr);
  assert.match(rotation.stdout, /provider configs re-encrypted/);
  assertAbsent(rotation.stdout + rotation.stderr, 'CLI output and logs');
  assert.deepEqual((await createIvr(db, { encryptionKey: NEW_KEY }).forDomain(domain).defaultProvider('llm')).config, { api_key: SECRET, model: 'gpt-4o' });

  const { rows: stored } = await sql<{ config: Buffer }>`SELECT config FROM v_voice_ai_providers WHERE config IS NOT NULL`.execute(db);
  assertAbsent(stored.map((r) => r.config.toString('latin1')).join(''), 'stored provider configs');

  const { rows: statements } = await sql<{ query: string }>`SELECT query FROM pg_stat_statements`.execute(db);
  assert.ok(
    statements.some((s) => s.query.includes('pgp_sym_encrypt')),
    'pg_stat_statements saw the encrypting statements',
  );
  assertAbsent(statements.map((s) => s.query).join('\n'), 'pg_stat_statements');

  await new Promise((resolve) => setTimeout(resolve, 300)); // the logging collector writes asynchronously
  const { rows: files } = await sql<{ name: string }>`SELECT name FROM pg_ls_logdir() ORDER BY name`.execute(db);
  assert.ok(files.length > 0, 'the server writes a log');
  let serverLog = '';
  for (const { name } of files) serverLog += (await sql<{ text: string }>`SELECT pg_read_file('log/' || ${name}) AS text`.execute(db)).rows[0]!.text;
  assert.match(serverLog, /UPDATE v_voice_ai_providers/, 'log_statement = mod logged the provider writes');
  assertAbsent(serverLog, 'the PostgreSQL server log');
});

test('a key file readable by others is refused, with the fix', async () => {
  const file = path.join(tempDir('loose-key'), 'key');
  writeFileSync(file, KEY);
  chmodSync(file, 0o644);
  const result = await runCli(['ivr', 'defaults'], { DATABASE_URL: url, MORDOMO_ENCRYPTION_KEY_FILE: file });
  assert.equal(result.code, 78);
  assert.match(result.stderr, /is readable by others \(mode 644\): run "chmod 600/);
  assertAbsent(result.stderr, 'the error');
});
