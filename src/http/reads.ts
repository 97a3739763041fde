import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Reader } from '../db/read-routing.ts';
import { InvalidInputError } from '../errors.ts';
import type { ServiceContext } from './context.ts';

const LSN = /^[0-9A-F]{1,8}\/[0-9A-F]{1,8}$/i;

/** The reader for a read-only request; `x-mordomo-after-lsn` (from a write's `x-mordomo-lsn`) asks to see that write. */
export function readerFor(context: ServiceContext, request: FastifyRequest): Promise<Reader> {
  const after = request.headers['x-mordomo-after-lsn'];
  if (after !== undefined && (typeof after !== 'string' || !LSN.test(after))) {
    throw new InvalidInputError('x-mordomo-after-lsn: must be a WAL position as given in x-mordomo-lsn, like 0/16B3748');
  }
  return context.reads.reader({ afterLsn: after });
}

/** With replicas, a write tells the caller its WAL position, to pass back as x-mordomo-after-lsn. */
export async function stampLsn(context: ServiceContext, reply: FastifyReply): Promise<void> {
  if (context.reads.hasReplicas) void reply.header('x-mordomo-lsn', await context.reads.writeLsn());
}
