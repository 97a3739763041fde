import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import type { Config, ConfigOverrides } from './config.ts';
import type { Database } from './db/connect.ts';
import { ConfigError, MordomoError, type ErrorCode } from './errors.ts';
import type { Logger } from './logger.ts';
import type { MigrationStatus } from './migrate/runner.ts';
import { registerBackupCommands } from './cli/backup.ts';
import { registerPitrCommands } from './cli/pitr.ts';
import { registerDataCommands } from './cli/data.ts';
import { registerReplicaCommands } from './cli/replica.ts';
import { registerDoctorCommand, registerOperationsCommands } from './cli/operations.ts';

// Only the option parser and the command groups' definitions load up front: each action imports what it runs
// (`await import`), so `--help` or `search` does not pay for fastify, the migrations or the backup code
// (docs/cli.md, "Start-up").

/**
 * sysexits-style codes, so scripts can tell a bad setting from a server that is down (README, "Commands", lists
 * them all with 0, 1 and 130). Anything else unexpected is 1.
 */
const EXIT_CODES: Partial<Record<ErrorCode, number>> = {
  invalid_input: 64,
  conflict: 65,
  foreign_key: 65,
  not_found: 66,
  unavailable: 69,
  timeout: 69,
  migration: 70,
  config: 78,
};
/** A command line the option parser refused (unknown option, missing argument): EX_USAGE, like invalid input. */
const USAGE = 64;

interface GlobalOptions {
  dataDir?: string;
  pgPort?: string;
  modules?: string;
  logLevel?: string;
  /** restore's --target: a database other than the configured one, so no embedded server is started for it. */
  target?: string;
}

function overridesFrom(command: Command): ConfigOverrides {
  const o = command.optsWithGlobals<GlobalOptions>();
  return {
    DATABASE_URL: o.target,
    MORDOMO_DATA_DIR: o.dataDir,
    MORDOMO_PG_PORT: o.pgPort,
    MORDOMO_MODULES: o.modules,
    MORDOMO_LOG_LEVEL: o.logLevel,
  };
}

async function configFrom(command: Command): Promise<Config> {
  const { loadConfig } = await import('./config.ts');
  return loadConfig(overridesFrom(command));
}

async function loggerFor(config: Config, isStart: boolean): Promise<Logger> {
  const { commandLogger } = await import('./logger.ts');
  return commandLogger(config, isStart);
}

const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/**
 * Opens the database for one command and always closes it, also on Ctrl-C or SIGTERM, so an embedded server this
 * command started is stopped rather than left behind. A signal during the work aborts `signal` (a backup removes
 * its partial file, a restore rolls back, a verification drops its scratch database), waits for the work to give
 * up, and exits 130; one that comes once the work is done (its result written, the server being stopped), or once
 * the work has called `complete` (a restore committed), changes nothing: the command reports what it did.
 */
async function withDatabase(
  config: Config,
  logger: Logger,
  work: (database: Database, signal: AbortSignal, complete: () => void) => Promise<void>,
): Promise<void> {
  const { openDatabase } = await import('./db/connect.ts');
  const database = await openDatabase(config, logger);
  const interrupted = new AbortController();
  let done = false;
  let running: Promise<void> | undefined;
  let closing: Promise<void> | undefined;
  const close = () => (closing ??= database.close());
  const onSignal = (signal: NodeJS.Signals) => {
    if (done) {
      logger.info({ signal }, 'the work is done; finishing');
      return;
    }
    logger.info({ signal }, 'stopping');
    interrupted.abort(new MordomoError('internal', `interrupted by ${signal}`));
    // The work's own clean-up (a rollback, a scratch database dropped) finishes before the exit.
    Promise.allSettled([running, close()]).then(
      () => process.exit(130),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    running = work(database, interrupted.signal, () => {
      done = !interrupted.signal.aborted;
    });
    await running;
    // Set in the same microtask run as the work's last step: no signal can be handled in between.
    done = !interrupted.signal.aborted;
  } finally {
    await close();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

function printStatus(rows: MigrationStatus[]): void {
  const lines = rows.map((r) => {
    const when = r.appliedAt ? r.appliedAt.toISOString() : '';
    return `${r.module.padEnd(6)} ${String(r.version).padStart(3, '0')}  ${r.name.padEnd(32)} ${r.state.padEnd(8)} ${when}`;
  });
  process.stdout.write(`module version name                             state    applied at\n${lines.join('\n')}\n`);
}

function waitForSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGHUP', () => resolve('SIGHUP'));
  });
}

