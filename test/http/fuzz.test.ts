// Every route of the published OpenAPI document, fed hostile input: junk in each path parameter, each query
// parameter and each body field (one at a time, the rest of the body valid), and junk bodies. Whatever comes in,
// the answer is never a 5xx; a refusal is the one error shape, without stack or SQL, and writes nothing; and a
// body the document itself says is invalid is refused. Odd but valid values (dates at the edge of the calendar,
// big numbers, long or deeply nested JSON) reach the database with real ids, where unmapped errors would show.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { createDomain } from '../ivr/fixtures.ts';
import { everyRowCount, nestedObject } from '../harness/assertions.ts';
import { testService } from '../harness/service.ts';

const api = await testService('fuzz');
const { db } = api.database;
const document = (await api.call('GET', '/openapi.json', { token: null })).body;

async function created(path: string, body: unknown, token?: string) {
  const response = await api.call('POST', path, { body, token });
  assert.equal(response.status, 201, `${path}: ${response.text}`);
  return response.body;
}
const user = await created('/v1/users', { name: 'Fuzz' });
const conversation = await created('/v1/conversations', { user_id: user.id });
const [message] = (await created(`/v1/conversations/${conversation.id}/turns`, { user: { content: 'oi' }, assistant: { content: 'olá' } })).messages;
const action = await created('/v1/actions', { message_id: message.id, action_type: 'iot', action_name: 'luz', parameters: {} });
const reminder = await created('/v1/reminders', { user_id: user.id, title: 'lembrete', scheduled_at: new Date(Date.now() + 86_400_000).toISOString() });
const domain = await createDomain(db);
const ivrKey = (await created('/v1/admin/ivr/keys', { domain_uuid: domain, name: 'fuzz' })).key as string;
const secretary = await created('/v1/ivr/secretaries', { name: 'Recepção', extension: '8000' }, ivrKey);
const provider = await created('/v1/ivr/providers', { provider_type: 'llm', provider_name: 'openai', config: { api_key: 'sk-x' } }, ivrKey);
const ivrDocument = await created('/v1/ivr/documents', { title: 'FAQ', content: 'horário: 8h às 18h' }, ivrKey);
const ruleBody = { name: 'financeiro', destination_type: 'extension', destination: '2000' };
const rule = await created('/v1/ivr/transfer-rules', ruleBody, ivrKey);
const call = await created('/v1/ivr/calls', { secretary_uuid: secretary.secretary_uuid, caller_id: '5511999990000' }, ivrKey);

/** A real id for each path parameter, by route, so that valid input reaches the database. */
const realPathValue: Record<string, string> = {
  '/v1/users/': user.id,
  '/v1/conversations/': conversation.id,
  '/v1/actions/': action.id,
  '/v1/reminders/': reminder.id,
  '/v1/config/': 'llm_model',
  '/v1/admin/ivr/keys/': '00000000-0000-4000-8000-000000000000', // a real one would revoke the key the rest uses
  '/v1/ivr/providers/default/': 'llm',
  '/v1/ivr/providers/': provider.provider_uuid,
  '/v1/ivr/secretaries/': secretary.secretary_uuid,
  '/v1/ivr/extensions/': '8000',
  '/v1/ivr/documents/': ivrDocument.document_uuid,
  '/v1/ivr/transfer-rules/': rule.transfer_rule_uuid,
  '/v1/ivr/calls/': call.conversation_uuid,
};
/** Valid bodies the sampler below cannot derive (fields with patterns). */
const baseBodies: Record<string, unknown> = { 'POST /v1/ivr/transfer-rules': ruleBody, 'PATCH /v1/ivr/transfer-rules/{uuid}': ruleBody };
const realFor = (route: string) => Object.entries(realPathValue).find(([prefix]) => route.startsWith(prefix))?.[1];

