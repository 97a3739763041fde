import assert from 'node:assert/strict';
import { chmodSync } from 'node:fs';
import net from 'node:net';
import { test } from 'node:test';
import { createDomain } from '../ivr/fixtures.ts';
import { testService } from '../harness/service.ts';

const api = await testService('security_headers', { MORDOMO_HTTP_BODY_LIMIT: String(256 * 1024) });
const domain = await createDomain(api.database.db);
const ivrKey = (await api.call('POST', '/v1/admin/ivr/keys', { body: { domain_uuid: domain, name: 'headers' } })).body.key as string;

/** The set every answer carries, whatever wrote it (a route, Fastify, Node's parser, a hijacked stream). */
const EXPECTED = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

function assertSecure(what: string, headers: Headers | Record<string, string>): void {
  const get = (name: string) => (headers instanceof Headers ? headers.get(name) : (headers[name] ?? null));
  for (const [name, value] of Object.entries(EXPECTED)) assert.equal(get(name), value, `${what}: ${name}`);
  // One framing policy: the Content-Security-Policy (a page's own, or the default) refuses framing as X-Frame-Options does.
  const policy = get('content-security-policy') ?? '';
  assert.match(policy, /frame-ancestors 'none'/, `${what}: content-security-policy ${policy}`);
  assert.doesNotMatch(policy, /frame-ancestors 'self'/, `${what}: content-security-policy ${policy}`);
}

/** A request with the admin token unless `token` says otherwise; the response's status and headers. */
async function answer(method: string, path: string, options: { token?: string | null; body?: string; type?: string } = {}) {
  const headers: Record<string, string> = {};
  const token = options.token === undefined ? api.token : options.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  if (options.body !== undefined) headers['content-type'] = options.type ?? 'application/json';
  const response = await fetch(`${api.base}${path}`, { method, headers, body: options.body });
  await response.arrayBuffer();
  return response;
}

async function expectSecure(status: number, method: string, path: string, options?: Parameters<typeof answer>[2]) {
  const response = await answer(method, path, options);
  assert.equal(response.status, status, `${method} ${path}`);
  assertSecure(`${status} ${method} ${path}`, response.headers);
}

/** Writes `raw` on a fresh connection and parses the status and headers of what comes back. */
async function rawAnswer(raw: string): Promise<{ status: number; headers: Record<string, string>; body: string }> {
  const url = new URL(api.base);
  const text = await new Promise<string>((resolve, reject) => {
    const socket = net.connect(Number(url.port), url.hostname, () => socket.write(raw));
    let received = '';
    socket.on('data', (chunk) => (received += chunk));
    socket.on('end', () => resolve(received));
    socket.on('error', reject);
  });
  const [head = '', body = ''] = text.split('\r\n\r\n');
  const [statusLine = '', ...lines] = head.split('\r\n');
  const headers = Object.fromEntries(lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
  return { status: Number(statusLine.split(' ')[1]), headers, body };
}

test('every status a route, the router or the error handler answers carries the same security headers', async () => {
  await expectSecure(200, 'GET', '/v1/users');
  await expectSecure(201, 'POST', '/v1/users', { body: JSON.stringify({ name: 'Bia' }) });
  const secretary = await api.call('POST', '/v1/ivr/secretaries', { token: ivrKey, body: { name: 'Recepção', extension: '8000' } });
  await expectSecure(204, 'DELETE', `/v1/ivr/secretaries/${secretary.body.secretary_uuid ?? secretary.body.id}`, { token: ivrKey });
  await expectSecure(400, 'GET', '/v1/users/not-a-uuid');
  await expectSecure(401, 'GET', '/v1/users', { token: null });
  await expectSecure(404, 'GET', '/v1/nothing-here');
  await expectSecure(413, 'POST', '/v1/users', { body: JSON.stringify({ name: 'x'.repeat(300 * 1024) }) });
  await expectSecure(415, 'POST', '/v1/users', { body: 'name=x', type: 'application/x-www-form-urlencoded' });
  await expectSecure(200, 'HEAD', '/healthz', { token: null });
  await expectSecure(405, 'OPTIONS', '/v1/users'); // a known path under a method it does not take
  // A method a path does not have is 405 with Allow (methods-and-closing.test.ts), headers as on every status.
  await expectSecure(405, 'PROPFIND', '/v1/users');
});

test('a 500 and a 503 carry them too', async () => {
  chmodSync(`${api.dataDir}/admin-token`, 0o644);
  try {
    await expectSecure(500, 'GET', '/v1/users');
  } finally {
    chmodSync(`${api.dataDir}/admin-token`, 0o600);
  }
  // A migration ledger that no longer matches the shipped files: not ready, 503.
  const { rows } = await api.database.pool.query('SELECT module, version, checksum FROM mordomo_migrations ORDER BY version DESC LIMIT 1');
  const [last] = rows;
  await api.database.pool.query('UPDATE mordomo_migrations SET checksum = $3 WHERE module = $1 AND version = $2', [last.module, last.version, 'edited']);
  try {
    await expectSecure(503, 'GET', '/readyz', { token: null });
  } finally {
    await api.database.pool.query('UPDATE mordomo_migrations SET checksum = $3 WHERE module = $1 AND version = $2', [last.module, last.version, last.checksum]);
  }
});

test('the dashboard, /docs and its assets, /openapi.json, /metrics, health and the reminder stream carry them', async () => {
  for (const path of [
    '/',
    '/dashboard.js',
    '/docs',
    '/docs/',
    '/docs/static/index.html',
    '/docs/static/swagger-ui.css',
    '/docs/json',
    '/openapi.json',
    '/healthz',
    '/readyz',
  ]) {
    const response = await answer('GET', path, { token: null });
    assert.ok(response.status < 400, `${path}: ${response.status}`);
    assertSecure(`GET ${path}`, response.headers);
  }
  await expectSecure(200, 'GET', '/metrics');
  // A hijacked reply (Server-Sent Events) writes its own status line: the headers are there as well.
  const controller = new AbortController();
  const stream = await fetch(`${api.base}/v1/reminders/stream`, { headers: { authorization: `Bearer ${api.token}` }, signal: controller.signal });
  assert.equal(stream.status, 200);
  assertSecure('GET /v1/reminders/stream', stream.headers);
  controller.abort();
});

test("requests Node's parser refuses (headers over 16 KB, malformed HTTP) get them, in the one error shape", async () => {
  const oversized = await rawAnswer(`GET /v1/users HTTP/1.1\r\nhost: x\r\nx-padding: ${'x'.repeat(20_000)}\r\n\r\n`);
  assert.equal(oversized.status, 431);
  assertSecure('431', oversized.headers);
  assert.equal(JSON.parse(oversized.body).error.code, 'invalid_input');
  const malformed = await rawAnswer('NOT HTTP AT ALL\r\n\r\n');
  assert.equal(malformed.status, 400);
  assertSecure('400 malformed', malformed.headers);
  assert.deepEqual(JSON.parse(malformed.body), { error: { code: 'invalid_input', message: 'malformed HTTP request', request_id: 'none' } });
});

// Last: past the limit this address's failed authentications are 429 for the rest of the window.
test('a 429 carries them', async () => {
  let status = 0;
  for (let i = 0; i < 30 && status !== 429; i++) status = (await answer('GET', '/v1/users', { token: `wrong-token-${i}` })).status;
  await expectSecure(429, 'GET', '/v1/users', { token: 'wrong-token' });
});
