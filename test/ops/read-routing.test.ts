// Read routing with a real standby: reads go to the replica, a caller sees its own write with the LSN the write
// returned, and a replica that goes away is skipped while reads carry on against the primary.
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { loadConfig } from '../../src/config.ts';
import { embeddedUrl } from '../../src/db/connect.ts';
import { findRunningServer, isAlive } from '../../src/db/postmaster.ts';
import { createLogger } from '../../src/logger.ts';
import { replicaUrl } from '../../src/ops/replica.ts';
import { startService as startInProcess } from '../../src/service.ts';
import { eventually } from '../harness/assertions.ts';
import { exited, primaryAndStandby, runCli, startService } from '../harness/cli.ts';
import { tempDir } from '../harness/temp-dir.ts';

const { root, dataDir, standbyDir, port, standbyPort, env } = await primaryAndStandby('routing');
after(() => rmSync(root, { recursive: true, force: true }));

test("reads go to a healthy replica, see the caller's own write when asked, and fall back to the primary", async () => {
  const primary = await startService(env);
  const apiDir = tempDir('routing-api');
  let service: Awaited<ReturnType<typeof startInProcess>> | undefined;
  try {
    const created = await runCli(['replica', 'create', '--standby-dir', standbyDir, '--port', String(standbyPort)], env);
    assert.equal(created.code, 0, created.stderr);
    const password = readFileSync(path.join(dataDir, 'postgres-password'), 'utf8').trim();
    const config = loadConfig(
      {},
      {
        DATABASE_URL: embeddedUrl(port, password),
        DATABASE_REPLICA_URL: replicaUrl(standbyDir, standbyPort),
        MORDOMO_DATA_DIR: apiDir,
        MORDOMO_HTTP_PORT: '0',
        MORDOMO_ADMIN_TOKEN: 'routing-test-token-0123456789',
      },
    );
    service = await startInProcess(config, createLogger('silent'));
    const call = (method: string, route: string, options: { body?: unknown; headers?: Record<string, string> } = {}) =>
      fetch(`${service!.url}${route}`, {
        method,
        headers: { authorization: 'Bearer routing-test-token-0123456789', ...(options.body ? { 'content-type': 'application/json' } : {}), ...options.headers },
        body: options.body ? JSON.stringify(options.body) : undefined,
      });
    const metric = async (pattern: RegExp) => {
      const text = await (await call('GET', '/metrics')).text();
      return Number(pattern.exec(text)?.[1] ?? NaN);
    };
    await eventually('the replica to be in rotation', async () => (await metric(/^mordomo_replica_healthy\{[^}]*\} (\d)$/m)) === 1, 20_000);

    const conversation = await (await call('POST', '/v1/conversations', { body: {} })).json();
    const turn = await call('POST', `/v1/conversations/${conversation.id}/turns`, { body: { user: { content: 'oi' }, assistant: { content: 'olá' } } });
    assert.equal(turn.status, 201);
    const lsn = turn.headers.get('x-mordomo-lsn');
    assert.match(lsn ?? '', /^[0-9A-F]+\/[0-9A-F]+$/);
    const mine = await call('GET', `/v1/conversations/${conversation.id}/messages`, { headers: { 'x-mordomo-after-lsn': lsn! } });
    assert.deepEqual(
      (await mine.json()).items.map((m: { content: string }) => m.content),
      ['oi', 'olá'],
    );
    const replicaReads = await metric(/^mordomo_reads\{target="postgresql:[^"]*:\d+\/mordomo"\} (\d+)$/m);
    assert.ok(replicaReads >= 1, `reads went to the replica (${replicaReads})`);
    assert.equal((await call('GET', `/v1/conversations/${conversation.id}/messages`, { headers: { 'x-mordomo-after-lsn': 'DROP TABLE' } })).status, 400);

    // The standby goes away: reads carry on against the primary, and the metrics say so.
    const standby = findRunningServer(path.join(standbyDir, 'pg'))!;
    process.kill(standby.pid, 'SIGINT');
    await eventually('the standby to stop', async () => !isAlive(standby.pid));
    await eventually('the replica to be skipped', async () => (await metric(/^mordomo_replica_healthy\{[^}]*\} (\d)$/m)) === 0, 20_000);
    const before = await metric(/^mordomo_reads\{target="primary"\} (\d+)$/m);
    const read = await call('GET', `/v1/conversations/${conversation.id}/messages`);
    assert.equal(read.status, 200);
    assert.equal((await read.json()).items.length, 2);
    assert.equal(await metric(/^mordomo_reads\{target="primary"\} (\d+)$/m), before + 1);
  } finally {
    await service?.stop();
    rmSync(apiDir, { recursive: true, force: true });
    primary.child.kill('SIGTERM');
    await exited(primary.child);
  }
});
