// Two real standbys of the embedded server, created one after the other: each has its own replication role, so
// both stream across a primary restart (with one shared role, the second standby's new password locked the first
// out at the next restart). Then each is broken on purpose (wrong password, paused replay, stopped) and must leave
// read routing within two checks, saying why, and come back once repaired; a forced promotion drops its slot.
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import type pg from 'pg';
import { loadConfig } from '../../src/config.ts';
import { embeddedUrl } from '../../src/db/connect.ts';
import { findRunningServer } from '../../src/db/postmaster.ts';
import { createLogger } from '../../src/logger.ts';
import { replicaUrl } from '../../src/ops/replica.ts';
import { startService as startInProcess } from '../../src/service.ts';
import { eventually } from '../harness/assertions.ts';
import { exited, primaryAndStandby, runCli, startService, stopServersAfter } from '../harness/cli.ts';
import { queryOnce } from '../harness/database.ts';
import { freePort } from '../harness/ports.ts';
import { tempDir } from '../harness/temp-dir.ts';

const { root, dataDir, standbyDir: standbyA, port, standbyPort: portA, env } = await primaryAndStandby('rotation');
const standbyB = path.join(root, 'standby-b');
const portB = await freePort();
stopServersAfter(path.join(standbyB, 'pg'));
after(() => rmSync(root, { recursive: true, force: true }));

const query = async <T extends pg.QueryResultRow>(url: string, text: string): Promise<T[]> => (await queryOnce<T>(url, text)).rows;
const primaryUrl = () => embeddedUrl(port, readFileSync(path.join(dataDir, 'postgres-password'), 'utf8').trim());
const streaming = async () =>
  (await query<{ application_name: string }>(primaryUrl(), `SELECT application_name FROM pg_stat_replication WHERE state = 'streaming' ORDER BY 1`)).map(
    (r) => r.application_name,
  );

test('two standbys created one after the other both stream across a primary restart', async () => {
  let primary = await startService(env);
  try {
    for (const [dir, standbyPort] of [
      [standbyA, portA],
      [standbyB, portB],
    ] as const) {
      const created = await runCli(['replica', 'create', '--standby-dir', dir, '--port', String(standbyPort)], env);
      assert.equal(created.code, 0, created.stderr);
    }
    const roles = await query<{ rolname: string }>(
      primaryUrl(),
      `SELECT rolname FROM pg_roles WHERE rolreplication AND rolname LIKE 'mordomo_repl%' ORDER BY 1`,
    );
    assert.deepEqual(
      roles.map((r) => r.rolname),
      ['mordomo_repl_standby', 'mordomo_repl_standby_b'],
    );
    await eventually('both standbys to stream', async () => (await streaming()).join() === 'mordomo_standby,mordomo_standby_b', 20_000);
  } finally {
    primary.child.kill('SIGTERM');
    await exited(primary.child);
  }
  primary = await startService(env);
  try {
    await eventually('both standbys to stream again after the restart', async () => (await streaming()).join() === 'mordomo_standby,mordomo_standby_b', 30_000);
    await query(primaryUrl(), `INSERT INTO users (name) VALUES ('depois do reinício')`);
    for (const [dir, standbyPort] of [
      [standbyA, portA],
      [standbyB, portB],
    ] as const) {
      await eventually(
        `the write to reach ${path.basename(dir)}`,
        async () =>
          (await query<{ n: number }>(replicaUrl(dir, standbyPort), `SELECT count(*)::int AS n FROM users WHERE name = 'depois do reinício'`))[0]!.n === 1,
      );
    }
  } finally {
    primary.child.kill('SIGTERM');
    await exited(primary.child);
  }
});

