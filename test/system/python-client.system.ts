// Needs Debian's python3-httpx: run by `npm run test:system`. The README's Python example, run as a user would
// (`python3 examples/python/scenario.py` with the three variables set) against a live service: it must finish the
// same session the generated TypeScript client runs, with the same outcome.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { SCENARIO_OUTCOME } from '../client/outcome.ts';
import { testService } from '../harness/service.ts';
import { createDomain } from '../ivr/fixtures.ts';

const api = await testService('python-client');
const SCRIPT = path.join(import.meta.dirname, '../../examples/python/scenario.py');
// Debian's interpreter, where apt puts python3-httpx (a python3 earlier on PATH, from pyenv say, would not have it).
const PYTHON = '/usr/bin/python3';

/** Runs the example without blocking this process, which serves the API it calls. */
async function python(env: Record<string, string>): Promise<{ status: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(PYTHON, [SCRIPT], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '', ...env } });
    return { status: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number | string; stdout?: string; stderr?: string };
    assert.notEqual(failed.code, 'ENOENT', `${PYTHON} must be installed with httpx (apt-get install python3-httpx)`);
    return { status: Number(failed.code), stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

test('the Python example (httpx) runs the whole assistant and IVR session against a live service', async () => {
  const domain = await createDomain(api.database.db, 'python.example.com', 'bbbbbbbb-1111-2222-3333-444444444444');
  const run = await python({ MORDOMO_URL: api.base, MORDOMO_ADMIN_TOKEN: api.token, MORDOMO_DOMAIN_UUID: domain });
  assert.equal(run.status, 0, `${run.stdout}${run.stderr}`);
  assert.deepEqual(JSON.parse(run.stdout), SCENARIO_OUTCOME);
  // Without its variables it says which one is missing, not a traceback.
  const bare = await python({});
  assert.equal(bare.status, 1);
  assert.match(bare.stderr, /^set MORDOMO_URL/);
});
