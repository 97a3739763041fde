import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { createPool } from '../../src/db/pool.ts';
import { mapDatabaseError } from '../../src/errors.ts';
import { createLogger } from '../../src/logger.ts';
import { testDatabase } from '../harness/database.ts';

const { url } = await testDatabase('pool');
const settings = { min: 0, max: 2, connectionTimeoutMs: 5000, statementTimeoutMs: 200, idleTimeoutMs: 1000, applicationName: 'pool-test' };

test('parameterised statements are prepared once per connection; plain ones are not', async () => {
  const pool = createPool(url, { ...settings, max: 1 }, createLogger('silent'));
  const client = await pool.connect();
  try {
    await client.query('SELECT $1::int + 1 AS n', [1]);
    const { rows } = await client.query('SELECT $1::int + 1 AS n', [41]);
    assert.equal(rows[0].n, 42);
    await client.query('SELECT 2 AS plain');
    const prepared = await client.query(`SELECT statement FROM pg_prepared_statements ORDER BY statement`);
    assert.deepEqual(
      prepared.rows.map((r) => r.statement),
      ['SELECT $1::int + 1 AS n'],
    );
  } finally {
    client.release();
    await pool.end();
  }
});

test('the pool sets application_name and the statement timeout, which maps to a TimeoutError', async () => {
  const pool = createPool(url, settings, createLogger('silent'));
  try {
    const { rows } = await pool.query(`SELECT current_setting('application_name') AS app, current_setting('statement_timeout') AS timeout`);
    assert.deepEqual(rows[0], { app: 'pool-test', timeout: '200ms' });
    const error = await pool.query('SELECT pg_sleep(2)').catch((e: unknown) => e);
    const mapped = mapDatabaseError(error);
    assert.equal(mapped.code, 'timeout');
    assert.equal(mapped.message, 'statement timed out (statement timeout)');
  } finally {
    await pool.end();
  }
});

test('the logger redacts passwords, URLs and tokens wherever they appear in a log call', () => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  const logger = createLogger('info', sink);
  logger.info({ password: 'pw-1', config: { databaseUrl: 'postgresql://u:pw-2@h/db', postgresPassword: 'pw-3' }, token: 'tok-4' }, 'starting');
  const out = lines.join('');
  for (const secret of ['pw-1', 'pw-2', 'pw-3', 'tok-4']) assert.ok(!out.includes(secret), `${secret} leaked: ${out}`);
  assert.match(out, /\[redacted\]/);
});
