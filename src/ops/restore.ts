import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import pg from 'pg';
import { query } from '../db/client.ts';
import { from as copyFrom } from 'pg-copy-streams';
import type { Module } from '../config.ts';
import { ConfigError, ConflictError, mapDatabaseError, MordomoError, NotFoundError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { whereLoadFailed, type PgLoadError } from './restore-failures.ts';
import { buildPendingIndexes, type IndexDefinition, queueIndexBuilds } from '../migrate/pending-indexes.ts';
import { migrate } from '../migrate/runner.ts';
import { BackupFormatError, type Frame, frameAt, type ReadPosition, readFrames } from './backup-format.ts';
import { BackupSequence } from './backup-sequence.ts';
import { checkBackupFile } from './backup-files.ts';
import type { Manifest, TableEntry } from './backup.ts';
import { CANONICAL_OUTPUT, copyInSql, digestCopyOut, MODULE_TABLES, tableShape } from './backup-tables.ts';
import { quoteIdentifier } from '../db/identifiers.ts';
import { withClient } from '../db/client.ts';
import { ROLLUP_TABLES } from './rollups.ts';
import { FORGET_SEARCH_WORDS } from './search-words.ts';
import { surviveLostConnections, TYPES, WITHOUT_STATEMENT_TIMEOUT } from '../db/pool.ts';
import { inClientTransaction } from '../db/transaction.ts';
import { pgConnectionOptions } from '../db/tls.ts';

export interface RestoreOptions {
  /** Replace the data of a database that already holds some. */
  force?: boolean;
  onTable?: (entry: TableEntry) => void;
  /** Called as each index is built, after the data is in. */
  onIndex?: (name: string, ms: number) => void;
  /**
   * Aborted, the restore stops where it is and rolls back (its connection is closed, which also ends a statement
   * waiting on a lock); once its transaction has committed the restore is complete, and an abort changes nothing.
   */
  signal?: AbortSignal;
  /** Called once the data's transaction has committed: from then on the restore is done, whatever comes. */
  onCommitted?: () => void;
}

/** Indexes built at once after the data is in: one per core of the machines this is made for. */
const INDEX_BUILDERS = 2;

/** The frames of a backup file; gzip's own CRC and our framing both reject a damaged or cut file. */
async function* frames(file: string, position: ReadPosition = { number: 1, offset: 0 }): AsyncGenerator<Frame> {
  const input = createReadStream(file);
  const gunzip = createGunzip({ chunkSize: 256 * 1024 });
  // pipe() does not forward errors: a missing or unreadable file must end the stream, not leave it waiting.
  input.on('error', (error) => gunzip.destroy(error));
  try {
    yield* readFrames(input.pipe(gunzip), position);
  } catch (error) {
    if (error instanceof MordomoError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new NotFoundError(`backup file ${file} not found`);
    if (code?.startsWith('Z_') || /unexpected end of file|incorrect header check/i.test(String(error))) {
      const at = position.offset > 0 ? ` at ${frameAt(position.number, position.offset)}` : '';
      const why = /unexpected end of file/i.test(String(error)) ? 'the compressed file is cut short' : 'the compressed data is damaged';
      throw new BackupFormatError(`corrupt or truncated backup ${file}${at}: ${why} (gzip: ${(error as Error).message})`);
    }
    throw error;
  } finally {
    input.destroy();
  }
}

async function assertEmpty(pool: pg.Pool, modules: Module[]): Promise<void> {
  for (const table of modules.flatMap((m) => MODULE_TABLES[m])) {
    const exists = (await pool.query('SELECT to_regclass($1) AS t', [table])).rows[0].t;
    if (!exists) continue;
    // The migration's own config defaults (never changed by anyone) do not count as data.
    const filter = table === 'config' ? ' WHERE updated_by IS NOT NULL' : '';
    const { rows } = await pool.query(`SELECT EXISTS (SELECT 1 FROM ${quoteIdentifier(table)}${filter}) AS has_rows`);
    if (rows[0].has_rows) {
      throw new ConflictError(
        `the target database is not empty (table ${table} has rows): restore into an empty database, or pass --force to replace its data`,
      );
    }
  }
}

/**
 * Restores a backup into the database of `pool`: migrations of the backed-up modules first, then every table in
 * one transaction with triggers off (counters such as message_count come from the backup, not re-counted), then
 * sequences. Each table's rows and checksum are checked against the backup as they load; any failure rolls back.
 * Keys, unique indexes and foreign keys are back before that transaction commits; the other indexes are queued in
 * it and built after, two at a time (a crash leaves them queued for the next start, see migrate/pending-indexes.ts).
 */
export async function restoreBackup(pool: pg.Pool, file: string, logger: Logger, options: RestoreOptions = {}): Promise<Manifest> {
  // Checks and migrations before the load takes its connection: the migration runner takes one of its own, and
  // with a pool of one (a library user may pass any) holding ours meanwhile would wait forever.
  checkBackupFile(file);
  const { rows: su } = await query<{ ok: boolean }>(pool, 'SELECT rolsuper AS ok FROM pg_roles WHERE rolname = current_user');
  if (!su[0]?.ok) throw new ConfigError('restore needs a superuser: it loads rows with triggers off so that counters are not counted twice');
  const modules = await backedUpModules(file);
  if (!options.force) await assertEmpty(pool, modules);
  await migrate(pool, modules, logger);
  options.signal?.throwIfAborted();
  const manifest = await loadBackup(pool, file, modules, options);
  options.onCommitted?.();
  try {
    await buildPendingIndexes(pool, INDEX_BUILDERS, { onIndex: options.onIndex });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new MordomoError(
      'unavailable',
      `the data of the backup is restored, but building its indexes stopped (${reason}); the rest are built by the next mordomo-db command or service start`,
    );
  }
  return manifest;
}

/** A T, E or M frame's record; one whose JSON is damaged is refused by its place. */
function recordOf<T>(frame: Frame): T {
  try {
    return JSON.parse(frame.payload.toString()) as T;
  } catch {
    throw new BackupFormatError(`damaged backup: ${frameAt(frame.number, frame.offset)}: its ${frame.type} record is not valid JSON`);
  }
}

/** The modules a backup holds, from its header. */
async function backedUpModules(file: string): Promise<Module[]> {
  for await (const { type, payload } of frames(file)) {
    if (type !== 'H') break;
    const header = JSON.parse(payload.toString()) as Pick<Manifest, 'format' | 'modules'>;
    if (header.format !== 1) throw new BackupFormatError(`backup format ${header.format} is newer than this mordomo-db understands`);
    return Object.keys(header.modules) as Module[];
  }
  throw new BackupFormatError('corrupt backup: it does not start with its header');
}

async function loadBackup(pool: pg.Pool, file: string, modules: Module[], options: RestoreOptions): Promise<Manifest> {
  // One connection for the transaction and its COPY streams.
  const client = await pool.connect();
  let failure: Error | undefined;
  const sequence = new BackupSequence(modules.flatMap((m) => MODULE_TABLES[m]));
  // The data frame last written to the open COPY, which a failure of that COPY (reported late) is found at.
  let dataFrame: string | undefined;
  // The COPY's own failure, the reason to report: a write after it fails too, with a stream already destroyed.
  let copyFailure: Error | undefined;
  let inTransaction = false;
  let current:
    | {
        entry: Pick<TableEntry, 'name' | 'columns'>;
        stream: ReturnType<typeof copyFrom>;
        hash: ReturnType<typeof createHash>;
        done: Promise<void>;
        rebuild: string[];
        staged?: () => Promise<void>;
      }
    | undefined;
  // An interruption closes the connection: whatever runs on it (a COPY, a statement waiting on a lock) fails at
  // once, and the server rolls back a transaction whose client is gone.
  let committing = false;
  const interrupt = () => {
    if (committing) return;
    client.on('error', () => undefined); // the loss this causes is expected; the statement running fails with it
    (client as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
  };
  options.signal?.addEventListener('abort', interrupt, { once: true });
  try {
    options.signal?.throwIfAborted();
    const loaded: TableEntry[] = [];
    let manifest: Manifest | undefined;
    const position: ReadPosition = { number: 1, offset: 0 };
    for await (const frame of frames(file, position)) {
      options.signal?.throwIfAborted();
      const { type, payload } = frame;
      sequence.next(frame, type === 'T' || type === 'E' ? recordOf<{ name: string }>(frame).name : undefined);
      if (type === 'H') {
        await client.query('BEGIN');
        inTransaction = true;
        await client.query(`SET LOCAL session_replication_role = replica`);
        await client.query(WITHOUT_STATEMENT_TIMEOUT);
        await client.query(`SET LOCAL maintenance_work_mem = '256MB'`);
        await quietServerLog(client);
        const tables = modules
          .flatMap((m) => MODULE_TABLES[m])
          .map(quoteIdentifier)
          .join(', ');
        await client.query(`TRUNCATE ${tables} CASCADE`);
        // Sums of the replaced messages: reports read the restored messages until the rollups job runs again.
        if (modules.includes('core')) {
          await client.query(`TRUNCATE ${ROLLUP_TABLES.join(', ')}`);
          // And the search's typo vocabulary: the search-words job learns it again from every restored message.
          await client.query(FORGET_SEARCH_WORDS);
        }
      } else if (type === 'T') {
        const entry = recordOf<Pick<TableEntry, 'name' | 'columns'>>(frame);
        const shape = await tableShape(client, entry.name);
        const rebuild = await dropForLoad(client, entry.name);
        const staged = await stageForDerivedColumn(client, entry);
        const stream = client.query(copyFrom(copyInSql({ ...shape, name: staged ? 'restore_staging' : entry.name, columns: entry.columns })));
        const done = new Promise<void>((resolve, reject) => stream.on('finish', resolve).on('error', reject));
        stream.on('error', (copyError: Error) => (copyFailure ??= copyError));
        done.catch(() => undefined);
        current = { entry, stream, hash: createHash('sha256'), done, rebuild, staged };
      } else if (type === 'D' && current) {
        dataFrame = sequence.where();
        current.hash.update(payload);
        // once() also rejects when the COPY fails (bad data), where waiting for 'drain' alone would hang.
        if (!current.stream.write(payload)) await once(current.stream, 'drain');
      } else if (type === 'E' && current) {
        const expected = recordOf<TableEntry>(frame);
        current.stream.end();
        await current.done;
        const rows = Number(current.stream.rowCount);
        const sha256 = current.hash.digest('hex');
        if (rows !== expected.rows || sha256 !== expected.sha256) {
          throw sequence.damaged(
            `checksum mismatch: its ${sequence.dataFrames} data frames hold ${rows} rows (sha-256 ${sha256.slice(0, 12)}), where ${expected.rows} (${expected.sha256.slice(0, 12)}) are recorded: a data frame of table ${expected.name} is missing or damaged`,
          );
        }
        await current.staged?.();
        for (const statement of current.rebuild) await client.query(statement);
        loaded.push(expected);
        options.onTable?.(expected);
        sequence.endTable();
        current = undefined;
        dataFrame = undefined;
      } else if (type === 'M') {
        manifest = recordOf<Manifest>(frame);
        const missing = manifest.tables.filter((t) => !loaded.some((l) => l.name === t.name)).map((t) => t.name);
        if (missing.length) throw sequence.damaged(`missing: the manifest lists table ${missing.join(', ')}, whose frames are not in the file`);
        const names = (entries: TableEntry[]) => entries.map((t) => `${t.name}:${t.rows}:${t.sha256}`).join(',');
        if (names(manifest.tables) !== names(loaded)) throw sequence.damaged('checksum mismatch: the manifest does not match the tables read');
      }
    }
    sequence.finish(position);
    options.signal?.throwIfAborted();
    // Committed only once the file was read to its end: gzip checks its trailer (CRC and length) last, and a file
    // whose trailer was cut off holds every record yet is not the file the backup wrote.
    if (!manifest) throw new BackupFormatError('truncated backup: no manifest at the end');
    await resetSequences(
      client,
      loaded.map((t) => t.name),
    );
    committing = true;
    await client.query('COMMIT');
    inTransaction = false;
    return manifest;
  } catch (error) {
    // A failed COPY can leave the connection mid-protocol: it is closed, not pooled.
    failure = error instanceof Error ? error : new Error(String(error));
    const reason = error instanceof MordomoError ? error : (copyFailure ?? error);
    // A COPY still open must be failed first (CopyFail), or the ROLLBACK would wait behind it forever.
    if (current && !current.stream.errored && !current.stream.destroyed) {
      current.stream.destroy(new Error('restore aborted'));
    }
    if (current) await current.done.catch(() => undefined);
    if (inTransaction) await client.query('ROLLBACK').catch(() => undefined);
    if (options.signal?.aborted) throw options.signal.reason;
    // gzip checks its CRC only at the end of the stream, so damaged bytes can reach COPY first and fail there.
    if (current && !(reason instanceof MordomoError) && /^2[23]|^XX/.test((reason as { code?: string }).code ?? '')) {
      const found = dataFrame ? ` (found at ${dataFrame})` : '';
      throw new BackupFormatError(`corrupt backup: table ${current.entry.name} could not be loaded: ${whereLoadFailed(reason as PgLoadError)}${found}`);
    }
    throw mapDatabaseError(reason);
  } finally {
    options.signal?.removeEventListener('abort', interrupt);
    client.release(failure);
  }
}

/**
 * Takes off a table what a bulk load would otherwise maintain row by row and returns the statements that put back,
 * after the load and in the same transaction, what guards the data: its primary key and unique constraints, its
 * unique indexes, then the foreign keys of other tables that hang on its keys. Its other indexes are queued, to be
 * built after the commit. Building each once over the loaded rows is how pg_restore loads, and much faster: a uuid
 * primary key kept during the load takes every row at a random leaf, one built after sorts them once (figures:
 * bench/README.md, backup). All inside
 * the restore's transaction: a failure brings everything back with the rest, the queue included.
 */
async function dropForLoad(client: pg.ClientBase, table: string): Promise<string[]> {
  const keys = await dropKeys(client, table);
  const indexes = await dropSecondaryIndexes(client, table);
  await queueIndexBuilds(
    client,
    table,
    indexes.filter((i) => !i.unique),
  );
  return [...keys.constraints, ...indexes.filter((i) => i.unique).map((i) => i.definition), ...keys.foreignKeys];
}

/**
 * Drops a plain table's primary key and unique constraints, and first the foreign keys that reference them. The
 * referencing tables come later in the restore's order, so they are still empty when their foreign keys are added
 * back. Something else that depends on a key (a view grouping by it) keeps the key in place rather than being
 * dropped with it. Partitioned tables keep theirs: one statement would rebuild every partition's index.
 */
async function dropKeys(client: pg.ClientBase, table: string): Promise<{ constraints: string[]; foreignKeys: string[] }> {
  const { rows: keys } = await client.query<{ name: string; definition: string }>(
    `SELECT k.conname AS name, pg_get_constraintdef(k.oid) AS definition
       FROM pg_constraint k JOIN pg_class t ON t.oid = k.conrelid
      WHERE k.conrelid = $1::regclass AND k.contype IN ('p', 'u') AND t.relkind = 'r'`,
    [table],
  );
  if (!keys.length) return { constraints: [], foreignKeys: [] };
  const { rows: references } = await client.query<{ table_name: string; name: string; definition: string }>(
    `SELECT f.conrelid::regclass::text AS table_name, f.conname AS name, pg_get_constraintdef(f.oid) AS definition
       FROM pg_constraint f
      WHERE f.contype = 'f' AND f.conparentid = 0 AND f.confrelid = $1::regclass
        AND f.conindid IN (SELECT k.conindid FROM pg_constraint k WHERE k.conrelid = $1::regclass AND k.contype IN ('p', 'u'))`,
    [table],
  );
  await client.query('SAVEPOINT drop_keys');
  try {
    for (const f of references) await client.query(`ALTER TABLE ${f.table_name} DROP CONSTRAINT ${quoteIdentifier(f.name)}`);
    for (const k of keys) await client.query(`ALTER TABLE ${quoteIdentifier(table)} DROP CONSTRAINT ${quoteIdentifier(k.name)}`);
    await client.query('RELEASE SAVEPOINT drop_keys');
  } catch (error) {
    if ((error as { code?: string }).code !== '2BP01') throw error; // dependent_objects_still_exist
    await client.query('ROLLBACK TO SAVEPOINT drop_keys');
    return { constraints: [], foreignKeys: [] };
  }
  return {
    constraints: keys.map((k) => `ALTER TABLE ${quoteIdentifier(table)} ADD CONSTRAINT ${quoteIdentifier(k.name)} ${k.definition}`),
    foreignKeys: references.map((f) => `ALTER TABLE ${f.table_name} ADD CONSTRAINT ${quoteIdentifier(f.name)} ${f.definition}`),
  };
}

/** Drops a table's indexes that back no constraint and returns their definitions. */
async function dropSecondaryIndexes(client: pg.ClientBase, table: string): Promise<Array<IndexDefinition & { unique: boolean }>> {
  const { rows } = await client.query<{ name: string; definition: string; unique: boolean }>(
    `SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS definition, i.indisunique AS unique
       FROM pg_index i
      WHERE i.indrelid = $1::regclass
        AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
        AND NOT EXISTS (SELECT 1 FROM pg_inherits h WHERE h.inhrelid = i.indexrelid)`,
    [table],
  );
  for (const { name } of rows) await client.query(`DROP INDEX ${name}`);
  // A partitioned table's index is shown "ON ONLY" the parent; rebuilt that way its partitions would get none.
  return rows.map((r) => ({ ...r, definition: r.definition.replace(' ON ONLY ', ' ON ') }));
}

/**
 * Columns the database derives from other rows, which a backup taken before they existed does not hold: loaded
 * with triggers off, they would stay empty. Such a table's rows go through a staging table and are inserted in
 * the backup's order (a fill by UPDATE would move them, and verify re-reads tables in physical order).
 */
const DERIVED_COLUMNS: Record<string, { column: string; value: string }> = {
  // migrations/core/013: a message's user is its conversation's.
  messages: { column: 'user_id', value: '(SELECT c.user_id FROM conversations c WHERE c.id = s.conversation_id)' },
};

async function stageForDerivedColumn(client: pg.ClientBase, entry: Pick<TableEntry, 'name' | 'columns'>): Promise<(() => Promise<void>) | undefined> {
  const derived = DERIVED_COLUMNS[entry.name];
  if (!derived || entry.columns.includes(derived.column)) return undefined;
  await client.query(`CREATE TEMP TABLE restore_staging (LIKE ${quoteIdentifier(entry.name)} INCLUDING DEFAULTS) ON COMMIT DROP`);
  // Column names come from the backup file: quoted, and any that is not the table's fails the COPY first.
  const columns = entry.columns.map(quoteIdentifier);
  return async () => {
    await client.query(
      `INSERT INTO ${quoteIdentifier(entry.name)} (${columns.join(', ')}, ${quoteIdentifier(derived.column)})
       SELECT ${columns.map((c) => `s.${c}`).join(', ')}, ${derived.value} FROM restore_staging s`,
    );
    await client.query('DROP TABLE restore_staging');
  };
}

/** Serial and identity sequences continue after the restored rows, or the next insert would collide. */
async function resetSequences(client: pg.ClientBase, tables: string[]): Promise<void> {
  const { rows } = await client.query<{ table_name: string; column_name: string; sequence: string }>(
    `SELECT c.relname AS table_name, a.attname AS column_name, pg_get_serial_sequence(quote_ident(c.relname), a.attname) AS sequence
       FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
      WHERE c.relname = ANY ($1) AND pg_get_serial_sequence(quote_ident(c.relname), a.attname) IS NOT NULL`,
    [tables],
  );
  for (const row of rows) {
    await client.query(
      `SELECT setval($1, COALESCE((SELECT max("${row.column_name}") FROM "${row.table_name}"), 1), (SELECT count(*) > 0 FROM "${row.table_name}"))`,
      [row.sequence],
    );
  }
}

export interface VerifyResult {
  ok: boolean;
  tables: Array<{ name: string; rows: number; expectedRows: number; match: boolean }>;
  error?: string;
}

/**
 * Checksums of the data as it now sits in a database, in the backup's canonical form: of every stored column, or
 * of the columns a backup holds (one taken before a column was added by a later migration).
 */
export async function tableChecksums(
  client: pg.ClientBase,
  tables: Array<string | Pick<TableEntry, 'name' | 'columns'>>,
): Promise<Map<string, { rows: number; sha256: string }>> {
  const result = new Map<string, { rows: number; sha256: string }>();
  await inClientTransaction(
    client,
    async () => {
      await client.query(WITHOUT_STATEMENT_TIMEOUT);
      await client.query(CANONICAL_OUTPUT);
      for (const table of tables) {
        const shape = typeof table === 'string' ? await tableShape(client, table) : { ...table, primaryKey: [] };
        const { rows, sha256 } = await digestCopyOut(client, shape);
        result.set(shape.name, { rows, sha256 });
      }
    },
    'BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY',
  );
  return result;
}

/**
 * Proves a backup restores: loads it into a scratch database on the same server, recomputes every table's row
 * count and checksum from the loaded data, compares them with the manifest, and drops the scratch database.
 */
export async function verifyBackup(
  databaseUrl: string,
  file: string,
  logger: Logger,
  progress: Pick<RestoreOptions, 'onTable' | 'onIndex' | 'signal'> = {},
): Promise<VerifyResult> {
  // A file that is not there is an error of the caller's, not a failed verification: nothing is created for it.
  checkBackupFile(file);
  const admin = new URL(databaseUrl);
  admin.pathname = '/postgres';
  const scratchName = `mordomo_verify_${randomBytes(4).toString('hex')}`;
  const scratch = new URL(databaseUrl);
  scratch.pathname = `/${scratchName}`;
  const adminClient = new pg.Client(pgConnectionOptions(admin.toString()));
  adminClient.on('error', () => undefined);
  await adminClient.connect();
  const pool = new pg.Pool({ ...pgConnectionOptions(scratch.toString()), max: 2, types: TYPES });
  // A connection lost mid-verification fails the statement that runs next, which fails the verification.
  // pool.end() returns before its sockets close; DROP DATABASE ... WITH (FORCE) then terminates them. Expected too.
  surviveLostConnections(pool, () => undefined);
  try {
    await adminClient.query(`CREATE DATABASE ${scratchName}`);
    let manifest: Manifest;
    try {
      manifest = await restoreBackup(pool, file, logger, progress);
    } catch (error) {
      if (error instanceof BackupFormatError || error instanceof NotFoundError) return { ok: false, tables: [], error: error.message };
      throw error;
    }
    progress.signal?.throwIfAborted();
    // One session reads every table's checksum in one snapshot.
    const actual = await withClient(pool, (client) => tableChecksums(client, manifest.tables));
    const tables = manifest.tables.map((t) => {
      const found = actual.get(t.name)!;
      return { name: t.name, rows: found.rows, expectedRows: t.rows, match: found.rows === t.rows && found.sha256 === t.sha256 };
    });
    progress.signal?.throwIfAborted();
    return { ok: tables.every((t) => t.match), tables };
  } finally {
    await pool.end();
    await adminClient.query(`DROP DATABASE IF EXISTS ${scratchName} WITH (FORCE)`).catch(() => undefined);
    await adminClient.end();
  }
}

/**
 * A refused row's ERROR line and its COPY context in the server's log would quote the row's value. A superuser
 * (the embedded server's, or an owner granted the setting) logs this transaction's errors no more; for another
 * role the setting is refused and the log stays as the server is configured.
 */
async function quietServerLog(client: pg.PoolClient): Promise<void> {
  await client.query('SAVEPOINT quiet_log');
  try {
    await client.query("SET LOCAL log_min_messages = 'fatal'");
    await client.query('RELEASE SAVEPOINT quiet_log');
  } catch {
    await client.query('ROLLBACK TO SAVEPOINT quiet_log');
  }
}
