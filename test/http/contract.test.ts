// The OpenAPI document as a contract for the people who generate clients from it (Python, PHP, TypeScript): every
// operation named, every error the one `Error` component, every response typed, the linter satisfied, parameters
// documented exactly as accepted, and ids as PostgreSQL reads them. (Every response the HTTP tests receive is
// also checked against the document, by the harness: test/harness/contract.ts.)
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { HTTP_ERROR_CODES } from '../../src/http/errors.ts';
import { runCli } from '../harness/cli.ts';
import { testService } from '../harness/service.ts';
import { tempDir } from '../harness/temp-dir.ts';
import { createDomain } from '../ivr/fixtures.ts';

const api = await testService('contract');
const { document } = api.contract;
const operations = Object.entries(document.paths).flatMap(([route, methods]) =>
  Object.entries(methods).map(([method, operation]) => ({ route, method: method.toUpperCase(), operation: operation as any })),
);
const ERROR_REF = '#/components/schemas/Error';

test('every operation has a unique operationId, verb then resource, and a summary and tag', () => {
  const ids = operations.map(({ operation }) => operation.operationId);
  assert.ok(operations.length >= 70, `${operations.length} operations`);
  for (const { route, method, operation } of operations) {
    assert.match(operation.operationId ?? '', /^[a-z]+[A-Z][A-Za-z]*$/, `${method} ${route}`);
    assert.ok(operation.summary && operation.tags?.length, `${method} ${route}: summary and tag`);
  }
  assert.equal(new Set(ids).size, ids.length, `duplicates: ${ids.filter((id, i) => ids.indexOf(id) !== i)}`);
});

test('one Error component, whose code lists every code the server sends; every error status refers to it', () => {
  const error = document.components.schemas.Error as any;
  assert.deepEqual([...error.properties.error.properties.code.enum].sort(), [...HTTP_ERROR_CODES].sort());
  for (const { route, method, operation } of operations) {
    const secured = !(Array.isArray(operation.security) && operation.security.length === 0);
    const statuses = Object.keys(operation.responses);
    if (secured) for (const status of ['400', '401', '429', '500', '503']) assert.ok(statuses.includes(status), `${method} ${route} documents ${status}`);
    if (/\{(id|uuid)\}/.test(route)) assert.ok(statuses.includes('404'), `${method} ${route} documents 404`);
    if (['POST', 'PUT', 'PATCH'].includes(method))
      for (const status of ['413', '415']) assert.ok(statuses.includes(status), `${method} ${route} documents ${status}`);
    for (const [status, response] of Object.entries<any>(operation.responses)) {
      assert.ok(response.description && response.description !== 'Default Response', `${method} ${route} ${status} described`);
      if (Number(status) >= 400 && secured) assert.equal(response.content['application/json'].schema.$ref, ERROR_REF, `${method} ${route} ${status}`);
    }
  }
});

test('every response body has a schema with a shape: none is "any value"', () => {
  for (const { route, method, operation } of operations) {
    for (const [status, response] of Object.entries<any>(operation.responses)) {
      if (status === '204') continue;
      const [type, { schema }] = Object.entries<any>(response.content)[0]!;
      if (type !== 'application/json') continue;
      assert.ok(schema.$ref || schema.type === 'object', `${method} ${route} ${status}: ${JSON.stringify(schema).slice(0, 120)}`);
      // Items of lists are shapes too.
      const items = schema.properties?.items?.items;
      if (items) assert.ok(items.$ref || items.type === 'object', `${method} ${route} ${status} items: ${JSON.stringify(items).slice(0, 120)}`);
    }
  }
  // Provider configs are write-only: no response carries one, except the engine's decrypted default.
  const withConfig = Object.entries<any>(document.components.schemas)
    .filter(([, schema]) => schema.properties?.config)
    .map(([name]) => name);
  assert.deepEqual(withConfig, ['ProviderWithConfig']);
});

