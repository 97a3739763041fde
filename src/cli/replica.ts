import path from 'node:path';
import type { Command } from 'commander';
import type { Config } from '../config.ts';
import type { Database } from '../db/connect.ts';
import { SUPERUSER } from '../db/embedded-server.ts';
import { findRunningServer } from '../db/postmaster.ts';
import { redactUrl } from '../db/urls.ts';
import { ConfigError, InvalidInputError } from '../errors.ts';
import { clientToolsHint } from '../ops/pg-dump.ts';
import { createReplica, promoteReplica, readReplicaStates, replicaStatus } from '../ops/replica.ts';
import type { CliContext } from './backup.ts';
import { print, size } from './output.ts';

function portOption(value: unknown): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new InvalidInputError(`--port ${String(value)}: not a port number`);
  return port;
}

function isEmbeddedPrimary(url: string, embeddedPort: number): boolean {
  try {
    const parsed = new URL(url);
    return ['127.0.0.1', 'localhost', '[::1]'].includes(parsed.hostname) && Number(parsed.port || 5432) === embeddedPort;
  } catch {
    throw new InvalidInputError('--primary: not a connection URL (postgresql://user@host:port/db)');
  }
}

/**
 * The embedded server to copy, with its superuser password: the one this command runs (password from
 * POSTGRES_PASSWORD or the data folder's file), or the one DATABASE_URL names when that is this machine's embedded
 * server of MORDOMO_DATA_DIR (password from the URL, which must name its superuser). Anything else is refused.
 */
function embeddedPrimary(database: Database, config: Config): { pgData: string; port: number; password: string } {
  if (database.server) return { pgData: database.server.pgData, port: config.pgPort, password: database.server.superuserPassword() };
  const pgData = path.join(path.resolve(config.dataDir), 'pg');
  const running = findRunningServer(pgData);
  const url = config.databaseUrl ? new URL(config.databaseUrl) : undefined;
  if (url && running && isEmbeddedPrimary(config.databaseUrl!, running.port)) {
    if (decodeURIComponent(url.username) !== SUPERUSER) {
      throw new ConfigError(`replica create needs the embedded server's superuser: give DATABASE_URL as ${SUPERUSER}, or unset it (the password then comes from POSTGRES_PASSWORD or ${config.dataDir}/postgres-password)`);
    }
    return { pgData, port: running.port, password: decodeURIComponent(url.password) };
  }
  throw new ConfigError(`replica create copies the embedded server's files; for a remote primary use pg_basebackup (${clientToolsHint(16)}) with a replication slot`);
}

export function registerReplicaCommands(program: Command, { databaseAction, configOf }: CliContext): void {
  const replica = program.command('replica').description('a streaming hot standby of the embedded server: create, watch, promote');

  replica
    .command('create')
    .description('build a hot standby of the embedded server in a new data folder and start it (replication role, physical slot, base backup)')
    .requiredOption('--standby-dir <dir>', 'a new, empty folder for the standby (usable later as MORDOMO_DATA_DIR)')
    .option('--port <port>', 'port of the standby', '5433')
    .option('--primary <url>', 'the primary (default: the configured database); only the embedded server can be copied from here')
    .action(
      databaseAction(async (database, config, logger, options) => {
        if (options.primary !== undefined && !isEmbeddedPrimary(String(options.primary), config.pgPort)) {
          throw new ConfigError(`${redactUrl(String(options.primary))} is not this machine's embedded server: build its standby with pg_basebackup -R (${clientToolsHint(16)}) and a replication slot`);
        }
        const primary = embeddedPrimary(database, config);
        const dataDir = path.resolve(String(options.standbyDir));
        const result = await createReplica(database.owner.pool, {
          primaryPgData: primary.pgData,
          primaryPort: primary.port,
          primaryPassword: primary.password,
          dataDir,
          port: portOption(options.port),
          osUser: config.pgOsUser,
          logger,
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
        'and the read replicas of DATABASE_REPLICA_URL: in rotation, or out and why',
    )
    .option('--json', 'machine-readable output')
    .action(
      databaseAction(async (database, config, _logger, options) => {
        const limits = { bytes: config.replicaMaxLagBytes, seconds: config.replicaMaxLagSeconds };
        const status = { ...(await replicaStatus(database.owner.pool)), replicas: await readReplicaStates(database.owner.pool, config.replicaUrls, limits) };
        const standbys = status.standbys.map(
          (s) => `  ${s.application_name.padEnd(28)} ${s.state.padEnd(10)} received ${s.flush_lsn ?? '-'} replayed ${s.replay_lsn ?? '-'}  lag ${size(Number(s.lag_bytes ?? 0))}, ${s.replay_lag_seconds ?? 0} s`,
        );
        const slots = status.slots.map((s) => `  ${s.slot_name.padEnd(28)} ${s.active ? 'active  ' : 'INACTIVE'} keeps ${size(Number(s.retained_bytes ?? 0))} of WAL`);
        const replicas = status.replicas.map((r) => `  ${r.name}  ${r.healthy ? 'in rotation' : `OUT: ${r.reason}`}`);
        const routing = replicas.length ? `\nread replicas (DATABASE_REPLICA_URL):\n${replicas.join('\n')}` : '';
        print(Boolean(options.json), status, `standbys:\n${standbys.join('\n') || '  none connected'}\nslots:\n${slots.join('\n') || '  none'}${routing}`);
      }),
    );

  replica
    .command('promote')
    .description('make the standby in --standby-dir a primary; refused while its primary still answers, unless --force')
    .requiredOption('--standby-dir <dir>', 'the standby\'s data folder')
    .option('--force', 'promote even though the primary answers (only when it is fenced off for good)')
    .action(async (options: { standbyDir: string; force?: boolean }, command: Command) => {
      const config = configOf(command);
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
