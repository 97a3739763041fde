import assert from 'node:assert/strict';
import { chmodSync, readFileSync, statSync } from 'node:fs';
import { test } from 'node:test';
import { AuthFailureLimiter } from '../../src/http/auth.ts';
import { runCli } from '../harness/cli.ts';
import { testService } from '../harness/service.ts';
import { createDomain } from '../ivr/fixtures.ts';

const api = await testService('auth');

test('the admin token file is created 0600 and is the only way into /v1 and /metrics', async () => {
  const file = `${api.dataDir}/admin-token`;
  assert.equal(statSync(file).mode & 0o777, 0o600);
  for (const path of ['/v1/users', '/metrics', '/v1/dashboard', '/v1/reminders/upcoming']) {
    const missing = await api.call('GET', path, { token: null });
    const wrong = await api.call('GET', path, { token: `${api.token}x` });
    const malformed = await api.call('GET', path, { token: null, headers: { authorization: `Basic ${api.token}` } });
    for (const response of [missing, wrong, malformed]) {
      assert.equal(response.status, 401, path);
      assert.equal(response.body.error.code, 'unauthorized');
      assert.equal(response.headers.get('www-authenticate'), 'Bearer');
    }
    // The same words whatever was wrong: nothing tells a guesser which part to change.
    assert.equal(missing.body.error.message, wrong.body.error.message);
    assert.equal((await api.call('GET', path)).status, 200, path);
  }
});

test('rotating the admin token takes effect at once, without a restart', async () => {
  const old = api.token;
  const rotated = await runCli(['token', 'rotate'], { MORDOMO_DATA_DIR: api.dataDir });
  assert.equal(rotated.code, 0, rotated.stderr);
  const fresh = readFileSync(`${api.dataDir}/admin-token`, 'utf8').trim();
  assert.notEqual(fresh, old);
  assert.equal((await api.call('GET', '/v1/users', { token: old })).status, 401);
  assert.equal((await api.call('GET', '/v1/users', { token: fresh })).status, 200);
  // The service refuses a token file others can read rather than trust it.
  chmodSync(`${api.dataDir}/admin-token`, 0o644);
  const exposed = await api.call('GET', '/v1/users', { token: fresh });
  assert.equal(exposed.status, 500);
  assert.equal(exposed.body.error.message, 'internal error');
  chmodSync(`${api.dataDir}/admin-token`, 0o600);
  assert.equal((await api.call('GET', '/v1/users', { token: fresh })).status, 200);
  api.token = fresh;
});

test('MORDOMO_ADMIN_TOKEN replaces the file, and then rotation says to change the variable', async () => {
  const token = 'given-by-the-operator-0123456789';
  const fixed = await testService('auth_env', { MORDOMO_ADMIN_TOKEN: token }, api.database);
  assert.equal((await fixed.call('GET', '/v1/users', { token })).status, 200);
  assert.equal((await fixed.call('GET', '/v1/users', { token: api.token })).status, 401);
  const rotate = await runCli(['token', 'rotate'], { MORDOMO_ADMIN_TOKEN: token, MORDOMO_DATA_DIR: fixed.dataDir });
  assert.equal(rotate.code, 78);
  assert.match(rotate.stderr, /MORDOMO_ADMIN_TOKEN/);
});

