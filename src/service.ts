import type { Server as TlsServer } from 'node:tls';
import type { FastifyInstance } from 'fastify';
import type { Config } from './config.ts';
import { type Database, openDatabase } from './db/connect.ts';
import { ConfigError, mapDatabaseError } from './errors.ts';
import type { ServiceContext } from './http/context.ts';
import { checkTransport, reloadCertificateOnChange } from './http/tls.ts';
import type { Logger } from './logger.ts';
import { migrate, migrationStatus } from './migrate/runner.ts';
import type { Scheduler } from './ops/scheduler.ts';
import { diskFullReason, folderSpaces, RefusedWrites } from './ops/disk-space.ts';

export interface RunningService {
  database: Database;
  scheduler: Scheduler;
  app: FastifyInstance;
  /** Where the API listens, e.g. http://127.0.0.1:8080 (https:// with a certificate) */
  url: string;
  adminTokenLocation: string;
  /** Stops accepting, finishes requests in flight, stops the scheduler, closes the pool, stops the embedded server. */
  stop(): Promise<void>;
}

const WATCH_INTERVAL_MS = 2_000;

/**
 * The whole product: PostgreSQL (embedded or DATABASE_URL), migrations, the scheduler, reminder delivery and the
 * HTTP API. When the database goes away the service stays up with /readyz false, and a watchdog brings an
 * embedded server this service runs back; the pool reconnects on its own once the database answers again.
 */
export async function startService(config: Config, logger: Logger): Promise<RunningService> {
  checkTransport(config.http);
  // The HTTP API's modules (fastify, swagger, zod schemas, the routes: the larger part of start-up's JavaScript)
  // and the scheduler's jobs load while initdb and the server's start run in their own processes, not before them.
  const jobs = import('./ops/scheduler.ts');
  const http = loadHttpModules();
  // A failed start below reports its own error; these are awaited there too.
  jobs.catch(() => undefined);
  http.catch(() => undefined);
  const database = await openDatabase(config, logger);
  const cleanups: (() => Promise<void>)[] = [() => database.close()];
  const unwind = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  };
  try {
    // Schema and operations as the owner; everything a request does, as the runtime role (db/connect.ts).
    const { owner } = database;
    const { defaultJobs, Scheduler } = await jobs;
    await migrate(owner.pool, config.modules, logger);
    const scheduler = new Scheduler(owner.pool, defaultJobs(owner, config, logger, database.server?.pgData), logger);
    await scheduler.start();
    cleanups.push(() => scheduler.stop());
    if (config.modules.includes('core')) {
      // Partitions may have run out while the service was down: top them up before anything logs.
      await scheduler.runJob('partitions');
      await scheduler.runJob('size');
    }
    const { AdminToken, ApiKeyCache, AuthFailureLimiter, buildApp, createMetrics, ReminderStream } = await http;
    const reminders = new ReminderStream(database.db, database.url, logger, config.pool.connectionTimeoutMs);
    if (config.modules.includes('core')) await reminders.start();
    cleanups.push(() => reminders.stop());

    const { reads } = database;
    const refusedWrites = new RefusedWrites();
    const readiness = readinessCheck(database, config, logger, refusedWrites);
    const adminToken = new AdminToken(config.http);
    const context: ServiceContext = {
      db: database.db,
      pool: database.pool,
      config,
      logger,
      metrics: createMetrics(database.pool, {
        backupDir: config.backupDir,
        modules: config.modules,
        reads,
        pgData: database.server?.pgData,
        walArchiveDir: config.walArchiveDir,
        patroniUrls: config.patroniUrls,
        appends: database.db,
      }),
      adminToken,
      apiKeys: new ApiKeyCache(database.db),
      authFailures: new AuthFailureLimiter(),
      refusedWrites,
      reminders,
      reads,
      readiness: readiness.check,
    };
    const app = await buildApp(context);
    const address = await app.listen({ host: config.http.host, port: config.http.port }).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'EADDRINUSE') {
        throw new ConfigError(`port ${config.http.port} on ${config.http.host} is already in use: stop that program or set MORDOMO_HTTP_PORT`);
      }
      throw error;
    });
    if (config.http.tls) {
      const stopReloading = reloadCertificateOnChange(app.server as unknown as TlsServer, config.http.tls, logger);
      cleanups.push(async () => stopReloading());
    }
    // Fastify ends the streams' connections last; the SSE streams end first so closing does not wait on them.
    cleanups.push(async () => {
      await reminders.stop();
      await app.close();
    });
    const watchdog = setInterval(() => void readiness.check(), WATCH_INTERVAL_MS);
    cleanups.push(async () => clearInterval(watchdog));

    let stopping: Promise<void> | undefined;
    return {
      database,
      scheduler,
      app,
      url: address,
      adminTokenLocation: adminToken.describe(),
      stop: () => (stopping ??= unwind()),
    };
  } catch (error) {
    await unwind();
    throw error;
  }
}

