import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import pg from 'pg';
import { eventually } from '../harness/assertions.ts';
import { adminQuery } from '../harness/database.ts';
import { testService } from '../harness/service.ts';

const api = await testService('methods_and_closing');

test('a known path under a method it does not take is 405 with Allow, in the one error shape; an unknown path stays 404', async () => {
  const user = (await api.call('POST', '/v1/users', { body: { name: 'Ana' } })).body;
  for (const [method, path, allow] of [
    ['DELETE', '/v1/users', 'GET, HEAD, POST'],
    ['PUT', `/v1/users/${user.id}`, 'DELETE, GET, HEAD, PATCH'],
    ['GET', `/v1/conversations/${user.id}/turns`, 'POST'],
  ] as const) {
    const response = await api.call(method, path);
    assert.equal(response.status, 405, `${method} ${path}: ${response.text}`);
    assert.deepEqual(Object.keys(response.body), ['error']);
    assert.equal(response.body.error.code, 'method_not_allowed');
    assert.ok(response.body.error.request_id);
    assert.match(response.body.error.message, new RegExp(`does not take ${method}`));
    assert.equal(response.headers.get('allow'), allow, `${method} ${path}`);
    assert.equal(response.headers.get('x-content-type-options'), 'nosniff', 'the security headers too');
  }
  const unknown = await api.call('DELETE', '/v1/nothing-here');
  assert.equal(unknown.status, 404);
  assert.equal(unknown.body.error.code, 'not_found');
  assert.equal(unknown.headers.get('allow'), null);
});

/** A raw HTTP/1.1 connection: what is written on it, and everything the server wrote until it closed. */
function connection(base: string): { send: (request: string) => void; done: Promise<string> } {
  const { hostname, port } = new URL(base);
  const socket = net.connect(Number(port), hostname);
  let received = '';
  socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
  return { send: (request) => socket.write(request), done: new Promise((resolve) => socket.on('close', () => resolve(received))) };
}

test('a request that comes while the service closes is 503 in the one error shape, with Retry-After, and the one in flight finishes', async () => {
  const auth = `authorization: Bearer ${api.token}\r\n`;
  const body = JSON.stringify({ name: 'Bia' });
  // The first request waits on this lock, keeping its connection busy (not idle, so closing does not cut it); the
  // second comes on that connection once closing has begun.
  const holder = new pg.Client({ connectionString: api.database.url });
  await holder.connect();
  await holder.query('BEGIN');
  await holder.query('LOCK TABLE users IN ACCESS EXCLUSIVE MODE');
  const exchange = connection(api.base);
  exchange.send(`POST /v1/users HTTP/1.1\r\nhost: x\r\n${auth}content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  try {
    await eventually('the first request to wait for the lock', async () => {
      const { rows } = await adminQuery(`SELECT 1 FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'`, [api.database.name]);
      return rows.length > 0;
    });
    const stopped = api.service.stop();
    await eventually('the service to stop accepting connections', async () => {
      const refused = await new Promise<boolean>((resolve) => {
        const probe = net.connect(Number(new URL(api.base).port), new URL(api.base).hostname);
        probe.on('connect', () => resolve(probe.destroy() && false));
        probe.on('error', () => resolve(true));
      });
      return refused;
    });
    exchange.send(`GET /healthz HTTP/1.1\r\nhost: x\r\n${auth}\r\n`);
    await holder.query('ROLLBACK');
    const received = await exchange.done;
    await stopped;
    const answers = received.split(/(?=HTTP\/1\.1 )/);
    assert.equal(answers.length, 2, received);
    assert.match(answers[0]!, /^HTTP\/1\.1 201 /, 'the request in flight is answered');
    assert.match(answers[1]!, /^HTTP\/1\.1 503 /);
    assert.match(answers[1]!, /\r\nretry-after: \d+\r\n/i);
    assert.match(answers[1]!, /\r\nconnection: close\r\n/i);
    const refusal = JSON.parse(answers[1]!.slice(answers[1]!.indexOf('\r\n\r\n') + 4)) as { error: { code: string; message: string; request_id: string } };
    assert.deepEqual(Object.keys(refusal), ['error']);
    assert.equal(refusal.error.code, 'unavailable');
    assert.match(refusal.error.message, /shutting down/);
    assert.ok(refusal.error.request_id);
  } finally {
    await holder.end().catch(() => undefined);
  }
});
