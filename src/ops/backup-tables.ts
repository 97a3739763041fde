import { createHash } from 'node:crypto';
import type pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import type { Module } from '../config.ts';
import { quoteIdentifier } from '../db/identifiers.ts';

/** The tables each module owns, parents before children, so a restore in this order satisfies foreign keys. */
export const MODULE_TABLES: Record<Module, string[]> = {
  core: ['users', 'conversations', 'messages', 'actions', 'reminders', 'system_logs', 'config'],
  ivr: [
    'v_domains',
    'v_voice_ai_providers',
    'v_voice_secretaries',
    'v_voice_conversations',
    'v_voice_messages',
    'v_voice_documents',
    'v_voice_transfer_rules',
    'mordomo_api_keys',
  ],
};

export interface TableShape {
  name: string;
  /** Stored columns; generated ones are recomputed on restore and cannot be copied in. */
  columns: string[];
  primaryKey: string[];
}

const SHAPE = `
SELECT a.attname AS column, a.attnum, a.attnum = ANY (i.indkey) AS in_key, array_position(i.indkey::int2[], a.attnum) AS key_position
  FROM pg_attribute a
  LEFT JOIN pg_index i ON i.indrelid = a.attrelid AND i.indisprimary
 WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
 ORDER BY a.attnum`;

export async function tableShape(client: pg.ClientBase, table: string): Promise<TableShape> {
  const { rows } = await client.query<{ column: string; in_key: boolean; key_position: number | null }>(SHAPE, [table]);
  const primaryKey = rows
    .filter((r) => r.in_key)
    .sort((a, b) => (a.key_position ?? 0) - (b.key_position ?? 0))
    .map((r) => r.column);
  return { name: table, columns: rows.map((r) => r.column), primaryKey };
}

/**
 * The COPY that produces a table's content. In physical order, not by primary key: a uuid key's order is random, and
 * sorting by it made backups slower and ~75% larger after gzip. A restore loads rows in the order of the backup, so
 * re-reading the restored table the same way gives the same bytes: that is how verify compares checksums.
 */
export function copyOutSql(shape: TableShape): string {
  const columns = shape.columns.map(quoteIdentifier).join(', ');
  return `COPY (SELECT ${columns} FROM ${quoteIdentifier(shape.name)}) TO STDOUT`;
}

export function copyInSql(shape: TableShape): string {
  return `COPY ${quoteIdentifier(shape.name)} (${shape.columns.map(quoteIdentifier).join(', ')}) FROM STDIN`;
}

/**
 * Session settings that make COPY text output identical on any server (time zone, date and float formats), and
 * table scans start at the table's first block (a synchronised scan may start in the middle).
 */
export const CANONICAL_OUTPUT = `SET LOCAL TimeZone = 'UTC'; SET LOCAL DateStyle = 'ISO, YMD'; SET LOCAL IntervalStyle = 'postgres';
                                 SET LOCAL extra_float_digits = 3; SET LOCAL bytea_output = 'hex';
                                 SET LOCAL synchronize_seqscans = off`;

/** Modules whose migrations are recorded in this database, with their latest version. */
export async function installedModules(client: pg.ClientBase): Promise<Record<string, number>> {
  const { rows } = await client.query<{ module: string; version: number }>(
    'SELECT module, max(version)::int AS version FROM mordomo_migrations GROUP BY module ORDER BY module',
  );
  return Object.fromEntries(rows.map((r) => [r.module, r.version]));
}

export interface CopyDigest {
  rows: number;
  bytes: number;
  sha256: string;
}

/**
 * Streams a table's canonical COPY, handing each chunk to `onChunk`, and returns its row count and checksum: the
 * one definition both the backup (when writing) and verify (when re-reading restored data) must agree on.
 */
export async function digestCopyOut(client: pg.ClientBase, shape: TableShape, onChunk?: (chunk: Buffer) => Promise<void>): Promise<CopyDigest> {
  const hash = createHash('sha256');
  let rows = 0;
  let bytes = 0;
  for await (const chunk of client.query(copyTo(copyOutSql(shape))) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    bytes += chunk.length;
    // COPY text escapes newlines inside values, so every row ends with exactly one newline byte.
    for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) rows++;
    await onChunk?.(chunk);
  }
  return { rows, bytes, sha256: hash.digest('hex') };
}
