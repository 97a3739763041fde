// Needs Debian's PostgreSQL 15 (server and pg_dump): run by `npm run test:system`.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import pg from 'pg';
import { createLogger } from '../../src/logger.ts';
import { migrate } from '../../src/migrate/runner.ts';
import { runCli } from '../harness/cli.ts';
import { PG15_BIN, startPg15 } from '../harness/debian-pg15.ts';
import { tempDir } from '../harness/temp-dir.ts';

test("with a pg_dump of the server's version, --format pg_dump writes an archive pg_restore restores", async () => {
  const server = await startPg15();
  try {
    const admin = new pg.Client({ connectionString: server.url('postgres') });
    await admin.connect();
    await admin.query('CREATE DATABASE mordomo');
    await admin.query('CREATE DATABASE restored');
    await admin.end();
    const pool = new pg.Pool({ connectionString: server.url('mordomo'), max: 1 });
    await migrate(pool, ['core'], createLogger('silent'));
    await pool.query(`INSERT INTO users (name) VALUES ('Ana'), ('Bia')`);
    await pool.end();

    const out = tempDir('pgdump');
    const result = await runCli(['backup', '--format', 'pg_dump', '--out', out, '--json'], {
      DATABASE_URL: server.url('mordomo'),
      PATH: `${PG15_BIN}:${process.env.PATH}`,
    });
    assert.equal(result.code, 0, result.stderr);
    const { file } = JSON.parse(result.stdout);
    assert.match(file, /mordomo-\d{8}T\d{6}Z\.dump$/);
    const restore = spawnSync(`${PG15_BIN}/pg_restore`, ['-d', server.url('restored'), file], { encoding: 'utf8' });
    assert.equal(restore.status, 0, restore.stderr);
    const check = new pg.Client({ connectionString: server.url('restored') });
    await check.connect();
    assert.deepEqual(
      (await check.query('SELECT name FROM users ORDER BY name')).rows.map((r) => r.name),
      ['Ana', 'Bia'],
    );
    await check.end();
  } finally {
    server.stop();
  }
});
