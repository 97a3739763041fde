// Least privilege at run time: `npm start` serves requests as a login role that is no superuser and owns nothing,
// and tenant isolation holds against any SQL that role can send, RESET ROLE included.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import pg from 'pg';
import { embeddedUrl } from '../../src/db/connect.ts';
import { exited, startService, stopServersAfter } from '../harness/cli.ts';
import { freePort } from '../harness/ports.ts';
import { tempDir } from '../harness/temp-dir.ts';

const dataDir = path.join(tempDir('runtime-role'), 'data');
const pgPort = await freePort();
stopServersAfter(path.join(dataDir, 'pg'));

test('the service runs as a role that is no superuser and owns nothing; isolation holds against its raw SQL', { timeout: 110_000 }, async () => {
  const service = await startService({
    MORDOMO_DATA_DIR: dataDir,
    MORDOMO_PG_PORT: String(pgPort),
    MORDOMO_MODULES: 'core,ivr',
    MORDOMO_ENCRYPTION_KEY: 'runtime-role-test-key-0123',
  });
  const token = readFileSync(path.join(dataDir, 'admin-token'), 'utf8').trim();
  const call = async (route: string, method: string, body?: unknown, credential = token) => {
    const response = await fetch(`${service.api}${route}`, {
      method,
      headers: { authorization: `Bearer ${credential}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: response.status, body: await response.json() };
  };
  const owner = new pg.Client({ connectionString: embeddedUrl(pgPort, readFileSync(path.join(dataDir, 'postgres-password'), 'utf8').trim()) });
  const runtime = new pg.Client({
    connectionString: embeddedUrl(pgPort, readFileSync(path.join(dataDir, 'runtime-password'), 'utf8').trim(), 'mordomo', 'mordomo_app'),
  });
  try {
    await owner.connect();
    await runtime.connect();
    // Two tenants with a provider each, made through the API.
    const domains = [randomUUID(), randomUUID()];
    for (const domain of domains) {
      await owner.query(`INSERT INTO v_domains (domain_uuid, domain_name) VALUES ($1, $2)`, [domain, `${domain}.example.com`]);
      const key = (await call('/v1/admin/ivr/keys', 'POST', { domain_uuid: domain, name: 'pbx' })).body.key;
      assert.equal((await call('/v1/ivr/providers', 'POST', { provider_type: 'llm', provider_name: 'openai', config: { api_key: 'sk-x' } }, key)).status, 201);
    }
    assert.equal((await call('/v1/conversations', 'POST', {})).status, 201);

    // The service's request sessions are the runtime role's.
    const { rows: sessions } = await owner.query(`SELECT DISTINCT usename FROM pg_stat_activity WHERE application_name = 'mordomo-db'`);
    assert.deepEqual(
      sessions.map((row) => row.usename),
      ['mordomo_app'],
    );
    const {
      rows: [role],
    } = await runtime.query(`SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = current_user`);
    assert.deepEqual(role, { rolsuper: false, rolbypassrls: false, rolcreaterole: false, rolcreatedb: false });
    const {
      rows: [owned],
    } = await runtime.query(`SELECT count(*)::int AS n FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner WHERE r.rolname = current_user`);
    assert.equal(owned.n, 0, 'the runtime role owns nothing');

    const refused = async (statement: string, code: string) => {
      await runtime.query('BEGIN');
      try {
        await assert.rejects(runtime.query(statement), (error: { code?: string }) => error.code === code, statement);
      } finally {
        await runtime.query('ROLLBACK');
      }
    };
    const rowsAs = async (setup: string[], statement: string) => {
      await runtime.query('BEGIN');
      try {
        for (const step of setup) await runtime.query(step);
        return (await runtime.query(statement)).rows;
      } finally {
        await runtime.query('ROLLBACK');
      }
    };
    // Tenant tables: nothing as itself, nothing as the IVR role without a domain, one domain's rows with one.
    await refused(`SELECT * FROM v_voice_ai_providers`, '42501');
    assert.deepEqual(await rowsAs([`SET LOCAL ROLE mordomo_ivr`], `SELECT * FROM v_voice_ai_providers`), []);
    await refused(`SET LOCAL ROLE mordomo_ivr; RESET ROLE; SELECT * FROM v_voice_ai_providers`, '42501');
    const mine = await rowsAs(
      [`SET LOCAL ROLE mordomo_ivr`, `SELECT set_config('app.domain_uuid', '${domains[0]}', true)`],
      `SELECT domain_uuid FROM v_voice_ai_providers`,
    );
    assert.deepEqual(
      mine.map((row) => row.domain_uuid),
      [domains[0]],
    );
    await refused(
      `SET LOCAL ROLE mordomo_ivr; SELECT set_config('app.domain_uuid', '${domains[0]}', true); UPDATE v_voice_ai_providers SET domain_uuid = '${domains[1]}'`,
      '42501',
    );
    // No way around the policies: not the owner, no superuser setting, no other role, no key table.
    for (const statement of [
      `SET LOCAL ROLE mordomo`,
      `ALTER TABLE v_voice_ai_providers DISABLE ROW LEVEL SECURITY`,
      `SET LOCAL session_replication_role = replica`,
      `SET LOCAL row_security = off; SET LOCAL ROLE mordomo_ivr; SELECT * FROM v_voice_ai_providers`,
      `SELECT * FROM mordomo_ivr_encryption_key`,
      `SELECT v_voice_start_key_rotation('a', 'b')`,
      `SELECT pg_read_file('postgresql.conf')`,
      `CREATE TABLE mine (x int)`,
      `DROP TABLE messages`,
      `TRUNCATE users`,
    ]) {
      await runtime.query('BEGIN');
      try {
        await assert.rejects(
          runtime.query(statement),
          (error: { code?: string }) =>
            ['42501', '22023', '42P01'].includes(error.code ?? '') ||
            /permission denied|must be owner|insufficient privilege|query would be affected by row-level security/i.test(String(error)),
          statement,
        );
      } finally {
        await runtime.query('ROLLBACK');
      }
    }
  } finally {
    await runtime.end().catch(() => undefined);
    await owner.end().catch(() => undefined);
    service.child.kill('SIGTERM');
    await exited(service.child);
  }
});