test('a standby that stops streaming, falls behind in replay, or stops is out of rotation within two checks, and says why', async () => {
  const primary = await startService(env);
  const urls = [replicaUrl(standbyA, portA), replicaUrl(standbyB, portB)];
  const config = loadConfig(
    {},
    {
      DATABASE_URL: primaryUrl(),
      DATABASE_REPLICA_URL: urls.join(','),
      MORDOMO_REPLICA_MAX_LAG_SECONDS: '2',
      MORDOMO_DATA_DIR: tempDir('rotation-api'),
      MORDOMO_HTTP_PORT: '0',
      MORDOMO_ADMIN_TOKEN: 'rotation-test-token-0123456789',
    },
  );
  const service = await startInProcess(config, createLogger('silent'));
  const reasons = async () => {
    const text = await (await fetch(`${service.url}/metrics`, { headers: { authorization: 'Bearer rotation-test-token-0123456789' } })).text();
    return [...text.matchAll(/^mordomo_replica_out_of_rotation\{replica="[^"]*:(\d+)\/[^"]*",reason="(\w+)"\} 1$/gm)]
      .map(([, replicaPort, reason]) => `${replicaPort}:${reason}`)
      .sort();
  };
  /** The ports reads went to, over `count` reads. */
  const readTargets = async (count: number) => {
    const targets = new Set<string>();
    for (let i = 0; i < count; i++) targets.add(new URL((await service.database.reads.reader()).pool.options.connectionString!).port);
    return targets;
  };
  // Two checks of read routing (every 2 s), plus the bound itself for a replay that falls behind.
  const withinTwoChecks = 2 * 2000 + 2000 + 1000;
  try {
    await eventually(
      'both replicas in rotation',
      async () => (await reasons()).length === 0 && service.database.reads.health().every((r) => r.healthy),
      20_000,
    );

    // 1. Standby B's replication password no longer works (what the shared role did to the first standby).
    await query(primaryUrl(), `ALTER ROLE mordomo_repl_standby_b PASSWORD 'changed-elsewhere'`);
    await query(primaryUrl(), `SELECT pg_terminate_backend(pid) FROM pg_stat_replication WHERE application_name = 'mordomo_standby_b'`);
    await eventually('B out: not streaming', async () => (await reasons()).includes(`${portB}:not_streaming`), withinTwoChecks);
    assert.equal((await readTargets(20)).has(String(portB)), false, 'no read goes to B');
    const status = await runCli(['replica', 'status', '--json'], { ...env, DATABASE_REPLICA_URL: urls.join(',') });
    const listed = JSON.parse(status.stdout).replicas.find((r: { name: string }) => r.name.includes(`:${portB}/`));
    assert.match(listed.reason, /^not_streaming: no WAL receiver is streaming/);
    const doctor = await runCli(['doctor'], { ...env, DATABASE_REPLICA_URL: urls.join(',') });
    assert.match(doctor.stdout, new RegExp(`read replicas.*:${portB}/.*out of rotation \\(not_streaming`));

    // 2. Standby A's replay is paused while the primary takes writes: its data ages past the bound.
    await query(urls[0]!, 'SELECT pg_wal_replay_pause()');
    const writes = setInterval(() => void query(primaryUrl(), `INSERT INTO users (name) VALUES ('escrita')`).catch(() => undefined), 200);
    try {
      await eventually('A out: replay behind', async () => (await reasons()).includes(`${portA}:replay_behind`), withinTwoChecks);
      assert.deepEqual(await readTargets(20), new Set([String(port)]), 'every read goes to the primary');
      const [{ behind }] = (await query<{ behind: number }>(
        urls[0]!,
        'SELECT extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8 AS behind',
      )) as [{ behind: number }];
      assert.ok(behind > 2, `A is ${behind} s behind, past the bound`);
    } finally {
      clearInterval(writes);
    }
    await query(urls[0]!, 'SELECT pg_wal_replay_resume()');
    await eventually('A back in rotation once it caught up', async () => !(await reasons()).some((r) => r.startsWith(`${portA}:`)), withinTwoChecks);
    assert.ok((await readTargets(10)).has(String(portA)), 'reads go to A again');

    // 3. Standby A stops.
    process.kill(findRunningServer(path.join(standbyA, 'pg'))!.pid, 'SIGINT');
    await eventually('A out: down', async () => (await reasons()).includes(`${portA}:down`), withinTwoChecks);

    // 4. B, its password repaired, promoted while its primary still answers (forced), gives up its slot there.
    const password = readFileSync(path.join(standbyB, 'replication-password'), 'utf8').trim();
    await query(primaryUrl(), `ALTER ROLE mordomo_repl_standby_b PASSWORD '${password}'`);
    const promoted = await runCli(['replica', 'promote', '--standby-dir', standbyB, '--force'], env);
    assert.equal(promoted.code, 0, promoted.stderr);
    assert.match(promoted.stdout, /the old primary's replication slot mordomo_standby_b was dropped/);
    const slots = await query<{ slot_name: string }>(primaryUrl(), 'SELECT slot_name FROM pg_replication_slots ORDER BY 1');
    assert.deepEqual(
      slots.map((s) => s.slot_name),
      ['mordomo_standby'],
    );
    await eventually('B out: promoted', async () => (await reasons()).includes(`${portB}:promoted`), withinTwoChecks);
  } finally {
    await service.stop();
    primary.child.kill('SIGTERM');
    await exited(primary.child);
  }
});
