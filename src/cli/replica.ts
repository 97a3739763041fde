import path from 'node:path';
import type { Command } from 'commander';
import { InvalidInputError } from '../errors.ts';
import type { CliContext } from './backup.ts';
import { print, size } from './output.ts';

function portOption(value: unknown): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new InvalidInputError(`--port ${String(value)}: not a port number`);
  return port;
}

export function registerReplicaCommands(program: Command, { databaseAction, configOf }: CliContext): void {
  const replica = program.command('replica').description('a streaming hot standby of the embedded server: create, watch, promote');

  replica
    .command('create')
    .description('build a hot standby of the embedded server in a new data folder and start it (replication role, physical slot, base backup)')
    .requiredOption('--standby-dir <dir>', 'a new, empty folder for the standby (usable later as MORDOMO_DATA_DIR)')
    .option('--port <port>', 'port of the standby', '5433')
    .option(
      '--primary <url>',
      'the primary (default: the configured database); only the embedded server can be copied from here. With sslmode=verify-full&sslrootcert=<CA file> the standby streams over TLS, verified against that CA',
    )
    .action(
      databaseAction(async (database, config, logger, options) => {
        const [{ embeddedPrimary }, { createReplica, loopbackTls, primaryTls }] = await Promise.all([
          import('../ops/replica-primary.ts'),
          import('../ops/replica.ts'),
        ]);
        const primary = embeddedPrimary(database, config, options.primary === undefined ? undefined : String(options.primary));
        const dataDir = path.resolve(String(options.standbyDir));
        const result = await createReplica(database.owner.pool, {
          primaryPgData: primary.pgData,
          primaryPort: primary.port,
          primaryPassword: primary.password,
          dataDir,
          port: portOption(options.port),
          osUser: config.pgOsUser,
          logger,
          tls:
            primaryTls(options.primary === undefined ? config.databaseUrl : String(options.primary)) ??
            loopbackTls(config.pgNetwork.clientNetworks, primary.port, primary.password),
        });
        process.stdout.write(
          `standby running on port ${result.port}, streaming through slot ${result.slot}\n` +
            `  data folder: ${dataDir} (MORDOMO_DATA_DIR=${dataDir} MORDOMO_PG_PORT=${result.port} mordomo-db start adopts it)\n` +
            `  watch it:    mordomo-db replica status\n`,
        );
      }),
    );

  replica
    .command('status')
    .description(
      'standbys connected to this primary (lag in bytes and seconds), its replication slots (WAL kept for absent ones), ' +
        'the read replicas of DATABASE_REPLICA_URL: in rotation, or out and why, and with MORDOMO_PATRONI_URL the Patroni cluster ' +
        '(leader, members, state, lag, synchronous standby)',
    )
    .option('--json', 'machine-readable output')
    .action(
      databaseAction(async (database, config, _logger, options) => {
        const { readReplicaStates, replicaStatus } = await import('../ops/replica.ts');
        const limits = { bytes: config.replicaMaxLagBytes, seconds: config.replicaMaxLagSeconds };
        const { clusterStatus, describeCluster } = await import('../ops/patroni.ts');
        const cluster = config.patroniUrls.length ? await clusterStatus(config.patroniUrls) : undefined;
        const status = {
          ...(await replicaStatus(database.owner.pool)),
          replicas: await readReplicaStates(database.owner.pool, config.replicaUrls, limits),
          ...(cluster ? { cluster } : {}),
        };
        const standbys = status.standbys.map(
          (s) =>
            `  ${s.application_name.padEnd(28)} ${s.state.padEnd(10)} received ${s.flush_lsn ?? '-'} replayed ${s.replay_lsn ?? '-'}  lag ${size(Number(s.lag_bytes ?? 0))}, ${s.replay_lag_seconds ?? 0} s`,
        );
        const slots = status.slots.map(
          (s) => `  ${s.slot_name.padEnd(28)} ${s.active ? 'active  ' : 'INACTIVE'} keeps ${size(Number(s.retained_bytes ?? 0))} of WAL`,
        );
        const replicas = status.replicas.map((r) => `  ${r.name}  ${r.healthy ? 'in rotation' : `OUT: ${r.reason}`}`);
        const routing = replicas.length ? `\nread replicas (DATABASE_REPLICA_URL):\n${replicas.join('\n')}` : '';
        const patroni = cluster ? `\n${describeCluster(cluster)}` : '';
        print(
          Boolean(options.json),
          status,
          `standbys:\n${standbys.join('\n') || '  none connected'}\nslots:\n${slots.join('\n') || '  none'}${routing}${patroni}`,
        );
      }),
    );

  replica
    .command('promote')
    .description('make the standby in --standby-dir a primary; refused while its primary still answers, unless --force')
    .requiredOption('--standby-dir <dir>', "the standby's data folder")
    .option('--force', 'promote even though the primary answers (only when it is fenced off for good)')
    .action(async (options: { standbyDir: string; force?: boolean }, command: Command) => {
      const config = await configOf(command);
      const { promoteReplica } = await import('../ops/replica.ts');
      const { slot, slotDropped } = await promoteReplica(path.resolve(options.standbyDir), config.pgOsUser, { force: Boolean(options.force) });
      process.stdout.write(`promoted: ${path.resolve(options.standbyDir)} is a primary and takes writes\n`);
      if (slot && slotDropped) process.stdout.write(`  the old primary's replication slot ${slot} was dropped\n`);
      if (slot && !slotDropped) {
        process.stdout.write(
          `  the old primary still has replication slot ${slot}, which keeps WAL for a standby that is gone: if that server ` +
            `comes back, run SELECT pg_drop_replication_slot('${slot}') on it (mordomo-db doctor there warns of it)\n`,
        );
      }
    });
}
