import { readFileSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import { Cron } from 'croner';
import { z } from 'zod';
import { ConfigError } from './errors.ts';
import { isPostgresUrl } from './postgres-url.ts';

/**
 * The embedded server on the network: the addresses it listens on (MORDOMO_PG_LISTEN_ADDRESSES, 127.0.0.1 always
 * among them), its certificate (MORDOMO_PG_TLS_CERT_FILE / _KEY_FILE, ssl = on) and the client networks given
 * `hostssl … scram-sha-256` lines (MORDOMO_PG_CLIENT_NETWORKS), for normal and replication connections. Beyond
 * loopback only with a certificate: a password and the rows would otherwise cross the network in the clear.
 */
export interface PgNetwork {
  listenAddresses: string[];
  tls: { certFile: string; keyFile: string } | undefined;
  clientNetworks: string[];
}

/** 127.0.0.0/8, ::1 and localhost: the machine itself. */
function isLoopbackAddress(address: string): boolean {
  return address === 'localhost' || address === '::1' || (isIP(address) === 4 && address.startsWith('127.'));
}

/** A CIDR as pg_hba.conf takes it (10.0.0.0/24, fd00::/64, or one address, given its /32 or /128); undefined when it is not. */
function parseCidr(text: string): string | undefined {
  const [address, prefix, extra] = text.split('/');
  const family = isIP(address ?? '');
  if (extra !== undefined || !family) return undefined;
  const max = family === 4 ? 32 : 128;
  if (prefix === undefined) return `${address}/${max}`;
  if (!/^\d{1,3}$/.test(prefix) || Number(prefix) > max) return undefined;
  return `${address}/${Number(prefix)}`;
}

const commaList = (value: string) =>
  value
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean);

/**
 * Every setting of mordomo-db, parsed and validated in one place. Nothing else reads `process.env`:
 * commands pass their flags in `overrides`, which win over the environment.
 */
export interface Config {
  /** A server to manage instead of the embedded one, as its owner (migrations, backups, scheduled jobs). */
  databaseUrl: string | undefined;
  /**
   * With DATABASE_URL, the least-privileged login role the service and the library run as
   * (MORDOMO_RUNTIME_DATABASE_URL: a role granted `mordomo_app`); unset, they run as DATABASE_URL's role.
   */
  runtimeDatabaseUrl: string | undefined;
  /** Replicas for read-only work (DATABASE_REPLICA_URL, comma-separated), and how far behind one may be. */
  replicaUrls: string[];
  replicaMaxLagBytes: number;
  /** A replica whose replay is this far behind in time (with WAL received and not replayed) is out of rotation. */
  replicaMaxLagSeconds: number;
  /** Patroni's REST API on the cluster's nodes (MORDOMO_PATRONI_URL, comma-separated): doctor, replica status and /metrics show the cluster. */
  patroniUrls: string[];
  /** Password of the `mordomo` role; when absent on first start one is generated and kept in `passwordFile`. */
  postgresPassword: string | undefined;
  /** Root of everything the package keeps on disk (`pg/` data directory, password file). */
  dataDir: string;
  /** Port of the embedded server. */
  pgPort: number;
  /** OS user the embedded server runs as when this process is root (PostgreSQL refuses root). */
  pgOsUser: string;
  /** The embedded server's shared_buffers; undefined: a quarter of the machine's memory. */
  pgSharedBuffers: string | undefined;
  /** Who may reach the embedded server beyond this machine's own service (standbys, remote clients): see PgNetwork. */
  pgNetwork: PgNetwork;
  modules: Module[];
  /** Where `mordomo-db backup` writes and `backup list`/`prune` look (default: DATA_DIR/backups). */
  backupDir: string;
  /** The embedded server archives WAL here, for point-in-time recovery; undefined when turned off. */
  walArchiveDir: string | undefined;
  /** Backups older than this many days are pruned (the seed keeps 7). */
  backupRetentionDays: number;
  /** When the scheduler takes the nightly backup (cron, local time; the seed's 02:00). */
  backupCron: string;
  /** Schedules that replace jobs' own (MORDOMO_JOB_SCHEDULE), by job name. */
  jobSchedule: Record<string, string>;
  /** Delete conversations older than this many days (opt-in; undefined keeps everything). */
  conversationRetentionDays: number | undefined;
  /** Key of the IVR providers' encrypted config; from MORDOMO_ENCRYPTION_KEY or a 0600 MORDOMO_ENCRYPTION_KEY_FILE. */
  encryptionKey: string | undefined;
  /** The key to move to, only for `mordomo-db ivr rotate-key`. */
  newEncryptionKey: string | undefined;
  /**
   * The secret that keys idempotency fingerprints, from MORDOMO_IDEMPOTENCY_SECRET or a 0600
   * MORDOMO_IDEMPOTENCY_SECRET_FILE; when neither is set, the one generated once into `idempotencySecretFile`.
   */
  idempotencySecret: string | undefined;
  idempotencySecretFile: string;
  pool: PoolSettings;
  http: HttpSettings;
  /** MORDOMO_LOG_LEVEL; unset, `start` logs at info and other commands at warn. */
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent' | undefined;
  /** MORDOMO_LOG_FORMAT: `json` lines, `pretty` lines for people, or `auto` (pretty on a terminal, else JSON). */
  logFormat: 'json' | 'pretty' | 'auto';
}

