import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import { rowCounts } from '../harness/assertions.ts';
import { testService } from '../harness/service.ts';

const api = await testService('errors', { MORDOMO_HTTP_BODY_LIMIT: String(256 * 1024) });
const user = (await api.call('POST', '/v1/users', { body: { name: 'Bia' } })).body;
const conversation = (await api.call('POST', '/v1/conversations', { body: { user_id: user.id } })).body;
const unknownId = '3f0e2a9c-3a43-4d7e-9b7c-2d0c4a1e5b6f';

/** Every refusal: the status, the one error shape with a stable code, no stack, no SQL, and nothing written. */
async function refused(method: string, path: string, status: number, code: string, body?: unknown, headers?: Record<string, string>) {
  const before = await rowCounts(api.database.db);
  const response = await api.call(method, path, { body, headers });
  assert.equal(response.status, status, `${method} ${path} ${JSON.stringify(body)?.slice(0, 80)}: ${response.text.slice(0, 300)}`);
  assert.deepEqual(Object.keys(response.body), ['error']);
  assert.equal(response.body.error.code, code);
  assert.equal(typeof response.body.error.message, 'string');
  assert.ok(response.body.error.request_id);
  assert.doesNotMatch(response.text, /\bat [\w.<>]+ \(|node_modules|SELECT |INSERT |UPDATE /, 'no stack trace or SQL in the response');
  assert.deepEqual(await rowCounts(api.database.db), before, 'nothing written');
  return response.body.error.message as string;
}

test('malformed ids are 400 and unknown ids 404, on every kind of route', async () => {
  for (const bad of ['not-a-uuid', "1'%3B DROP TABLE users%3B --", '00000000-0000-0000-0000-00000000000g', '%00']) {
    await refused('GET', `/v1/users/${bad}`, 400, 'invalid_input');
    await refused('GET', `/v1/conversations/${bad}/messages`, 400, 'invalid_input');
    await refused('POST', `/v1/reminders/${bad}/cancel`, 400, 'invalid_input');
  }
  await refused('GET', `/v1/users/${unknownId}`, 404, 'not_found');
  await refused('GET', `/v1/conversations/${unknownId}`, 404, 'not_found');
  await refused('POST', `/v1/conversations/${unknownId}/turns`, 404, 'not_found', { user: { content: 'a' }, assistant: { content: 'b' } });
  await refused('POST', `/v1/actions/${unknownId}/transition`, 404, 'not_found', { status: 'executing' });
  await refused('POST', '/v1/actions', 404, 'not_found', { message_id: unknownId, action_type: 't', action_name: 'n', parameters: {} });
  await refused('POST', '/v1/conversations', 422, 'foreign_key', { user_id: unknownId });
  await refused('GET', '/v1/nothing-here', 404, 'not_found');
});

test('wrong types, missing fields, unknown fields, NUL bytes and out-of-range numbers are 400 naming the field', async () => {
  assert.match(await refused('POST', '/v1/users', 400, 'invalid_input', { name: 42 }), /body\.name/);
  assert.match(await refused('POST', '/v1/users', 400, 'invalid_input', {}), /body\.name/);
  assert.match(await refused('POST', '/v1/users', 400, 'invalid_input', { name: 'x', is_admin: true }), /is_admin/);
  assert.match(await refused('POST', '/v1/users', 400, 'invalid_input', { name: 'a\u0000b' }), /NUL/);
  assert.match(await refused('POST', '/v1/users', 400, 'invalid_input', { name: 'x', email: 'not an address' }), /e-mail/);
  const turn = (extra: object) => ({ user: { content: 'oi', ...extra }, assistant: { content: 'olá' } });
  assert.match(await refused('POST', `/v1/conversations/${conversation.id}/turns`, 400, 'invalid_input', turn({ confidence: 1.5 })), /confidence/);
  assert.match(await refused('POST', `/v1/conversations/${conversation.id}/turns`, 400, 'invalid_input', turn({ latency_ms: 2 ** 40 })), /latency_ms/);
  assert.match(await refused('POST', `/v1/conversations/${conversation.id}/turns`, 400, 'invalid_input', turn({ latency_ms: -1 })), /latency_ms/);
  assert.match(await refused('POST', `/v1/conversations/${conversation.id}/turns`, 400, 'invalid_input', turn({ metadata: [1, 2] })), /metadata/);
  assert.match(await refused('POST', `/v1/conversations/${conversation.id}/turns`, 400, 'invalid_input', turn({ content: '' })), /content/);
  await refused('POST', `/v1/conversations/${conversation.id}/messages`, 400, 'invalid_input', { messages: [] });
  await refused('POST', `/v1/conversations/${conversation.id}/messages`, 400, 'invalid_input', { messages: [{ role: 'root', content: 'x' }] });
  await refused('POST', '/v1/reminders', 400, 'invalid_input', { title: 't', scheduled_at: 'tomorrow' });
  await refused('POST', '/v1/reminders', 400, 'invalid_input', { title: 't', scheduled_at: '2026-13-45T25:00:00Z' });
  await refused('POST', '/v1/logs', 400, 'invalid_input', { lines: [{ level: 'FATAL', source: 's', message: 'm' }] });
  await refused('POST', `/v1/actions/${unknownId}/transition`, 400, 'invalid_input', { status: 'done' });
});

test('query strings are validated too: limits, cursors, dates', async () => {
  for (const query of ['limit=0', 'limit=100000', 'limit=abc', 'limit=1.5', 'cursor=garbage', `cursor=${'x'.repeat(300)}`, 'unknown=1']) {
    await refused('GET', `/v1/conversations/${conversation.id}/messages?${query}`, 400, 'invalid_input');
  }
  const forged = Buffer.from(JSON.stringify({ at: 'yesterday', id: "1' OR '1'='1" })).toString('base64url');
  await refused('GET', `/v1/users?cursor=${forged}`, 400, 'invalid_input');
  await refused('GET', '/v1/logs?from=last%20week', 400, 'invalid_input');
  await refused('GET', '/v1/logs?level=PANIC', 400, 'invalid_input');
});

test('bodies: malformed JSON 400, wrong content type 415, too large 413', async () => {
  await refused('POST', '/v1/users', 400, 'invalid_input', '{"name": "unterminated');
  await refused('POST', '/v1/users', 415, 'unsupported_media_type', 'name=x', { 'content-type': 'application/x-www-form-urlencoded' });
  await refused('POST', '/v1/users', 413, 'payload_too_large', { name: 'x'.repeat(300 * 1024) });
  // Under the body limit but over the field's own: the field's rule answers.
  assert.match(await refused('POST', '/v1/users', 400, 'invalid_input', { name: 'x'.repeat(200 * 1024) }), /at most 255/);
});

test('state conflicts are 409: ending twice, appending to an ended conversation', async () => {
  const other = (await api.call('POST', '/v1/conversations', { body: {} })).body;
  assert.equal((await api.call('POST', `/v1/conversations/${other.id}/end`, { body: {} })).status, 200);
  await refused('POST', `/v1/conversations/${other.id}/end`, 409, 'conflict', {});
  await refused('POST', `/v1/conversations/${other.id}/turns`, 409, 'conflict', { user: { content: 'a' }, assistant: { content: 'b' } });
});

test('SQL fragments are data: stored and returned verbatim', async () => {
  const name = "Robert'); DROP TABLE users; --";
  const created = await api.call('POST', '/v1/users', { body: { name } });
  assert.equal(created.status, 201);
  assert.equal((await api.call('GET', `/v1/users/${created.body.id}`)).body.name, name);
  const turn = await api.call('POST', `/v1/conversations/${conversation.id}/turns`, {
    body: { user: { content: "'; SELECT pg_sleep(10); --" }, assistant: { content: '$1 $$ \\x00' } },
  });
  assert.equal(turn.status, 201);
  assert.equal(turn.body.messages[0].content, "'; SELECT pg_sleep(10); --");
});

test("headers over 16 KB get 431 in the one error shape, not Node's bare status line", async () => {
  const url = new URL(api.base);
  const answer = await new Promise<{ status: number; type: string; text: string }>((resolve, reject) => {
    const request = http.request(
      { host: url.hostname, port: url.port, path: '/v1/users', headers: { authorization: `Bearer ${api.token}`, 'x-padding': 'x'.repeat(20_000) } },
      (response) => {
        let text = '';
        response.on('data', (chunk) => (text += chunk));
        response.on('end', () => resolve({ status: response.statusCode!, type: String(response.headers['content-type']), text }));
      },
    );
    request.on('error', reject);
    request.end();
  });
  assert.equal(answer.status, 431);
  assert.match(answer.type, /application\/json/);
  assert.deepEqual(JSON.parse(answer.text), { error: { code: 'invalid_input', message: 'request headers too large (over 16 KB in all)', request_id: 'none' } });
});

test('every answer forbids sniffing, referrers and framing; /docs has a Content-Security-Policy', async () => {
  for (const [path, token] of [
    ['/v1/users', undefined],
    ['/v1/nope', undefined],
    ['/healthz', null],
    ['/docs/', null],
  ] as const) {
    const response = await api.call('GET', path, { token });
    assert.equal(response.headers.get('x-content-type-options'), 'nosniff', path);
    assert.equal(response.headers.get('referrer-policy'), 'no-referrer', path);
    assert.equal(response.headers.get('x-frame-options'), 'DENY', path);
  }
  const docs = await api.call('GET', '/docs/', { token: null });
  assert.equal(docs.status, 200);
  assert.match(docs.headers.get('content-security-policy') ?? '', /default-src 'self'/);
});
