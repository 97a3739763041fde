import type { FastifyBaseLogger } from 'fastify';
import { databaseMessage, sqlstateOf } from '../errors.ts';

/** An outage is over once no request has met it for this long; the next failure then is logged as a new one. */
const QUIET_MS = 30_000;

interface Outage {
  cause: string;
  lastAt: number;
  requests: number;
}

let current: Outage | undefined;

/**
 * Logs a request that failed because the database is down or full once per outage, at warn, with PostgreSQL's or
 * the driver's reason and no stack: while it is down every request fails the same way, and a stack per request made
 * a 40 MB log in minutes. The requests an outage answered 503/507 are counted into the next outage's line.
 */
export function noteOutage(log: FastifyBaseLogger, error: unknown, now = Date.now()): void {
  const cause = databaseMessage(error);
  if (current && current.cause === cause && now - current.lastAt < QUIET_MS) {
    current.lastAt = now;
    current.requests++;
    return;
  }
  const previous = current;
  current = { cause, lastAt: now, requests: 1 };
  const code = (error as { cause?: { code?: unknown } }).cause?.code;
  log.warn(
    {
      cause,
      sqlstate: sqlstateOf(error),
      ...(typeof code === 'string' && !sqlstateOf(error) && { errno: code }),
      ...(previous && { previous_outage_requests: previous.requests }),
    },
    'database unavailable: requests are answered 503 (507 when its disk is full) until it is back; logged once per outage',
  );
}