test("IVR: the domain comes only from the API key; another domain's ids do not exist; revoked keys stop working", async () => {
  const domainA = await createDomain(api.database.db);
  const domainB = await createDomain(api.database.db);
  const keyA = (await api.call('POST', '/v1/admin/ivr/keys', { body: { domain_uuid: domainA, name: 'pbx a' } })).body;
  const keyB = (await api.call('POST', '/v1/admin/ivr/keys', { body: { domain_uuid: domainB, name: 'pbx b' } })).body;
  assert.match(keyA.key, /^mdbk_[0-9a-f]{32}_[\w-]{43}$/);
  const listed = (await api.call('GET', `/v1/admin/ivr/keys?domain_uuid=${domainA}`)).body.items;
  assert.equal(listed.length, 1);
  assert.equal(JSON.stringify(listed).includes(keyA.key.slice(-43)), false, 'the secret is never listed');
  const stored = await api.database.pool.query('SELECT secret_sha256 FROM mordomo_api_keys WHERE key_uuid = $1', [keyA.key_uuid]);
  assert.equal(stored.rows[0].secret_sha256.length, 32, 'only a hash is stored');

  const secretary = await api.call('POST', '/v1/ivr/secretaries', { token: keyA.key, body: { name: 'Recepção', extension: '8000' } });
  assert.equal(secretary.status, 201, secretary.text);
  assert.equal(secretary.body.domain_uuid, domainA);
  const found = await api.call('GET', '/v1/ivr/extensions/8000/secretary', { token: keyA.key });
  assert.equal(found.body.secretary_uuid, secretary.body.secretary_uuid);

  // Domain B sees nothing of A's, by list, by id or by extension, and cannot name a domain in the body.
  assert.deepEqual((await api.call('GET', '/v1/ivr/secretaries', { token: keyB.key })).body.items, []);
  assert.equal((await api.call('GET', `/v1/ivr/secretaries/${secretary.body.secretary_uuid}`, { token: keyB.key })).status, 404);
  assert.equal((await api.call('PATCH', `/v1/ivr/secretaries/${secretary.body.secretary_uuid}`, { token: keyB.key, body: { name: 'x' } })).status, 404);
  assert.equal((await api.call('DELETE', `/v1/ivr/secretaries/${secretary.body.secretary_uuid}`, { token: keyB.key })).status, 404);
  assert.equal((await api.call('GET', '/v1/ivr/extensions/8000/secretary', { token: keyB.key })).status, 404);
  const smuggled = await api.call('POST', '/v1/ivr/secretaries', { token: keyB.key, body: { name: 'x', domain_uuid: domainA } });
  assert.equal(smuggled.status, 400);

  // The admin token is not an IVR key, and an IVR key is not the admin token.
  assert.equal((await api.call('GET', '/v1/ivr/secretaries')).status, 401);
  assert.equal((await api.call('GET', '/v1/users', { token: keyA.key })).status, 401);

  // Provider configs are encrypted at rest and come back decrypted only through the default-provider route.
  const provider = await api.call('POST', '/v1/ivr/providers', {
    token: keyA.key,
    body: { provider_type: 'llm', provider_name: 'openai', config: { api_key: 'sk-secret-123' }, is_default: true },
  });
  assert.equal(provider.status, 201, provider.text);
  assert.equal(provider.text.includes('sk-secret-123'), false);
  const defaults = await api.call('GET', '/v1/ivr/providers/default/llm', { token: keyA.key });
  assert.deepEqual(defaults.body.config, { api_key: 'sk-secret-123' });
  assert.equal((await api.call('GET', '/v1/ivr/providers/default/llm', { token: keyB.key })).status, 404);

  const call = await api.call('POST', '/v1/ivr/calls', {
    token: keyA.key,
    body: { secretary_uuid: secretary.body.secretary_uuid, caller_id: '5511999990000' },
  });
  assert.equal(call.status, 201, call.text);
  const appended = await api.call('POST', `/v1/ivr/calls/${call.body.conversation_uuid}/messages`, {
    token: keyA.key,
    body: {
      messages: [
        { role: 'user', content: 'quero falar com o financeiro' },
        { role: 'assistant', content: 'transferindo' },
      ],
    },
  });
  assert.equal(appended.status, 201, appended.text);
  assert.equal(
    (await api.call('POST', `/v1/ivr/calls/${call.body.conversation_uuid}/messages`, { token: keyB.key, body: { messages: [{ role: 'user', content: 'x' }] } }))
      .status,
    404,
  );
  const since = encodeURIComponent(new Date(Date.now() - 60_000).toISOString());
  const history = await api.call('GET', `/v1/ivr/calls?since=${since}`, { token: keyA.key });
  assert.equal(history.body.items[0].message_count, 2);
  assert.deepEqual((await api.call('GET', `/v1/ivr/calls?since=${since}`, { token: keyB.key })).body.items, []);

  // Key A was just used, so this service remembers it as verified: revoking it here still applies at once.
  const revoked = await api.call('DELETE', `/v1/admin/ivr/keys/${keyA.key_uuid}`);
  assert.ok(revoked.body.revoked_at);
  assert.equal((await api.call('GET', '/v1/ivr/secretaries', { token: keyA.key })).status, 401);
  assert.equal((await api.call('GET', '/v1/ivr/secretaries', { token: keyB.key })).status, 200);
});

test('IVR keys from the command line: created once, listed without secrets, revoked', async () => {
  const domain = await createDomain(api.database.db);
  const env = { DATABASE_URL: api.database.url, MORDOMO_MODULES: 'core,ivr' };
  const created = await runCli(['ivr', 'key', 'create', domain, 'cli key'], env);
  assert.equal(created.code, 0, created.stderr);
  const key = created.stdout.trim();
  assert.equal((await api.call('GET', '/v1/ivr/secretaries', { token: key })).status, 200);
  const listed = await runCli(['ivr', 'key', 'list', domain], env);
  assert.match(listed.stdout, /cli key/);
  assert.equal(listed.stdout.includes(key.slice(-43)), false);
  const keyId = listed.stdout.split('\n')[1]!.split(/\s+/)[0]!;
  assert.equal((await runCli(['ivr', 'key', 'revoke', keyId], env)).code, 0);
  assert.equal((await runCli(['ivr', 'key', 'create', 'not-a-uuid', 'x'], env)).code, 64);
  assert.equal((await runCli(['ivr', 'key', 'revoke', '3f0e2a9c-3a43-4d7e-9b7c-2d0c4a1e5b6f'], env)).code, 66);
});

