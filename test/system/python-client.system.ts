// Needs Debian's python3-httpx: run by `npm run test:system`. The README's Python example, run as a user would
// (`python3 examples/python/scenario.py` with the three variables set) against a live service, on a domain as
// FusionPBX domains are after migration ivr 007 (the five default providers, an llm one named `openai` among them),
// twice: each run must finish the same session the generated TypeScript client runs, with the same outcome, and
// leave the domain as it found it. A run that fails half-way must undo what it wrote.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { type RawBuilder, sql } from 'kysely';
import { SCENARIO_OUTCOME } from '../client/outcome.ts';
import { testService, type TestService } from '../harness/service.ts';
import { createDomain } from '../ivr/fixtures.ts';

const api = await testService('python-client');
// The same service without an encryption key: the example's provider (its first IVR write) is refused.
const keyless = await testService('python-client-keyless', { MORDOMO_ENCRYPTION_KEY: '' });
const SCRIPT = path.join(import.meta.dirname, '../../examples/python/scenario.py');
// Debian's interpreter, where apt puts python3-httpx (a python3 earlier on PATH, from pyenv say, would not have it).
const PYTHON = '/usr/bin/python3';

/** Runs the example without blocking this process, which serves the API it calls. */
async function python(env: Record<string, string>): Promise<{ status: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(PYTHON, [SCRIPT], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '', ...env } });
    return { status: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number | string; stdout?: string; stderr?: string };
    assert.notEqual(failed.code, 'ENOENT', `${PYTHON} must be installed with httpx (apt-get install python3-httpx)`);
    return { status: Number(failed.code), stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

/** A FusionPBX domain with the defaults migration ivr 007 gives every domain (`mordomo-db ivr defaults`). */
async function domainWithDefaults(service: TestService, name: string, uuid: string): Promise<string> {
  const domain = await createDomain(service.database.db, name, uuid);
  const { rows } = await sql<{ added: number }>`SELECT v_voice_insert_default_providers(${domain}::uuid) AS added`.execute(service.database.db);
  assert.equal(rows[0]!.added, 5);
  return domain;
}

/** What the example may change, read as the owner (the test's login bypasses row-level security). */
async function footprint(service: TestService, domain: string) {
  const db = service.database.db;
  const count = async (query: RawBuilder<{ n: number }>) => (await query.execute(db)).rows[0]!.n;
  const { rows: providers } = await sql<{ provider_type: string; provider_name: string; is_default: boolean; is_enabled: boolean; configured: boolean }>`
    SELECT provider_type, provider_name, is_default, is_enabled, config IS NOT NULL AS configured
      FROM v_voice_ai_providers WHERE domain_uuid = ${domain} ORDER BY provider_type, provider_name`.execute(db);
  return {
    providers,
    secretaries: await count(sql<{ n: number }>`SELECT count(*)::int AS n FROM v_voice_secretaries WHERE domain_uuid = ${domain}`),
    documents: await count(sql<{ n: number }>`SELECT count(*)::int AS n FROM v_voice_documents WHERE domain_uuid = ${domain}`),
    rules: await count(sql<{ n: number }>`SELECT count(*)::int AS n FROM v_voice_transfer_rules WHERE domain_uuid = ${domain}`),
    liveKeys: await count(sql<{ n: number }>`SELECT count(*)::int AS n FROM mordomo_api_keys WHERE domain_uuid = ${domain} AND revoked_at IS NULL`),
    users: await count(sql<{ n: number }>`SELECT count(*)::int AS n FROM users`),
    temperature: (await sql<{ value: unknown }>`SELECT value FROM config WHERE key = 'brain.temperature'`.execute(db)).rows[0]!.value,
  };
}

const DEFAULTS = [
  { provider_type: 'embeddings', provider_name: 'openai-embeddings', is_default: true, is_enabled: false, configured: false },
  { provider_type: 'llm', provider_name: 'openai', is_default: true, is_enabled: false, configured: false },
  { provider_type: 'realtime', provider_name: 'openai-realtime', is_default: true, is_enabled: false, configured: false },
  { provider_type: 'stt', provider_name: 'openai-whisper', is_default: true, is_enabled: false, configured: false },
  { provider_type: 'tts', provider_name: 'elevenlabs', is_default: true, is_enabled: false, configured: false },
];

test('the Python example (httpx) runs the whole session twice on a domain with the default providers and leaves it as it was', async () => {
  const domain = await domainWithDefaults(api, 'python.example.com', 'bbbbbbbb-1111-2222-3333-444444444444');
  const before = await footprint(api, domain);
  assert.deepEqual(before.providers, DEFAULTS);
  for (const run of [1, 2]) {
    const result = await python({ MORDOMO_URL: api.base, MORDOMO_ADMIN_TOKEN: api.token, MORDOMO_DOMAIN_UUID: domain });
    assert.equal(result.status, 0, `run ${run}: ${result.stdout}${result.stderr}`);
    assert.deepEqual(JSON.parse(result.stdout), SCENARIO_OUTCOME, `run ${run}`);
    assert.equal(result.stderr, '', `run ${run}`);
    assert.deepEqual(await footprint(api, domain), before, `run ${run}`);
  }
  // The calls stay (the API deletes none), their secretary emptied when it went.
  const { rows: calls } = await sql<{ secretary_uuid: string | null; messages: number }>`
    SELECT c.secretary_uuid, (SELECT count(*)::int FROM v_voice_messages m WHERE m.conversation_uuid = c.conversation_uuid) AS messages
      FROM v_voice_conversations c WHERE c.domain_uuid = ${domain}`.execute(api.database.db);
  assert.deepEqual(calls, [
    { secretary_uuid: null, messages: 2 },
    { secretary_uuid: null, messages: 2 },
  ]);
  // Without its variables it says which one is missing, not a traceback.
  const bare = await python({});
  assert.equal(bare.status, 1);
  assert.match(bare.stderr, /^set MORDOMO_URL/);
});

test('a run that fails half-way undoes what it wrote: the user, the setting, the API key', async () => {
  const domain = await domainWithDefaults(keyless, 'python-keyless.example.com', 'cccccccc-1111-2222-3333-444444444444');
  const before = await footprint(keyless, domain);
  const result = await python({ MORDOMO_URL: keyless.base, MORDOMO_ADMIN_TOKEN: keyless.token, MORDOMO_DOMAIN_UUID: domain });
  assert.equal(result.status, 1, result.stdout + result.stderr);
  // The service refuses a config it cannot encrypt (a 5xx: the fault is the service's configuration, not the request).
  assert.match(result.stderr, /^scenario failed: POST \/v1\/ivr\/providers: 5\d\d /);
  assert.doesNotMatch(result.stderr, /could not undo/);
  assert.deepEqual(await footprint(keyless, domain), before);
});