/** A schema module: `core` (the Mordomo assistant) or `ivr` (the Voice AI IVR on FusionPBX). */
export type Module = 'core' | 'ivr';

export interface HttpSettings {
  host: string;
  port: number;
  /** Admin bearer token given by the operator; when absent one is generated once into `adminTokenFile`. */
  adminToken: string | undefined;
  adminTokenFile: string;
  /** Largest request body accepted, in bytes. */
  bodyLimit: number;
  /** Serve /metrics without the admin token (for a Prometheus on a private network, as in deploy/). */
  metricsPublic: boolean;
  /** HTTPS: the certificate chain and its key (a 0600 file), from MORDOMO_TLS_CERT_FILE / MORDOMO_TLS_KEY_FILE. */
  tls: { certFile: string; keyFile: string } | undefined;
  /** MORDOMO_HTTP_PLAINTEXT=1: plain HTTP off loopback is accepted, for a service behind a TLS-terminating proxy. */
  plaintextAccepted: boolean;
}

export interface PoolSettings {
  min: number;
  max: number;
  connectionTimeoutMs: number;
  statementTimeoutMs: number;
  idleTimeoutMs: number;
  applicationName: string;
}

const integer = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

function isCron(pattern: string): boolean {
  try {
    new Cron(pattern, { paused: true }).stop();
    return true;
  } catch {
    return false;
  }
}
const cronExpression = z.string().refine(isCron, 'must be a cron expression such as "0 2 * * *"');

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const schema = z.object({
  DATABASE_URL: z.string().refine(isPostgresUrl, 'must start with postgres:// or postgresql://').optional(),
  MORDOMO_RUNTIME_DATABASE_URL: z.string().refine(isPostgresUrl, 'must start with postgres:// or postgresql://').optional(),
  DATABASE_REPLICA_URL: z
    .string()
    .transform((value) =>
      value
        .split(',')
        .map((part) => part.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.string().regex(/^postgres(ql)?:\/\//, 'each must start with postgres:// or postgresql://')))
    .optional(),
  MORDOMO_REPLICA_MAX_LAG_BYTES: integer(0, 2 ** 40).default(16 * 1024 * 1024),
  MORDOMO_REPLICA_MAX_LAG_SECONDS: integer(1, 86_400).default(5),
  MORDOMO_PATRONI_URL: z
    .string()
    .transform((value) =>
      value
        .split(',')
        .map((part) => part.trim().replace(/\/+$/, ''))
        .filter(Boolean),
    )
    .pipe(z.array(z.string().regex(/^https?:\/\/[^/]+$/, 'each must be a Patroni REST API address such as http://10.0.0.1:8008')))
    .optional(),
  POSTGRES_PASSWORD: z.string().min(1).optional(),
  MORDOMO_DATA_DIR: z.string().min(1).default('./data'),
  MORDOMO_PG_PORT: integer(1, 65535).default(5432),
  // A size PostgreSQL reads for shared_buffers, in MB or GB.
  MORDOMO_PG_SHARED_BUFFERS: z
    .string()
    .regex(/^[1-9]\d{0,6}(MB|GB)$/, 'a size in MB or GB, like 512MB or 4GB')
    .optional(),
  MORDOMO_PG_LISTEN_ADDRESSES: z
    .string()
    .transform(commaList)
    .pipe(z.array(z.string().refine((a) => a === '*' || a === 'localhost' || isIP(a) !== 0, 'each must be an IP address of this machine, or *')))
    .optional(),
  MORDOMO_PG_TLS_CERT_FILE: z.string().min(1).optional(),
  MORDOMO_PG_TLS_KEY_FILE: z.string().min(1).optional(),
  MORDOMO_PG_CLIENT_NETWORKS: z
    .string()
    .transform((value, ctx) =>
      commaList(value).map((part) => {
        const cidr = parseCidr(part);
        if (!cidr) ctx.addIssue({ code: 'custom', message: `"${part}" is not a network: give CIDRs such as 10.0.0.0/24 or fd00::/64, comma-separated` });
        return cidr ?? '';
      }),
    )
    .optional(),
  MORDOMO_PG_OS_USER: z
    .string()
    .regex(/^[a-z_][a-z0-9_-]*$/, 'must be a plain user name')
    .default('postgres'),
  MORDOMO_MODULES: z
    .string()
    .default('core')
    .transform((value) =>
      value
        .split(',')
        .map((part) => part.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.enum(['core', 'ivr'])).min(1, 'name at least one module')),
  MORDOMO_BACKUP_DIR: z.string().min(1).optional(),
  // Fractions allowed (0.5 = 12 hours): a soak run compresses days into minutes.
  MORDOMO_BACKUP_RETENTION_DAYS: z.coerce.number().min(0.0001).max(3650).default(7),
  MORDOMO_WAL_ARCHIVE_DIR: z.string().min(1).optional(),
  MORDOMO_BACKUP_CRON: cronExpression.default('0 2 * * *'),
  MORDOMO_JOB_SCHEDULE: z
    .string()
    .transform((text, ctx) => {
      const schedule: Record<string, string> = {};
      for (const entry of text
        .split(';')
        .map((part) => part.trim())
        .filter(Boolean)) {
        const [name, pattern] = [entry.slice(0, entry.indexOf('=')).trim(), entry.slice(entry.indexOf('=') + 1).trim()];
        if (!entry.includes('=') || !/^[a-z-]+$/.test(name) || !isCron(pattern)) {
          ctx.addIssue({ code: 'custom', message: `"${entry}": give job=cron pairs separated by ";", like "rollups=*/2 * * * *; backup=*/10 * * * *"` });
          return z.NEVER;
        }
        schedule[name] = pattern;
      }
      return schedule;
    })
    .optional(),
  MORDOMO_CONVERSATION_RETENTION_DAYS: integer(1, 36500).optional(),
  MORDOMO_ENCRYPTION_KEY: z.string().min(16, 'must be at least 16 characters').optional(),
  MORDOMO_ENCRYPTION_KEY_FILE: z.string().min(1).optional(),
  MORDOMO_NEW_ENCRYPTION_KEY: z.string().min(16, 'must be at least 16 characters').optional(),
  MORDOMO_NEW_ENCRYPTION_KEY_FILE: z.string().min(1).optional(),
  MORDOMO_IDEMPOTENCY_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
  MORDOMO_IDEMPOTENCY_SECRET_FILE: z.string().min(1).optional(),
  MORDOMO_POOL_MIN: integer(0, 100).optional(),
  // A scheduled job holds a connection for its lock while the job works on another; with one, it would wait forever.
  MORDOMO_POOL_MAX: z.coerce
    .number()
    .int()
    .min(2, 'must be at least 2: a scheduled job holds one connection for its lock while it works on another')
    .max(100)
    .default(20),
  MORDOMO_CONNECT_TIMEOUT_MS: integer(100, 600_000).default(10_000),
  MORDOMO_STATEMENT_TIMEOUT_MS: integer(0, 86_400_000).default(30_000),
  MORDOMO_IDLE_TIMEOUT_MS: integer(0, 86_400_000).default(300_000),
  MORDOMO_APPLICATION_NAME: z.string().min(1).max(63).default('mordomo-db'),
  MORDOMO_HTTP_HOST: z.string().min(1).default('127.0.0.1'),
  MORDOMO_HTTP_PORT: integer(0, 65535).default(8080),
  MORDOMO_ADMIN_TOKEN: z
    .string()
    .min(24, 'must be at least 24 characters')
    .max(256)
    .regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces')
    .optional(),
  MORDOMO_ADMIN_TOKEN_FILE: z.string().min(1).optional(),
  MORDOMO_HTTP_BODY_LIMIT: integer(1024, 64 * 1024 * 1024).default(4 * 1024 * 1024),
  MORDOMO_METRICS_PUBLIC: z.enum(['true', 'false'], { message: 'must be true or false' }).default('false'),
  MORDOMO_TLS_CERT_FILE: z.string().min(1).optional(),
  MORDOMO_TLS_KEY_FILE: z.string().min(1).optional(),
  MORDOMO_HTTP_PLAINTEXT: z.enum(['1', '0', 'true', 'false'], { message: 'must be 1 or 0' }).default('0'),
  MORDOMO_LOG_LEVEL: z.enum(LOG_LEVELS, { message: `must be one of ${LOG_LEVELS.join(', ')}` }).optional(),
  MORDOMO_LOG_FORMAT: z.enum(['json', 'pretty', 'auto']).default('auto'),
});

/** The data folder must be one: given a file, initdb, the backups and the token file would each fail their own way. */
function checkDataDir(dir: string): void {
  let isFolder: boolean;
  try {
    isFolder = statSync(dir).isDirectory();
  } catch {
    return; // not there yet: made when first needed
  }
  if (!isFolder)
    throw new ConfigError(
      `invalid configuration: MORDOMO_DATA_DIR: ${dir} is a file, not a folder (point it at a folder, or at a path that does not exist yet)`,
    );
}

/** Settings given in code instead of the environment (by variable name), as tests and embedders do. */
export type ConfigOverrides = Partial<Record<keyof z.input<typeof schema>, string | number | undefined>>;

/** Reads the configuration from `env` (default `process.env`) with `overrides` (CLI flags) taking precedence. */
export function loadConfig(overrides: ConfigOverrides = {}, env: NodeJS.ProcessEnv = process.env): Config {
  const raw: Record<string, unknown> = {};
  for (const key of Object.keys(schema.shape)) {
    const value = overrides[key as keyof ConfigOverrides] ?? env[key];
    // An exported-but-empty variable means "not set", as in most shells' scripts.
    if (value !== undefined && value !== '') raw[key] = value;
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
  }
  const v = parsed.data;
  // The seed's asyncpg pool keeps 5 connections; a smaller MORDOMO_POOL_MAX lowers that default with it.
  const poolMin = v.MORDOMO_POOL_MIN ?? Math.min(5, v.MORDOMO_POOL_MAX);
  if (poolMin > v.MORDOMO_POOL_MAX) {
    throw new ConfigError('invalid configuration: MORDOMO_POOL_MIN must not exceed MORDOMO_POOL_MAX');
  }
  if (v.MORDOMO_RUNTIME_DATABASE_URL && !v.DATABASE_URL) {
    throw new ConfigError('invalid configuration: MORDOMO_RUNTIME_DATABASE_URL goes with DATABASE_URL (the embedded server makes its own runtime role)');
  }
  if (Boolean(v.MORDOMO_TLS_CERT_FILE) !== Boolean(v.MORDOMO_TLS_KEY_FILE)) {
    throw new ConfigError('invalid configuration: MORDOMO_TLS_CERT_FILE and MORDOMO_TLS_KEY_FILE go together (the certificate chain and its private key)');
  }
  if (v.MORDOMO_TLS_KEY_FILE) checkPrivateFile(v.MORDOMO_TLS_KEY_FILE);
  const pgNetwork = embeddedNetwork(v);
  checkDataDir(path.resolve(v.MORDOMO_DATA_DIR));
  return {
    databaseUrl: v.DATABASE_URL,
    runtimeDatabaseUrl: v.MORDOMO_RUNTIME_DATABASE_URL,
    replicaUrls: v.DATABASE_REPLICA_URL ?? [],
    replicaMaxLagBytes: v.MORDOMO_REPLICA_MAX_LAG_BYTES,
    replicaMaxLagSeconds: v.MORDOMO_REPLICA_MAX_LAG_SECONDS,
    patroniUrls: v.MORDOMO_PATRONI_URL ?? [],
    postgresPassword: v.POSTGRES_PASSWORD,
    dataDir: path.resolve(v.MORDOMO_DATA_DIR),
    pgPort: v.MORDOMO_PG_PORT,
    pgOsUser: v.MORDOMO_PG_OS_USER,
    pgSharedBuffers: v.MORDOMO_PG_SHARED_BUFFERS,
    pgNetwork,
    modules: [...new Set(v.MORDOMO_MODULES)],
    backupDir: path.resolve(v.MORDOMO_BACKUP_DIR ?? path.join(v.MORDOMO_DATA_DIR, 'backups')),
    backupRetentionDays: v.MORDOMO_BACKUP_RETENTION_DAYS,
    walArchiveDir: v.MORDOMO_WAL_ARCHIVE_DIR === 'off' ? undefined : path.resolve(v.MORDOMO_WAL_ARCHIVE_DIR ?? path.join(v.MORDOMO_DATA_DIR, 'wal-archive')),
    backupCron: v.MORDOMO_BACKUP_CRON,
    jobSchedule: v.MORDOMO_JOB_SCHEDULE ?? {},
    conversationRetentionDays: v.MORDOMO_CONVERSATION_RETENTION_DAYS,
    encryptionKey: v.MORDOMO_ENCRYPTION_KEY ?? (v.MORDOMO_ENCRYPTION_KEY_FILE ? readKeyFile(v.MORDOMO_ENCRYPTION_KEY_FILE) : undefined),
    newEncryptionKey: v.MORDOMO_NEW_ENCRYPTION_KEY ?? (v.MORDOMO_NEW_ENCRYPTION_KEY_FILE ? readKeyFile(v.MORDOMO_NEW_ENCRYPTION_KEY_FILE) : undefined),
    idempotencySecret: v.MORDOMO_IDEMPOTENCY_SECRET ?? (v.MORDOMO_IDEMPOTENCY_SECRET_FILE ? readKeyFile(v.MORDOMO_IDEMPOTENCY_SECRET_FILE) : undefined),
    idempotencySecretFile: path.join(path.resolve(v.MORDOMO_DATA_DIR), 'idempotency-secret'),
    pool: {
      min: poolMin,
      max: v.MORDOMO_POOL_MAX,
      connectionTimeoutMs: v.MORDOMO_CONNECT_TIMEOUT_MS,
      statementTimeoutMs: v.MORDOMO_STATEMENT_TIMEOUT_MS,
      idleTimeoutMs: v.MORDOMO_IDLE_TIMEOUT_MS,
      applicationName: v.MORDOMO_APPLICATION_NAME,
    },
    http: {
      host: v.MORDOMO_HTTP_HOST,
      port: v.MORDOMO_HTTP_PORT,
      adminToken: v.MORDOMO_ADMIN_TOKEN,
      adminTokenFile: path.resolve(v.MORDOMO_ADMIN_TOKEN_FILE ?? path.join(v.MORDOMO_DATA_DIR, 'admin-token')),
      bodyLimit: v.MORDOMO_HTTP_BODY_LIMIT,
      metricsPublic: v.MORDOMO_METRICS_PUBLIC === 'true',
      tls:
        v.MORDOMO_TLS_CERT_FILE && v.MORDOMO_TLS_KEY_FILE
          ? { certFile: path.resolve(v.MORDOMO_TLS_CERT_FILE), keyFile: path.resolve(v.MORDOMO_TLS_KEY_FILE) }
          : undefined,
      plaintextAccepted: v.MORDOMO_HTTP_PLAINTEXT === '1' || v.MORDOMO_HTTP_PLAINTEXT === 'true',
    },
    logLevel: v.MORDOMO_LOG_LEVEL,
    logFormat: v.MORDOMO_LOG_FORMAT,
  };
}

/**
 * The embedded server's network settings, checked together: listening beyond loopback, or letting client networks
 * in, needs the server's certificate and key (refused otherwise, before anything is written), and a listener
 * beyond loopback needs the networks allowed through it.
 */
function embeddedNetwork(v: z.infer<typeof schema>): PgNetwork {
  const listen = v.MORDOMO_PG_LISTEN_ADDRESSES ?? [];
  const networks = v.MORDOMO_PG_CLIENT_NETWORKS ?? [];
  if (Boolean(v.MORDOMO_PG_TLS_CERT_FILE) !== Boolean(v.MORDOMO_PG_TLS_KEY_FILE)) {
    throw new ConfigError(
      'invalid configuration: MORDOMO_PG_TLS_CERT_FILE and MORDOMO_PG_TLS_KEY_FILE go together (the server certificate and its private key)',
    );
  }
  const beyond = listen.filter((address) => !isLoopbackAddress(address));
  if ((beyond.length || networks.length) && !v.MORDOMO_PG_TLS_CERT_FILE) {
    const what = beyond.length
      ? `MORDOMO_PG_LISTEN_ADDRESSES=${beyond.join(',')} listens beyond this machine`
      : 'MORDOMO_PG_CLIENT_NETWORKS lets other hosts in';
    throw new ConfigError(
      `invalid configuration: ${what}, which the embedded server does only over TLS: set MORDOMO_PG_TLS_CERT_FILE and MORDOMO_PG_TLS_KEY_FILE (its certificate and 0600 key)`,
    );
  }
  if (beyond.length && !networks.length) {
    throw new ConfigError(
      'invalid configuration: MORDOMO_PG_LISTEN_ADDRESSES listens beyond this machine but MORDOMO_PG_CLIENT_NETWORKS names no network to let in (CIDRs such as 10.0.0.0/24)',
    );
  }
  if (v.MORDOMO_PG_TLS_KEY_FILE) checkPrivateFile(v.MORDOMO_PG_TLS_KEY_FILE);
  return {
    listenAddresses: [...new Set(['127.0.0.1', ...listen])],
    tls:
      v.MORDOMO_PG_TLS_CERT_FILE && v.MORDOMO_PG_TLS_KEY_FILE
        ? { certFile: path.resolve(v.MORDOMO_PG_TLS_CERT_FILE), keyFile: path.resolve(v.MORDOMO_PG_TLS_KEY_FILE) }
        : undefined,
    clientNetworks: [...new Set(networks)],
  };
}

/**
 * Reads a key (the encryption key, the idempotency secret) from a file that only its owner can read: a key readable
 * by others is as good as published, so such a file is refused rather than used.
 */
export function readKeyFile(file: string): string {
  checkPrivateFile(file);
  const key = readFileSync(file, 'utf8').trim();
  if (key.length < 16) throw new ConfigError(`the key in ${file} must be at least 16 characters`);
  return key;
}

/** Refuses a key file that is missing or that anyone but its owner can read or write (the TLS key's check too). */
function checkPrivateFile(file: string): void {
  let mode: number;
  try {
    mode = statSync(file).mode & 0o777;
  } catch {
    throw new ConfigError(`the key file ${file} cannot be read`);
  }
  if (mode & 0o077) {
    throw new ConfigError(`the key file ${file} is readable by others (mode ${mode.toString(8)}): run "chmod 600 ${file}"`);
  }
}

/**
 * MORDOMO_LOG_LEVEL alone, validated as loadConfig validates it: for a logger made without the whole
 * configuration (`createLogger()`). Undefined when unset.
 */
export function logLevelSetting(env: NodeJS.ProcessEnv = process.env): Config['logLevel'] {
  const value = env.MORDOMO_LOG_LEVEL;
  if (value === undefined || value === '') return undefined;
  const parsed = schema.shape.MORDOMO_LOG_LEVEL.safeParse(value);
  if (!parsed.success) throw new ConfigError(`invalid configuration: MORDOMO_LOG_LEVEL: ${parsed.error.issues.map((issue) => issue.message).join('; ')}`);
  return parsed.data;
}
