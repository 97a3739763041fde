// TLS to an external PostgreSQL (issue 35): a server with ssl = on and hostssl lines only, reached with libpq's
// sslmode as libpq means it: verify-full checks chain and name, verify-ca the chain, require encrypts only.
import assert from 'node:assert/strict';
import { chmodSync, chownSync, copyFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import pg from 'pg';
import { loadConfig } from '../../src/config.ts';
import { openDatabase } from '../../src/db/connect.ts';
import { EmbeddedServer } from '../../src/db/embedded-server.ts';
import { resolveServerUser } from '../../src/db/os-user.ts';
import { pgConnectionOptions } from '../../src/db/tls.ts';
import { createLogger } from '../../src/logger.ts';
import { databaseTransport } from '../../src/ops/transport-checks.ts';
import { rejectsWith } from '../harness/assertions.ts';
import { testCa } from '../harness/certificates.ts';
import { runCli, stopServersAfter } from '../harness/cli.ts';
import { freePort } from '../harness/ports.ts';
import { tempDir } from '../harness/temp-dir.ts';

const logger = createLogger('silent');
const root = tempDir('pg-tls');
const port = await freePort();
const server = new EmbeddedServer({ dataDir: path.join(root, 'data'), port, password: 'tls-test-password', osUser: 'postgres', logger });
stopServersAfter(server.pgData);
const handle = await server.ensureRunning();
after(() => server.stop());
const ca = testCa('pg');
const otherCa = testCa('pg-other');
const user = resolveServerUser('postgres');

let tlsOn = false;

/** Installs a server certificate for `names` and reloads: ssl = on, and only hostssl lines in pg_hba.conf. */
async function serveCertificate(names: string[]) {
  const pair = ca.issue(names.join('-'), names);
  for (const [from, to] of [
    [pair.certFile, 'server.crt'],
    [pair.keyFile, 'server.key'],
  ] as const) {
    const target = path.join(server.pgData, to);
    copyFileSync(from, target);
    chmodSync(target, 0o600);
    if (user) chownSync(target, user.uid, user.gid);
  }
  writeFileSync(path.join(server.pgData, 'pg_hba.conf'), 'hostssl all all 127.0.0.1/32 scram-sha-256\nhostssl all all ::1/128 scram-sha-256\n');
  // The first time the server is still plain (initdb's pg_hba.conf); after that, only TLS reaches it.
  const admin = new pg.Client(
    tlsOn ? pgConnectionOptions(url('require')) : { host: '127.0.0.1', port, user: 'mordomo', password: 'tls-test-password', database: 'postgres' },
  );
  await admin.connect();
  if (!tlsOn) await admin.query('ALTER SYSTEM SET ssl = on');
  await admin.query('SELECT pg_reload_conf()');
  await admin.end();
  tlsOn = true;
  // A reload is asynchronous: wait until a verifying connection sees the new certificate's names.
  for (let i = 0; i < 50; i++) {
    const probe = new pg.Client({ ...pgConnectionOptions(url('require')), connectionTimeoutMillis: 5000 });
    const served = await probe
      .connect()
      .then(() => (probe as unknown as { connection: { stream: import('node:tls').TLSSocket } }).connection.stream.getPeerCertificate().subjectaltname ?? '')
      .catch(() => '');
    await probe.end().catch(() => undefined);
    if (names.every((name) => served.includes(name))) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.fail(`the server did not take the certificate for ${names.join(', ')}`);
}

const url = (mode?: string, extra = '', host = '127.0.0.1') =>
  `postgresql://mordomo:tls-test-password@${host}:${handle.port}/postgres${mode ? `?sslmode=${mode}${extra}` : ''}`;
const open = (databaseUrl: string) =>
  openDatabase(loadConfig({}, { DATABASE_URL: databaseUrl, MORDOMO_DATA_DIR: root, MORDOMO_CONNECT_TIMEOUT_MS: '5000' }), logger);

await serveCertificate(['127.0.0.1']);

test('verify-full with the CA connects by the name the certificate lists, encrypted (pg_stat_ssl)', async () => {
  const database = await open(url('verify-full', `&sslrootcert=${ca.caFile}`));
  try {
    const { rows } = await database.pool.query('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
    assert.equal(rows[0].ssl, true);
    const finding = await databaseTransport(database.pool);
    assert.equal(finding.status, 'ok');
    assert.match(finding.detail, /encrypted/);
  } finally {
    await database.close();
  }
});

test('a plain connection to the TLS-only server is refused with what to add to the URL', async () => {
  await rejectsWith(() => open(url()), 'config', /accepts only encrypted connections: add sslmode=verify-full/);
});

test('a CA that did not sign the server certificate is refused (verify-ca and verify-full)', async () => {
  await rejectsWith(() => open(url('verify-full', `&sslrootcert=${otherCa.caFile}`)), 'config', /not trusted.*sslrootcert/);
  await rejectsWith(() => open(url('verify-ca', `&sslrootcert=${otherCa.caFile}`)), 'config', /not trusted/);
});

test('with a certificate for another name: verify-full refuses (exit 78), verify-ca and require connect as libpq does', async () => {
  await serveCertificate(['db.example.test']);
  await rejectsWith(() => open(url('verify-full', `&sslrootcert=${ca.caFile}`)), 'config', /does not name this host/);
  // libpq's verify-ca checks the chain only; require without a root certificate does not verify at all.
  for (const databaseUrl of [url('verify-ca', `&sslrootcert=${ca.caFile}`), url('require'), url('require', `&sslrootcert=${ca.caFile}`)]) {
    const database = await open(databaseUrl);
    await database.close();
  }
  // require with a root certificate verifies the chain (as verify-ca): another CA is refused.
  await rejectsWith(() => open(url('require', `&sslrootcert=${otherCa.caFile}`)), 'config', /not trusted/);
  const cli = await runCli(['doctor'], {
    DATABASE_URL: url('verify-full', `&sslrootcert=${ca.caFile}`),
    MORDOMO_DATA_DIR: root,
    MORDOMO_CONNECT_TIMEOUT_MS: '5000',
  });
  assert.equal(cli.code, 78, cli.stderr);
  assert.match(cli.stderr, /does not name this host/);
  assert.doesNotMatch(cli.stderr, /tls-test-password/);
  await serveCertificate(['127.0.0.1']);
});

test("sslmode's files are read as libpq reads them, with clear refusals", () => {
  assert.throws(() => pgConnectionOptions(url('verify-full', '&sslrootcert=/nonexistent/ca.pem')), /cannot read the root certificate/);
  assert.throws(() => pgConnectionOptions(url('verify-ca', '&sslrootcert=system')), /use sslmode=verify-full/);
  assert.throws(() => pgConnectionOptions(url('sometimes')), /invalid sslmode/);
  const client = ca.issue('client', ['mordomo']);
  chmodSync(client.keyFile, 0o644);
  assert.throws(() => pgConnectionOptions(url('require', `&sslcert=${client.certFile}&sslkey=${client.keyFile}`)), /group or world access.*chmod 600/);
  chmodSync(client.keyFile, 0o600);
  const options = pgConnectionOptions(url('require', `&sslcert=${client.certFile}&sslkey=${client.keyFile}&application_name=x`));
  assert.ok(typeof options.ssl === 'object' && options.ssl.cert && options.ssl.key);
  // The TLS parameters leave the URL (node-postgres would read them its own way); the others stay.
  assert.doesNotMatch(options.connectionString!, /ssl/);
  assert.match(options.connectionString!, /application_name=x/);
  assert.equal(pgConnectionOptions(url('disable')).ssl, false);
});
