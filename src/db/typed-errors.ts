import {
  type CompiledQuery,
  type DatabaseConnection,
  type DatabaseIntrospector,
  type Dialect,
  type DialectAdapter,
  type Driver,
  Kysely,
  PostgresDialect,
  type QueryCompiler,
  type QueryResult,
  type TransactionSettings,
} from 'kysely';
import type pg from 'pg';
import { mapDatabaseError } from '../errors.ts';
import { fingerprintKeyPlugin } from './fingerprints.ts';
import type { DB } from './schema.ts';

/**
 * A Kysely over `pool` whose every failure is a typed error (errors.ts): statements, streams, and the connection and
 * transaction work around them (a refused connection while a transaction begins is a 503, not a raw ECONNREFUSED).
 * This is where the library's queries execute, so errors are mapped here once rather than at each call site.
 */
export function createKysely(pool: pg.Pool, options: KyselyOptions = {}): Kysely<DB> {
  const plugins = options.idempotencySecret === undefined ? [] : [fingerprintKeyPlugin(options.idempotencySecret)];
  return new Kysely<DB>({ dialect: new TypedErrorsDialect(new PostgresDialect({ pool })), plugins });
}

/** What else a Kysely of the package's carries. */
export interface KyselyOptions {
  /**
   * The secret that keys idempotency fingerprints (MORDOMO_IDEMPOTENCY_SECRET, or the file openDatabase keeps): calls
   * with an idempotency key need it, and every process sharing a database must use the same one. A function is
   * called once, when a keyed call first needs the secret.
   */
  idempotencySecret?: string | (() => string);
}

/** Runs `work`, rethrowing its failure as a typed error. */
async function typed<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw mapDatabaseError(error);
  }
}

class TypedErrorsDialect implements Dialect {
  constructor(private readonly inner: Dialect) {}
  createDriver(): Driver {
    return new TypedErrorsDriver(this.inner.createDriver());
  }
  createQueryCompiler(): QueryCompiler {
    return this.inner.createQueryCompiler();
  }
  createAdapter(): DialectAdapter {
    return this.inner.createAdapter();
  }
  createIntrospector(db: Kysely<unknown>): DatabaseIntrospector {
    return this.inner.createIntrospector(db);
  }
}

/** The inner driver's connection behind each connection handed out, which the inner driver must get back. */
const innerOf = new WeakMap<DatabaseConnection, DatabaseConnection>();
/** One wrapper per pooled connection, made once rather than at every statement's acquire. */
const wrapperOf = new WeakMap<DatabaseConnection, TypedErrorsConnection>();

function wrap(inner: DatabaseConnection): TypedErrorsConnection {
  let wrapper = wrapperOf.get(inner);
  if (!wrapper) {
    wrapper = new TypedErrorsConnection(inner);
    wrapperOf.set(inner, wrapper);
    innerOf.set(wrapper, inner);
  }
  return wrapper;
}

class TypedErrorsConnection implements DatabaseConnection {
  constructor(private readonly inner: DatabaseConnection) {}
  executeQuery<R>(compiledQuery: CompiledQuery): Promise<QueryResult<R>> {
    return typed(() => this.inner.executeQuery<R>(compiledQuery));
  }
  async *streamQuery<R>(compiledQuery: CompiledQuery, chunkSize?: number): AsyncIterableIterator<QueryResult<R>> {
    try {
      yield* this.inner.streamQuery<R>(compiledQuery, chunkSize);
    } catch (error) {
      throw mapDatabaseError(error);
    }
  }
}

class TypedErrorsDriver implements Driver {
  constructor(private readonly inner: Driver) {}
  init(): Promise<void> {
    return typed(() => this.inner.init());
  }
  async acquireConnection(): Promise<DatabaseConnection> {
    return wrap(await typed(() => this.inner.acquireConnection()));
  }
  // The inner driver runs BEGIN, COMMIT and ROLLBACK through the connection given, whose failures are typed already.
  beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    return this.inner.beginTransaction(connection, settings);
  }
  commitTransaction(connection: DatabaseConnection): Promise<void> {
    return this.inner.commitTransaction(connection);
  }
  rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    return this.inner.rollbackTransaction(connection);
  }
  releaseConnection(connection: DatabaseConnection): Promise<void> {
    return this.inner.releaseConnection(innerOf.get(connection) ?? connection);
  }
  destroy(): Promise<void> {
    return this.inner.destroy();
  }
}
