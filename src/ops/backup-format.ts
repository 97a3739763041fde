import { MordomoError } from '../errors.ts';

/**
 * The backup file: gzip around a sequence of frames, each `type (1 byte) | length (uint32 BE) | payload`.
 * H header (JSON), then per table T start (JSON), D data chunks (COPY text), E end (JSON with rows and sha-256),
 * and last M manifest (JSON). A file without its M frame was cut short and is refused.
 */
export const MAGIC = Buffer.from('MDBK1\n');
export type FrameType = 'H' | 'T' | 'D' | 'E' | 'M';

/** One frame; a payload given in parts (the chunks of a COPY stream) is joined in the same single copy. */
export function frame(type: FrameType, payload: Buffer | string | Buffer[]): Buffer {
  const parts = typeof payload === 'string' ? [Buffer.from(payload)] : Array.isArray(payload) ? payload : [payload];
  const length = parts.reduce((sum, part) => sum + part.length, 0);
  const head = Buffer.alloc(5);
  head.write(type, 0, 'ascii');
  head.writeUInt32BE(length, 1);
  return Buffer.concat([head, ...parts], 5 + length);
}

export class BackupFormatError extends MordomoError {
  constructor(message: string) {
    super('invalid_input', message);
  }
}

export interface Frame {
  type: FrameType;
  payload: Buffer;
  /** Its number in the file (the header is 1) and the byte of the uncompressed stream it starts at. */
  number: number;
  offset: number;
}

/**
 * How far a reading has come: the frame being assembled (its number, and the byte it starts at), so that a failure
 * of the stream under it (gzip's) can say where it stopped.
 */
export interface ReadPosition {
  number: number;
  offset: number;
}

/** Where frame `number` at `offset` is, in words. */
export const frameAt = (number: number, offset: number) => `frame ${number} (byte ${offset} of the uncompressed data)`;

/** Parses frames out of a decompressed byte stream, refusing anything that is not a complete backup. */
export async function* readFrames(source: AsyncIterable<Buffer>, position: ReadPosition = { number: 1, offset: 0 }): AsyncGenerator<Frame> {
  // The chunks of a frame not yet whole are kept apart and joined once it is: joining at each chunk would copy a
  // large frame over and over.
  let waiting: Buffer[] = [];
  let waitingBytes = 0;
  let needed = MAGIC.length;
  let sawMagic = false;
  position.number = 1;
  position.offset = MAGIC.length;
  for await (const chunk of source) {
    waiting.push(chunk);
    waitingBytes += chunk.length;
    if (waitingBytes < needed) continue;
    let buffer = waiting.length === 1 ? waiting[0]! : Buffer.concat(waiting, waitingBytes);
    if (!sawMagic) {
      if (!buffer.subarray(0, MAGIC.length).equals(MAGIC)) throw new BackupFormatError('not a mordomo-db backup (bad signature)');
      buffer = buffer.subarray(MAGIC.length);
      sawMagic = true;
    }
    while (buffer.length >= 5) {
      const length = buffer.readUInt32BE(1);
      if (buffer.length < 5 + length) break;
      const type = buffer.toString('ascii', 0, 1) as FrameType;
      const { number, offset } = position;
      if (!'HTDEM'.includes(type)) {
        throw new BackupFormatError(`damaged backup: ${frameAt(number, offset)} has an unknown type ${JSON.stringify(type)}`);
      }
      position.number += 1;
      position.offset += 5 + length;
      yield { type, payload: buffer.subarray(5, 5 + length), number, offset };
      buffer = buffer.subarray(5 + length);
    }
    waiting = buffer.length ? [buffer] : [];
    waitingBytes = buffer.length;
    needed = buffer.length >= 5 ? 5 + buffer.readUInt32BE(1) : 5;
  }
  if (!sawMagic) throw new BackupFormatError('truncated backup: the file ends before its signature');
  if (waitingBytes > 0) {
    throw new BackupFormatError(
      `truncated backup: the file ends inside ${frameAt(position.number, position.offset)}, ${waitingBytes} of its ${waitingBytes >= 5 ? needed : 'at least 5'} bytes there`,
    );
  }
}
