// Every POST of the published document, with and without an Idempotency-Key, while the database is gone
// (connections refused, open ones reset) and while it is starting up (57P03 on every connection): each answers 503
// `unavailable` in the one error shape with a Retry-After, never a 500, and works again once the database is back.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createDomain } from '../ivr/fixtures.ts';
import { testDatabase } from '../harness/database.ts';
import { dbProxy, type ProxyMode } from '../harness/db-proxy.ts';
import { testService } from '../harness/service.ts';

const database = await testDatabase('unavailable');
const proxy = await dbProxy(database.url);
const api = await testService('unavailable', { DATABASE_URL: proxy.url, MORDOMO_CONNECT_TIMEOUT_MS: '1000' }, database);
const document = (await api.call('GET', '/openapi.json', { token: null })).body;

async function created(path: string, body: unknown, token?: string) {
  const response = await api.call('POST', path, { body, token });
  assert.equal(response.status, 201, `${path}: ${response.text}`);
  return response.body;
}
const user = await created('/v1/users', { name: 'Queda' });
const conversation = await created('/v1/conversations', { user_id: user.id });
const [message] = (await created(`/v1/conversations/${conversation.id}/turns`, { user: { content: 'oi' }, assistant: { content: 'olá' } })).messages;
const action = await created('/v1/actions', { message_id: message.id, action_type: 'iot', action_name: 'luz', parameters: {} });
const reminder = await created('/v1/reminders', { user_id: user.id, title: 'lembrete', scheduled_at: new Date(Date.now() + 86_400_000).toISOString() });
const domain = await createDomain(database.db);
const ivrKey = (await created('/v1/admin/ivr/keys', { domain_uuid: domain, name: 'queda' })).key as string;
const secretary = await created('/v1/ivr/secretaries', { name: 'Recepção', extension: '8000' }, ivrKey);
const call = await created('/v1/ivr/calls', { secretary_uuid: secretary.secretary_uuid, caller_id: '5511999990000' }, ivrKey);

/** A valid request for every POST of the document (the test fails when a new POST is not listed here). */
const requests: Record<string, { path: string; body: unknown; ivr?: boolean }> = {
  '/v1/users': { path: '/v1/users', body: { name: 'Outra' } },
  '/v1/conversations': { path: '/v1/conversations', body: {} },
  '/v1/conversations/{id}/turns': { path: `/v1/conversations/${conversation.id}/turns`, body: { user: { content: 'a' }, assistant: { content: 'b' } } },
  '/v1/conversations/{id}/messages': { path: `/v1/conversations/${conversation.id}/messages`, body: { messages: [{ role: 'user', content: 'c' }] } },
  '/v1/conversations/{id}/end': { path: `/v1/conversations/${conversation.id}/end`, body: {} },
  '/v1/actions': { path: '/v1/actions', body: { message_id: message.id, action_type: 'iot', action_name: 'luz', parameters: {} } },
  '/v1/actions/{id}/transition': { path: `/v1/actions/${action.id}/transition`, body: { status: 'executing' } },
  '/v1/reminders': { path: '/v1/reminders', body: { title: 'outro', scheduled_at: new Date(Date.now() + 86_400_000).toISOString() } },
  '/v1/reminders/{id}/cancel': { path: `/v1/reminders/${reminder.id}/cancel`, body: {} },
  '/v1/logs': { path: '/v1/logs', body: { lines: [{ level: 'INFO', source: 'queda', message: 'durante a queda' }] } },
  '/v1/admin/ivr/keys': { path: '/v1/admin/ivr/keys', body: { domain_uuid: domain, name: 'outra' } },
  '/v1/ivr/secretaries': { path: '/v1/ivr/secretaries', body: { name: 'Outra', extension: '8001' }, ivr: true },
  '/v1/ivr/providers': { path: '/v1/ivr/providers', body: { provider_type: 'llm', provider_name: 'openai', config: { api_key: 'sk-x' } }, ivr: true },
  '/v1/ivr/documents': { path: '/v1/ivr/documents', body: { title: 'FAQ', content: 'horário' }, ivr: true },
  '/v1/ivr/transfer-rules': { path: '/v1/ivr/transfer-rules', body: { name: 'fin', destination_type: 'extension', destination: '2000' }, ivr: true },
  '/v1/ivr/transfer-rules/match': { path: '/v1/ivr/transfer-rules/match', body: { utterance: 'financeiro' }, ivr: true },
  '/v1/ivr/calls': { path: '/v1/ivr/calls', body: { secretary_uuid: secretary.secretary_uuid, caller_id: '5511999990001' }, ivr: true },
  '/v1/ivr/calls/{uuid}/messages': {
    path: `/v1/ivr/calls/${call.conversation_uuid}/messages`,
    body: { messages: [{ role: 'user', content: 'oi' }] },
    ivr: true,
  },
  '/v1/ivr/calls/{uuid}/end': { path: `/v1/ivr/calls/${call.conversation_uuid}/end`, body: {}, ivr: true },
};

const posts = Object.entries(document.paths as Record<string, Record<string, { parameters?: { name: string; in: string }[] }>>)
  .filter(([, operations]) => operations.post)
  .map(([route, operations]) => ({ route, keyed: (operations.post!.parameters ?? []).some((p) => p.in === 'header' && p.name === 'idempotency-key') }));

test('the test knows a valid request for every POST of the document', () => {
  assert.deepEqual(
    posts.map((p) => p.route).filter((route) => !requests[route]),
    [],
  );
  assert.ok(
    posts.some((p) => p.keyed),
    'some POSTs take an Idempotency-Key',
  );
});

for (const mode of ['down', 'starting'] satisfies ProxyMode[]) {
  test(`every POST, keyed or not, answers 503 unavailable while the database is ${mode}`, async () => {
    await proxy.set(mode);
    const wrong: string[] = [];
    try {
      let n = 0;
      for (const { route, keyed } of posts) {
        const { path, body, ivr } = requests[route]!;
        for (const key of keyed ? [undefined, `queda-${mode}-${n++}`] : [undefined]) {
          const response = await api.call('POST', path, { body, token: ivr ? ivrKey : undefined, headers: key ? { 'idempotency-key': key } : {} });
          const shape = response.body?.error;
          if (response.status !== 503 || shape?.code !== 'unavailable' || typeof shape.request_id !== 'string' || !response.headers.get('retry-after')) {
            wrong.push(
              `${route}${key ? ' (keyed)' : ''}: ${response.status} ${response.text.slice(0, 200)} retry-after=${response.headers.get('retry-after')}`,
            );
          }
        }
      }
    } finally {
      await proxy.set('pass');
    }
    assert.deepEqual(wrong, []);
    // Back by itself once the database is.
    const again = await api.call('POST', '/v1/conversations', { body: {}, headers: { 'idempotency-key': `depois-${mode}` } });
    assert.equal(again.status, 201, again.text);
  });
}
