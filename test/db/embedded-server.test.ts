// The embedded server as an operator meets it: through the CLI, with crashes, busy ports and wrong settings.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { type Kysely, sql } from 'kysely';
import { createKysely } from '../../src/db/typed-errors.ts';
import pg from 'pg';
import { appendTurn, startConversation } from '../../src/core/conversations.ts';
import { embeddedUrl } from '../../src/db/connect.ts';
import { findRunningServer, isAlive } from '../../src/db/postmaster.ts';
import { sharedBuffersFor } from '../../src/db/server-settings.ts';
import type { DB } from '../../src/db/schema.ts';
import { exited, runCli, startService } from '../harness/cli.ts';
import { freePort } from '../harness/ports.ts';
import { tempDir } from '../harness/temp-dir.ts';

const dataDir = path.join(tempDir('embedded'), 'data');
const port = await freePort();
const env = { MORDOMO_DATA_DIR: dataDir, MORDOMO_PG_PORT: String(port) };
const pgData = path.join(dataDir, 'pg');

after(async () => {
  // Never leave a server behind, whatever a failed assertion skipped.
  const running = findRunningServer(pgData);
  if (running) process.kill(running.pid, 'SIGINT');
});

async function withDb<T>(work: (db: Kysely<DB>) => Promise<T>): Promise<T> {
  const password = readFileSync(path.join(dataDir, 'postgres-password'), 'utf8').trim();
  const db = createKysely(new pg.Pool({ connectionString: embeddedUrl(port, password), max: 2 }));
  try {
    return await work(db);
  } finally {
    await db.destroy();
  }
}

/** The running server's shared_buffers in MB, as sharedBuffersFor writes it (pg_settings counts 8 kB pages). */
const sharedBuffers = () =>
  withDb(
    async (db) =>
      `${((await sql<{ pages: number }>`SELECT setting::int AS pages FROM pg_settings WHERE name = 'shared_buffers'`.execute(db)).rows[0]!.pages * 8) / 1024}MB`,
  );