const JUNK_VALUES: unknown[] = [
  null,
  true,
  0,
  -1,
  0.5,
  2 ** 31,
  2 ** 53 + 2,
  1e308,
  -1e308,
  '',
  ' ',
  'x',
  'a\u0000b',
  '\ud800',
  "'; DROP TABLE users; --",
  'A'.repeat(70_000),
  '9'.repeat(40),
  '0000-01-01T00:00:00Z',
  '99999-01-01T00:00:00Z',
  '2026-02-30T10:00:00Z',
  '1970-01-01T00:00:00Z',
  '2026-11-23T25:61:00+03:00',
  '00000000-0000-0000-0000-000000000000',
  [],
  [null],
  {},
  { $ne: 1 },
  nestedObject(3_000),
];
const JUNK_QUERY = [
  '',
  '-1',
  '0',
  '1e309',
  'NaN',
  'abc',
  "' OR 1=1 --",
  '\u0000',
  'x'.repeat(3000),
  '0000-01-01T00:00:00Z',
  '99999-12-31T00:00:00Z',
  '2026-02-30T00:00:00Z',
  '00000000-0000-0000-0000-000000000000',
  'true',
  '9'.repeat(30),
];
const JUNK_PATH = ['not-a-uuid', "1' OR '1'='1", '%00', '%F0%9F%8E%99', 'x'.repeat(250), '00000000-0000-0000-0000-000000000000', '-1', '..%2F..%2Fetc'];
const JUNK_BODIES = ['[]', 'null', '"texto"', '0', '{', '{"a":', '{"a":"\\u0000"}', `{"a":${'['.repeat(5000)}${']'.repeat(5000)}}`];

const resolve = (schema: any): any => (schema?.$ref ? resolve(document.components.schemas[schema.$ref.split('/').pop()]) : schema);

/** A minimal value the schema accepts, for the fields around the one under test. */
function sample(schema: any): unknown {
  schema = resolve(schema);
  if (!schema) return null;
  if (schema.const !== undefined) return schema.const;
  if (schema.enum) return schema.enum[0];
  if (schema.default !== undefined) return schema.default;
  const choice = schema.anyOf ?? schema.oneOf;
  if (choice) return sample(choice.find((option: any) => resolve(option)?.type !== 'null') ?? choice[0]);
  switch (schema.type) {
    case 'string':
      if (schema.format === 'date-time') return new Date(Date.now() + 3_600_000).toISOString();
      if (schema.format === 'uuid') return '00000000-0000-4000-8000-000000000000';
      if (schema.format === 'email') return 'fuzz@example.com';
      if (schema.pattern) return undefined;
      return 'x'.repeat(Math.max(1, schema.minLength ?? 1));
    case 'integer':
    case 'number':
      return schema.minimum ?? (schema.exclusiveMinimum !== undefined ? schema.exclusiveMinimum + 1 : 1);
    case 'boolean':
      return true;
    case 'array':
      return Array.from({ length: schema.minItems ?? 0 }, () => sample(schema.items));
    case 'object':
      return Object.fromEntries((schema.required ?? []).map((key: string) => [key, sample(schema.properties?.[key])]));
    default:
      return {};
  }
}

/** Paths to each field of a body (one level into nested objects, as a turn's user and assistant). */
function fieldPaths(schema: any, prefix: string[] = [], depth = 0): string[][] {
  schema = resolve(schema);
  if (schema?.type !== 'object' || !schema.properties) return [];
  return Object.entries<any>(schema.properties).flatMap(([key, child]) => {
    const inner = resolve(child);
    const here = [...prefix, key];
    return depth === 0 && inner?.type === 'object' && inner.properties ? [here, ...fieldPaths(inner, here, 1)] : [here];
  });
}

function withField(base: any, path: string[], value: unknown): unknown {
  const copy = structuredClone(base ?? {});
  let target = copy;
  for (const key of path.slice(0, -1)) target = target[key] = typeof target[key] === 'object' && target[key] !== null ? target[key] : {};
  target[path.at(-1)!] = value;
  return copy;
}

const ajv = new Ajv2020({ strict: false, validateFormats: false });
const counts = () => everyRowCount(db);

interface Attempt {
  method: string;
  path: string;
  body?: unknown;
  raw?: string;
  invalidByDocument?: boolean;
}

