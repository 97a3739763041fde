// A streaming standby for real: two local servers, writes flowing to the standby, the standby refusing writes,
// and a promotion after the primary stops with nothing committed missing.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { embeddedUrl } from '../../src/db/connect.ts';
import { replicaUrl } from '../../src/ops/replica.ts';
import { existsSync, readFileSync } from 'node:fs';
import { eventually } from '../harness/assertions.ts';
import { exited, primaryAndStandby, runCli, startService, stopServersAfter } from '../harness/cli.ts';
import { queryOnce } from '../harness/database.ts';
import { freePort } from '../harness/ports.ts';

const { root, dataDir, standbyDir, port, standbyPort, env } = await primaryAndStandby('replica');

test("a standby streams the primary's writes, refuses its own, and takes over after the primary stops", async () => {
  const service = await startService(env);
  const primaryUrl = () => embeddedUrl(port, readFileSync(path.join(dataDir, 'postgres-password'), 'utf8').trim());
  try {
    await queryOnce(primaryUrl(), `INSERT INTO users (name) VALUES ('antes da réplica')`);
    const created = await runCli(['replica', 'create', '--standby-dir', standbyDir, '--port', String(standbyPort)], env);
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, /standby running on port \d+, streaming through slot mordomo_standby/);
    const standby = replicaUrl(standbyDir, standbyPort);

    await queryOnce(primaryUrl(), `INSERT INTO users (name) VALUES ('depois da réplica')`);
    await eventually(
      'the write to reach the standby',
      async () => (await queryOnce<{ n: number }>(standby, `SELECT count(*)::int AS n FROM users`)).rows[0]!.n === 2,
    );
    await assert.rejects(
      () => queryOnce(standby, `INSERT INTO users (name) VALUES ('no standby')`),
      (error: { code?: string }) => error.code === '25006',
    );

    const status = await runCli(['replica', 'status', '--json'], env);
    assert.equal(status.code, 0, status.stderr);
    const parsed = JSON.parse(status.stdout);
    assert.equal(parsed.standbys[0].state, 'streaming');
    assert.deepEqual(
      parsed.slots.map((s: { slot_name: string; active: boolean }) => [s.slot_name, s.active]),
      [['mordomo_standby', true]],
    );

    const early = await runCli(['replica', 'promote', '--standby-dir', standbyDir], env);
    assert.notEqual(early.code, 0);
    assert.match(early.stderr, /still answers: stop it/);

    // The last commit before the primary stops must be on the standby after promotion.
    await queryOnce(primaryUrl(), `INSERT INTO users (name) VALUES ('último commit')`);
  } finally {
    service.child.kill('SIGTERM');
    await exited(service.child);
  }
  const promoted = await runCli(['replica', 'promote', '--standby-dir', standbyDir], env);
  assert.equal(promoted.code, 0, promoted.stderr);
  // The old primary is down: its slot for this standby cannot be dropped now, and the command says so.
  assert.match(promoted.stdout, /the old primary still has replication slot mordomo_standby, .*pg_drop_replication_slot\('mordomo_standby'\)/);
  const standby = replicaUrl(standbyDir, standbyPort);
  await queryOnce(standby, `INSERT INTO users (name) VALUES ('depois da promoção')`);
  const names = (await queryOnce<{ name: string }>(standby, 'SELECT name FROM users ORDER BY name')).rows.map((r) => r.name);
  assert.deepEqual(names, ['antes da réplica', 'depois da promoção', 'depois da réplica', 'último commit']);
});

test('replica create refuses a used folder and a server it cannot copy', async () => {
  const used = await runCli(['replica', 'create', '--standby-dir', root, '--port', String(await freePort())], env);
  assert.notEqual(used.code, 0);
  assert.match(used.stderr, /is not empty/);
  const remote = await runCli(['replica', 'create', '--standby-dir', path.join(root, 'other')], { DATABASE_URL: 'postgresql://x:y@127.0.0.1:1/z' });
  assert.notEqual(remote.code, 0);
  const elsewhere = await runCli(
    ['replica', 'create', '--standby-dir', path.join(root, 'other'), '--primary', 'postgresql://u:secret@db.example.com:5432/mordomo'],
    env,
  );
  assert.equal(elsewhere.code, 78);
  assert.match(elsewhere.stderr, /pg_basebackup -R/);
  assert.equal(elsewhere.stderr.includes('secret'), false, 'the password is not echoed');
});

test('replica create works when the superuser password comes from POSTGRES_PASSWORD, with no password file, or from DATABASE_URL', async () => {
  const pair = await primaryAndStandby('replica-env-password');
  const withPassword = { ...pair.env, POSTGRES_PASSWORD: 'a-password-from-the-environment' };
  const service = await startService(withPassword);
  try {
    assert.equal(existsSync(path.join(pair.dataDir, 'postgres-password')), false);
    // Before: "unexpected error: ENOENT … lstat '…/postgres-password'".
    const created = await runCli(['replica', 'create', '--standby-dir', pair.standbyDir, '--port', String(pair.standbyPort)], withPassword);
    assert.equal(created.code, 0, created.stderr);
    const primary = embeddedUrl(pair.port, 'a-password-from-the-environment');
    await queryOnce(primary, `INSERT INTO users (name) VALUES ('pela variável')`);
    const standby = replicaUrl(pair.standbyDir, pair.standbyPort);
    await eventually(
      'the write to reach the standby',
      async () => (await queryOnce<{ n: number }>(standby, `SELECT count(*)::int AS n FROM users WHERE name = 'pela variável'`)).rows[0]!.n === 1,
    );

    // And with DATABASE_URL naming this embedded server (its superuser's password in the URL).
    const second = path.join(pair.root, 'by-url');
    const secondPort = await freePort();
    stopServersAfter(path.join(second, 'pg'));
    const byUrl = await runCli(['replica', 'create', '--standby-dir', second, '--port', String(secondPort)], {
      MORDOMO_DATA_DIR: pair.dataDir,
      DATABASE_URL: primary,
    });
    assert.equal(byUrl.code, 0, byUrl.stderr);
    await eventually(
      'the second standby to stream',
      async () =>
        (await queryOnce<{ n: number }>(replicaUrl(second, secondPort), `SELECT count(*)::int AS n FROM users WHERE name = 'pela variável'`)).rows[0]!.n === 1,
    );
  } finally {
    service.child.kill('SIGTERM');
    await exited(service.child);
  }
});
