// HTTPS for the API (issue 35): a certificate the test's own CA signed, a client that verifies chain and name,
// a renewal served without a restart, HSTS, and plain HTTP refused off loopback.
import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, readFileSync, renameSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { after, test } from 'node:test';
import type { TLSSocket } from 'node:tls';
import { loadConfig } from '../../src/config.ts';
import { ConfigError } from '../../src/errors.ts';
import { createLogger } from '../../src/logger.ts';
import { startService } from '../../src/service.ts';
import { eventually } from '../harness/assertions.ts';
import { testCa } from '../harness/certificates.ts';
import { testDatabase } from '../harness/database.ts';
import { tempDir } from '../harness/temp-dir.ts';

const ca = testCa('https');
const first = ca.issue('first', ['localhost', '127.0.0.1']);
const renewed = ca.issue('renewed', ['localhost', '127.0.0.1']);
const elsewhere = ca.issue('elsewhere', ['api.example.test']);
// What the service is configured with: the files a renewal (certbot, a mounted secret) replaces in place.
const live = { certFile: path.join(ca.dir, 'live.pem'), keyFile: path.join(ca.dir, 'live.key') };
const install = (pair: { certFile: string; keyFile: string }) => {
  // Written beside and renamed over, as certbot and Kubernetes do: the service never reads half a file.
  copyFileSync(pair.keyFile, `${live.keyFile}.new`);
  chmodSync(`${live.keyFile}.new`, 0o600);
  copyFileSync(pair.certFile, `${live.certFile}.new`);
  renameSync(`${live.keyFile}.new`, live.keyFile);
  renameSync(`${live.certFile}.new`, live.certFile);
};
install(first);
const caPem = readFileSync(ca.caFile);

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  serial: string;
}

/** A GET that trusts only the test CA and checks the server's name, as curl --cacert does. */
function get(url: string, options: { servername?: string; token?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = https.get(
      url,
      { ca: caPem, servername: options.servername, agent: false, headers: options.token ? { authorization: `Bearer ${options.token}` } : {} },
      (response) => {
        let body = '';
        response.on('data', (chunk) => (body += chunk));
        response.on('end', () =>
          resolve({ status: response.statusCode!, headers: response.headers, body, serial: (response.socket as TLSSocket).getPeerCertificate().serialNumber }),
        );
      },
    );
    request.on('error', reject);
  });
}

const database = await testDatabase('https');
const dataDir = tempDir('https');
const config = loadConfig(
  {},
  {
    DATABASE_URL: database.url,
    MORDOMO_DATA_DIR: dataDir,
    MORDOMO_HTTP_PORT: '0',
    MORDOMO_TLS_CERT_FILE: live.certFile,
    MORDOMO_TLS_KEY_FILE: live.keyFile,
    MORDOMO_ADMIN_TOKEN: 'tls-test-admin-token-0123456789',
  },
);
const service = await startService(config, createLogger(process.env.TEST_LOG_LEVEL ?? 'silent'));
after(() => service.stop());
const port = new URL(service.url).port;

test('the service answers HTTPS with a certificate a verifying client accepts, HSTS on every answer', async () => {
  assert.match(service.url, /^https:\/\//);
  const health = await get(`https://127.0.0.1:${port}/healthz`);
  assert.equal(health.status, 200);
  assert.equal(health.headers['strict-transport-security'], 'max-age=31536000');
  const byName = await get(`https://localhost:${port}/readyz`);
  assert.equal(byName.status, 200);
  // /metrics on the same listener (with the admin token).
  const metrics = await get(`https://127.0.0.1:${port}/metrics`, { token: 'tls-test-admin-token-0123456789' });
  assert.equal(metrics.status, 200);
  assert.match(metrics.body, /http_request_duration_seconds/);
});

test('a client checking the name refuses a certificate for another name, and plain HTTP gets no answer', async () => {
  await assert.rejects(get(`https://127.0.0.1:${port}/healthz`, { servername: 'api.example.test' }), /altnames|does not match/i);
  // A client that does not trust the test CA refuses the chain.
  await assert.rejects(
    new Promise((resolve, reject) => https.get(`https://127.0.0.1:${port}/healthz`, { agent: false }, resolve).on('error', reject)),
    /self.signed|unable to (get|verify)/i,
  );
  await assert.rejects(fetch(`http://127.0.0.1:${port}/healthz`));
});

test('a renewed certificate is served without a restart', async () => {
  const before = (await get(`https://127.0.0.1:${port}/healthz`)).serial;
  install(renewed);
  await eventually('the renewed certificate', async () => (await get(`https://127.0.0.1:${port}/healthz`)).serial !== before);
  // A pair that does not match (a key for another certificate) is refused and the last good one stays in use.
  copyFileSync(elsewhere.keyFile, `${live.keyFile}.new`);
  chmodSync(`${live.keyFile}.new`, 0o600);
  renameSync(`${live.keyFile}.new`, live.keyFile);
  process.kill(process.pid, 'SIGHUP');
  const still = await get(`https://127.0.0.1:${port}/healthz`);
  assert.equal(still.status, 200);
  install(first);
  await eventually('the first certificate again', async () => (await get(`https://127.0.0.1:${port}/healthz`)).serial === before);
});

test('plain HTTP on a non-loopback address refuses to start and says how to fix it', async () => {
  const open = loadConfig({}, { DATABASE_URL: database.url, MORDOMO_DATA_DIR: dataDir, MORDOMO_HTTP_HOST: '0.0.0.0', MORDOMO_HTTP_PORT: '0' });
  await assert.rejects(startService(open, createLogger('silent')), (error: Error) => {
    assert.ok(error instanceof ConfigError);
    assert.match(error.message, /MORDOMO_TLS_CERT_FILE/);
    assert.match(error.message, /MORDOMO_HTTP_PLAINTEXT=1/);
    return true;
  });
});

test('the TLS key file must be 0600 and both files go together', () => {
  chmodSync(live.keyFile, 0o644);
  try {
    assert.throws(() => loadConfig({}, { MORDOMO_TLS_CERT_FILE: live.certFile, MORDOMO_TLS_KEY_FILE: live.keyFile }), /readable by others.*chmod 600/);
  } finally {
    chmodSync(live.keyFile, 0o600);
  }
  assert.throws(() => loadConfig({}, { MORDOMO_TLS_CERT_FILE: live.certFile }), /go together/);
});
