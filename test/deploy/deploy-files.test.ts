// Docker cannot run here: the deploy files are checked for what can be checked without it, and the SQL of the
// Grafana dashboard runs against a real migrated database.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { dashboardText, grafanaDashboard } from '../../scripts/grafana-dashboard.ts';
import { loadConfig } from '../../src/config.ts';
import { testDatabase } from '../harness/database.ts';
import { tempDir } from '../harness/temp-dir.ts';

const DEPLOY = path.join(import.meta.dirname, '..', '..', 'deploy');
const ROOT = path.dirname(DEPLOY);
const compose = parse(readFileSync(path.join(DEPLOY, 'docker-compose.yml'), 'utf8'));

test("docker-compose.yml: the seed's PostgreSQL service, the mordomo-db service, and every file it names exists", () => {
  const { postgres, 'mordomo-db': service, prometheus, grafana } = compose.services;
  assert.deepEqual(postgres.healthcheck.test, ['CMD-SHELL', 'pg_isready -U mordomo -d mordomo']);
  assert.equal(postgres.environment.POSTGRES_USER, 'mordomo');
  assert.equal(postgres.environment.POSTGRES_DB, 'mordomo');
  assert.match(postgres.environment.POSTGRES_PASSWORD, /^\$\{POSTGRES_PASSWORD/, 'the password comes from the environment');
  assert.deepEqual(service.depends_on, { postgres: { condition: 'service_healthy' } });
  assert.match(service.environment.DATABASE_URL, /@postgres:5432\/mordomo$/);
  assert.ok(prometheus && grafana);

  for (const [name, definition] of Object.entries<Record<string, any>>(compose.services)) {
    if (definition.build) {
      const context = path.resolve(DEPLOY, definition.build.context);
      assert.ok(existsSync(path.join(context, definition.build.dockerfile)), `${name}: ${definition.build.dockerfile}`);
    }
    for (const volume of definition.volumes ?? []) {
      const [source] = String(volume).split(':');
      if (source!.startsWith('.')) assert.ok(existsSync(path.resolve(DEPLOY, source!)), `${name} mounts ${source}, which exists`);
      else assert.ok(source! in compose.volumes, `${name} uses named volume ${source}, which is declared`);
    }
    for (const network of definition.networks ?? []) assert.ok(network in compose.networks, `${name}: network ${network}`);
  }
});

test('the optional standby clones the primary with pg_basebackup -R, and the primary lets its role in', () => {
  const standby = compose.services.standby;
  assert.deepEqual(standby.profiles, ['standby']);
  assert.equal(standby.image, 'postgres:16-alpine');
  assert.deepEqual(standby.depends_on, { postgres: { condition: 'service_healthy' } });
  assert.match(standby.command.join(' '), /pg_basebackup -h postgres -U mordomo_replicator -D "\$\$PGDATA" -R -X stream -C -S \w+/);
  const init = readFileSync(path.join(DEPLOY, 'initdb', '10-replication.sh'), 'utf8');
  assert.match(init, /CREATE ROLE mordomo_replicator WITH REPLICATION LOGIN/);
  assert.match(init, /host replication mordomo_replicator all scram-sha-256/);
  assert.ok(statSync(path.join(DEPLOY, 'initdb', '10-replication.sh')).mode & 0o111, 'the init script is executable');
});

test('the Dockerfiles copy only files that exist and start PostgreSQL with deploy/postgresql.conf', () => {
  for (const file of ['Dockerfile', 'Dockerfile.service']) {
    const text = readFileSync(path.join(DEPLOY, file), 'utf8');
    // From the build context; a COPY --from=<stage> copies what an earlier stage made.
    for (const [, sources] of text.matchAll(/^COPY\s+(?!--from=)(.+)\s+\S+$/gm)) {
      for (const source of sources!.split(/\s+/)) assert.ok(existsSync(path.join(ROOT, source)), `${file}: COPY ${source}`);
    }
  }
  const image = readFileSync(path.join(DEPLOY, 'Dockerfile'), 'utf8');
  assert.match(image, /^FROM postgres:16-alpine$/m);
  assert.match(image, /config_file=\/etc\/postgresql\/postgresql\.conf/);
  assert.match(image, /listen_addresses=\*/);
});

test('the service image starts like `npm start`, with the same V8 heap flags', () => {
  const start: string = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).scripts.start;
  const flags = start.split(' ').filter((part) => part.startsWith('--'));
  assert.ok(flags.length > 0);
  const cmd = /^CMD (\[.*\])$/m.exec(readFileSync(path.join(DEPLOY, 'Dockerfile.service'), 'utf8'))![1]!;
  assert.deepEqual(JSON.parse(cmd), ['node', ...flags, 'bin/mordomo-db.js', 'start']);
});

