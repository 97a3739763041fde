import type { Kysely } from 'kysely';
import { createKysely } from './typed-errors.ts';
import type pg from 'pg';
import type { PoolSettings } from '../config.ts';
import type { Logger } from '../logger.ts';
import { redactUrl } from './urls.ts';
import { mapDatabaseError } from '../errors.ts';
import { createPool } from './pool.ts';
import type { DB } from './schema.ts';

/**
 * Sends read-only work (history, search, reports, dashboard) to replicas (DATABASE_REPLICA_URL) and everything
 * else to the primary. A replica is in rotation only while it is up, still a standby, receiving WAL from the
 * primary, and within both bounds: `bytes` of WAL and `seconds` of replay behind. Otherwise it is skipped, with its
 * reason, until a later check finds it back. A caller that must see its own write passes the LSN the write returned
 * (`writeLsn`): the read then goes to a replica that has replayed it, or waits briefly for one, or to the primary.
 */
export interface ReplicaHealth {
  name: string;
  healthy: boolean;
  lagBytes: number | null;
  lagSeconds: number | null;
  /** Why it is out of rotation (null when in), and the details. */
  cause: OutOfRotation | null;
  reason: string | null;
  reads: number;
}

/** Why a replica is skipped, as the metric's label says it. */
export const OUT_OF_ROTATION = ['down', 'promoted', 'not_streaming', 'replay_behind', 'bytes_behind'] as const;
export type OutOfRotation = (typeof OUT_OF_ROTATION)[number];

export interface LagLimits {
  bytes: number;
  seconds: number;
}

export interface ReplicaState {
  healthy: boolean;
  lagBytes: number | null;
  lagSeconds: number | null;
  /** Replay position, as a number of bytes (for read-your-writes). */
  replayed: bigint;
  reason: string | null;
  cause: OutOfRotation | null;
}

/**
 * The replica's own view. A WAL receiver process exists only while the standby is connected to its primary (one
 * whose password was changed, or whose primary is away, retries every 5 s and has none in between); its status is
 * visible to roles with pg_read_all_stats. Time behind counts only WAL received and not yet replayed (replay
 * paused, or slower than the writes): on a quiet primary nothing is pending and the last replayed transaction may
 * be old without the replica being stale.
 */
const REPLICA_STATE_SQL = `
  SELECT pg_is_in_recovery() AS recovering,
         pg_last_wal_replay_lsn()::text AS lsn,
         (SELECT pid IS NOT NULL AND coalesce(status, 'streaming') = 'streaming' FROM pg_stat_wal_receiver) AS receiving,
         CASE WHEN pg_last_wal_receive_lsn() IS NULL OR pg_last_wal_receive_lsn() <= pg_last_wal_replay_lsn() THEN 0
              ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8 END AS replay_behind`;

/** Whether one replica may serve reads, and if not why, against the primary's position `primaryLsn`. */
export async function replicaState(pool: pg.Pool, primaryLsn: bigint, limits: LagLimits): Promise<ReplicaState> {
  const out = (cause: OutOfRotation, reason: string, state: Partial<ReplicaState> = {}): ReplicaState => ({
    healthy: false,
    lagBytes: null,
    lagSeconds: null,
    replayed: 0n,
    ...state,
    reason: `${cause}: ${reason}`,
    cause,
  });
  let row: { recovering: boolean; lsn: string | null; receiving: boolean | null; replay_behind: number | null };
  try {
    row = (await pool.query(REPLICA_STATE_SQL)).rows[0];
  } catch (error) {
    return out('down', mapDatabaseError(error).message);
  }
  if (!row.recovering || !row.lsn) return out('promoted', 'not in recovery: it takes writes of its own and is no replica of this primary');
  const replayed = lsnToBigInt(row.lsn);
  const state = { replayed, lagBytes: Math.max(0, Number(primaryLsn - replayed)), lagSeconds: row.replay_behind ?? 0 };
  if (!row.receiving) return out('not_streaming', 'no WAL receiver is streaming from the primary (wrong replication password, primary unreachable?)', state);
  if (state.lagSeconds > limits.seconds) return out('replay_behind', `replay ${Math.round(state.lagSeconds)} s behind (limit ${limits.seconds} s)`, state);
  if (state.lagBytes > limits.bytes) return out('bytes_behind', `${state.lagBytes} bytes of WAL behind (limit ${limits.bytes})`, state);
  return { ...state, healthy: true, reason: null, cause: null };
}

/** Where a read goes: the query builder and the pool under it. */
export interface Reader {
  db: Kysely<DB>;
  pool: pg.Pool;
}

interface Replica extends ReplicaState {
  name: string;
  pool: pg.Pool;
  db: Kysely<DB>;
  reads: number;
}

export const lsnToBigInt = (lsn: string): bigint => {
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
    private readonly limits: LagLimits = { bytes: 16 * 1024 * 1024, seconds: 5 },
  ) {
    this.replicas = urls.map((url) => {
      const pool = createPool(url, { ...settings, min: 0 }, logger);
      const db = createKysely(pool);
      return {
        name: redactUrl(url),
        pool,
        db,
        healthy: false,
        lagBytes: null,
        lagSeconds: null,
        replayed: 0n,
        reason: 'down: not checked yet',
        cause: 'down',
        reads: 0,
      };
    });
  }

  /** Checks every replica now and then every `intervalMs`. */
  async start(intervalMs = 2000): Promise<void> {
    await this.check();
    if (this.replicas.length) this.timer = setInterval(() => void this.check(), intervalMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    // Kysely ends a pool only if it ran a query itself, and the checks use the pools directly: end them here, or a
    // command run with DATABASE_REPLICA_URL stays alive until the idle connections time out.
    await Promise.all(
      this.replicas.map(async ({ db, pool }) => {
        await db.destroy().catch(() => undefined);
        if (!pool.ended) await pool.end().catch(() => undefined);
      }),
    );
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
    return this.replicas.map(({ name, healthy, lagBytes, lagSeconds, cause, reason, reads }) => ({
      name,
      healthy,
      lagBytes,
      lagSeconds,
      cause,
      reason,
      reads,
    }));
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
        Object.assign(replica, await replicaState(replica.pool, primaryLsn, this.limits));
        if (was !== replica.healthy) {
          const details = { replica: replica.name, lagBytes: replica.lagBytes, lagSeconds: replica.lagSeconds, reason: replica.reason };
          this.logger.warn(details, replica.healthy ? 'replica back in rotation' : 'replica out of rotation');
        }
      }),
    );
  }
}
