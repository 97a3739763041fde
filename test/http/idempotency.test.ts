// Idempotency-Key over HTTP: a client whose connection is cut after it sent a turn cannot know whether the turn
// was written; retrying with the same key must give the turn exactly once.
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import { sql } from 'kysely';
import { testService } from '../harness/service.ts';

const service = await testService('idempotency');
const { db } = service.database;

/** Sends a POST and cuts the connection `afterMs` after the body went out, without waiting for the answer. */
function sendAndCut(path: string, body: unknown, key: string, afterMs: number): Promise<void> {
  const url = new URL(`${service.base}${path}`);
  const payload = JSON.stringify(body);
  return new Promise((resolve) => {
    const request = http.request({
      host: url.hostname,
      port: url.port,
      path: url.pathname,
      method: 'POST',
      headers: {
        authorization: `Bearer ${service.token}`,
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(payload),
        'idempotency-key': key,
      },
    });
    request.on('error', () => resolve());
    request.on('response', (response) => {
      response.resume();
      resolve();
    });
    request.end(payload, () =>
      setTimeout(() => {
        request.destroy();
        resolve();
      }, afterMs),
    );
  });
}

test('turns whose connection was cut mid-request, retried with their key, are stored exactly once', async () => {
  const conversation = (await service.call('POST', '/v1/conversations', { body: {} })).body;
  const path = `/v1/conversations/${conversation.id}/turns`;
  const turns = Array.from({ length: 30 }, (_, i) => ({ key: `cut-${i}`, body: { user: { content: `pedido ${i}` }, assistant: { content: `feito ${i}` } } }));
  // Cut at different moments: before the service read the body, while it works, after it answered.
  await Promise.all(turns.map((turn, i) => sendAndCut(path, turn.body, turn.key, i % 3 === 0 ? 0 : i % 5)));
  for (const turn of turns) {
    const retry = await service.call('POST', path, { body: turn.body, headers: { 'idempotency-key': turn.key } });
    assert.equal(retry.status, 201, retry.text);
    assert.deepEqual(
      retry.body.messages.map((m: { content: string }) => m.content),
      [turn.body.user.content, turn.body.assistant.content],
    );
    const again = await service.call('POST', path, { body: turn.body, headers: { 'idempotency-key': turn.key } });
    assert.deepEqual(again.body, retry.body, 'a second retry answers exactly the same');
  }
  const { rows } = await sql<{ content: string; n: number }>`
    SELECT content, count(*)::int AS n FROM messages WHERE conversation_id = ${conversation.id} GROUP BY content`.execute(db);
  assert.equal(rows.length, 60);
  assert.deepEqual(
    rows.filter((row) => row.n !== 1),
    [],
    'no turn was written twice',
  );
});

test('the same key with another body is a 409, a malformed key a 400, and the header is documented on creates', async () => {
  const created = await service.call('POST', '/v1/users', { body: { name: 'Ana' }, headers: { 'idempotency-key': 'user-ana' } });
  assert.equal(created.status, 201);
  const replay = await service.call('POST', '/v1/users', { body: { name: 'Ana' }, headers: { 'idempotency-key': 'user-ana' } });
  assert.deepEqual(replay.body, created.body);
  const other = await service.call('POST', '/v1/users', { body: { name: 'Bia' }, headers: { 'idempotency-key': 'user-ana' } });
  assert.equal(other.status, 409);
  assert.equal(other.body.error.code, 'conflict');
  const bad = await service.call('POST', '/v1/users', { body: { name: 'Caio' }, headers: { 'idempotency-key': 'x'.repeat(300) } });
  assert.equal(bad.status, 400);
  assert.match(bad.body.error.message, /idempotency-key/);
  const { rows } = await sql`SELECT name FROM users WHERE name IN ('Ana', 'Bia', 'Caio')`.execute(db);
  assert.equal(rows.length, 1);

  const document = (await service.call('GET', '/openapi.json', { token: null })).body;
  for (const [path, method] of [
    ['/v1/users', 'post'],
    ['/v1/conversations/{id}/turns', 'post'],
    ['/v1/ivr/calls', 'post'],
    ['/v1/ivr/calls/{uuid}/messages', 'post'],
  ]) {
    const parameters = document.paths[path!][method!].parameters as { in: string; name: string }[];
    assert.ok(
      parameters.some((p) => p.in === 'header' && p.name === 'idempotency-key'),
      `${method} ${path} documents Idempotency-Key`,
    );
  }
});
