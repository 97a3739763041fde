// What the embedded PostgreSQL keeps outside its tables: its environment must hold none of the service's secrets,
// and its log no personal data nor secret, even when every statement is logged as slow, and even after an erase.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import pg from 'pg';
import { embeddedUrl } from '../../src/db/connect.ts';
import { findRunningServer } from '../../src/db/postmaster.ts';
import { eventually } from '../harness/assertions.ts';
import { exited, startService, stopServersAfter } from '../harness/cli.ts';
import { freePort } from '../harness/ports.ts';
import { tempDir } from '../harness/temp-dir.ts';

const dataDir = path.join(tempDir('server-privacy'), 'data');
const pgPort = await freePort();
const pgData = path.join(dataDir, 'pg');
stopServersAfter(pgData);

const ENCRYPTION_KEY = 'KEY-e7c1d9a4-not-in-the-server';
const ADMIN_TOKEN = 'TOKEN-4b9e2f7a1c3d5e6f-not-in-the-server';
const PASSWORD = 'PASSWORD-8d2a6c4e-not-in-the-server';
const EMAIL = `ana.${randomUUID().slice(0, 8)}@example.com`;
const UTTERANCE = `Lembra que o meu exame é na quinta ${randomUUID().slice(0, 8)}`;
const PROVIDER_SECRET = `sk-${randomUUID()}`;

/** Every file under `dir`, but the folders named in `skip`. */
function filesUnder(dir: string, skip: Set<string>): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (skip.has(full)) return [];
    return entry.isDirectory() ? filesUnder(full, skip) : [full];
  });
}

test('the server inherits no secret, and its log keeps no personal data or secret, even with every statement logged', { timeout: 110_000 }, async () => {
  const service = await startService({
    MORDOMO_DATA_DIR: dataDir,
    MORDOMO_PG_PORT: String(pgPort),
    MORDOMO_MODULES: 'core,ivr',
    MORDOMO_ENCRYPTION_KEY: ENCRYPTION_KEY,
    MORDOMO_ADMIN_TOKEN: ADMIN_TOKEN,
    POSTGRES_PASSWORD: PASSWORD,
  });
  const call = async (route: string, method: string, body?: unknown, token = ADMIN_TOKEN) => {
    const response = await fetch(`${service.api}${route}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: response.status, body: response.status === 204 ? null : await response.json() };
  };
  const admin = new pg.Client({ connectionString: embeddedUrl(pgPort, PASSWORD, 'mordomo') });
  try {
    const postmaster = findRunningServer(pgData)!;
    const environ = readFileSync(`/proc/${postmaster.pid}/environ`, 'utf8').split('\0');
    for (const secret of [ENCRYPTION_KEY, ADMIN_TOKEN, PASSWORD])
      assert.ok(!environ.some((entry) => entry.includes(secret)), 'a secret is in the postmaster environment');
    assert.deepEqual(
      environ.filter((entry) => /^(MORDOMO_|POSTGRES_PASSWORD|DATABASE_URL|PGPASSWORD)/.test(entry)),
      [],
    );

    // Every statement counts as slow from now on: what log_min_duration_statement writes is what is checked.
    await admin.connect();
    await admin.query(`ALTER SYSTEM SET log_min_duration_statement = 0`);
    await admin.query(`SELECT pg_reload_conf()`);

    const user = await call('/v1/users', 'POST', { name: 'Ana', email: EMAIL });
    assert.equal(user.status, 201);
    const conversation = await call('/v1/conversations', 'POST', { user_id: user.body.id });
    assert.equal(
      (await call(`/v1/conversations/${conversation.body.id}/turns`, 'POST', { user: { content: UTTERANCE }, assistant: { content: 'Anotado.' } })).status,
      201,
    );
    // A duplicate e-mail: its error DETAIL would quote the address.
    assert.equal((await call('/v1/users', 'POST', { name: 'Outra', email: EMAIL })).status, 409);
    const domain = randomUUID();
    await admin.query(`INSERT INTO v_domains (domain_uuid, domain_name) VALUES ($1, $2)`, [domain, `${domain}.example.com`]);
    const key = (await call('/v1/admin/ivr/keys', 'POST', { domain_uuid: domain, name: 'pbx' })).body.key;
    const provider = await call(
      '/v1/ivr/providers',
      'POST',
      { provider_type: 'llm', provider_name: 'openai', config: { api_key: PROVIDER_SECRET }, is_default: true },
      key,
    );
    assert.equal(provider.status, 201);
    assert.equal((await call('/v1/ivr/providers/default/llm', 'GET', undefined, key)).body.config.api_key, PROVIDER_SECRET);
    assert.equal((await call(`/v1/users/${user.body.id}`, 'DELETE')).status, 200);
    await admin.query(`ALTER SYSTEM RESET log_min_duration_statement`);
    await admin.query(`SELECT pg_reload_conf()`);

    const logDir = path.join(pgData, 'log');
    // The collector writes asynchronously: wait until the last statement above is in the log.
    await eventually('the log to show the statements', async () =>
      readdirSync(logDir).some((file) => /duration: .*pg_reload_conf/.test(readFileSync(path.join(logDir, file), 'utf8'))),
    );
    const logText = readdirSync(logDir)
      .map((file) => readFileSync(path.join(logDir, file), 'utf8'))
      .join('\n');
    assert.ok(/duration: [^\n]*insert into "users"/i.test(logText), 'statements were logged as slow');
    for (const secret of [EMAIL, UTTERANCE, PROVIDER_SECRET, ENCRYPTION_KEY, ADMIN_TOKEN, PASSWORD]) {
      assert.ok(!logText.includes(secret), `${secret} is in the server log`);
    }
    assert.ok(readFileSync(path.join(pgData, 'mordomo.conf'), 'utf8').includes("log_filename = 'postgresql-%a.log'"), 'the log is one file per weekday');

    // Nowhere else under the data directory either, but in the tables' own files and the WAL (what
    // docs/search-and-privacy.md says of them), and the backups.
    const skip = new Set([path.join(pgData, 'base'), path.join(pgData, 'pg_wal'), path.join(dataDir, 'wal-archive'), path.join(dataDir, 'backups')]);
    for (const file of filesUnder(dataDir, skip)) {
      if (statSync(file).size > 64 * 1024 * 1024) continue;
      const bytes = readFileSync(file);
      for (const secret of [EMAIL, UTTERANCE, PROVIDER_SECRET, ENCRYPTION_KEY, ADMIN_TOKEN]) assert.ok(!bytes.includes(secret), `${secret} found in ${file}`);
    }
  } finally {
    await admin.end().catch(() => undefined);
    service.child.kill('SIGTERM');
    await exited(service.child);
  }
});