test('Redocly lints the document without an error', async () => {
  const file = path.join(tempDir('openapi'), 'openapi.json');
  writeFileSync(file, JSON.stringify(document));
  const redocly = path.join(import.meta.dirname, '../../node_modules/.bin/redocly');
  const result = await promisify(execFile)(redocly, ['lint', file, '--format', 'json'], {
    env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
  }).catch((error) => error);
  const report = JSON.parse(result.stdout);
  const errors = report.problems.filter((problem: any) => problem.severity === 'error');
  assert.deepEqual(
    errors.map((problem: any) => `${problem.ruleId}: ${problem.message} at ${problem.location?.[0]?.pointer}`),
    [],
  );
});

/** A valid value for a query parameter, from its schema: what a client reading the document would send. */
function valueFor(name: string, schema: any): string {
  if (schema.enum) return schema.enum[schema.enum.length - 1];
  if (schema.format === 'date-time') return new Date(Date.now() - (name === 'to' ? 0 : 86_400_000)).toISOString();
  if (schema.type === 'integer' || schema.type === 'number') return String(schema.maximum ?? schema.default ?? 1);
  if (schema.pattern?.includes('0-9a-f')) return '11111111-1111-1111-1111-111111111111';
  return 'texto';
}

test('every documented query parameter is accepted (at the edge of its range), and an undocumented one is refused', async () => {
  const domain = await createDomain(api.database.db);
  const ivrKey = (await api.call('POST', '/v1/admin/ivr/keys', { body: { domain_uuid: domain, name: 'params' } })).body.key;
  for (const { route, method, operation } of operations) {
    const query = (operation.parameters ?? []).filter((parameter: any) => parameter.in === 'query');
    if (method !== 'GET' || route.includes('{') || query.length === 0 || route.endsWith('/stream')) continue;
    const token = route.startsWith('/v1/ivr') ? ivrKey : undefined;
    const everything = new URLSearchParams(query.map((parameter: any) => [parameter.name, valueFor(parameter.name, parameter.schema)]));
    everything.delete('cursor');
    const answered = await api.call('GET', `${route}?${everything}`, { token });
    assert.equal(answered.status, 200, `${route}?${everything}: ${answered.text}`);
    const unknown = await api.call('GET', `${route}?${everything}&undocumented=1`, { token });
    assert.equal(unknown.status, 400, route);
    assert.match(unknown.body.error.message, /undocumented/);
  }
});

test('lists that grow are paged alike, core and IVR: limit, then next_cursor until null', async () => {
  const domain = await createDomain(api.database.db);
  const token = (await api.call('POST', '/v1/admin/ivr/keys', { body: { domain_uuid: domain, name: 'pages' } })).body.key;
  const secretary = (await api.call('POST', '/v1/ivr/secretaries', { token, body: { name: 'Recepção', extension: '8100' } })).body;
  const made: Record<string, string[]> = { providers: [], secretaries: [secretary.secretary_uuid], documents: [], 'transfer-rules': [], calls: [] };
  for (let i = 0; i < 5; i++) {
    made.providers!.push(
      (await api.call('POST', '/v1/ivr/providers', { token, body: { provider_type: 'stt', provider_name: `p${i}`, config: { api_key: `k${i}` } } })).body
        .provider_uuid,
    );
    made.documents!.push((await api.call('POST', '/v1/ivr/documents', { token, body: { title: `d${i}`, content: 'texto' } })).body.document_uuid);
    made['transfer-rules']!.push(
      (
        await api.call('POST', '/v1/ivr/transfer-rules', {
          token,
          body: { name: `r${i}`, destination_type: 'extension', destination: '2000', priority: 10 - i },
        })
      ).body.rule_uuid,
    );
    made.calls!.unshift(
      (await api.call('POST', '/v1/ivr/calls', { token, body: { secretary_uuid: i % 2 ? secretary.secretary_uuid : null } })).body.conversation_uuid,
    );
  }
  const since = encodeURIComponent(new Date(Date.now() - 3_600_000).toISOString());
  for (const [resource, ids] of Object.entries(made)) {
    const seen: string[] = [];
    let cursor: string | null = '';
    while (cursor !== null) {
      const query: string = `limit=2${resource === 'calls' ? `&since=${since}` : ''}${cursor ? `&cursor=${cursor}` : ''}`;
      const page: { status: number; text: string; body: any } = await api.call('GET', `/v1/ivr/${resource}?${query}`, { token });
      assert.equal(page.status, 200, page.text);
      assert.ok(page.body.items.length <= 2);
      seen.push(...page.body.items.map((item: any) => Object.values(item)[0]));
      cursor = page.body.next_cursor;
    }
    // Calls newest first, the rest in creation order; the calls no secretary answered are listed too.
    assert.deepEqual(seen, ids, resource);
  }
});