test('prometheus.yml scrapes the service the compose file defines', () => {
  const config = parse(readFileSync(path.join(DEPLOY, 'prometheus.yml'), 'utf8'));
  const job = config.scrape_configs.find((j: { job_name: string }) => j.job_name === 'mordomo-db');
  assert.deepEqual(job.static_configs[0].targets, ['mordomo-db:8080']);
  assert.equal(compose.services['mordomo-db'].environment.MORDOMO_METRICS_PUBLIC, 'true');
});

test("the Grafana dashboard is current, valid, has the page's panels, and its SQL runs on a migrated database", async () => {
  const file = readFileSync(path.join(DEPLOY, 'grafana', 'dashboards', 'mordomo.json'), 'utf8');
  assert.equal(file, dashboardText(), 'regenerate with: npx tsx scripts/grafana-dashboard.ts');
  const dashboard = JSON.parse(file);
  const titles = dashboard.panels.map((p: { title: string }) => p.title);
  for (const title of [
    'Messages per day (30 days)',
    'Top intents (30 days)',
    'Latency per source',
    'Most active users (7 days)',
    'Actions (30 days)',
    'Upcoming reminders',
    'Database size',
    'Last backups',
    'Slowest statements',
  ]) {
    assert.ok(titles.includes(title), title);
  }
  const uids = new Set(
    parse(readFileSync(path.join(DEPLOY, 'grafana', 'provisioning', 'datasources', 'datasources.yml'), 'utf8')).datasources.map((d: { uid: string }) => d.uid),
  );
  const { pool } = await testDatabase('grafana');
  for (const panel of grafanaDashboard().panels as { title: string; targets: { datasource: { uid: string }; rawSql?: string }[] }[]) {
    for (const target of panel.targets) {
      assert.ok(uids.has(target.datasource.uid), `${panel.title}: datasource ${target.datasource.uid} is provisioned`);
      if (target.rawSql) await pool.query(target.rawSql);
    }
  }
});

test("the server runs with deploy/postgresql.conf: the seed's settings are in effect", async () => {
  const { pool } = await testDatabase('settings');
  const setting = async (name: string) => (await pool.query(`SELECT current_setting($1) AS v`, [name])).rows[0].v;
  assert.equal(await setting('shared_preload_libraries'), 'pg_stat_statements');
  assert.equal(await setting('default_text_search_config'), 'pg_catalog.portuguese');
  assert.equal(await setting('wal_level'), 'replica');
  assert.equal(await setting('max_connections'), '100');
  assert.equal(await setting('log_min_duration_statement'), '1s');
});

test('the compose file hands the service its encryption key as a secret file, not as an environment variable', () => {
  const service = compose.services['mordomo-db'];
  assert.deepEqual(service.secrets, ['mordomo_encryption_key']);
  assert.equal(service.environment.MORDOMO_ENCRYPTION_KEY_FILE, '/run/secrets/mordomo_encryption_key');
  assert.equal('MORDOMO_ENCRYPTION_KEY' in service.environment, false);
  assert.match(compose.secrets.mordomo_encryption_key.file, /^\$\{MORDOMO_ENCRYPTION_KEY_FILE:-\.\/secrets\/encryption-key\}$/);
  // The file docs/deployment.md has the operator create is what the service accepts: 0600, a key of 16 characters or more.
  const dir = tempDir('compose-secret');
  const key = path.join(dir, 'encryption-key');
  writeFileSync(key, 'a-key-of-thirty-two-characters-x\n', { mode: 0o600 });
  assert.equal(loadConfig({}, { MORDOMO_ENCRYPTION_KEY_FILE: key }).encryptionKey, 'a-key-of-thirty-two-characters-x');
});

test('the Node versions are one list: engines names the majors CI tests, the service image runs the newest', () => {
  const engines: string = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).engines.node;
  const majors = [...engines.matchAll(/\^(\d+)\./g)].map(([, major]) => Number(major));
  assert.ok(majors.length >= 2, engines);
  // .ci/run runs the machine's node and then NODE_VERSIONS from the npm registry: all of them lines engines names.
  const ci = readFileSync(path.join(ROOT, '.ci', 'run'), 'utf8');
  const tested = (/^NODE_VERSIONS='([\d ]+)'$/m.exec(ci)?.[1] ?? '').split(' ').map(Number);
  assert.deepEqual(tested, majors.slice(1), `.ci/run's NODE_VERSIONS against engines ${engines}`);
  const newest = Math.max(...majors);
  for (const stage of readFileSync(path.join(DEPLOY, 'Dockerfile.service'), 'utf8').matchAll(/^FROM (\S+)/gm)) {
    assert.equal(stage[1], `node:${newest}-bookworm-slim`);
  }
  // README's paragraph on what a user needs (up to the next blank line) names every line engines does.
  const needs = /^Needs Node\.js.*?\n\n/ms.exec(readFileSync(path.join(ROOT, 'README.md'), 'utf8'))?.[0] ?? '';
  for (const major of majors) assert.match(needs, new RegExp(`\\b${major}\\b`), `README's "Needs Node.js" names Node ${major}`);
});
