import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { frame, type Frame, MAGIC, readFrames } from '../../src/ops/backup-format.ts';

async function collect(chunks: Buffer[]): Promise<Array<Pick<Frame, 'type' | 'payload'>>> {
  const frames: Array<Pick<Frame, 'type' | 'payload'>> = [];
  for await (const f of readFrames(
    (async function* () {
      yield* chunks;
    })(),
  ))
    frames.push({ type: f.type, payload: Buffer.from(f.payload) });
  return frames;
}

/** Cuts a byte stream into chunks of the given sizes, cycling through them, as gunzip hands them over. */
function cut(bytes: Buffer, sizes: number[]): Buffer[] {
  const chunks: Buffer[] = [];
  for (let at = 0, i = 0; at < bytes.length; i++) {
    const size = sizes[i % sizes.length]!;
    chunks.push(bytes.subarray(at, at + size));
    at += size;
  }
  return chunks;
}

const big = randomBytes(3 * 1024 * 1024 + 17);
const frames: Array<Pick<Frame, 'type' | 'payload'>> = [
  { type: 'H', payload: Buffer.from('{"format":1}') },
  { type: 'D', payload: big },
  { type: 'D', payload: Buffer.alloc(0) },
  { type: 'E', payload: Buffer.from('{}') },
  { type: 'M', payload: Buffer.from('{"tables":[]}') },
];
const stream = Buffer.concat([MAGIC, ...frames.map((f) => frame(f.type, f.payload))]);

test('frames come out whole and in order however the stream is cut', async () => {
  for (const sizes of [[stream.length], [1, 2, 3, 5], [16 * 1024], [65_537, 7, 1_000_003]]) {
    assert.deepEqual(await collect(cut(stream, sizes)), frames, `chunks of ${sizes.join(', ')} bytes`);
  }
});

test('a payload given in parts is framed as one', () => {
  assert.deepEqual(frame('D', [Buffer.from('ab'), Buffer.from('cd')]), frame('D', Buffer.from('abcd')));
});

test('a stream cut short, or not a backup, is refused', async () => {
  for (const end of [3, MAGIC.length + 2, MAGIC.length + 1000, stream.length - 1]) {
    await assert.rejects(collect(cut(stream.subarray(0, end), [4096])), /truncated backup/, `cut at ${end}`);
  }
  await assert.rejects(collect([Buffer.from('PK\u0003\u0004 not a backup')]), /bad signature/);
  await assert.rejects(collect([MAGIC, Buffer.from('X\0\0\0\0')]), /frame 1 \(byte 6 of the uncompressed data\) has an unknown type "X"/);
});

test('each frame comes with its number and the byte it starts at; a cut names the frame it falls in', async () => {
  const numbered: Array<[string, number, number]> = [];
  for await (const f of readFrames(
    (async function* () {
      yield stream;
    })(),
  ))
    numbered.push([f.type, f.number, f.offset]);
  const second = MAGIC.length + 5 + frames[0]!.payload.length;
  assert.deepEqual(numbered.slice(0, 3), [
    ['H', 1, MAGIC.length],
    ['D', 2, second],
    ['D', 3, second + 5 + big.length],
  ]);
  await assert.rejects(collect([stream.subarray(0, second + 1000)]), new RegExp(`the file ends inside frame 2 \\(byte ${second} `));
});
