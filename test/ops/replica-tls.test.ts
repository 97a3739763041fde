// The embedded server beyond loopback (issue 35): TLS only for the client networks, and a standby made by
// `replica create --primary …?sslmode=verify-full&sslrootcert=<CA>` that streams over an encrypted, verified
// connection. Here on loopback, with TLS forced for 127.0.0.1 too (MORDOMO_PG_CLIENT_NETWORKS=127.0.0.1/32).
import assert from 'node:assert/strict';
import { chmodSync, existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { loadConfig } from '../../src/config.ts';
import { embeddedUrl } from '../../src/db/connect.ts';
import { hbaText } from '../../src/db/pg-hba.ts';
import { replicaUrl } from '../../src/ops/replica.ts';
import { eventually } from '../harness/assertions.ts';
import { testCa } from '../harness/certificates.ts';
import { exited, primaryAndStandby, runCli, startService, stopServersAfter } from '../harness/cli.ts';
import { queryOnce } from '../harness/database.ts';
import { freePort } from '../harness/ports.ts';

const ca = testCa('replica-tls');
const otherCa = testCa('replica-tls-other');
const server = ca.issue('primary', ['127.0.0.1']);
const { root, dataDir, standbyDir, port, standbyPort, env: base } = await primaryAndStandby('replica-tls');
const env = { ...base, MORDOMO_PG_TLS_CERT_FILE: server.certFile, MORDOMO_PG_TLS_KEY_FILE: server.keyFile, MORDOMO_PG_CLIENT_NETWORKS: '127.0.0.1/32' };

const password = () => readFileSync(path.join(dataDir, 'postgres-password'), 'utf8').trim();
const primaryUrl = (caFile: string) => `${embeddedUrl(port, password())}?sslmode=verify-full&sslrootcert=${caFile}`;

test('a standby made with verify-full streams from a TLS-only primary, encrypted (pg_stat_ssl of its walsender)', async () => {
  const service = await startService(env);
  try {
    const pgData = path.join(dataDir, 'pg');
    assert.match(readFileSync(path.join(pgData, 'mordomo.conf'), 'utf8'), /^ssl = on$/m);
    const hba = readFileSync(path.join(pgData, 'pg_hba.conf'), 'utf8');
    assert.match(hba, /^hostssl +replication +all +127\.0\.0\.1\/32 +scram-sha-256$/m);
    assert.doesNotMatch(hba, /^host +\S+ +all +127\.0\.0\.1\/32/m, 'no plain line for a client network');
    // TLS is forced: a plain connection is refused.
    await assert.rejects(() => queryOnce(embeddedUrl(port, password()), 'SELECT 1'), /no encryption/);
    await queryOnce(primaryUrl(ca.caFile), `INSERT INTO users (name) VALUES ('antes da réplica')`);

    // A CA that did not sign the primary's certificate: refused before anything is made.
    const wrongDir = path.join(root, 'wrong-ca');
    const wrong = await runCli(
      ['replica', 'create', '--standby-dir', wrongDir, '--port', String(await freePort()), '--primary', primaryUrl(otherCa.caFile)],
      env,
    );
    assert.equal(wrong.code, 78, wrong.stderr);
    assert.match(wrong.stderr, /certificate is not trusted.*sslrootcert/);
    assert.equal(wrong.stderr.includes(password()), false, 'the password is not echoed');
    assert.equal(existsSync(wrongDir), false);
    const slots = await queryOnce<{ n: number }>(primaryUrl(ca.caFile), `SELECT count(*)::int AS n FROM pg_replication_slots`);
    assert.equal(slots.rows[0]!.n, 0);

    const created = await runCli(['replica', 'create', '--standby-dir', standbyDir, '--port', String(standbyPort), '--primary', primaryUrl(ca.caFile)], env);
    assert.equal(created.code, 0, created.stderr);
    assert.equal(created.stdout.includes(password()) || created.stderr.includes(password()), false);
    const autoConf = readFileSync(path.join(standbyDir, 'pg', 'postgresql.auto.conf'), 'utf8');
    assert.match(autoConf, /sslmode=verify-full sslrootcert=\S+primary-root\.crt/);

    await queryOnce(primaryUrl(ca.caFile), `INSERT INTO users (name) VALUES ('depois da réplica')`);
    const standby = replicaUrl(standbyDir, standbyPort);
    await eventually(
      'the write to reach the standby',
      async () => (await queryOnce<{ n: number }>(standby, `SELECT count(*)::int AS n FROM users`)).rows[0]!.n === 2,
    );
    const walsender = await queryOnce<{ ssl: boolean; state: string }>(
      primaryUrl(ca.caFile),
      `SELECT s.ssl, r.state FROM pg_stat_replication r JOIN pg_stat_ssl s USING (pid) WHERE r.application_name = 'mordomo_standby'`,
    );
    assert.deepEqual(walsender.rows, [{ ssl: true, state: 'streaming' }]);

    // Without --primary, the standby of a server with TLS forced on loopback is encrypted too (not refused as plain).
    const plainFlagDir = path.join(root, 'standby-default');
    stopServersAfter(path.join(plainFlagDir, 'pg'));
    const byDefault = await runCli(['replica', 'create', '--standby-dir', plainFlagDir, '--port', String(await freePort())], env);
    assert.equal(byDefault.code, 0, byDefault.stderr);
    assert.match(readFileSync(path.join(plainFlagDir, 'pg', 'postgresql.auto.conf'), 'utf8'), /sslmode=require/);
    await eventually('the second standby to stream, encrypted', async () => {
      const { rows } = await queryOnce<{ ssl: boolean }>(
        primaryUrl(ca.caFile),
        `SELECT s.ssl FROM pg_stat_replication r JOIN pg_stat_ssl s USING (pid) WHERE r.state = 'streaming' AND r.application_name <> 'mordomo_standby'`,
      );
      return rows.length === 1 && rows[0]!.ssl;
    });
  } finally {
    service.child.kill('SIGTERM');
    await exited(service.child);
  }
});

test('listening beyond loopback without a certificate, or with bad networks, is refused (exit 78) and nothing is written', async () => {
  const fresh = path.join(root, 'never-made');
  const noCert = await runCli(['start'], { MORDOMO_DATA_DIR: fresh, MORDOMO_PG_PORT: String(await freePort()), MORDOMO_PG_LISTEN_ADDRESSES: '0.0.0.0' });
  assert.equal(noCert.code, 78, noCert.stderr);
  assert.match(noCert.stderr, /MORDOMO_PG_LISTEN_ADDRESSES=0\.0\.0\.0 .*MORDOMO_PG_TLS_CERT_FILE and MORDOMO_PG_TLS_KEY_FILE/);
  const noNetworks = await runCli(['start'], {
    MORDOMO_DATA_DIR: fresh,
    MORDOMO_PG_LISTEN_ADDRESSES: '0.0.0.0',
    MORDOMO_PG_TLS_CERT_FILE: server.certFile,
    MORDOMO_PG_TLS_KEY_FILE: server.keyFile,
  });
  assert.equal(noNetworks.code, 78, noNetworks.stderr);
  assert.match(noNetworks.stderr, /MORDOMO_PG_CLIENT_NETWORKS/);
  const badCidr = await runCli(['start'], { ...env, MORDOMO_DATA_DIR: fresh, MORDOMO_PG_CLIENT_NETWORKS: '10.0.0.0/33,192.168.1.0/24' });
  assert.equal(badCidr.code, 78, badCidr.stderr);
  assert.match(badCidr.stderr, /"10\.0\.0\.0\/33" is not a network/);
  chmodSync(server.keyFile, 0o644);
  const openKey = await runCli(['start'], { ...env, MORDOMO_DATA_DIR: fresh });
  chmodSync(server.keyFile, 0o600);
  assert.equal(openKey.code, 78, openKey.stderr);
  assert.match(openKey.stderr, /readable by others.*chmod 600/);
  assert.equal(existsSync(fresh), false);
});

test('client networks get hostssl lines only, for sessions and replication; loopback stays as initdb writes it', () => {
  const config = loadConfig(
    {},
    {
      MORDOMO_PG_LISTEN_ADDRESSES: '0.0.0.0, ::',
      MORDOMO_PG_TLS_CERT_FILE: server.certFile,
      MORDOMO_PG_TLS_KEY_FILE: server.keyFile,
      MORDOMO_PG_CLIENT_NETWORKS: '10.0.0.0/24, fd00::/64, 192.168.1.7',
    },
  );
  assert.deepEqual(config.pgNetwork.listenAddresses, ['127.0.0.1', '0.0.0.0', '::']);
  assert.deepEqual(config.pgNetwork.clientNetworks, ['10.0.0.0/24', 'fd00::/64', '192.168.1.7/32']);
  const text = hbaText(config.pgNetwork.clientNetworks);
  for (const network of config.pgNetwork.clientNetworks) {
    for (const database of ['all', 'replication'])
      assert.match(text, new RegExp(`^hostssl +${database} +all +${network.replace(/[./]/g, '\\$&')} +scram-sha-256$`, 'm'));
  }
  assert.doesNotMatch(text, /^host +\S+ +all +(10\.|fd00|192\.)/m);
  assert.match(text, /^host +all +all +127\.0\.0\.1\/32 +scram-sha-256$/m);
});
