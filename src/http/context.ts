import type { Kysely } from 'kysely';
import type pg from 'pg';
import type { Config } from '../config.ts';
import type { ReadRouter } from '../db/read-routing.ts';
import type { DB } from '../db/schema.ts';
import type { Logger } from '../logger.ts';
import type { RefusedWrites } from '../ops/disk-space.ts';
import type { AdminToken, ApiKeyCache, AuthFailureLimiter } from './auth.ts';
import type { AppMetrics } from './metrics.ts';
import type { ReminderStream } from './reminder-stream.ts';

/** What the routes share: the database, settings and the service's long-lived parts. */
export interface ServiceContext {
  db: Kysely<DB>;
  pool: pg.Pool;
  config: Config;
  logger: Logger;
  metrics: AppMetrics;
  adminToken: AdminToken;
  apiKeys: ApiKeyCache;
  authFailures: AuthFailureLimiter;
  reminders: ReminderStream;
  reads: ReadRouter;
  /** The last write refused for lack of space (class 53), which keeps readiness false until a write commits. */
  refusedWrites: RefusedWrites;
  /** Database reachable and migrations current; the reason when not. */
  readiness(): Promise<{ ready: boolean; reason?: string }>;
}
