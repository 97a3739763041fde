import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startConversation } from '../../src/core/conversations.ts';
import { appendMessages, conversationHistory } from '../../src/core/messages.ts';
import { createUser } from '../../src/core/users.ts';
import { learnSearchWords } from '../../src/ops/search-words.ts';
import { testService } from '../harness/service.ts';

const api = await testService('api');

/** Calls the API and asserts the status (the harness checks every body against the published OpenAPI document). */
async function expectCall(method: string, path: string, status: number, body?: unknown) {
  const response = await api.call(method, path, { body });
  assert.equal(response.status, status, `${method} ${path}: ${response.text}`);
  return response.body;
}

test('a page of messages over HTTP reads back exactly as the library’s messages through JSON.stringify, every column and tricky text', async () => {
  const { database } = api;
  const user = await createUser(database.db, { name: 'Ana' });
  const conversation = await startConversation(database.db, { user_id: user.id });
  const tricky = 'aspas " barra \\ nova\nlinha tab\t \u0001\u001f acentuação 🎙️ \u2028 </script> \'; DROP TABLE messages; --';
  await appendMessages(
    database.db,
    conversation.id,
    Array.from({ length: 7 }, (_, i) => ({
      role: i % 2 ? ('assistant' as const) : ('user' as const),
      content: `${tricky} ${i}`,
      latency_ms: i % 2 ? 850 + i : null,
      intent: i % 2 ? null : 'iot_control',
      confidence: i % 2 ? null : [0.1 + i / 1000, 1 / 3, 1e-7, 0.93][i % 4],
      rag_context: i % 3 === 0 ? null : [{ doc: tricky, score: 0.5 }, 'texto', 3, true, null],
      audio_duration_ms: i % 3 === 0 ? 1200 : null,
      transcription_model: i % 3 === 0 ? 'whisper-small' : null,
      metadata: i % 2 ? {} : { source: 'stt', nested: { deep: [1, { x: tricky }] }, n: -1.5e-7, big: 12345678901234 },
    })),
  );
  const history = (options: { limit: number; before?: Date }) => conversationHistory(database.db, conversation.id, options);
  const first = await api.call('GET', `/v1/conversations/${conversation.id}/messages?limit=4`);
  assert.equal(first.status, 200);
  assert.match(first.headers.get('content-type') ?? '', /^application\/json; charset=utf-8/);
  const firstItems = await history({ limit: 4 });
  assert.deepEqual(first.body.items, JSON.parse(JSON.stringify(firstItems)));
  const second = await api.call('GET', `/v1/conversations/${conversation.id}/messages?limit=4&cursor=${first.body.next_cursor}`);
  assert.deepEqual(second.body, { items: JSON.parse(JSON.stringify(await history({ limit: 4, before: firstItems[0]!.timestamp }))), next_cursor: null });
  assert.equal(second.body.items.length, 3);
  const empty = await api.call('GET', `/v1/conversations/${(await startConversation(database.db)).id}/messages`);
  assert.deepEqual(empty.body, { items: [], next_cursor: null });
});

test('health and readiness need no token; the OpenAPI document lists every route', async () => {
  assert.deepEqual((await api.call('GET', '/healthz', { token: null })).body, { status: 'ok' });
  assert.deepEqual((await api.call('GET', '/readyz', { token: null })).body, { status: 'ready' });
  const document = (await api.call('GET', '/openapi.json', { token: null })).body;
  assert.equal(document.openapi, '3.1.0');
  for (const route of ['/v1/users', '/v1/conversations/{id}/turns', '/v1/reminders/upcoming', '/v1/logs', '/v1/ivr/calls', '/v1/reminders/stream']) {
    assert.ok(document.paths[route], `${route} documented`);
  }
  const docs = await api.call('GET', '/docs/', { token: null });
  assert.equal(docs.status, 200);
  assert.match(docs.text, /swagger/i);
});

