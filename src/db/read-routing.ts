import { Kysely, PostgresDialect } from 'kysely';
import type pg from 'pg';
import type { PoolSettings } from '../config.ts';
import type { Logger } from '../logger.ts';
import { redactUrl } from './urls.ts';
import { mapDatabaseError } from '../errors.ts';
import { createPool } from './pool.ts';
import type { DB } from './schema.ts';

/**
 * Sends read-only work (history, search, reports, dashboard) to replicas (DATABASE_REPLICA_URL) and everything
 * else to the primary. A replica that is down, or further behind the primary than `maxLagBytes` of WAL, is skipped
 * until a later check finds it back. A caller that must see its own write passes the LSN the write returned
 * (`writeLsn`): the read then goes to a replica that has replayed it, or waits briefly for one, or to the primary.
 */
export interface ReplicaHealth {
  name: string;
  healthy: boolean;
  lagBytes: number | null;
  reads: number;
}

/** Where a read goes: the query builder and the pool under it. */
export interface Reader {
  db: Kysely<DB>;
  pool: pg.Pool;
}

interface Replica {
  name: string;
  pool: pg.Pool;
  db: Kysely<DB>;
  healthy: boolean;
  lagBytes: number | null;
  /** Replay position at the last check, as a number of bytes (for read-your-writes). */
  replayed: bigint;
  reads: number;
}

const lsnToBigInt = (lsn: string): bigint => {
  const [high, low] = lsn.split('/');
  return (BigInt(`0x${high}`) << 32n) + BigInt(`0x${low}`);
};

export class ReadRouter {
  private readonly replicas: Replica[];
  private timer: NodeJS.Timeout | undefined;
  private next = 0;
  primaryReads = 0;

  constructor(
    private readonly primary: { db: Kysely<DB>; pool: pg.Pool },
    urls: string[],
    settings: PoolSettings,
    private readonly logger: Logger,
    private readonly maxLagBytes = 16 * 1024 * 1024,
  ) {
    this.replicas = urls.map((url) => {
      const pool = createPool(url, { ...settings, min: 0 }, logger);
      return { name: redactUrl(url), pool, db: new Kysely<DB>({ dialect: new PostgresDialect({ pool }) }), healthy: false, lagBytes: null, replayed: 0n, reads: 0 };
    });
  }

  /** Checks every replica now and then every `intervalMs`. */
  async start(intervalMs = 2000): Promise<void> {
    await this.check();
    if (this.replicas.length) this.timer = setInterval(() => void this.check(), intervalMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await Promise.all(this.replicas.map((r) => r.db.destroy().catch(() => undefined)));
  }

  /** The current WAL position of the primary: what a write just made must be replayed to. */
  async writeLsn(): Promise<string> {
    try {
      const { rows } = await this.primary.pool.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn');
      return rows[0]!.lsn;
    } catch (error) {
      throw mapDatabaseError(error);
    }
  }

  /** A query builder for read-only work: a healthy replica (round robin), or the primary. */
  async reader(options: { afterLsn?: string; waitMs?: number } = {}): Promise<Reader> {
    const healthy = this.replicas.filter((r) => r.healthy);
    if (healthy.length === 0) return this.onPrimary();
    if (!options.afterLsn) return this.pick(healthy);
    const target = lsnToBigInt(options.afterLsn);
    const deadline = Date.now() + (options.waitMs ?? 500);
    for (;;) {
      const caughtUp = [];
      for (const replica of healthy) {
        const { rows } = await replica.pool
          .query<{ lsn: string | null }>('SELECT pg_last_wal_replay_lsn()::text AS lsn')
          .catch(() => ({ rows: [{ lsn: null }] }));
        if (rows[0]!.lsn && lsnToBigInt(rows[0]!.lsn) >= target) caughtUp.push(replica);
      }
      if (caughtUp.length) return this.pick(caughtUp);
      if (Date.now() >= deadline) return this.onPrimary();
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  get hasReplicas(): boolean {
    return this.replicas.length > 0;
  }

  health(): ReplicaHealth[] {
    return this.replicas.map(({ name, healthy, lagBytes, reads }) => ({ name, healthy, lagBytes, reads }));
  }

  private onPrimary(): Reader {
    this.primaryReads++;
    return this.primary;
  }

  private pick(candidates: Replica[]): Replica {
    const replica = candidates[this.next++ % candidates.length]!;
    replica.reads++;
    return replica;
  }

  private async check(): Promise<void> {
    if (!this.replicas.length) return;
    let primaryLsn: bigint;
    try {
      primaryLsn = lsnToBigInt(await this.writeLsn());
    } catch {
      return; // the primary is away: keep the last view of the replicas
    }
    await Promise.all(
      this.replicas.map(async (replica) => {
        const was = replica.healthy;
        try {
          const { rows } = await replica.pool.query<{ recovering: boolean; lsn: string | null }>(
            'SELECT pg_is_in_recovery() AS recovering, pg_last_wal_replay_lsn()::text AS lsn',
          );
          const { recovering, lsn } = rows[0]!;
          replica.replayed = lsn ? lsnToBigInt(lsn) : 0n;
          replica.lagBytes = recovering && lsn ? Math.max(0, Number(primaryLsn - replica.replayed)) : null;
          // A server that is not in recovery is not a replica of this primary any more (promoted): never read there.
          replica.healthy = recovering && replica.lagBytes !== null && replica.lagBytes <= this.maxLagBytes;
        } catch {
          replica.healthy = false;
          replica.lagBytes = null;
        }
        if (was !== replica.healthy) {
          this.logger.warn({ replica: replica.name, healthy: replica.healthy, lagBytes: replica.lagBytes }, replica.healthy ? 'replica back in rotation' : 'replica skipped');
        }
      }),
    );
  }
}