const countMessages = () =>
  withDb(async (db) =>
    Number(
      (
        await db
          .selectFrom('messages')
          .select((eb) => eb.fn.countAll().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    ),
  );

async function waitUntil(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (check()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.fail(`timed out waiting for ${what}`);
}

test('first start initialises the data directory with a 0600 generated password, migrates, and stops on SIGINT', async () => {
  const service = await startService(env);
  assert.match(service.output(), new RegExp(`PostgreSQL:\\s+postgresql://mordomo:\\*\\*\\*@127\\.0\\.0\\.1:${port}/mordomo`));
  assert.equal(readFileSync(path.join(pgData, 'PG_VERSION'), 'utf8').trim(), '16');
  const mode = (await import('node:fs')).statSync(path.join(dataDir, 'postgres-password')).mode & 0o777;
  assert.equal(mode, 0o600);
  const tables = await withDb(async (db) => (await db.introspection.getTables()).map((t) => t.name).sort());
  for (const table of ['actions', 'config', 'conversations', 'messages', 'reminders', 'system_logs', 'users']) assert.ok(tables.includes(table));
  assert.equal(await sharedBuffers(), sharedBuffersFor(os.totalmem()), "a quarter of the machine's memory");
  service.child.kill('SIGINT');
  assert.equal(await exited(service.child), 0);
  assert.equal(findRunningServer(pgData), undefined, 'PostgreSQL must be stopped after a normal exit');
  assert.ok(!existsSync(path.join(pgData, 'postmaster.pid')));
});

test('a command run while the service is up joins its server and leaves it running', async () => {
  const service = await startService({ ...env, MORDOMO_PG_SHARED_BUFFERS: '144MB' });
  assert.equal(await sharedBuffers(), '144MB', 'as MORDOMO_PG_SHARED_BUFFERS says');
  const status = await runCli(['migrate', 'status'], env);
  assert.equal(status.code, 0, status.stderr);
  assert.match(status.stdout, /core\s+008\s+config\s+applied/);
  assert.ok(findRunningServer(pgData), 'the service’s server must survive the command');
  service.child.kill('SIGTERM');
  assert.equal(await exited(service.child), 0);
  assert.equal(findRunningServer(pgData), undefined);
});

test('a command run while nothing is up starts the server for itself and stops it after', async () => {
  const status = await runCli(['migrate'], env);
  assert.equal(status.code, 0, status.stderr);
  assert.equal(findRunningServer(pgData), undefined);
});

test('after SIGKILL of Node the orphaned server is adopted, and after SIGKILL of PostgreSQL it is restarted; no committed turn is lost', async () => {
  let service = await startService(env);
  const written = await withDb(async (db) => {
    const conversation = await startConversation(db);
    for (let i = 0; i < 20; i++) await appendTurn(db, conversation.id, { content: `pergunta ${i}` }, { content: `resposta ${i}` });
    return 40;
  });
  const before = await countMessages();
  service.child.kill('SIGKILL');
  await exited(service.child);
  const orphan = findRunningServer(pgData);
  assert.ok(orphan, 'PostgreSQL survives its parent as an orphan');

  service = await startService(env);
  assert.equal(findRunningServer(pgData)?.pid, orphan.pid, 'the orphan is adopted, not replaced');
  assert.equal(await countMessages(), before);

  process.kill(orphan.pid, 'SIGKILL');
  await waitUntil(() => !isAlive(orphan.pid), 'the killed postmaster to exit');
  service.child.kill('SIGKILL');
  await exited(service.child);

  service = await startService(env);
  const restarted = findRunningServer(pgData);
  assert.ok(restarted && restarted.pid !== orphan.pid, 'a new server was started after the crash');
  assert.equal(await countMessages(), before);
  assert.ok(before >= written);
  service.child.kill('SIGINT');
  assert.equal(await exited(service.child), 0);
  assert.equal(findRunningServer(pgData), undefined);
});

test('a wrong POSTGRES_PASSWORD is refused with what to do, exit code 69', async () => {
  const result = await runCli(['migrate', 'status'], { ...env, POSTGRES_PASSWORD: 'not-the-password' });
  assert.equal(result.code, 69);
  assert.match(result.stderr, /refused the password.*POSTGRES_PASSWORD differs/);
  assert.doesNotMatch(result.stderr, /not-the-password/);
  assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
  assert.equal(findRunningServer(pgData), undefined);
});

test('a port taken by another program gives one clear message and exit code 78', async () => {
  const busy = net.createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => busy.once('listening', resolve));
  const busyPort = (busy.address() as net.AddressInfo).port;
  try {
    const result = await runCli(['migrate'], { ...env, MORDOMO_PG_PORT: String(busyPort) });
    assert.equal(result.code, 78);
    assert.match(result.stderr, new RegExp(`port ${busyPort} is already in use by another program: stop it, or set MORDOMO_PG_PORT`));
  } finally {
    busy.close();
  }
});

test('a data directory of another PostgreSQL major is refused with the way out', async () => {
  const other = path.join(tempDir('pg15'), 'data');
  mkdirSync(path.join(other, 'pg'), { recursive: true });
  writeFileSync(path.join(other, 'pg', 'PG_VERSION'), '15\n');
  const result = await runCli(['migrate'], { MORDOMO_DATA_DIR: other, MORDOMO_PG_PORT: String(port), POSTGRES_PASSWORD: 'x' });
  assert.equal(result.code, 78);
  assert.match(result.stderr, /was created by PostgreSQL 15, but mordomo-db runs PostgreSQL 16: upgrade it with pg_upgrade/);
});

test('an unreachable DATABASE_URL says so without printing its password', async () => {
  const closed = await freePort();
  const result = await runCli(['migrate'], { DATABASE_URL: `postgresql://mordomo:s3cret-pw@127.0.0.1:${closed}/mordomo` });
  assert.equal(result.code, 69);
  assert.match(
    result.stderr,
    new RegExp(`cannot reach PostgreSQL at postgresql://mordomo:\\*\\*\\*@127.0.0.1:${closed}/mordomo \\(DATABASE_URL\\) \\(ECONNREFUSED\\)`),
  );
  assert.doesNotMatch(result.stderr, /s3cret-pw/);
});

test('invalid settings are named before anything starts', async () => {
  const result = await runCli(['migrate'], { MORDOMO_PG_PORT: '70000', MORDOMO_MODULES: 'core,billing' });
  assert.equal(result.code, 78);
  assert.match(result.stderr, /MORDOMO_PG_PORT: .*65535/);
  assert.match(result.stderr, /MORDOMO_MODULES/);
});

test('a data directory under a folder closed to others is refused as root (the server runs as another user), used otherwise', async () => {
  const locked = tempDir('locked');
  (await import('node:fs')).chmodSync(locked, 0o700);
  const result = await runCli(['migrate'], { MORDOMO_DATA_DIR: path.join(locked, 'data'), MORDOMO_PG_PORT: String(port) });
  if (process.getuid?.() === 0) {
    assert.equal(result.code, 78);
    assert.match(result.stderr, /cannot reach the data directory .*is not searchable by that user. Run "chmod o\+x/);
  } else {
    assert.equal(result.code, 0, result.stderr);
  }
});