const program = new Command('mordomo-db')
  .description('PostgreSQL data layer for the Mordomo voice assistant and the Voice AI IVR')
  .version(VERSION, '-V, --version', 'print the version of mordomo-db')
  .addOption(new Option('--data-dir <dir>', 'where the embedded server keeps its data').env('MORDOMO_DATA_DIR'))
  .addOption(new Option('--pg-port <port>', 'port of the embedded PostgreSQL').env('MORDOMO_PG_PORT'))
  .addOption(new Option('--modules <list>', 'schema modules to migrate: core, ivr (comma-separated)').env('MORDOMO_MODULES'))
  // Not .env(): commander would refuse a bad MORDOMO_LOG_LEVEL as a usage error (64) with the help; the setting is
  // read by loadConfig, which names it and exits 78 like every other bad setting. A bad flag stays a usage error.
  .addOption(
    new Option('--log-level <level>', 'log verbosity (env: MORDOMO_LOG_LEVEL)').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
  )
  .showHelpAfterError()
  // The parser throws instead of exiting, so that its refusals leave with the documented code (below); inherited by
  // every command added after this.
  .exitOverride()
  .addHelpText(
    'after',
    '\nWithout DATABASE_URL the embedded PostgreSQL 16 under --data-dir is used: started for the command and\n' +
      'stopped after it, or shared when `mordomo-db start` is already running on it.',
  );

program
  .command('start')
  .description(
    'run everything: PostgreSQL (started or adopted), migrations, the scheduler, reminder delivery and the HTTP API with metrics and the dashboard, until Ctrl-C or SIGTERM',
  )
  .addOption(new Option('--http-port <port>', 'port of the HTTP API (0 picks a free one)').env('MORDOMO_HTTP_PORT'))
  .addOption(new Option('--http-host <host>', 'address the HTTP API listens on').env('MORDOMO_HTTP_HOST'))
  .action(async (options: { httpPort?: string; httpHost?: string }, command: Command) => {
    const { loadConfig } = await import('./config.ts');
    const config = loadConfig({ ...overridesFrom(command), MORDOMO_HTTP_PORT: options.httpPort, MORDOMO_HTTP_HOST: options.httpHost });
    const logger = await loggerFor(config, true);
    const [{ startService }, { describeTransport }] = await Promise.all([import('./service.ts'), import('./http/tls.ts')]);
    const service = await startService(config, logger);
    const password = config.databaseUrl
      ? 'as given in DATABASE_URL'
      : config.postgresPassword
        ? 'from POSTGRES_PASSWORD'
        : `in ${config.dataDir}/postgres-password`;
    process.stdout.write(
      `mordomo-db is ready.\n` +
        `  dashboard:   ${service.url}/\n` +
        `  API:         ${service.url}/v1  (OpenAPI: ${service.url}/openapi.json, docs: ${service.url}/docs)\n` +
        `  admin token: ${service.adminTokenLocation}\n` +
        `  transport:   ${describeTransport(config.http)}\n` +
        `  PostgreSQL:  ${service.database.displayUrl}  (password ${password})\n` +
        `  modules:     ${config.modules.join(', ')}\n` +
        `  backups:     ${config.backupDir} (next ${service.scheduler.nextRuns().backup?.toISOString() ?? 'never'})\n` +
        `Press Ctrl-C to stop.\n`,
    );
    const signal = await waitForSignal();
    logger.info({ signal }, 'shutting down');
    await service.stop();
    process.stdout.write('mordomo-db stopped.\n');
  });

program
  .command('token')
  .description('the admin token of the HTTP API')
  .command('rotate')
  .description('replace the admin token file with a new token; a running service accepts only the new one from its next request')
  .action(async (_options, command: Command) => {
    const config = await configFrom(command);
    const { rotateAdminToken } = await import('./ops/admin-token.ts');
    process.stdout.write(`new admin token written to ${rotateAdminToken(config.http)}\n`);
  });

