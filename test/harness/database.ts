import { randomBytes } from 'node:crypto';
import { after } from 'node:test';
import type { Kysely } from 'kysely';
import { createKysely } from '../../src/db/typed-errors.ts';
import pg from 'pg';
import { createPool } from '../../src/db/pool.ts';
import { pgConnectionOptions } from '../../src/db/tls.ts';
import type { DB } from '../../src/db/schema.ts';
import { createLogger } from '../../src/logger.ts';

export const TEMPLATE_DATABASE = 'mordomo_template';

export interface TestDatabase {
  db: Kysely<DB>;
  pool: pg.Pool;
  url: string;
  name: string;
}

export function adminUrl(): string {
  const url = process.env.TEST_ADMIN_URL;
  if (!url) throw new Error('TEST_ADMIN_URL is not set: run the tests with `npm test`, which starts PostgreSQL');
  return url;
}

export function urlFor(database: string): string {
  const url = new URL(adminUrl());
  url.pathname = `/${database}`;
  return url.toString();
}

/** The same database as the runtime role (`mordomo_app`), as the service and the library connect. */
export function runtimeUrlFor(database: string): string {
  const url = new URL(urlFor(database));
  url.username = 'mordomo_app';
  url.password = process.env.TEST_RUNTIME_PASSWORD ?? '';
  return url.toString();
}

export function adminQuery<T extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]) {
  return queryOnce<T>(adminUrl(), text, values);
}

/** One statement on a connection of its own to `url` (its TLS parameters read as the package reads them). */
export async function queryOnce<T extends pg.QueryResultRow = pg.QueryResultRow>(url: string, text: string, values?: unknown[]): Promise<pg.QueryResult<T>> {
  const client = new pg.Client(pgConnectionOptions(url));
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await client.query<T>(text, values);
  } finally {
    await client.end();
  }
}

/**
 * A database of this test file's own, cloned from the migrated template, closed after the file's tests. Its
 * name starts with the file's so that one kept after a failure is easy to find.
 */
export async function testDatabase(label: string, options: { template?: string } = {}): Promise<TestDatabase> {
  const name = `t_${label
    .replace(/[^a-z0-9]/gi, '_')
    .toLowerCase()
    .slice(0, 40)}_${randomBytes(3).toString('hex')}`;
  await adminQuery(`CREATE DATABASE ${name} TEMPLATE ${options.template ?? TEMPLATE_DATABASE}`);
  const url = urlFor(name);
  const pool = createPool(
    url,
    { min: 0, max: 10, connectionTimeoutMs: 10_000, statementTimeoutMs: 30_000, idleTimeoutMs: 10_000, applicationName: 'mordomo-db-test' },
    createLogger('silent'),
  );
  const db = createKysely(pool, { idempotencySecret: 'the test files’ idempotency secret' });
  after(async () => {
    await db.destroy();
    if (!pool.ended) await pool.end();
  });
  return { db, pool, url, name };
}