test('a body sent as text/plain or another type is a 415, and changes nothing', async () => {
  const before = (await api.call('GET', '/v1/users?limit=500')).body.items.length;
  for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'text/html']) {
    const refused = await api.call('POST', '/v1/users', { body: JSON.stringify({ name: 'Texto' }), headers: { 'content-type': type } });
    assert.equal(refused.status, 415, `${type}: ${refused.text}`);
    assert.equal(refused.body.error.code, 'unsupported_media_type');
  }
  assert.equal((await api.call('GET', '/v1/users?limit=500')).body.items.length, before);
});

test('ids are what PostgreSQL reads as a uuid: FusionPBX and non-RFC ids in every form, junk refused by name', async () => {
  const nonRfc = '11111111-1111-1111-1111-111111111111';
  await createDomain(api.database.db, 'legado.example.com', nonRfc);
  const created = await api.call('POST', '/v1/admin/ivr/keys', { body: { domain_uuid: nonRfc, name: 'legado' } });
  assert.equal(created.status, 201, created.text);
  assert.equal(created.body.domain_uuid, nonRfc);
  const token = created.body.key;
  const secretary = (await api.call('POST', '/v1/ivr/secretaries', { token, body: { name: 'Legado', extension: '9000' } })).body;
  const user = (await api.call('POST', '/v1/users', { body: { name: 'Formas' } })).body;
  for (const form of [
    (id: string) => id.toUpperCase(),
    (id: string) => id.replaceAll('-', ''),
    (id: string) => `{${id}}`,
    (id: string) => id.replace(/(\w{4})(?=\w)/g, '$1-').replaceAll('--', '-'),
  ]) {
    const got = await api.call('GET', `/v1/users/${encodeURIComponent(form(user.id))}`);
    assert.equal(got.status, 200, `${form(user.id)}: ${got.text}`);
    assert.equal(got.body.id, user.id);
    assert.equal(
      (await api.call('GET', `/v1/ivr/secretaries/${encodeURIComponent(form(secretary.secretary_uuid))}`, { token })).body.secretary_uuid,
      secretary.secretary_uuid,
    );
  }
  assert.equal((await api.call('GET', `/v1/users/${nonRfc}`)).status, 404);
  for (const junk of [
    '1111111-1111-1111-1111-111111111111',
    '11111111-1111-1111-1111-11111111111g',
    '{11111111111111111111111111111111',
    '11111111--1111-1111-1111-111111111111',
    '111111111111111111111111111111111',
  ]) {
    const refused = await api.call('GET', `/v1/users/${encodeURIComponent(junk)}`);
    assert.equal(refused.status, 400, junk);
    assert.match(refused.body.error.message, /id: must be a UUID/);
  }
  const cli = await runCli(['ivr', 'key', 'create', nonRfc.replaceAll('-', ''), 'cli'], { DATABASE_URL: api.database.url, MORDOMO_MODULES: 'core,ivr' });
  assert.equal(cli.code, 0, cli.stderr);
});
