// What a TypeScript user of the HTTP API does: generate a client from the live /openapi.json (openapi-typescript),
// type-check their code against it, and run it (openapi-fetch). The scenario (test/client/scenario.ts) covers the
// assistant and an IVR domain end to end with no hand-written request or response type; the harness checks its
// answers against the document as well.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { generateClientTypes } from '../client/generate.ts';
import { SCENARIO_OUTCOME } from '../client/outcome.ts';
import { testService } from '../harness/service.ts';
import { createDomain } from '../ivr/fixtures.ts';

const api = await testService('generated-client');
const root = path.join(import.meta.dirname, '../..');

test('a client generated from /openapi.json names every operation, type-checks the scenario, and runs it', async () => {
  const source = await generateClientTypes(api.base);
  for (const operation of ['appendTurn', 'listSecretaries', 'getUserHistory', 'matchTransferRule', 'createIvrKey']) {
    assert.match(source, new RegExp(`\\b${operation}: \\{`), `operations["${operation}"] in the generated types`);
  }
  const tsc = await promisify(execFile)(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', 'test/client/tsconfig.json'], {
    cwd: root,
  }).catch((error) => error);
  assert.equal(tsc.code ?? 0, 0, `the scenario does not type-check against the generated client:\n${tsc.stdout}`);

  // A FusionPBX domain whose id is not an RFC 4122 variant, as older installs have.
  const domain = await createDomain(api.database.db, 'cliente.example.com', 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee');
  const { runScenario } = await import('../client/scenario.ts');
  const result = await runScenario(api.base, api.token, domain);
  assert.deepEqual(result, SCENARIO_OUTCOME);
});
