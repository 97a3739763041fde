// A full file system under the data folder, made for real on a small tmpfs (root only; skipped with the reason
// elsewhere): the service's readiness names the folder and the free bytes, and clears once space is freed.
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { diskFullReason, folderSpaces, REFUSED_WRITE_HOLDS_MS, RefusedWrites } from '../../src/ops/disk-space.ts';
import { mountSmallDisk } from '../harness/tmpfs.ts';

const disk = mountSmallDisk('disk-space', 24);
after(() => disk.unmount());
const mountPoint = disk.mountPoint as string;

test('a full data or WAL file system is named with its free bytes, and clears once space is freed', { skip: disk.skip }, () => {
  const pgData = path.join(mountPoint, 'pg');
  mkdirSync(path.join(pgData, 'pg_wal'), { recursive: true });
  assert.equal(diskFullReason(folderSpaces(pgData, undefined)), undefined, 'room to write: ready');
  const filler = path.join(mountPoint, 'filler');
  writeFileSync(filler, Buffer.alloc(20 * 1024 * 1024));
  const reason = diskFullReason(folderSpaces(pgData, undefined));
  assert.match(reason ?? '', new RegExp(`disk full: the data folder ${pgData} has \\d+ bytes free; free space`));
  rmSync(filler);
  assert.equal(diskFullReason(folderSpaces(pgData, undefined)), undefined, 'space freed: ready again');
});

test('a full WAL archive alone does not stop writes: it is reported, not a reason to be unready', { skip: disk.skip }, () => {
  const filler = path.join(mountPoint, 'filler');
  writeFileSync(filler, Buffer.alloc(20 * 1024 * 1024));
  try {
    const spaces = folderSpaces(undefined, mountPoint);
    assert.equal(spaces[0]?.full, true);
    assert.equal(diskFullReason(spaces), undefined);
  } finally {
    rmSync(filler);
  }
});

test('a refused write (class 53) holds readiness until a write commits or the hold lapses, when the next write may try', () => {
  const writes = new RefusedWrites();
  writes.failed('23505', 'duplicate key', 0);
  assert.equal(writes.reason(0), undefined, 'other classes say nothing of space');
  writes.failed('53100', 'could not extend file "base/1/2": No space left on device', 1000);
  assert.match(
    writes.reason(2000) ?? '',
    /^disk full: the database refused the last write with SQLSTATE 53100 \(could not extend file .*\); free space on the database server \(ready again when a write commits, or in 29 s/,
  );
  writes.failed('53300', 'sorry, too many clients already', 3000);
  assert.match(writes.reason(3000) ?? '', /^out of a resource: .*53300/);
  assert.equal(writes.reason(3000 + REFUSED_WRITE_HOLDS_MS + 1), undefined, 'lapsed: the next write tries again');
  writes.failed('53100', 'could not extend file', 10_000);
  writes.succeeded();
  assert.equal(writes.reason(10_001), undefined, 'a committed write clears it');
});