test('a conversation over HTTP: start, append turns, read back, page back in time, end', async () => {
  const user = await expectCall('POST', '/v1/users', 201, { name: 'Ana', email: 'ana@example.com' });
  const conversation = await expectCall('POST', '/v1/conversations', 201, { user_id: user.id });
  assert.equal(conversation.message_count, 0);
  for (let turn = 1; turn <= 3; turn++) {
    const appended = await expectCall('POST', `/v1/conversations/${conversation.id}/turns`, 201, {
      user: { content: `pergunta ${turn}`, intent: 'smalltalk', confidence: 0.8 },
      assistant: { content: `resposta ${turn}`, latency_ms: 100 + turn, metadata: { source: 'brain' } },
    });
    assert.deepEqual(
      appended.messages.map((m: { role: string }) => m.role),
      ['user', 'assistant'],
    );
  }
  const whole = await expectCall('GET', `/v1/conversations/${conversation.id}`, 200);
  assert.equal(whole.message_count, 6);
  assert.deepEqual(whole.messages.map((m: { content: string }) => m.content).slice(0, 2), ['pergunta 1', 'resposta 1']);

  // Pages of 4 then 2, each oldest first, together the whole conversation without overlap.
  const first = await expectCall('GET', `/v1/conversations/${conversation.id}/messages?limit=4`, 200);
  assert.deepEqual(
    first.items.map((m: { content: string }) => m.content),
    ['pergunta 2', 'resposta 2', 'pergunta 3', 'resposta 3'],
  );
  assert.ok(first.next_cursor);
  const second = await expectCall('GET', `/v1/conversations/${conversation.id}/messages?limit=4&cursor=${first.next_cursor}`, 200);
  assert.deepEqual(
    second.items.map((m: { content: string }) => m.content),
    ['pergunta 1', 'resposta 1'],
  );
  assert.equal(second.next_cursor, null);

  const history = await expectCall('GET', `/v1/users/${user.id}/history?limit=5`, 200);
  assert.equal(history.items.length, 5);
  assert.equal(history.items[0].content, 'resposta 3');
  const rest = await expectCall('GET', `/v1/users/${user.id}/history?limit=5&cursor=${history.next_cursor}`, 200);
  assert.deepEqual(
    rest.items.map((m: { content: string }) => m.content),
    ['pergunta 1'],
  );

  const ended = await expectCall('POST', `/v1/conversations/${conversation.id}/end`, 200, { satisfaction_score: 0.9 });
  assert.ok(ended.ended_at);
  const again = await api.call('POST', `/v1/conversations/${conversation.id}/turns`, { body: { user: { content: 'x' }, assistant: { content: 'y' } } });
  assert.equal(again.status, 409);
  assert.equal(again.body.error.code, 'conflict');
});

test('users: list pages in creation order, patch, filter by active', async () => {
  const created = [];
  for (const name of ['P1', 'P2', 'P3']) created.push(await expectCall('POST', '/v1/users', 201, { name }));
  await expectCall('PATCH', `/v1/users/${created[1].id}`, 200, { is_active: false });
  const seen: string[] = [];
  let cursor: string | null = '';
  while (cursor !== null) {
    const page: { items: { name: string }[]; next_cursor: string | null } = await expectCall(
      'GET',
      `/v1/users?limit=2${cursor ? `&cursor=${cursor}` : ''}`,
      200,
    );
    seen.push(...page.items.map((u) => u.name));
    cursor = page.next_cursor;
  }
  assert.deepEqual(
    seen.filter((n) => n.startsWith('P')),
    ['P1', 'P2', 'P3'],
  );
  const inactive = await expectCall('GET', '/v1/users?active=false', 200);
  assert.deepEqual(
    inactive.items.map((u: { name: string }) => u.name),
    ['P2'],
  );
});

test('actions move pending → executing → success, and a refused move is a 409', async () => {
  const conversation = await expectCall('POST', '/v1/conversations', 201, {});
  const { messages } = await expectCall('POST', `/v1/conversations/${conversation.id}/messages`, 201, {
    messages: [{ role: 'user', content: 'acende a sala' }],
  });
  const action = await expectCall('POST', '/v1/actions', 201, {
    message_id: messages[0].id,
    action_type: 'home_assistant',
    action_name: 'light.turn_on',
    parameters: { room: 'sala' },
  });
  assert.equal(action.status, 'pending');
  await expectCall('POST', `/v1/actions/${action.id}/transition`, 200, { status: 'executing' });
  const done = await expectCall('POST', `/v1/actions/${action.id}/transition`, 200, { status: 'success', result: { ok: true } });
  assert.deepEqual(done.result, { ok: true });
  const refused = await expectCall('POST', `/v1/actions/${action.id}/transition`, 409, { status: 'executing' });
  assert.match(refused.error.message, /cannot go from success to executing/);
  assert.equal((await expectCall('GET', `/v1/actions/${action.id}`, 200)).status, 'success');
});

test('reminders: create, page the upcoming ones, cancel once', async () => {
  const soon = (minutes: number) => new Date(Date.now() + minutes * 60_000).toISOString();
  const made = [];
  for (let i = 1; i <= 3; i++) made.push(await expectCall('POST', '/v1/reminders', 201, { title: `lembrete ${i}`, scheduled_at: soon(60 * i) }));
  const first = await expectCall('GET', '/v1/reminders/upcoming?limit=2', 200);
  assert.deepEqual(
    first.items.map((r: { title: string }) => r.title),
    ['lembrete 1', 'lembrete 2'],
  );
  const second = await expectCall('GET', `/v1/reminders/upcoming?limit=2&cursor=${first.next_cursor}`, 200);
  assert.deepEqual(
    second.items.map((r: { title: string }) => r.title),
    ['lembrete 3'],
  );
  assert.equal(second.next_cursor, null);
  assert.equal((await expectCall('POST', `/v1/reminders/${made[0].id}/cancel`, 200)).status, 'cancelled');
  await expectCall('POST', `/v1/reminders/${made[0].id}/cancel`, 409);
});

