// libpq's PGSSL* environment variables (issue 35): read by pgConnectionOptions as libpq reads them, each one only
// where the URL does not give its parameter.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { pgConnectionOptions } from '../../src/db/tls.ts';
import { testCa } from '../harness/certificates.ts';

const ca = testCa('pg-env');
const otherCa = testCa('pg-env-other');
const client = ca.issue('env-client', ['mordomo']);
const url = 'postgresql://u:p@127.0.0.1:5432/db';

test('PGSSLMODE and PGSSLROOTCERT apply when the URL gives no sslmode or sslrootcert', () => {
  const options = pgConnectionOptions(url, { PGSSLMODE: 'verify-full', PGSSLROOTCERT: ca.caFile });
  assert.ok(typeof options.ssl === 'object');
  assert.equal(options.ssl.ca, readFileSync(ca.caFile, 'utf8'));
  assert.equal(options.ssl.checkServerIdentity, undefined, 'verify-full checks the name');
  assert.throws(() => pgConnectionOptions(url, { PGSSLMODE: 'sometimes' }), /invalid sslmode/);
  assert.equal(pgConnectionOptions(url, {}).ssl, false);
});

test("the URL's parameters win over the environment", () => {
  assert.equal(pgConnectionOptions(`${url}?sslmode=disable`, { PGSSLMODE: 'verify-full', PGSSLROOTCERT: ca.caFile }).ssl, false);
  const options = pgConnectionOptions(`${url}?sslrootcert=${otherCa.caFile}`, { PGSSLMODE: 'verify-ca', PGSSLROOTCERT: ca.caFile });
  assert.ok(typeof options.ssl === 'object');
  assert.equal(options.ssl.ca, readFileSync(otherCa.caFile, 'utf8'));
  assert.ok(options.ssl.checkServerIdentity, 'verify-ca from PGSSLMODE: chain only');
});

test('PGSSLCERT and PGSSLKEY give the client certificate', () => {
  const options = pgConnectionOptions(`${url}?sslmode=require`, { PGSSLCERT: client.certFile, PGSSLKEY: client.keyFile });
  assert.ok(typeof options.ssl === 'object');
  assert.equal(options.ssl.cert, readFileSync(client.certFile, 'utf8'));
  assert.equal(options.ssl.key, readFileSync(client.keyFile, 'utf8'));
});
