import { type Command, InvalidArgumentError, Option } from 'commander';
import type { Config } from '../config.ts';
import { isPostgresUrl } from '../postgres-url.ts';
import type { Database } from '../db/connect.ts';
import { MordomoError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { Manifest, TableEntry } from '../ops/backup.ts';
import { print, size } from './output.ts';

/** What the main CLI lends its command groups: opening the database around an action, and the configuration. */
export interface CliContext {
  databaseAction: (
    work: (
      database: Database,
      config: Config,
      logger: Logger,
      options: Record<string, unknown>,
      signal: AbortSignal,
      /** Called at the work's point of no return: a signal after it changes nothing. */
      complete: () => void,
    ) => Promise<void>,
  ) => (...args: unknown[]) => Promise<void>;
  configOf: (command: Command) => Promise<Config>;
}

/** Progress for people on a terminal (stderr, so --json output on stdout stays clean). */
function progress(json: boolean) {
  return json || !process.stderr.isTTY
    ? undefined
    : (entry: TableEntry) => process.stderr.write(`  ${entry.name.padEnd(24)} ${String(entry.rows).padStart(10)} rows  ${size(entry.bytes).padStart(10)}\n`);
}

/** The index builds that follow a restore's data and took long enough to be waited for, for people on a terminal. */
function indexProgress(json: boolean) {
  return json || !process.stderr.isTTY
    ? undefined
    : (name: string, ms: number) => ms >= 1000 && process.stderr.write(`  index ${name.padEnd(40)} built in ${(ms / 1000).toFixed(1)} s\n`);
}

function postgresUrl(value: string): string {
  if (!isPostgresUrl(value)) throw new InvalidArgumentError('must be a postgres:// or postgresql:// URL');
  return value;
}

/**
 * Refuses a backup path that is not a readable file before the action opens the database: no embedded server is
 * started, no scratch database made, no verification recorded for it. The file is the first argument.
 */
function withBackupFile(action: (...args: unknown[]) => Promise<void>) {
  return async (...args: unknown[]) => {
    const { checkBackupFile } = await import('../ops/backup-files.ts');
    checkBackupFile(String(args[0]));
    await action(...args);
  };
}

const totalRows = (manifest: Manifest) => manifest.tables.reduce((sum, table) => sum + table.rows, 0);

export function registerBackupCommands(program: Command, { databaseAction, configOf }: CliContext): void {
  const backup = program
    .command('backup')
    .description('take a consistent, compressed, checksummed backup (works without pg_dump)')
    .option('--out <dir>', 'folder for the backup file (default: MORDOMO_BACKUP_DIR or DATA_DIR/backups)')
    .addOption(
      new Option('--format <format>', "mordomo (verifiable, no pg_dump needed) or pg_dump (a pg_restore archive; needs pg_dump of the server's version)")
        .choices(['mordomo', 'pg_dump'])
        .default('mordomo'),
    )
    .option('--json', 'machine-readable output')
    .action(
      databaseAction(async (database, config, _logger, options, signal) => {
        const json = Boolean(options.json);
        if (options.format === 'pg_dump') {
          const { pgDumpBackup } = await import('../ops/pg-dump.ts');
          const dump = await pgDumpBackup(database.owner.pool, database.owner.url, (options.out as string) ?? config.backupDir);
          print(json, dump, `pg_dump archive written: ${dump.file} (${size(dump.bytes)}); restore it with pg_restore`);
          return;
        }
        const { createBackup } = await import('../ops/backup.ts');
        const result = await createBackup(database.owner.pool, { outDir: (options.out as string) ?? config.backupDir, onTable: progress(json), signal });
        print(
          json,
          { file: result.file, bytes: result.bytes, manifest: result.manifest },
          `backup written: ${result.file} (${totalRows(result.manifest)} rows, ${size(result.bytes)})`,
        );
      }),
    );

  backup
    .command('verify <file>')
    .description('restore FILE into a scratch database and compare every table with the manifest; exit 1 on any difference')
    .option('--json', 'machine-readable output')
    .action(
      withBackupFile(
        databaseAction(async (database, _config, logger, options, signal) => {
          const file = options.file as string;
          const json = Boolean(options.json);
          const [{ verifyBackup }, { recordVerification }] = await Promise.all([import('../ops/restore.ts'), import('../ops/backup-files.ts')]);
          // Interrupted, it records nothing: a verification cut short proves nothing either way.
          const result = await verifyBackup(database.owner.url, file, logger, { onTable: progress(json), onIndex: indexProgress(json), signal });
          recordVerification(file, result.ok);
          const lines = result.tables.map((t) => `  ${t.match ? 'ok  ' : 'DIFF'} ${t.name.padEnd(24)} ${t.rows}/${t.expectedRows} rows`);
          print(json, result, `${result.ok ? 'backup verified' : `backup FAILED verification${result.error ? `: ${result.error}` : ''}`}\n${lines.join('\n')}`);
          if (!result.ok) process.exitCode = 1;
        }),
      ),
    );

  backup
    .command('list')
    .description('list finished backups, newest first, with size and verification')
    .option('--json', 'machine-readable output')
    .action(async (_options: unknown, command: Command) => {
      // optsWithGlobals: `backup` itself also takes --json, and commander gives a shared flag to the parent.
      const options = command.optsWithGlobals<{ json?: boolean }>();
      const config = await configOf(command);
      const { listBackups } = await import('../ops/backup-files.ts');
      const backups = listBackups(config.backupDir);
      const lines = backups.map(
        (b) =>
          `${b.createdAt.toISOString()}  ${size(b.bytes).padStart(10)}  ${b.verified ? (b.verified.ok ? 'verified' : 'FAILED  ') : 'unverified'}  ${b.file}`,
      );
      print(Boolean(options.json), backups, lines.length ? lines.join('\n') : `no backups in ${config.backupDir}`);
    });

  backup
    .command('prune')
    .description('delete backups past retention (default 7 days) or beyond --keep; never the newest verified one')
    .option('--max-age-days <days>', 'retention in days (default MORDOMO_BACKUP_RETENTION_DAYS, 7)')
    .option('--keep <count>', 'keep at most this many backups')
    .option('--json', 'machine-readable output')
    .action(async (_options: unknown, command: Command) => {
      const options = command.optsWithGlobals<{ maxAgeDays?: string; keep?: string; json?: boolean }>();
      const config = await configOf(command);
      const maxAgeDays = options.maxAgeDays === undefined ? config.backupRetentionDays : Number(options.maxAgeDays);
      const keep = options.keep === undefined ? undefined : Number(options.keep);
      if (!Number.isInteger(maxAgeDays) || maxAgeDays < 1 || (keep !== undefined && (!Number.isInteger(keep) || keep < 1))) {
        throw new MordomoError('invalid_input', '--max-age-days and --keep take whole numbers of at least 1');
      }
      const { pruneBackups } = await import('../ops/backup-files.ts');
      const deleted = pruneBackups(config.backupDir, { maxAgeDays, keep });
      print(Boolean(options.json), deleted, deleted.length ? deleted.map((b) => `deleted ${b.file}`).join('\n') : 'nothing to prune');
    });

  program
    .command('restore <file>')
    .description('restore a backup into the configured database (DATABASE_URL or the embedded one), or --target, which must be empty')
    .addOption(new Option('--target <url>', 'restore into this database instead (postgres://user:password@host:port/database)').argParser(postgresUrl))
    .option('--force', 'replace the data of a database that is not empty')
    .option('--json', 'machine-readable output')
    .action(
      withBackupFile(
        databaseAction(async (database, _config, logger, options, signal, complete) => {
          const json = Boolean(options.json);
          const { restoreBackup } = await import('../ops/restore.ts');
          const manifest = await restoreBackup(database.owner.pool, options.file as string, logger, {
            force: Boolean(options.force),
            onTable: progress(json),
            onIndex: indexProgress(json),
            signal,
            // Committed, the data is restored: a signal during the index builds after it ends no restore.
            onCommitted: complete,
          });
          print(json, manifest, `restored ${totalRows(manifest)} rows in ${manifest.tables.length} tables from the backup of ${manifest.created_at}`);
        }),
      ),
    );
}
