// bench/replica: a streaming standby of the embedded server under write load — how far behind it runs (bytes and
// replay lag, sampled every 100 ms on the primary) — and a failover drill: the primary stops, the standby is
// promoted, the first write lands; how long each step takes and whether every acknowledged write is there.
// Usage: npm run bench:replica [-- --seconds 10 --clients 16]
import { rmSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { appendTurn, startConversation } from '../../src/core/conversations.ts';
import { loadConfig } from '../../src/config.ts';
import { openDatabase } from '../../src/db/connect.ts';
import { createLogger } from '../../src/logger.ts';
import { migrate } from '../../src/migrate/runner.ts';
import { createReplica, promoteReplica, replicaStatus, replicaUrl } from '../../src/ops/replica.ts';
import { freePort } from '../../test/harness/ports.ts';
import { tempDir } from '../../test/harness/temp-dir.ts';
import { machine, throughput } from '../harness.ts';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '10' }, clients: { type: 'string', default: '16' } } });
const seconds = Number(values.seconds);
const clients = Number(values.clients);
const logger = createLogger('warn');
const root = tempDir('bench-replica');
const port = await freePort();
const standbyPort = await freePort();
const config = loadConfig({ MORDOMO_DATA_DIR: path.join(root, 'primary'), MORDOMO_PG_PORT: port, MORDOMO_POOL_MAX: clients, MORDOMO_WAL_ARCHIVE_DIR: 'off' });
const primary = await openDatabase(config, logger);
const standbyDir = path.join(root, 'standby');
try {
  await migrate(primary.owner.pool, ['core'], logger);
  await createReplica(primary.owner.pool, {
    primaryPgData: primary.server!.pgData,
    primaryPort: port,
    primaryPassword: primary.server!.superuserPassword(),
    dataDir: standbyDir,
    port: standbyPort,
    osUser: config.pgOsUser,
    logger,
  });
  const conversations = await Promise.all(Array.from({ length: clients }, () => startConversation(primary.db, {})));

  let maxLagBytes = 0;
  let maxLagSeconds = 0;
  const sampler = setInterval(() => {
    void replicaStatus(primary.owner.pool).then(
      ({ standbys }) => {
        for (const s of standbys) {
          maxLagBytes = Math.max(maxLagBytes, Number(s.lag_bytes ?? 0));
          maxLagSeconds = Math.max(maxLagSeconds, Number(s.replay_lag_seconds ?? 0));
        }
      },
      () => undefined,
    );
  }, 100);
  const turnsPerSecond = await throughput(clients, seconds, (client) =>
    appendTurn(primary.db, conversations[client]!.id, { content: 'Liga a luz da sala' }, { content: 'Pronto.' }),
  );
  clearInterval(sampler);
  const acknowledged = Number((await primary.pool.query('SELECT count(*) AS n FROM messages')).rows[0].n);

  // Failover drill: stop the primary (fast shutdown), promote, first write.
  let t = performance.now();
  await primary.close();
  const stopMs = performance.now() - t;
  t = performance.now();
  await promoteReplica(standbyDir, config.pgOsUser);
  const promoteMs = performance.now() - t;
  t = performance.now();
  const client = new pg.Client({ connectionString: replicaUrl(standbyDir, standbyPort) });
  await client.connect();
  await client.query(`INSERT INTO conversations DEFAULT VALUES`);
  const firstWriteMs = performance.now() - t;
  const onStandby = Number((await client.query('SELECT count(*) AS n FROM messages')).rows[0].n);
  await client.end();

  process.stdout.write(
    `\nreplica: ${clients} clients appending turns for ${seconds} s on the primary, standby streaming on the same machine; ${machine()}\n\n` +
      `| figure | value |\n|---|---:|\n` +
      `| turns appended per second on the primary | ${turnsPerSecond.toFixed(0)} |\n` +
      `| standby lag, worst sample (bytes of WAL) | ${maxLagBytes} |\n` +
      `| standby replay lag, worst sample | ${(maxLagSeconds * 1000).toFixed(1)} ms |\n` +
      `| failover: primary fast shutdown | ${stopMs.toFixed(0)} ms |\n` +
      `| failover: promotion (pg_ctl promote -w) | ${promoteMs.toFixed(0)} ms |\n` +
      `| failover: first write on the new primary (connect + insert) | ${firstWriteMs.toFixed(0)} ms |\n` +
      `| acknowledged messages on the primary / present after failover | ${acknowledged} / ${onStandby} |\n`,
  );
} finally {
  const { findRunningServer } = await import('../../src/db/postmaster.ts');
  for (const dir of [path.join(root, 'primary', 'pg'), path.join(standbyDir, 'pg')]) {
    const running = findRunningServer(dir);
    if (running) process.kill(running.pid, 'SIGINT');
  }
  await new Promise((resolve) => setTimeout(resolve, 1000));
  rmSync(root, { recursive: true, force: true });
}
