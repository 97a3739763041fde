import { once } from 'node:events';
import { createWriteStream, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { finished } from 'node:stream/promises';
import type { Writable } from 'node:stream';
import { createGzip, type ZlibOptions } from 'node:zlib';
import type pg from 'pg';
import type { Module } from '../config.ts';
import { ConfigError, mapDatabaseError, SQLSTATE } from '../errors.ts';
import { frame, MAGIC } from './backup-format.ts';
import { CANONICAL_OUTPUT, digestCopyOut, installedModules, MODULE_TABLES, tableShape } from './backup-tables.ts';
import { WITHOUT_STATEMENT_TIMEOUT } from '../db/pool.ts';
import { commitFile, fileStamp } from '../files.ts';
import { inClientTransaction } from '../db/transaction.ts';

export const FORMAT_VERSION = 1;

export interface TableEntry {
  name: string;
  columns: string[];
  rows: number;
  bytes: number;
  sha256: string;
}

export interface Manifest {
  format: number;
  server_version: string;
  created_at: string;
  modules: Record<string, number>;
  tables: TableEntry[];
}

export interface BackupResult {
  file: string;
  bytes: number;
  manifest: Manifest;
}

export interface BackupOptions {
  outDir: string;
  /** Called after each table, for progress on a terminal. */
  onTable?: (entry: TableEntry) => void;
  /**
   * Ends the backup when aborted (Ctrl-C, SIGTERM) before its file is in place: the partial file is removed and the
   * abort's reason thrown. Once the file is renamed into place the backup is done, whatever comes after.
   */
  signal?: AbortSignal;
  /** Opens the output (tests inject one that fails like a full disk). */
  open?: (file: string) => Writable;
}

/** Backups are named by their UTC time so that names sort by age. */
export function backupName(at: Date): string {
  return `mordomo-${fileStamp(at)}.mdb.gz`;
}

/**
 * A consistent logical backup while the assistant keeps writing: one REPEATABLE READ, READ ONLY snapshot, one COPY
 * stream per table in a canonical order, gzip, and a manifest of row counts and checksums. Written to
 * `NAME.partial`, fsynced, then renamed: a crash or a full disk never leaves a file that looks like a backup.
 */
export async function createBackup(pool: pg.Pool, options: BackupOptions): Promise<BackupResult> {
  mkdirSync(options.outDir, { recursive: true, mode: 0o700 });
  // One connection for the snapshot's transaction and its COPY streams.
  const client = await pool.connect();
  let failure: Error | undefined;
  const file = path.join(options.outDir, backupName(new Date()));
  const partial = `${file}.partial`;
  try {
    // One snapshot for every table: the backup is consistent however many turns are written meanwhile.
    const { manifest, written } = await inClientTransaction(
      client,
      async () => {
        await client.query(WITHOUT_STATEMENT_TIMEOUT);
        await client.query(CANONICAL_OUTPUT);
        await assertSeesEveryRow(client);
        const modules = await installedModules(client).catch((error) => {
          throw (error as { code?: string }).code === SQLSTATE.undefinedTable ? new ConfigError('nothing to back up: this database was never migrated') : error;
        });
        const { rows: meta } = await client.query<{ version: string; now: Date }>('SELECT version(), now()');
        // Level 4 gives pg_dump -Fc's size (its default level 6 on our frames is 4% smaller) in two thirds of the time;
        // a deep buffer lets PostgreSQL's COPY run on while zlib compresses on the other core. (Node passes stream
        // options through to the zlib stream; its typings only list zlib's own, hence the cast.)
        const gzip = createGzip({ level: 4, chunkSize: 256 * 1024, writableHighWaterMark: 16 * 1024 * 1024 } as ZlibOptions);
        const output = (options.open ?? ((target: string) => createWriteStream(target, { mode: 0o600 })))(partial);
        let written = 0;
        gzip.on('data', (chunk: Buffer) => (written += chunk.length));
        gzip.pipe(output);
        // The output failing (a full disk) must stop the backup at once: gzip alone would just stop draining.
        const failed = new Promise<never>((_, reject) => output.once('error', reject));
        failed.catch(() => undefined);
        const write = async (chunk: Buffer) => {
          options.signal?.throwIfAborted();
          if (!gzip.write(chunk)) await Promise.race([once(gzip, 'drain'), failed]);
        };
        const manifest: Manifest = {
          format: FORMAT_VERSION,
          server_version: meta[0]!.version,
          created_at: meta[0]!.now.toISOString(),
          modules,
          tables: [],
        };
        await write(MAGIC);
        await write(frame('H', JSON.stringify({ format: FORMAT_VERSION, server_version: manifest.server_version, created_at: manifest.created_at, modules })));
        for (const module of Object.keys(modules) as Module[]) {
          for (const table of MODULE_TABLES[module] ?? []) {
            const entry = await copyTable(client, table, write);
            manifest.tables.push(entry);
            options.onTable?.(entry);
          }
        }
        await write(frame('M', JSON.stringify(manifest)));
        gzip.end();
        await Promise.race([finished(output), failed]);
        return { manifest, written };
      },
      'BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY',
    );
    // The last moment an interruption undoes the backup; commitFile is synchronous, so none comes during it.
    options.signal?.throwIfAborted();
    commitFile(partial, file);
    return { file, bytes: written, manifest };
  } catch (error) {
    // A failed COPY can leave the connection mid-protocol: it is closed, not pooled.
    failure = error instanceof Error ? error : new Error(String(error));
    rmSync(partial, { force: true });
    if ((error as NodeJS.ErrnoException).code === 'ENOSPC') {
      throw new ConfigError(`backup failed: no space left on the device of ${options.outDir}; nothing was kept`);
    }
    throw mapDatabaseError(error);
  } finally {
    client.release(failure);
  }
}

const DATA_FRAME_BYTES = 1 << 20;

async function copyTable(client: pg.PoolClient, table: string, write: (chunk: Buffer) => Promise<void>): Promise<TableEntry> {
  const shape = await tableShape(client, table);
  await write(frame('T', JSON.stringify({ name: table, columns: shape.columns })));
  // COPY hands over chunks of a few kB; a frame of about a megabyte costs one copy, one write to gzip.
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const flush = async () => {
    if (pendingBytes === 0) return;
    const payload = pending;
    pending = [];
    pendingBytes = 0;
    await write(frame('D', payload));
  };
  const digest = await digestCopyOut(client, shape, async (chunk) => {
    pending.push(chunk);
    pendingBytes += chunk.length;
    if (pendingBytes >= DATA_FRAME_BYTES) await flush();
  });
  await flush();
  const entry = { name: table, columns: shape.columns, ...digest };
  await write(frame('E', JSON.stringify(entry)));
  return entry;
}

/**
 * Row-level security is forced on the IVR tables, even for their owner: a role that neither is superuser nor
 * bypasses RLS would back up zero rows without an error. Refuse rather than write an empty-looking backup.
 */
async function assertSeesEveryRow(client: pg.PoolClient): Promise<void> {
  const { rows } = await client.query<{ ok: boolean }>(`SELECT rolsuper OR rolbypassrls AS ok FROM pg_roles WHERE rolname = current_user`);
  const { rows: ivr } = await client.query(`SELECT 1 FROM pg_class WHERE relname = 'v_voice_ai_providers' AND relforcerowsecurity`);
  if (ivr.length && !rows[0]?.ok) {
    throw new ConfigError('backups of the IVR tables need a superuser or a role with BYPASSRLS (row-level security would hide rows)');
  }
}
