// `npm start` as an operator runs it: embedded PostgreSQL, HTTP on a free port, SIGTERM with a request in flight,
// and the database going away and coming back under a running service.
import assert from 'node:assert/strict';
import http from 'node:http';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { findRunningServer, isAlive } from '../../src/db/postmaster.ts';
import { eventually } from '../harness/assertions.ts';
import { exited, startService, stopServersAfter } from '../harness/cli.ts';
import { freePort } from '../harness/ports.ts';
import { tempDir } from '../harness/temp-dir.ts';

const dataDir = path.join(tempDir('lifecycle'), 'data');
const env = { MORDOMO_DATA_DIR: dataDir, MORDOMO_PG_PORT: String(await freePort()) };
const pgData = path.join(dataDir, 'pg');

stopServersAfter(pgData);

const token = () => readFileSync(path.join(dataDir, 'admin-token'), 'utf8').trim();

async function call(base: string, method: string, route: string, body?: unknown) {
  const response = await fetch(`${base}${route}`, {
    method,
    headers: { authorization: `Bearer ${token()}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: response.status, body: response.headers.get('content-type')?.includes('json') ? await response.json() : await response.text() };
}

test('start prints where everything is; SIGTERM lets a request in flight finish and loses nothing', async () => {
  const service = await startService(env);
  const printed = service.output();
  assert.match(printed, /dashboard:\s+http:\/\/127\.0\.0\.1:\d+\//);
  assert.match(printed, new RegExp(`admin token: in ${dataDir}/admin-token`));
  assert.match(printed, /OpenAPI: http:\/\/127\.0\.0\.1:\d+\/openapi\.json/);
  assert.equal((await call(service.api, 'GET', '/readyz')).status, 200);
  const conversation = (await call(service.api, 'POST', '/v1/conversations', {})).body;

  // A turn whose body is still arriving when SIGTERM comes: the service waits for it, answers, then stops.
  const body = JSON.stringify({ user: { content: 'apaga tudo' }, assistant: { content: 'apagando' } });
  const url = new URL(`${service.api}/v1/conversations/${conversation.id}/turns`);
  const answered = new Promise<{ status: number; text: string }>((resolve, reject) => {
    const request = http.request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        headers: { authorization: `Bearer ${token()}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (response) => {
        let text = '';
        response.on('data', (chunk) => (text += chunk));
        response.on('end', () => resolve({ status: response.statusCode!, text }));
      },
    );
    request.on('error', reject);
    request.write(body.slice(0, 20));
    setTimeout(() => {
      service.child.kill('SIGTERM');
      setTimeout(() => request.end(body.slice(20)), 500);
    }, 200);
  });
  const reply = await answered;
  assert.equal(reply.status, 201, reply.text);
  assert.equal(await exited(service.child), 0);
  assert.match(service.output(), /mordomo-db stopped/);
  assert.equal(findRunningServer(pgData), undefined, 'the embedded server was stopped');

  const again = await startService(env);
  try {
    const read = await call(again.api, 'GET', `/v1/conversations/${conversation.id}`);
    assert.deepEqual(
      read.body.messages.map((m: { content: string }) => m.content),
      ['apaga tudo', 'apagando'],
    );
  } finally {
    again.child.kill('SIGTERM');
    await exited(again.child);
  }
});

test('when PostgreSQL dies under the service, readiness goes false and the service brings it back by itself', async () => {
  const service = await startService(env);
  try {
    const user = (await call(service.api, 'POST', '/v1/users', { name: 'Resiliente' })).body;
    const postmaster = findRunningServer(pgData)!;
    process.kill(postmaster.pid, 'SIGKILL');
    await eventually('the postmaster to die', async () => !isAlive(postmaster.pid));
    await eventually('readiness to go false', async () => (await call(service.api, 'GET', '/readyz')).status === 503);
    const during = await call(service.api, 'GET', '/v1/users');
    assert.ok([200, 503].includes(during.status), `a request meanwhile fails cleanly (got ${during.status})`);
    if (during.status === 503) assert.equal(during.body.error.code, 'unavailable');
    await eventually('readiness to come back', async () => (await call(service.api, 'GET', '/readyz')).status === 200);
    assert.equal((await call(service.api, 'GET', `/v1/users/${user.id}`)).body.name, 'Resiliente');
    assert.equal((await call(service.api, 'POST', '/v1/users', { name: 'Depois' })).status, 201);
    assert.equal(service.child.exitCode, null, 'the service never stopped');
  } finally {
    service.child.kill('SIGTERM');
    assert.equal(await exited(service.child), 0);
  }
});