program
  .command('scheduler')
  .description(
    'run only the scheduled jobs (the nightly verified backup, log partitions, size and disk samples, report rollups, the search vocabulary, expired idempotency keys, conversation retention when configured) until Ctrl-C or SIGTERM',
  )
  .action(async (_options, command: Command) => {
    const config = await configFrom(command);
    const logger = await loggerFor(config, false);
    const [{ openDatabase }, { migrate }, { defaultJobs, Scheduler }] = await Promise.all([
      import('./db/connect.ts'),
      import('./migrate/runner.ts'),
      import('./ops/scheduler.ts'),
    ]);
    // Long-running like `start`: the signal ends the wait, then the finally blocks stop jobs and the server in order.
    const database = await openDatabase(config, logger);
    try {
      // The jobs call functions the migrations create: a never-migrated database is migrated first, as by `start`.
      await migrate(database.owner.pool, config.modules, logger);
      const scheduler = new Scheduler(database.owner.pool, defaultJobs(database.owner, config, logger, database.server?.pgData), logger);
      await scheduler.start();
      process.stdout.write(`scheduler running; next: ${JSON.stringify(scheduler.nextRuns())}\n`);
      await waitForSignal();
      await scheduler.stop();
    } finally {
      await database.close();
    }
  })
  .command('run <job>')
  .description(
    'run one job now (backup, partitions, size, disk-usage, rollups, search-words, idempotency-keys, or retention when configured), recorded like a scheduled run',
  )
  .action(async (job: string, _options, command: Command) => {
    const config = await configFrom(command);
    const logger = await loggerFor(config, false);
    const [{ migrate }, { defaultJobs, Scheduler }] = await Promise.all([import('./migrate/runner.ts'), import('./ops/scheduler.ts')]);
    await withDatabase(config, logger, async (database) => {
      await migrate(database.owner.pool, config.modules, logger);
      const scheduler = new Scheduler(database.owner.pool, defaultJobs(database.owner, config, logger, database.server?.pgData), logger);
      await scheduler.start();
      let outcome: Awaited<ReturnType<typeof scheduler.runJob>>;
      try {
        outcome = await scheduler.runJob(job);
      } finally {
        await scheduler.stop(); // its timers would otherwise keep the process alive
      }
      process.stdout.write(`${job}: ${outcome}\n`);
      if (outcome === 'failed') process.exitCode = 1;
    });
  });

/**
 * A command action that runs `work` against the configured database, opened and closed around it. Commander
 * passes positional arguments first and the command last; `work` gets them merged with the flags by name, and a
 * signal aborted by Ctrl-C or SIGTERM.
 */
function databaseAction(
  work: (database: Database, config: Config, logger: Logger, options: Record<string, unknown>, signal: AbortSignal, complete: () => void) => Promise<void>,
) {
  return async (...args: unknown[]) => {
    const command = args[args.length - 1] as Command;
    const positional = Object.fromEntries(command.registeredArguments.map((argument, i) => [argument.name(), args[i]]));
    const options = { ...command.optsWithGlobals(), ...positional };
    const config = await configFrom(command);
    const logger = await loggerFor(config, false);
    await withDatabase(config, logger, (database, signal, complete) => work(database, config, logger, options, signal, complete));
  };
}

const migrateCommand = program
  .command('migrate')
  .description('apply pending migrations of the configured modules')
  .action(
    databaseAction(async (database, config, logger) => {
      const { migrate } = await import('./migrate/runner.ts');
      printStatus(await migrate(database.owner.pool, config.modules, logger));
    }),
  );

migrateCommand
  .command('status')
  .description('list applied, pending and edited migrations without changing anything')
  .action(
    databaseAction(async (database, config) => {
      const { migrationStatus } = await import('./migrate/runner.ts');
      printStatus(await migrationStatus(database.owner.pool, config.modules));
    }),
  );

const ivrCommand = program.command('ivr').description('Voice AI IVR module (migrate it with --modules core,ivr or MORDOMO_MODULES=core,ivr)');

ivrCommand
  .command('defaults')
  .description('give every domain that lacks them the disabled default providers (run after adding FusionPBX domains)')
  .action(
    databaseAction(async (database) => {
      const { insertDefaultProviders } = await import('./ivr/ivr.ts');
      process.stdout.write(`${await insertDefaultProviders(database.owner.db)} default providers added\n`);
    }),
  );

