// /readyz over an external DATABASE_URL, whose disk statfs cannot see: a write the server refuses for lack of space
// (a real 53100, from a table on a small full tmpfs tablespace; root and a local test server only, skipped with the
// reason elsewhere) makes it not ready with the reason, until a write commits again.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { adminQuery } from '../harness/database.ts';
import { testService } from '../harness/service.ts';
import { fillUp, mountSmallDisk, removeFiller } from '../harness/tmpfs.ts';

const { rows } = await adminQuery<{ dir: string }>(`SELECT current_setting('data_directory') AS dir`);
const serverDir = rows[0]!.dir;
const disk = existsSync(serverDir)
  ? mountSmallDisk('refused-writes', 16)
  : {
      mountPoint: undefined,
      skip: 'the test server is not on this machine (TEST_DATABASE_URL): a tablespace on a small disk needs it',
      unmount: () => undefined,
    };
after(() => disk.unmount());

const service = await testService('refused-writes');
const tablespace = `small_${randomBytes(3).toString('hex')}`;
const onDatabase = (text: string) => service.database.pool.query(text);

test('a write refused with 53100 makes /readyz not ready with the reason until a write commits', { skip: disk.skip }, async () => {
  // The tablespace's folder belongs to the server's OS user, as PostgreSQL requires.
  const location = path.join(disk.mountPoint as string, 'tablespace');
  mkdirSync(location);
  const owner = statSync(serverDir);
  chownSync(location, owner.uid, owner.gid);
  await adminQuery(`CREATE TABLESPACE ${tablespace} LOCATION '${location}'`);
  after(async () => {
    removeFiller(filler);
    await onDatabase('ALTER TABLE messages SET TABLESPACE pg_default');
    await adminQuery(`DROP TABLESPACE IF EXISTS ${tablespace}`);
  });
  await onDatabase(`ALTER TABLE messages SET TABLESPACE ${tablespace}`);
  const conversation = (await service.call<{ id: string }>('POST', '/v1/conversations', { body: {} })).body.id;
  const turn = () => ({ user: { content: randomBytes(15_000).toString('base64') }, assistant: { content: 'ok' } });
  assert.equal((await service.call('POST', `/v1/conversations/${conversation}/turns`, { body: turn() })).status, 201);
  assert.equal((await service.call('GET', '/readyz', { token: null })).status, 200);

  const filler = path.join(disk.mountPoint as string, 'filler');
  fillUp(filler);
  const refused = await service.call('POST', `/v1/conversations/${conversation}/turns`, { body: turn() });
  assert.equal(refused.status, 507, refused.text);
  assert.equal(refused.body.error.code, 'insufficient_storage');
  const full = await service.call('GET', '/readyz', { token: null });
  assert.equal(full.status, 503);
  assert.match(
    full.body.reason,
    /^disk full: the database refused the last write with SQLSTATE 53100 \(could not extend file .*No space left on device\); free space on the database server/,
  );
  // Reads go on meanwhile.
  assert.equal((await service.call('GET', `/v1/conversations/${conversation}/messages`)).status, 200);

  // Space freed: the next write commits, and readiness follows it.
  removeFiller(filler);
  assert.equal((await service.call('POST', `/v1/conversations/${conversation}/turns`, { body: turn() })).status, 201);
  assert.equal((await service.call('GET', '/readyz', { token: null })).status, 200);
});
