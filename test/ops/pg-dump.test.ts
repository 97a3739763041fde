import assert from 'node:assert/strict';
import { test } from 'node:test';
import { findPgDump } from '../../src/ops/pg-dump.ts';
import { runCli } from '../harness/cli.ts';
import { testDatabase } from '../harness/database.ts';

test("--format pg_dump without a pg_dump of the server's version says why and what to install, and writes nothing", async () => {
  const { url } = await testDatabase('pgdump_refused');
  const result = await runCli(['backup', '--format', 'pg_dump', '--out', '/nonexistent/never-created'], { DATABASE_URL: url });
  assert.equal(result.code, 78, result.stderr);
  assert.match(result.stderr, /--format pg_dump needs pg_dump 16, the server's major version/);
  // Debian 12 has no postgresql-client-16: the hint says where it does come from.
  assert.match(result.stderr, /Debian 12 packages only PostgreSQL 15: add the PostgreSQL apt repository .*postgresql-client-16/);
  assert.equal(result.stderr.includes(new URL(url).password || '\u0000'), false, 'no password in the message');
});

test('an unknown format is refused by name', async () => {
  const result = await runCli(['backup', '--format', 'tar'], { DATABASE_URL: 'postgresql://x@127.0.0.1:1/x' });
  assert.notEqual(result.code, 0);
  assert.match(result.stderr, /Allowed choices are mordomo, pg_dump/);
});

test('findPgDump names what it found when the versions differ', () => {
  assert.throws(() => findPgDump(99, ['/nonexistent/pg_dump']), /no pg_dump is on PATH/);
});
