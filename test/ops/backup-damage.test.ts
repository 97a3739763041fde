import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import { sql } from 'kysely';
import pg from 'pg';
import { runCli } from '../harness/cli.ts';
import { adminQuery, TEMPLATE_DATABASE, testDatabase, urlFor } from '../harness/database.ts';
import { tempDir } from '../harness/temp-dir.ts';

// Damaged copies of a real backup, made by the real command, restored and verified by the real command: each must
// be refused with the frame that is wrong (its table and number) and why, never "internal database error" or a stack.

const { db, url } = await testDatabase('backup_damage');
// Messages of about 4 MB: the backup writes them as several data frames (a frame holds about 1 MB).
await sql`WITH u AS (INSERT INTO users (name) VALUES ('Ana') RETURNING id),
               c AS (INSERT INTO conversations (user_id) SELECT id FROM u RETURNING id)
          INSERT INTO messages (conversation_id, role, content)
          SELECT c.id, 'user', 'mensagem ' || n || ' ' || repeat('a', 1000) FROM c, generate_series(1, 4000) AS n`.execute(db);
const dir = tempDir('backup-damage');
const env = { DATABASE_URL: url, MORDOMO_BACKUP_DIR: dir };
const taken = await runCli(['backup', '--json'], env);
assert.equal(taken.code, 0, taken.stderr);
const original = (JSON.parse(taken.stdout) as { file: string }).file;

interface RawFrame {
  type: string;
  payload: Buffer;
  table: string | undefined;
}

/** The frames of the backup, each with the table it belongs to. */
function framesOf(file: string): { magic: Buffer; frames: RawFrame[] } {
  const bytes = gunzipSync(readFileSync(file));
  const magic = bytes.subarray(0, 6);
  const frames: RawFrame[] = [];
  let table: string | undefined;
  for (let at = 6; at < bytes.length; ) {
    const type = bytes.toString('ascii', at, at + 1);
    const payload = bytes.subarray(at + 5, at + 5 + bytes.readUInt32BE(at + 1));
    if (type === 'T') table = (JSON.parse(payload.toString()) as { name: string }).name;
    frames.push({ type, payload, table: type === 'H' || type === 'M' ? undefined : table });
    at += 5 + payload.length;
  }
  return { magic, frames };
}

function writeFrames(name: string, magic: Buffer, frames: RawFrame[]): string {
  const parts = frames.map(({ type, payload }) => {
    const head = Buffer.alloc(5);
    head.write(type, 0, 'ascii');
    head.writeUInt32BE(payload.length, 1);
    return Buffer.concat([head, payload]);
  });
  const file = path.join(dir, name);
  writeFileSync(file, gzipSync(Buffer.concat([magic, ...parts])));
  return file;
}

const { magic, frames } = framesOf(original);
const messageData = frames.map((f, i) => [f, i] as const).filter(([f]) => f.type === 'D' && f.table === 'messages');
assert.ok(messageData.length >= 3, `messages span ${messageData.length} data frames`);
const secondData = messageData[1]![1];

let targets = 0;
const FRAME = String.raw`frame \d+ \(byte \d+ of the uncompressed data\)`;

/** Restore (into an empty database) and verify both refuse `file`, saying `expected`; nothing restored, no stack. */
async function refusedByBoth(file: string, expected: RegExp): Promise<void> {
  const target = `t_backup_damage_target_${++targets}`;
  await adminQuery(`CREATE DATABASE ${target} TEMPLATE ${TEMPLATE_DATABASE}`);
  const restored = await runCli(['restore', file, '--target', urlFor(target)], env);
  assert.equal(restored.code, 64, restored.stderr); // a damaged backup is invalid input (docs/cli.md, exit codes)
  assert.match(restored.stderr, expected);
  assert.doesNotMatch(restored.stderr, /internal database error|unexpected error|\n\s+at /);
  const check = new pg.Client({ connectionString: urlFor(target) });
  await check.connect();
  assert.equal((await check.query('SELECT count(*)::int AS n FROM users')).rows[0].n, 0, 'nothing of the backup was kept');
  await check.end();
  const verified = await runCli(['backup', 'verify', file], env);
  assert.equal(verified.code, 1, verified.stderr);
  assert.match(verified.stdout, /^backup FAILED verification: /);
  assert.match(verified.stdout, expected);
  assert.doesNotMatch(verified.stdout + verified.stderr, /internal database error|unexpected error|\n\s+at /);
}

const without = (drop: (f: RawFrame, i: number) => boolean) => frames.filter((f, i) => !drop(f, i));

test('a backup missing one data frame names the table and the frame where it shows, and why', async () => {
  const file = writeFrames(
    'dropped.mdb.gz',
    magic,
    without((_, i) => i === secondData),
  );
  await refusedByBoth(
    file,
    new RegExp(
      `${FRAME}, (the end of|data frame \\d+ of) table messages.*(checksum mismatch|could not be loaded)|could not be loaded: line \\d+.*found at ${FRAME}, data frame \\d+ of table messages`,
    ),
  );
});

test("a data frame damaged inside (bytes changed, gzip rewritten around them) is a checksum mismatch at its table's end", async () => {
  const changed = frames.map((f, i) => (i === secondData ? { ...f, payload: Buffer.from(f.payload.toString().replace('aaaa', 'aaab')) } : f));
  await refusedByBoth(
    writeFrames('changed.mdb.gz', magic, changed),
    new RegExp(`${FRAME}, the end of table messages: checksum mismatch: its ${messageData.length} data frames hold 4000 rows`),
  );
});

test('data frames out of order, and a table whose start or end frame is missing, are named by frame', async () => {
  const [first, second] = [messageData[0]![1], messageData[1]![1]];
  const swapped = frames.map((f, i) => (i === first ? frames[second]! : i === second ? frames[first]! : f));
  await refusedByBoth(writeFrames('swapped.mdb.gz', magic, swapped), /table messages/);
  await refusedByBoth(
    writeFrames(
      'no-end.mdb.gz',
      magic,
      without((f) => f.type === 'E' && f.table === 'users'),
    ),
    new RegExp(`${FRAME}, the start of table conversations: missing: table users has no end frame`),
  );
  await refusedByBoth(
    writeFrames(
      'no-start.mdb.gz',
      magic,
      without((f) => f.type === 'T' && f.table === 'conversations'),
    ),
    new RegExp(`${FRAME}, a data frame: out of order: a data frame outside any table`),
  );
  await refusedByBoth(
    writeFrames(
      'no-manifest.mdb.gz',
      magic,
      without((f) => f.type === 'M'),
    ),
    new RegExp(`truncated backup: the file ends at ${FRAME}, before the manifest`),
  );
});

test('a cut or a flipped byte in the compressed file is refused with the frame it was found in', async () => {
  const bytes = readFileSync(original);
  const cut = path.join(dir, 'cut.mdb.gz');
  writeFileSync(cut, bytes.subarray(0, Math.floor(bytes.length / 2)));
  await refusedByBoth(cut, new RegExp(`at ${FRAME}: the compressed file is cut short|the file ends inside ${FRAME}`));
  const flipped = Buffer.from(bytes);
  flipped[Math.floor(bytes.length / 2)]! ^= 0xff;
  const damaged = path.join(dir, 'flipped.mdb.gz');
  writeFileSync(damaged, flipped);
  await refusedByBoth(damaged, new RegExp(`(corrupt|damaged|truncated) backup.*${FRAME}`));
});