ivrCommand
  .command('rotate-key')
  .description(
    're-encrypt every provider config from MORDOMO_ENCRYPTION_KEY(_FILE) to MORDOMO_NEW_ENCRYPTION_KEY(_FILE), all or nothing; ' +
      'run it again to finish a rotation left half done, or with the two keys swapped to roll one back',
  )
  .action(
    databaseAction(async (database, config) => {
      if (!config.encryptionKey || !config.newEncryptionKey) {
        throw new ConfigError('rotate-key needs the current key (MORDOMO_ENCRYPTION_KEY or _FILE) and the new one (MORDOMO_NEW_ENCRYPTION_KEY or _FILE)');
      }
      const { rotateEncryptionKey } = await import('./ivr/ivr.ts');
      const rotated = await rotateEncryptionKey(database.owner.db, config.encryptionKey, config.newEncryptionKey);
      process.stdout.write(
        `${rotated} provider configs re-encrypted; the database now takes only the new key: make it MORDOMO_ENCRYPTION_KEY ` +
          '(a service started with both keys, MORDOMO_NEW_ENCRYPTION_KEY set too, keeps working meanwhile)\n',
      );
    }),
  );

ivrCommand
  .command('repair-key')
  .description(
    'record MORDOMO_ENCRYPTION_KEY(_FILE) as the current key after checking that every provider config opens with it ' +
      '(the way out when config writes answer "not the current one" although no rotation was run); changes nothing otherwise',
  )
  .action(
    databaseAction(async (database, config) => {
      if (!config.encryptionKey) throw new ConfigError('repair-key needs the key the configs are under (MORDOMO_ENCRYPTION_KEY or _FILE)');
      const { repairEncryptionKey } = await import('./ivr/ivr.ts');
      const checked = await repairEncryptionKey(database.owner.db, config.encryptionKey);
      process.stdout.write(`${checked} provider configs open with this key; it is now the recorded current key\n`);
    }),
  );

const keyCommand = ivrCommand.command('key').description("per-domain API keys of the HTTP API's /v1/ivr routes");

keyCommand
  .command('create <domain> <name>')
  .description('create a key for a FusionPBX domain (UUID); the key is printed once and only its hash is stored')
  .action(
    databaseAction(async (database, _config, _logger, options) => {
      const { createApiKey } = await import('./ivr/api-keys.ts');
      const key = await createApiKey(database.owner.db, String(options.domain), String(options.name));
      process.stdout.write(`${key.key}\n`);
      process.stderr.write(`key ${key.key_uuid} for domain ${key.domain_uuid} created; store it now, it cannot be shown again\n`);
    }),
  );

keyCommand
  .command('list [domain]')
  .description('list keys (all domains, or one), never their secrets')
  .action(
    databaseAction(async (database, _config, _logger, options) => {
      const { listApiKeys } = await import('./ivr/api-keys.ts');
      const keys = await listApiKeys(database.owner.db, options.domain === undefined ? undefined : String(options.domain));
      const lines = keys.map(
        (k) =>
          `${k.key_uuid}  ${k.domain_uuid}  ${k.revoked_at ? 'revoked' : 'active '}  ${k.last_used_at?.toISOString() ?? 'never used'.padEnd(24)}  ${k.name}`,
      );
      process.stdout.write(
        `key                                   domain                                state    last used                 name\n${lines.join('\n')}\n`,
      );
    }),
  );

keyCommand
  .command('revoke <key>')
  .description('revoke a key by its id; the service refuses it within seconds')
  .action(
    databaseAction(async (database, _config, _logger, options) => {
      const { revokeApiKey } = await import('./ivr/api-keys.ts');
      const key = await revokeApiKey(database.owner.db, String(options.key));
      process.stdout.write(`key ${key.key_uuid} revoked at ${key.revoked_at?.toISOString()}\n`);
    }),
  );

registerBackupCommands(program, { databaseAction, configOf: configFrom });
registerPitrCommands(program, { databaseAction, configOf: configFrom });
registerDataCommands(program, { databaseAction, configOf: configFrom });
registerReplicaCommands(program, { databaseAction, configOf: configFrom });
registerOperationsCommands(program, { databaseAction, configOf: configFrom });
registerDoctorCommand(program, { databaseAction, configOf: configFrom });

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // The parser has printed its message (or the help or version asked for).
    process.exitCode = error.exitCode === 0 ? 0 : USAGE;
    process.exit();
  }
  const known = error instanceof MordomoError;
  process.stderr.write(`mordomo-db: ${known ? error.message : `unexpected error: ${String((error as Error).message)}`}\n`);
  process.exitCode = known ? (EXIT_CODES[error.code] ?? 1) : 1;
}
