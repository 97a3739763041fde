import { type Command, Option } from 'commander';
import { MordomoError } from '../errors.ts';
import type { MaintenanceTask } from '../ops/maintenance.ts';
// The report names only: monitor.ts is its queries' text and two small functions, nothing heavy.
import { MONITOR_QUERIES, type MonitorReport } from '../ops/monitor.ts';
import type { CliContext } from './backup.ts';
import { print, table } from './output.ts';

function wholeNumber(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 3650) throw new MordomoError('invalid_input', `${name} takes a whole number from 0 to 3650`);
  return n;
}

export function registerOperationsCommands(program: Command, { databaseAction }: CliContext): void {
  const maintenance = program.command('maintenance').description('VACUUM, ANALYZE, REINDEX and log partitions');

  maintenance
    .command('partitions')
    .description('create daily system_logs partitions ahead and drop expired ones (whole days, not row by row)')
    .option('--days-ahead <n>', 'days of partitions to keep ready', '7')
    .option('--retention-days <n>', 'drop log partitions older than this', '30')
    .option('--json', 'machine-readable output')
    .action(
      databaseAction(async (database, _config, _logger, options) => {
        const { maintainPartitions } = await import('../ops/partitions.ts');
        const result = await maintainPartitions(
          database.owner.pool,
          wholeNumber(options.daysAhead, '--days-ahead', 7),
          wholeNumber(options.retentionDays, '--retention-days', 30),
        );
        print(Boolean(options.json), result, `partitions: ${result.created} created, ${result.dropped} dropped, ${result.ahead} days covered from today`);
      }),
    );

  for (const task of ['vacuum', 'analyze', 'reindex'] as MaintenanceTask[]) {
    maintenance
      .command(`${task} [table]`)
      .description(task === 'reindex' ? 'rebuild indexes without blocking writes (REINDEX CONCURRENTLY)' : `${task.toUpperCase()} one table or all`)
      .action(
        databaseAction(async (database, _config, _logger, options) => {
          const { runMaintenance } = await import('../ops/maintenance.ts');
          const done = await runMaintenance(database.owner.pool, task, options.table as string | undefined);
          process.stdout.write(`${task}: ${done.join(', ')}\n`);
        }),
      );
  }

  const monitorCommand = program
    .command('monitor')
    .description('what the database is doing: the seed’s monitoring queries and more')
    .addOption(new Option('--json', 'machine-readable output'));
  for (const report of Object.keys(MONITOR_QUERIES) as MonitorReport[]) {
    monitorCommand
      .command(report)
      .description(`report: ${report}`)
      .action(
        databaseAction(async (database, _config, _logger, options) => {
          const { monitor } = await import('../ops/monitor.ts');
          const rows = await monitor(database.owner.pool, report);
          print(Boolean(options.json), rows, table(rows));
        }),
      );
  }
  monitorCommand
    .command('terminate <pid>')
    .description('end a backend of this database opened by mordomo-db (others need --force)')
    .option('--force', 'also end backends of other applications or databases')
    .action(
      databaseAction(async (database, _config, _logger, options) => {
        const pid = Number(options.pid);
        if (!Number.isInteger(pid) || pid <= 0) throw new MordomoError('invalid_input', 'pid must be a positive whole number');
        const { terminateBackend } = await import('../ops/monitor.ts');
        await terminateBackend(database.owner.pool, pid, Boolean(options.force));
        process.stdout.write(`terminated backend ${pid}\n`);
      }),
    );
}

export function registerDoctorCommand(program: Command, { databaseAction }: CliContext): void {
  program
    .command('doctor')
    .description('check backups, disk, partitions, autovacuum, long transactions, replication and settings; exit 1 on a failure')
    .option('--json', 'machine-readable output')
    .action(
      databaseAction(async (database, config, _logger, options) => {
        const { doctor } = await import('../ops/doctor.ts');
        const findings = await doctor(database.owner.pool, config);
        const mark = { ok: 'ok  ', warn: 'WARN', fail: 'FAIL' } as const;
        const text = findings.map((f) => `${mark[f.status]}  ${f.check}: ${f.detail}${f.fix ? `\n      → ${f.fix}` : ''}`).join('\n');
        print(Boolean(options.json), findings, text);
        if (findings.some((f) => f.status === 'fail')) process.exitCode = 1;
      }),
    );
}