async function attempt({ method, path, body, raw, invalidByDocument }: Attempt): Promise<void> {
  const before = await counts();
  const token = path.startsWith('/v1/ivr/') ? ivrKey : undefined;
  const response = await api.call(method, path, { body: raw ?? body, token });
  const what = `${method} ${path.slice(0, 120)} ${(raw ?? JSON.stringify(body) ?? '').slice(0, 120)} → ${response.status} ${response.text.slice(0, 300)}`;
  assert.ok(response.status < 500, what);
  if (invalidByDocument) assert.ok(response.status >= 400, `the document calls this body invalid, yet it was accepted: ${what}`);
  if (response.status >= 400) {
    assert.deepEqual(Object.keys(response.body), ['error'], what);
    assert.equal(typeof response.body.error.code, 'string', what);
    assert.doesNotMatch(response.text, /\bat [\w.<>]+ \(|node_modules|SELECT |INSERT |UPDATE /, what);
    assert.equal(await counts(), before, `a refusal wrote something: ${what}`);
  }
}

const operations = Object.entries<any>(document.paths).flatMap(([route, methods]) =>
  Object.entries<any>(methods).map(([method, operation]) => ({ route, method: method.toUpperCase(), operation })),
);
// The event stream answers a valid request by staying open; its validation is tested in reminder-stream.test.ts.
const fuzzed = operations.filter(({ route }) => route.startsWith('/v1/') && route !== '/v1/reminders/stream');

test('the document has the routes this test walks', () => {
  assert.ok(fuzzed.length >= 60, `${fuzzed.length} routes`);
  assert.ok(fuzzed.some(({ route }) => route === '/v1/conversations/{id}/turns'));
});

for (const { route, method, operation } of fuzzed) {
  test(`${method} ${route} refuses junk cleanly`, async () => {
    const parameters: any[] = operation.parameters ?? [];
    const pathParameters = parameters.filter((parameter) => parameter.in === 'path');
    const realPath = pathParameters.reduce((path, parameter) => path.replace(`{${parameter.name}}`, realFor(route) ?? 'x'), route);
    const bodySchema = operation.requestBody?.content?.['application/json']?.schema;
    const baseBody = baseBodies[`${method} ${route}`] ?? (bodySchema ? sample(bodySchema) : undefined);
    const validate = bodySchema ? ajv.compile({ ...bodySchema, components: document.components }) : undefined;
    // Ajv walks JSON recursively: for the deeply nested junk it may run out of stack, and then it has no say.
    const bodyIsInvalid = (body: unknown) => {
      try {
        return validate ? !validate(body) : false;
      } catch {
        return false;
      }
    };
    const requiredQuery = parameters.filter((parameter) => parameter.in === 'query' && parameter.required);
    const baseQuery = new URLSearchParams(requiredQuery.map((parameter) => [parameter.name, String(sample(parameter.schema) ?? 'x')]));

    for (const parameter of pathParameters) {
      for (const junk of JUNK_PATH) {
        await attempt({ method, path: route.replace(`{${parameter.name}}`, junk).replace(/\{\w+\}/g, realFor(route) ?? 'x'), body: baseBody });
      }
    }
    for (const parameter of parameters.filter((parameter) => parameter.in === 'query')) {
      for (const junk of JUNK_QUERY) {
        const query = new URLSearchParams(baseQuery);
        query.set(parameter.name, junk);
        await attempt({ method, path: `${realPath}?${query}`, body: baseBody });
      }
    }
    if (method === 'GET') await attempt({ method, path: `${realPath}?${baseQuery}&unknown_parameter=1`.replace('?&', '?') });
    if (!bodySchema) return;
    for (const raw of JUNK_BODIES) await attempt({ method, path: realPath, raw, invalidByDocument: true });
    for (const body of [[], null, 0, { unknown_field: 1, ...(baseBody as object) }]) {
      await attempt({ method, path: realPath, body, invalidByDocument: bodyIsInvalid(body) });
    }
    for (const field of fieldPaths(bodySchema)) {
      for (const junk of JUNK_VALUES) {
        const body = withField(baseBody, field, junk);
        await attempt({ method, path: realPath, body, invalidByDocument: bodyIsInvalid(body) });
      }
    }
  });
}
