import path from 'node:path';
import type { Command } from 'commander';
import type { Config } from '../config.ts';
import type { Database } from '../db/connect.ts';
import { ConfigError, InvalidInputError } from '../errors.ts';
import { folderBytes } from '../files.ts';
import type { CliContext } from './backup.ts';
import { print, size } from './output.ts';

function embeddedOnly(database: Database, config: Config): { pgData: string; archiveDir: string } {
  if (!database.server) {
    throw new ConfigError('point-in-time recovery here is for the embedded server; for a server of your own use its tools (pg_basebackup, archive_command)');
  }
  if (!config.walArchiveDir) throw new ConfigError('WAL archiving is off (MORDOMO_WAL_ARCHIVE_DIR=off): there is nothing to recover from');
  return { pgData: database.server.pgData, archiveDir: config.walArchiveDir };
}

export function registerPitrCommands(program: Command, { databaseAction }: CliContext): void {
  const pitr = program
    .command('pitr')
    .description('point-in-time recovery of the embedded server: base backups plus the archived WAL (MORDOMO_WAL_ARCHIVE_DIR)');

  pitr
    .command('base-backup')
    .description('take a base backup now (the nightly backup job takes one too)')
    .option('--json', 'machine-readable output')
    .action(
      databaseAction(async (database, config, logger, options) => {
        const { pgData } = embeddedOnly(database, config);
        const { baseBackupRoot, takeBaseBackup } = await import('../ops/base-backups.ts');
        const base = await takeBaseBackup(database.owner.pool, pgData, baseBackupRoot(config), logger);
        print(Boolean(options.json), base, `base backup written: ${base.dir} (${size(folderBytes(base.dir))})`);
      }),
    );

  pitr
    .command('list')
    .description('base backups kept, newest first: recovery can reach any moment after the end of the oldest')
    .option('--json', 'machine-readable output')
    .action(
      databaseAction(async (_database, config, _logger, options) => {
        const { baseBackupRoot, listBaseBackups } = await import('../ops/base-backups.ts');
        const bases = listBaseBackups(baseBackupRoot(config));
        const lines = bases.map((b) => `  ${b.finishedAt.toISOString()}  ${b.startWal}  ${b.dir}`);
        print(
          Boolean(options.json),
          bases,
          bases.length
            ? `finished at                start WAL                 folder\n${lines.join('\n')}`
            : 'no base backups yet: mordomo-db pitr base-backup',
        );
      }),
    );

  pitr
    .command('restore')
    .description('rebuild the data folder as it was at --to into a new folder (--out), usable as MORDOMO_DATA_DIR')
    .requiredOption('--to <time>', 'the moment, ISO 8601 with its zone, e.g. "2026-11-23 14:05:00-03"')
    .requiredOption('--out <dir>', 'a new, empty folder for the recovered data folder')
    .option('--port <port>', 'private port for the recovery run', '55439')
    .action(
      databaseAction(async (database, config, logger, options) => {
        const { archiveDir } = embeddedOnly(database, config);
        const text = String(options.to);
        if (!/\d{2}:\d{2}.*([zZ]|[+-]\d{2}(:?\d{2})?)$/.test(text.trim())) {
          throw new InvalidInputError(`--to ${text}: give a time with its zone, like "2026-11-23 14:05:00-03"`);
        }
        const target = new Date(
          text
            .trim()
            .replace(' ', 'T')
            .replace(/([+-]\d{2})$/, '$1:00'),
        );
        const port = Number(options.port);
        if (!Number.isInteger(port) || port < 1 || port > 65535) throw new InvalidInputError(`--port ${String(options.port)}: not a port number`);
        const [{ archiveCurrentWal, baseBackupRoot }, { restoreToTime }] = await Promise.all([import('../ops/base-backups.ts'), import('../ops/pitr.ts')]);
        // Commits of the last moments may still sit in the segment being written: have it archived first.
        await archiveCurrentWal(database.owner.pool);
        const out = path.resolve(String(options.out));
        const result = await restoreToTime({
          baseRoot: baseBackupRoot(config),
          archiveDir,
          target,
          outDir: out,
          password: database.server!.superuserPassword(),
          port,
          osUser: config.pgOsUser,
          logger,
        });
        const last = result.lastTransaction ? result.lastTransaction.toISOString() : 'none since the base backup';
        const reached = result.reachedTarget
          ? `recovered to ${target.toISOString()} from ${result.base.dir} (last transaction kept: ${last})\n`
          : `nothing was written between the last archived transaction and ${target.toISOString()}: recovered everything, ` +
            `up to the last transaction at ${last}, from ${result.base.dir}\n`;
        process.stdout.write(
          reached +
            `  data folder: ${out}\n` +
            `  to run it:   MORDOMO_DATA_DIR=${out} mordomo-db start   (or stop mordomo-db and move ${out} to ${config.dataDir})\n`,
        );
      }),
    );
}