test('config: read all, read one, set one with its own validation', async () => {
  const all = await expectCall('GET', '/v1/config', 200);
  assert.ok(all.items.some((entry: { key: string }) => entry.key === 'brain.temperature'));
  const set = await expectCall('PUT', '/v1/config/brain.temperature', 200, { value: 0.3, updated_by: 'test' });
  assert.equal(set.value, 0.3);
  assert.deepEqual((await api.call('GET', '/v1/config/brain.temperature')).body, { key: 'brain.temperature', value: 0.3 });
  const wrong = await expectCall('PUT', '/v1/config/brain.temperature', 400, { value: 7 });
  assert.match(wrong.error.message, /value of brain.temperature/);
  assert.equal((await api.call('GET', '/v1/config/unknown.key')).status, 400);
});

test('logs: a batch in one call, then queried by level and source, newest first, in pages', async () => {
  const lines = Array.from({ length: 5 }, (_, i) => ({ level: i % 2 ? 'ERROR' : 'INFO', source: 'stt', message: `line ${i}` }));
  assert.deepEqual(await expectCall('POST', '/v1/logs', 201, { lines }), { written: 5 });
  const errors = await expectCall('GET', '/v1/logs?level=ERROR&source=stt&limit=1', 200);
  assert.equal(errors.items.length, 1);
  const more = await expectCall('GET', `/v1/logs?level=ERROR&source=stt&limit=5&cursor=${errors.next_cursor}`, 200);
  assert.deepEqual([...errors.items, ...more.items].map((l: { message: string }) => l.message).sort(), ['line 1', 'line 3']);
  const ranged = await expectCall('GET', `/v1/logs?from=${encodeURIComponent(new Date(Date.now() + 3600_000).toISOString())}`, 200);
  assert.deepEqual(ranged.items, []);
});

test('the dashboard data comes from one snapshot with every dataset', async () => {
  const report = (await api.call('GET', '/v1/dashboard')).body;
  for (const key of [
    'messagesPerDay',
    'topIntents',
    'latencyBySource',
    'activeUsers',
    'actionOutcomes',
    'upcomingReminders',
    'databaseSize',
    'backups',
    'slowQueries',
  ]) {
    assert.ok(Array.isArray(report[key]), `${key} present`);
  }
  assert.equal(report.messagesPerDay.length, 30);
  assert.ok(report.topIntents.some((row: { intent: string; count: number }) => row.intent === 'smalltalk' && row.count === 3));
});

test('search over HTTP: Portuguese full text, typos, pages, and bad queries', async () => {
  const conversation = await expectCall('POST', '/v1/conversations', 201, {});
  await expectCall('POST', `/v1/conversations/${conversation.id}/messages`, 201, {
    messages: [
      { role: 'user', content: 'A lâmpada da sala queimou' },
      { role: 'user', content: 'Liguei o ventilador' },
    ],
  });
  const found = await expectCall('GET', '/v1/search?q=lampada', 200);
  assert.equal(found.mode, 'fulltext');
  assert.match(found.items[0].snippet, /«lâmpada»/);
  await learnSearchWords(api.database.pool, { settleSeconds: 0 }); // the scheduler's search-words job
  const typo = await expectCall('GET', '/v1/search?q=ventiladr', 200);
  assert.equal(typo.mode, 'similar');
  assert.equal((await api.call('GET', '/v1/search?q=')).status, 400);
  assert.equal((await api.call('GET', `/v1/search?q=${'x'.repeat(600)}`)).status, 400);
  assert.equal((await api.call('GET', '/v1/search?q=sala&cursor=bad')).status, 400);
  const stop = await expectCall('GET', '/v1/search?q=de%20a%20o', 200);
  assert.equal(stop.mode, 'none');
});

test("a user's data can be exported and erased over HTTP", async () => {
  const user = await expectCall('POST', '/v1/users', 201, { name: 'Eva' });
  await expectCall('POST', '/v1/conversations', 201, { user_id: user.id });
  const exported = await expectCall('GET', `/v1/users/${user.id}/export`, 200);
  assert.equal(exported.user.name, 'Eva');
  assert.equal(exported.conversations.length, 1);
  const erased = await expectCall('DELETE', `/v1/users/${user.id}`, 200);
  assert.equal(erased.conversations, 1);
  assert.equal((await api.call('GET', `/v1/users/${user.id}`)).status, 404);
});

test('reports over HTTP take their window from the query and refuse parameters they do not know', async () => {
  const intents = await api.call('GET', '/v1/reports/top-intents?days=30&limit=5');
  assert.equal(intents.status, 200);
  assert.ok(intents.body.items.some((row: { intent: string }) => row.intent === 'smalltalk'));
  for (const name of [
    'active-users',
    'latency-by-source',
    'messages-per',
    'latency-percentiles',
    'action-success',
    'overdue-reminders',
    'satisfaction-by-week',
    'conversation-lengths',
  ]) {
    assert.equal((await api.call('GET', `/v1/reports/${name}`)).status, 200, name);
  }
  assert.equal((await api.call('GET', '/v1/reports/active-users?unit=hour')).status, 400);
  assert.equal((await api.call('GET', '/v1/reports/top-intents?days=0')).status, 400);
});