test('failed authentications are limited per credential and address, and never lock out a valid token or key', async () => {
  const domainA = await createDomain(api.database.db);
  const domainB = await createDomain(api.database.db);
  const keyA = (await api.call('POST', '/v1/admin/ivr/keys', { body: { domain_uuid: domainA, name: 'tenant a' } })).body.key as string;
  const keyB = (await api.call('POST', '/v1/admin/ivr/keys', { body: { domain_uuid: domainB, name: 'tenant b' } })).body.key as string;
  // One address (this test's) floods both scopes with bad credentials, tenant A's own key mangled among them, all
  // at once: past the address's budget the refusals are held (refuseHeld), and meanwhile every valid credential
  // from the same address goes through.
  const flood: Promise<{ status: number }>[] = [];
  for (let i = 0; i < 30; i++) {
    flood.push(api.call('GET', '/v1/users', { token: `wrong-token-${i}` }));
    flood.push(api.call('GET', '/v1/ivr/secretaries', { token: `${keyA}x` }));
    flood.push(api.call('GET', '/v1/ivr/secretaries', { token: null }));
  }
  for (let i = 0; i < 10; i++) {
    assert.equal((await api.call('GET', '/v1/users')).status, 200, 'admin token refused amid bad ones');
    assert.equal((await api.call('GET', '/v1/ivr/secretaries', { token: keyA })).status, 200, 'tenant A locked out');
    assert.equal((await api.call('GET', '/v1/ivr/secretaries', { token: keyB })).status, 200, 'tenant B locked out');
  }
  const statuses = (await Promise.all(flood)).map((response) => response.status);
  // The address's budget is 20 failures a minute (the file's earlier tests may have spent some of it).
  assert.deepEqual([...new Set(statuses)].sort(), statuses.some((status) => status === 401) ? [401, 429] : [429]);
  assert.ok(statuses.filter((status) => status === 401).length <= 20, "no more 401s than the address's budget");
  const limited = await api.call('GET', '/v1/users', { token: 'wrong-token' });
  assert.equal(limited.status, 429);
  assert.equal(limited.body.error.code, 'rate_limited');
  assert.match(limited.body.error.message, /retry in \d+ s/);
  assert.match(limited.headers.get('retry-after') ?? '', /^\d+$/, 'a 429 says when to retry');
});

test('a flood of unique bad credentials from one address is refused by its budget before the per-credential map grows', () => {
  const limiter = new AuthFailureLimiter(20, 60_000);
  const codes = Array.from({ length: 100_000 }, (_, i) => limiter.refuse('10.9.9.9', `fake-key-${i}`, 'no', 1_000).statusCode);
  assert.deepEqual(codes.slice(0, 20), Array(20).fill(401));
  assert.deepEqual([...new Set(codes.slice(20))], [429]);
  assert.equal(limiter.size, 21, 'one counter for the address, one for each credential it tried within its budget');
  const refused = limiter.refuse('10.9.9.9', 'fake', 'no', 1_000);
  assert.equal(refused.retryAfterSeconds, 59);
});

test("the limiter's map is capped: unique bad credentials from many addresses evict the oldest counters", () => {
  const limiter = new AuthFailureLimiter(20, 60_000, 1_000);
  for (let i = 0; i < 50_000; i++) limiter.refuse(`10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`, `fake-${i}`, 'no', 5);
  assert.equal(limiter.size, 1_000);
  limiter.refuse('10.0.0.1', 'x', 'no', 60_000);
  assert.equal(limiter.size, 2, 'a new window starts empty');
});

test('the limiter counts a repeated bad credential on its own, whatever address it comes from', () => {
  const limiter = new AuthFailureLimiter(3, 60_000);
  const codes = ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5'].map((address) => limiter.refuse(address, 'revoked-key', 'no', 0).statusCode);
  assert.deepEqual(codes, [401, 401, 401, 429, 429]);
  assert.equal(limiter.refuse('10.0.0.6', 'another-key', 'no', 0).statusCode, 401, 'another credential from a fresh address is not limited');
  assert.equal(limiter.refuse('10.0.0.1', 'revoked-key', 'no', 60_001).statusCode, 401, 'the window ends');
});

test('a 429 is held before it is answered, while a 401 within the budget and other addresses are answered at once', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const limiter = new AuthFailureLimiter(1, 60_000, 10_000, 1_000);
  assert.equal((await limiter.refuseHeld('10.0.0.1', 'fake-a', 'no')).statusCode, 401);
  let answered: number | undefined;
  const held = limiter.refuseHeld('10.0.0.1', 'fake-b', 'no').then((refusal) => (answered = refusal.statusCode));
  assert.equal((await limiter.refuseHeld('10.0.0.2', 'fake-c', 'no')).statusCode, 401, 'another address is answered meanwhile');
  assert.equal(answered, undefined, 'the 429 is still held');
  t.mock.timers.tick(1_000);
  await held;
  assert.equal(answered, 429);
});