async function loadHttpModules() {
  const [auth, app, metrics, reminderStream] = await Promise.all([
    import('./http/auth.ts'),
    import('./http/app.ts'),
    import('./http/metrics.ts'),
    import('./http/reminder-stream.ts'),
  ]);
  return { ...auth, buildApp: app.buildApp, createMetrics: metrics.createMetrics, ReminderStream: reminderStream.ReminderStream };
}

/** A start failure without what changes between attempts (pids, xlogtemp.<pid>). */
function gistOf(reason: string): string {
  return reason.replace(/\d+/g, 'N');
}

/**
 * Readiness: the database answers, every migration file is applied unchanged, and writes can succeed. Space is known
 * from the data and WAL file systems (statfs, even with PostgreSQL down) and, where statfs cannot see (an external
 * server), from the last write refused with class 53. A failed probe of an embedded server
 * that is no longer running starts it again (one attempt at a time), full disk or not: its failure is logged with
 * PostgreSQL's own reason, and it may start with the little room left, so that reads are served.
 */
function readinessCheck(database: Database, config: Config, logger: Logger, refusedWrites: RefusedWrites) {
  let recovering: Promise<unknown> | undefined;
  let lastFailure: string | undefined;
  let wasReady = true;
  const notReady = (reason: string, what: string) => {
    if (wasReady) logger.warn({ reason }, what);
    wasReady = false;
    return { ready: false, reason };
  };
  const check = async (): Promise<{ ready: boolean; reason?: string }> => {
    // Reads may still work on a full disk; writes cannot, so the service is not ready (and says which folder). The
    // embedded server's file systems say it exactly, and clear the moment space is freed; an external server's
    // cannot be seen from here, so its last refused write says it instead.
    const full = database.server ? diskFullReason(folderSpaces(database.server.pgData, undefined)) : refusedWrites.reason();
    try {
      const statuses = await migrationStatus(database.owner.pool, config.modules);
      if (full) return notReady(full, 'not ready');
      const behind = statuses.filter((s) => s.state !== 'applied');
      if (behind.length) return { ready: false, reason: `${behind.length} migrations are not applied as shipped; run mordomo-db migrate` };
      if (!wasReady) logger.info('database reachable again; ready');
      wasReady = true;
      return { ready: true };
    } catch (error) {
      if (database.server && !recovering) {
        recovering = database.server
          .ensureRunning()
          .then(() => (lastFailure = undefined))
          .catch((failure: Error) => {
            // Tried every 2 s for as long as the disk stays full: said at warn once per reason, not 1,800 times an hour.
            const gist = gistOf(failure.message);
            logger[gist === lastFailure ? 'debug' : 'warn']({ reason: failure.message }, 'could not restart the embedded PostgreSQL yet');
            lastFailure = gist;
          })
          .finally(() => (recovering = undefined));
      }
      return full ? notReady(full, 'not ready') : notReady(mapDatabaseError(error).message, 'database unreachable; not ready');
    }
  };
  return { check };
}
