import type pg from 'pg';
import type { Module } from '../config.ts';
import { ConfigError, mapDatabaseError, MigrationError, SQLSTATE } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { MIGRATIONS_ROOT, type MigrationFile, readMigrations } from './files.ts';
import { buildQueuedIndexes, CREATE_PENDING_INDEXES } from './pending-indexes.ts';
import { WITHOUT_STATEMENT_TIMEOUT } from '../db/pool.ts';
import { CREATE_RUNTIME_ROLE } from '../db/runtime-role.ts';
import { inClientTransaction } from '../db/transaction.ts';
import { withClient } from '../db/client.ts';

const CREATE_LEDGER = `
CREATE TABLE IF NOT EXISTS mordomo_migrations (
    module text NOT NULL,
    version integer NOT NULL,
    name text NOT NULL,
    checksum text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    duration_ms integer NOT NULL,
    PRIMARY KEY (module, version)
)`;

// One key for every runner on the database: hashtext is stable across sessions and servers of one major version.
const LOCK = `SELECT pg_advisory_lock(hashtext('mordomo-db:migrate'))`;
const UNLOCK = `SELECT pg_advisory_unlock(hashtext('mordomo-db:migrate'))`;

/** One migration file's state in a database: applied, pending, or edited since it was applied. */
export interface MigrationStatus {
  module: Module;
  version: number;
  name: string;
  state: 'applied' | 'pending' | 'edited';
  appliedAt: Date | undefined;
  durationMs: number | undefined;
}

interface LedgerRow {
  module: Module;
  version: number;
  name: string;
  checksum: string;
  applied_at: Date;
  duration_ms: number;
}

async function ledger(client: pg.PoolClient | pg.Pool): Promise<LedgerRow[]> {
  try {
    const { rows } = await client.query<LedgerRow>('SELECT * FROM mordomo_migrations ORDER BY module, version');
    return rows;
  } catch (error) {
    if ((error as { code?: string }).code === SQLSTATE.undefinedTable) return []; // never migrated
    throw mapDatabaseError(error);
  }
}

function compare(files: MigrationFile[], rows: LedgerRow[]): MigrationStatus[] {
  return files.map((file) => {
    const row = rows.find((r) => r.module === file.module && r.version === file.version);
    const state = !row ? 'pending' : row.checksum === file.checksum ? 'applied' : 'edited';
    return { module: file.module, version: file.version, name: file.name, state, appliedAt: row?.applied_at, durationMs: row?.duration_ms };
  });
}

function refuseEdited(files: MigrationFile[], rows: LedgerRow[]): void {
  const edited = compare(files, rows).filter((s) => s.state === 'edited');
  if (edited.length) {
    const names = edited.map((s) => `migrations/${s.module}/${String(s.version).padStart(3, '0')}_${s.name}.sql`);
    throw new MigrationError(
      `applied migration${edited.length > 1 ? 's were' : ' was'} edited after being applied: ${names.join(', ')}. ` +
        'Migrations are forward-only: restore the original file and put the change in a new migration.',
    );
  }
}

/** Applied, pending and edited migrations of `modules`, without changing anything. */
export async function migrationStatus(pool: pg.Pool, modules: Module[], root = MIGRATIONS_ROOT): Promise<MigrationStatus[]> {
  const files = modules.flatMap((module) => readMigrations(module, root));
  return compare(files, await ledger(pool));
}

/**
 * Applies the pending migrations of `modules` in order, each in its own transaction together with its ledger row.
 * Concurrent runners serialise on a session advisory lock; the second finds the work done.
 */
export async function migrate(pool: pg.Pool, modules: Module[], logger: Logger, root = MIGRATIONS_ROOT): Promise<MigrationStatus[]> {
  const files = modules.flatMap((module) => readMigrations(module, root));
  // One session holds the runners' advisory lock from LOCK to UNLOCK.
  return withClient(pool, async (client) => {
    await refuseStandby(client);
    await client.query(LOCK);
    try {
      await client.query(CREATE_LEDGER);
      await client.query(CREATE_PENDING_INDEXES);
      await client.query(CREATE_RUNTIME_ROLE);
      const rows = await ledger(client);
      refuseEdited(files, rows);
      await buildLeftIndexes(client, logger);
      const pending = compare(files, rows).filter((s) => s.state === 'pending');
      for (const status of pending) {
        const file = files.find((f) => f.module === status.module && f.version === status.version)!;
        await applyOne(client, file, logger);
      }
      return compare(files, await ledger(client));
    } finally {
      await client.query(UNLOCK);
    }
  });
}

/**
 * Migrations run on the leader only: a standby is read-only (and takes no advisory lock), and its schema arrives by
 * replication. Reaching one means DATABASE_URL names a node instead of the cluster's read-write address.
 */
async function refuseStandby(client: pg.PoolClient): Promise<void> {
  const { rows } = await client.query<{ standby: boolean }>('SELECT pg_is_in_recovery() AS standby');
  if (rows[0]!.standby) {
    throw new ConfigError(
      "DATABASE_URL reaches a standby (read-only): migrations and scheduled jobs run on the leader; point DATABASE_URL at the cluster's read-write address (HAProxy's /primary port)",
    );
  }
}

/** Before any new migration, which may expect them: the indexes an interrupted restore left to build. */
async function buildLeftIndexes(client: pg.PoolClient, logger: Logger): Promise<void> {
  const { rows } = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM mordomo_pending_indexes');
  if (!rows[0]?.n) return;
  logger.warn({ indexes: rows[0].n }, 'building the indexes an interrupted restore left (minutes on a big database)');
  await buildQueuedIndexes(client, { onIndex: (index, ms) => logger.warn({ index, ms: Math.round(ms) }, 'index built') });
}

async function applyOne(client: pg.PoolClient, file: MigrationFile, logger: Logger): Promise<void> {
  const started = Date.now();
  const label = `${file.module}/${String(file.version).padStart(3, '0')}_${file.name}`;
  try {
    await inClientTransaction(client, async () => {
      // Schema changes take strong locks; waiting forever behind a long transaction would freeze the assistant.
      await client.query("SET LOCAL lock_timeout = '10s'");
      await client.query(WITHOUT_STATEMENT_TIMEOUT);
      await client.query(file.sql);
      await client.query('INSERT INTO mordomo_migrations (module, version, name, checksum, duration_ms) VALUES ($1, $2, $3, $4, $5)', [
        file.module,
        file.version,
        file.name,
        file.checksum,
        Date.now() - started,
      ]);
    });
    logger.info({ migration: label, ms: Date.now() - started }, 'migration applied');
  } catch (error) {
    const detail = (error as Error).message;
    throw new MigrationError(`migration ${label} failed and was rolled back: ${detail}`, { cause: error });
  }
}
